// Backend selection: native where the addon loaded, else the JS reference.
// MUGPT_BACKEND=js|native|wasm overrides the default; an explicit argument overrides both.

import { MugptError } from '../errors.js';
import { jsKernels } from './js.js';
import { loadNativeAddon, nativeLoadError } from '../native/addon.js';
import { nativeKernels } from './native.js';
import { nodeWasmKernels } from './wasm-node.js';
import type { BackendName, Kernels } from './kernels.js';

export type { AttentionArgs, BackendName, GeluKind, Kernels } from './kernels.js';

let nativeCache: Kernels | null = null;

/** True when the native addon is built and loads on this machine. */
export function nativeAvailable(): boolean {
  return loadNativeAddon() !== null;
}

/** What runs the kernels, for logs: "native (avx2, 2 threads)" or "js". */
export function describeKernels(k: Kernels): string {
  if (k.name !== 'native') return k.name;
  const { simd, threads } = loadNativeAddon()!.info();
  return `native (${simd}, ${threads} thread${threads === 1 ? '' : 's'})`;
}

/**
 * The kernels of `backend` ('wasm': WebAssembly SIMD); without it, MUGPT_BACKEND, else native where it loaded, else JS.
 * Asking for native where the addon did not build is a MugptError.
 */
export function getKernels(backend?: BackendName): Kernels {
  let choice: string | undefined = backend;
  let source = 'backend argument';
  if (choice === undefined && process.env.MUGPT_BACKEND) {
    choice = process.env.MUGPT_BACKEND;
    source = 'MUGPT_BACKEND';
  }
  if (choice === undefined) return nativeAvailable() ? getKernels('native') : jsKernels;
  if (choice === 'js') return jsKernels;
  if (choice === 'wasm') return nodeWasmKernels();
  if (choice !== 'native') throw new MugptError(`${source}: expected 'js', 'native' or 'wasm', got '${choice}'`);
  const addon = loadNativeAddon();
  if (!addon) {
    throw new MugptError(
      `${source}: the native kernels are not available (${nativeLoadError()}); ` +
      `build them from source (needs a C++ compiler: 'npm rebuild mugpt' where it is installed, 'npm run install' in a clone) or use MUGPT_BACKEND=js`,
    );
  }
  nativeCache ??= nativeKernels(addon);
  return nativeCache;
}
