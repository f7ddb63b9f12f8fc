import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, scratch } from './helpers.js';
import { loadRunConfig, parseRunConfig } from '../src/train/runconfig.js';
import { countParameters } from '../src/train/chinchilla.js';
import { MugptError } from '../src/errors.js';

const recipe = (name: string) => loadRunConfig(join(repoRoot, 'runs', name));

test('btlm-3b-8k.yaml: two context stages keep 3,932,160 tokens a step (119,727 + 39,909 steps), μP fields as HF', () => {
  const r = recipe('btlm-3b-8k.yaml');
  assert.deepEqual(r.stages, [
    { seqLen: 2048, batchSize: 1920, steps: 119_727, startStep: 0 },
    { seqLen: 8192, batchSize: 480, steps: 39_909, startStep: 119_727 },
  ]);
  assert.ok(Math.abs(r.tokens / 627.7e9 - 1) < 0.001);
  assert.equal(r.model.model_type, 'btlm');
  assert.ok(Math.abs(r.model.mup_width_scale - 0.1) < 1e-12);
  assert.equal(r.model.mup_embeddings_scale, 14.6);
  assert.equal(r.model.mup_output_alpha, 2.22);
  assert.equal(r.model.mup_scale_qk_dot_by_d, true);
  assert.equal(r.model.position_embedding_type, 'alibi');
  assert.deepEqual(r.schedule, { peakLr: 0.012, warmupSteps: 95, totalSteps: 159_636, decay: 'linear', endRatio: 0.0084483 });
  assert.deepEqual(r.optimizer, { lr: 0.012, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
  assert.equal(r.clipGradNorm, 1);
  assert.deepEqual(r.data, { kind: 'shards', dir: join(repoRoot, 'data', 'slimpajama-gpt2') });
});

test('cerebras-gpt-111m recipes: SP and μP (btlm with learned positions, m = 3)', () => {
  const sp = recipe('cerebras-gpt-111m.yaml');
  assert.equal(sp.parameterization, 'sp');
  assert.equal(countParameters(sp.model), 111_050_496);
  assert.deepEqual(sp.stages, [{ seqLen: 2048, batchSize: 120, steps: 9037, startStep: 0 }]);
  assert.equal(sp.schedule.warmupSteps, 1525);
  const mup = recipe('cerebras-gpt-111m-mup.yaml');
  assert.equal(mup.model.model_type, 'btlm');
  assert.equal(mup.model.position_embedding_type, 'learned');
  assert.equal(mup.model.activation_function, 'gelu');
  assert.equal(mup.model.initializer_range, 0.08);
  assert.ok(Math.abs(mup.model.mup_width_scale - 1 / 3) < 1e-12);
  assert.deepEqual(mup.mupBase, { width: 256, ffnWidth: 1024 });
  const tiny = recipe('btlm-tiny.yaml');
  assert.equal(tiny.data.kind, 'corpus');
  assert.deepEqual(tiny.stages.map((s) => [s.seqLen, s.batchSize, s.steps]), [[128, 8, 180], [256, 4, 60]]);
});

const base = () => ({ model: 'gpt2-tiny', data: { text: 'c.txt' }, batch_size: 4, seq_len: 64, steps: 10,
  optimizer: { lr: 1e-3 }, out_dir: 'out/x' });

test('tokens: chinchilla gives 20 tokens per parameter; warmup_tokens floors to steps', () => {
  const r = parseRunConfig({ ...base(), steps: undefined, tokens: 'chinchilla', schedule: { warmup_tokens: 1000 } }, 'x.yaml');
  const n = countParameters(r.model);
  assert.equal(r.totalSteps, Math.ceil(20 * n / (4 * 64)));
  assert.equal(r.schedule.warmupSteps, 3);
  const k = parseRunConfig({ ...base(), steps: undefined, tokens: 'chinchilla', tokens_per_param: 1 }, 'x.yaml');
  assert.equal(k.totalSteps, Math.ceil(n / 256));
  const t = parseRunConfig({ ...base(), steps: undefined, tokens: 2560 }, 'x.yaml');
  assert.equal(t.totalSteps, 10);
  assert.equal(t.gradAccum, 1);
  assert.equal(t.seed, 0);
  assert.deepEqual(t.eval, { interval: 100, batches: 4 });
});

test('bad run configs name the file and the field', () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base(), learning_rate: 1 }, /x.yaml: learning_rate is not a known field/],
    [{ ...base(), optimizer: { lr: 'fast' } }, /x.yaml: optimizer.lr must be a number, got "fast"/],
    [{ ...base(), optimizer: { lr: -1 } }, /optimizer.lr must be > 0, got -1/],
    [{ ...base(), optimizer: { lr: 1e-3, betas: [0.9] } }, /optimizer.betas must be a list of two numbers/],
    [{ ...base(), optimizer: { lr: 1e-3, momentum: 0.9 } }, /optimizer.momentum is not a known field/],
    [{ ...base(), batch_size: 2.5 }, /batch_size must be an integer, got 2.5/],
    [{ ...base(), model: 'gpt5' }, /model names an unknown preset "gpt5"/],
    [{ ...base(), model: { preset: 'gpt2-tiny', n_embd: 102 } }, /model: "n_embd" \(102\) must be divisible by "n_head" \(4\)/],
    [{ ...base(), model: { preset: 'gpt2-tiny', n_layers: 2 } }, /model.n_layers is not a known field/],
    [{ ...base(), model: { n_layer: 2 } }, /model.model_type is required/],
    [{ ...base(), seq_len: 4096 }, /seq_len \(4096\) exceeds the model's n_positions \(512\)/],
    [{ ...base(), grad_accum: 3 }, /grad_accum \(3\) must divide the batch size 4/],
    [{ ...base(), seq_len: [{ seq_len: 64, fraction: 0.5 }, { seq_len: 128, fraction: 0.4 }] }, /seq_len fractions must add up to 1/],
    [{ ...base(), batch_size: 1, seq_len: [{ seq_len: 64, fraction: 0.5 }, { seq_len: 128, fraction: 0.5 }] }, /seq_len\[1\].seq_len \(128\) must divide the tokens per step \(64 = batch_size × first seq_len\)/],
    [{ ...base(), batch_size: 12, seq_len: [{ seq_len: 64, fraction: 0.5 }, { seq_len: 96, fraction: 0.5 }] }, /seq_len\[0\].seq_len \(64\) must divide the longest seq_len \(96\)/],
    [{ ...base(), tokens: 100 }, /steps or tokens must be given \(exactly one/],
    [{ ...base(), steps: undefined, tokens: 'lots' }, /tokens must be a number or "chinchilla"/],
    [{ ...base(), parameterization: 'ntk' }, /parameterization must be one of sp, mup, got "ntk"/],
    [{ ...base(), parameterization: 'mup' }, /mup is required when parameterization is mup/],
    [{ ...base(), mup: { base_width: 64 } }, /mup is only allowed with parameterization: mup/],
    [{ ...base(), parameterization: 'mup', mup: { base_width: 64, embeddings_scale: 10 } }, /mup.output_alpha must be a number, got nothing/],
    [{ ...base(), data: {} }, /data needs exactly one of shards, text, corpus; got none/],
    [{ ...base(), data: { shards: 'a', text: 'b' } }, /got shards and text/],
    [{ ...base(), data: { corpus: 'pile' } }, /data.corpus must be one of sotu/],
    [{ ...base(), data: { shards: 'a', tokenizer: 'gpt2' } }, /data.tokenizer is not used with data.shards/],
    [{ ...base(), schedule: { warmup_steps: 20 } }, /warmup \(20 steps\) is longer than the run \(10 steps\)/],
    [{ ...base(), schedule: { decay: 'exp' } }, /schedule.decay must be one of linear, cosine, constant/],
    [{ ...base(), schedule: { end_ratio: 2 } }, /schedule.end_ratio must be ≤ 1, got 2/],
    [{ ...base(), clip_grad_norm: 0 }, /clip_grad_norm must be > 0/],
    [{ ...base(), out_dir: undefined }, /out_dir is required/],
    [{ ...base(), seed: -1 }, /seed must be ≥ 0/],
    [[1, 2] as unknown as Record<string, unknown>, /x.yaml:  must be a mapping/],
  ];
  for (const [raw, re] of bad) {
    assert.throws(() => parseRunConfig(JSON.parse(JSON.stringify(raw)), 'x.yaml'),
      (e: unknown) => e instanceof MugptError && re.test(e.message), `expected ${re}`);
  }
});

