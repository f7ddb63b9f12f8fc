import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scratch } from './helpers.js';
import { crossEntropy, train } from '../src/train/trainer.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from '../src/train/checkpoint.js';
import { openCheckpoint, readConfigJson } from '../src/io/hf.js';
import { MugptError } from '../src/errors.js';
import { initModel } from '../src/model/init.js';
import { bigram, bigramShards as shards, bigramRun as runConfig, factory, V } from './train-bigram.js';

const trainLosses = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  .filter((r) => r.kind === 'train').map((r) => [r.step, r.loss]);

test('resume continues the exact trajectory: losses and weights equal an uninterrupted run', async () => {
  const data = shards();
  const a = await train(runConfig(data, scratch()), { createModel: factory, plots: false });
  assert.equal(a.status, 'done');
  assert.equal(a.step, 12);
  const outB = scratch();
  const b1 = await train(runConfig(data, outB), { createModel: factory, stopAfterStep: 5, plots: false });
  assert.equal(b1.status, 'interrupted');
  assert.match(b1.checkpoint, /step-00000005$/);
  const b2 = await train(runConfig(data, outB), { createModel: factory, resume: true });
  assert.equal(b2.status, 'done');
  assert.deepEqual(trainLosses(b2.metrics), trainLosses(a.metrics));
  assert.equal(b2.valLoss, a.valLoss);
  const wa = loadCheckpoint(a.checkpoint), wb = loadCheckpoint(b2.checkpoint);
  for (let i = 0; i < wa.tensors.length; i++) assert.deepEqual(wb.tensors[i].data, wa.tensors[i].data, wa.tensors[i].name);
  assert.deepEqual(wb.optimizer.m, wa.optimizer.m);
  assert.deepEqual(wb.state.data, wa.state.data);
  // the loss went down, and the plots and a single checkpoint folder are there
  const l = trainLosses(a.metrics);
  assert.ok(l[l.length - 1][1] < l[0][1] - 0.3, `loss ${l[0][1]} → ${l[l.length - 1][1]}`);
  assert.ok(existsSync(join(outB, 'loss.svg')) && readFileSync(join(outB, 'lr.svg'), 'utf8').startsWith('<svg'));
  assert.deepEqual(readdirSync(join(outB, 'checkpoints')).sort(), ['latest', 'step-00000012']);
});

test('the checkpoint is a HF model folder with the μP config fields, plus optimizer and trainer state', async () => {
  const out = scratch();
  const r = await train(runConfig(shards(), out, { steps: 4 }), { createModel: factory, plots: false });
  const cfg = readConfigJson(r.checkpoint);
  assert.equal(cfg.model_type, 'btlm');
  assert.equal(cfg.position_embedding_type, 'learned');
  assert.equal(cfg.mup_width_scale, 0.5);
  assert.equal(cfg.mup_embeddings_scale, 10);
  assert.equal(cfg.mup_scale_qk_dot_by_d, true);
  const reader = openCheckpoint(r.checkpoint);
  assert.ok(reader.names().includes('transformer.h.0.mlp.c_proj.weight'));
  assert.deepEqual(reader.info('transformer.wte.weight').shape, [V, 8]);
  reader.close();
  const ck = loadCheckpoint(r.checkpoint);
  assert.equal(ck.state.step, 4);
  assert.equal(ck.optimizer.step, 4);
  assert.equal(ck.state.tokens, 2 * 4 * 16 + 2 * 2 * 32);
  assert.equal(latestCheckpoint(out), r.checkpoint);
});

test('an abort signal saves after the current step', async () => {
  const out = scratch();
  const ctl = new AbortController();
  const r = await train(runConfig(shards(), out), { createModel: factory, plots: false, signal: ctl.signal,
    onStep: (s) => { if (s.step === 3) ctl.abort(); } });
  assert.equal(r.status, 'interrupted');
  assert.equal(loadCheckpoint(r.checkpoint).state.step, 3);
});

