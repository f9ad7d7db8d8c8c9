// Generation: the torch-level loop (model::generate, declared in language_model.h) and the torch-free
// TextGenerator and SpeechGenerator around it (generate.h).
#include "model/generate.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <unordered_set>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "attune/error.h"
#include "audio/log_mel.h"
#include "io/model_config.h"
#include "kernels/thread_pool.h"
#include "model/language_model.h"
#include "model/spoken_language_model.h"
#include "model/step_decoder.h"
#include "model/torch_error.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace fs = std::filesystem;

namespace attune::model {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The rows of float32 logits [..., V] on the CPU, appended to `out`.
void append_rows(const at::Tensor& logits, std::vector<float>& out) {
  at::Tensor cpu = logits.to(at::kCPU, at::kFloat).contiguous();
  const float* p = cpu.data_ptr<float>();
  out.insert(out.end(), p, p + cpu.numel());
}

// Length of the longest prefix of s[0, n) that does not cut a UTF-8 character.
size_t utf8_safe_prefix(const std::string& s, size_t n) {
  n = std::min(n, s.size());
  size_t i = n;
  // Step back over continuation bytes to the lead byte; keep the character only when complete.
  size_t back = 0;
  while (i > 0 && back < 4 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) {
    --i;
    ++back;
  }
  if (i == 0) return n;
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 1;
  if (len == 1) return n;
  return back + 1 >= len ? n : i - 1;
}

}  // namespace

// ---- the loop -------------------------------------------------------------------------------------

GenerateResult generate(LanguageModelImpl& lm, const at::Tensor& prompt_embeds, std::span<const int32_t> prompt_ids,
                        const GenerateOptions& options, const text::Tokenizer* tokenizer) {
  options.sampling.validate();
  if (options.max_new_tokens < 0) {
    throw ConfigError("generate: max_new_tokens must be >= 0, got " + std::to_string(options.max_new_tokens));
  }
  const io::LanguageModelConfig& config = lm.config();
  if (!prompt_embeds.defined() || prompt_embeds.dim() != 3 || prompt_embeds.size(0) != 1) {
    throw InputError("generate: the prompt embeddings must be [1, tokens, hidden]");
  }
  const int64_t T = prompt_embeds.size(1);
  if (T == 0) throw InputError("generate: the prompt is empty (at least one token is needed)");
  if (static_cast<int64_t>(prompt_ids.size()) != T) {
    throw InputError("generate: " + std::to_string(prompt_ids.size()) + " prompt ids for " + std::to_string(T) +
                     " prompt embeddings");
  }
  const int64_t max_positions = config.max_position_embeddings;
  if (T > max_positions) {
    throw InputError("generate: the prompt has " + std::to_string(T) +
                     " tokens, more than the model's context length (max_position_embeddings = " +
                     std::to_string(max_positions) + ")");
  }

  GenerateResult result;
  result.prompt_ids.assign(prompt_ids.begin(), prompt_ids.end());
  result.prompt_tokens = T;
  result.vocab_size = config.vocab_size;

  std::unordered_set<int32_t> stop_ids(options.stop_token_ids.begin(), options.stop_token_ids.end());
  if (stop_ids.empty() && options.use_model_eos) {
    for (int64_t id : config.eos_token_ids) stop_ids.insert(static_cast<int32_t>(id));
  }
  size_t max_stop_len = 0;
  for (const auto& s : options.stop_strings) {
    if (s.empty()) throw ConfigError("generate: a stop string is empty");
    max_stop_len = std::max(max_stop_len, s.size());
  }
  if (!tokenizer) max_stop_len = 0;

  return with_torch_context("generate", [&] {
    c10::InferenceMode inference;
    const int64_t capacity = std::min(T + std::max<int64_t>(options.max_new_tokens, 1), max_positions);
    KvCache cache = lm.make_cache(1, capacity, capacity);
    StepDecoder decoder(lm, cache, options.sampling, max_positions);
    std::vector<int32_t> history(prompt_ids.begin(), prompt_ids.end());
    std::optional<text::StreamDecoder> stream;
    if (tokenizer) stream.emplace(*tokenizer);

    const auto t0 = Clock::now();
    decoder.prefill(prompt_embeds, options.return_logits);
    if (options.return_logits) append_rows(decoder.output().logits[0], result.logits);
    if (options.max_new_tokens == 0) result.prompt_seconds = seconds_since(t0);

    Clock::time_point t1 = Clock::now();
    size_t emitted = 0, searched = 0;
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      const int32_t id = decoder.sample(history);
      if (step == 0) {
        result.prompt_seconds = seconds_since(t0);
        t1 = Clock::now();
      }
      result.ids.push_back(id);
      history.push_back(id);
      const bool is_stop = stop_ids.count(id) > 0;
      bool found_stop_string = false;
      if (stream && !is_stop && id < tokenizer->vocab_size()) {
        try {
          result.text += stream->push(id);
        } catch (const InputError&) {
          // An id the model knows and the tokenizer has no token for (padded vocabularies): no text.
        }
      }
      const bool last = is_stop || step + 1 == options.max_new_tokens || decoder.context_full();
      if (stream && last) result.text += stream->finish();
      if (max_stop_len) {
        const size_t from = searched >= max_stop_len ? searched - max_stop_len + 1 : 0;
        size_t best = std::string::npos;
        for (const auto& s : options.stop_strings) best = std::min(best, result.text.find(s, from));
        if (best != std::string::npos) {
          result.text.resize(best);
          found_stop_string = true;
        }
        searched = result.text.size();
      }
      // Text that can no longer turn into a stop string is safe to show.
      size_t safe = result.text.size();
      if (max_stop_len && !last && !found_stop_string) {
        safe = safe >= max_stop_len - 1 ? utf8_safe_prefix(result.text, safe - (max_stop_len - 1)) : 0;
      }
      safe = std::max(safe, emitted);
      const std::string_view piece = std::string_view(result.text).substr(emitted, safe - emitted);
      emitted = safe;
      const bool keep_going = options.on_token ? options.on_token(id, piece) : true;
      if (is_stop) {
        result.stop_reason = StopReason::kStopToken;
        break;
      }
      if (found_stop_string) {
        result.stop_reason = StopReason::kStopString;
        break;
      }
      if (!keep_going) {
        result.stop_reason = StopReason::kCancelled;
        if (stream) result.text += stream->finish();
        break;
      }
      if (step + 1 == options.max_new_tokens) {
        result.stop_reason = StopReason::kMaxTokens;
        break;
      }
      if (decoder.context_full()) {
        result.stop_reason = StopReason::kContextFull;
        break;
      }
      decoder.feed(id);
      if (options.return_logits) {
        result.logits.insert(result.logits.end(), decoder.next_logits().begin(), decoder.next_logits().end());
      }
    }
    result.decode_steps = decoder.steps();
    if (!result.ids.empty()) result.decode_seconds = seconds_since(t1);
    result.logits_rows = options.return_logits ? static_cast<int64_t>(result.logits.size()) / config.vocab_size : 0;
    result.kv_cache_bytes = cache.bytes();
    return result;
  });
}

