"""PyTorch float32 matmul timings for bench/gemm.ts (the peer, 2 threads, same machine, same run).

Reads a JSON list of cases {"M","N","K","transB","copies","seconds"} on stdin, prints a JSON list of seconds per call
(best of several). transB means the weight is stored [N, K] and used transposed, as an LM head;
calls rotate over `copies` weights, as bench/gemm.ts does, so one-row products stream from memory.
"""
import json
import sys
import time

import torch

torch.set_num_threads(2)
cases = json.load(sys.stdin)
out = []
for c in cases:
    M, N, K = c["M"], c["N"], c["K"]
    a = torch.randn(M, K)
    bs = [torch.rand(N, K).t() if c["transB"] else torch.rand(K, N) for _ in range(c.get("copies", 1))]
    torch.matmul(a, bs[0])
    best, spent, i = float("inf"), 0.0, 0
    while spent < c.get("seconds", 1.0) or i < 3:
        b = bs[i % len(bs)]
        i += 1
        t0 = time.perf_counter()
        torch.matmul(a, b)
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    out.append(best)
print(json.dumps(out))
