// Builds mugpt/web into dist/web/: the page-side module (mugpt.js, from src/web/index.ts), the model's
// Web Worker (worker.js), and beside them what they fetch at run time: the WebAssembly kernels
// (native/wasm/*.wasm), the GPT-2 vocabulary (assets/gpt2-bpe.bin) and the playground page
// (index.html, served by `mugpt web`). esbuild with platform 'browser' refuses any Node import.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { mugpt: join(root, 'src/web/index.ts'), worker: join(root, 'src/web/worker.ts') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
for (const f of ['native/wasm/mugpt-simd-threads.wasm', 'native/wasm/mugpt-simd.wasm', 'assets/gpt2-bpe.bin']) {
  copyFileSync(join(root, f), join(out, f.split('/').pop()));
}
copyFileSync(join(root, 'src/web/page.html'), join(out, 'index.html'));
