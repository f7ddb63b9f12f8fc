#!/usr/bin/python3
"""Which BLAS PyTorch runs here, and how fast: the check every PyTorch peer of bench/ runs first.

Debian's python3-torch is built against the generic BLAS interface (`torch.__config__.show()` says
BLAS_INFO=generic) and runs whatever libblas.so.3 the system's alternatives select: the reference BLAS
(a naive triple loop) unless libopenblas0-pthread is installed. The library actually loaded is read
from this process's memory map after a matrix product. Prints one JSON line:
  {"torch", "blas": "openblas" | "reference" | "mkl" | "blis" | "unknown", "library", "openblasVersion",
   "gemmGflops": {threads: GFLOP/s of a 512×768 · 768×3072 float32 product}}

usage: torch_blas.py [THREADS,...]      (default 1,2)
"""
import ctypes
import json
import os
import sys
import time

import torch


def loaded_blas():
    """(kind, path) of the BLAS library mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if path.startswith("/"):
                libs.add(path)
    for kind, key in (("openblas", "openblas"), ("mkl", "libmkl"), ("blis", "blis")):
        for p in sorted(libs):
            if key in os.path.basename(p) or f"/{key}" in p:
                return kind, p
    for p in sorted(libs):
        if os.path.basename(p).startswith("libblas.so"):
            real = os.path.realpath(p)
            return ("openblas" if "openblas" in real else "reference"), real
    return "unknown", None


def openblas(path):
    """The OpenBLAS library handle (for its version and thread count), or None."""
    try:
        lib = ctypes.CDLL(path)
        lib.openblas_get_config.restype = ctypes.c_char_p
        return lib
    except (OSError, AttributeError):
        return None


def set_threads(threads):
    """ATen's threads and OpenBLAS's own pool (which torch.set_num_threads does not reach)."""
    torch.set_num_threads(threads)
    kind, path = loaded_blas()
    lib = openblas(path) if kind == "openblas" else None
    if lib is not None:
        lib.openblas_set_num_threads(threads)


def gemm_gflops(threads):
    set_threads(threads)
    a, b = torch.randn(512, 768), torch.randn(768, 3072)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * 512 * 768 * 3072 / best / 1e9


def main():
    threads = [int(t) for t in (sys.argv[1] if len(sys.argv) > 1 else "1,2").split(",")]
    torch.matmul(torch.ones(64, 64), torch.ones(64, 64))  # loads the BLAS
    kind, path = loaded_blas()
    lib = openblas(path) if kind == "openblas" else None
    version = lib.openblas_get_config().decode() if lib is not None else None
    print(json.dumps({"torch": torch.__version__, "blas": kind, "library": path, "openblasVersion": version,
                      "gemmGflops": {str(t): gemm_gflops(t) for t in threads}}))


if __name__ == "__main__":
    main()
