// Token shards, the contract between the data build and the training loader (docs/shards.md):
// a folder with index.json and files of `sequences × seq_len` little-endian token ids (uint16 when the
// vocabulary fits, else uint32), no header. Every file is written atomically.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

export type ShardDType = 'uint16' | 'uint32';
export type SplitName = 'train' | 'val';
export const SPLITS: SplitName[] = ['train', 'val'];

export interface ShardEntry { file: string; sequences: number; sha256: string }

export interface ShardIndex {
  format: 'mugpt-shards';
  version: 1;
  dtype: ShardDType;
  seq_len: number;
  vocab_size: number;
  eos_token_id: number;
  tokenizer: string;
  splits: Record<SplitName, ShardEntry[]>;
}

/** uint16 holds ids 0..65535, so a vocabulary of up to 65536 tokens. */
export function dtypeFor(vocabSize: number): ShardDType {
  return vocabSize <= 65536 ? 'uint16' : 'uint32';
}

export const bytesPerToken = (d: ShardDType): number => (d === 'uint16' ? 2 : 4);

export function shardFileName(split: SplitName, n: number): string {
  return `${split}-${String(n).padStart(5, '0')}.bin`;
}

const littleEndian = endianness() === 'LE';

/** The bytes of a shard: tokens ([sequences·seqLen]) as little-endian dtype. */
export function encodeShard(tokens: Uint16Array | Uint32Array, dtype: ShardDType): Uint8Array {
  const arr = dtype === 'uint16' ? (tokens instanceof Uint16Array ? tokens : Uint16Array.from(tokens)) : (tokens instanceof Uint32Array ? tokens : Uint32Array.from(tokens));
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  if (littleEndian) return bytes;
  const out = new Uint8Array(bytes.length);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < arr.length; i++) {
    if (dtype === 'uint16') dv.setUint16(2 * i, arr[i], true);
    else dv.setUint32(4 * i, arr[i], true);
  }
  return out;
}

/** Decodes a shard file's bytes into token ids ([sequences·seqLen]). */
export function decodeShard(bytes: Uint8Array, dtype: ShardDType): Uint16Array | Uint32Array {
  const n = bytes.length / bytesPerToken(dtype);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = dtype === 'uint16' ? new Uint16Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = dtype === 'uint16' ? dv.getUint16(2 * i, true) : dv.getUint32(4 * i, true);
  return out;
}

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes one shard atomically and returns its index entry. */
export function writeShard(dir: string, file: string, tokens: Uint16Array | Uint32Array, seqLen: number, dtype: ShardDType): ShardEntry {
  if (tokens.length % seqLen !== 0) throw new MugptError(`shard ${file}: ${tokens.length} tokens is not a multiple of seq_len ${seqLen}`);
  const bytes = encodeShard(tokens, dtype);
  writeFileAtomic(join(dir, file), bytes);
  return { file, sequences: tokens.length / seqLen, sha256: sha256Bytes(bytes) };
}

export function writeShardIndex(dir: string, index: ShardIndex): void {
  writeFileAtomic(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

/** Reads and validates index.json of a shard folder; errors name the field. */
export function readShardIndex(dir: string): ShardIndex {
  const path = join(dir, 'index.json');
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(path, 'utf8')); } catch (err) {
    throw new MugptError(`${path}: cannot read a shard index (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const bad = (field: string, expected: string): never => { throw new MugptError(`${path}: '${field}' must be ${expected}`); };
  const o = raw as Record<string, unknown>;
  if (o === null || typeof o !== 'object') bad('(top level)', 'an object');
  if (o.format !== 'mugpt-shards') bad('format', "'mugpt-shards'");
  if (o.version !== 1) bad('version', '1');
  if (o.dtype !== 'uint16' && o.dtype !== 'uint32') bad('dtype', "'uint16' or 'uint32'");
  const posInt = (k: string): number => (Number.isInteger(o[k]) && (o[k] as number) > 0 ? (o[k] as number) : bad(k, 'a positive integer'));
  posInt('seq_len'); posInt('vocab_size');
  if (!Number.isInteger(o.eos_token_id) || (o.eos_token_id as number) < 0 || (o.eos_token_id as number) >= (o.vocab_size as number)) bad('eos_token_id', 'an id below vocab_size');
  if (o.dtype === 'uint16' && (o.vocab_size as number) > 65536) bad('dtype', "'uint32' for a vocabulary over 65536");
  if (typeof o.tokenizer !== 'string') bad('tokenizer', 'a string');
  const splits = o.splits as Record<string, unknown>;
  if (splits === null || typeof splits !== 'object') bad('splits', 'an object with train and val lists');
  for (const s of SPLITS) {
    const list = splits[s];
    if (!Array.isArray(list)) bad(`splits.${s}`, 'a list');
    (list as unknown[]).forEach((e, i) => {
      const en = e as Record<string, unknown>;
      if (typeof en?.file !== 'string' || en.file.includes('/') || en.file.includes('\\')) bad(`splits.${s}[${i}].file`, 'a file name in the folder');
      if (!Number.isInteger(en.sequences) || (en.sequences as number) < 1) bad(`splits.${s}[${i}].sequences`, 'a positive integer');
      if (typeof en.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(en.sha256)) bad(`splits.${s}[${i}].sha256`, 'a 64-digit hex SHA-256');
    });
  }
  return raw as ShardIndex;
}

/** Reads one shard's tokens ([sequences·seq_len]), checking its size against the index. */
export function readShard(dir: string, index: ShardIndex, entry: ShardEntry): Uint16Array | Uint32Array {
  const path = join(dir, entry.file);
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (err) {
    throw new MugptError(`${path}: cannot read a shard listed in index.json (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const want = entry.sequences * index.seq_len * bytesPerToken(index.dtype);
  if (bytes.length !== want) throw new MugptError(`${path}: ${bytes.length} bytes, index.json says ${entry.sequences} sequences × ${index.seq_len} × ${bytesPerToken(index.dtype)} = ${want}`);
  return decodeShard(bytes, index.dtype);
}

/**
 * Checks a shard folder against its index: every file present with the right size and SHA-256 and
 * every token id below vocab_size. Returns the problems found (empty when valid).
 */
export function verifyShards(dir: string): string[] {
  const index = readShardIndex(dir);
  const problems: string[] = [];
  for (const s of SPLITS) {
    for (const e of index.splits[s]) {
      const path = join(dir, e.file);
      if (!existsSync(path)) { problems.push(`${e.file}: missing`); continue; }
      const want = e.sequences * index.seq_len * bytesPerToken(index.dtype);
      if (statSync(path).size !== want) { problems.push(`${e.file}: ${statSync(path).size} bytes, expected ${want}`); continue; }
      const bytes = readFileSync(path);
      if (sha256Bytes(bytes) !== e.sha256) { problems.push(`${e.file}: SHA-256 differs from index.json`); continue; }
      const toks = decodeShard(bytes, index.dtype);
      for (let i = 0; i < toks.length; i++) {
        if (toks[i] >= index.vocab_size) { problems.push(`${e.file}: token ${toks[i]} at ${i} ≥ vocab_size ${index.vocab_size}`); break; }
      }
    }
  }
  return problems;
}
