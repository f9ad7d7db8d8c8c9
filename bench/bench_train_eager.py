#!/usr/bin/python3
"""PyTorch eager baseline for bench_train: one training step (forward over every position, next-token
cross-entropy, backward, torch.optim.AdamW) of the same Qwen2-shaped decoder as bench_train, written the
way Hugging Face's eager implementation runs it (the layers of bench_generate_eager.py), random weights and
tokens. Prints one JSON line with the median step time.

    /usr/bin/python3 bench/bench_train_eager.py --dtype bf16 --threads 2 --batch 8 --seq 256

bf16 means torch.autocast("cpu", torch.bfloat16) around the forward pass, float32 weights and optimiser.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_generate_eager import Model  # noqa: E402

# layers, hidden, heads, kv heads, head_dim, ffn, vocab: ~16M parameters (tied embeddings)
SHAPE = (6, 384, 6, 2, 64, 1536, 8192)


class TrainLM(Model):
    """bench_generate_eager's model with a training forward: logits at every position, no cache."""

    def forward(self, ids):
        x = self.embed_tokens(ids)
        t = ids.shape[1]
        freqs = torch.arange(t, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype)[None, None], emb.sin().to(x.dtype)[None, None]
        mask = torch.full((t, t), torch.finfo(x.dtype).min, dtype=x.dtype).triu(1)[None, None]
        for layer in self.layers:
            x = layer(x, cos, sin, mask, [None, None])
        return F.linear(self.norm(x), self.embed_tokens.weight)  # tied output head, every position


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers, hidden, heads, kv_heads, head_dim, ffn, vocab = SHAPE
    model = TrainLM(layers, hidden, heads, kv_heads, head_dim, ffn, vocab)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.02)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.01)
    ids = torch.randint(0, vocab, (args.batch, args.seq + 1))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    times, losses = [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
            logits = model(inputs)
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"step_s": statistics.median(times), "steps": times, "params": params,
                      "tokens": args.batch * args.seq, "first_loss": losses[0], "last_loss": losses[-1]}))


if __name__ == "__main__":
    main()
