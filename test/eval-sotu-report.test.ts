import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EvalLM } from '../src/eval/lm.js';
import { encodePair } from '../src/eval/requests.js';
import { scoreSotu } from '../src/eval/sotu-report.js';
import { sotuCloze, sotuNext } from '../src/eval/sotu-tasks.js';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { Model } from '../src/model/model.js';
import { cliPath, fixture, repoRoot, scratch } from './helpers.js';

const split = { seed: 0, valFraction: 0.05 };

/** Σ log-softmax of the continuation and whether each of its tokens is the argmax, from one full forward. */
function direct(model: Model, context: string, continuation: string): { ll: number; greedy: boolean } {
  const r = encodePair(model.tokenizer, 50256, context, continuation);
  const ids = r.context.concat(r.continuation);
  const { logits } = model.forward([ids]); // [1, T, V]
  const V = model.vocabSize;
  let ll = 0, greedy = true;
  r.continuation.forEach((tok, j) => {
    const row = logits.subarray((r.context.length + j - 1) * V, (r.context.length + j) * V);
    let max = -Infinity, arg = 0;
    for (let v = 0; v < V; v++) if (row[v] > max) { max = row[v]; arg = v; }
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
    ll += row[tok] - max - Math.log(z);
    if (arg !== tok) greedy = false;
  });
  return { ll, greedy };
}

test('scoreSotu: cloze acc = greedy last words, next-sentence acc / acc_norm = argmax of (length-normalized) log-likelihoods, as a direct forward finds', () => {
  const cfg = makeConfig({ model_type: 'btlm', n_layer: 1, n_embd: 8, n_head: 2, n_positions: 64, vocab_size: 50257, position_embedding_type: 'alibi', activation_function: 'swiglu', n_inner: 16 });
  const model = Model.fromTensors(cfg, new Map(initModel(cfg, { seed: 11 }).map((t) => [t.name, t.data])));
  const r = scoreSotu(new EvalLM(model, model.tokenizer, { maxLength: 4096 }), join(repoRoot, 'runs', 'btlm-tiny.yaml'));
  const cloze = sotuCloze(split), next = sotuNext(split);
  assert.equal(r.cloze.n, cloze.length);
  assert.equal(r.next.n, next.length);
  assert.equal(r.speeches, 12);
  const greedy = cloze.filter((d) => direct(model, d.context, d.continuation).greedy).length;
  assert.equal(r.cloze.acc.value, greedy / cloze.length);
  let acc = 0, accNorm = 0;
  for (const d of next) {
    const lls = d.choices.map((c) => direct(model, d.context, ` ${c}`).ll);
    const norm = lls.map((ll, i) => ll / [...d.choices[i]].length);
    if (lls.indexOf(Math.max(...lls)) === d.gold) acc++;
    if (norm.indexOf(Math.max(...norm)) === d.gold) accNorm++;
  }
  assert.equal(r.next.acc.value, acc / next.length);
  assert.equal(r.next.acc_norm.value, accNorm / next.length);
  const p = r.next.acc.value;
  assert.ok(Math.abs(r.next.acc.stderr! - Math.sqrt((p * (1 - p) * next.length) / (next.length - 1) / next.length)) < 1e-12);
  assert.equal(r.next.chance, 0.25);
});

test('mugpt train on the sotu corpus ends with the held-out tasks next to chance', () => {
  const tmp = scratch();
  const run = join(tmp, 'run.yaml');
  writeFileSync(run, [
    'model: { model_type: btlm, n_layer: 1, n_embd: 16, n_head: 2, n_inner: 32, n_positions: 64, vocab_size: 50257, activation_function: swiglu, position_embedding_type: alibi }',
    'data: { corpus: sotu, tokenizer: gpt2, val_fraction: 0.05 }',
    'batch_size: 2', 'seq_len: 32', 'steps: 2', 'optimizer: { lr: 0.001 }', 'eval: { interval: 0 }', `out_dir: ${join(tmp, 'out')}`, '',
  ].join('\n'));
  const r = spawnSync(process.execPath, [cliPath, 'train', run, '--sample', 'The'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /held-out tasks, from the 12 State of the Union speeches this run did not train on:/);
  assert.match(r.stdout, /\| sotu_cloze \(last word, LAMBADA-style\) \| \d+ \| acc \| \d+\.\d % ± \d+\.\d \| 2\.5 % \(always "States"\) \|/);
  assert.match(r.stdout, /\| sotu_next \(next sentence of 4, HellaSwag-style\) \| \d+ \| acc \| \d+\.\d % ± \d+\.\d \| 25 % \|/);
  assert.match(r.stderr, /--task sotu_cloze=.*run\.yaml --task sotu_next=/);
});

test('mugpt eval --task sotu_next=RUN needs a run on the sotu corpus, and says so naming the run file', () => {
  const tmp = scratch();
  const run = join(tmp, 'text-run.yaml');
  writeFileSync(run, `model: btlm-tiny\ndata: { text: ${join(tmp, 'a.txt')} }\nbatch_size: 2\nseq_len: 32\nsteps: 2\noptimizer: { lr: 0.001 }\nout_dir: ${join(tmp, 'out')}\n`);
  const r = spawnSync(process.execPath, [cliPath, 'eval', fixture('model', 'gpt2-gelu'), '--task', `sotu_next=${run}`, '--output', join(tmp, 'res')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^mugpt: .*text-run\.yaml: data is not "corpus: sotu", so it holds out no State of the Union speeches/);
});
