"""PyTorch float32 matmul timings for bench/gemm.ts (the peer, same machine, same run), each case at
its best thread count: 1 and 2 threads (ATen's and OpenBLAS's pool) are both timed and the faster kept,
since OpenBLAS's threads slow one-row products down on this machine.

Reads a JSON list of cases {"M","N","K","transB","copies","seconds"} on stdin, prints a JSON list of seconds per call
(best of several). transB means the weight is stored [N, K] and used transposed, as an LM head;
calls rotate over `copies` weights, as bench/gemm.ts does, so one-row products stream from memory.
"""
import json
import sys
import time

import torch

from torch_blas import set_threads

cases = json.load(sys.stdin)


def best_seconds(c):
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
    return best


out = []
for c in cases:
    times = []
    for threads in (1, 2):
        set_threads(threads)
        times.append(best_seconds(c))
    out.append(min(times))
print(json.dumps(out))
