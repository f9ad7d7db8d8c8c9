// Text generation with a decoder language model (TextGenerator) or the whole spoken language model
// (SpeechGenerator: audio in, text out), torch-free (pimpl), for the CLI and other callers that must
// not compile torch headers. The torch-level loop (from token ids or from input embeddings,
// e.g. with audio spliced in) is model::generate() in language_model.h; this header holds the options
// and result types it shares, and TextGenerator, which loads a model directory and runs it.
//
//   auto gen = model::TextGenerator::load("models/qwen2.5-0.5b", {.dtype = "bf16"});
//   model::GenerateOptions opts;
//   opts.max_new_tokens = 64;
//   opts.on_token = [](int32_t id, std::string_view piece) { std::fputs(std::string(piece).c_str(), stdout); return
//   true; }; model::GenerateResult r = gen.generate_text("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
//   opts);
//
// Thread-safety: one TextGenerator holds the weights; generate() calls on it must not overlap (each
// makes its own KV cache, but torch's thread pool is shared).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attune/runtime.h"
#include "model/sampling.h"

namespace attune::text {
class Tokenizer;
}

namespace attune::model {

// Called for every generated token with the text it completes (whole UTF-8 characters; may be empty
// when no tokenizer is loaded or a character is still incomplete). Return false to stop.
using TokenCallback = std::function<bool(int32_t id, std::string_view piece)>;

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  SamplingOptions sampling;
  // Generation stops after one of these ids (it is kept in `ids`, left out of `text`). Empty and
  // use_model_eos: the config's eos_token_id(s).
  std::vector<int32_t> stop_token_ids;
  bool use_model_eos = true;
  // Generation stops once the generated text contains one of these; `text` ends before it.
  std::vector<std::string> stop_strings;
  // Keep the raw logits (float32) of every prompt position and every generated token fed back:
  // row i predicts token i + 1 of prompt + generated, rows = prompt + generated - 1.
  bool return_logits = false;
  TokenCallback on_token;
};

// One set of stop reasons for `attune generate` and the runtime (attune/runtime.h; to_string names them).
using StopReason = attune::StopReason;

struct GenerateResult {
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> ids;  // generated ids (the stop token included)
  std::string text;          // decoded generated text (stop token and stop string left out); "" without tokenizer
  StopReason stop_reason = StopReason::kMaxTokens;
  std::vector<float> logits;  // rows x vocab when return_logits
  int64_t logits_rows = 0;
  int64_t vocab_size = 0;
  double prompt_seconds = 0;  // prompt processing (prefill), first token included
  double decode_seconds = 0;  // the remaining steps
  int64_t prompt_tokens = 0;
  int64_t decode_steps = 0;  // forward passes after the prompt
  int64_t kv_cache_bytes = 0;
};

struct ModelLoadOptions {
  std::string dtype = "auto";   // "fp32", "bf16", or "auto": bf16 on CUDA / CPUs with native bf16, else fp32
  std::string device = "auto";  // "cpu", "cuda", "cuda:N", or "auto": CUDA when available
  bool load_tokenizer = true;   // tokenizer.json from the model directory, when present
};

class TextGenerator {
 public:
  // `dir`: an HF decoder directory (config.json + model.safetensors or a sharded index, tokenizer.json).
  // Throws InputError/ConfigError naming the file, tensor or option.
  static TextGenerator load(const std::filesystem::path& dir, const ModelLoadOptions& options = {});

  TextGenerator(TextGenerator&&) noexcept;
  TextGenerator& operator=(TextGenerator&&) noexcept;
  ~TextGenerator();

  GenerateResult generate(std::span<const int32_t> prompt_ids, const GenerateOptions& options) const;
  // Encodes with the model's tokenizer (special tokens in the text become their ids); InputError
  // without one.
  GenerateResult generate_text(std::string_view prompt, const GenerateOptions& options) const;

  // nullptr when the directory has no tokenizer.
  const text::Tokenizer* tokenizer() const;
  int64_t vocab_size() const;
  int64_t max_position_embeddings() const;
  std::vector<int32_t> eos_token_ids() const;
  int64_t parameter_count() const;
  int64_t parameter_bytes() const;
  // "qwen2: 24 layers, ... | bf16 on cpu | 494.0M parameters".
  std::string describe() const;
  // "fp32" or "bf16", and "cpu" / "cuda:0": what was resolved from the options.
  std::string dtype_name() const;
  std::string device_name() const;
  double load_seconds() const;