test('NaN loss stops with a clear message and keeps the last good checkpoint', async () => {
  const out = scratch();
  // lossAndGrad call 13 is step 7's first micro-batch (2 per step); the checkpoint of step 4 stays
  await assert.rejects(train(runConfig(shards(), out), { createModel: (c, t) => bigram(c, t, 12), plots: false }),
    (e: unknown) => e instanceof MugptError && /step 7: the training loss is NaN; training stopped\. The last good checkpoint is .*step-00000004/.test(e.message));
  assert.equal(loadCheckpoint(latestCheckpoint(out)!).state.step, 4);
  const r = await train(runConfig(shards(), out), { createModel: factory, plots: false, resume: true });
  assert.equal(r.step, 12);
});

test('resume errors: another architecture, no checkpoint, or a checkpoint without --resume', async () => {
  const data = shards();
  const out = scratch();
  await train(runConfig(data, out, { steps: 2 }), { createModel: factory, plots: false });
  const wider = runConfig(data, out, { model: { model_type: 'gpt2', vocab_size: V, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 64 } });
  await assert.rejects(train(wider, { createModel: factory, resume: true }),
    /the checkpoint is of another architecture than test-run.yaml \(n_embd 8 vs 16, n_layer 1 vs 2, n_inner 16 vs null/);
  await assert.rejects(train(runConfig(data, out), { createModel: factory }), /already holds a checkpoint .*pass --resume/);
  await assert.rejects(train(runConfig(data, scratch()), { createModel: factory, resume: true }), /no checkpoint to resume from/);
  await assert.rejects(train(runConfig(data, out, { seed: 12 }), { createModel: factory, resume: true }), /saved with seed 11, but test-run.yaml says seed 12/);
});

test('a save that fails midway (e.g. a full disk) leaves the last good checkpoint and `latest` untouched', async () => {
  const out = scratch();
  const r = await train(runConfig(shards(), out, { steps: 2 }), { createModel: factory, plots: false });
  const good = loadCheckpoint(r.checkpoint);
  const broken = good.tensors.map((t, i) => (i === 3 ? { ...t, data: t.data.subarray(1) } : t)); // fails inside the tensor writer
  assert.throws(() => saveCheckpoint(out, { config: good.config, tensors: broken, optimizer: good.optimizer, state: { ...good.state, step: 3 } }),
    (e: unknown) => e instanceof MugptError && /saving the checkpoint of step 3 .* failed .*the last good checkpoint .*step-00000002 is untouched/.test(e.message));
  assert.equal(latestCheckpoint(out), r.checkpoint);
  assert.deepEqual(readdirSync(join(out, 'checkpoints')).sort(), ['latest', 'step-00000002']);
  assert.deepEqual(loadCheckpoint(r.checkpoint).tensors[3].data, good.tensors[3].data);
});

test('gradient accumulation over 2 micro-batches follows the same trajectory as one full batch', async () => {
  const data = shards();
  const one = await train(runConfig(data, scratch(), { grad_accum: 1, steps: 6 }), { createModel: factory, plots: false });
  const two = await train(runConfig(data, scratch(), { grad_accum: 2, steps: 6 }), { createModel: factory, plots: false });
  const a = trainLosses(one.metrics), b = trainLosses(two.metrics);
  assert.equal(a.length, 6);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i][1] - b[i][1]) < 1e-5, `step ${i + 1}: ${a[i][1]} vs ${b[i][1]}`);
});

test('the stand-in model\'s gradient matches central finite differences', () => {
  const cfg = runConfig(shards(), scratch()).model;
  const tensors = initModel(cfg, { seed: 5, parameterization: 'sp' });
  const m = bigram(cfg, tensors);
  const ids = [[1, 5, 9, 2, 7], [3, 3, 8, 1, 0]];
  const { grads } = m.lossAndGrad(ids);
  const g = { wte: grads['transformer.wte.weight'].slice(), b: grads['transformer.ln_f.bias'].slice() };
  const p = m.parameters();
  for (const [name, key, i] of [['transformer.wte.weight', 'wte', 5 * 8 + 3], ['transformer.wte.weight', 'wte', 60 * 8], ['transformer.ln_f.bias', 'b', 2]] as const) {
    const x = p[name][i], h = 1e-2;
    p[name][i] = x + h; const up = m.loss!(ids);
    p[name][i] = x - h; const down = m.loss!(ids);
    p[name][i] = x;
    const fd = (up - down) / (2 * h);
    assert.ok(Math.abs(fd - g[key][i]) < 1e-4 * Math.max(1, Math.abs(fd)) + 1e-6, `${name}[${i}]: ${g[key][i]} vs ${fd}`);
  }
});

