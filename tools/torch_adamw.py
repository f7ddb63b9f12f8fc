#!/usr/bin/env python3
"""Reference for src/train/adamw.ts: torch.optim.AdamW steps with per-group learning rates (μP
multipliers) and torch.nn.utils.clip_grad_norm_, on small random 1-D and 2-D tensors named like HF
GPT-2 tensors. Writes test/fixtures/train/adamw.json. Run with Debian's python3-torch:
    /usr/bin/python3 tools/torch_adamw.py
"""
import json
import os

import torch

torch.manual_seed(1234)
torch.set_num_threads(1)

SHAPES = {
    "transformer.wte.weight": [10, 4],
    "transformer.h.0.attn.c_attn.weight": [4, 6],
    "transformer.h.0.attn.c_attn.bias": [6],
    "transformer.ln_f.weight": [4],
}
MULT = {"transformer.h.0.attn.c_attn.weight": 0.25}
LRS = [0.01, 0.02, 0.03, 0.015, 0.005]
GRAD_SCALE = [0.3, 3.0, 1.0, 0.05, 2.0]  # some steps clip, some don't
MAX_NORM = 1.0
BETAS, EPS, WD = (0.9, 0.95), 1e-8, 0.1

params = {n: torch.randn(s, dtype=torch.float32) for n, s in SHAPES.items()}
init = {n: p.clone() for n, p in params.items()}
tensors = {n: torch.nn.Parameter(p) for n, p in params.items()}
groups = []
for n, p in tensors.items():
    groups.append({"params": [p], "lr": LRS[0] * MULT.get(n, 1.0), "mult": MULT.get(n, 1.0),
                   "weight_decay": WD if p.dim() >= 2 else 0.0})
opt = torch.optim.AdamW(groups, lr=LRS[0], betas=BETAS, eps=EPS, weight_decay=WD)

steps = []
for k, (lr, scale) in enumerate(zip(LRS, GRAD_SCALE)):
    grads = {n: torch.randn(SHAPES[n], dtype=torch.float32) * scale for n in SHAPES}
    grads["transformer.ln_f.weight"][0] = 3e-7  # tiny gradients: ε matters
    raw = {n: g.clone() for n, g in grads.items()}
    for n, p in tensors.items():
        p.grad = grads[n].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(tensors.values()), MAX_NORM)
    for g in opt.param_groups:
        g["lr"] = lr * g["mult"]
    opt.step()
    steps.append({
        "lr": lr,
        "grads": {n: g.flatten().tolist() for n, g in raw.items()},
        "norm": float(norm),
        "clipped": {n: p.grad.flatten().tolist() for n, p in tensors.items()},
        "params": {n: p.detach().flatten().tolist() for n, p in tensors.items()},
    })

out = {
    "torch": torch.__version__,
    "betas": list(BETAS), "eps": EPS, "weight_decay": WD, "max_norm": MAX_NORM,
    "shapes": SHAPES, "lr_multipliers": MULT,
    "init": {n: p.flatten().tolist() for n, p in init.items()},
    "steps": steps,
}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "train", "adamw.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path))
