// SpeechGenerator (generate.h): the torch-free way the CLI runs the whole spoken language model on an
// audio clip. A tiny random attune_slm directory (Whisper-style encoder, conv adapter, qwen2 LM, BPE
// tokenizer trained here) is written once; the API's greedy output must be reproducible and equal
// SpokenLanguageModelImpl::generate on the same rendered prompt, and the prompt must hold exactly as
// many <|AUDIO|> tokens as the adapter gives for the clip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "attune/error.h"
#include "audio/audio_file.h"
#include "audio/log_mel.h"
#include "io/model_config.h"
#include "model/generate.h"
#include "model/spoken_language_model.h"
#include "model/tiny_models.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"
#include "text/chat_template.h"

namespace attune::model {
namespace {

namespace fs = std::filesystem;

constexpr const char* kText = "How do I sound today?";
constexpr const char* kSystem = "You are a kind listener.";

text::BpeTrainer& trained_tokenizer() {
  static text::BpeTrainer* trainer = [] {
    text::BpeTrainerOptions options;
    options.vocab_size = 300;
    auto* t = new text::BpeTrainer(options);
    for (int i = 0; i < 10; ++i) {
      t->add_text("I failed my exam today and I feel terrible. That sounds really hard; what happened?");
      t->add_text("How do I sound today? You sound calm. You are a kind listener.");
    }
    t->train();
    return t;
  }();
  return *trainer;
}

// The composite directory, written once for the whole binary.
const fs::path& model_dir() {
  static testing::TempDir* dir = [] {
    auto* d = new testing::TempDir();
    text::Tokenizer tok = trained_tokenizer().tokenizer();
    torch::manual_seed(7);
    SpokenLanguageModel slm(tiny_slm_config(tok));
    slm->save_pretrained(d->path());
    trained_tokenizer().save(d->path() / "tokenizer.json");
    return d;
  }();
  return dir->path();
}

// 1.5 s of the example clip, 16 kHz mono.
std::vector<float> clip(int64_t samples = 24000) {
  AudioBuffer audio = audio::load_mono(testing::source_dir() / "examples/audio/fine_calm.flac");
  audio.samples.resize(static_cast<size_t>(std::min<int64_t>(samples, audio.frames())));
  return audio.samples;
}

ModelLoadOptions fp32_cpu() {
  ModelLoadOptions o;
  o.dtype = "fp32";
  o.device = "cpu";
  return o;
}

TEST(GenerateAudio, GreedyOutputIsReproducibleAndEqualsTheModelsOwnGenerate) {
  const SpeechGenerator gen = SpeechGenerator::load(model_dir(), fp32_cpu());
  const std::vector<float> samples = clip();
  GenerateOptions options;
  options.max_new_tokens = 8;
  options.return_logits = true;
  const SpeechGenerateResult a = gen.generate(samples, kText, kSystem, options);
  const SpeechGenerateResult b = gen.generate(samples, kText, kSystem, options);
  ASSERT_FALSE(a.ids.empty());
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(a.logits, b.logits);
  EXPECT_EQ(a.logits_rows, a.prompt_tokens + a.decode_steps);
  EXPECT_EQ(a.vocab_size, gen.vocab_size());
  EXPECT_EQ(a.mel_frames, 24000 / 160);

  // The same prompt built by hand and run through SpokenLanguageModelImpl::generate.
  auto slm = SpokenLanguageModelImpl::from_pretrained(model_dir());
  slm->eval();
  const text::ChatTemplate chat(text::Tokenizer::load(model_dir()));
  audio::LogMelOptions mel_options;
  mel_options.n_mels = 80;
  audio::LogMel mel = audio::LogMelExtractor(mel_options).compute(samples);
  torch::Tensor mel_t = torch::from_blob(mel.data.data(), {mel.n_mels, mel.frames}, torch::kFloat32).clone();
  const int64_t slots = slm->audio_embeddings_for(mel.frames);
  text::RenderOptions render;
  render.add_generation_prompt = true;
  const text::RenderedChat rendered = chat.render(
      {{text::Role::kSystem, kSystem, 0, std::nullopt}, {text::Role::kUser, kText, slots, std::nullopt}}, render);
  EXPECT_EQ(a.prompt_ids, rendered.ids);
  GenerateOptions direct_options = options;
  direct_options.stop_token_ids = chat.stop_ids();
  const GenerateResult direct = slm->generate(make_example(rendered, {mel_t}), direct_options, &chat.tokenizer());
  EXPECT_EQ(a.ids, direct.ids);
  EXPECT_EQ(a.text, direct.text);
  ASSERT_EQ(a.logits.size(), direct.logits.size());
  double diff = 0;
  for (size_t i = 0; i < a.logits.size(); ++i) diff = std::max(diff, double(std::abs(a.logits[i] - direct.logits[i])));
  std::cout << "SpeechGenerator vs SpokenLanguageModelImpl::generate: " << a.ids.size() << " tokens, " << a.logits_rows
            << " logit rows, max abs diff " << diff << " (limit 1e-5); features " << a.feature_seconds
            << " s, encoder+adapter " << a.audio_embed_seconds << " s, RTF " << a.audio_rtf() << "\n";
  EXPECT_LE(diff, 1e-5);
}

TEST(GenerateAudio, AudioTokenCountIsTheAdapterOutputLength) {
  const SpeechGenerator gen = SpeechGenerator::load(model_dir(), fp32_cpu());
  auto slm = SpokenLanguageModelImpl::from_pretrained(model_dir());
  const int32_t audio_id = gen.tokenizer().token_to_id("<|AUDIO|>");
  const std::vector<float> full = clip(32000);
  for (int64_t samples : {1600, 11200, 16000, 20000, 32000}) {
    std::vector<float> part(full.begin(), full.begin() + samples);
    audio::LogMel mel = audio::LogMelExtractor().compute(part);
    torch::Tensor mel_t = torch::from_blob(mel.data.data(), {mel.n_mels, mel.frames}, torch::kFloat32).clone();
    int64_t adapter_len = 0;
    {
      torch::NoGradGuard no_grad;
      adapter_len = slm->embed_audio({mel_t})[0].size(0);
    }
    const std::vector<int32_t> prompt = gen.render_prompt(mel.frames, "", "");
    const auto in_prompt = std::count(prompt.begin(), prompt.end(), audio_id);
    EXPECT_EQ(in_prompt, adapter_len) << samples << " samples";
    EXPECT_EQ(in_prompt, text::audio_slot_count(samples, 4)) << samples << " samples";
    if (samples == 16000) {
      GenerateOptions options;
      options.max_new_tokens = 1;
      const SpeechGenerateResult r = gen.generate(part, "", "", options);
      EXPECT_EQ(r.audio_tokens, adapter_len);
      EXPECT_EQ(std::count(r.prompt_ids.begin(), r.prompt_ids.end(), audio_id), adapter_len);
      EXPECT_EQ(r.prompt_ids, prompt);
    }
  }
}

TEST(GenerateAudio, PlainLanguageModelAndBadAudioAreClearErrors) {
  try {
    SpeechGenerator::load(testing::fixtures_dir() / "lm_qwen2_tiny", fp32_cpu());
    FAIL() << "a plain LM directory loaded as a spoken language model";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no speech encoder"), std::string::npos) << what;
    EXPECT_NE(what.find("config.json"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_FALSE(SpeechGenerator::is_spoken_model(testing::fixtures_dir() / "lm_qwen2_tiny"));
  EXPECT_TRUE(SpeechGenerator::is_spoken_model(model_dir()));

  const SpeechGenerator gen = SpeechGenerator::load(model_dir(), fp32_cpu());
  const std::vector<float> tiny(100, 0.1f);
  EXPECT_THROW(gen.generate(tiny, "", "", GenerateOptions{}), InputError);
}

}  // namespace
}  // namespace attune::model
