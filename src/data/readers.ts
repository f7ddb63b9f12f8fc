// Streaming document readers: JSONL, plain text and zstd-compressed JSONL (SlimPajama's shipping
// format), from files, folders and globs. Files are read in chunks and split into lines as bytes, so
// memory holds one chunk plus one line (or one text file), never the corpus. Each line is decoded with
// a fatal TextDecoder, so invalid UTF-8 is detected and reported with its file and line instead of being
// silently replaced.
import { closeSync, createReadStream, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { Decompress } from 'fzstd';
import { MugptError } from '../errors.js';

export type ReaderFormat = 'jsonl' | 'jsonl.zst' | 'text';

/** What a reader does with bad input: skip it (and count it) or stop with a MugptError. */
export type OnError = 'skip' | 'stop';

export interface ReaderSpec {
  /** The source's name; every document carries it. */
  name: string;
  /** Files, folders (read recursively) and globs (`*`, `?`, `**`), relative to baseDir. */
  paths: string[];
  /** 'auto' (default) picks by extension: .jsonl/.ndjson/.json → jsonl, .zst → jsonl.zst, else text. */
  format?: ReaderFormat | 'auto';
  /** JSONL: the field holding the text (dotted paths reach into objects). Default 'text'. */
  textField?: string;
  /** JSONL: an optional field naming the document's origin (e.g. 'meta.redpajama_set_name'). */
  sourceField?: string;
  /** JSONL: an optional field copied to Doc.meta. */
  metaField?: string;
  /** Text files: one document per file (default) or per blank-line-separated paragraph block. */
  textUnit?: 'file' | 'paragraph';
}

export interface Doc {
  text: string;
  /** The ReaderSpec's name. */
  source: string;
  file: string;
  /** 1-based line where the document starts (1 for a whole text file). */
  line: number;
  origin?: string;
  meta?: unknown;
}

export type IssueKind = 'json' | 'utf8' | 'field' | 'zstd' | 'io' | 'size' | 'empty-source';

export interface ReadIssue {
  kind: IssueKind;
  file: string;
  line: number;
  message: string;
  /** What skip mode leaves out because of it. */
  skipped: 'line' | 'file' | 'paragraph' | 'rest of file' | 'nothing';
}

export interface ReadStats {
  files: number;
  documents: number;
  /** UTF-8 bytes of the documents' text. */
  bytes: number;
  /** Bytes read from disk (compressed size for .zst), for progress. */
  diskBytes: number;
  issues: Record<IssueKind, number>;
}

export function emptyReadStats(): ReadStats {
  return { files: 0, documents: 0, bytes: 0, diskBytes: 0, issues: { json: 0, utf8: 0, field: 0, zstd: 0, io: 0, size: 0, 'empty-source': 0 } };
}

export interface ReadOptions {
  /** Folder that relative paths are resolved against (default: the working directory). */
  baseDir?: string;
  onError?: OnError;
  /** Called for every skipped piece of bad input (in 'skip' mode). */
  onIssue?: (issue: ReadIssue) => void;
  /** Updated as the reader goes. */
  stats?: ReadStats;
  /** Called with the number of disk bytes consumed, for progress bars. */
  onDiskBytes?: (n: number) => void;
}

/** `file:line: message`, plus what was skipped when withSkip. */
export function formatIssue(i: ReadIssue, withSkip = false): string {
  const where = i.line > 0 ? `${i.file}:${i.line}` : i.file;
  return `${where}: ${i.message}${withSkip && i.skipped !== 'nothing' ? ` (${i.skipped} skipped)` : ''}`;
}

/** The format a file is read as under 'auto'. */
export function detectFormat(file: string): ReaderFormat {
  const f = file.toLowerCase();
  if (f.endsWith('.zst')) return 'jsonl.zst';
  if (f.endsWith('.jsonl') || f.endsWith('.ndjson') || f.endsWith('.json')) return 'jsonl';
  return 'text';
}

function globToRegExp(segment: string): RegExp {
  let re = '';
  for (const ch of segment) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const hasGlob = (s: string): boolean => /[*?]/.test(s);

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/** Expands one glob pattern (absolute) into the files it matches, sorted. `**` matches any depth. */
function expandGlob(pattern: string): string[] {
  const parts = pattern.split(sep);
  const firstGlob = parts.findIndex(hasGlob);
  const root = parts.slice(0, firstGlob).join(sep) || sep;
  const rest = parts.slice(firstGlob);
  const out: string[] = [];
  const visit = (dir: string, i: number): void => {
    if (i === rest.length) return;
    const seg = rest[i];
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (seg === '**') {
      visit(dir, i + 1); // zero folders
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) visit(join(dir, e.name), i);
      return;
    }
    const re = globToRegExp(seg);
    for (const e of entries) {
      if (!re.test(e.name) || (e.name.startsWith('.') && !seg.startsWith('.'))) continue;
      const p = join(dir, e.name);
      if (i === rest.length - 1) { if (e.isFile()) out.push(p); }
      else if (e.isDirectory()) visit(p, i + 1);
    }
  };
  visit(root, 0);
  return [...new Set(out)].sort();
}

/**
 * The files a list of paths names, in a stable order: a file as given, a folder's files recursively
 * (only those of the requested format when it is not 'auto'), a glob's matches. A path that matches
 * nothing is returned in `missing`.
 */
export function listFiles(paths: string[], baseDir = process.cwd(), format: ReaderFormat | 'auto' = 'auto'): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : resolve(baseDir, p);
    let found: string[];
    if (hasGlob(abs)) found = expandGlob(abs);
    else {
      let st;
      try { st = statSync(abs); } catch { st = undefined; }
      if (!st) found = [];
      else if (st.isDirectory()) {
        const all: string[] = [];
        walk(abs, all);
        found = format === 'auto' ? all : all.filter((f) => detectFormat(f) === format);
      } else found = [abs];
    }
    if (found.length === 0) missing.push(p);
    files.push(...found);
  }
  return { files: [...new Set(files)], missing };
}

