#!/usr/bin/python3
"""Writes tests/fixtures/train_step_reference.safetensors: an llm.c-style check of attune's training
step. PyTorch eager (Debian's python3-torch), in float64, runs the tiny Qwen2 of
tests/fixtures/lm_qwen2_tiny (the same weights) written out here from the published formulas: the
next-token cross-entropy of a fixed batch, its gradients, then three steps of gradient clipping and
torch.optim.AdamW. tests/train/test_train_step_reference.cpp runs attune's model and optimiser on the
same batch and compares.

  input_ids           I64 [B, T]
  losses              F64 [STEPS + 1]   the loss before each step and after the last
  grad.<HF name>      F64 [...]         the gradients of the first step (before clipping)
  after.<HF name>     F64 [...]         the weights after the last step

    /usr/bin/python3 tests/model/make_train_step_reference.py
"""
import json
import math
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
MODEL = os.path.join(FIXTURES, "lm_qwen2_tiny")
B, T, STEPS = 2, 12, 3
LR, BETAS, EPS, WEIGHT_DECAY, CLIP = 1e-2, (0.9, 0.95), 1e-8, 0.1, 1.0


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(info["shape"]).astype(np.float64))
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors:
        array = np.asarray(array)
        dtype, data = ("I64", array.astype("<i8").tobytes()) if array.dtype.kind == "i" else ("F64", array.astype("<f8").tobytes())
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"source": "tests/model/make_train_step_reference.py"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


cfg = json.load(open(os.path.join(MODEL, "config.json")))
H, KV, C = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]
D, EPS_NORM, THETA = C // H, cfg["rms_norm_eps"], cfg["rope_theta"]
weights = {k: v.clone().requires_grad_(True) for k, v in read_safetensors(os.path.join(MODEL, "model.safetensors")).items()
           if "rotary_emb" not in k}


def rms(x, w):
    return w * x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS_NORM)


def rope(x):  # x [B, heads, T, D]: rotate the halves (a, b) by pos * theta^(-2i/D)
    f = THETA ** (-torch.arange(0, D // 2, dtype=torch.float64) * 2 / D)
    angle = torch.arange(x.shape[2], dtype=torch.float64)[:, None] * f[None, :]
    a, b = x[..., : D // 2], x[..., D // 2 :]
    return torch.cat([a * angle.cos() - b * angle.sin(), b * angle.cos() + a * angle.sin()], -1)


def linear(x, name, bias=False):
    y = x @ weights[name + ".weight"].T
    return y + weights[name + ".bias"] if bias else y


def forward(ids):
    x = weights["model.embed_tokens.weight"][ids]
    mask = torch.full((T, T), -math.inf, dtype=torch.float64).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, weights[p + "input_layernorm.weight"])
        q = linear(h, p + "self_attn.q_proj", True).view(B, T, H, D).transpose(1, 2)
        k = linear(h, p + "self_attn.k_proj", True).view(B, T, KV, D).transpose(1, 2)
        v = linear(h, p + "self_attn.v_proj", True).view(B, T, KV, D).transpose(1, 2)
        q, k = rope(q), rope(k)
        k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, -1) @ v
        x = x + linear(att.transpose(1, 2).reshape(B, T, H * D), p + "self_attn.o_proj")
        h = rms(x, weights[p + "post_attention_layernorm.weight"])
        gate = linear(h, p + "mlp.gate_proj")
        x = x + linear(gate * torch.sigmoid(gate) * linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    return rms(x, weights["model.norm.weight"]) @ weights["model.embed_tokens.weight"].T  # tied head


def loss_of(ids):
    logits = forward(ids)
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


ids = torch.from_numpy(np.random.default_rng(7).integers(0, cfg["vocab_size"], (B, T)))
decay = [w for w in weights.values() if w.dim() >= 2]
no_decay = [w for w in weights.values() if w.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=LR, betas=BETAS, eps=EPS)
losses, grads = [], {}
for step in range(STEPS):
    opt.zero_grad()
    loss = loss_of(ids)
    loss.backward()
    losses.append(loss.item())
    if step == 0:
        grads = {k: w.grad.detach().clone() for k, w in weights.items()}
    torch.nn.utils.clip_grad_norm_(list(weights.values()), CLIP)
    opt.step()
with torch.no_grad():
    losses.append(loss_of(ids).item())
tensors = [("input_ids", ids.numpy()), ("losses", np.array(losses))]
tensors += [("grad." + k, g.numpy()) for k, g in sorted(grads.items())]
tensors += [("after." + k, w.detach().numpy()) for k, w in sorted(weights.items())]
write_safetensors(os.path.join(FIXTURES, "train_step_reference.safetensors"), tensors)
print("losses:", " ".join(f"{x:.6f}" for x in losses))
