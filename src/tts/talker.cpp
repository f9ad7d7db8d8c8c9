#include "tts/talker.h"

#include "attune/error.h"
#include "tts/espeak_talker.h"
#include "tts/sentences.h"

namespace attune::tts {

Talker::~Talker() = default;

void Talker::synthesize_stream(std::string_view text, const SpeechStyle& style, const Voice& voice,
                               const ChunkCallback& on_chunk) {
  style.validate();
  voice.validate();
  const std::vector<std::string> sentences = split_sentences(clean_text(text));
  for (size_t i = 0; i < sentences.size(); ++i) on_chunk(synthesize(sentences[i], style, voice), i);
}

std::vector<std::string> talker_backends() { return {"espeak"}; }

std::unique_ptr<Talker> make_talker(std::string_view backend) {
  if (backend == "espeak" || backend == "espeak-ng") return std::make_unique<EspeakTalker>();
  std::string known;
  for (const auto& b : talker_backends()) known += (known.empty() ? "" : ", ") + b;
  throw ConfigError("unknown talker back end '" + std::string(backend) + "'; known: " + known);
}

}  // namespace attune::tts