/** Reads a value at a dotted path ('meta.set') of a parsed JSON object. */
function getField(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/**
 * The longest line (JSONL document or text line) and the largest whole text file a reader takes:
 * 64 MiB, hundreds of times a long real document. Longer input is refused (reported and skipped, or a
 * MugptError in stop mode) before it is held in memory.
 */
export const MAX_LINE_BYTES = 64 << 20;

export interface Line {
  /** The line's bytes (empty when tooLong). */
  bytes: Uint8Array;
  /** 1-based line number. */
  line: number;
  /** Set when the line is longer than the limit: the bytes of it read when it passed the limit (the rest is skipped unread into memory). */
  tooLong?: number;
}

/**
 * Splits a byte stream into raw lines, chunk by chunk, with 1-based numbers: each line's bytes without
 * the newline (and without a trailing CR unless keepCR). A line longer than maxBytes is yielded (with
 * tooLong, no bytes) as soon as it passes the limit, and the rest of it is skipped without being kept.
 * Yielded bytes may view the chunk: use them before pushing the next one.
 */
class LineSplitter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private skipping = false; // inside a line already reported as too long
  private line = 0;

  constructor(private readonly maxBytes: number, private readonly keepCR: boolean) {}

  private trim(b: Uint8Array): Uint8Array {
    return !this.keepCR && b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, b.length - 1) : b;
  }

  private tooLong(n: number): Line {
    this.pending = []; this.pendingBytes = 0;
    return { bytes: new Uint8Array(0), line: ++this.line, tooLong: n };
  }

  *push(chunk: Uint8Array): Generator<Line> {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      let bytes = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping) { this.skipping = false; continue; }
      if (this.pendingBytes + bytes.length > this.maxBytes) { yield this.tooLong(this.pendingBytes + bytes.length); continue; }
      if (this.pending.length > 0) { this.pending.push(bytes); bytes = Buffer.concat(this.pending); this.pending = []; this.pendingBytes = 0; }
      yield { bytes: this.trim(bytes), line: ++this.line };
    }
    if (start >= chunk.length || this.skipping) return;
    const tail = chunk.length - start;
    if (this.pendingBytes + tail > this.maxBytes) {
      yield this.tooLong(this.pendingBytes + tail);
      this.skipping = true;
    } else {
      // Copy the tail: a stream may reuse its chunk buffer.
      this.pending.push(Uint8Array.prototype.slice.call(chunk, start));
      this.pendingBytes += tail;
    }
  }

  /** The last line, when the stream does not end with a newline. */
  *end(): Generator<Line> {
    if (this.pending.length > 0) yield { bytes: this.trim(Buffer.concat(this.pending)), line: ++this.line };
  }
}

