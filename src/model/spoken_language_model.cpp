#include "model/spoken_language_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "attune/error.h"
#include "model/torch_error.h"
#include "model/weights.h"

namespace attune::model {
namespace fs = std::filesystem;

namespace {

bool has_prefix(const io::SafetensorsCheckpoint& ckpt, const std::string& prefix) {
  const auto& names = ckpt.names();  // sorted
  auto it = std::lower_bound(names.begin(), names.end(), prefix);
  return it != names.end() && it->compare(0, prefix.size(), prefix) == 0;
}

// The sizes a config file may leave at 0, filled from the components (as parse_slm_config does).
io::SlmConfig completed(io::SlmConfig c) {
  if (c.adapter.input_size == 0) c.adapter.input_size = c.encoder.config.d_model;
  if (c.adapter.output_size == 0) c.adapter.output_size = c.language_model.config.hidden_size;
  if (c.adapter.hidden_size == 0) c.adapter.hidden_size = c.adapter.output_size;
  if (c.style_head.input_size == 0) c.style_head.input_size = c.language_model.config.hidden_size;
  return c;
}

// A module with no parameters of its own, so that a component's names get the HF nesting
// ("encoder" -> "model" -> "encoder" -> conv1 ...).
std::shared_ptr<torch::nn::Module> nest(const std::string& name, std::shared_ptr<torch::nn::Module> child) {
  auto holder = std::make_shared<torch::nn::Module>();
  holder->register_module(name, std::move(child));
  return holder;
}

constexpr const char* kEncoderPrefix = "encoder.";
constexpr const char* kAdapterPrefix = "adapter.";
constexpr const char* kLanguageModelPrefix = "language_model.";

}  // namespace

SlmExample make_example(const text::RenderedChat& chat, std::vector<torch::Tensor> mels) {
  return SlmExample{chat.ids, chat.audio_slots, std::move(mels)};
}

SpokenLanguageModelImpl::SpokenLanguageModelImpl(io::SlmConfig config, const SlmLoadOptions& options, bool random_init)
    : config_(completed(std::move(config))) {
  config_.validate("spoken language model config");
  if (options.dtype != at::kFloat && options.dtype != at::kBFloat16) {
    throw ConfigError("spoken language model: dtype must be float32 or bfloat16, got " +
                      std::string(c10::toString(options.dtype)));
  }
  with_torch_context("building the spoken language model", [&] {
    encoder_ = SpeechEncoder(config_.encoder.config, options.encoder);
    adapter_ = Adapter(config_.adapter);
    encoder_->to(options.device, options.dtype);
    adapter_->to(options.device, options.dtype);
    InitOptions init;
    init.random = random_init;
    init.dtype = options.dtype;
    init.device = options.device;
    language_model_ = LanguageModel(config_.language_model.config, init);
    register_module("encoder", nest("model", nest("encoder", encoder_.ptr())));
    register_module("adapter", adapter_.ptr());
    register_module("language_model", language_model_.ptr());
    if (config_.encoder_heads) {
      encoder_heads_ = EncoderHeads(*config_.encoder_heads, init, encoder_.get());
      register_module("encoder_heads", encoder_heads_.ptr());
    }
  });
}

void SpokenLanguageModelImpl::attach_encoder_heads(io::EncoderHeadsConfig heads) {
  if (heads.input_size == 0) heads.input_size = config_.encoder.config.d_model;
  io::SlmConfig c = config_;
  c.encoder_heads = heads;
  c.validate("encoder heads");
  config_ = std::move(c);
  with_torch_context("building the encoder heads", [&] {
    InitOptions init;
    init.dtype = language_model_->dtype();
    init.device = language_model_->device();
    auto fresh = EncoderHeads(*config_.encoder_heads, init, encoder_.get());
    if (encoder_heads_) {
      encoder_heads_ = replace_module("encoder_heads", fresh);
    } else {
      encoder_heads_ = register_module("encoder_heads", fresh);
    }
  });
}

int64_t SpokenLanguageModelImpl::audio_embeddings_for(int64_t mel_frames) const {
  return adapter_->output_frames(SpeechEncoderImpl::output_frames(mel_frames));
}

// ---- loading and saving -----------------------------------------------------------------------------

std::shared_ptr<SpokenLanguageModelImpl> SpokenLanguageModelImpl::from_pretrained(const fs::path& path,
                                                                                  const SlmLoadOptions& options) {
  const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
  io::SlmConfig config = io::load_slm_config(path);
  if (options.words_in_prompt) {
    if (!config.encoder_heads) throw ConfigError(path.string() + ": words_in_prompt needs encoder heads");
    config.encoder_heads->words_in_prompt = *options.words_in_prompt;
    config.validate(path.string());  // e.g. heads without a CTC head
  }
  auto slm = std::make_shared<SpokenLanguageModelImpl>(config, options, /*random_init=*/false);
  slm->source_dir_ = dir;

  std::optional<io::SafetensorsCheckpoint> ckpt;
  if (fs::exists(dir / io::kSafetensorsSingleName) || fs::exists(dir / io::kSafetensorsIndexName)) {
    ckpt = io::SafetensorsCheckpoint::open(dir);
    std::vector<std::string> stray;
    for (const auto& name : ckpt->names()) {
      bool known = false;
      for (const char* p : {kEncoderPrefix, kAdapterPrefix, kLanguageModelPrefix, kStyleHeadPrefix,
                            kLegacyStyleHeadPrefix, kEncoderHeadsPrefix}) {
        known = known || name.rfind(p, 0) == 0;
      }
      if (!known) stray.push_back(name);
    }
    if (!stray.empty()) {
      throw InputError((dir / io::kSafetensorsSingleName).string(),
                       std::to_string(stray.size()) + " tensor(s) belong to no component (expected the prefixes " +
                           "encoder., adapter., language_model., style_head., encoder_heads.), e.g. " + stray.front());
    }
  }
  const std::string where = dir.string();
  auto in_composite = [&](const char* prefix) { return ckpt && has_prefix(*ckpt, prefix); };

  with_torch_context("loading the spoken language model", [&] {
    // Speech encoder: the composite's (fine-tuned) tensors win over the base directory's.
    if (in_composite(kEncoderPrefix)) {
      load_weights(*slm->encoder_, *ckpt, kEncoderPrefix);
    } else if (!config.encoder.is_inline()) {
      load_weights(*slm->encoder_, io::SafetensorsCheckpoint::open(config.encoder.dir));
    } else {
      throw InputError(where, "the encoder is inline in config.json but the weights hold no encoder.* tensors");
    }
    // Language model.
    if (in_composite(kLanguageModelPrefix)) {
      WeightLoadOptions o;
      o.prefix = kLanguageModelPrefix;
      if (config.language_model.config.tie_word_embeddings) {
        o.ignore_prefixes.push_back(std::string(kLanguageModelPrefix) + "lm_head.weight");
      }
      load_weights(*slm->language_model_, *ckpt, o);
    } else if (!config.language_model.is_inline()) {
      slm->language_model_->load_checkpoint(config.language_model.dir);
    } else {
      throw InputError(where,
                       "the language model is inline in config.json but the weights hold no language_model.* tensors");
    }
    // Adapter: only ever in the composite.
    if (in_composite(kAdapterPrefix)) {
      WeightLoadOptions o;
      o.prefix = kAdapterPrefix;
      load_weights(*slm->adapter_, *ckpt, o);
    } else if (!options.allow_untrained_adapter) {
      throw InputError(where,
                       "the weights hold no adapter.* tensors (an untrained adapter; load with "
                       "allow_untrained_adapter to start training from random adapter weights)");
    } else {
      spdlog::warn("{}: no adapter.* tensors; the adapter keeps its random initialisation", where);
    }
    if (slm->encoder_heads_) {
      if (!in_composite(kEncoderHeadsPrefix)) {
        throw InputError(where, "config.json has encoder_heads but the weights hold no encoder_heads.* tensors");
      }
      slm->encoder_heads_->load(*ckpt);
    }
    if (options.int8_language_model) slm->language_model_->quantize_int8();
  });
  slm->eval();
  return slm;
}

void SpokenLanguageModelImpl::save_pretrained(const fs::path& dir, const SlmSaveOptions& options) const {
  with_torch_context("saving the spoken language model", [&] {
    fs::create_directories(dir);
    std::vector<io::TensorToWrite> tensors;
    std::vector<at::Tensor> storage;
    auto add = [&](const torch::nn::Module& m, const std::string& prefix) {
      NamedTensors named = collect_weights(m, options.dtype, prefix);
      for (auto& t : named.tensors) tensors.push_back(std::move(t));
      for (auto& s : named.storage) storage.push_back(std::move(s));
    };
    if (config_.encoder.is_inline() || options.include_path_components) {
      add(*encoder_, std::string(kEncoderPrefix) + "model.encoder.");
    }
    add(*adapter_, kAdapterPrefix);
    if (config_.language_model.is_inline() || options.include_path_components) {
      add(*language_model_, kLanguageModelPrefix);
    }
    if (options.style_head != nullptr) add(*options.style_head, kStyleHeadPrefix);
    if (encoder_heads_) add(*encoder_heads_, kEncoderHeadsPrefix);
    io::write_safetensors(dir / io::kSafetensorsSingleName, std::move(tensors), {{"format", "pt"}});
    io::write_slm_config(dir / "config.json", config_);
    // A file the config names travels with it: the heads' character LM.
    if (config_.encoder_heads && !config_.encoder_heads->ctc_lm.empty() && !source_dir_.empty()) {
      const fs::path from = source_dir_ / config_.encoder_heads->ctc_lm, to = dir / config_.encoder_heads->ctc_lm;
      std::error_code ec;
      if (fs::exists(from) && !fs::equivalent(from, to, ec))
        fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    }
  });
}

// ---- embeddings ---------------------------------------------------------------------------------------

std::vector<torch::Tensor> SpokenLanguageModelImpl::embed_audio(const std::vector<torch::Tensor>& mels,
                                                                EncoderHeadsOutput* heard, const torch::Tensor& prosody,
                                                                bool with_ctc) {
  std::vector<torch::Tensor> out;
  if (mels.empty()) return out;
  // Rows [T_i, C] -> zero-padded [B, max T_i, C] and the lengths [B].
  auto pad = [](const std::vector<torch::Tensor>& rows) {
    const int64_t B = static_cast<int64_t>(rows.size());
    int64_t max_t = 0;
    for (const auto& e : rows) max_t = std::max(max_t, e.size(0));
    auto batch = torch::zeros({B, max_t, rows[0].size(1)}, rows[0].options());
    auto lengths = torch::empty({B}, torch::kInt64);
    for (int64_t b = 0; b < B; ++b) {
      const auto& e = rows[static_cast<size_t>(b)];
      batch[b].slice(0, 0, e.size(0)).copy_(e);
      lengths[b] = e.size(0);
    }
    return std::make_pair(batch, lengths);
  };
  return with_torch_context("spoken language model: embedding audio", [&] {
    const auto [batch, lengths] = pad(encoder_->encode(mels));
    if (heard != nullptr && encoder_heads_) {
      torch::Tensor ctc_hidden;
      if (with_ctc && encoder_heads_->ctc_encoder())
        ctc_hidden = pad(encoder_heads_->ctc_encoder()->encode(mels)).first;
      *heard = encoder_heads_->forward(batch, lengths, with_ctc, prosody, ctc_hidden);
      heard->frames = lengths;
    }
    AdapterOutput adapted = adapter_->forward(batch, lengths);
    const auto dtype = language_model_->dtype();
    for (int64_t b = 0; b < batch.size(0); ++b) {
      const int64_t n = adapted.lengths[b].item<int64_t>();
      out.push_back(adapted.hidden[b].slice(0, 0, n).to(dtype));
    }
    return out;
  });
}

torch::Tensor SpokenLanguageModelImpl::splice(std::span<const int32_t> ids, std::span<const text::AudioSlot> slots,
                                              const std::vector<torch::Tensor>& audio_embeds) {
  const int64_t L = static_cast<int64_t>(ids.size());
  if (L == 0) throw InputError("spoken language model: the prompt has no tokens");
  if (slots.size() != audio_embeds.size()) {
    throw InputError("spoken language model: the prompt has " + std::to_string(slots.size()) +
                     " audio slot run(s) but " + std::to_string(audio_embeds.size()) +
                     " audio input(s) were given (one log-mel per <|AUDIO|> run)");
  }
  int64_t previous_end = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto& s = slots[i];
    const std::string which = "audio slot " + std::to_string(i) + " (message " + std::to_string(s.message) + ")";
    if (s.count < 1 || s.first < previous_end || s.first + s.count > L) {
      throw InputError("spoken language model: " + which + " covers tokens [" + std::to_string(s.first) + ", " +
                       std::to_string(s.first + s.count) + "), which is empty, overlaps the previous slot or lies " +
                       "outside the " + std::to_string(L) + " prompt tokens");
    }
    const int64_t n = audio_embeds[i].size(0);
    if (n != s.count) {
      throw InputError("spoken language model: " + which + " has " + std::to_string(s.count) +
                       " <|AUDIO|> tokens but its audio gives " + std::to_string(n) +
                       " adapter embeddings (render the prompt with text::audio_slot_count(samples, " +
                       std::to_string(config_.adapter.stride) + ") slots for that audio)");
    }
    previous_end = s.first + s.count;
  }
  return with_torch_context("spoken language model: splicing audio into the prompt", [&] {
    auto id_tensor = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kInt64).unsqueeze(0);
    auto text_embeds = language_model_->embed_tokens(id_tensor);  // [1, L, C]
    if (slots.empty()) return text_embeds;
    // Pieces in order: text before slot 0, audio 0, text between, audio 1, ..., text after.
    std::vector<torch::Tensor> pieces;
    int64_t at = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].first > at) pieces.push_back(text_embeds.slice(1, at, slots[i].first));
      pieces.push_back(audio_embeds[i].to(text_embeds.device(), text_embeds.scalar_type()).unsqueeze(0));
      at = slots[i].first + slots[i].count;
    }
    if (at < L) pieces.push_back(text_embeds.slice(1, at, L));
    return torch::cat(pieces, 1);
  });
}