  struct Impl;

 private:
  explicit TextGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- the whole spoken language model (speech encoder -> adapter -> LM) ----------------------------

// What SpeechGenerator::generate adds to a GenerateResult: the audio side and its timings.
struct SpeechGenerateResult : GenerateResult {
  int64_t audio_samples = 0;       // 16 kHz samples heard
  int64_t mel_frames = 0;          // log-mel frames (unpadded: samples / 160)
  int64_t audio_tokens = 0;        // <|AUDIO|> slots in the prompt (= the adapter's output length)
  double feature_seconds = 0;      // log-mel extraction
  double audio_embed_seconds = 0;  // speech encoder + adapter
  double audio_duration_s() const { return static_cast<double>(audio_samples) / 16000.0; }
  // (feature_seconds + audio_embed_seconds) / audio duration.
  double audio_rtf() const {
    const double d = audio_duration_s();
    return d > 0 ? (feature_seconds + audio_embed_seconds) / d : 0.0;
  }
};

// A composite directory (config.json with "model_type": "attune_slm", its weights, tokenizer.json)
// loaded through SpokenLanguageModelImpl::from_pretrained, torch-free for the CLI:
//
//   auto slm = model::SpeechGenerator::load("models/attune-base", {.dtype = "fp32"});
//   audio::AudioBuffer clip = audio::load_mono("turn.flac");          // 16 kHz mono
//   model::SpeechGenerateResult r = slm.generate(clip.samples, "", "You are a kind listener.", opts);
//
// The prompt is ChatML (text::ChatTemplate): the optional system turn, one user turn holding the
// clip's <|AUDIO|> slots (as many as the encoder and adapter give for its log-mel frames) followed by
// the optional text, and the generation prompt. Without stop_token_ids in the options, generation
// stops at the template's stop ids (<|im_end|>, <|endoftext|> when present).
class SpeechGenerator {
 public:
  // Throws ConfigError when the directory's config.json is not an attune_slm composite (a plain
  // language model has no speech encoder), InputError when it has no tokenizer.json or the tokenizer
  // lacks the chat/audio tokens or has more ids than the model's vocabulary; load errors name the file.
  static SpeechGenerator load(const std::filesystem::path& dir, const ModelLoadOptions& options = {});
  // Whether `dir`'s config.json says "model_type": "attune_slm" (false when it is absent or unreadable).
  static bool is_spoken_model(const std::filesystem::path& dir);

  SpeechGenerator(SpeechGenerator&&) noexcept;
  SpeechGenerator& operator=(SpeechGenerator&&) noexcept;
  ~SpeechGenerator();

  // `samples`: 16 kHz mono (audio::load_mono). `text` (may be empty) follows the audio in the same
  // user turn; `system` (may be empty: no system turn) opens the dialogue.
  SpeechGenerateResult generate(std::span<const float> samples, std::string_view text, std::string_view system,
                                const GenerateOptions& options) const;

  // The prompt generate() renders for a clip of `mel_frames` log-mel frames: ids and audio slots.
  std::vector<int32_t> render_prompt(int64_t mel_frames, std::string_view text, std::string_view system) const;
  // <|AUDIO|> slots for `mel_frames` log-mel frames (asks the encoder and adapter).
  int64_t audio_tokens_for(int64_t mel_frames) const;
  int64_t num_mel_bins() const;

  const text::Tokenizer& tokenizer() const;
  int64_t vocab_size() const;
  int64_t parameter_count() const;
  // "attune_slm: whisper: ... | adapter conv x4 | qwen2: ... | fp32 on cpu | 1.2M parameters".
  std::string describe() const;
  std::string dtype_name() const;
  std::string device_name() const;
  double load_seconds() const;

  struct Impl;

 private:
  explicit SpeechGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether this CPU does bf16 arithmetic natively (AVX-512 BF16 or AMX), from cpuid.
bool cpu_has_native_bf16();

// torch's intra-op thread count (at::set_num_threads) for callers without torch headers; <= 0: unchanged.
void set_num_threads(int threads);

}  // namespace attune::model