/** The lines of a byte stream (see LineSplitter), a trailing CR removed. */
export async function* splitLines(chunks: AsyncIterable<Uint8Array>, maxBytes = MAX_LINE_BYTES): AsyncGenerator<Line> {
  const lines = new LineSplitter(maxBytes, false);
  for await (const chunk of chunks) yield* lines.push(chunk);
  yield* lines.end();
}

/** The lines of a file read synchronously in 1 MiB chunks (see LineSplitter), a CR before the newline kept. */
export function* fileLinesSync(path: string, onBytes?: (n: number) => void, maxBytes = MAX_LINE_BYTES): Generator<Line> {
  const lines = new LineSplitter(maxBytes, true);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let got = readSync(fd, buf, 0, buf.length, null); got > 0; got = readSync(fd, buf, 0, buf.length, null)) {
      onBytes?.(got);
      yield* lines.push(buf.subarray(0, got));
    }
    yield* lines.end();
  } finally {
    closeSync(fd);
  }
}

/** Why a line longer than MAX_LINE_BYTES was refused. */
export const tooLongMessage = (n: number): string => `a line longer than the ${MAX_LINE_BYTES}-byte limit (${n} bytes of it read, the rest skipped)`;

/** Thrown inside a .zst stream, carried out to the reader so it can name the line reached. */
class ZstdStreamError extends Error {}