SlmInputs SpokenLanguageModelImpl::prepare(const std::vector<SlmExample>& examples) {
  if (examples.empty()) throw InputError("spoken language model: empty batch");
  // All audio of the batch through encoder and adapter at once.
  std::vector<torch::Tensor> mels;
  for (size_t e = 0; e < examples.size(); ++e) {
    if (examples[e].mels.size() != examples[e].audio_slots.size()) {
      throw InputError("spoken language model: example " + std::to_string(e) + " has " +
                       std::to_string(examples[e].audio_slots.size()) + " audio slot run(s) but " +
                       std::to_string(examples[e].mels.size()) + " log-mel input(s)");
    }
    mels.insert(mels.end(), examples[e].mels.begin(), examples[e].mels.end());
  }
  std::vector<torch::Tensor> audio = embed_audio(mels);
  SlmInputs inputs;
  std::vector<torch::Tensor> rows;
  size_t next = 0;
  for (const auto& ex : examples) {
    std::vector<torch::Tensor> mine(audio.begin() + static_cast<std::ptrdiff_t>(next),
                                    audio.begin() + static_cast<std::ptrdiff_t>(next + ex.mels.size()));
    next += ex.mels.size();
    rows.push_back(splice(ex.ids, ex.audio_slots, mine));
    inputs.lengths.push_back(static_cast<int64_t>(ex.ids.size()));
  }
  const int64_t L = *std::max_element(inputs.lengths.begin(), inputs.lengths.end());
  return with_torch_context("spoken language model: batching", [&] {
    bool padded = false;
    for (auto& r : rows) {
      if (r.size(1) < L) {
        padded = true;
        r = torch::cat({r, torch::zeros({1, L - r.size(1), r.size(2)}, r.options())}, 1);
      }
    }
    inputs.inputs_embeds = torch::cat(rows, 0);
    if (padded) {
      auto mask = torch::zeros({static_cast<int64_t>(rows.size()), L}, torch::kInt64);
      for (size_t b = 0; b < rows.size(); ++b) mask[static_cast<int64_t>(b)].slice(0, 0, inputs.lengths[b]).fill_(1);
      inputs.attention_mask = mask.to(inputs.inputs_embeds.device());
    }
    return inputs;
  });
}

