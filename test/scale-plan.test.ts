import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../src/errors.js';
import { planMembers, studyFlops } from '../src/scale/plan.js';
import { loadStudy, parseStudy } from '../src/scale/study.js';
import { repoRoot, scratch } from './helpers.js';

const base = {
  arch: 'btlm',
  data: { preset: 'sotu', vocab_size: 512, seq_len: 64 },
  sizes: [{ name: 'a', n_embd: 24, n_layer: 2, n_head: 2 }, { name: 'b', n_embd: 48, n_layer: 3, n_head: 4 }],
  batch_size: 4,
  mup: { sweep: { widths: [24, 48], heads: 2 } },
};

test('planner: parameters counted by hand, 20 tokens a parameter rounded up to whole steps, 6·N·D plus attention', () => {
  const study = parseStudy(base, 'study.yaml');
  const plans = planMembers(study);
  assert.deepEqual(plans.map((m) => m.name), ['a-sp', 'a-mup', 'b-sp', 'b-mup']);
  // btlm, D = 24, SwiGLU n_inner = round(8/3·24) = 64, ALiBi (no position table), tied embeddings:
  // per layer ln_1 2D + c_attn 3D²+3D + c_proj D²+D + ln_2 2D + c_fc, c_fc2 2(D·I+I) + mlp.c_proj I·D+D; ln_f 2D
  const D = 24, I = 64, L = 2, V = 512;
  const perLayer = 2 * D + (3 * D * D + 3 * D) + (D * D + D) + 2 * D + 2 * (D * I + I) + (I * D + D);
  const nonEmb = L * perLayer + 2 * D;
  assert.equal(plans[0].nonEmbeddingParams, nonEmb);
  assert.equal(plans[0].params, nonEmb + V * D);
  assert.equal(plans[1].params, plans[0].params, 'SP and μP members share the shape');
  const tokensPerStep = 4 * 64;
  const steps = Math.ceil((20 * (nonEmb + V * D)) / tokensPerStep);
  assert.equal(plans[0].steps, steps);
  assert.equal(plans[0].tokens, steps * tokensPerStep);
  assert.equal(plans[0].flops.dense, 6 * plans[0].params * plans[0].tokens);
  assert.equal(plans[0].flops.attention, 6 * L * 64 * D * plans[0].tokens);
  assert.equal(plans[0].flops.total, plans[0].flops.dense + plans[0].flops.attention);
  assert.deepEqual(studyFlops(1000, 20000, { nLayer: 2, nCtx: 128, dModel: 64 }), { dense: 1.2e8, attention: 6 * 2 * 128 * 64 * 20000, total: 1.2e8 + 6 * 2 * 128 * 64 * 20000 });

  const ne = planMembers(parseStudy({ ...base, token_params: 'non_embedding', tokens_per_param: 10 }, 'study.yaml'));
  assert.equal(ne[0].steps, Math.ceil((10 * nonEmb) / tokensPerStep));
});

test('planner: a member is a valid run config; μP members carry the proxy base width and the recipe multipliers', () => {
  const plans = planMembers(parseStudy(base, 'study.yaml'));
  const mup = plans[3].runFields(0.01, 'study-dir');
  assert.equal(mup.parameterization, 'mup');
  assert.deepEqual(mup.mup, { base_width: 24, base_ffn_width: 64, embeddings_scale: 14.6, output_alpha: 2.22 });
  assert.deepEqual(mup.data, { shards: join('study-dir', 'data', 'corpus') });
  assert.equal(mup.out_dir, join('study-dir', 'members', 'b-mup'));
  assert.equal((mup.model as Record<string, unknown>).initializer_range, 0.073);
  assert.equal((plans[2].runFields(0.01, 'd').model as Record<string, unknown>).initializer_range, 0.02);
  assert.deepEqual(mup.schedule, { warmup_steps: Math.round(0.1 * plans[3].steps), decay: 'linear', end_ratio: 0.1 });
});