GenerateResult generate(LanguageModelImpl& lm, std::span<const int32_t> prompt_ids, const GenerateOptions& options,
                        const text::Tokenizer* tokenizer) {
  if (prompt_ids.empty()) throw InputError("generate: the prompt is empty (at least one token is needed)");
  std::vector<int64_t> ids(prompt_ids.begin(), prompt_ids.end());
  at::Tensor embeds;
  {
    c10::InferenceMode inference;
    at::Tensor t = at::from_blob(ids.data(), {1, static_cast<int64_t>(ids.size())}, at::kLong).clone();
    embeds = lm.embed_tokens(t);
  }
  return generate(lm, embeds, prompt_ids, options, tokenizer);
}

// ---- TextGenerator --------------------------------------------------------------------------------

bool cpu_has_native_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool amx_bf16 = (edx >> 22) & 1;
  const bool avx512f = (ebx >> 16) & 1;
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  const bool avx512_bf16 = (eax >> 5) & 1;
  return amx_bf16 || (avx512f && avx512_bf16);
#else
  return false;
#endif
}

struct TextGenerator::Impl {
  LanguageModel lm{nullptr};
  std::optional<text::Tokenizer> tokenizer;
  std::string dtype;
  std::string device;
  double load_seconds = 0;
};

TextGenerator::TextGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextGenerator::TextGenerator(TextGenerator&&) noexcept = default;
TextGenerator& TextGenerator::operator=(TextGenerator&&) noexcept = default;
TextGenerator::~TextGenerator() = default;

