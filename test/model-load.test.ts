// Loading and saving HF folders: F16/BF16 upcast exactness, save → load bit-identical, fromTensors,
// generate wiring, and every bad input as a MugptError naming the file, tensor or field.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MugptError } from '../src/errors.js';
import { writeCheckpoint } from '../src/io/hf.js';
import { saveTokenizerJson } from '../src/tokenizer/save.js';
import { trainBpe } from '../src/tokenizer/train.js';
import { makeConfig } from '../src/model/config.js';
import { loadModel, Model } from '../src/model/model.js';
import { expectedTensors } from '../src/model/params.js';
import { fixture, scratch } from './helpers.js';

const dir = (name: string): string => fixture('model', name);
const expected = (name: string): { ids: number[][]; decode: { prompt: number[]; greedy: number[] } } =>
  JSON.parse(readFileSync(join(dir(name), 'expected.json'), 'utf8'));

/** The raw tensors of a single-file safetensors, decoded here independently of src/io. */
function rawTensors(file: string): Map<string, { dtype: string; bytes: Buffer }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out = new Map<string, { dtype: string; bytes: Buffer }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    out.set(name, { dtype: e.dtype, bytes: buf.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]) });
  }
  return out;
}

/** IEEE binary16 → number, by the definition (sign, 5-bit exponent, 10-bit fraction). */
function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function assertMugptError(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    for (const p of parts) assert.ok(err.message.includes(p), `"${err.message}" should mention ${p}`);
    return true;
  });
}

/** A writable copy of a fixture's model folder. */
function copyOf(name: string): string {
  const d = join(scratch('mugpt-model-'), name);
  cpSync(dir(name), d, { recursive: true });
  return d;
}

test('BF16 weights upcast exactly (bits << 16), F16 by the IEEE half definition', () => {
  const bf = loadModel(dir('btlm-alibi-dynamic-bf16'), { backend: 'js' });
  const raw = rawTensors(join(dir('btlm-alibi-dynamic-bf16'), 'model.safetensors'));
  let count = 0;
  for (const [name, { dtype, bytes }] of raw) {
    assert.equal(dtype, 'BF16');
    const got = bf.params.tensors.get(name)!;
    const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
    for (let i = 0; i < got.length; i++) assert.equal(bits[i], bytes.readUInt16LE(2 * i) << 16 >>> 0, `${name}[${i}]`);
    count++;
  }
  assert.ok(count > 10 && raw.has('transformer.relative_pe.slopes'), 'the stored (bf16) slopes are used');

  const f16 = loadModel(dir('gpt2-unscaled-f16'), { backend: 'js' });
  for (const [name, { dtype, bytes }] of rawTensors(join(dir('gpt2-unscaled-f16'), 'model.safetensors'))) {
    assert.equal(dtype, 'F16');
    const got = f16.params.tensors.get(name)!;
    for (let i = 0; i < got.length; i++) assert.equal(got[i], halfToNumber(bytes.readUInt16LE(2 * i)), `${name}[${i}]`);
  }
});

