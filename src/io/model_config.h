// Model configs: Hugging Face `config.json` files (Whisper, Qwen2, Qwen3, Llama) as typed structs,
// and attune's composite config (`"model_type": "attune_slm"`: encoder + adapter + language model +
// speech-style head, each sub-model inline or a `path` to an unmodified HF directory). See docs/model-files.md.
//
//   auto hf = attune::io::load_hf_config("Qwen2.5-0.5B-Instruct");      // a directory or config.json
//   if (auto* lm = hf.language_model()) { lm->hidden_size; lm->qkv_bias; ... }
//   auto slm = attune::io::load_slm_config("models/attune-base");        // composite
//   slm.language_model.dir;  // where that sub-model's weights are (empty when inline)
//
// Defaults are transformers' config-class defaults for keys a file may omit; the keys that set tensor
// shapes are required. Every parse validates and throws ConfigError "FILE: key `K`: what was expected"
// (a missing or non-JSON file is an InputError). Unmodelled keys are kept in `raw` and written back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "affect/emotions.h"

namespace attune::io {

enum class ModelFamily { kWhisper, kQwen2, kQwen3, kLlama };
// "whisper", "qwen2", "qwen3", "llama".
std::string_view family_name(ModelFamily family);

// ---- speech encoder: Whisper ------------------------------------------------------------------

// transformers' WhisperConfig; defaults are its (whisper-tiny sizes). Required keys: d_model,
// encoder_layers, encoder_attention_heads, encoder_ffn_dim, num_mel_bins.
struct WhisperConfig {
  std::string model_type = "whisper";  // also "qwen2_audio_encoder" (same encoder)
  std::vector<std::string> architectures;
  int64_t d_model = 384;
  int64_t encoder_layers = 4;
  int64_t encoder_attention_heads = 6;
  int64_t encoder_ffn_dim = 1536;
  int64_t num_mel_bins = 80;
  int64_t max_source_positions = 1500;  // encoder frames after the stride-2 conv (30 s)
  std::string activation_function = "gelu";
  bool scale_embedding = false;
  double dropout = 0.0;
  double attention_dropout = 0.0;
  double activation_dropout = 0.0;
  // Decoder side, kept so that a Whisper directory round-trips and can be checked.
  int64_t decoder_layers = 4;
  int64_t decoder_attention_heads = 6;
  int64_t decoder_ffn_dim = 1536;
  int64_t max_target_positions = 448;
  int64_t vocab_size = 51865;
  std::string torch_dtype;  // "" when the file does not say
  nlohmann::json raw = nlohmann::json::object();

  int64_t head_dim() const { return d_model / encoder_attention_heads; }
  // Throws ConfigError "SOURCE: key `K`: ..." for the first violated rule.
  void validate(const std::string& source) const;
};

// ---- decoder language models: Qwen2 / Qwen3 / Llama --------------------------------------------

// rope_scaling (or v5 rope_parameters) beyond plain RoPE.
struct RopeScaling {
  std::string rope_type;  // "llama3", "linear", "dynamic", "yarn", ...
  double factor = 1.0;
  // llama3 only:
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  nlohmann::json raw = nlohmann::json::object();  // the object as written
};

// One struct for the Qwen2 family of decoders; `family` selects the defaults and the few switches that
// differ (biases, q/k norm). Required keys: vocab_size, hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads.
struct LanguageModelConfig {
  ModelFamily family = ModelFamily::kQwen2;
  std::string model_type = "qwen2";
  std::vector<std::string> architectures;
  int64_t vocab_size = 151936;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 22016;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // absent or null: num_attention_heads
  int64_t head_dim = 128;            // absent or null: hidden_size / num_attention_heads (Qwen3: 128)
  std::string hidden_act = "silu";
  int64_t max_position_embeddings = 32768;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  bool qkv_bias = true;   // bias on q/k/v: Qwen2 always; Qwen3/Llama `attention_bias` (default false)
  bool o_bias = false;    // bias on o_proj: Qwen2 never; Qwen3/Llama `attention_bias`
  bool mlp_bias = false;  // Llama `mlp_bias`; Qwen never
  bool qk_norm = false;   // RMSNorm on each head of q and k: Qwen3
  bool tie_word_embeddings = false;
  bool use_sliding_window = false;
  std::optional<int64_t> sliding_window;
  int64_t max_window_layers = 28;
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> pad_token_id;
  std::vector<int64_t> eos_token_ids;  // eos_token_id: one id or a list
  std::string torch_dtype;
  double initializer_range = 0.02;
  nlohmann::json raw = nlohmann::json::object();

