#include "model/speech_encoder.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>

#include <cmath>
#include <sstream>

#include "attune/error.h"
#include "audio/log_mel.h"
#include "io/safetensors.h"
#include "model/torch_error.h"
#include "model/weights.h"

namespace attune::model {
namespace F = torch::nn::functional;

namespace {

constexpr double kMelFramesPerSecond = 100.0;  // 16 kHz, hop 160

std::string shape_string(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

}  // namespace

// ---- building blocks ------------------------------------------------------------------------------

torch::Tensor activation(std::string_view name, const torch::Tensor& x) {
  if (name == "gelu") return at::gelu(x);
  if (name == "gelu_new" || name == "gelu_fast" || name == "gelu_pytorch_tanh") {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); torch 1.13 has gelu(approximate="tanh").
    return at::gelu(x, "tanh");
  }
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);
  if (name == "relu") return torch::relu(x);
  if (name == "silu" || name == "swish") return torch::silu(x);
  if (name == "tanh") return torch::tanh(x);
  throw ConfigError("unknown activation \"" + std::string(name) + "\"");
}

void check_activation(std::string_view name, const std::string& key) {
  for (const char* known :
       {"gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "quick_gelu", "relu", "silu", "swish", "tanh"}) {
    if (name == known) return;
  }
  throw ConfigError(key + ": unknown activation \"" + std::string(name) +
                    "\" (expected gelu, gelu_new, gelu_fast, gelu_pytorch_tanh, quick_gelu, relu, silu, swish or "
                    "tanh)");
}

torch::Tensor whisper_sinusoids(int64_t length, int64_t channels) {
  if (channels % 2 != 0 || channels < 4) {
    throw ConfigError("sinusoidal positions need an even number of channels >= 4, got " + std::to_string(channels));
  }
  const int64_t half = channels / 2;
  // Computed in double, as the table is a constant: log_timescale_increment = log(10000) / (half - 1).
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto inv_timescales = torch::exp(torch::arange(half, opts) * (-std::log(10000.0) / static_cast<double>(half - 1)));
  auto scaled = torch::arange(length, opts).unsqueeze(1) * inv_timescales.unsqueeze(0);
  return torch::cat({torch::sin(scaled), torch::cos(scaled)}, 1).to(torch::kFloat32);
}

torch::Tensor padding_mask(const torch::Tensor& lengths, int64_t frames, torch::ScalarType dtype) {
  if (!lengths.defined()) return {};
  if (lengths.min().item<int64_t>() >= frames) return {};
  auto positions = torch::arange(frames, lengths.options());
  auto padded = positions.unsqueeze(0) >= lengths.unsqueeze(1);  // [B, T]
  auto mask = torch::zeros(padded.sizes(), torch::TensorOptions().dtype(dtype).device(lengths.device()));
  mask.masked_fill_(padded, -std::numeric_limits<double>::infinity());
  return mask.view({lengths.size(0), 1, 1, frames});
}

namespace {

// Whisper's initialisation (WhisperPreTrainedModel._init_weights with init_std 0.02).
void init_linear(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.named_parameters(/*recurse=*/false)) {
    if (p.key() == "weight") torch::nn::init::normal_(p.value(), 0.0, 0.02);
    if (p.key() == "bias") torch::nn::init::zeros_(p.value());
  }
}

}  // namespace

