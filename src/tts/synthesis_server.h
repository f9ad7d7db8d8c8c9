// A synthesis server kept running between utterances (attune-espeak, attune-flite): a Coprocess that
// answers each request line with "OK <n samples> <sample rate>\n" and n little-endian int16 samples,
// or with "ERR <message>\n". Thread-safe: calls take turns.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "attune/audio_buffer.h"

namespace attune::tts {

class Coprocess;

class SynthesisServer {
 public:
  SynthesisServer(std::string program, double timeout_s);
  ~SynthesisServer();

  // Sends `request` (starting the server first if none runs) and returns its audio at the server's
  // rate, or nullopt with the server's message in `*refusal` when it answers ERR. A server that does
  // not answer within the timeout, exits or garbles its answer is killed and tried once more, fresh;
  // the second failure throws attune::Error naming the program and what went wrong.
  // ProgramNotFoundError when the program cannot be executed.
  std::optional<AudioBuffer> request(const std::string& request, std::string* refusal);

  // Stops the server; the next request starts a fresh one.
  void reset();

  const std::string& program() const { return program_; }

 private:
  std::string program_;
  double timeout_s_;
  std::mutex mutex_;
  std::unique_ptr<Coprocess> process_;
};

}  // namespace attune::tts