namespace {

struct Placement {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  bool int8 = false;  // float32 load, then LanguageModelImpl::quantize_int8()
};

// ModelLoadOptions' device and dtype strings -> what the model is built with.
Placement resolve_placement(const ModelLoadOptions& options) {
  Placement p;
  with_torch_context("selecting the device", [&] {
    const std::string& d = options.device;
    if (d == "auto") {
      p.device = torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    } else if (d == "cpu" || d == "cuda" || d.rfind("cuda:", 0) == 0) {
      p.device = at::Device(d == "cuda" ? std::string("cuda:0") : d);
      if (p.device.is_cuda() && !torch::cuda::is_available()) {
        throw ConfigError("--device " + d + ": CUDA is not available (this libtorch has no CUDA or no GPU is visible)");
      }
    } else {
      throw ConfigError("--device: \"" + d + "\" (expected auto, cpu, cuda or cuda:N)");
    }
  });
  const std::string& dt = options.dtype;
  if (dt == "auto") {
    p.dtype = p.device.is_cuda() || cpu_has_native_bf16() ? at::kBFloat16 : at::kFloat;
  } else if (dt == "fp32" || dt == "float32") {
    p.dtype = at::kFloat;
  } else if (dt == "bf16" || dt == "bfloat16") {
    p.dtype = at::kBFloat16;
    if (p.device.is_cpu() && !cpu_has_native_bf16()) {
      spdlog::warn("bf16 on a CPU without native bf16 arithmetic: expect it to be slower than fp32");
    }
  } else if (dt == "int8") {
    if (!p.device.is_cpu()) throw ConfigError("--dtype int8: int8 weights run on the CPU only (use --device cpu)");
    p.dtype = at::kFloat;
    p.int8 = true;
  } else {
    throw ConfigError("--dtype: \"" + dt + "\" (expected fp32, bf16, int8 or auto)");
  }
  return p;
}

std::string parameter_string(int64_t count) {
  char params[48];
  const auto n = static_cast<double>(count);
  if (n >= 1e6) {
    std::snprintf(params, sizeof params, "%.1fM parameters", n / 1e6);
  } else {
    std::snprintf(params, sizeof params, "%.0f parameters", n);
  }
  return params;
}

}  // namespace

TextGenerator TextGenerator::load(const fs::path& dir, const ModelLoadOptions& options) {
  const auto t0 = Clock::now();
  auto impl = std::make_unique<Impl>();
  const Placement placement = resolve_placement(options);
  PretrainedOptions pretrained;
  pretrained.device = placement.device;
  pretrained.dtype = placement.dtype;
  impl->dtype = placement.int8 ? "int8" : pretrained.dtype == at::kBFloat16 ? "bf16" : "fp32";
  impl->device = pretrained.device.str();
  impl->lm = LanguageModel(with_torch_context("loading the language model",
                                              [&] { return LanguageModelImpl::from_pretrained(dir, pretrained); }));
  if (placement.int8) with_torch_context("quantising to int8", [&] { impl->lm->quantize_int8(); });
  if (options.load_tokenizer) {
    std::error_code ec;
    if (fs::exists(dir / "tokenizer.json", ec) || fs::exists(dir / "vocab.json", ec)) {
      impl->tokenizer = text::Tokenizer::load(dir);
      if (impl->tokenizer->vocab_size() > impl->lm->config().vocab_size) {
        throw InputError((dir / "tokenizer.json").string(),
                         "the tokenizer has " + std::to_string(impl->tokenizer->vocab_size()) +
                             " ids, more than the model's vocab_size " + std::to_string(impl->lm->config().vocab_size));
      }
    }
  }
  impl->load_seconds = seconds_since(t0);
  return TextGenerator(std::move(impl));
}

GenerateResult TextGenerator::generate(std::span<const int32_t> prompt_ids, const GenerateOptions& options) const {
  return model::generate(*impl_->lm, prompt_ids, options, impl_->tokenizer ? &*impl_->tokenizer : nullptr);
}

GenerateResult TextGenerator::generate_text(std::string_view prompt, const GenerateOptions& options) const {
  if (!impl_->tokenizer) {
    throw InputError("generate: the model directory has no tokenizer.json (give token ids instead of text)");
  }
  const std::vector<int32_t> ids = impl_->tokenizer->encode(prompt);
  return generate(ids, options);
}

