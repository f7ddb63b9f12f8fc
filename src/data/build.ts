// `mugpt data build corpus.yaml`: the SlimPajama pipeline end to end, resumable.
//
//   read → NFC → short filter      clean/<source>.jsonl                 (stage 'clean')
//   global exact + near dedup      work/keep.bin (1 byte per document)  (stage 'dedup')
//   mix → 2-pass shuffle → split   work/mixed-train.jsonl, work/val.jsonl (stage 'mix')
//   decontaminate train vs val     work/train.jsonl                     (stage 'decontaminate')
//   tokenize (worker threads) → pack → shards + index.json              (stage 'tokenize', per shard)
//
// Every stage's outputs are written atomically and recorded in manifest.json with their SHA-256 and the
// stage's key (a hash of the config it depends on and of the previous stage's key). A rerun skips a stage
// whose key matches and whose outputs are intact, and resumes tokenization after the last intact shard,
// from the packing cursor recorded with it. Statistics per source go to stats.json.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { dedup } from './dedup.js';
import { normalizeText } from './normalize.js';
import { isShortDocument } from './filter.js';
import { loadCorpusConfig, type CorpusConfig } from './corpus-config.js';
import { emptyReadStats, formatIssue, listFiles, readSource, type IssueKind, type ReadIssue, type ReadStats } from './readers.js';
import { copiesOf, mixMultipliers } from './mix.js';
import { isHeldOut, pileCount, pileOf, shuffleInPlace } from './split.js';
import { Decontaminator } from './decontaminate.js';
import { Packer, type PackCursor } from './pack.js';
import { SPLITS, dtypeFor, shardFileName, writeShard, writeShardIndex, type ShardDType, type ShardEntry, type ShardIndex, type SplitName } from './shards.js';
import { AtomicFileWriter, fileDigest, stageLine } from './stage-io.js';
import { TokenizePool } from './tokenize.js';
import { Progress } from '../report/progress.js';

export interface Count { documents: number; bytes: number }

export interface SourceStats {
  name: string;
  files: number;
  read: Count;
  issues: Record<IssueKind, number>;
  /** Documents whose text NFC changed. */
  normalized: number;
  /** Removed by each step. */
  removed: { short: Count; duplicate: Count; decontaminated: Count };
  /** Left after dedup (the input of the mix). */
  kept: Count;
  mix: { multiplier: number } & Count;
  split: Record<SplitName, Count>;
  tokens: Record<SplitName, number>;
}

export interface CorpusStats {
  format: 'mugpt-corpus-stats';
  version: 1;
  sources: SourceStats[];
  /** What the dedup returned, as it returned it. */
  dedup: unknown;
  packing: Record<SplitName, { documents: number; sequences: number; tokens: number; droppedTailTokens: number }>;
  tokenizer: string;
  seq_len: number;
  seconds: Record<string, number>;
}

export interface BuildOptions {
  /** Show progress bars on stderr (default: when stderr is a terminal). */
  progress?: boolean;
  /** Receives warnings (bad input, skipped stages); default: stderr. */
  log?: (line: string) => void;
  /** Individual bad-input lines reported per source before summarising (default 20). */
  maxIssueLines?: number;
  /** Stop after this many shards have been written in this run (for tests of resume; default: no limit). */
  stopAfterShards?: number;
}

export interface BuildResult {
  output: string;
  index: ShardIndex;
  stats: CorpusStats;
  /** Stages skipped because a previous run completed them. */
  skipped: string[];
  /** Shards reused from a previous run. */
  reusedShards: number;
}

interface FileRecord { file: string; bytes: number; sha256: string }
interface StageRecord { key: string; outputs: FileRecord[]; data: unknown }
interface ShardRecord { entry: ShardEntry; next: PackCursor; documents: number; tokensBySource: Record<string, number> }
interface TokenizeRecord { key: string; splits: Record<SplitName, { done: boolean; final?: unknown }> }
interface Manifest { format: 'mugpt-corpus-manifest'; stages: Record<string, StageRecord>; tokenize?: TokenizeRecord }

