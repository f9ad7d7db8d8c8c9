#!/usr/bin/python3
"""Writes the speech-encoder and adapter reference fixtures, computed independently of attune (numpy,
float64, the published formulas; no torch):

  tests/fixtures/whisper_tiny_random/config.json         an HF Whisper config (d_model 32, 2 layers, 4 heads)
  tests/fixtures/whisper_tiny_random/model.safetensors   random weights under HF names (model.encoder.*, F16,
                                                         as the hub's Whisper checkpoints are), plus one decoder
                                                         tensor that a loader must ignore
  tests/fixtures/encoder_reference.safetensors           inputs (F16) and expected outputs (F32):
      mel_short [80, 37]  -> hidden_short [19, 32]   (shorter than a window: unpadded, positions 0..18)
      mel_long [80, 200]  -> hidden_long [100, 32]   (windows of 2 x max_source_positions = 96 mel frames:
                                                      96 + 96 + 8 -> 48 + 48 + 4, concatenated)
      adapter_conv.* weights; adapter_conv_short [5, 40], adapter_conv_long [25, 40]
          ("conv": stride 4 = two Conv1d(k=3, stride 2, padding 1) + GELU, 1 transformer layer of width 48
          with 3 heads, LayerNorm, Linear 48 -> 40), applied to hidden_short / hidden_long
      adapter_mlp.* weights; adapter_mlp_short [5, 40], adapter_mlp_long [25, 40]
          ("concat_mlp": stack 4 frames, zero-padded -> Linear 128 -> 48, GELU, Linear 48 -> 40)

Formulas (Whisper, Radford et al. 2022; transformers' WhisperEncoder):
  x = gelu(conv1(mel)); x = gelu(conv2(x)); x = x^T + sinusoids[:T']
  per layer: x += out_proj(softmax(q k^T / sqrt(D)) v) with q, k, v from LayerNorm(x) (k without bias)
             x += fc2(gelu(fc1(LayerNorm(x))))
  x = LayerNorm(x);   gelu(x) = x/2 (1 + erf(x / sqrt 2));   LayerNorm eps 1e-5, biased variance.
  sinusoids[t, i] = sin(t * exp(-i log(10000) / (C/2 - 1))), sinusoids[t, C/2 + i] = cos(...), i < C/2.

The safetensors files are written by the small writer below (8-byte header length, JSON header, packed
little-endian data), not by the safetensors package. Needs only Debian's python3-numpy:

    /usr/bin/python3 tests/model/make_encoder_reference.py
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")

N_MELS, D, HEADS, FFN, LAYERS, MAX_POS = 80, 32, 4, 64, 2, 48
A_HIDDEN, A_OUT, A_STRIDE, A_HEADS = 48, 40, 4, 3

rng = np.random.default_rng(20260108)


def f16(a):
    """Rounds to float16 (what the file stores) and back to float64 (what the reference computes with)."""
    return np.asarray(a, dtype=np.float16).astype(np.float64)


def write_safetensors(path, tensors):
    """tensors: list of (name, array, dtype in {"F16", "F32"})."""
    header, blobs, offset = {}, [], 0
    for name, array, dtype in tensors:
        data = np.ascontiguousarray(array, dtype="<f2" if dtype == "F16" else "<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def conv1d(x, w, b, stride, padding):
    """x [C_in, T], w [C_out, C_in, K] -> [C_out, T_out], zero padding on both sides."""
    c_in, t = x.shape
    k = w.shape[2]
    xp = np.concatenate([np.zeros((c_in, padding)), x, np.zeros((c_in, padding))], axis=1)
    t_out = (t + 2 * padding - k) // stride + 1
    out = np.empty((w.shape[0], t_out))
    for j in range(t_out):
        patch = xp[:, j * stride : j * stride + k]  # [C_in, K]
        out[:, j] = np.einsum("oik,ik->o", w, patch) + b
    return out


def sinusoids(length, channels):
    inc = math.log(10000.0) / (channels // 2 - 1)
    inv = np.exp(-inc * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1)


def attention(x, p, heads):
    t, c = x.shape
    d = c // heads
    q = (x @ p["q_proj.weight"].T + p["q_proj.bias"]) * d**-0.5
    k = x @ p["k_proj.weight"].T
    v = x @ p["v_proj.weight"].T + p["v_proj.bias"]
    out = np.empty((t, c))
    for h in range(heads):
        s = slice(h * d, (h + 1) * d)
        scores = q[:, s] @ k[:, s].T
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        out[:, s] = (e / e.sum(axis=1, keepdims=True)) @ v[:, s]
    return out @ p["out_proj.weight"].T + p["out_proj.bias"]


def encoder_layer(x, p, heads):
    a = {k[len("self_attn.") :]: v for k, v in p.items() if k.startswith("self_attn.")}
    x = x + attention(layer_norm(x, p["self_attn_layer_norm.weight"], p["self_attn_layer_norm.bias"]), a, heads)
    h = layer_norm(x, p["final_layer_norm.weight"], p["final_layer_norm.bias"])
    h = gelu(h @ p["fc1.weight"].T + p["fc1.bias"])
    return x + h @ p["fc2.weight"].T + p["fc2.bias"]


def layer_params(prefix, c, ffn):
    """Random weights of one transformer block, as f16-representable float64 arrays."""
    s = 1.0 / math.sqrt(c)
    p = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        p[f"self_attn.{name}.weight"] = f16(rng.normal(0, s, (c, c)))
        if name != "k_proj":
            p[f"self_attn.{name}.bias"] = f16(rng.normal(0, 0.1, c))
    for ln in ("self_attn_layer_norm", "final_layer_norm"):
        p[f"{ln}.weight"] = f16(1 + rng.normal(0, 0.1, c))
        p[f"{ln}.bias"] = f16(rng.normal(0, 0.1, c))
    p["fc1.weight"] = f16(rng.normal(0, s, (ffn, c)))
    p["fc1.bias"] = f16(rng.normal(0, 0.1, ffn))
    p["fc2.weight"] = f16(rng.normal(0, 1.0 / math.sqrt(ffn), (c, ffn)))
    p["fc2.bias"] = f16(rng.normal(0, 0.1, c))
    return {prefix + k: v for k, v in p.items()}


def sub(params, prefix):
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


# ---- the Whisper encoder ---------------------------------------------------------------------------

enc = {
    "conv1.weight": f16(rng.normal(0, 1 / math.sqrt(3 * N_MELS), (D, N_MELS, 3))),
    "conv1.bias": f16(rng.normal(0, 0.1, D)),
    "conv2.weight": f16(rng.normal(0, 1 / math.sqrt(3 * D), (D, D, 3))),
    "conv2.bias": f16(rng.normal(0, 0.1, D)),
    "embed_positions.weight": f16(sinusoids(MAX_POS, D)),
    "layer_norm.weight": f16(1 + rng.normal(0, 0.1, D)),
    "layer_norm.bias": f16(rng.normal(0, 0.1, D)),
}
for i in range(LAYERS):
    enc.update(layer_params(f"layers.{i}.", D, FFN))


def encode_window(mel):
    x = gelu(conv1d(mel, enc["conv1.weight"], enc["conv1.bias"], 1, 1))
    x = gelu(conv1d(x, enc["conv2.weight"], enc["conv2.bias"], 2, 1)).T  # [T', C]
    x = x + enc["embed_positions.weight"][: x.shape[0]]
    for i in range(LAYERS):
        x = encoder_layer(x, sub(enc, f"layers.{i}."), HEADS)
    return layer_norm(x, enc["layer_norm.weight"], enc["layer_norm.bias"])


def encode(mel):
    window = 2 * MAX_POS
    return np.concatenate([encode_window(mel[:, s : s + window]) for s in range(0, mel.shape[1], window)], axis=0)


mel_short = f16(rng.uniform(-1.0, 1.5, (N_MELS, 37)))
mel_long = f16(rng.uniform(-1.0, 1.5, (N_MELS, 200)))
hidden_short = encode(mel_short)
hidden_long = encode(mel_long)
assert hidden_short.shape == (19, D) and hidden_long.shape == (100, D)

# ---- adapters (applied to the float32-rounded encoder outputs, as the C++ test feeds them) ----------

conv_params = {
    "subsample.0.weight": f16(rng.normal(0, 1 / math.sqrt(3 * D), (A_HIDDEN, D, 3))),
    "subsample.0.bias": f16(rng.normal(0, 0.1, A_HIDDEN)),
    "subsample.1.weight": f16(rng.normal(0, 1 / math.sqrt(3 * A_HIDDEN), (A_HIDDEN, A_HIDDEN, 3))),
    "subsample.1.bias": f16(rng.normal(0, 0.1, A_HIDDEN)),
    "layer_norm.weight": f16(1 + rng.normal(0, 0.1, A_HIDDEN)),
    "layer_norm.bias": f16(rng.normal(0, 0.1, A_HIDDEN)),
    "proj.weight": f16(rng.normal(0, 1 / math.sqrt(A_HIDDEN), (A_OUT, A_HIDDEN))),
    "proj.bias": f16(rng.normal(0, 0.1, A_OUT)),
}
conv_params.update(layer_params("layers.0.", A_HIDDEN, 4 * A_HIDDEN))

mlp_params = {
    "mlp.0.weight": f16(rng.normal(0, 1 / math.sqrt(A_STRIDE * D), (A_HIDDEN, A_STRIDE * D))),
    "mlp.0.bias": f16(rng.normal(0, 0.1, A_HIDDEN)),
    "mlp.1.weight": f16(rng.normal(0, 1 / math.sqrt(A_HIDDEN), (A_OUT, A_HIDDEN))),
    "mlp.1.bias": f16(rng.normal(0, 0.1, A_OUT)),
}


def adapter_conv(x):
    h = x.T  # [C, T]
    h = gelu(conv1d(h, conv_params["subsample.0.weight"], conv_params["subsample.0.bias"], 2, 1))
    h = gelu(conv1d(h, conv_params["subsample.1.weight"], conv_params["subsample.1.bias"], 2, 1)).T
    h = encoder_layer(h, sub(conv_params, "layers.0."), A_HEADS)
    h = layer_norm(h, conv_params["layer_norm.weight"], conv_params["layer_norm.bias"])
    return h @ conv_params["proj.weight"].T + conv_params["proj.bias"]


def adapter_mlp(x):
    t = x.shape[0]
    tp = -(-t // A_STRIDE)
    padded = np.concatenate([x, np.zeros((tp * A_STRIDE - t, x.shape[1]))], axis=0)
    h = padded.reshape(tp, A_STRIDE * x.shape[1])
    h = gelu(h @ mlp_params["mlp.0.weight"].T + mlp_params["mlp.0.bias"])
    return h @ mlp_params["mlp.1.weight"].T + mlp_params["mlp.1.bias"]


as_f32 = lambda a: np.asarray(a, dtype=np.float32).astype(np.float64)  # noqa: E731
outputs = {
    "adapter_conv_short": adapter_conv(as_f32(hidden_short)),
    "adapter_conv_long": adapter_conv(as_f32(hidden_long)),
    "adapter_mlp_short": adapter_mlp(as_f32(hidden_short)),
    "adapter_mlp_long": adapter_mlp(as_f32(hidden_long)),
}
assert outputs["adapter_conv_short"].shape == (5, A_OUT) and outputs["adapter_conv_long"].shape == (25, A_OUT)
assert outputs["adapter_mlp_short"].shape == (5, A_OUT) and outputs["adapter_mlp_long"].shape == (25, A_OUT)

# ---- files -----------------------------------------------------------------------------------------

model_dir = os.path.join(FIXTURES, "whisper_tiny_random")
os.makedirs(model_dir, exist_ok=True)
config = {
    "model_type": "whisper",
    "architectures": ["WhisperForConditionalGeneration"],
    "d_model": D,
    "encoder_layers": LAYERS,
    "encoder_attention_heads": HEADS,
    "encoder_ffn_dim": FFN,
    "num_mel_bins": N_MELS,
    "max_source_positions": MAX_POS,
    "decoder_layers": 0,
    "activation_function": "gelu",
    "torch_dtype": "float16",
}
with open(os.path.join(model_dir, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
weights = [("model.encoder." + k, v, "F16") for k, v in sorted(enc.items())]
weights.append(("model.decoder.layer_norm.weight", np.ones(D), "F16"))  # not the encoder's: must be ignored
write_safetensors(os.path.join(model_dir, "model.safetensors"), weights)

ref = [("mel_short", mel_short, "F16"), ("mel_long", mel_long, "F16")]
ref += [("hidden_short", hidden_short, "F32"), ("hidden_long", hidden_long, "F32")]
ref += [("adapter_conv." + k, v, "F16") for k, v in sorted(conv_params.items())]
ref += [("adapter_mlp." + k, v, "F16") for k, v in sorted(mlp_params.items())]
ref += [(k, v, "F32") for k, v in sorted(outputs.items())]
write_safetensors(os.path.join(FIXTURES, "encoder_reference.safetensors"), ref)

for name, a in [("hidden_short", hidden_short), ("hidden_long", hidden_long)] + sorted(outputs.items()):
    print(f"{name}: shape {a.shape}, range [{a.min():.4f}, {a.max():.4f}], [0, :3] = {a[0, :3]}")
