import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { cliPath, scratch } from './helpers.js';
import { MugptError } from '../src/errors.js';
import { BuildStopped, buildCorpus, type CorpusStats } from '../src/data/build.js';
import { parseCorpusConfig } from '../src/data/corpus-config.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { saveTokenizerJson } from '../src/tokenizer/save.js';
import { readShard, readShardIndex, verifyShards, type ShardIndex } from '../src/data/shards.js';
import { formatCorpusStats, readCorpusStats, writeCorpusPlots } from '../src/data/stats.js';

// A small synthetic corpus with known duplicates: 'web' (JSONL) and 'books' (text files).
let state = 12345;
const rnd = (): number => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state / 2 ** 32; };
const SYL = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'to', 'vi', 'ze', 'po', 'an', 'el', 'or', 'ul', 'is'];
const WORDS = Array.from({ length: 300 }, () => Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => SYL[Math.floor(rnd() * SYL.length)]).join(''));
const doc = (words: number): string => {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rnd() * WORDS.length)] + (rnd() < 0.1 ? '.' : ''));
  return `${out.join(' ')}.`;
};
/** Replaces one word in the middle: Jaccard of character 13-grams stays far above 0.8. */
const nearCopy = (t: string): string => { const w = t.split(' '); w[Math.floor(w.length / 2)] = 'zzzzqqq'; return w.join(' '); };

interface Corpus { dir: string; web: string[]; books: string[]; expectedDup: { web: number; books: number } }

function makeCorpus(): Corpus {
  state = 12345;
  const dir = scratch('mugpt-build-');
  const web = Array.from({ length: 40 }, () => doc(90 + Math.floor(rnd() * 60)));
  const lines = web.map((t) => JSON.stringify({ text: t, meta: { url: 'x' } }));
  lines.push(JSON.stringify({ text: web[3] }), JSON.stringify({ text: web[7] }), JSON.stringify({ text: web[7] })); // 3 exact
  lines.push(JSON.stringify({ text: nearCopy(web[10]) }), JSON.stringify({ text: nearCopy(web[11]) }), JSON.stringify({ text: nearCopy(web[12]) })); // 3 near
  lines.push('{"text": "broken', JSON.stringify({ text: 'too short to keep' }), JSON.stringify({ text: 'also short' }));
  writeFileSync(join(dir, 'web.jsonl'), `${lines.join('\n')}\n`);
  mkdirSync(join(dir, 'books'));
  const books = Array.from({ length: 12 }, () => doc(120 + Math.floor(rnd() * 80)));
  books.push(nearCopy(web[20])); // a cross-source near duplicate: web's copy is read first and kept
  books.forEach((t, i) => writeFileSync(join(dir, 'books', `b${String(i).padStart(2, '0')}.txt`), t));
  return { dir, web, books, expectedDup: { web: 6, books: 1 } };
}

function config(c: Corpus, output: string, extra: Record<string, unknown> = {}): string {
  const fields: Record<string, string> = {
    output,
    sources: '\n  - { name: web, paths: [web.jsonl], proportion: 0.6 }\n  - { name: books, paths: [books], format: text, proportion: 0.4 }',
    split: '{ heldout_fraction: 0.2, seed: 7 }',
    seq_len: '64',
    shard_sequences: '16',
    workers: '2',
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, JSON.stringify(v)])),
  };
  const path = join(c.dir, `${output}.yaml`);
  writeFileSync(path, Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join(''));
  return path;
}

const quiet = { progress: false, log: () => {} };
const stagedDocs = (file: string): Array<{ source: string; text: string }> =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { source: string; text: string });
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const allTokens = (dir: string, index: ShardIndex, split: 'train' | 'val'): number[] => index.splits[split].flatMap((e) => [...readShard(dir, index, e)]);
const withoutSeconds = (s: CorpusStats): unknown => ({ ...s, seconds: null, dedup: { ...(s.dedup as object), seconds: null, stageSeconds: null } });

const corpus = makeCorpus();
after(() => rmSync(corpus.dir, { recursive: true, force: true }));
const out = join(corpus.dir, 'out');
let stats: CorpusStats;
let index: ShardIndex;

