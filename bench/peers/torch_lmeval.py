#!/usr/bin/python3
"""PyTorch peer for bench/eval: loglikelihood requests scored the way lm-evaluation-harness's HF
backend (HFLM._loglikelihood_tokens) scores them, batch size 1: the requests sorted longest first,
one forward per request over (context + continuation)[-(max_length + 1):][:-1], log_softmax over
the logits of every position, the continuation's last len(cont) positions gathered and summed,
is_greedy = every continuation token is the argmax. The model is a gpt2-architecture forward written
as HF's modeling code computes it (addmm, erf GELU, causal mask, full-sequence logits), on the weights
of an HF folder. Prints one JSON line.

usage: torch_lmeval.py MODEL_DIR REQUESTS_JSON THREADS

REQUESTS_JSON: {"max_length": L, "requests": [[context_ids, continuation_ids], ...]} (tokenized by the
caller with lm-eval's pair encoding, so both engines score the same token ids). The timed part is the
scoring loop; loading is reported apart.
"""
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from torch_grads import read_folder  # noqa: E402


def main() -> None:
    folder, requests_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(threads)
    t_load = time.perf_counter()
    cfg = json.load(open(os.path.join(folder, "config.json")))
    assert cfg["model_type"] == "gpt2", "this peer runs the gpt2 architecture"
    w = read_folder(folder)
    spec = json.load(open(requests_path))
    load_s = time.perf_counter() - t_load
    D, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    d = D // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = {"gelu": lambda x: F.gelu(x), "gelu_new": lambda x: F.gelu(x, approximate="tanh")}[cfg.get("activation_function", "gelu_new")]
    wte, wpe = w["transformer.wte.weight"], w["transformer.wpe.weight"]
    layers = [{k: w[f"transformer.h.{i}.{k}"] for k in (
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
        "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")} for i in range(L)]
    lnf = (w["transformer.ln_f.weight"], w["transformer.ln_f.bias"])
    scale = 1 / math.sqrt(d)

    def forward(ids):  # ids [T] → logits [T, V]
        T = ids.shape[0]
        x = wte[ids] + wpe[:T]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        for p in layers:
            h = F.layer_norm(x, (D,), p["ln_1.weight"], p["ln_1.bias"], eps)
            q, k, v = torch.addmm(p["attn.c_attn.bias"], h, p["attn.c_attn.weight"]).split(D, dim=1)
            q, k, v = (t.view(T, H, d).transpose(0, 1) for t in (q, k, v))  # [H, T, d]
            att = torch.matmul(q, k.transpose(1, 2)) * scale  # [H, T, T]
            att = att.masked_fill(~mask, torch.finfo(att.dtype).min).softmax(-1)
            y = torch.matmul(att, v).transpose(0, 1).reshape(T, D)
            x = x + torch.addmm(p["attn.c_proj.bias"], y, p["attn.c_proj.weight"])
            h = F.layer_norm(x, (D,), p["ln_2.weight"], p["ln_2.bias"], eps)
            x = x + torch.addmm(p["mlp.c_proj.bias"], act(torch.addmm(p["mlp.c_fc.bias"], h, p["mlp.c_fc.weight"])), p["mlp.c_proj.weight"])
        return F.layer_norm(x, (D,), *lnf, eps) @ wte.t()

    max_length = spec["max_length"]
    reqs = spec["requests"]
    # lm-eval's Collator order: longest (context + continuation) first
    order = sorted(range(len(reqs)), key=lambda i: (-len(reqs[i][0] + reqs[i][1]), tuple(reqs[i][0] + reqs[i][1])))
    out_ll, out_greedy = [0.0] * len(reqs), [False] * len(reqs)
    with torch.no_grad():
        forward(torch.tensor(reqs[order[0]][0][:8] or [0]))  # warm-up
        t0 = time.perf_counter()
        for i in order:
            ctx, cont = reqs[i]
            inp = torch.tensor((ctx + cont)[-(max_length + 1):][:-1])
            logits = F.log_softmax(forward(inp), dim=-1)[inp.shape[0] - len(cont):]  # [len(cont), V]
            target = torch.tensor(cont)
            out_greedy[i] = bool((logits.argmax(-1) == target).all())
            out_ll[i] = float(logits.gather(1, target.view(-1, 1)).sum())
        seconds = time.perf_counter() - t0
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "threads": threads,
        "openblasThreads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "requests": len(reqs), "seconds": seconds, "requestsPerSecond": len(reqs) / seconds, "loadSeconds": load_s,
        "loglikelihoods": out_ll, "isGreedy": out_greedy,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
