// The forward, incremental decoding and greedy tokens of every fixture against the PyTorch reference
// (tools/torch_reference.py): logits within max|a−b| ≤ 1e-4·max|b| (docs/model.md), identical tokens.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAvailable } from '../src/kernels/index.js';
import type { BackendName } from '../src/kernels/kernels.js';
import { loadModel, type Model } from '../src/model/model.js';
import { fixture } from './helpers.js';

interface Expected {
  checkpoint_dtype: string;
  ids: number[][];
  forward: { offset: number; shape: [number, number, number] };
  decode: { offset: number; shape: [number, number]; prompt: number[]; greedy: number[] };
}

const root = fixture('model');
const names = readdirSync(root).filter((n) => !n.startsWith('.')).sort();

function load(name: string): { exp: Expected; bin: Float32Array } {
  const exp = JSON.parse(readFileSync(join(root, name, 'expected.json'), 'utf8')) as Expected;
  const buf = readFileSync(join(root, name, 'expected.bin'));
  const bin = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return { exp, bin };
}

/** max|a−b| / max|b|. */
function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

const argmax = (x: Float32Array): number => x.reduce((best, v, i) => (v > x[best] ? i : best), 0);

function greedyDecode(model: Model, prompt: number[], steps: number): { logits: Float32Array[]; tokens: number[] } {
  const cache = model.newCache();
  const logits = [model.step(cache, prompt)];
  const tokens: number[] = [];
  for (let s = 0; s < steps; s++) {
    tokens.push(argmax(logits[logits.length - 1]));
    logits.push(model.step(cache, [tokens[tokens.length - 1]]));
  }
  tokens.push(argmax(logits[logits.length - 1]));
  return { logits, tokens };
}

test('there are model fixtures', () => {
  assert.ok(names.length >= 7, `expected the fixtures of tools/torch_reference.py in ${root}`);
});

// Every backend that runs here (native where the addon built).
const backends: BackendName[] = nativeAvailable() ? ['js', 'native'] : ['js'];

for (const name of names) for (const backend of backends) {
  test(`fixture ${name} (${backend}): full forward, incremental decode and greedy tokens match PyTorch`, () => {
    const { exp, bin } = load(name);
    const model = loadModel(join(root, name), { backend });

    const [B, T, V] = exp.forward.shape;
    const { logits, shape } = model.forward(exp.ids);
    assert.deepEqual(shape, [B, T, V]);
    const want = bin.subarray(exp.forward.offset / 4, exp.forward.offset / 4 + B * T * V);
    const e1 = relErr(logits, want);
    assert.ok(e1 <= 1e-4, `${name}: forward logits off by ${e1.toExponential(2)} (relative)`);

    const [S] = exp.decode.shape;
    const dec = greedyDecode(model, exp.decode.prompt, S - 1);
    for (let s = 0; s < S; s++) {
      const off = exp.decode.offset / 4 + s * V;
      const e = relErr(dec.logits[s], bin.subarray(off, off + V));
      assert.ok(e <= 1e-4, `${name}: decode step ${s} logits off by ${e.toExponential(2)} (relative)`);
    }
    assert.deepEqual(dec.tokens, exp.decode.greedy, `${name}: greedy tokens`);
  });
}

test('the fixtures cover every checkpoint feature (legacy buffers, unprefixed names, shards, F16/BF16, slopes stored or not)', () => {
  const stored = new Map<string, { names: string[]; dtypes: Set<string> }>();
  for (const name of names) {
    const d = join(root, name);
    const files = readdirSync(d).filter((f) => f.endsWith('.safetensors'));
    const info = { names: [] as string[], dtypes: new Set<string>() };
    for (const f of files) {
      const buf = readFileSync(join(d, f));
      const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8')) as Record<string, { dtype?: string }>;
      for (const [k, v] of Object.entries(header)) if (k !== '__metadata__') { info.names.push(k); info.dtypes.add(v.dtype!); }
    }
    stored.set(name, info);
  }
  const some = (pred: (i: { names: string[]; dtypes: Set<string> }, n: string) => boolean): boolean =>
    [...stored].some(([n, i]) => pred(i, n));
  assert.ok(some((i) => i.names.includes('lm_head.weight') && i.names.some((n) => n.endsWith('.attn.bias')) && i.names.some((n) => n.endsWith('.attn.masked_bias'))));
  assert.ok(some((i) => i.names.includes('wte.weight') && !i.names.some((n) => n.startsWith('transformer.'))));
  assert.ok(some((_, n) => readdirSync(join(root, n)).includes('model.safetensors.index.json')));
  assert.ok(some((i) => i.dtypes.has('BF16')) && some((i) => i.dtypes.has('F16')));
  const alibi = names.filter((n) => JSON.parse(readFileSync(join(root, n, 'config.json'), 'utf8')).position_embedding_type === 'alibi');
  assert.ok(alibi.some((n) => stored.get(n)!.names.includes('transformer.relative_pe.slopes')));
  assert.ok(alibi.some((n) => !stored.get(n)!.names.includes('transformer.relative_pe.slopes')));
});
