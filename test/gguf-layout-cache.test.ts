// The layout cache (src/gguf/layout-cache.ts): the first load saves the converted matrices next to the
// GGUF file, later loads map them, and every model computes exactly what a model without the cache does;
// a stale, corrupt, truncated or unwritable cache is said in the log and the load converts the file again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readSync, writeSync, statSync, truncateSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { exportGguf } from '../src/gguf/export.js';
import '../src/gguf/import.js'; // registers the GGUF reader of loadModel
import { layoutCachePath } from '../src/gguf/layout-cache.js';
import { nativeAvailable } from '../src/kernels/index.js';
import { loadNativeAddon } from '../src/native/addon.js';
import { quantMatrices } from '../src/model/params.js';
import { loadModel, type Model } from '../src/model/model.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { cliPath, scratch } from './helpers.js';

const skip = nativeAvailable() && loadNativeAddon()!.info().x16 ? false : 'the cache holds the native kernels\' x16 layout';

// n_inner 200: mlp.c_proj has 200 inputs, F16 in the file, padded to Q8_0 blocks at load
const cfg = makeConfig({
  model_type: 'btlm', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 64, n_inner: 200, activation_function: 'swiglu',
  position_embedding_type: 'alibi', mup_scale_qk_dot_by_d: true,
});
const ids = [[1, 5, 9, 2, 60, 7, 3], [4, 4, 8, 1, 0, 33, 2]];