test('save → load is bit-identical (F32; BF16 / F16 for checkpoints of that dtype); config.json round-trips', () => {
  for (const [name, dtype] of [['btlm-alibi-h4-stored-slopes', 'F32'], ['gpt2-gelu', 'F32'], ['btlm-alibi-dynamic-bf16', 'BF16'],
    ['btlm-alibi-h6-factor-sharded', 'F32'], ['gpt2-unscaled-f16', 'F16']] as const) {
    const a = loadModel(dir(name), { backend: 'js' });
    const out = join(scratch(), 'saved');
    a.save(out, { dtype });
    const b = loadModel(out, { backend: 'js' });
    assert.deepEqual({ ...b.config, extra: {} }, { ...a.config, extra: {} });
    assert.equal(b.config.extra.torch_dtype, { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype]);
    assert.deepEqual([...b.params.tensors.keys()].sort(), [...a.params.tensors.keys()].sort());
    for (const [n, t] of a.params.tensors) {
      const u = b.params.tensors.get(n)!;
      assert.deepEqual(new Uint32Array(u.buffer, u.byteOffset, u.length), new Uint32Array(t.buffer, t.byteOffset, t.length), n);
    }
    const ids = expected(name).ids;
    assert.deepEqual(b.forward(ids).logits, a.forward(ids).logits);
    const st = readFileSync(join(out, 'model.safetensors'));
    const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8'));
    assert.deepEqual(header.__metadata__, { format: 'pt' });
    // Formula slopes are written out as HF's save_pretrained does.
    if (a.config.position_embedding_type === 'alibi') assert.ok('transformer.relative_pe.slopes' in header);
    rmSync(out, { recursive: true, force: true });
  }
  // A sharded save reloads too.
  const a = loadModel(dir('gpt2-gelu'), { backend: 'js' });
  const out = join(scratch(), 'sharded');
  a.save(out, { maxShardBytes: 8000 });
  assert.ok(JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8')).weight_map);
  assert.deepEqual(loadModel(out, { backend: 'js' }).forward(expected('gpt2-gelu').ids).logits, a.forward(expected('gpt2-gelu').ids).logits);
});

test('Model.fromTensors builds the same model in memory; missing or mis-sized tensors are errors', () => {
  const a = loadModel(dir('btlm-learned-gelu-old-mup-names'), { backend: 'js' });
  const b = Model.fromTensors(a.config, Object.fromEntries(a.params.tensors), { backend: 'js' });
  const ids = expected('btlm-learned-gelu-old-mup-names').ids;
  assert.deepEqual(b.forward(ids).logits, a.forward(ids).logits);

  const cfg = makeConfig({ model_type: 'btlm', position_embedding_type: 'alibi', activation_function: 'swiglu',
    vocab_size: 10, n_positions: 4, n_embd: 8, n_layer: 1, n_head: 2, n_inner: 12 });
  const t = new Map(a.params.tensors); // wrong sizes for this config
  assertMugptError(() => Model.fromTensors(cfg, t), 'Model.fromTensors', 'transformer.wte.weight', '[10, 8]');
  const one = loadModel(dir('btlm-alibi-h4-stored-slopes'), { backend: 'js' });
  const missing = new Map(one.params.tensors);
  missing.delete('transformer.h.1.mlp.c_fc2.bias');
  assertMugptError(() => Model.fromTensors(one.config, missing), 'transformer.h.1.mlp.c_fc2.bias');
  // Slopes may be left out: the formula gives them.
  const noSlopes = new Map(one.params.tensors);
  noSlopes.delete('transformer.relative_pe.slopes');
  assert.deepEqual(Model.fromTensors(one.config, noSlopes).params.slopes, Float32Array.from([0.25, 0.0625, 0.015625, 0.00390625]));
});

test('an untied head (tie_word_embeddings false) uses lm_head.weight; it saves and reloads', () => {
  const name = 'btlm-alibi-h4-stored-slopes';
  const tied = loadModel(dir(name), { backend: 'js' });
  const cfg = { ...tied.config, tie_word_embeddings: false };
  const wte = tied.params.tensors.get('transformer.wte.weight')!;
  const head = wte.map((x) => 2 * x); // a power of 2: the logits double exactly
  const untied = Model.fromTensors(cfg, new Map([...tied.params.tensors, ['lm_head.weight', head]]), { backend: 'js' });
  const ids = expected(name).ids;
  assert.deepEqual(untied.forward(ids).logits, tied.forward(ids).logits.map((x) => 2 * x));
  assertMugptError(() => Model.fromTensors(cfg, tied.params.tensors), 'lm_head.weight');

  for (const maxShardBytes of [undefined, 6000]) {
    const out = join(scratch(), 'untied');
    untied.save(out, { maxShardBytes });
    const back = loadModel(out, { backend: 'js' });
    assert.equal(back.config.tie_word_embeddings, false);
    assert.deepEqual(back.params.lmHead, head);
    assert.deepEqual(back.forward(ids).logits, untied.forward(ids).logits);
  }
  // Without its lm_head.weight, the checkpoint of an untied config is refused.
  const out = join(scratch(), 'untied-missing');
  tied.save(out);
  const cj = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  writeFileSync(join(out, 'config.json'), JSON.stringify({ ...cj, tie_word_embeddings: false }));
  assertMugptError(() => loadModel(out), 'model.safetensors', 'lm_head.weight', 'tie_word_embeddings');
});

test('model.generate: greedy tokens of the PyTorch fixture, streamed', async () => {
  const name = 'btlm-alibi-h6-factor-sharded';
  const model = loadModel(dir(name), { backend: 'js' });
  const { prompt, greedy } = expected(name).decode;
  const ids: number[] = [];
  for await (const tok of model.generate(prompt, { maxNewTokens: greedy.length, temperature: 0, ignoreEos: true })) ids.push(tok.id);
  assert.deepEqual(ids, greedy);
});

test('model.tokenizer: the folder\'s own tokenizer when it has one, else the bundled GPT-2', async () => {
  assert.equal(loadModel(dir('gpt2-gelu'), { backend: 'js' }).tokenizer.vocabSize, 50257);
  const d = copyOf('gpt2-gelu');
  const own = await trainBpe(['abc abd abe'], { vocabSize: 260 });
  saveTokenizerJson(own, join(d, 'tokenizer.json'));
  const model = loadModel(d, { backend: 'js' });
  assert.equal(model.tokenizer.vocabSize, own.vocabSize);
  assert.ok(own.vocabSize < 300);
  const ids: number[] = [];
  for await (const t of model.generate([1, 2, 3], { maxNewTokens: 3, ignoreEos: true })) ids.push(t.id);
  assert.equal(ids.length, 3);
});

test('bad checkpoints: shape mismatch, missing or unexpected tensor, unknown model_type or activation', () => {
  // Shape mismatch: config.json says a wider FFN than the tensors have.
  let d = copyOf('gpt2-gelu');
  const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, n_inner: 48 }));
  assertMugptError(() => loadModel(d), 'model.safetensors', 'transformer.h.0.mlp.c_fc.weight', '[16, 64]', '[16, 48]', 'config.json');

  // Missing tensor.
  d = copyOf('btlm-alibi-h4-stored-slopes');
  const m = loadModel(d, { backend: 'js' });
  const stored = expectedTensors(m.config).map((t) => ({ ...t, data: m.params.tensors.get(t.name)! }));
  writeCheckpoint(d, stored.filter((t) => t.name !== 'transformer.h.1.attn.c_proj.weight'));
  assertMugptError(() => loadModel(d), 'transformer.h.1.attn.c_proj.weight', 'config.json');

  // A tensor the config does not explain (a learned-position table in an ALiBi model).
  writeCheckpoint(d, [...stored, { name: 'transformer.wpe.weight', shape: [8, 16], data: new Float32Array(128) }]);
  assertMugptError(() => loadModel(d), 'unexpected tensor "transformer.wpe.weight"');
  writeCheckpoint(d, stored);
  assert.ok(loadModel(d, { backend: 'js' }).forward([[1, 2]]).logits.every(Number.isFinite));

  // Unknown model_type and activation, with the file named.
  d = copyOf('gpt2-gelu');
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, model_type: 'gptj' }));
  assertMugptError(() => loadModel(d), join(d, 'config.json'), 'model_type', 'gptj');
  writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, activation_function: 'quick_gelu' }));
  assertMugptError(() => loadModel(d), join(d, 'config.json'), 'activation_function', 'quick_gelu');
});

test('bad ids: out of vocabulary, not integers, ragged or empty rows, too long for learned positions', () => {
  const model = loadModel(dir('gpt2-gelu'), { backend: 'js' }); // V = 64, n_positions = 16
  assertMugptError(() => model.forward([[1, 2, 64]]), 'ids[0][2]', '64', '[0, 64)');
  assertMugptError(() => model.forward([[1, 2], [3, -1]]), 'ids[1][1]', '-1');
  assertMugptError(() => model.forward([[1, 2.5]]), 'ids[0][1]', '2.5');
  assertMugptError(() => model.forward([[1, 2, 3], [4, 5]]), 'same length', 'row 1 has 2');
  assertMugptError(() => model.forward([]), 'non-empty');
  assertMugptError(() => model.forward([[]]), 'empty');
  assertMugptError(() => model.forward([Array(17).fill(0)]), '17 positions', 'n_positions');
  const cache = model.newCache();
  assertMugptError(() => model.step(cache, [70]), 'step: ids[0]', '70');
  assertMugptError(() => model.step(cache, []), 'non-empty');
  assert.equal(cache.length, 0);
  // Generation refuses a too-long prompt before any step.
  assert.throws(() => model.generate(Array(17).fill(1)), MugptError);
});