test('build: every step removes what it should, per source', async () => {
  const r = await buildCorpus(config(corpus, 'out'), quiet);
  stats = r.stats; index = r.index;
  assert.deepEqual(r.skipped, []);
  const [web, books] = stats.sources;
  assert.deepEqual([web.name, books.name], ['web', 'books']);
  assert.equal(web.read.documents, 40 + 3 + 3 + 2);
  assert.equal(web.issues.json, 1);
  assert.equal(web.removed.short.documents, 2);
  assert.equal(web.removed.duplicate.documents, corpus.expectedDup.web);
  assert.equal(books.read.documents, 13);
  assert.equal(books.removed.duplicate.documents, corpus.expectedDup.books);
  assert.equal(web.kept.documents, 40);
  assert.equal(books.kept.documents, 12);
  assert.equal(web.kept.bytes, corpus.web.reduce((a, t) => a + Buffer.byteLength(t), 0));
  // Mixing: multiplier m_i = p_i · ΣB / B_i.
  const total = web.kept.bytes + books.kept.bytes;
  assert.ok(Math.abs(web.mix.multiplier - (0.6 * total) / web.kept.bytes) < 1e-12);
  assert.ok(Math.abs(books.mix.multiplier - (0.4 * total) / books.kept.bytes) < 1e-12);
  for (const s of stats.sources) assert.equal(s.split.train.documents + s.split.val.documents, s.mix.documents);
  assert.deepEqual(verifyShards(out), []);
  assert.equal(readShardIndex(out).dtype, 'uint16');
});

test('build: decontamination leaves no train document equal to a held-out one', () => {
  const train = stagedDocs(join(out, 'work', 'train.jsonl'));
  const mixedTrain = stagedDocs(join(out, 'work', 'mixed-train.jsonl'));
  const val = stagedDocs(join(out, 'work', 'val.jsonl'));
  const valHashes = new Set(val.map((d) => sha(d.text)));
  assert.ok(val.length > 0);
  assert.equal(train.filter((d) => valHashes.has(sha(d.text))).length, 0);
  const removed = mixedTrain.filter((d) => valHashes.has(sha(d.text))).length;
  assert.equal(train.length, mixedTrain.length - removed);
  // books is up-sampled (m > 1), so some copies straddle the split and are removed from train.
  assert.ok(removed > 0);
  assert.equal(stats.sources.reduce((a, s) => a + s.removed.decontaminated.documents, 0), removed);
});

test('build: shards hold the documents tokenized by GPT-2 (checked with js-tiktoken) with <|endoftext|> between them', () => {
  const enc = getEncoding('gpt2');
  for (const split of ['train', 'val'] as const) {
    const docs = stagedDocs(join(out, 'work', split === 'train' ? 'train.jsonl' : 'val.jsonl'));
    const stream: number[] = [];
    docs.forEach((d, i) => { if (i > 0) stream.push(50256); stream.push(...enc.encode(d.text)); });
    const toks = allTokens(out, index, split);
    assert.equal(toks.length % 64, 0);
    assert.ok(toks.length > 0, split);
    assert.deepEqual(toks, stream.slice(0, toks.length), split);
    const p = stats.packing[split];
    assert.equal(p.tokens, toks.length);
    assert.equal(p.droppedTailTokens, stream.length - toks.length);
    assert.equal(p.documents, docs.length);
    const perSource = stats.sources.reduce((a, s) => a + s.tokens[split], 0);
    assert.equal(perSource, stream.length);
  }
});

test('build: the same config gives byte-identical shards (deterministic mix and split)', async () => {
  const r = await buildCorpus(config(corpus, 'out2'), quiet);
  assert.deepEqual(r.index.splits, index.splits);
  const r3 = await buildCorpus(config(corpus, 'out3', { split: { heldout_fraction: 0.2, seed: 8 } }), quiet);
  assert.notDeepEqual(r3.index.splits, index.splits);
});

