// SpokenLanguageModel: audio embeddings spliced exactly into the <|AUDIO|> runs of a rendered chat,
// training forward (logits, hidden states, padded batches), step-wise decoding with the KV cache
// against full recomputation, and loading composite directories (inline and by path) strictly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "attune/error.h"
#include "audio/log_mel.h"
#include "io/model_config.h"
#include "model/spoken_language_model.h"
#include "model/tiny_models.h"
#include "model/weights.h"
#include "support/small_tokenizer.h"
#include "support/test_support.h"
#include "text/bpe_trainer.h"
#include "text/chat_template.h"

namespace attune::model {
namespace {

namespace fs = std::filesystem;

const text::ChatTemplate& chat_template() {
  static const text::ChatTemplate chat(testing::small_tokenizer(300, 10));
  return chat;
}

io::SlmConfig tiny_slm_config() { return model::tiny_slm_config(chat_template().tokenizer()); }

SpokenLanguageModel tiny_slm(uint64_t seed = 11) {
  torch::manual_seed(seed);
  SpokenLanguageModel slm(tiny_slm_config());
  slm->eval();
  return slm;
}

// A voiced-sounding test signal: a gliding tone with harmonics and a little noise, 16 kHz.
std::vector<float> test_audio(int64_t samples, double f0) {
  std::vector<float> x(static_cast<size_t>(samples));
  uint32_t state = 12345;
  for (int64_t n = 0; n < samples; ++n) {
    const double t = static_cast<double>(n) / 16000.0, f = f0 * (1.0 + 0.2 * t);
    state = state * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(state >> 8) / 16777216.0 - 0.5) * 0.02;
    x[static_cast<size_t>(n)] =
        static_cast<float>(0.3 * std::sin(2 * M_PI * f * t) + 0.1 * std::sin(4 * M_PI * f * t) + noise);
  }
  return x;
}

torch::Tensor log_mel(int64_t samples, double f0) {
  audio::LogMelExtractor extractor;
  audio::LogMel mel = extractor.compute(test_audio(samples, f0));
  return torch::from_blob(mel.data.data(), {mel.n_mels, mel.frames}, torch::kFloat32).clone();
}

// A two-turn spoken dialogue: audio of `samples_1` and `samples_2` 16 kHz samples.
SlmExample dialogue_example(int64_t samples_1, int64_t samples_2, int64_t slot_delta = 0) {
  using text::Role;
  std::vector<text::ChatMessage> messages = {
      {Role::kSystem, "You are a caring listener.", 0, std::nullopt},
      {Role::kUser, "", text::audio_slot_count(samples_1, 4) + slot_delta, std::nullopt},
      {Role::kAssistant, "That sounds really hard. What happened?", 0, "The user sounds sad."},
      {Role::kUser, "I failed my exam today.", text::audio_slot_count(samples_2, 4), std::nullopt}};
  text::RenderedChat chat = chat_template().render(messages, {.add_generation_prompt = true});
  return make_example(chat, {log_mel(samples_1, 180), log_mel(samples_2, 120)});
}

using testing::error_message_of;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return INFINITY;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

TEST(SpokenLanguageModel, ParameterNamesAreTheCompositeCheckpointKeys) {
  SpokenLanguageModel slm = tiny_slm();
  auto params = slm->named_parameters();
  EXPECT_TRUE(params.contains("encoder.model.encoder.conv1.weight"));
  EXPECT_TRUE(params.contains("encoder.model.encoder.layers.1.self_attn.k_proj.weight"));
  EXPECT_TRUE(params.contains("adapter.subsample.1.weight"));
  EXPECT_TRUE(params.contains("adapter.proj.bias"));
  EXPECT_TRUE(params.contains("language_model.model.embed_tokens.weight"));
  EXPECT_TRUE(params.contains("language_model.lm_head.weight"));
  for (const auto& p : params) {
    const std::string& k = p.key();
    EXPECT_TRUE(k.rfind("encoder.model.encoder.", 0) == 0 || k.rfind("adapter.", 0) == 0 ||
                k.rfind("language_model.", 0) == 0)
        << k;
  }
}

TEST(SpokenLanguageModel, AudioGoesExactlyIntoTheSlotsAndTextKeepsItsEmbeddings) {
  SpokenLanguageModel slm = tiny_slm();
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800);  // 0.7 s: 70 mel frames -> 35 -> 9 slots; 1.3 s: 130 -> 65 -> 17
  ASSERT_EQ(ex.audio_slots.size(), 2u);
  EXPECT_EQ(ex.audio_slots[0].count, 9);
  EXPECT_EQ(ex.audio_slots[1].count, 17);
  auto embeds = slm->prepare({ex}).inputs_embeds[0];
  auto audio = slm->embed_audio(ex.mels);
  auto ids = torch::tensor(std::vector<int64_t>(ex.ids.begin(), ex.ids.end())).unsqueeze(0);
  auto text = slm->language_model().embed_tokens(ids)[0];
  ASSERT_EQ(embeds.size(0), static_cast<int64_t>(ex.ids.size()));
  std::vector<int> slot_of(ex.ids.size(), -1);
  for (size_t i = 0; i < ex.audio_slots.size(); ++i) {
    for (int64_t k = 0; k < ex.audio_slots[i].count; ++k) {
      slot_of[static_cast<size_t>(ex.audio_slots[i].first + k)] = static_cast<int>(i);
    }
  }
  int64_t audio_rows = 0;
  for (int64_t p = 0; p < embeds.size(0); ++p) {
    const int s = slot_of[static_cast<size_t>(p)];
    if (s >= 0) {
      const int64_t k = p - ex.audio_slots[static_cast<size_t>(s)].first;
      EXPECT_TRUE(torch::equal(embeds[p], audio[static_cast<size_t>(s)][k])) << "position " << p;
      ++audio_rows;
    } else {
      EXPECT_TRUE(torch::equal(embeds[p], text[p])) << "position " << p;
    }
  }
  EXPECT_EQ(audio_rows, 26);
  // The adapter rows are those of the encoder -> adapter path run by hand.
  auto by_hand = slm->adapter().adapt(slm->encoder().encode(ex.mels[1]));
  EXPECT_LE(max_abs_diff(audio[1], by_hand), 1e-5);
  EXPECT_EQ(slm->audio_embeddings_for(ex.mels[1].size(1)), 17);
}