test('loadRunConfig: unreadable and malformed files', () => {
  const dir = scratch();
  assert.throws(() => loadRunConfig(join(dir, 'none.yaml')), /none.yaml: cannot read the run config \(ENOENT\)/);
  writeFileSync(join(dir, 'bad.yaml'), 'model: gpt2-tiny\nsteps: 10\nsteps: 20\n');
  assert.throws(() => loadRunConfig(join(dir, 'bad.yaml')),
    (e: Error) => e.message === `${join(dir, 'bad.yaml')}:3:1: not valid YAML: Map keys must be unique\n  steps: 10\n  steps: 20\n  ^`);
  writeFileSync(join(dir, 'ok.json'), JSON.stringify(base()));
  assert.equal(loadRunConfig(join(dir, 'ok.json')).totalSteps, 10);
});

test('relative paths in a run config resolve from its folder (as in corpus configs), or from baseDir', () => {
  const dir = scratch();
  const sub = join(dir, 'configs');
  mkdirSync(sub);
  const file = join(sub, 'run.yaml');
  writeFileSync(file, 'model: gpt2-tiny\ndata: { text: ../corpus.txt, tokenizer: tok }\nbatch_size: 4\nseq_len: 64\nsteps: 10\n'
    + `optimizer: { lr: 0.001 }\nout_dir: out/x\n`);
  const r = loadRunConfig(file);
  assert.equal(r.outDir, join(sub, 'out', 'x'));
  assert.deepEqual(r.data, { kind: 'text', path: join(dir, 'corpus.txt'), tokenizer: join(sub, 'tok'), valFraction: 0.05 });
  assert.equal(loadRunConfig(file, { baseDir: dir }).outDir, join(dir, 'out', 'x'));
  writeFileSync(file, `model: gpt2-tiny\ndata: { shards: ${JSON.stringify(join(dir, 'abs'))} }\nbatch_size: 4\nseq_len: 64\nsteps: 10\n`
    + 'optimizer: { lr: 0.001 }\nout_dir: o\n');
  assert.deepEqual(loadRunConfig(file).data, { kind: 'shards', dir: join(dir, 'abs') }, 'absolute paths stay');
  // The bundled tokenizer name is not a path.
  assert.equal((parseRunConfig({ ...base(), data: { text: 'c.txt' } }, 'x.yaml', dir).data as { tokenizer: string }).tokenizer, 'gpt2');
});