test('build: a tokenizer.json path gives the same shards as the bundled gpt2 and is named in the index', async () => {
  const tokPath = join(corpus.dir, 'tok', 'tokenizer.json');
  mkdirSync(join(corpus.dir, 'tok'));
  saveTokenizerJson(loadTokenizer('gpt2'), tokPath);
  const r = await buildCorpus(config(corpus, 'outtok', { tokenizer: 'tok/tokenizer.json', workers: 1 }), quiet);
  assert.equal(r.index.tokenizer, tokPath);
  assert.equal(r.index.vocab_size, 50257);
  assert.deepEqual(r.index.splits, index.splits);
});

test('build: an interrupted build resumes, skipping finished stages and intact shards', async () => {
  const cfg = config(corpus, 'resume');
  const dir = join(corpus.dir, 'resume');
  await assert.rejects(buildCorpus(cfg, { ...quiet, stopAfterShards: 2 }), BuildStopped);
  writeFileSync(join(dir, 'work', '.train.jsonl.tmp-1-0'), 'left by a killed run');
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.bin')).sort(), ['train-00000.bin', 'train-00001.bin']);
  const r = await buildCorpus(cfg, quiet);
  assert.deepEqual(r.skipped, ['clean', 'dedup', 'mix', 'decontaminate']);
  assert.equal(r.reusedShards, 2);
  assert.deepEqual(readdirSync(join(dir, 'work')).filter((f) => f.includes('.tmp-')), []);
  assert.deepEqual(r.index, index);
  assert.deepEqual(withoutSeconds(r.stats), withoutSeconds(stats));

  // A deleted shard and a corrupted one are rebuilt; the shards before them are kept.
  rmSync(join(dir, 'train-00002.bin'));
  writeFileSync(join(dir, 'val-00000.bin'), 'garbage');
  const r2 = await buildCorpus(cfg, quiet);
  assert.equal(r2.reusedShards, 2);
  assert.deepEqual(r2.index, index);
  assert.deepEqual(verifyShards(dir), []);
  assert.deepEqual(withoutSeconds(r2.stats), withoutSeconds(stats));

  // A damaged stage output reruns that stage; it reproduces the same files, so the next stage's are still valid.
  writeFileSync(join(dir, 'work', 'val.jsonl'), '{"source":"web","text":"x"}\n');
  const r3 = await buildCorpus(cfg, quiet);
  assert.deepEqual(r3.skipped, ['clean', 'dedup', 'decontaminate']);
  assert.deepEqual(r3.index, index);

  // Another shard size reuses every stage but no shard, and leaves no stale shard file behind.
  const r4 = await buildCorpus(config(corpus, 'resume', { shard_sequences: 64 }), quiet);
  assert.deepEqual(r4.skipped, ['clean', 'dedup', 'mix', 'decontaminate']);
  assert.equal(r4.reusedShards, 0);
  const listed = [...r4.index.splits.train, ...r4.index.splits.val].map((e) => e.file).sort();
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.bin')).sort(), listed);
  assert.deepEqual(allTokens(dir, r4.index, 'train'), allTokens(out, index, 'train'));
});