SelfAttentionImpl::SelfAttentionImpl(int64_t embed_dim_, int64_t num_heads_, double dropout_)
    : embed_dim(embed_dim_), num_heads(num_heads_), head_dim(embed_dim_ / num_heads_), dropout(dropout_) {
  if (num_heads <= 0 || embed_dim % num_heads != 0) {
    throw ConfigError("attention: embed_dim " + std::to_string(embed_dim) + " is not divisible by " +
                      std::to_string(num_heads) + " heads");
  }
  q_proj = register_module("q_proj", torch::nn::Linear(torch::nn::LinearOptions(embed_dim, embed_dim)));
  k_proj = register_module("k_proj", torch::nn::Linear(torch::nn::LinearOptions(embed_dim, embed_dim).bias(false)));
  v_proj = register_module("v_proj", torch::nn::Linear(torch::nn::LinearOptions(embed_dim, embed_dim)));
  out_proj = register_module("out_proj", torch::nn::Linear(torch::nn::LinearOptions(embed_dim, embed_dim)));
  for (auto* l : {&q_proj, &k_proj, &v_proj, &out_proj}) init_linear(**l);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t B = x.size(0), T = x.size(1);
  const double scaling = 1.0 / std::sqrt(static_cast<double>(head_dim));
  // [B, T, C] -> [B, H, T, D]
  auto q = (q_proj(x) * scaling).view({B, T, num_heads, head_dim}).transpose(1, 2);
  auto k = k_proj(x).view({B, T, num_heads, head_dim}).transpose(1, 2);
  auto v = v_proj(x).view({B, T, num_heads, head_dim}).transpose(1, 2);
  auto scores = torch::matmul(q, k.transpose(-2, -1));  // [B, H, T, T]
  if (mask.defined()) scores = scores + mask;
  auto weights = torch::softmax(scores.to(torch::kFloat32), -1).to(x.scalar_type());
  if (dropout > 0 && is_training()) weights = F::dropout(weights, F::DropoutFuncOptions().p(dropout).training(true));
  auto out = torch::matmul(weights, v).transpose(1, 2).reshape({B, T, embed_dim});
  return out_proj(out);
}

EncoderLayerImpl::EncoderLayerImpl(const EncoderLayerOptions& o) : options(o) {
  check_activation(o.activation, "activation");
  if (o.ffn_dim <= 0) throw ConfigError("encoder layer: ffn_dim must be positive, got " + std::to_string(o.ffn_dim));
  self_attn = register_module("self_attn", SelfAttention(o.embed_dim, o.num_heads, o.attention_dropout));
  self_attn_layer_norm = register_module(
      "self_attn_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embed_dim}).eps(o.layer_norm_eps)));
  fc1 = register_module("fc1", torch::nn::Linear(o.embed_dim, o.ffn_dim));
  fc2 = register_module("fc2", torch::nn::Linear(o.ffn_dim, o.embed_dim));
  final_layer_norm = register_module(
      "final_layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embed_dim}).eps(o.layer_norm_eps)));
  init_linear(*fc1);
  init_linear(*fc2);
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const bool train = is_training();
  auto drop = [&](const torch::Tensor& t, double p) {
    return (p > 0 && train) ? F::dropout(t, F::DropoutFuncOptions().p(p).training(true)) : t;
  };
  auto h = x + drop(self_attn(self_attn_layer_norm(x), mask), options.dropout);
  auto f = drop(activation(options.activation, fc1(final_layer_norm(h))), options.activation_dropout);
  return h + drop(fc2(f), options.dropout);
}

// ---- the encoder ----------------------------------------------------------------------------------

SpeechEncoderImpl::SpeechEncoderImpl(io::WhisperConfig config, SpeechEncoderOptions options)
    : config_(std::move(config)), options_(options) {
  config_.validate("speech encoder config");
  if (config_.max_source_positions <= 0) {
    throw ConfigError("speech encoder config: key `max_source_positions`: expected a positive integer, got " +
                      std::to_string(config_.max_source_positions));
  }
  if (config_.d_model % 2 != 0 || config_.d_model < 4) {
    throw ConfigError("speech encoder config: key `d_model`: sinusoidal positions need an even d_model >= 4, got " +
                      std::to_string(config_.d_model));
  }
  if (options_.max_audio_seconds < 0) {
    throw ConfigError("speech encoder option max_audio_seconds: expected 0 (no limit) or a positive number, got " +
                      std::to_string(options_.max_audio_seconds));
  }
  const int64_t C = config_.d_model;
  conv1 = register_module("conv1", torch::nn::Conv1d(torch::nn::Conv1dOptions(config_.num_mel_bins, C, 3).padding(1)));
  conv2 = register_module("conv2", torch::nn::Conv1d(torch::nn::Conv1dOptions(C, C, 3).stride(2).padding(1)));
  init_linear(*conv1);
  init_linear(*conv2);
  embed_positions = register_module("embed_positions", torch::nn::Embedding(config_.max_source_positions, C));
  {
    torch::NoGradGuard no_grad;
    embed_positions->weight.copy_(whisper_sinusoids(config_.max_source_positions, C));
    embed_positions->weight.set_requires_grad(false);  // Whisper keeps the table fixed
  }
  layers = register_module("layers", torch::nn::ModuleList());
  EncoderLayerOptions lo;
  lo.embed_dim = C;
  lo.num_heads = config_.encoder_attention_heads;
  lo.ffn_dim = config_.encoder_ffn_dim;
  lo.activation = config_.activation_function;
  lo.dropout = config_.dropout;
  lo.attention_dropout = config_.attention_dropout;
  lo.activation_dropout = config_.activation_dropout;
  for (int64_t i = 0; i < config_.encoder_layers; ++i) layers->push_back(EncoderLayer(lo));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({C}).eps(1e-5)));
}