const text::Tokenizer* TextGenerator::tokenizer() const { return impl_->tokenizer ? &*impl_->tokenizer : nullptr; }
int64_t TextGenerator::vocab_size() const { return impl_->lm->config().vocab_size; }
int64_t TextGenerator::max_position_embeddings() const { return impl_->lm->config().max_position_embeddings; }
std::vector<int32_t> TextGenerator::eos_token_ids() const {
  const auto& e = impl_->lm->config().eos_token_ids;
  return {e.begin(), e.end()};
}
int64_t TextGenerator::parameter_count() const { return impl_->lm->parameter_count(); }
int64_t TextGenerator::parameter_bytes() const { return impl_->lm->parameter_bytes(); }
std::string TextGenerator::dtype_name() const { return impl_->dtype; }
std::string TextGenerator::device_name() const { return impl_->device; }
double TextGenerator::load_seconds() const { return impl_->load_seconds; }

std::string TextGenerator::describe() const {
  return io::summary(impl_->lm->config()) + " | " + impl_->dtype + " on " + impl_->device + " | " +
         parameter_string(parameter_count());
}

// ---- SpeechGenerator ------------------------------------------------------------------------------

struct SpeechGenerator::Impl {
  std::shared_ptr<SpokenLanguageModelImpl> slm;
  std::optional<text::ChatTemplate> chat;
  std::optional<audio::LogMelExtractor> mel;
  std::string dtype;
  std::string device;
  double load_seconds = 0;

  std::vector<text::ChatMessage> messages(int64_t audio_tokens, std::string_view text, std::string_view system) const {
    std::vector<text::ChatMessage> m;
    if (!system.empty()) m.push_back({text::Role::kSystem, std::string(system), 0, std::nullopt});
    m.push_back({text::Role::kUser, std::string(text), audio_tokens, std::nullopt});
    return m;
  }
  text::RenderedChat render(int64_t audio_tokens, std::string_view text, std::string_view system) const {
    text::RenderOptions options;
    options.add_generation_prompt = true;
    return chat->render(messages(audio_tokens, text, system), options);
  }
};

SpeechGenerator::SpeechGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SpeechGenerator::SpeechGenerator(SpeechGenerator&&) noexcept = default;
SpeechGenerator& SpeechGenerator::operator=(SpeechGenerator&&) noexcept = default;
SpeechGenerator::~SpeechGenerator() = default;

bool SpeechGenerator::is_spoken_model(const fs::path& dir) {
  try {
    return io::is_slm_config(io::read_json_file(dir / "config.json"));
  } catch (const std::exception&) {
    return false;
  }
}

void require_spoken_model(const fs::path& dir) {
  const fs::path config_path = dir / "config.json";
  const nlohmann::json config = io::read_json_file(config_path);
  if (!io::is_slm_config(config)) {
    std::string type = "none";
    if (config.is_object() && config.contains("model_type") && config["model_type"].is_string()) {
      type = config["model_type"].get<std::string>();
    }
    throw ConfigError(config_path.string() + ": model_type \"" + type +
                      "\" is not an attune_slm composite: the model has no speech encoder, so it cannot take audio");
  }
}

