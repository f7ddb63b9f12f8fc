// The PyTorch peer's BLAS: Debian's python3-torch runs whatever libblas.so.3 the system selects, the
// reference BLAS (20–50× slower GEMM) unless libopenblas0-pthread is installed. Every benchmark with a
// PyTorch row asks bench/peers/torch_blas.py first, prints which BLAS PyTorch loaded and its GEMM rate,
// and leaves PyTorch out (saying why) when it is not OpenBLAS, MKL or BLIS: a comparison against the
// reference BLAS would flatter mugpt.
import { spawnSync } from 'node:child_process';
import { peerScript } from './common.js';

export interface TorchBlas { torch: string; blas: string; library: string | null; openblasVersion: string | null; gemmGflops: Record<string, number> }

/** PyTorch's BLAS, or a reason to skip the PyTorch rows (printed either way). */
export function checkTorchBlas(): { ok: true; info: TorchBlas } | { ok: false; reason: string } {
  const r = spawnSync('/usr/bin/python3', [peerScript('torch_blas.py'), '1,2'], { encoding: 'utf8' });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${String(r.status)}`);
    console.log(`PyTorch: skipped (${why}; install Debian's python3-torch and libopenblas0-pthread)`);
    return { ok: false, reason: why };
  }
  const info = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as TorchBlas;
  const rates = Object.entries(info.gemmGflops).map(([t, g]) => `${g.toFixed(0)} GFLOP/s at ${t} thread${t === '1' ? '' : 's'}`).join(', ');
  console.log(`PyTorch ${info.torch}: BLAS ${info.blas} (${info.openblasVersion ?? info.library ?? 'library not found'}); `
    + `GEMM 512×768·768×3072 ${rates}`);
  if (!['openblas', 'mkl', 'blis'].includes(info.blas)) {
    const reason = `PyTorch runs the ${info.blas} BLAS (${info.library ?? '?'}), not OpenBLAS: install libopenblas0-pthread (Debian)`;
    console.log(`PyTorch: skipped (${reason})`);
    return { ok: false, reason };
  }
  return { ok: true, info };
}