test('build: a build killed with SIGKILL during tokenization resumes to the same shards', async () => {
  const extra = { shard_sequences: 4, workers: 1 };
  const ref = await buildCorpus(config(corpus, 'killref', extra), quiet);
  const cfg = config(corpus, 'killed', extra);
  const dir = join(corpus.dir, 'killed');
  const child = spawn(process.execPath, [cliPath, 'data', 'build', cfg, '--no-progress'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  // Kill once the second shard is on disk: the first is then recorded in manifest.json (saved after each shard).
  while (child.exitCode === null && !existsSync(join(dir, 'train-00001.bin'))) await new Promise((r) => setTimeout(r, 5));
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.equal(existsSync(join(dir, 'index.json')), false); // index.json is written last
  const r = await buildCorpus(cfg, quiet);
  assert.deepEqual(r.skipped, ['clean', 'dedup', 'mix', 'decontaminate']);
  assert.ok(r.reusedShards >= 1);
  assert.deepEqual(r.index, ref.index);
  assert.deepEqual(verifyShards(dir), []);
});

test('stats: per-source summary, table and SVG plots', async () => {
  const s = readCorpusStats(out);
  const web = s.sources[0];
  assert.equal(web.documentsRead, 48);
  assert.equal(web.badInput, 1);
  assert.ok(Math.abs(web.shortRate - 2 / 48) < 1e-12);
  assert.ok(Math.abs(web.duplicateRate - 6 / 46) < 1e-12);
  assert.equal(s.totals.keptDocuments, 52);
  assert.equal(s.totals.trainTokens + s.totals.valTokens, stats.sources.reduce((a, x) => a + x.tokens.train + x.tokens.val, 0));
  const table = formatCorpusStats(s);
  assert.match(table, /^source +docs read/m);
  assert.match(table, /^web +48 /m);
  assert.match(table, /^books +13 /m);
  const plots = await writeCorpusPlots(out, s);
  assert.equal(plots.length, 3);
  for (const p of plots) assert.match(readFileSync(p, 'utf8'), /^<svg[^>]*>[\s\S]*web[\s\S]*books[\s\S]*<\/svg>$/);
  rmSync(join(out, 'stats.json'));
  assert.throws(() => readCorpusStats(out), /stats\.json: not found; run 'mugpt data build'/);
});

test('bad input: empty sources, on_error stop, and a mix that cannot be met are clear errors', async () => {
  const dir = scratch();
  writeFileSync(join(dir, 'short.jsonl'), '{"text":"tiny"}\n');
  const cfg = (raw: object): ReturnType<typeof parseCorpusConfig> => parseCorpusConfig({ output: join(dir, 'o'), workers: 1, ...raw }, dir);
  await assert.rejects(buildCorpus(cfg({ sources: [{ name: 's', paths: ['short.jsonl'] }] }), quiet),
    (e: Error) => e instanceof MugptError && /no documents left after reading and filtering every source/.test(e.message));
  await assert.rejects(buildCorpus(cfg({ on_error: 'stop', sources: [{ name: 's', paths: ['missing/*.jsonl'] }] }), quiet),
    (e: Error) => e instanceof MugptError && /source 's': .*missing\/\*\.jsonl: matches no files/.test(e.message));
  await assert.rejects(buildCorpus(cfg({ sources: [{ name: 'web', paths: [join(corpus.dir, 'web.jsonl')], proportion: 0.5 }, { name: 's', paths: ['short.jsonl'], proportion: 0.5 }] }), quiet),
    (e: Error) => e instanceof MugptError && /source 's' has proportion 0\.5 but no documents are left/.test(e.message));
});

test('CLI: data build and data stats; errors are one line without a stack trace', () => {
  const cfg = config(corpus, 'cli');
  const b = spawnSync(process.execPath, [cliPath, 'data', 'build', cfg, '--no-progress'], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /^web +48 /m);
  assert.match(b.stdout, /wrote .*cli\/index\.json/);
  const dir = join(corpus.dir, 'cli');
  assert.deepEqual(readShardIndex(dir).splits, index.splits);
  const s = spawnSync(process.execPath, [cliPath, 'data', 'stats', dir, '--json', '--no-plots'], { encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).totals.documentsRead, 61);

  const badCfg = join(corpus.dir, 'bad.yaml');
  writeFileSync(badCfg, 'output: x\nsources:\n  - name: s\n    paths: [a]\n    proportion: 0.5\n');
  const e = spawnSync(process.execPath, [cliPath, 'data', 'build', badCfg], { encoding: 'utf8' });
  assert.equal(e.status, 1);
  assert.match(e.stderr, /^mugpt: corpus config .*bad\.yaml: sources\[\*\]\.proportion sum to 0\.5/);
  assert.doesNotMatch(e.stderr, /at .*\.js:\d+/);
  const stop = spawnSync(process.execPath, [cliPath, 'data', 'build', config(corpus, 'stop', { on_error: 'stop' })], { encoding: 'utf8' });
  assert.equal(stop.status, 1);
  assert.match(stop.stderr, /web\.jsonl:47: malformed JSON/);
  const p = spawnSync(process.execPath, [cliPath, 'data', 'build', '--preset', 'nope'], { encoding: 'utf8' });
  assert.match(p.stderr, /--preset: unknown preset 'nope' \(known: sotu\)/);
});