TEST(SpokenLanguageModel, SlotCountsThatDisagreeWithTheAudioAreClearErrors) {
  SpokenLanguageModel slm = tiny_slm();
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800, /*slot_delta=*/1);
  std::string err = error_message_of([&] { slm->prepare({ex}); });
  EXPECT_NE(err.find("audio slot 0 (message 1) has 10 <|AUDIO|> tokens but its audio gives 9 adapter embeddings"),
            std::string::npos)
      << err;
  ex = dialogue_example(11200, 20800);
  ex.mels.pop_back();
  err = error_message_of([&] { slm->prepare({ex}); });
  EXPECT_NE(err.find("2 audio slot run(s) but 1 log-mel input(s)"), std::string::npos) << err;
  ex = dialogue_example(11200, 20800);
  ex.mels[0] = torch::zeros({128, 70});
  err = error_message_of([&] { slm->prepare({ex}); });
  EXPECT_NE(err.find("num_mel_bins is 80"), std::string::npos) << err;
  ex = dialogue_example(11200, 20800);
  ex.ids[3] = 100000;
  err = error_message_of([&] { slm->prepare({ex}); });
  EXPECT_NE(err.find("outside the vocabulary"), std::string::npos) << err;
}

TEST(SpokenLanguageModel, ForwardGivesLogitsAndHiddenStates) {
  SpokenLanguageModel slm = tiny_slm();
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800);
  ForwardOptions o;
  o.output_hidden_states = true;
  ForwardOutput out = slm->forward({ex}, o);
  const int64_t L = static_cast<int64_t>(ex.ids.size()), V = slm->config().language_model.config.vocab_size;
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, L, V}));
  ASSERT_EQ(out.hidden_states.size(), 3u);  // embeddings + 2 layers
  EXPECT_TRUE(torch::equal(out.hidden_states[0], slm->prepare({ex}).inputs_embeds));
}

TEST(SpokenLanguageModel, PaddedBatchEqualsExamplesAlone) {
  SpokenLanguageModel slm = tiny_slm();
  torch::NoGradGuard no_grad;
  std::vector<SlmExample> batch = {dialogue_example(11200, 20800), dialogue_example(4000, 9000)};
  ForwardOutput together = slm->forward(batch);
  for (size_t b = 0; b < batch.size(); ++b) {
    ForwardOutput alone = slm->forward({batch[b]});
    const int64_t L = static_cast<int64_t>(batch[b].ids.size());
    EXPECT_LE(max_abs_diff(together.logits[static_cast<int64_t>(b)].slice(0, 0, L), alone.logits[0]), 1e-4)
        << "row " << b;
  }
}

