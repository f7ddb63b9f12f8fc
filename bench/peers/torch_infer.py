#!/usr/bin/python3
"""PyTorch peer for bench/inference: prefill and KV-cache decode speed of a gpt2/btlm-shaped model
with random float32 weights, computed the way Hugging Face's modeling code does it (full logits
for the prompt, one position per decode step). Prints one JSON line.

usage: torch_infer.py '<config json>' PROMPT_LEN DECODE_LEN THREADS [RUN_LAYERS]

THREADS is one count, or PREFILL/DECODE (e.g. 2/1): the threads of ATen and of OpenBLAS's pool for
the prompt and for the decode steps (OpenBLAS's threads slow a one-row product down on this machine).

With RUN_LAYERS < n_layer (a quicker run), only RUN_LAYERS blocks are built and run; the time spent in blocks is
scaled by n_layer / RUN_LAYERS and added to the measured embedding and LM-head time (every block
has the same shapes, so block time is linear in the block count; the attention over the cache is
included in each block's time). Peak RSS then covers RUN_LAYERS blocks only.
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

from torch_blas import set_threads


def main() -> None:
    cfg = json.loads(sys.argv[1])
    prompt_len, decode_len = int(sys.argv[2]), int(sys.argv[3])
    prefill_threads, decode_threads = (int(t) for t in (sys.argv[4] + "/" + sys.argv[4]).split("/")[:2])
    run_layers = int(sys.argv[5]) if len(sys.argv) > 5 else cfg["n_layer"]
    set_threads(prefill_threads)
    torch.manual_seed(0)
    D, H, L, V = cfg["n_embd"], cfg["n_head"], cfg["n_layer"], cfg["vocab_size"]
    I = cfg.get("n_inner") or 4 * D
    d = D // H
    swiglu = cfg.get("activation_function") == "swiglu"
    alibi = cfg.get("position_embedding_type") == "alibi"
    std = 0.02
    wte = torch.randn(V, D) * std
    wpe = None if alibi else torch.randn(cfg["n_positions"], D) * std
    layers = []
    for _ in range(min(L, run_layers)):
        layers.append({
            "ln1": (torch.ones(D), torch.zeros(D)), "ln2": (torch.ones(D), torch.zeros(D)),
            "attn": (torch.randn(D, 3 * D) * std, torch.zeros(3 * D)),
            "proj": (torch.randn(D, D) * std, torch.zeros(D)),
            "fc": (torch.randn(D, I) * std, torch.zeros(I)),
            "fc2": (torch.randn(D, I) * std, torch.zeros(I)) if swiglu else None,
            "out": (torch.randn(I, D) * std, torch.zeros(D)),
        })
    lnf = (torch.ones(D), torch.zeros(D))
    slopes = torch.tensor([2 ** (-8 * (h + 1) / H) for h in range(H)]).view(H, 1, 1)
    scale = 1 / d if alibi else 1 / math.sqrt(d)

    block_time = [0.0]  # seconds spent in blocks, accumulated

    def forward(ids, cache):
        T = ids.shape[0]
        past = cache[0][0].shape[1] if cache[0] is not None else 0
        x = wte[ids]
        if wpe is not None:
            x = x + wpe[past:past + T]
        tb = time.perf_counter()
        for li, p in enumerate(layers):
            h = F.layer_norm(x, (D,), *p["ln1"])
            qkv = torch.addmm(p["attn"][1], h, p["attn"][0])
            q, k, v = qkv.split(D, dim=1)
            q = q.view(T, H, d).transpose(0, 1)
            k = k.view(T, H, d).transpose(0, 1)
            v = v.view(T, H, d).transpose(0, 1)
            if cache[li] is not None:
                k = torch.cat([cache[li][0], k], dim=1)
                v = torch.cat([cache[li][1], v], dim=1)
            cache[li] = (k, v)
            S = k.shape[1]
            att = torch.matmul(q, k.transpose(1, 2)) * scale
            qpos = torch.arange(past, past + T).view(T, 1)
            kpos = torch.arange(S).view(1, S)
            if alibi:
                att = att - slopes * (qpos - kpos).abs()
            att = att.masked_fill(kpos > qpos, float("-inf"))
            y = torch.matmul(att.softmax(-1), v).transpose(0, 1).reshape(T, D)
            x = x + torch.addmm(p["proj"][1], y, p["proj"][0])
            h = F.layer_norm(x, (D,), *p["ln2"])
            if swiglu:
                a = torch.addmm(p["fc"][1], h, p["fc"][0]) * F.silu(torch.addmm(p["fc2"][1], h, p["fc2"][0]))
            else:
                a = F.gelu(torch.addmm(p["fc"][1], h, p["fc"][0]))
            x = x + torch.addmm(p["out"][1], a, p["out"][0])
        block_time[0] += time.perf_counter() - tb
        x = F.layer_norm(x, (D,), *lnf)
        return x @ wte.t()  # HF computes logits for every position

    ids = torch.randint(0, V, (prompt_len,))
    with torch.no_grad():
        cache = [None] * len(layers)
        forward(ids[:8], cache)  # warm-up
        cache = [None] * len(layers)
        scale_blocks = L / len(layers)

        def timed(fn):
            block_time[0] = 0.0
            t0 = time.perf_counter()
            out = fn()
            dt = time.perf_counter() - t0
            return out, dt + block_time[0] * (scale_blocks - 1)

        logits, prefill_s = timed(lambda: forward(ids, cache))
        nxt = logits[-1].argmax().view(1)

        set_threads(decode_threads)

        def decode():
            n = nxt
            for _ in range(decode_len):
                n = forward(n, cache)[-1].argmax().view(1)
            return n

        _, decode_s = timed(decode)
    print(json.dumps({
        "engine": "pytorch",
        "torch": torch.__version__,
        "layersRun": len(layers),
        "prefillTokensPerSecond": prompt_len / prefill_s,
        "decodeTokensPerSecond": decode_len / decode_s,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