text::Tokenizer load_slm_tokenizer(const fs::path& dir, int64_t vocab_size) {
  std::error_code ec;
  if (!fs::exists(dir / "tokenizer.json", ec) && !fs::exists(dir / "vocab.json", ec)) {
    throw InputError((dir / "tokenizer.json").string(),
                     "missing: the spoken language model needs its tokenizer to render the prompt");
  }
  text::Tokenizer tokenizer = text::Tokenizer::load(dir);
  if (tokenizer.vocab_size() > vocab_size) {
    throw InputError(tokenizer.source(), "the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                                             " ids, more than the model's vocab_size " + std::to_string(vocab_size));
  }
  for (const char* token : {"<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"}) {
    if (!tokenizer.find_token(token)) {
      throw InputError(tokenizer.source(), std::string("no ") + token +
                                               " token: the spoken language model's tokenizer needs the audio tokens");
    }
  }
  return tokenizer;
}

audio::LogMelOptions slm_log_mel_options(const io::SlmConfig& config) {
  audio::LogMelOptions options;
  options.n_mels = static_cast<int>(config.encoder.config.num_mel_bins);
  options.pad_to_30s = false;  // the encoder sees the real frames only (docs/model.md)
  return options;
}

SlmLoadOptions resolve_slm_load_options(const ModelLoadOptions& options) {
  const Placement placement = resolve_placement(options);
  SlmLoadOptions slm_options;
  slm_options.device = placement.device;
  slm_options.dtype = placement.dtype;
  slm_options.int8_language_model = placement.int8;
  return slm_options;
}

SpeechGenerator SpeechGenerator::load(const fs::path& dir, const ModelLoadOptions& options) {
  const auto t0 = Clock::now();
  require_spoken_model(dir);
  auto impl = std::make_unique<Impl>();
  const SlmLoadOptions slm_options = resolve_slm_load_options(options);
  impl->dtype = slm_options.int8_language_model ? "int8" : slm_options.dtype == at::kBFloat16 ? "bf16" : "fp32";
  impl->device = slm_options.device.str();
  impl->slm = with_torch_context("loading the spoken language model",
                                 [&] { return SpokenLanguageModelImpl::from_pretrained(dir, slm_options); });
  impl->slm->eval();

  text::Tokenizer tokenizer = load_slm_tokenizer(dir, impl->slm->config().language_model.config.vocab_size);
  impl->chat.emplace(std::move(tokenizer));
  impl->mel.emplace(slm_log_mel_options(impl->slm->config()));
  impl->load_seconds = seconds_since(t0);
  return SpeechGenerator(std::move(impl));
}

SpeechGenerateResult SpeechGenerator::generate(std::span<const float> samples, std::string_view text,
                                               std::string_view system, const GenerateOptions& options) const {
  options.sampling.validate();
  SpeechGenerateResult result;
  result.audio_samples = static_cast<int64_t>(samples.size());
  const auto t0 = Clock::now();
  audio::LogMel mel = impl_->mel->compute(samples.data(), static_cast<int64_t>(samples.size()));
  result.feature_seconds = seconds_since(t0);
  result.mel_frames = mel.frames;
  if (mel.frames == 0) {
    throw InputError("generate: the audio is too short (" + std::to_string(samples.size()) +
                     " samples give no log-mel frame; at least " + std::to_string(audio::kWhisperHop) + " are needed)");
  }
  SpokenLanguageModelImpl& slm = *impl_->slm;
  return with_torch_context("generate from audio", [&] {
    c10::InferenceMode inference;
    const at::Tensor log_mel = at::from_blob(mel.data.data(), {mel.n_mels, mel.frames}, at::kFloat);
    const auto t1 = Clock::now();
    std::vector<at::Tensor> audio_embeds = slm.embed_audio({log_mel});
    if (audio_embeds[0].is_cuda()) (void)audio_embeds[0].sum().item<float>();  // wait for the GPU
    result.audio_embed_seconds = seconds_since(t1);
    result.audio_tokens = audio_embeds[0].size(0);

    const text::RenderedChat chat = impl_->render(result.audio_tokens, text, system);
    const at::Tensor prompt_embeds = slm.splice(chat.ids, chat.audio_slots, audio_embeds);
    GenerateOptions gen = options;
    if (gen.stop_token_ids.empty()) gen.stop_token_ids = impl_->chat->stop_ids();
    static_cast<GenerateResult&>(result) =
        model::generate(slm.language_model(), prompt_embeds, chat.ids, gen, &impl_->chat->tokenizer());
    return result;
  });
}

std::vector<int32_t> SpeechGenerator::render_prompt(int64_t mel_frames, std::string_view text,
                                                    std::string_view system) const {
  return impl_->render(audio_tokens_for(mel_frames), text, system).ids;
}

int64_t SpeechGenerator::audio_tokens_for(int64_t mel_frames) const {
  return impl_->slm->audio_embeddings_for(mel_frames);
}
int64_t SpeechGenerator::num_mel_bins() const { return impl_->slm->config().encoder.config.num_mel_bins; }
const text::Tokenizer& SpeechGenerator::tokenizer() const { return impl_->chat->tokenizer(); }
int64_t SpeechGenerator::vocab_size() const { return impl_->slm->config().language_model.config.vocab_size; }
int64_t SpeechGenerator::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : impl_->slm->parameters()) n += p.numel();
  return n;
}
std::string SpeechGenerator::dtype_name() const { return impl_->dtype; }
std::string SpeechGenerator::device_name() const { return impl_->device; }
double SpeechGenerator::load_seconds() const { return impl_->load_seconds; }

std::string SpeechGenerator::describe() const {
  const io::SlmConfig& c = impl_->slm->config();
  return "attune_slm: " + io::summary(c.encoder.config) + " | adapter " + c.adapter.type + ", stride " +
         std::to_string(c.adapter.stride) + " | " + io::summary(c.language_model.config) + " | " + impl_->dtype +
         " on " + impl_->device + " | " + parameter_string(parameter_count());
}

void set_num_threads(int threads) {
  if (threads > 0) {
    at::set_num_threads(threads);
    kernels::set_decode_threads(threads);
  }
}

}  // namespace attune::model
