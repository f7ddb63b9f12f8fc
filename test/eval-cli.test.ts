// `mugpt eval MODEL --task …`: results.json in lm-eval's layout, the Markdown table, samples files;
// `--text FILE` scores the whole file; bad input ends in one line naming file, line and field, with
// nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, fixture, scratch } from './helpers.js';

const gpt2 = fixture('eval', 'gpt2');
const tasks = (...p: string[]): string => fixture('eval', 'tasks', ...p);
const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, 'eval', ...args], { encoding: 'utf8', env: { ...process.env, MUGPT_BACKEND: 'js' } });

interface RefTask { name: string; metrics: Record<string, [number, number | null]>; samples: Array<{ loglikelihoods: number[] }> }
const ref = JSON.parse(readFileSync(fixture('eval', 'tasks.json'), 'utf8')) as { runs: Array<{ model: string; maxLength: number | null; numFewshot: number; tasks: RefTask[] }> };

test('eval --task: results.json in lm-eval\'s layout, the Markdown table, samples_NAME.jsonl', () => {
  const out = join(scratch(), 'out');
  const r = run(gpt2, '--task', `hellaswag=${tasks('hellaswag')}`, '--task', `wikitext=${tasks('wikitext')}`, '--task', `mine_ll=${tasks('generic', 'll.jsonl')}`,
    '--batch-size', '2', '--log-samples', '--output', out);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  const want = ref.runs[0].tasks;
  for (const name of ['hellaswag', 'wikitext', 'mine_ll']) {
    const w = want.find((t) => t.name === name)!;
    for (const [m, [v, se]] of Object.entries(w.metrics)) {
      const got = res.results[name][`${m},none`];
      assert.ok(Math.abs(got - v) <= 1e-3 * Math.max(1, Math.abs(v)), `${name} ${m}: ${got} vs ${v}`);
      assert.equal(se === null, res.results[name][`${m}_stderr,none`] === 'N/A', `${name} ${m}_stderr`);
    }
  }
  assert.deepEqual(res['n-samples'].hellaswag, { original: 3, effective: 3 });
  assert.equal(res['n-shot'].hellaswag, 0);
  assert.equal(res.versions.boolq, undefined);
  assert.equal(res.versions.wikitext, 2);
  assert.deepEqual(res.higher_is_better.wikitext, { word_perplexity: false, byte_perplexity: false, bits_per_byte: false });
  assert.equal(res.config.max_length, 128);
  assert.equal(res.config.batch_size, 2);
  // the table: lm-eval's columns, one row per metric, the task's name and version on its first row
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^\|\s*Tasks\s*\|Version\|Filter\|n-shot\|\s*Metric\s*\|\s*\|\s*Value\s*\|\s*\|\s*Stderr\s*\|$/);
  assert.match(lines[2], /^\|hellaswag\s*\|\s*1\|none\s*\|\s*0\|acc\s*\|↑\s*\|\s*\d\.\d{4}\|±\s*\|\s*\d\.\d{4}\|$/);
  assert.match(r.stdout, /\|wikitext\s*\|\s*2\|none\s*\|\s*0\|word_perplexity\s*\|↓/);
  assert.match(r.stdout, /\|bits_per_byte\s*\|↓\s*\|\s*\d+\.\d{4}\|±\s*\|\s*N\/A\|/);
  // samples: one line a document, log-likelihoods per request
  const samples = readFileSync(join(out, 'samples_hellaswag.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(samples.length, 3);
  samples.forEach((s, i) => {
    assert.equal(s.doc_id, i);
    assert.equal(s.loglikelihoods.length, 4);
    assert.equal(s.is_greedy.length, 4);
    s.loglikelihoods.forEach((ll: number, j: number) => assert.ok(Math.abs(ll - want[0].samples[i].loglikelihoods[j]) < 1e-3));
  });
  const wiki = readFileSync(join(out, 'samples_wikitext.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(wiki[0].loglikelihoods.length, 1); // rolling: the document total
  assert.deepEqual(readdirSync(out).sort(), ['results.json', 'samples_hellaswag.jsonl', 'samples_mine_ll.jsonl', 'samples_wikitext.jsonl']);
});

test('eval --task on a GGUF file: F32 gives the folder\'s numbers, Q8_0 runs too', () => {
  const dir = scratch();
  const args = ['--task', `hellaswag=${tasks('hellaswag')}`, '--task', `mine_ll=${tasks('generic', 'll.jsonl')}`];
  let n = 0;
  const results = (model: string): Record<string, Record<string, number>> => {
    const out = join(dir, `out-${n++}`);
    const r = run(model, ...args, '--output', out);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).results;
  };
  for (const type of ['f32', 'q8_0']) {
    const gguf = join(dir, `gpt2-${type}.gguf`);
    const q = spawnSync(process.execPath, [cliPath, 'quantize', gpt2, '--type', type, '-o', gguf], { encoding: 'utf8' });
    assert.equal(q.status, 0, q.stderr);
    const a = results(gguf), b = results(gpt2);
    const tol = type === 'f32' ? 1e-5 : 5e-2;
    const ll = (x: Record<string, Record<string, number>>): number => Math.log(x.mine_ll['perplexity,none']);
    assert.ok(Math.abs(ll(a) - ll(b)) <= tol * Math.abs(ll(b)), `${type}: log perplexity ${ll(a)} vs ${ll(b)}`);
    if (type === 'f32') assert.deepEqual(a.hellaswag, b.hellaswag);
  }
});

test('eval --text scores the whole file with rolling windows, by default as long as the model\'s context', () => {
  const req = JSON.parse(readFileSync(fixture('eval', 'requests.json'), 'utf8')) as { models: Record<string, Array<{ maxLength: number; rolling: Array<{ text: string; ids: number[]; windows: unknown[]; logprob: number }> }>> };
  const c = req.models.gpt2.find((x) => x.maxLength === 128)!;
  const doc = c.rolling[c.rolling.length - 1];
  const file = join(scratch(), 'doc.txt');
  writeFileSync(file, doc.text);
  const r = run(gpt2, '--text', file, '--json');
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.maxLength, 128);
  assert.equal(got.tokens, doc.ids.length);
  assert.equal(got.windows, doc.windows.length);
  assert.ok(Math.abs(got.logprob - doc.logprob) < 1e-4 * Math.abs(doc.logprob), `${got.logprob} vs ${doc.logprob}`);
  assert.ok(Math.abs(got.loss - -doc.logprob / doc.ids.length) < 1e-4);
  const short = c.rolling.find((x) => x.windows.length >= 3 && x.text === doc.text);
  assert.ok(short);
  const r16 = run(gpt2, '--text', file, '--max-length', '16', '--json');
  const w16 = req.models.gpt2.find((x) => x.maxLength === 16)!.rolling.find((x) => x.text === doc.text)!;
  assert.ok(Math.abs(JSON.parse(r16.stdout).logprob - w16.logprob) < 1e-4 * Math.abs(w16.logprob));
});

test('eval: bad input ends in one line naming the file, line and field, and writes nothing', () => {
  const dir = scratch();
  const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const cases: Array<[string[], RegExp]> = [
    [['--task', `mine=${join(dir, 'missing.jsonl')}`], /missing\.jsonl: no such file/],
    [['--task', `mine=${file('bad.jsonl', '{"context": "a", "choices": ["b"], "gold": 0}\n{"context": \n')}`], /bad\.jsonl:2: invalid JSON/],
    [['--task', `mine=${file('nofield.jsonl', '{"context": "a", "choices": ["b", "c"], "gold": 0}\n{"choices": ["b", "c"], "gold": 1}\n')}`], /nofield\.jsonl:2: field "context" is missing/],
    [['--task', `mine=${file('gold.jsonl', '{"context": "a", "choices": ["b", "c"], "gold": 2}\n')}`], /gold\.jsonl:1: field "gold" is 2, out of range for 2 choices/],
    [['--task', `mine=${file('empty.jsonl', '')}`], /empty\.jsonl: no documents/],
    [['--task', `hellaswg=${file('typo.jsonl', '{"ctx_a": "a"}\n')}`], /"hellaswg" is not a built-in task \(hellaswag, .*\), so it is read as a generic file/],
    [['--task', `hellaswag=${file('hs.jsonl', '{"activity_label": "x", "ctx_a": "a", "ctx_b": "b", "endings": ["c", "d"]}\n')}`], /hs\.jsonl:1: field "label" is missing/],
    [['--task', `piqa=${tasks('hellaswag')}`], /a folder without the PIQA valid\.jsonl/],
    [['--task', `mine=${file('long.jsonl', `{"context": "a", "continuation": "${' the fox'.repeat(80)}"}\n`)}`], /mine: .*long\.jsonl:1: loglikelihood: the continuation has \d+ tokens, more than the maximum length 128/],
    [['--task', `mine=${tasks('generic', 'll.jsonl')}`, '--max-length', '200'], /--max-length: 200 is more than the model's context of 128/],
    [['--task', 'nothing'], /--task: expected NAME=PATH/],
    [['--task', `mine=${tasks('generic', 'll.jsonl')}`, '--num-fewshot', '5'], /--num-fewshot 5: mine has 3 documents and no training split/],
  ];
  for (const [args, msg] of cases) {
    const out = join(dir, 'out');
    const r = run(gpt2, ...args, '--output', out);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(!existsSync(out), `${args.join(' ')}: ${out} was created`);
  }
  const r = run(gpt2, '--task', `mine=${tasks('generic', 'll.jsonl')}`);
  assert.match(r.stderr, /--task needs --output DIR/);
  assert.match(run(gpt2).stderr, /exactly one of --task NAME=PATH, --text, --run or --shards/);
});