test('a val split too short for the longest context fails before training starts', async () => {
  const out = scratch();
  await assert.rejects(train(runConfig(shards(1), out, { seq_len: 64, batch_size: 2, grad_accum: 1 }), { createModel: factory }),
    /\(val\): 32 tokens, fewer than one sequence of 64 for validation \(set eval.interval: 0/);
  assert.equal(latestCheckpoint(out), null);
});

test('a disk that fills during a save: ENOSPC stops the run and the last good checkpoint still resumes', async () => {
  const out = scratch();
  const data = shards();
  const fsMod = (await import('node:fs')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const realWriteSync = fsMod.writeSync;
  let budget = Infinity; // bytes the "disk" still takes
  (fsMod as { writeSync: unknown }).writeSync = (fd: number, buf: NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    const n = typeof rest[1] === 'number' ? rest[1] : buf.byteLength;
    if (n > budget) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    budget -= n;
    return (realWriteSync as (...a: unknown[]) => number)(fd, buf, ...rest);
  };
  syncBuiltinESMExports();
  try {
    // without evaluations, the first write after step 5 is the save of step 8, which runs out of space midway
    await assert.rejects(train(runConfig(data, out, { eval: { interval: 0 } }), { createModel: factory, plots: false,
      onStep: (s) => { if (s.step === 5) budget = 1500; } }),
    (e: unknown) => e instanceof MugptError && /saving the checkpoint of step 8 .*ENOSPC.*the last good checkpoint .*step-00000004 is untouched/.test(e.message));
    // with them, the metrics log (10 records, > 1 KB) written at step 8's evaluation is what fails: a clear error too
    const out2 = scratch();
    budget = Infinity;
    await assert.rejects(train(runConfig(data, out2), { createModel: factory, plots: false,
      onStep: (s) => { if (s.step === 5) budget = 500; } }),
    (e: unknown) => e instanceof MugptError && /after step 8: ENOSPC: no space left on device, write; training stopped\. The last good checkpoint is .*step-00000004/.test(e.message));
  } finally {
    (fsMod as { writeSync: unknown }).writeSync = realWriteSync;
    syncBuiltinESMExports();
  }
  assert.deepEqual(readdirSync(join(out, 'checkpoints')).sort(), ['latest', 'step-00000004']);
  const r = await train(runConfig(data, out, { eval: { interval: 0 } }), { createModel: factory, plots: false, resume: true });
  const full = await train(runConfig(data, scratch(), { eval: { interval: 0 } }), { createModel: factory, plots: false });
  assert.deepEqual(trainLosses(r.metrics), trainLosses(full.metrics));
});

test('a checkpoint of a fresh μP BTLM loads in the model and its forward is finite', async () => {
  const { Model } = await import('../src/model/model.js');
  const { makeConfig } = await import('../src/model/config.js');
  const { withMup } = await import('../src/model/mup.js');
  const { AdamW } = await import('../src/train/adamw.js');
  const cfg = withMup(makeConfig({ model_type: 'btlm', vocab_size: 96, n_embd: 32, n_layer: 2, n_head: 4, n_inner: 85, n_positions: 64,
    activation_function: 'swiglu', position_embedding_type: 'alibi', initializer_range: 0.073 }),
  { base: { width: 16 }, embeddingsScale: 14.6, outputAlpha: 2.22 });
  const tensors = initModel(cfg, { seed: 1, parameterization: 'mup', mupBase: { width: 16 } });
  const params = Object.fromEntries(tensors.map((t) => [t.name, t.data]));
  const opt = new AdamW({ parameters: () => params }, { lr: 0.01 });
  const out = scratch();
  const dir = saveCheckpoint(out, { config: cfg, tensors, optimizer: opt.exportState(),
    state: { format: 'mugpt-train-state', version: 1, step: 0, tokens: 0, seed: 1, data: { epoch: 0, unit: 0, offset: 0 }, optimizer: { step: 0, lr: 0.01 }, elapsed: 0 } });
  const model = Model.load(dir, { backend: 'js' });
  assert.equal(model.config.mup_width_scale, 0.5);
  const { logits, shape } = model.forward([[1, 2, 3, 4, 5]]);
  assert.deepEqual(shape, [1, 5, 96]);
  assert.ok(logits.every(Number.isFinite));
});

test('validation through forward logits: crossEntropy equals the stand-in model\'s own loss', () => {
  const cfg = runConfig(shards(), scratch()).model;
  const m = bigram(cfg, initModel(cfg, { seed: 2, parameterization: 'sp' }));
  const ids = [[1, 5, 9, 2, 7], [3, 3, 8, 1, 0]];
  const p = m.parameters(), D = 8, wte = p['transformer.wte.weight'], bias = p['transformer.ln_f.bias'];
  const logits = new Float32Array(2 * 5 * V);
  ids.forEach((row, b) => row.forEach((x, t) => {
    for (let v = 0; v < V; v++) { let s = 0; for (let d = 0; d < D; d++) s += wte[v * D + d] * (wte[x * D + d] + bias[d]); logits[(b * 5 + t) * V + v] = s; }
  }));
  assert.ok(Math.abs(crossEntropy(logits, [2, 5, V], ids) - m.loss!(ids)) < 1e-6);
  // uniform logits: ln V
  assert.ok(Math.abs(crossEntropy(new Float32Array(2 * 5 * V), [2, 5, V], ids) - Math.log(V)) < 1e-12);
});

test('with the real model (default factory): resume follows the uninterrupted trajectory exactly, and training lowers the loss', async () => {
  const data = shards();
  const a = await train(runConfig(data, scratch()), { plots: false });
  const outB = scratch();
  await train(runConfig(data, outB), { stopAfterStep: 5, plots: false });
  const b = await train(runConfig(data, outB), { resume: true, plots: false });
  assert.equal(b.status, 'done');
  assert.deepEqual(trainLosses(b.metrics), trainLosses(a.metrics));
  assert.equal(b.valLoss, a.valLoss);
  const wa = loadCheckpoint(a.checkpoint), wb = loadCheckpoint(b.checkpoint);
  for (let i = 0; i < wa.tensors.length; i++) assert.deepEqual(wb.tensors[i].data, wa.tensors[i].data, wa.tensors[i].name);
  const l = trainLosses(a.metrics);
  assert.ok(l[l.length - 1][1] < l[0][1], `loss ${l[0][1]} → ${l[l.length - 1][1]}`);
});

test('a trained checkpoint loads in PyTorch (tools/torch_load_check.py) with the same logits', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) { t.skip('PyTorch is not installed (apt-get install python3-torch)'); return; }
  const { Model } = await import('../src/model/model.js');
  const { repoRoot } = await import('./helpers.js');
  const r = await train(runConfig(shards(), scratch(), { steps: 4, eval: { interval: 0 } }), { plots: false });
  const ids = [[1, 5, 9, 2, 7, 3], [4, 4, 8, 0, 6, 1]];
  const ours = Model.load(r.checkpoint, { backend: 'js' }).forward(ids);
  const py = spawnSync('/usr/bin/python3', [join(repoRoot, 'tools', 'torch_load_check.py'), r.checkpoint, JSON.stringify(ids)], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const ref = JSON.parse(py.stdout) as { shape: number[]; logits: number[] };
  assert.deepEqual(ref.shape, [...ours.shape]);
  let maxB = 0, maxD = 0;
  ref.logits.forEach((b, i) => { maxB = Math.max(maxB, Math.abs(b)); maxD = Math.max(maxD, Math.abs(b - ours.logits[i])); });
  assert.ok(maxD <= 1e-4 * maxB, `max|Δ| ${maxD} (max|logit| ${maxB})`);
});