// ---- training and inference ---------------------------------------------------------------------------

ForwardOutput SpokenLanguageModelImpl::forward(const std::vector<SlmExample>& examples, ForwardOptions options) {
  if (options.cache) {
    throw ConfigError("spoken language model: forward() is for whole sequences; use prefill() with a cache");
  }
  SlmInputs inputs = prepare(examples);
  options.attention_mask = inputs.attention_mask;
  return language_model_->forward_embeds(inputs.inputs_embeds, options);
}

KvCache SpokenLanguageModelImpl::make_cache(int64_t capacity) const {
  return language_model_->make_cache(1, std::max<int64_t>(capacity, 1));
}

torch::Tensor SpokenLanguageModelImpl::prefill(const SlmExample& example, KvCache& cache) {
  torch::NoGradGuard no_grad;
  SlmInputs inputs = prepare({example});
  ForwardOptions o;
  o.cache = &cache;
  o.logits_to_keep = 1;
  return language_model_->forward_embeds(inputs.inputs_embeds, o).logits[0][0];
}

torch::Tensor SpokenLanguageModelImpl::decode_step(int32_t token, KvCache& cache) {
  torch::NoGradGuard no_grad;
  ForwardOptions o;
  o.cache = &cache;
  o.logits_to_keep = 1;
  auto ids = torch::full({1, 1}, static_cast<int64_t>(token), torch::kInt64);
  return language_model_->forward(ids, o).logits[0][0];
}

GenerateResult SpokenLanguageModelImpl::generate(const SlmExample& prompt, const GenerateOptions& options,
                                                 const text::Tokenizer* tokenizer) {
  torch::NoGradGuard no_grad;
  SlmInputs inputs = prepare({prompt});
  return model::generate(*language_model_, inputs.inputs_embeds, prompt.ids, options, tokenizer);
}

}  // namespace attune::model