void SpeechEncoderImpl::check_input(int64_t mel_bins, int64_t frames) const {
  if (mel_bins != config_.num_mel_bins) {
    throw InputError("speech encoder: the log-mel input has " + std::to_string(mel_bins) +
                     " mel bins but the encoder's num_mel_bins is " + std::to_string(config_.num_mel_bins) +
                     " (compute the features with n_mels = " + std::to_string(config_.num_mel_bins) + ")");
  }
  if (frames < 1) throw InputError("speech encoder: the log-mel input has no frames (empty audio)");
  const double seconds = static_cast<double>(frames) / kMelFramesPerSecond;
  if (!options_.allow_long_input && frames > window_frames()) {
    throw InputError("speech encoder: the input has " + std::to_string(frames) + " mel frames (" +
                     std::to_string(seconds) + " s) but at most " + std::to_string(window_frames()) +
                     " fit one window (2 x max_source_positions " + std::to_string(config_.max_source_positions) +
                     ") and option allow_long_input is off");
  }
  if (options_.max_audio_seconds > 0 && seconds > options_.max_audio_seconds) {
    throw InputError("speech encoder: the input is " + std::to_string(seconds) + " s long (" + std::to_string(frames) +
                     " mel frames) but option max_audio_seconds allows at most " +
                     std::to_string(options_.max_audio_seconds) + " s");
  }
}

torch::Tensor SpeechEncoderImpl::encode_windows(const torch::Tensor& x, const torch::Tensor& lengths) {
  // x [N, M, W], lengths [N] int64 (<= W).
  const int64_t W = x.size(2);
  const bool full = lengths.min().item<int64_t>() >= W;
  auto h = at::gelu(conv1(x));  // [N, C, W]
  if (!full) {
    // Frames past a row's length must look like conv2's zero padding, as when the row is alone.
    auto keep = (torch::arange(W, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1)).to(h.scalar_type());
    h = h * keep.unsqueeze(1);
  }
  h = at::gelu(conv2(h)).transpose(1, 2);  // [N, T', C]
  const int64_t Tp = h.size(1);
  h = h + embed_positions->weight.slice(0, 0, Tp).unsqueeze(0);
  if (config_.dropout > 0 && is_training()) {
    h = F::dropout(h, F::DropoutFuncOptions().p(config_.dropout).training(true));
  }
  auto out_lengths = (lengths + 1).div(2, "floor");
  auto mask = full ? torch::Tensor() : padding_mask(out_lengths, Tp, h.scalar_type());
  for (const auto& layer : *layers) h = layer->as<EncoderLayer>()->forward(h, mask);
  h = layer_norm(h);
  if (!full) {
    auto keep = (torch::arange(Tp, lengths.options()).unsqueeze(0) < out_lengths.unsqueeze(1)).to(h.scalar_type());
    h = h * keep.unsqueeze(2);
  }
  return h;
}