TEST(SpokenLanguageModel, StepwiseDecodingWithTheCacheMatchesFullRecomputation) {
  SpokenLanguageModel slm = tiny_slm();
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800);
  KvCache cache = slm->make_cache(8);  // grows as needed
  auto logits = slm->prefill(ex, cache);
  EXPECT_EQ(cache.length(), static_cast<int64_t>(ex.ids.size()));
  double worst = max_abs_diff(logits, slm->forward({ex}).logits[0][-1]);
  SlmExample grown = ex;
  for (int32_t token : {5, 77, 200}) {
    logits = slm->decode_step(token, cache);
    grown.ids.push_back(token);
    worst = std::max(worst, max_abs_diff(logits, slm->forward({grown}).logits[0][-1]));
  }
  std::printf("  KV-cache decode vs full recomputation: max abs diff %.3g over 4 positions\n", worst);
  EXPECT_LE(worst, 1e-4);
}

TEST(SpokenLanguageModel, GenerateIsTheGreedyStepwiseLoop) {
  SpokenLanguageModel slm = tiny_slm();
  SlmExample ex = dialogue_example(11200, 20800);
  GenerateOptions options;
  options.max_new_tokens = 6;
  options.use_model_eos = false;
  GenerateResult r = slm->generate(ex, options, &chat_template().tokenizer());
  ASSERT_EQ(r.ids.size(), 6u);
  std::vector<int32_t> expected;
  {
    torch::NoGradGuard no_grad;
    KvCache cache = slm->make_cache(64);
    auto logits = slm->prefill(ex, cache);
    for (int i = 0; i < 6; ++i) {
      expected.push_back(static_cast<int32_t>(logits.argmax().item<int64_t>()));
      logits = slm->decode_step(expected.back(), cache);
    }
  }
  EXPECT_EQ(r.ids, expected);
  EXPECT_EQ(slm->generate(ex, options).ids, r.ids);  // reproducible
  EXPECT_EQ(r.prompt_ids, ex.ids);
}

TEST(SpokenLanguageModel, TrainingGradientsReachTheAdapterAndTheEncoder) {
  SpokenLanguageModel slm = tiny_slm();
  slm->train();
  for (auto& p : slm->language_model().parameters()) p.set_requires_grad(false);  // stage 1: LLM frozen
  // 3 s of audio: 300 mel frames, so the encoder goes through its window path (128 frames here).
  SlmExample ex = dialogue_example(16000 * 3, 9000);
  ForwardOutput out = slm->forward({ex});
  out.logits.log_softmax(-1).select(-1, 7).mean().backward();
  for (const char* name : {"encoder.model.encoder.conv1.weight", "encoder.model.encoder.layers.0.fc1.weight",
                           "adapter.subsample.0.weight", "adapter.proj.weight"}) {
    const auto& p = slm->named_parameters()[name];
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << name;
  }
  EXPECT_FALSE(slm->language_model().model->embed_tokens->weight.grad().defined());
}

TEST(SpokenLanguageModel, LoadsInBfloat16) {
  SpokenLanguageModel slm = tiny_slm();
  attune::testing::TempDir dir;
  slm->save_pretrained(dir.path());
  SlmLoadOptions options;
  options.dtype = torch::kBFloat16;
  auto half = SpokenLanguageModelImpl::from_pretrained(dir.path(), options);
  EXPECT_EQ(half->encoder().conv1->weight.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(half->adapter().proj->weight.scalar_type(), torch::kBFloat16);
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800);
  auto want = slm->forward({ex}).logits;
  auto got = half->forward({ex}).logits;
  const double diff = max_abs_diff(got, want), scale = want.abs().max().item<double>();
  std::printf("  bf16 vs fp32 logits: max abs diff %.3g (logits up to %.3g)\n", diff, scale);
  EXPECT_TRUE(torch::isfinite(got).all().item<bool>());
  EXPECT_LE(diff, 0.1 * scale + 0.05);
}