const keyOf = (...parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
const zeroCount = (): Count => ({ documents: 0, bytes: 0 });
const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

class Build {
  readonly out: string;
  readonly work: string;
  readonly manifestPath: string;
  manifest: Manifest;
  readonly skipped: string[] = [];
  readonly progress: Progress;
  readonly log: (line: string) => void;
  readonly seconds: Record<string, number> = {};

  constructor(readonly cfg: CorpusConfig, readonly opts: BuildOptions) {
    this.out = cfg.output;
    this.work = join(this.out, 'work');
    mkdirSync(this.work, { recursive: true });
    mkdirSync(join(this.out, 'clean'), { recursive: true });
    // Temp files of a killed run (see stage-io.ts / io/atomic.ts) are never resumed from.
    for (const d of [this.out, this.work, join(this.out, 'clean')]) {
      for (const f of readdirSync(d)) if (f.startsWith('.') && f.includes('.tmp-')) rmSync(join(d, f), { force: true });
    }
    this.manifestPath = join(this.out, 'manifest.json');
    this.manifest = { format: 'mugpt-corpus-manifest', stages: {} };
    if (existsSync(this.manifestPath)) {
      try {
        const m = JSON.parse(readFileSync(this.manifestPath, 'utf8')) as Manifest;
        if (m?.format === 'mugpt-corpus-manifest' && m.stages !== null && typeof m.stages === 'object') this.manifest = m;
      } catch { /* unreadable: start over */ }
    }
    const bars = opts.progress ?? Boolean(process.stderr.isTTY);
    this.progress = new Progress(bars);
    this.log = opts.log ?? (bars ? (l) => this.progress.log(l) : (l) => { process.stderr.write(`${l}\n`); });
  }

  /** The cleaned documents of a source: JSONL {"source", "text"}, also an input for `mugpt tokenizer train`. */
  cleanPath(source: string): string {
    return join(this.out, 'clean', `${source}.jsonl`);
  }

  saveManifest(): void {
    writeFileAtomic(this.manifestPath, `${JSON.stringify(this.manifest, null, 1)}\n`);
  }

  /** A completed stage whose key matches and whose output files are intact, or null. */
  async reuse(name: string, key: string): Promise<StageRecord | null> {
    const rec = this.manifest.stages[name];
    if (!rec || rec.key !== key) return null;
    for (const o of rec.outputs) {
      const p = join(this.out, o.file);
      if (!existsSync(p) || statSync(p).size !== o.bytes || (await fileDigest(p)).sha256 !== o.sha256) return null;
    }
    this.skipped.push(name);
    return rec;
  }

  record(name: string, key: string, outputs: FileRecord[], data: unknown): void {
    this.manifest.stages[name] = { key, outputs, data };
    this.saveManifest();
  }

  async timed<T>(name: string, f: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try { return await f(); } finally { this.seconds[name] = (this.seconds[name] ?? 0) + (performance.now() - t0) / 1000; }
  }

  /** Stage files are named relative to the output folder in the manifest. */
  rel(file: string): string {
    return file.startsWith(this.out + sep) ? file.slice(this.out.length + 1) : file;
  }
}

/** Documents of a stage JSONL file (written by stageLine), in order. */
async function* stageDocs(path: string, onDiskBytes?: (n: number) => void): AsyncGenerator<{ source: string; text: string }> {
  // A stage file may be empty (a source filtered away entirely); anything else wrong with it is a bug.
  const onIssue = (i: ReadIssue): void => { if (i.kind !== 'empty-source') throw new Error(`stage file ${formatIssue(i)}`); };
  for await (const d of readSource({ name: 'stage', paths: [path], format: 'jsonl', sourceField: 'source' }, { onError: 'skip', onIssue, onDiskBytes })) {
    yield { source: d.origin ?? '', text: d.text };
  }
}

interface CleanData { sources: Array<Pick<SourceStats, 'name' | 'files' | 'read' | 'issues' | 'normalized'> & { short: Count; clean: Count }> }

async function stageClean(b: Build): Promise<{ key: string; data: CleanData }> {
  const { cfg } = b;
  const inputs = cfg.sources.map((s) => {
    const { files } = listFiles(s.paths, cfg.baseDir || undefined, s.format ?? 'auto');
    return { files: files.map((f) => { const st = statSync(f); return [f, st.size, st.mtimeMs]; }), total: files.reduce((a, f) => a + statSync(f).size, 0) };
  });
  const key = keyOf('clean', cfg.sources.map(({ proportion: _p, weight: _w, ...reader }) => reader), inputs.map((i) => i.files), cfg.steps.normalize, cfg.steps.shortFilter, cfg.onError);
  const done = await b.reuse('clean', key);
  if (done) return { key, data: done.data as CleanData };

  const data: CleanData = { sources: [] };
  const outputs: FileRecord[] = [];
  const maxLines = b.opts.maxIssueLines ?? 20;
  for (const [si, src] of cfg.sources.entries()) {
    const bar = b.progress.stage(`read ${src.name}`, inputs[si].total);
    const stats: ReadStats = emptyReadStats();
    let shown = 0;
    const w = new AtomicFileWriter(b.cleanPath(src.name));
    let normalized = 0;
    const short = zeroCount();
    const clean = zeroCount();
    try {
      const docs = readSource(src, {
        baseDir: cfg.baseDir || undefined, onError: cfg.onError, stats, onDiskBytes: (n) => bar.tick(n),
        onIssue: (i) => { if (shown++ < maxLines) b.log(`warning: source '${src.name}': ${formatIssue(i, true)}`); },
      });
      for await (const doc of docs) {
        let text = doc.text;
        if (cfg.steps.normalize.enabled) {
          const t = cfg.steps.normalize.form === 'NFC' ? normalizeText(text) : text.normalize(cfg.steps.normalize.form);
          if (t !== text) normalized++;
          text = t;
        }
        const bytes = utf8Bytes(text);
        if (cfg.steps.shortFilter.enabled && isShortDocument(text, cfg.steps.shortFilter.minChars)) {
          short.documents++; short.bytes += bytes;
          continue;
        }
        clean.documents++; clean.bytes += bytes;
        w.write(stageLine(src.name, text));
      }
      outputs.push({ file: b.rel(w.path), ...w.commit() });
    } catch (err) { w.abort(); throw err; }
    bar.done();
    const issueTotal = Object.values(stats.issues).reduce((a, n) => a + n, 0);
    if (shown > maxLines) b.log(`warning: source '${src.name}': ${issueTotal} pieces of bad input skipped in all (${shown - maxLines} not shown); see stats.json`);
    data.sources.push({ name: src.name, files: stats.files, read: { documents: stats.documents, bytes: stats.bytes }, issues: stats.issues, normalized, short, clean });
  }
  if (data.sources.every((s) => s.clean.documents === 0)) {
    throw new MugptError('data build: no documents left after reading and filtering every source (see the warnings above)');
  }
  b.record('clean', key, outputs, data);
  return { key, data };
}

interface DedupData { removed: Count[]; kept: Count[]; stats: unknown }

async function stageDedup(b: Build, prevKey: string, clean: CleanData): Promise<{ key: string; data: DedupData }> {
  const { cfg } = b;
  const d = cfg.steps.dedup;
  const key = keyOf('dedup', prevKey, d);
  const done = await b.reuse('dedup', key);
  if (done) return { key, data: done.data as DedupData };

  const files = cfg.sources.map((s) => b.cleanPath(s.name));
  const total = clean.sources.reduce((a, s) => a + s.clean.bytes, 0);
  const nDocs = clean.sources.reduce((a, s) => a + s.clean.documents, 0);
  const bar = b.progress.stage('dedup', total);
  const docBytes = new Uint32Array(nDocs); // [documents] UTF-8 size, to attribute removals per source
  let keep: Uint8Array;
  let stats: unknown = null;
  if (d.enabled) {
    let i = 0;
    async function* texts(): AsyncGenerator<string> {
      for (const f of files) {
        for await (const doc of stageDocs(f)) {
          const n = utf8Bytes(doc.text);
          docBytes[i++] = n;
          bar.tick(n);
          yield doc.text;
        }
      }
    }
    const r = await dedup(texts(), { threshold: d.threshold, ngram: d.ngram, permutations: d.permutations, bands: d.bands, rows: d.rows, seed: d.seed, keep: d.keep, threads: cfg.workers });
    keep = r.keep;
    stats = r.stats;
    if (keep.length !== nDocs) throw new Error(`dedup returned ${keep.length} flags for ${nDocs} documents`);
  } else {
    keep = new Uint8Array(nDocs).fill(1);
    let i = 0;
    for (const f of files) for await (const doc of stageDocs(f)) docBytes[i++] = utf8Bytes(doc.text);
  }
  bar.done();
  const removed: Count[] = [];
  const kept: Count[] = [];
  let i = 0;
  for (const s of clean.sources) {
    const r = zeroCount(); const k = zeroCount();
    for (let j = 0; j < s.clean.documents; j++, i++) {
      const c = keep[i] ? k : r;
      c.documents++; c.bytes += docBytes[i];
    }
    removed.push(r); kept.push(k);
  }
  const path = join(b.work, 'keep.bin');
  writeFileAtomic(path, keep);
  const data: DedupData = { removed, kept, stats };
  b.record('dedup', key, [{ file: b.rel(path), ...(await fileDigest(path)) }], data);
  return { key, data };
}

interface MixData { multipliers: number[]; mixed: Count[]; split: Array<Record<SplitName, Count>> }

async function stageMix(b: Build, prevKey: string, dd: DedupData): Promise<{ key: string; data: MixData }> {
  const { cfg } = b;
  const key = keyOf('mix', prevKey, cfg.sources.map((s) => [s.proportion, s.weight]), cfg.mix, cfg.split);
  const done = await b.reuse('mix', key);
  if (done) return { key, data: done.data as MixData };

  const multipliers = mixMultipliers(cfg.sources.map((s, i) => ({ name: s.name, bytes: dd.kept[i].bytes, proportion: s.proportion, weight: s.weight })));
  multipliers.forEach((m, i) => {
    if (m > 10) b.log(`warning: source '${cfg.sources[i].name}' is up-sampled ${m.toFixed(1)}× to reach proportion ${cfg.sources[i].proportion} (it has ${dd.kept[i].bytes} bytes after cleaning); its documents will repeat`);
  });
  const expected = multipliers.reduce((a, m, i) => a + m * dd.kept[i].bytes, 0);
  const piles = pileCount(expected);
  const keep = readFileSync(join(b.work, 'keep.bin'));
  const mixed = cfg.sources.map(zeroCount);
  const srcIndex = new Map(cfg.sources.map((s, i) => [s.name, i]));

  // Pass 1: deal each copy of each kept document to a random pile.
  const pileWriters = Array.from({ length: piles }, (_, p) => new AtomicFileWriter(join(b.work, `pile-${String(p).padStart(4, '0')}.jsonl`)));
  const bar1 = b.progress.stage('mix', dd.kept.reduce((a, k) => a + k.bytes, 0));
  let docIndex = 0;
  let streamIndex = 0;
  try {
    for (const [si, src] of cfg.sources.entries()) {
      let j = 0;
      for await (const doc of stageDocs(b.cleanPath(src.name))) {
        const k = keep[docIndex++];
        const doc_j = j++;
        if (!k) continue;
        const bytes = utf8Bytes(doc.text);
        bar1.tick(bytes);
        const copies = copiesOf(multipliers[si], cfg.mix.seed, si, doc_j);
        const line = stageLine(src.name, doc.text);
        for (let c = 0; c < copies; c++) {
          pileWriters[pileOf(cfg.mix.seed, streamIndex++, piles)].write(line);
          mixed[si].documents++; mixed[si].bytes += bytes;
        }
      }
    }
    for (const w of pileWriters) w.commit();
  } catch (err) { for (const w of pileWriters) w.abort(); throw err; }
  bar1.done();
  if (streamIndex === 0) throw new MugptError('data build: the mix is empty (every source has proportion or weight 0, or no documents left)');

  // Pass 2: shuffle each pile in memory and send each position to train or held-out.
  const split = cfg.sources.map(() => ({ train: zeroCount(), val: zeroCount() }));
  const trainW = new AtomicFileWriter(join(b.work, 'mixed-train.jsonl'));
  const valW = new AtomicFileWriter(join(b.work, 'val.jsonl'));
  const bar2 = b.progress.stage('shuffle+split', mixed.reduce((a, m) => a + m.bytes, 0));
  try {
    for (let p = 0; p < piles; p++) {
      const path = pileWriters[p].path;
      const docs: Array<{ source: string; text: string }> = [];
      for await (const d of stageDocs(path)) docs.push(d);
      shuffleInPlace(docs, cfg.split.seed, p);
      docs.forEach((d, i) => {
        const held = isHeldOut(cfg.split.seed, p, i, cfg.split.heldoutFraction);
        const c = split[srcIndex.get(d.source)!][held ? 'val' : 'train'];
        const bytes = utf8Bytes(d.text);
        c.documents++; c.bytes += bytes;
        bar2.tick(bytes);
        (held ? valW : trainW).write(stageLine(d.source, d.text));
      });
    }
    const outputs = [trainW, valW].map((w) => ({ file: b.rel(w.path), ...w.commit() }));
    for (const w of pileWriters) rmSync(w.path, { force: true });
    bar2.done();
    const data: MixData = { multipliers, mixed, split };
    b.record('mix', key, outputs, data);
    return { key, data };
  } catch (err) { trainW.abort(); valW.abort(); throw err; }
}

interface DeconData { removed: Count[]; trainFile: string }

async function stageDecontaminate(b: Build, prevKey: string): Promise<{ key: string; data: DeconData }> {
  const { cfg } = b;
  const key = keyOf('decontaminate', prevKey, cfg.steps.decontaminate);
  const done = await b.reuse('decontaminate', key);
  if (done) return { key, data: done.data as DeconData };
  const removed = cfg.sources.map(zeroCount);
  if (!cfg.steps.decontaminate.enabled) {
    const data = { removed, trainFile: 'work/mixed-train.jsonl' };
    b.record('decontaminate', key, [], data);
    return { key, data };
  }
  const dc = new Decontaminator();
  for await (const d of stageDocs(join(b.work, 'val.jsonl'))) dc.addHeldOut(d.text);
  const srcIndex = new Map(cfg.sources.map((s, i) => [s.name, i]));
  const w = new AtomicFileWriter(join(b.work, 'train.jsonl'));
  const inPath = join(b.work, 'mixed-train.jsonl');
  const bar = b.progress.stage('decontaminate', statSync(inPath).size);
  try {
    for await (const d of stageDocs(inPath, (n) => bar.tick(n))) {
      if (dc.isContaminated(d.text)) {
        const r = removed[srcIndex.get(d.source)!];
        r.documents++; r.bytes += utf8Bytes(d.text);
        continue;
      }
      w.write(stageLine(d.source, d.text));
    }
    const out = { file: b.rel(w.path), ...w.commit() };
    bar.done();
    const data = { removed, trainFile: out.file };
    b.record('decontaminate', key, [out], data);
    return { key, data };
  } catch (err) { w.abort(); throw err; }
}

interface PackFinal { documents: number; sequences: number; tokens: number; droppedTailTokens: number; tokensBySource: Record<string, number> }

/** What packing every split of one tokenize stage shares. */
interface TokenizeRun {
  b: Build;
  key: string;
  eos: number;
  dtype: ShardDType;
  recordPath: (split: SplitName, n: number) => string;
  /** The worker pool, started by the first split that packs. */
  pool: TokenizePool | null;
  /** Shards written so far by this build (opts.stopAfterShards stops it). */
  written: number;
}

/**
 * The shards of `split` a previous run of this stage (same key) left intact, up to the first that is
 * not; the records after it are removed (dropped: the split must be packed again from there).
 */
async function intactShards(b: Build, split: SplitName, key: string, recordPath: TokenizeRun['recordPath']): Promise<{ shards: ShardRecord[]; dropped: boolean }> {
  const shards: ShardRecord[] = [];
  for (let n = 0; existsSync(recordPath(split, n)); n++) {
    let r: ShardRecord & { key: string };
    try { r = JSON.parse(readFileSync(recordPath(split, n), 'utf8')) as ShardRecord & { key: string }; } catch { break; }
    const p = join(b.out, r.entry.file);
    if (r.key !== key || !existsSync(p) || (await fileDigest(p)).sha256 !== r.entry.sha256) break;
    shards.push({ entry: r.entry, next: r.next, documents: r.documents, tokensBySource: r.tokensBySource });
  }
  let dropped = false;
  for (let n = shards.length; existsSync(recordPath(split, n)); n++) { rmSync(recordPath(split, n)); dropped = true; }
  return { shards, dropped };
}

/**
 * Tokenizes one split's documents in the worker pool and packs them into shards after the intact
 * ones (resuming at the last one's cursor), each shard recorded as it is written; the split's totals.
 */
async function packSplit(t: TokenizeRun, split: SplitName, input: string, shards: ShardRecord[]): Promise<PackFinal> {
  const { b } = t, { cfg } = b;
  const last = shards[shards.length - 1];
  const start: PackCursor = last ? last.next : { doc: 0, offset: 0 };
  const tokensBySource: Record<string, number> = { ...(last?.tokensBySource ?? {}) };
  let sequences = shards.reduce((a, s) => a + s.entry.sequences, 0);
  const packer = new Packer(cfg.seqLen, t.eos, start);
  // [shardSequences · seqLen] in the shard's dtype (ids are < vocabSize, so uint16 holds them when dtype says so)
  const shardBuf = t.dtype === 'uint16' ? new Uint16Array(cfg.shardSequences * cfg.seqLen) : new Uint32Array(cfg.shardSequences * cfg.seqLen);
  let inShard = 0;
  let cursor = start;
  const flush = (): void => {
    if (inShard === 0) return;
    const entry = writeShard(b.out, shardFileName(split, shards.length), shardBuf.subarray(0, inShard * cfg.seqLen), cfg.seqLen, t.dtype);
    sequences += inShard;
    // Token counts up to the cursor: whole documents pushed so far plus the current one's packed part.
    const snapshot = { ...tokensBySource };
    if (cursor.doc === curDoc) snapshot[curSrc] = (snapshot[curSrc] ?? 0) + cursor.offset - (curDoc === start.doc ? start.offset : 0);
    const record: ShardRecord = { entry, next: cursor, documents: cursor.doc, tokensBySource: snapshot };
    writeFileAtomic(t.recordPath(split, shards.length), JSON.stringify({ key: t.key, ...record }));
    shards.push(record);
    inShard = 0;
    t.written++;
    if (b.opts.stopAfterShards !== undefined && t.written >= b.opts.stopAfterShards) throw new BuildStopped();
  };
  const bar = b.progress.stage(`tokenize ${split}`, statSync(input).size);
  const pool = (t.pool ??= new TokenizePool(cfg.tokenizer, cfg.workers));
  const inflight: Array<{ p: Promise<Uint32Array[]>; sources: string[] }> = [];
  let docs = 0;
  let curDoc = -1;
  let curSrc = '';
  const consume = async (): Promise<void> => {
    const { p, sources } = inflight.shift()!;
    const toks = await p;
    for (let i = 0; i < toks.length; i++) {
      curDoc = packer.docIndex;
      curSrc = sources[i];
      packer.pushDoc(toks[i], (seq, next) => {
        shardBuf.set(seq, inShard * cfg.seqLen);
        inShard++;
        cursor = next;
        if (inShard === cfg.shardSequences) flush();
      });
      // Packed tokens of this document: [EOS] + ids, minus what a resumed build had already packed.
      const packed = toks[i].length + (curDoc > 0 ? 1 : 0) - (curDoc === start.doc ? start.offset : 0);
      tokensBySource[curSrc] = (tokensBySource[curSrc] ?? 0) + packed;
    }
  };
  let batch: string[] = [];
  let batchSources: string[] = [];
  let batchBytes = 0;
  const submit = async (): Promise<void> => {
    if (batch.length === 0) return;
    inflight.push({ p: pool.encode(batch), sources: batchSources });
    batch = []; batchSources = []; batchBytes = 0;
    if (inflight.length >= 2 * cfg.workers) await consume();
  };
  let skipDocs = start.doc;
  for await (const d of stageDocs(input, (n) => bar.tick(n))) {
    docs++;
    if (skipDocs > 0) { skipDocs--; continue; }
    batch.push(d.text); batchSources.push(d.source);
    batchBytes += d.text.length;
    if (batchBytes >= 1 << 18) await submit();
  }
  await submit();
  while (inflight.length > 0) await consume();
  flush();
  bar.done();
  // Tokens counted before the resume point came from the shard record; the tail is what did not fill a sequence.
  const tokens = sequences * cfg.seqLen;
  const final: PackFinal = { documents: docs, sequences, tokens, droppedTailTokens: packer.pending, tokensBySource };
  // Shard files beyond the last one (left by an earlier build with other parameters) are not part of this build.
  for (let n = shards.length; existsSync(join(b.out, shardFileName(split, n))); n++) rmSync(join(b.out, shardFileName(split, n)));
  return final;
}

async function stageTokenize(b: Build, prevKey: string, trainFile: string): Promise<{ index: ShardIndex; finals: Record<SplitName, PackFinal>; reused: number }> {
  const { cfg } = b;
  const tok = loadTokenizer(cfg.tokenizer);
  if (tok.eosTokenId === null) throw new MugptError(`tokenizer ${cfg.tokenizer}: has no <|endoftext|> token, which packing puts between documents`);
  const eos = tok.eosTokenId;
  const dtype = dtypeFor(tok.vocabSize);
  let tokId = cfg.tokenizer;
  if (cfg.tokenizer !== 'gpt2' && existsSync(cfg.tokenizer) && statSync(cfg.tokenizer).isFile()) tokId += `#${(await fileDigest(cfg.tokenizer)).sha256}`;
  const key = keyOf('tokenize', prevKey, tokId, tok.vocabSize, cfg.seqLen, cfg.shardSequences);
  let rec = b.manifest.tokenize;
  if (!rec || rec.key !== key) {
    rec = { key, splits: { train: { done: false }, val: { done: false } } };
    b.manifest.tokenize = rec;
  }
  const inputs: Record<SplitName, string> = { train: join(b.out, trainFile), val: join(b.work, 'val.jsonl') };
  let reused = 0;
  const finals = {} as Record<SplitName, PackFinal>;
  const shardRecords = {} as Record<SplitName, ShardRecord[]>;
  // One small record per shard in work/shards/ (not in manifest.json, which would make a build O(shards²)).
  const recordDir = join(b.work, 'shards');
  mkdirSync(recordDir, { recursive: true });
  const recordPath = (split: SplitName, n: number): string => join(recordDir, shardFileName(split, n).replace(/\.bin$/, '.json'));
  const t: TokenizeRun = { b, key, eos, dtype, recordPath, pool: null, written: 0 };
  try {
    for (const split of SPLITS) {
      const sr = rec.splits[split];
      const { shards, dropped } = await intactShards(b, split, key, recordPath);
      shardRecords[split] = shards;
      if (dropped) sr.done = false;
      reused += shards.length;
      if (sr.done) { finals[split] = sr.final as PackFinal; continue; }

      const final = await packSplit(t, split, inputs[split], shards);
      sr.final = final;
      sr.done = true;
      b.saveManifest();
      finals[split] = final;
    }
  } finally {
    await t.pool?.close();
  }
  const index: ShardIndex = {
    format: 'mugpt-shards', version: 1, dtype, seq_len: cfg.seqLen, vocab_size: tok.vocabSize, eos_token_id: eos,
    tokenizer: cfg.tokenizer === 'gpt2' ? 'gpt2' : b.rel(cfg.tokenizer),
    splits: { train: shardRecords.train.map((s) => s.entry), val: shardRecords.val.map((s) => s.entry) },
  };
  writeShardIndex(b.out, index);
  return { index, finals, reused };
}

/** Thrown to stop a build after opts.stopAfterShards shards (simulates an interruption in tests). */
export class BuildStopped extends Error {
  constructor() { super('build stopped after the requested number of shards'); }
}

/** Builds a corpus from a corpus.yaml path or a parsed config; see the file comment for the stages. */
export async function buildCorpus(config: string | CorpusConfig, opts: BuildOptions = {}): Promise<BuildResult> {
  const cfg = typeof config === 'string' ? loadCorpusConfig(config) : config;
  mkdirSync(cfg.output, { recursive: true });
  const b = new Build(cfg, opts);
  try {
    const clean = await b.timed('clean', () => stageClean(b));
    const dd = await b.timed('dedup', () => stageDedup(b, clean.key, clean.data));
    const mix = await b.timed('mix', () => stageMix(b, dd.key, dd.data));
    const dc = await b.timed('decontaminate', () => stageDecontaminate(b, mix.key));
    const tk = await b.timed('tokenize', () => stageTokenize(b, dc.key, dc.data.trainFile));
    for (const split of SPLITS) {
      if (tk.index.splits[split].length === 0 && (split === 'train' || cfg.split.heldoutFraction > 0)) {
        b.log(`warning: the ${split} split is shorter than one sequence of ${cfg.seqLen} tokens; no ${split} shard was written`);
      }
    }
    const stats: CorpusStats = {
      format: 'mugpt-corpus-stats', version: 1,
      sources: cfg.sources.map((s, i) => {
        const c = clean.data.sources[i];
        return {
          name: s.name, files: c.files, read: c.read, issues: c.issues, normalized: c.normalized,
          removed: { short: c.short, duplicate: dd.data.removed[i], decontaminated: dc.data.removed[i] },
          kept: dd.data.kept[i],
          mix: { multiplier: mix.data.multipliers[i], ...mix.data.mixed[i] },
          split: mix.data.split[i],
          tokens: { train: tk.finals.train.tokensBySource[s.name] ?? 0, val: tk.finals.val.tokensBySource[s.name] ?? 0 },
        };
      }),
      dedup: dd.data.stats,
      packing: Object.fromEntries(SPLITS.map((s) => {
        const { tokensBySource: _t, ...rest } = tk.finals[s];
        return [s, rest];
      })) as CorpusStats['packing'],
      tokenizer: tk.index.tokenizer,
      seq_len: cfg.seqLen,
      seconds: b.seconds,
    };
    writeFileAtomic(join(cfg.output, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
    return { output: cfg.output, index: tk.index, stats, skipped: b.skipped, reusedShards: tk.reused };
  } finally {
    b.progress.stop();
  }
}
