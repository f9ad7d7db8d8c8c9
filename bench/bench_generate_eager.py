#!/usr/bin/python3
"""PyTorch eager baseline for bench_generate: the same Qwen2-shaped decoder written the way Hugging Face's
eager implementation runs it (RMSNorm in float32, rotate_half RoPE, repeat_kv + matmul attention with a
float32 softmax, a KV cache grown with torch.cat), random weights, greedy decoding, under
torch.inference_mode(). Prints one JSON line: prompt/decode timings and RSS, for bench_generate to compare.

    /usr/bin/python3 bench/bench_generate_eager.py --model qwen2-0.5b --dtype bf16 --threads 2 --prompt 64 --new 32

Needs Debian's python3-torch (apt-get install python3-torch).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

SHAPES = {
    # layers, hidden, heads, kv heads, head_dim, ffn, vocab
    "qwen2-0.5b": (24, 896, 14, 2, 64, 4864, 151936),
    "small": (6, 384, 6, 2, 64, 1024, 32000),
}


def rss_bytes():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return out["VmRSS"], out["VmHWM"]


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, hidden, heads, kv_heads, head_dim):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.q_proj = nn.Linear(hidden, heads * head_dim, bias=True)
        self.k_proj = nn.Linear(hidden, kv_heads * head_dim, bias=True)
        self.v_proj = nn.Linear(hidden, kv_heads * head_dim, bias=True)
        self.o_proj = nn.Linear(heads * head_dim, hidden, bias=False)

    def forward(self, x, cos, sin, mask, cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache[0] is not None:
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        cache[0], cache[1] = k, v
        groups = self.heads // self.kv_heads
        s = k.shape[2]
        k = k[:, :, None].expand(b, self.kv_heads, groups, s, self.head_dim).reshape(b, self.heads, s, self.head_dim)
        v = v[:, :, None].expand(b, self.kv_heads, groups, s, self.head_dim).reshape(b, self.heads, s, self.head_dim)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
        if mask is not None:
            w = w + mask
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(w, v).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out)


class Layer(nn.Module):
    def __init__(self, hidden, heads, kv_heads, head_dim, ffn):
        super().__init__()
        self.self_attn = Attention(hidden, heads, kv_heads, head_dim)
        self.gate_proj = nn.Linear(hidden, ffn, bias=False)
        self.up_proj = nn.Linear(hidden, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, hidden, bias=False)
        self.input_layernorm = RMSNorm(hidden)
        self.post_attention_layernorm = RMSNorm(hidden)

    def forward(self, x, cos, sin, mask, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Model(nn.Module):
    def __init__(self, layers, hidden, heads, kv_heads, head_dim, ffn, vocab, theta=1e6):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList([Layer(hidden, heads, kv_heads, head_dim, ffn) for _ in range(layers)])
        self.norm = RMSNorm(hidden)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))

    def forward(self, ids, caches, past):
        x = self.embed_tokens(ids)
        t = ids.shape[1]
        pos = torch.arange(past, past + t, dtype=torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype)[None, None], emb.sin().to(x.dtype)[None, None]
        mask = None
        if t > 1:
            mask = torch.full((t, past + t), torch.finfo(x.dtype).min, dtype=x.dtype).triu(past + 1)[None, None]
        for layer, cache in zip(self.layers, caches):
            x = layer(x, cos, sin, mask, cache)
        h = self.norm(x[:, -1:])
        return F.linear(h, self.embed_tokens.weight).float()  # tied output head, last position only


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="small", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3, help="generate runs; prompt and decode times are medians")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    layers, hidden, heads, kv_heads, head_dim, ffn, vocab = SHAPES[args.model]
    rss0, _ = rss_bytes()
    with torch.no_grad():
        model = Model(layers, hidden, heads, kv_heads, head_dim, ffn, vocab)
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.02)
        model = model.to(dtype).eval()

    prompt = [(i * 7919 + 13) % vocab for i in range(args.prompt)]

    def generate(prompt_ids, new):
        caches = [[None, None] for _ in range(layers)]
        t0 = time.perf_counter()
        logits = model(torch.tensor([prompt_ids]), caches, 0)
        ids = [int(logits[0, -1].argmax())]
        prompt_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        past = len(prompt_ids)
        for _ in range(new - 1):
            logits = model(torch.tensor([[ids[-1]]]), caches, past)
            past += 1
            ids.append(int(logits[0, -1].argmax()))
        return ids, prompt_s, time.perf_counter() - t1

    with torch.inference_mode():
        generate(prompt[:8], 2)  # warm-up
        runs = [generate(prompt, args.new) for _ in range(max(1, args.repeats))]
    prompt_s = sorted(r[1] for r in runs)[len(runs) // 2]
    decode_s = sorted(r[2] for r in runs)[len(runs) // 2]
    rss1, hwm1 = rss_bytes()
    print(json.dumps({
        "impl": "pytorch-eager", "torch": torch.__version__, "model": args.model, "dtype": args.dtype,
        "threads": torch.get_num_threads(), "prompt_tokens": args.prompt, "prompt_s": prompt_s,
        "decode_steps": args.new - 1, "decode_s": decode_s, "rss_before": rss0, "rss_after": rss1,
        "hwm_after": hwm1,
    }))


if __name__ == "__main__":
    main()