// With encoder_heads.ctc_encoder, transcription reads its own encoder (the CTC projection over its
// states, by hand), the emotion head and the adapter still read the shared one, and the whole
// round-trips through save_pretrained.
TEST(SpokenLanguageModel, TranscriptionReadsItsOwnEncoder) {
  SpokenLanguageModel slm = tiny_slm();
  io::EncoderHeadsConfig heads;
  heads.hidden_size = 8;
  heads.ctc_alphabet = {"a", "b", "c"};
  heads.ctc_encoder = true;
  slm->attach_encoder_heads(heads);
  EncoderHeadsImpl& h = *slm->encoder_heads();
  ASSERT_NE(h.ctc_encoder(), nullptr);
  EXPECT_TRUE(slm->named_parameters().contains("encoder_heads.ctc_encoder.layers.0.fc1.weight"));
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> mels = {log_mel(11200, 180), log_mel(20800, 120)};
  EncoderHeadsOutput heard;
  slm->embed_audio(mels, &heard, {}, /*with_ctc=*/true);
  const torch::Tensor own = h.ctc_encoder()->encode(mels[1]), shared = slm->encoder().encode(mels[1]);
  const int64_t n = own.size(0);
  auto projection = h.named_parameters();
  const torch::Tensor by_hand = torch::linear(own, projection["ctc.weight"], projection["ctc.bias"]);
  EXPECT_LE(max_abs_diff(heard.ctc_logits[1].narrow(0, 0, n), by_hand), 1e-5);
  const torch::Tensor from_shared = torch::linear(shared, projection["ctc.weight"], projection["ctc.bias"]);
  EXPECT_GT(max_abs_diff(heard.ctc_logits[1].narrow(0, 0, n), from_shared), 1e-3);
  // The emotion head reads the shared states.
  const EncoderHeadsOutput alone = h.forward(shared.unsqueeze(0), {}, true, {}, own.unsqueeze(0));
  EXPECT_LE(max_abs_diff(heard.emotion_logits[1], alone.emotion_logits[0]), 1e-5);
  EXPECT_LE(max_abs_diff(heard.ctc_logits[1].narrow(0, 0, n), alone.ctc_logits[0]), 1e-5);
  attune::testing::TempDir dir;
  slm->save_pretrained(dir.path());
  auto loaded = SpokenLanguageModelImpl::from_pretrained(dir.path());
  EncoderHeadsOutput again;
  loaded->embed_audio(mels, &again, {}, true);
  EXPECT_TRUE(torch::equal(again.ctc_logits, heard.ctc_logits));
  EXPECT_TRUE(torch::equal(again.emotion_logits, heard.emotion_logits));
  // Without its encoder's states the CTC path is a clear error, not the shared states read silently.
  EXPECT_THROW(h.forward(torch::zeros({1, 4, slm->encoder().config().d_model}), {}, true), InputError);
}

// ---- loading and saving ---------------------------------------------------------------------------------

TEST(SpokenLanguageModel, SavedInlineCompositeLoadsBackIdentically) {
  SpokenLanguageModel slm = tiny_slm();
  attune::testing::TempDir dir;
  slm->save_pretrained(dir.path());
  auto names = io::SafetensorsCheckpoint::open(dir.path()).names();
  EXPECT_NE(std::find(names.begin(), names.end(), "encoder.model.encoder.conv1.weight"), names.end());
  auto loaded = SpokenLanguageModelImpl::from_pretrained(dir.path());
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800);
  EXPECT_TRUE(torch::equal(loaded->forward({ex}).logits, slm->forward({ex}).logits));
}

