import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeLongEval, scoreLongEval, type GenerateUntil } from '../src/eval/longeval.js';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { Model } from '../src/model/model.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { cliPath, scratch } from './helpers.js';

/** Reads a prompt back: the record's lines and the line asked about. */
function parsePrompt(context: string): { values: Map<number, string>; asked: number } {
  const values = new Map<number, string>();
  for (const m of context.matchAll(/^line (\d+): REGISTER_CONTENT is <(\d+)>$/gm)) values.set(Number(m[1]), m[2]);
  const asked = /in line (\d+)\? I need the number\.\nline \1: REGISTER_CONTENT is <$/.exec(context);
  assert.ok(asked, 'the prompt ends with the question and the answer\'s opening');
  return { values, asked: Number(asked[1]) };
}

test('make-longeval: deterministic records of N lines asking one of them, values in 1…50000', () => {
  const a = makeLongEval({ lines: [5, 40], count: 6, seed: 7 });
  assert.deepEqual(makeLongEval({ lines: [5, 40], count: 6, seed: 7 }), a);
  assert.notDeepEqual(makeLongEval({ lines: [5, 40], count: 6, seed: 8 }), a);
  assert.equal(a.length, 12);
  for (const d of a) {
    const { values, asked } = parsePrompt(d.context);
    assert.equal(values.size, d.num_lines);
    assert.deepEqual([...values.keys()], Array.from({ length: d.num_lines }, (_, i) => i + 1));
    for (const v of values.values()) assert.ok(Number(v) >= 1 && Number(v) <= 50000);
    assert.equal(asked, d.line);
    assert.equal(d.target, values.get(d.line));
    assert.deepEqual(d.until, ['>', '\n']);
  }
  assert.ok(new Set(a.map((d) => d.line)).size > 3, 'the asked line varies');
});

test('make-longeval: the default record lengths give prompts of ~1K to ~8K GPT-2 tokens', () => {
  const tok = loadTokenizer('gpt2');
  const lens = [70, 560].map((n) => tok.encode(makeLongEval({ lines: [n], count: 1, seed: 0 })[0].context).length);
  assert.ok(lens[0] >= 900 && lens[0] <= 1300, `70 lines: ${lens[0]} tokens`);
  assert.ok(lens[1] >= 7500 && lens[1] <= 8300, `560 lines: ${lens[1]} tokens`);
});

test('scoreLongEval: exact match of the generated number, per record length, with stderr', async () => {
  const docs = makeLongEval({ lines: [3, 9], count: 4, seed: 1 });
  const oracle: GenerateUntil = async (context) => parsePrompt(context).values.get(parsePrompt(context).asked)!;
  let r = await scoreLongEval(docs, oracle);
  assert.equal(r.exact_match, 1);
  assert.deepEqual(r.byLines.map((b) => [b.num_lines, b.exact_match, b.exact_match_stderr, b.n]), [[3, 1, 0, 4], [9, 1, 0, 4]]);
  // right on the 3-line records only: 1, then 0; a number of another line is wrong
  const half: GenerateUntil = async (context) => { const p = parsePrompt(context); return p.values.size === 3 ? ` ${p.values.get(p.asked)!}` : p.values.get(p.asked === 1 ? 2 : 1)!; };
  r = await scoreLongEval(docs, half);
  assert.equal(r.exact_match, 0.5);
  assert.deepEqual(r.byLines.map((b) => b.exact_match), [1, 0]);
  assert.equal(r.samples.length, 8);
  assert.equal(r.samples[0].generated.trim(), r.samples[0].target);
});

test('mugpt eval --longeval: greedy generation end to end, results and samples; errors name the file and line', () => {
  const tmp = scratch();
  const file = join(tmp, 'le.jsonl');
  let r = spawnSync(process.execPath, [cliPath, 'eval', 'make-longeval', '--lines', '4,8', '--count', '2', '--output', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^4 lines: 2 prompts of \d+–\d+ tokens \(gpt2\)\n8 lines/);
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 4);

  const cfg = makeConfig({ model_type: 'btlm', n_layer: 1, n_embd: 8, n_head: 2, n_positions: 64, vocab_size: 50257, position_embedding_type: 'alibi', activation_function: 'swiglu', n_inner: 16 });
  const dir = join(tmp, 'model');
  const model = Model.fromTensors(cfg, new Map(initModel(cfg, { seed: 5 }).map((t) => [t.name, t.data])));
  model.save(dir);
  const out = join(tmp, 'out');
  r = spawnSync(process.execPath, [cliPath, 'eval', dir, '--longeval', file, '--output', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(join(out, 'longeval.json'), 'utf8')) as { byLines: Array<{ num_lines: number; n: number; exact_match: number }> };
  const samples = readFileSync(join(out, 'samples_longeval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { generated: string; target: string; exact_match: boolean });
  assert.deepEqual(res.byLines.map((b) => [b.num_lines, b.n]), [[4, 2], [8, 2]]);
  assert.equal(res.byLines[0].exact_match, samples.slice(0, 2).filter((s) => s.exact_match).length / 2);
  // what the CLI generated is the model's greedy continuation cut at the first stop string
  const docs = makeLongEval({ lines: [4], count: 2, seed: 0 });
  let greedy = '';
  const ids = model.tokenizer.encode(docs[0].context);
  const cache = model.newCache();
  let logits = model.step(cache, ids);
  for (let k = 0; k < 8; k++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    greedy += model.tokenizer.decode([best]);
    if (/[>\n]/.test(greedy)) break;
    logits = model.step(cache, [best]);
  }
  assert.equal(samples[0].generated, greedy.split(/[>\n]/)[0]);

  const bad = join(tmp, 'bad.jsonl');
  const run = () => spawnSync(process.execPath, [cliPath, 'eval', dir, '--longeval', bad], { encoding: 'utf8' });
  writeFileSync(bad, '{"context": "x", "until": [">"], "target": "1", "num_lines": 1, "line": 1}\n{oops\n');
  r = run();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.jsonl:2: not valid JSON/);
  writeFileSync(bad, '{"context": "x", "until": [">"], "num_lines": 1, "line": 1}\n');
  assert.match(run().stderr, /bad\.jsonl:1: field "target" must be a non-empty string/);
  writeFileSync(bad, '\n');
  assert.match(run().stderr, /bad\.jsonl: no prompts \(an empty file\)/);
  r = spawnSync(process.execPath, [cliPath, 'eval', 'make-longeval', '--lines', '0', '--output', bad], { encoding: 'utf8' });
  assert.match(r.stderr, /--lines: expected an integer ≥ 1, got "0"/);
});