EncoderOutput SpeechEncoderImpl::forward(const torch::Tensor& mel_in, const torch::Tensor& lengths_in) {
  return with_torch_context("speech encoder", [&]() -> EncoderOutput {
    if (!mel_in.defined() || (mel_in.dim() != 2 && mel_in.dim() != 3)) {
      throw InputError("speech encoder: expected a log-mel tensor [batch, n_mels, frames] or [n_mels, frames], got " +
                       (mel_in.defined() ? shape_string(mel_in) : std::string("an undefined tensor")));
    }
    const auto& weight = conv1->weight;
    auto mel = (mel_in.dim() == 2 ? mel_in.unsqueeze(0) : mel_in).to(weight.device(), weight.scalar_type());
    const int64_t B = mel.size(0), T = mel.size(2);
    if (B < 1) throw InputError("speech encoder: empty batch");
    torch::Tensor lengths;
    if (lengths_in.defined()) {
      if (lengths_in.dim() != 1 || lengths_in.size(0) != B) {
        throw InputError("speech encoder: lengths must be [" + std::to_string(B) + "], got " +
                         shape_string(lengths_in));
      }
      lengths = lengths_in.to(torch::kCPU, torch::kInt64);
      const int64_t lo = lengths.min().item<int64_t>(), hi = lengths.max().item<int64_t>();
      if (lo < 1 || hi > T) {
        throw InputError("speech encoder: lengths must be in [1, " + std::to_string(T) + "] mel frames, got " +
                         std::to_string(lo < 1 ? lo : hi));
      }
    } else {
      lengths = torch::full({B}, T, torch::kInt64);
    }
    check_input(mel.size(1), lengths.max().item<int64_t>());

    const int64_t W = window_frames();
    const int64_t Tp = output_frames(T);
    auto out_lengths = (lengths + 1).div(2, "floor");
    if (T <= W) {
      auto h = encode_windows(mel, lengths.to(weight.device()));
      return {h, out_lengths};
    }
    // Cut every row into windows of W mel frames, encode all windows as one batch, put them back.
    struct Piece {
      int64_t row, start, length;
    };
    std::vector<Piece> pieces;
    auto len_acc = lengths.accessor<int64_t, 1>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t s = 0; s < len_acc[b]; s += W) pieces.push_back({b, s, std::min(W, len_acc[b] - s)});
    }
    const int64_t N = static_cast<int64_t>(pieces.size());
    auto windows = torch::zeros({N, mel.size(1), W}, mel.options());
    auto piece_lengths = torch::empty({N}, torch::kInt64);
    for (int64_t i = 0; i < N; ++i) {
      const auto& p = pieces[static_cast<size_t>(i)];
      windows[i].slice(1, 0, p.length).copy_(mel[p.row].slice(1, p.start, p.start + p.length));
      piece_lengths[i] = p.length;
    }
    auto encoded = encode_windows(windows, piece_lengths.to(weight.device()));  // [N, W/2, C]
    auto hidden = torch::zeros({B, Tp, config_.d_model}, encoded.options());
    for (int64_t i = 0; i < N; ++i) {
      const auto& p = pieces[static_cast<size_t>(i)];
      const int64_t n = output_frames(p.length), at = p.start / 2;
      hidden[p.row].slice(0, at, at + n).copy_(encoded[i].slice(0, 0, n));
    }
    return {hidden, out_lengths};
  });
}