function q4File(seed: number): string {
  const tensors = new Map(initModel(cfg, { seed, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  const path = join(scratch(), 'm.gguf');
  exportGguf(path, cfg, (n) => tensors.get(n)!, (loadTokenizer('gpt2') as BpeTokenizer).spec, { type: 'q4_0', embedType: 'q8_0' });
  return path;
}

/** A model loaded through the cache, and what loading logged. */
function cachedLoad(path: string): { model: Model; log: string[] } {
  const log: string[] = [];
  return { model: loadModel(path, { layoutCache: true, onLog: (l) => log.push(l) }), log };
}

/** Greedy continuation of a prompt, token by token through the KV cache: decode as generate runs it. */
function decode(model: Model, prompt: number[], n: number): number[] {
  const cache = model.newCache(prompt.length + n);
  let logits = model.step(cache, prompt);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
    out.push(best);
    logits = model.step(cache, [best]);
  }
  return out;
}

function patchByte(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = new Uint8Array(1);
    readSync(fd, b, 0, 1, at);
    writeSync(fd, new Uint8Array([b[0] ^ 0x5a]), 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

test('the first load saves the converted matrices; later loads map them and compute exactly what an uncached model does', { skip }, () => {
  const path = q4File(5), cachePath = layoutCachePath(path);
  const ref = loadModel(path);
  assert.equal(existsSync(cachePath), false, 'no cache unless asked for');
  const first = cachedLoad(path);
  assert.equal(first.log.length, 1);
  assert.match(first.log[0], /saved the converted matrices/);
  assert.ok(existsSync(cachePath));
  const again = cachedLoad(path);
  assert.deepEqual(again.log, [], 'a valid cache is used silently');
  const size = statSync(cachePath).size;
  const ms = quantMatrices(again.model.params), rs = quantMatrices(ref.params);
  assert.equal(ms.length, rs.length);
  ms.forEach((m, i) => {
    assert.equal(m.layout, 'x16');
    assert.equal(m.data.buffer.byteLength, size, `matrix ${i} is a view of the mapped cache`);
    assert.deepEqual(m.data, rs[i].data, `matrix ${i} has the bytes the load converts`);
  });
  assert.ok(ms.some((m) => m.K === 224), 'the padded c_proj is among them');
  const logits = ref.forward(ids).logits;
  assert.deepEqual(first.model.forward(ids).logits, logits);
  assert.deepEqual(again.model.forward(ids).logits, logits);
  assert.deepEqual(decode(again.model, ids[0], 6), decode(ref, ids[0], 6));
});

test('a stale, corrupt or truncated cache is said in the log, the file converted again, and the cache rewritten', { skip }, () => {
  const path = q4File(6), cachePath = layoutCachePath(path);
  const logits = loadModel(path).forward(ids).logits;
  cachedLoad(path);
  const size = statSync(cachePath).size;

  const later = new Date(Date.now() + 5000);
  utimesSync(path, later, later); // the GGUF file changed since the cache was made
  let r = cachedLoad(path);
  assert.equal(r.log.length, 2, r.log.join('\n'));
  assert.match(r.log[0], /not used \(made from another version of the GGUF file/);
  assert.match(r.log[1], /saved the converted matrices/);
  assert.deepEqual(r.model.forward(ids).logits, logits);
  assert.deepEqual(cachedLoad(path).log, [], 'the rewritten cache serves the next load');

  patchByte(cachePath, size - 100); // a byte of the last matrix
  r = cachedLoad(path);
  assert.match(r.log[0], /not used \(checksum mismatch in /);
  assert.deepEqual(r.model.forward(ids).logits, logits);
  assert.deepEqual(cachedLoad(path).log, []);

  truncateSync(cachePath, size - 4096);
  r = cachedLoad(path);
  assert.match(r.log[0], /not used \(truncated: /);
  assert.deepEqual(r.model.forward(ids).logits, logits);

  patchByte(cachePath, 0);
  assert.match(cachedLoad(path).log[0], /not used \(not a mugpt layout cache\)/);
});

test('a load that fails on a malformed GGUF file stops the check of its cache; a good load waits for it once', { skip }, () => {
  const path = q4File(9);
  const addon = loadNativeAddon()!;
  const waits: Array<boolean | undefined> = [];
  const wait = addon.checksumsWait.bind(addon);
  addon.checksumsWait = ((job: Parameters<typeof wait>[0], cancel?: true) => {
    waits.push(cancel);
    return cancel ? wait(job, cancel) : wait(job);
  }) as typeof addon.checksumsWait;
  try {
    cachedLoad(path); // writes the cache (its own checksums: one wait)
    waits.length = 0;
    cachedLoad(path);
    assert.deepEqual(waits, [undefined], 'a load through the cache verifies it once, and cancels nothing after');
    waits.length = 0;
    patchByte(path, 0); // the GGUF magic: the file is no longer GGUF, the cache still there
    assert.throws(() => cachedLoad(path), (e: Error) => e.message.includes(path));
    assert.deepEqual(waits, [true], 'the check started before the GGUF header was read is cancelled');
  } finally {
    addon.checksumsWait = wait;
  }
});

test('a cache that cannot be read or written is said in the log and the load goes on', { skip }, () => {
  const path = q4File(7), cachePath = layoutCachePath(path);
  mkdirSync(cachePath); // a folder where the cache would be
  const r = cachedLoad(path);
  assert.equal(r.log.length, 2, r.log.join('\n'));
  assert.match(r.log[0], /not used/);
  assert.match(r.log[1], /cannot save the layout cache/);
  assert.deepEqual(r.model.forward(ids).logits, loadModel(path).forward(ids).logits);
});

test('kernels that do not pack (portable, js) neither read nor write a cache', { skip }, () => {
  const path = q4File(8), cachePath = layoutCachePath(path);
  const addon = loadNativeAddon()!, initial = addon.info().simd;
  try {
    addon.setSimd('portable');
    assert.deepEqual(cachedLoad(path).log, []);
  } finally {
    addon.setSimd(initial);
  }
  loadModel(path, { backend: 'js', layoutCache: true });
  assert.equal(existsSync(cachePath), false);
});

test('checksums: one per array, whatever its alignment and the threads; a changed byte changes it', { skip }, () => {
  const addon = loadNativeAddon()!;
  const sums = (arrays: Uint8Array[]): string[] => addon.checksumsWait(addon.checksumsStart(arrays));
  const a = new Uint8Array(3 << 20).map((_, i) => (i * 2654435761) >>> 24);
  const shifted = new Uint8Array(a.length + 3);
  shifted.set(a, 3);
  const b = a.slice();
  b[(2 << 20) + 17] ^= 1;
  const [sa, sShift, sb, sEmpty, sHead] = sums([a, shifted.subarray(3), b, new Uint8Array(0), a.subarray(0, 1000)]);
  assert.match(sa, /^[0-9a-f]{16}$/);
  assert.equal(sShift, sa);
  assert.notEqual(sb, sa);
  assert.notEqual(sHead, sa);
  assert.notEqual(sEmpty, sHead);
  assert.deepEqual(sums([a]), [sa], 'alone or among others');
  const oneThread = spawnSync(process.execPath, ['--input-type=module', '-e', `
    import { loadNativeAddon } from ${JSON.stringify(new URL('../src/native/addon.js', import.meta.url).href)};
    const a = new Uint8Array(3 << 20).map((_, i) => (i * 2654435761) >>> 24), addon = loadNativeAddon();
    process.stdout.write(addon.checksumsWait(addon.checksumsStart([a]))[0] + ' ' + addon.info().threads);`],
  { encoding: 'utf8', env: { ...process.env, MUGPT_THREADS: '1' } });
  assert.equal(oneThread.stdout, `${sa} 1`, oneThread.stderr);
  const job = addon.checksumsStart([a]);
  addon.checksumsWait(job);
  assert.throws(() => addon.checksumsWait(job), /not yet waited for/);
});

test('`mugpt generate` prints its load time and saves the cache unless --no-layout-cache', { skip }, () => {
  const path = q4File(9), cachePath = layoutCachePath(path);
  const run = (...flags: string[]): string => {
    const r = spawnSync(process.execPath, [cliPath, 'generate', '--model', path, '--prompt', 'Hi', '--max-tokens', '2', ...flags], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stderr;
  };
  assert.match(run('--no-layout-cache'), /loaded in \d+\.\d\d s/);
  assert.equal(existsSync(cachePath), false);
  assert.match(run(), /mugpt: .*\.mugpt-x16: saved the converted matrices/);
  assert.ok(existsSync(cachePath));
  assert.doesNotMatch(run(), /mugpt-x16/);
});
