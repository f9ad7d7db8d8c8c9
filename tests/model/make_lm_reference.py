#!/usr/bin/python3
"""Writes the language-model reference fixtures, computed independently of attune (numpy, float64, the
published formulas; no torch, no transformers):

  tests/fixtures/lm_qwen2_tiny/   Qwen2: 2 layers, hidden 32, 4 heads / 2 kv heads (head_dim 8), q/k/v biases,
                                  tied embeddings, F32 weights, plus a stored rotary_emb.inv_freq (old
                                  checkpoints have it; a loader must skip it)
  tests/fixtures/lm_qwen3_tiny/   Qwen3: 2 layers, hidden 32, 4 heads / 1 kv head, explicit head_dim 16
                                  (!= 32 / 4), q/k RMSNorm per head, no biases, separate lm_head, BF16 weights
  tests/fixtures/lm_llama_tiny/   Llama: 2 layers, hidden 32, 2 heads / 2 kv heads, head_dim 16,
                                  attention_bias (q, k, v and o) and mlp_bias, rope_scaling "llama3", BF16
  tests/fixtures/lm_reference.safetensors
      {family}.input_ids      I64 [T]            the prompt
      {family}.logits         F32 [T, V]         logits at every prompt position
      {family}.hidden_states  F32 [L + 1, T, C]  embeddings, each layer's output, the last after the final norm
      {family}.greedy_ids     I64 [N]            greedy continuation (argmax, full recompute each step)
      {family}.greedy_margin  F32 [N]            top-1 minus top-2 logit at each greedy step (no near-ties)

Formulas (Qwen2 / Qwen3 / Llama as published; the model cards and papers):
  rms(x, w) = w * x / sqrt(mean(x^2) + eps)
  RoPE on each head vector x = (a, b) split into halves of D/2: with angle_i = pos * f_i,
      a'_i = a_i cos(angle_i) - b_i sin(angle_i),   b'_i = b_i cos(angle_i) + a_i sin(angle_i),
      f_i = theta^(-2i / D); Llama 3.1 "apply_scaling" (Meta's reference code) adjusts f_i:
      wavelen = 2 pi / f; wavelen < L_old / high: kept; wavelen > L_old / low: f / factor;
      else s = (L_old / wavelen - low) / (high - low), f' = (1 - s) f / factor + s f
  attention: head h uses key/value head h // (H / KV); softmax(q . k / sqrt(D)) over keys j <= i; o_proj
  Qwen3: q and k of every head pass rms(., q_norm / k_norm) before RoPE
  mlp: down(silu(gate x) * up x), silu(x) = x / (1 + exp(-x))
  x += attn(rms(x)); x += mlp(rms(x)); logits = rms(x, norm) @ W_out^T (W_out = embeddings when tied)

The safetensors files are written by the small writer below, not by the safetensors package. Needs only
Debian's python3-numpy:

    /usr/bin/python3 tests/model/make_lm_reference.py
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")

rng = np.random.default_rng(33)  # chosen so that no greedy step is a near-tie (margins >= 0.09)

VOCAB, HIDDEN, FFN, LAYERS, T, NEW = 64, 32, 48, 2, 10, 8


# ---- storage ---------------------------------------------------------------------------------------

def bf16_bits(a):
    """float32 -> bfloat16 bit patterns, round to nearest even."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16(a):
    """Rounds to bfloat16 and back to float64 (what the reference computes with)."""
    return (bf16_bits(a).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, numpy array). Header, 8-byte aligned, then packed data."""
    header, blobs, offset = {}, [], 0
    for name, dtype, array in tensors:
        if dtype == "F32":
            data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        elif dtype == "BF16":
            data = np.ascontiguousarray(bf16_bits(array), dtype="<u2").tobytes()
        elif dtype == "I64":
            data = np.ascontiguousarray(array, dtype="<i8").tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt", "source": "tests/model/make_lm_reference.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---- the models ------------------------------------------------------------------------------------

def make_config(family):
    base = {
        "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": LAYERS,
        "max_position_embeddings": 64, "hidden_act": "silu", "initializer_range": 0.02, "torch_dtype": "float32",
    }
    if family == "qwen2":
        return dict(base, model_type="qwen2", architectures=["Qwen2ForCausalLM"], num_attention_heads=4,
                    num_key_value_heads=2, rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
                    use_sliding_window=False, sliding_window=None, max_window_layers=2, eos_token_id=63)
    if family == "qwen3":
        return dict(base, model_type="qwen3", architectures=["Qwen3ForCausalLM"], num_attention_heads=4,
                    num_key_value_heads=1, head_dim=16, rope_theta=1000000.0, rms_norm_eps=1e-6,
                    tie_word_embeddings=False, attention_bias=False, use_sliding_window=False,
                    sliding_window=None, max_window_layers=2, torch_dtype="bfloat16", eos_token_id=63)
    if family == "llama":
        return dict(base, model_type="llama", architectures=["LlamaForCausalLM"], num_attention_heads=2,
                    num_key_value_heads=2, head_dim=16, rope_theta=10000.0, rms_norm_eps=1e-5,
                    tie_word_embeddings=False, attention_bias=True, mlp_bias=True, torch_dtype="bfloat16",
                    rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                    bos_token_id=1, eos_token_id=63)
    raise ValueError(family)


def make_weights(family, cfg):
    """HF-named float64 weights (already rounded to the stored dtype)."""
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", HIDDEN // H)
    qkv_bias = family == "qwen2" or cfg.get("attention_bias", False)
    o_bias = family != "qwen2" and cfg.get("attention_bias", False)
    mlp_bias = cfg.get("mlp_bias", False)
    rnd = bf16 if cfg["torch_dtype"] == "bfloat16" else (lambda a: np.asarray(a, dtype=np.float32).astype(np.float64))
    w = {}

    def lin(name, out_f, in_f, bias):
        w[name + ".weight"] = rnd(rng.normal(0, 0.25, (out_f, in_f)))
        if bias:
            w[name + ".bias"] = rnd(rng.normal(0, 0.2, (out_f,)))

    def norm(name, n):
        w[name + ".weight"] = rnd(1 + 0.2 * rng.normal(size=(n,)))

    w["model.embed_tokens.weight"] = rnd(rng.normal(0, 1.0, (VOCAB, HIDDEN)))
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        lin(p + "self_attn.q_proj", H * D, HIDDEN, qkv_bias)
        lin(p + "self_attn.k_proj", KV * D, HIDDEN, qkv_bias)
        lin(p + "self_attn.v_proj", KV * D, HIDDEN, qkv_bias)
        lin(p + "self_attn.o_proj", HIDDEN, H * D, o_bias)
        if family == "qwen3":
            norm(p + "self_attn.q_norm", D)
            norm(p + "self_attn.k_norm", D)
        lin(p + "mlp.gate_proj", FFN, HIDDEN, mlp_bias)
        lin(p + "mlp.up_proj", FFN, HIDDEN, mlp_bias)
        lin(p + "mlp.down_proj", HIDDEN, FFN, mlp_bias)
        norm(p + "input_layernorm", HIDDEN)
        norm(p + "post_attention_layernorm", HIDDEN)
    norm("model.norm", HIDDEN)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rnd(rng.normal(0, 0.25, (VOCAB, HIDDEN)))
    return w


# ---- the forward pass, from the formulas -------------------------------------------------------------

def rms(x, weight, eps):
    return weight * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def frequencies(cfg, D):
    f = [cfg["rope_theta"] ** (-2.0 * i / D) for i in range(D // 2)]
    rs = cfg.get("rope_scaling")
    if not rs:
        return np.array(f)
    # Meta's Llama 3.1 apply_scaling.
    factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], \
        rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    out = []
    for freq in f:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            out.append(freq)
        elif wavelen > low_wavelen:
            out.append(freq / factor)
        else:
            s = (old / wavelen - low) / (high - low)
            out.append((1 - s) * freq / factor + s * freq)
    return np.array(out)


def rope(x, pos, freqs):
    """x: [T, D] one head; pos: [T]."""
    half = x.shape[-1] // 2
    a, b = x[:, :half], x[:, half:]
    ang = pos[:, None] * freqs[None, :]
    c, s = np.cos(ang), np.sin(ang)
    return np.concatenate([a * c - b * s, b * c + a * s], axis=-1)


def linear(x, w, name):
    y = x @ w[name + ".weight"].T
    if name + ".bias" in w:
        y = y + w[name + ".bias"]
    return y


def forward(family, cfg, w, ids):
    """Returns logits [T, V] and hidden states [L + 1, T, C] for one sequence (no cache)."""
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim", HIDDEN // H)
    eps = cfg["rms_norm_eps"]
    freqs = frequencies(cfg, D)
    n = len(ids)
    pos = np.arange(n, dtype=np.float64)
    x = w["model.embed_tokens.weight"][ids]
    hidden = [x]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"], eps)
        q = linear(h, w, p + "self_attn.q_proj").reshape(n, H, D)
        k = linear(h, w, p + "self_attn.k_proj").reshape(n, KV, D)
        v = linear(h, w, p + "self_attn.v_proj").reshape(n, KV, D)
        heads = []
        for hd in range(H):
            kv = hd // (H // KV)
            qh, kh, vh = q[:, hd], k[:, kv], v[:, kv]
            if family == "qwen3":
                qh = rms(qh, w[p + "self_attn.q_norm.weight"], eps)
                kh = rms(kh, w[p + "self_attn.k_norm.weight"], eps)
            qh, kh = rope(qh, pos, freqs), rope(kh, pos, freqs)
            scores = qh @ kh.T / math.sqrt(D)
            scores = np.where(np.tril(np.ones((n, n), dtype=bool)), scores, -np.inf)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            heads.append((scores / scores.sum(axis=-1, keepdims=True)) @ vh)
        x = x + linear(np.concatenate(heads, axis=-1), w, p + "self_attn.o_proj")
        h = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        g = linear(h, w, p + "mlp.gate_proj")
        x = x + linear(g / (1 + np.exp(-g)) * linear(h, w, p + "mlp.up_proj"), w, p + "mlp.down_proj")
        hidden.append(x)
    x = rms(x, w["model.norm.weight"], eps)
    hidden[-1] = x
    out_w = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ out_w.T, np.stack(hidden)


def main():
    reference = []
    for family in ("qwen2", "qwen3", "llama"):
        cfg = make_config(family)
        w = make_weights(family, cfg)
        ids = rng.integers(2, VOCAB - 1, size=T)
        logits, hidden = forward(family, cfg, w, ids)
        seq, margins = list(ids), []
        for _ in range(NEW):
            last = forward(family, cfg, w, np.array(seq))[0][-1]
            top = np.sort(last)[::-1]
            margins.append(top[0] - top[1])
            seq.append(int(np.argmax(last)))
        if min(margins) < 1e-2:
            raise SystemExit(f"{family}: a greedy step has a near-tie ({min(margins)}); change the seed")
        out_dir = os.path.join(FIXTURES, f"lm_{family}_tiny")
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        dtype = "BF16" if cfg["torch_dtype"] == "bfloat16" else "F32"
        tensors = [(k, dtype, v) for k, v in w.items()]
        if family == "qwen2":
            D = HIDDEN // cfg["num_attention_heads"]
            tensors.append(("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", frequencies(cfg, D)))
        write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)
        reference += [
            (f"{family}.input_ids", "I64", ids),
            (f"{family}.logits", "F32", logits),
            (f"{family}.hidden_states", "F32", hidden),
            (f"{family}.greedy_ids", "I64", np.array(seq[T:])),
            (f"{family}.greedy_margin", "F32", np.array(margins)),
        ]
        print(f"{family}: {len(w)} tensors, logits range [{logits.min():.3f}, {logits.max():.3f}], "
              f"greedy {seq[T:]}, smallest margin {min(margins):.4f}")
    write_safetensors(os.path.join(FIXTURES, "lm_reference.safetensors"), reference)


if __name__ == "__main__":
    main()
