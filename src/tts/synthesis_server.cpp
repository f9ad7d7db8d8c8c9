#include "tts/synthesis_server.h"

#include <cstdio>
#include <cstring>

#include "attune/error.h"
#include "tts/subprocess.h"

namespace attune::tts {

SynthesisServer::SynthesisServer(std::string program, double timeout_s)
    : program_(std::move(program)), timeout_s_(timeout_s) {}

SynthesisServer::~SynthesisServer() = default;

void SynthesisServer::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  process_.reset();
}

std::optional<AudioBuffer> SynthesisServer::request(const std::string& request, std::string* refusal) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (int attempt = 0;; ++attempt) {
    try {
      if (!process_) process_ = std::make_unique<Coprocess>(std::vector<std::string>{program_});
      process_->write_all(request, timeout_s_);
      const std::string line = process_->read_line(timeout_s_);
      if (line.rfind("ERR ", 0) == 0) {
        if (refusal != nullptr) *refusal = line.substr(4);
        return std::nullopt;
      }
      size_t n = 0;
      int rate = 0;
      if (std::sscanf(line.c_str(), "OK %zu %d", &n, &rate) != 2 || rate <= 0 || n > (size_t(1) << 28)) {
        throw Error(program_ + ": unexpected answer '" + line.substr(0, 80) + "'");
      }
      const std::string pcm = process_->read_exact(n * 2, timeout_s_);
      AudioBuffer wav{std::vector<float>(n), rate, 1};
      for (size_t i = 0; i < n; ++i) {
        int16_t v;
        std::memcpy(&v, pcm.data() + 2 * i, 2);
        wav.samples[i] = static_cast<float>(v) / 32768.0f;  // as libsndfile decodes 16-bit PCM
      }
      return wav;
    } catch (const ProgramNotFoundError&) {
      throw;
    } catch (const Error& e) {
      process_.reset();  // kills a hung server; a fresh one for the second attempt
      if (attempt == 1) throw Error(program_ + " failed twice: " + e.what());
    }
  }
}

}  // namespace attune::tts