torch::Tensor SpeechEncoderImpl::encode(const torch::Tensor& mel) {
  if (!mel.defined() || mel.dim() != 2) {
    throw InputError("speech encoder: encode() expects one log-mel [n_mels, frames], got " +
                     (mel.defined() ? shape_string(mel) : std::string("an undefined tensor")));
  }
  return forward(mel).hidden[0];
}

torch::Tensor SpeechEncoderImpl::encode(const audio::LogMel& mel) {
  if (mel.data.size() != static_cast<size_t>(mel.n_mels) * static_cast<size_t>(mel.frames)) {
    throw InputError("speech encoder: log-mel data holds " + std::to_string(mel.data.size()) + " values, not n_mels " +
                     std::to_string(mel.n_mels) + " x frames " + std::to_string(mel.frames));
  }
  check_input(mel.n_mels, mel.frames);
  auto t = torch::from_blob(const_cast<float*>(mel.data.data()), {mel.n_mels, mel.frames}, torch::kFloat32);
  return encode(t);
}

std::vector<torch::Tensor> SpeechEncoderImpl::encode(const std::vector<torch::Tensor>& mels) {
  std::vector<torch::Tensor> out;
  if (mels.empty()) return out;
  int64_t max_t = 0;
  for (size_t i = 0; i < mels.size(); ++i) {
    if (!mels[i].defined() || mels[i].dim() != 2) {
      throw InputError("speech encoder: input " + std::to_string(i) + " must be a log-mel [n_mels, frames], got " +
                       (mels[i].defined() ? shape_string(mels[i]) : std::string("an undefined tensor")));
    }
    check_input(mels[i].size(0), mels[i].size(1));
    max_t = std::max(max_t, mels[i].size(1));
  }
  const int64_t B = static_cast<int64_t>(mels.size());
  auto batch = torch::zeros({B, config_.num_mel_bins, max_t}, torch::TensorOptions().dtype(torch::kFloat32));
  auto lengths = torch::empty({B}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    const auto& m = mels[static_cast<size_t>(b)];
    batch[b].slice(1, 0, m.size(1)).copy_(m.to(torch::kCPU, torch::kFloat32));
    lengths[b] = m.size(1);
  }
  auto result = forward(batch, lengths);
  for (int64_t b = 0; b < B; ++b) {
    out.push_back(result.hidden[b].slice(0, 0, output_frames(mels[static_cast<size_t>(b)].size(1))));
  }
  return out;
}

// ---- weights --------------------------------------------------------------------------------------

std::string find_encoder_prefix(const io::SafetensorsCheckpoint& checkpoint, const std::string& outer) {
  const std::vector<std::string> candidates = {outer + "model.encoder.", outer + "encoder.", outer};
  for (const auto& prefix : candidates) {
    if (checkpoint.contains(prefix + "conv1.weight")) return prefix;
  }
  std::string tried;
  for (const auto& prefix : candidates) tried += (tried.empty() ? "" : ", ") + ("\"" + prefix + "conv1.weight\"");
  std::string where = checkpoint.files().empty() ? std::string("checkpoint") : checkpoint.files()[0].path().string();
  throw InputError(where, "no Whisper encoder tensors found (looked for " + tried + ")");
}

void load_weights(SpeechEncoderImpl& encoder, const io::SafetensorsCheckpoint& checkpoint, const std::string& outer) {
  WeightLoadOptions options;
  options.prefix = find_encoder_prefix(checkpoint, outer);
  // The rest of a full Whisper checkpoint (decoder, output projection) is not the encoder's.
  if (options.prefix == outer + "model.encoder.") {
    options.ignore_prefixes = {outer + "model.decoder.", outer + "proj_out."};
  } else if (options.prefix == outer + "encoder.") {
    options.ignore_prefixes = {outer + "decoder.", outer + "proj_out."};
  }
  with_torch_context("loading speech encoder weights",
                     [&] { load_weights(static_cast<torch::nn::Module&>(encoder), checkpoint, options); });
}

}  // namespace attune::model