TEST(SpokenLanguageModel, ComponentsByPathLoadFromTheirHuggingFaceDirectories) {
  SpokenLanguageModel slm = tiny_slm();
  attune::testing::TempDir dir;
  // An unmodified-HF-style Whisper directory and Qwen2 directory, and a composite with the adapter.
  const fs::path whisper = dir / "whisper", qwen = dir / "qwen", composite = dir / "attune";
  fs::create_directories(whisper);
  fs::create_directories(composite);
  io::write_hf_config(whisper / "config.json", io::HfConfig{slm->config().encoder.config});
  save_weights(slm->encoder(), whisper / "model.safetensors", io::Dtype::kF32, "model.encoder.");
  slm->language_model().save_pretrained(qwen);
  io::SlmConfig config = slm->config();
  config.encoder.path = whisper.string();
  config.encoder.dir = whisper;
  config.language_model.path = qwen.string();
  config.language_model.dir = qwen;
  io::write_slm_config(composite / "config.json", config);
  save_weights(slm->adapter(), composite / "model.safetensors", io::Dtype::kF32, "adapter.");

  auto loaded = SpokenLanguageModelImpl::from_pretrained(composite);
  EXPECT_FALSE(loaded->config().encoder.is_inline());
  torch::NoGradGuard no_grad;
  SlmExample ex = dialogue_example(11200, 20800);
  EXPECT_TRUE(torch::equal(loaded->forward({ex}).logits, slm->forward({ex}).logits));

  // Saving keeps the path components where they are (relative paths) and writes the rest.
  const fs::path copy = dir / "copy";
  loaded->save_pretrained(copy);
  auto names = io::SafetensorsCheckpoint::open(copy).names();
  for (const auto& n : names) EXPECT_EQ(n.rfind("adapter.", 0), 0u) << n;
  auto again = SpokenLanguageModelImpl::from_pretrained(copy);
  EXPECT_TRUE(torch::equal(again->forward({ex}).logits, slm->forward({ex}).logits));

  // A fine-tuned encoder stored in the composite wins over the base directory's.
  SpokenLanguageModel other = tiny_slm(/*seed=*/99);
  const fs::path tuned = dir / "tuned";
  fs::create_directories(tuned);
  io::write_slm_config(tuned / "config.json", config);
  {
    NamedTensors a = collect_weights(slm->adapter(), io::Dtype::kF32, "adapter.");
    NamedTensors e = collect_weights(other->encoder(), io::Dtype::kF32, "encoder.model.encoder.");
    for (auto& t : e.tensors) a.tensors.push_back(t);
    io::write_safetensors(tuned / "model.safetensors", a.tensors);
  }
  auto tuned_model = SpokenLanguageModelImpl::from_pretrained(tuned);
  EXPECT_TRUE(torch::equal(tuned_model->encoder().conv1->weight, other->encoder().conv1->weight));
}

TEST(SpokenLanguageModel, BadCompositesAreClearErrors) {
  SpokenLanguageModel slm = tiny_slm();
  attune::testing::TempDir dir;
  io::write_slm_config(dir / "config.json", slm->config());
  NamedTensors all = collect_weights(*slm, io::Dtype::kF32);
  auto write_without = [&](const std::string& skip_prefix, const std::string& extra = "") {
    std::vector<io::TensorToWrite> tensors;
    for (const auto& t : all.tensors) {
      if (skip_prefix.empty() || t.name.rfind(skip_prefix, 0) != 0) tensors.push_back(t);
    }
    if (!extra.empty()) tensors.push_back({extra, io::Dtype::kF32, {1}, all.tensors[0].data.subspan(0, 4)});
    io::write_safetensors(dir / "model.safetensors", tensors);
  };
  write_without("", "projector.weight");
  std::string err = error_message_of([&] { SpokenLanguageModelImpl::from_pretrained(dir.path()); });
  EXPECT_NE(err.find("belong to no component"), std::string::npos) << err;
  EXPECT_NE(err.find("projector.weight"), std::string::npos) << err;

  write_without("adapter.");
  err = error_message_of([&] { SpokenLanguageModelImpl::from_pretrained(dir.path()); });
  EXPECT_NE(err.find("allow_untrained_adapter"), std::string::npos) << err;
  SlmLoadOptions lenient;
  lenient.allow_untrained_adapter = true;
  EXPECT_EQ(error_message_of([&] { SpokenLanguageModelImpl::from_pretrained(dir.path(), lenient); }), "(no error)");

  write_without("language_model.model.norm.");
  err = error_message_of([&] { SpokenLanguageModelImpl::from_pretrained(dir.path()); });
  EXPECT_NE(err.find("language_model.model.norm.weight"), std::string::npos) << err;

  write_without("encoder.");
  err = error_message_of([&] { SpokenLanguageModelImpl::from_pretrained(dir.path()); });
  EXPECT_NE(err.find("no encoder.* tensors"), std::string::npos) << err;

  write_without("", "encoder.model.encoder.layers.7.fc1.weight");
  err = error_message_of([&] { SpokenLanguageModelImpl::from_pretrained(dir.path()); });
  EXPECT_NE(err.find("encoder.model.encoder.layers.7.fc1.weight"), std::string::npos) << err;

  // Config rules come first: an adapter that does not fit the language model.
  io::SlmConfig bad = tiny_slm_config();
  bad.adapter.output_size = 40;
  err = error_message_of([&] { SpokenLanguageModel m(bad); });
  EXPECT_NE(err.find("adapter.output_size"), std::string::npos) << err;
}

}  // namespace
}  // namespace attune::model
