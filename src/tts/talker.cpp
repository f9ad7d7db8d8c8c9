#include "tts/talker.h"

#include <future>
#include <mutex>

#include "attune/error.h"
#include "tts/espeak_talker.h"
#include "tts/flite_talker.h"
#include "tts/sentences.h"

namespace attune::tts {
namespace {

// make_talker("auto"): each voice is spoken by its own engine, each engine started on first use.
class VoiceTalker final : public Talker {
 public:
  std::string name() const override { return "auto"; }
  int sample_rate() const override { return audio::kModelSampleRate; }

  AudioBuffer synthesize(std::string_view text, const SpeechStyle& style, const Voice& voice) override {
    voice.validate();
    return engine(voice.engine).synthesize(text, style, voice);
  }

  void reset() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (espeak_) espeak_->reset();
    if (flite_) flite_->reset();
  }

 private:
  Talker& engine(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (name == "flite") {
      if (!flite_) flite_ = std::make_unique<FliteTalker>();
      return *flite_;
    }
    if (!espeak_) espeak_ = std::make_unique<EspeakTalker>();
    return *espeak_;
  }

  std::mutex mutex_;
  std::unique_ptr<EspeakTalker> espeak_;
  std::unique_ptr<FliteTalker> flite_;
};

}  // namespace

Talker::~Talker() = default;

void Talker::synthesize_stream(std::string_view text, const SpeechStyle& style, const Voice& voice,
                               const ChunkCallback& on_chunk) {
  style.validate();
  voice.validate();
  const std::vector<std::string> sentences = split_sentences(clean_text(text));
  if (sentences.empty()) return;
  AudioBuffer current = synthesize(sentences[0], style, voice);
  for (size_t i = 0; i < sentences.size(); ++i) {
    // Start the next sentence before handing this one over. If on_chunk throws, the future's
    // destructor waits for that synthesis (bounded by the back end's timeout) before unwinding further.
    std::future<AudioBuffer> next;
    if (i + 1 < sentences.size()) {
      next = std::async(std::launch::async,
                        [this, &sentences, &style, &voice, i] { return synthesize(sentences[i + 1], style, voice); });
    }
    on_chunk(current, i);
    if (next.valid()) current = next.get();
  }
}

void require_engine(const Voice& voice, std::string_view engine) {
  if (voice.engine != engine) {
    throw ConfigError("voice '" + voice.name + "' belongs to " + voice.engine + "; this talker speaks " +
                      std::string(engine) + " voices (the auto talker speaks both)");
  }
}

std::vector<std::string> talker_backends() { return {"espeak", "flite"}; }

std::unique_ptr<Talker> make_talker(std::string_view backend) {
  if (backend == "auto") return std::make_unique<VoiceTalker>();
  if (backend == "espeak" || backend == "espeak-ng") return std::make_unique<EspeakTalker>();
  if (backend == "flite") return std::make_unique<FliteTalker>();
  std::string known = "auto";
  for (const auto& b : talker_backends()) known += ", " + b;
  throw ConfigError("unknown talker back end '" + std::string(backend) + "'; known: " + known);
}

}  // namespace attune::tts
