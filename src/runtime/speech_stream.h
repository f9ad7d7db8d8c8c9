// Speaks a reply while it is still being generated: complete sentences go to a worker thread that
// runs the talker, so synthesis overlaps decoding and the first sentence's audio is ready long
// before the reply ends. Torch-free.
//
//   SpeechStream stream(talker, voice, t0);
//   stream.set_style(style);                  // before the first sentence
//   stream.push_text(piece);  ...             // reply text as it is generated
//   stream.deliver(on_audio);                 // between tokens: hands over finished sentences
//   stream.finish(on_audio);                  // the rest of the text, then waits for the worker
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "attune/audio_buffer.h"
#include "tts/talker.h"

namespace attune::runtime {

class SpeechStream {
 public:
  using Clock = std::chrono::steady_clock;
  using AudioCallback = std::function<void(const AudioBuffer& chunk, size_t sentence)>;

  // `talker` may be null (speaking off): text is collected and nothing is synthesised.
  SpeechStream(tts::Talker* talker, tts::Voice voice, Clock::time_point start);
  ~SpeechStream();
  SpeechStream(const SpeechStream&) = delete;
  SpeechStream& operator=(const SpeechStream&) = delete;

  void set_style(const SpeechStyle& style) { style_ = style; }
  // Appends reply text; every sentence it completes is queued for synthesis.
  void push_text(std::string_view piece);
  // Calls `on_audio` for every sentence synthesised so far, in order, on the caller's thread.
  void deliver(const AudioCallback& on_audio);
  // Forgets the sentence in progress (not yet queued): a reply cut at its last full sentence.
  void drop_unfinished() { pending_.clear(); }
  // Queues the remaining text, waits for the worker, delivers the rest. Rethrows a talker error.
  void finish(const AudioCallback& on_audio);

  // The whole reply's audio (all sentences joined), valid after finish().
  const AudioBuffer& audio() const { return audio_; }
  // Seconds from `start` to the first sentence's audio being ready; 0 when nothing was spoken.
  double first_audio_seconds() const { return first_audio_s_; }

 private:
  void queue_sentence(std::string sentence);
  void work();

  tts::Talker* talker_;
  tts::Voice voice_;
  SpeechStyle style_;
  Clock::time_point start_;
  std::string pending_;  // text of the sentence in progress
  size_t queued_ = 0, delivered_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> todo_;
  std::vector<AudioBuffer> done_;
  bool closing_ = false;
  std::exception_ptr error_;
  double first_audio_s_ = 0;
  AudioBuffer audio_;
  std::thread worker_;
};

}  // namespace attune::runtime