test('study files: quick overrides merge, errors name the file and the field', () => {
  const dir = scratch('mugpt-scale-');
  const file = join(dir, 's.yaml');
  writeFileSync(file, 'data: { preset: sotu, vocab_size: 512, seq_len: 64 }\nsizes: [{ name: a, n_embd: 16, n_layer: 1, n_head: 2 }]\n'
    + 'mup: { sweep: { widths: [16, 32], steps: 50 } }\nquick:\n  mup: { sweep: { steps: 5 } }\n  data: { seq_len: 32 }\n');
  const full = loadStudy(file), quick = loadStudy(file, { quick: true });
  assert.equal(full.sweep.steps, 50);
  assert.equal(quick.sweep.steps, 5);
  assert.deepEqual(quick.sweep.widths, [16, 32], 'mappings merge key by key');
  assert.equal(quick.data.seqLen, 32);
  assert.equal(quick.data.vocabSize, 512);

  const bad = (raw: unknown, re: RegExp, opts = {}) => assert.throws(() => parseStudy(raw, 'x.yaml', opts), (e: unknown) => e instanceof MugptError && re.test(e.message));
  bad({ ...base, sizes: [{ name: 'a', n_embd: 25, n_layer: 1, n_head: 2 }] }, /^x\.yaml: sizes\[0\]\.n_embd \(25\) must be a multiple of n_head \(2\)/);
  bad({ ...base, sizes: [{ name: 'a', n_embd: 24, n_layer: 1, n_head: 2, width: 3 }] }, /sizes\[0\]\.width is not a known field/);
  bad({ ...base, data: { preset: 'sotu', seq_len: 64 } }, /data\.vocab_size is required/);
  bad({ ...base, data: { preset: 'pile', vocab_size: 512, seq_len: 64 } }, /data\.preset must be one of sotu/);
  bad({ ...base, sizes: [base.sizes[0], base.sizes[0]] }, /sizes\[1\]\.name repeats "a"/);
  bad({ ...base, mup: { sweep: { lrs: '2^-3..2^-6' } } }, /mup\.sweep\.lrs grid "2\^-3\.\.2\^-6" must run upwards/);
  bad({ ...base, downstream_tasks: ['piqa'] }, /downstream_tasks\[0\] must be NAME=PATH/);
  assert.deepEqual(parseStudy({ ...base, downstream_tasks: ['piqa=tasks/piqa'] }, join('dir', 'x.yaml')).downstreamTasks, [`piqa=${join(process.cwd(), 'dir', 'tasks', 'piqa')}`]);
  bad({ ...base, token_params: 'embedding' }, /token_params must be one of total, non_embedding/);
  bad(base, /quick is needed for --quick/, { quick: true });
  bad({ ...base, quick: { sizes: [{ name: 'q', n_embd: 8, n_layer: 1, n_head: 3 }] } }, /quick\.sizes\[0\]\.n_embd \(8\) must be a multiple of n_head \(3\)/, { quick: true });
  assert.throws(() => loadStudy(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the study file \(ENOENT\)/);
});

test('runs/scaling-cpu.yaml: at least 5 sizes over ≥ 30× (non-embedding) parameters, SP and μP; its quick variant is smaller', () => {
  const full = planMembers(loadStudy(join(repoRoot, 'runs', 'scaling-cpu.yaml')));
  const quick = planMembers(loadStudy(join(repoRoot, 'runs', 'scaling-cpu.yaml'), { quick: true }));
  const sizes = new Set(full.map((m) => m.size.name));
  assert.ok(sizes.size >= 5);
  const ne = full.map((m) => m.nonEmbeddingParams);
  assert.ok(Math.max(...ne) / Math.min(...ne) >= 30);
  assert.deepEqual([...new Set(full.map((m) => m.parameterization))], ['sp', 'mup']);
  for (const m of full) assert.equal(m.tokens, Math.ceil((20 * m.nonEmbeddingParams) / 1024) * 1024);
  const sum = (ms: typeof full) => ms.reduce((a, m) => a + m.flops.total, 0);
  assert.ok(sum(quick) < sum(full) / 20);
});
