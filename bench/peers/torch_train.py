#!/usr/bin/python3
"""PyTorch peer for bench/train-step: training steps (forward, backward by autograd, torch.optim.AdamW)
of a gpt2-shaped model (learned positions, exact GELU, tied LM head, HF's shifted mean cross-entropy)
with random float32 weights. Prints one JSON line: tokens/s over the timed steps and peak RSS.

usage: torch_train.py '<config json>' BATCH SEQ_LEN STEPS THREADS

One warm-up step on a 16-token batch first (allocates the optimizer state, warms the allocator),
so the timed steps are steady-state.
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_blas import set_threads


class Block(nn.Module):
    def __init__(self, D, H, I):
        super().__init__()
        self.H = H
        self.ln_1, self.ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.c_attn, self.c_proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.c_fc, self.mlp_proj = nn.Linear(D, I), nn.Linear(I, D)

    def forward(self, x):
        B, T, D = x.shape
        H, d = self.H, D // self.H
        q, k, v = self.c_attn(self.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, H, d).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * d ** -0.5
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, H, L, V = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["vocab_size"]
        I = cfg.get("n_inner") or 4 * D
        self.wte, self.wpe = nn.Embedding(V, D), nn.Embedding(cfg["n_positions"], D)
        self.h = nn.ModuleList([Block(D, H, I) for _ in range(L)])
        self.ln_f = nn.LayerNorm(D)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def loss(self, ids):
        B, T = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(T))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied head
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def main() -> None:
    cfg = json.loads(sys.argv[1])
    batch, seq, steps, threads = (int(a) for a in sys.argv[2:6])
    set_threads(threads)
    torch.manual_seed(0)
    model = GPT(cfg)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    V = cfg["vocab_size"]

    def step(ids):
        opt.zero_grad(set_to_none=True)
        loss = model.loss(ids)
        loss.backward()
        opt.step()
        return loss.item()

    step(torch.randint(0, V, (1, 16)))  # warm-up
    ids = torch.randint(0, V, (batch, seq))
    t0 = time.perf_counter()
    for _ in range(steps):
        step(ids)
    dt = time.perf_counter() - t0
    print(json.dumps({
        "engine": "pytorch",
        "torch": torch.__version__,
        "tokensPerSecond": batch * seq * steps / dt,
        "secondsPerStep": dt / steps,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