  void validate(const std::string& source) const;
};

// The transformers defaults of one family (Qwen2Config, Qwen3Config, LlamaConfig).
LanguageModelConfig language_model_defaults(ModelFamily family);

// Parameters implied by the config (embeddings, layers, final norm, lm_head unless tied).
uint64_t expected_parameter_count(const LanguageModelConfig& config);
// Parameters of the Whisper encoder alone (convs, positions, layers, final norm).
uint64_t expected_encoder_parameter_count(const WhisperConfig& config);

// ---- one HF config.json -----------------------------------------------------------------------

struct HfConfig {
  std::variant<WhisperConfig, LanguageModelConfig> model;

  ModelFamily family() const;
  const WhisperConfig* whisper() const { return std::get_if<WhisperConfig>(&model); }
  const LanguageModelConfig* language_model() const { return std::get_if<LanguageModelConfig>(&model); }
};

// Reads a JSON file; InputError when it is missing, not a file or not JSON.
nlohmann::json read_json_file(const std::filesystem::path& path);

// The family named by `model_type`, else by `architectures[0]`; nullopt when neither is known.
std::optional<ModelFamily> detect_family(const nlohmann::json& config);

// `source` names the file (or a key path inside one) in error messages.
WhisperConfig parse_whisper_config(const nlohmann::json& config, const std::string& source);
LanguageModelConfig parse_language_model_config(const nlohmann::json& config, const std::string& source);
HfConfig parse_hf_config(const nlohmann::json& config, const std::string& source);
// `path`: a config.json or a directory holding one.
HfConfig load_hf_config(const std::filesystem::path& path);

// Back to config.json form: `raw` with every modelled key set from the struct.
nlohmann::json to_json(const WhisperConfig& config);
nlohmann::json to_json(const LanguageModelConfig& config);
nlohmann::json to_json(const HfConfig& config);
// Writes pretty JSON atomically.
void write_hf_config(const std::filesystem::path& path, const HfConfig& config);

// One-line description, e.g. "qwen2: 24 layers, hidden 896, 14 heads (2 kv, head_dim 64), ffn 4864, vocab 151936".
std::string summary(const WhisperConfig& config);
std::string summary(const LanguageModelConfig& config);

// ---- attune's composite config ----------------------------------------------------------------

inline constexpr const char* kSlmModelType = "attune_slm";
inline constexpr int kSlmFormatVersion = 1;

// Speech-encoder frames -> LLM embeddings. Sizes left at 0 in a file are filled from the encoder and
// language model when the config is parsed.
struct AdapterConfig {
  std::string type = "concat_mlp";  // "concat_mlp": stack `stride` frames, then an MLP; "conv": strided conv + MLP
  int64_t stride = 4;               // encoder frames per LLM position (50 Hz / 4 = 12.5 Hz)
  int64_t num_layers = 2;           // linear layers of the MLP
  int64_t input_size = 0;           // = encoder d_model
  int64_t hidden_size = 0;          // 0: output_size
  int64_t output_size = 0;          // = language model hidden_size
  std::string activation = "gelu";
};

// The speech-style head on top of the language model, and the TTS back end that renders it.
struct StyleHeadConfig {
  std::string backend = "espeak-ng";  // "espeak-ng" or "none"
  int64_t input_size = 0;             // = language model hidden_size
  int64_t hidden_size = 256;
  int64_t num_layers = 2;
  // Classification over emotions, regression over style attributes.
  std::vector<std::string> emotions = affect::emotion_labels();  // the order of the head's outputs
  std::vector<std::string> style_attributes = {"intensity", "pitch", "pace", "energy"};
};

// Direct heads on the speech encoder, trained by the encoder pre-training stage (docs/training.md):
// per-frame CTC over characters and an utterance emotion head over pooled frames. The runtime can
// report the head's posterior as the heard emotion and pass it to the thinking as evidence.
struct EncoderHeadsConfig {
  int64_t input_size = 0;  // = encoder d_model
  int64_t hidden_size = 256;
  std::vector<std::string> emotions = affect::emotion_labels();  // the order of the head's outputs
  // CTC output i + 1 is ctc_alphabet[i] (one UTF-8 character each); output 0 is the blank.
  std::vector<std::string> ctc_alphabet;
  // Utterance prosody functionals (audio::prosody_feature_names) the emotion head reads beside the
  // pooled states, standardised by the stored encoder_heads.prosody_mean / prosody_std; empty: none.
  std::vector<std::string> prosody_features;
  // Where the runtime takes the heard emotion from: "head" or "thinking" (the better calibrated on
  // valid, chosen when the model is built).
  std::string heard_from = "head";
  // Weight of the head's log-posterior added to the logits of the thinking's emotion word (the
  // decode-time evidence path); 0: the thinking gets no evidence from the head.
  double evidence_weight = 0;
  // A second classifier over the prosody functionals alone (hidden units; 0: none). The heard emotion
  // is then (1 - w) log p_head + w log p_prosody, w = prosody_expert_weight: the head, which also
  // hears the words, is outvoted where neutral words are spoken in an emotional voice.
  int64_t prosody_expert_hidden = 0;
  double prosody_expert_weight = 0;
  // Whether the language model reads the CTC words beside the audio of a spoken turn (it was trained
  // on transcribed builds, `attune data transcribe`); needs ctc_alphabet.
  bool words_in_prompt = false;
  // Transformer blocks (the encoder's own kind, d_model wide) between the encoder states and the CTC
  // projection, for transcription alone: they give the spelling context that one linear layer over
  // a shared encoder lacks, without changing what the language model hears. 0: the projection
  // reads the encoder states directly.
  int64_t ctc_layers = 0;
  // Whether transcription reads a speech encoder of its own (the shared encoder's shape, tensors
  // encoder_heads.ctc_encoder.*) instead of the shared states: it can then be trained for words
  // alone, started as a copy of the shared encoder, while what the language model and the emotion
  // head hear stays as it was.
  bool ctc_encoder = false;
  // A character language model (an ARPA file in the model directory, text/char_lm.h) the runtime
  // decodes the CTC words with, by prefix beam search (text/ctc_beam.h): score = ln p_ctc +
  // ctc_lm_weight ln p_lm + ctc_lm_bonus per character, ctc_beam prefixes kept. "": greedy decoding.
  std::string ctc_lm;
  double ctc_lm_weight = 0.8;  // tuned on the voiced valid build (docs/data.md, "Character LM")
  double ctc_lm_bonus = 2.0;
  int64_t ctc_beam = 16;
};

// How the thinking's cause quotes pick their source (runtime::QuoteCopy): source_prior[a] is the
// probability that a quote copies the user turn a turns back (0: the current one; the last entry
// stands for all older ones), measured on the training traces (`attune data stats`, "quote
// sources"). The decoder adds prior_weight x ln source_prior to each token a quote continues.
// length_hazard[i] is the probability that a quote of i + 2 words ends there once it reached them
// (the last entry: all longer); where a quote may close, closing gains prior_weight x ln hazard and
// going on prior_weight x ln (1 - hazard). Empty lists or weight 0: no prior (the language model
// alone picks the source and the end).
struct QuotesConfig {
  std::vector<double> source_prior;
  std::vector<double> length_hazard;
  double prior_weight = 0;
  bool empty() const { return source_prior.empty() && length_hazard.empty() && prior_weight == 0; }
};

// A sub-model: its config, and where it came from when given by `path`.
template <typename Config>
struct SlmComponent {
  Config config;
  std::string path;           // as written in the file; "" when inline
  std::filesystem::path dir;  // `path` resolved against the config's directory; empty when inline
  bool is_inline() const { return path.empty(); }
};

struct SlmConfig {
  int format_version = kSlmFormatVersion;
  SlmComponent<WhisperConfig> encoder;
  AdapterConfig adapter;
  SlmComponent<LanguageModelConfig> language_model;
  StyleHeadConfig style_head;                       // config.json "style_head" (legacy: "talker")
  std::optional<EncoderHeadsConfig> encoder_heads;  // "encoder_heads" in the file; none: no heads
  QuotesConfig quotes;                              // "quotes" in the file; absent: no source prior
  std::optional<std::string> torch_dtype;

  // Sizes and cross-component rules (adapter sizes vs encoder/LM, style-head input vs LM, ...).
  void validate(const std::string& source) const;
};

// True when `config` has "model_type": "attune_slm".
bool is_slm_config(const nlohmann::json& config);
// Relative `path`s are resolved against `base_dir` (the config file's directory).
SlmConfig parse_slm_config(const nlohmann::json& config, const std::string& source,
                           const std::filesystem::path& base_dir);
// `path`: a config.json or a directory holding one.
SlmConfig load_slm_config(const std::filesystem::path& path);
// `base_dir`: the directory the JSON will live in; component paths are written relative to it.
nlohmann::json to_json(const SlmConfig& config, const std::filesystem::path& base_dir);
// Writes atomically; component paths are rewritten relative to path's directory.
void write_slm_config(const std::filesystem::path& path, const SlmConfig& config);

}  // namespace attune::io