async function* fileChunks(file: string, onDiskBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    onDiskBytes((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

/** Compressed bytes pushed into the decoder at a time: its output for one push is held until consumed. */
const ZSTD_SLICE = 16 * 1024;

/**
 * Decompresses a .zst byte stream with fzstd's streaming decoder. The input goes in 16 KiB slices and
 * each slice's output is consumed before the next, so memory is bounded by what one slice expands to
 * (about 60 KiB for text at zstd's usual 3–4×), not by the file: a 1 MiB read of highly repetitive
 * input would otherwise expand to hundreds of MB in one synchronous push.
 */
async function* zstdChunks(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let out: Uint8Array[] = [];
  const dec = new Decompress((data) => { out.push(data); });
  let sawInput = false;
  const push = (chunk: Uint8Array, final: boolean): void => {
    try { dec.push(chunk, final); } catch (err) {
      throw new ZstdStreamError(`corrupt zstd stream (${(err as Error).message})`);
    }
  };
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    sawInput = true;
    for (let o = 0; o < chunk.length; o += ZSTD_SLICE) {
      push(chunk.subarray(o, Math.min(chunk.length, o + ZSTD_SLICE)), false);
      const ready = out; out = [];
      yield* ready;
    }
  }
  if (!sawInput) return;
  push(new Uint8Array(0), true);
  yield* out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeUtf8(bytes: Uint8Array): string | null {
  try { return utf8.decode(bytes); } catch { return null; }
}

/**
 * Streams the documents of one source. Bad input (a malformed JSON line, invalid UTF-8, a missing or
 * non-string text field, a corrupt .zst, a source with no files or no documents) is reported with file
 * and line: in 'skip' mode through onIssue and the stats, in 'stop' mode as a MugptError.
 */
export async function* readSource(spec: ReaderSpec, opts: ReadOptions = {}): AsyncGenerator<Doc> {
  const onError = opts.onError ?? 'skip';
  const stats = opts.stats ?? emptyReadStats();
  const textField = spec.textField ?? 'text';
  const report: Report = (kind, file, line, message, skipped) => {
    const issue: ReadIssue = { kind, file, line, message, skipped };
    if (onError === 'stop') throw new MugptError(`source '${spec.name}': ${formatIssue(issue)} (set on_error: skip to skip and count such input)`);
    stats.issues[kind]++;
    opts.onIssue?.(issue);
  };
  const onDisk = (n: number): void => { stats.diskBytes += n; opts.onDiskBytes?.(n); };
  const format = spec.format ?? 'auto';
  const { files, missing } = listFiles(spec.paths, opts.baseDir, format);
  for (const m of missing) report('empty-source', m, 0, 'matches no files', 'nothing');
  const before = stats.documents;

  const emit = (d: Doc): Doc => { stats.documents++; stats.bytes += Buffer.byteLength(d.text, 'utf8'); return d; };

  for (const file of files) {
    stats.files++;
    const fmt = format === 'auto' ? detectFormat(file) : format;
    if (fmt === 'text') {
      yield* readTextFile(file, spec, onDisk, report, emit);
      continue;
    }
    const raw = fileChunks(file, onDisk);
    const chunks = fmt === 'jsonl.zst' ? zstdChunks(raw) : raw;
    let lastLine = 0;
    try {
      for await (const { bytes, line, tooLong } of splitLines(chunks)) {
        lastLine = line;
        if (tooLong !== undefined) { report('size', file, line, tooLongMessage(tooLong), 'line'); continue; }
        if (bytes.length === 0) continue;
        const text = decodeUtf8(bytes);
        if (text === null) { report('utf8', file, line, 'invalid UTF-8', 'line'); continue; }
        if (text.trim() === '') continue;
        let obj: unknown;
        try { obj = JSON.parse(text); } catch (err) { report('json', file, line, `malformed JSON (${(err as Error).message})`, 'line'); continue; }
        const value = getField(obj, textField);
        if (typeof value !== 'string') {
          report('field', file, line, value === undefined ? `no '${textField}' field` : `field '${textField}' is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, expected a string`, 'line');
          continue;
        }
        const doc: Doc = { text: value, source: spec.name, file, line };
        if (spec.sourceField) { const o = getField(obj, spec.sourceField); if (o !== undefined) doc.origin = String(o); }
        if (spec.metaField) { const m = getField(obj, spec.metaField); if (m !== undefined) doc.meta = m; }
        yield emit(doc);
      }
    } catch (err) {
      if (err instanceof ZstdStreamError) report('zstd', file, lastLine + 1, err.message, 'rest of file');
      else if (err instanceof MugptError) throw err;
      else report('io', file, lastLine + 1, `cannot read (${(err as Error).message})`, 'rest of file');
    }
  }
  if (stats.documents === before && missing.length < spec.paths.length) {
    report('empty-source', spec.paths.join(', '), 0, 'yielded no documents', 'nothing');
  }
}

type Report = (kind: IssueKind, file: string, line: number, message: string, skipped: ReadIssue['skipped']) => void;

async function* readTextFile(file: string, spec: ReaderSpec, onDisk: (n: number) => void, report: Report, emit: (d: Doc) => Doc): AsyncGenerator<Doc> {
  if ((spec.textUnit ?? 'file') === 'file') {
    let size = 0;
    try { size = statSync(file).size; } catch { /* reported by the read below */ }
    if (size > MAX_LINE_BYTES) {
      report('size', file, 0, `a text file of ${size} bytes is one document longer than the ${MAX_LINE_BYTES}-byte limit (set text_unit: paragraph)`, 'file');
      return;
    }
    let bytes: Uint8Array;
    try { bytes = await readFile(file); } catch (err) { report('io', file, 0, `cannot read (${(err as Error).message})`, 'file'); return; }
    onDisk(bytes.length);
    const text = decodeUtf8(bytes);
    if (text === null) { report('utf8', file, firstBadLine(bytes), 'invalid UTF-8', 'file'); return; }
    if (text.trim() !== '') yield emit({ text, source: spec.name, file, line: 1 });
    return;
  }
  // One document per block of non-blank lines.
  let block: string[] = [];
  let start = 0;
  let bad = 0;
  const flush = (): Doc | null => {
    const d = block.length > 0 && bad === 0 ? { text: block.join('\n'), source: spec.name, file, line: start } : null;
    if (bad > 0) report('utf8', file, bad, 'invalid UTF-8', 'paragraph');
    block = []; bad = 0;
    return d;
  };
  try {
    for await (const { bytes, line, tooLong } of splitLines(fileChunks(file, onDisk))) {
      if (tooLong !== undefined) { report('size', file, line, tooLongMessage(tooLong), 'line'); continue; }
      const text = decodeUtf8(bytes);
      if (text !== null && text.trim() === '') { const d = flush(); if (d) yield emit(d); continue; }
      if (block.length === 0 && bad === 0) start = line;
      if (text === null) { if (bad === 0) bad = line; block.push(''); } else block.push(text);
    }
  } catch (err) {
    if (err instanceof MugptError) throw err;
    report('io', file, 0, `cannot read (${(err as Error).message})`, 'rest of file');
  }
  const d = flush();
  if (d) yield emit(d);
}

function firstBadLine(bytes: Uint8Array): number {
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      if (decodeUtf8(bytes.subarray(start, i)) === null) return line;
      line++; start = i + 1;
    }
  }
  return 1;
}
