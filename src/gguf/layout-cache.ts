// The layout cache: a GGUF file's quantized matrices as the native kernels read them (x16, native/quant.h;
// the F16 matrices padded to blocks included), saved next to the file as FILE.gguf.mugpt-x16 the first
// time it is loaded and mapped at later loads, so loading maps the bytes instead of converting them
// (docs/quantization.md, "Loading: the layout cache").
//
// File: "MUGPTX16", u32 n, n bytes of JSON (CacheHeader), zeros to the next 4096 bytes, then each
// matrix's bytes at its offset (from there, 64-byte aligned). A cache is used only when everything it
// was made from matches: the layout version, the instruction set, the padding type, the GGUF file's size,
// modification time and a SHA-256 of its header (metadata and tensor index); and when each matrix's
// checksum (native/checksum.h) matches its bytes. Otherwise loading says why, converts the file as
// without a cache and writes the cache again (atomically: a temp file renamed over it, not fsynced: the
// checksums catch what a power loss may leave).
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { QuantMatrix } from '../kernels/kernels.js';
import type { NativeAddon } from '../native/addon.js';
import type { GgufFile } from './parse.js';

/** Bumped whenever the bytes a cache holds for the same file would differ (layout, padding arithmetic). */
export const LAYOUT_CACHE_VERSION = 1;
const MAGIC = 'MUGPTX16';
const DATA_ALIGN = 4096, MATRIX_ALIGN = 64;

/** Where the cache of a GGUF file lives: next to it. */
export function layoutCachePath(ggufPath: string): string {
  return `${ggufPath}.mugpt-x16`;
}

/** What a cache was made from; it serves a load only when every field is the same. */
export interface LayoutCacheKey {
  version: number;
  layout: 'x16';
  /** The native kernels' instruction set (native/isa.h) at the time. */
  isa: string;
  /** The type F16/F32 matrices with unaligned inputs were padded to (ImportOptions.padToBlocks). */
  padToBlocks: string | false;
  /** The GGUF file: size in bytes, modification time in ns, SHA-256 of bytes [0, dataOffset). */
  source: { size: number; mtimeNs: string; headerSha256: string };
}

interface CacheEntry { name: string; type: QuantMatrix['type']; N: number; K: number; offset: number; bytes: number; checksum: string }
interface CacheHeader { key: LayoutCacheKey; matrices: CacheEntry[] }

/** The key of a GGUF file loaded with these settings. */
export function layoutCacheKey(file: GgufFile, isa: string, padToBlocks: string | false): LayoutCacheKey {
  const st = statSync(file.path, { bigint: true });
  // read, not through a mapping: from a cold page cache, a fault reads megabytes around it (read-around)
  const headerSha256 = createHash('sha256').update(file.read(0, file.dataOffset)).digest('hex');
  return {
    version: LAYOUT_CACHE_VERSION, layout: 'x16', isa, padToBlocks,
    source: { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), headerSha256 },
  };
}

/** The first field where two keys differ, named for the log, or null when they are the same. */
function keyDifference(a: LayoutCacheKey, b: LayoutCacheKey): string | null {
  if (a.version !== b.version) return `layout version ${a.version}, not ${b.version}`;
  if (a.layout !== b.layout || a.isa !== b.isa) return `made for ${a.layout} on ${a.isa}, not ${b.isa}`;
  if (a.padToBlocks !== b.padToBlocks) return `padded to ${String(a.padToBlocks)}, not ${String(b.padToBlocks)}`;
  if (a.source.size !== b.source.size || a.source.mtimeNs !== b.source.mtimeNs || a.source.headerSha256 !== b.source.headerSha256) {
    return 'made from another version of the GGUF file (size, modification time or header differ)';
  }
  return null;
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** A cache file opened for a load, the checksums of its matrices being computed meanwhile. */
export interface PendingLayoutCache {
  /**
   * Its matrices by HF name when it was made for key (views of its mapping, layout 'x16', bytes not yet
   * verified); else null, said through log, and the check is stopped.
   */
  matricesFor(key: LayoutCacheKey): Map<string, QuantMatrix> | null;
  /** Waits for the check of every matrix's bytes against its checksum: false, said through log, when one differs. */
  verify(): boolean;
  /** Stops the check when the load ends without matricesFor/verify (a bad GGUF file, an error); a no-op after them. */
  cancel(): void;
}

/**
 * Maps the cache of ggufPath, reads its header and starts computing its checksums on threads of their
 * own: from a cold page cache that is what reads the file, while the caller reads the GGUF file's
 * metadata and builds the model. null when there is none (silently) or when it is not a whole cache
 * (said through log).
 */
export function startLayoutCache(ggufPath: string, addon: NativeAddon, log: (line: string) => void): PendingLayoutCache | null {
  const path = layoutCachePath(ggufPath);
  if (!existsSync(path)) return null;
  const notUsed = (why: string): void => log(`${path}: not used (${why}); converting the GGUF file's matrices and saving the cache again`);
  let header: CacheHeader, views: Uint8Array[];
  try {
    const map = addon.mapFile(path, true); // huge pages: the decode kernels stream every byte of it
    if (!map) return null;
    ({ header, views } = parseCache(new Uint8Array(map)));
  } catch (e) {
    notUsed((e as Error).message);
    return null;
  }
  const job = addon.checksumsStart(views);
  let waited = false; // a job is waited for once: by cancel, verify, or matricesFor for another key
  const cancel = (): void => {
    if (!waited) addon.checksumsWait(job, true);
    waited = true;
  };
  return {
    matricesFor(key) {
      const differs = keyDifference(header.key, key);
      if (differs) {
        cancel();
        notUsed(differs);
        return null;
      }
      return new Map(header.matrices.map((e, i) => [e.name, { type: e.type, data: views[i], N: e.N, K: e.K, layout: 'x16' }]));
    },
    cancel,
    verify() {
      if (waited) return false;
      waited = true;
      const sums = addon.checksumsWait(job);
      const bad = header.matrices.findIndex((e, i) => sums[i] !== e.checksum);
      if (bad >= 0) notUsed(`checksum mismatch in ${header.matrices[bad].name}`);
      return bad < 0;
    },
  };
}

/** A cache's header and views of its matrices' bytes; throws why when it is not a cache or is cut short. */
function parseCache(bytes: Uint8Array): { header: CacheHeader; views: Uint8Array[] } {
  const fail = (why: string): never => { throw new MugptError(why); };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail('not a mugpt layout cache');
  const n = view.getUint32(8, true);
  if (12 + n > bytes.length) fail('truncated header');
  let header: CacheHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n))) as CacheHeader;
  } catch {
    return fail('corrupt header');
  }
  if (!Array.isArray(header.matrices) || typeof header.key !== 'object' || header.key === null) fail('corrupt header');
  const base = align(12 + n, DATA_ALIGN);
  const views = header.matrices.map((e) => {
    if (base + e.offset + e.bytes > bytes.length) fail(`truncated: ${e.name} runs past the end`);
    return bytes.subarray(base + e.offset, base + e.offset + e.bytes);
  });
  return { header, views };
}

/**
 * Saves matrices (x16 layout, by HF name) as the cache of ggufPath, atomically; a failure (read-only
 * folder, full disk) is said through log and the load goes on.
 */
export function writeLayoutCache(ggufPath: string, key: LayoutCacheKey, matrices: Map<string, QuantMatrix>, addon: NativeAddon,
  log: (line: string) => void): void {
  const path = layoutCachePath(ggufPath);
  const entries: CacheEntry[] = [];
  const sums = addon.checksumsWait(addon.checksumsStart([...matrices.values()].map((W) => W.data)));
  let end = 0;
  for (const [name, W] of matrices) {
    const offset = align(end, MATRIX_ALIGN);
    entries.push({ name, type: W.type, N: W.N, K: W.K, offset, bytes: W.data.length, checksum: sums[entries.length] });
    end = offset + W.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify({ key, matrices: entries } satisfies CacheHeader));
  const head = new Uint8Array(align(12 + json.length, DATA_ALIGN));
  head.set(new TextEncoder().encode(MAGIC));
  new DataView(head.buffer).setUint32(8, json.length, true);
  head.set(json, 12);
  try {
    writeFileAtomic(path, (write) => {
      write(head);
      let at = 0;
      for (const [i, W] of [...matrices.values()].entries()) {
        if (entries[i].offset > at) write(new Uint8Array(entries[i].offset - at));
        write(W.data);
        at = entries[i].offset + W.data.length;
      }
    }, { durable: false }); // the checksums catch what a power loss may leave; an fsync of 2 GB takes seconds
    const size = head.length + end;
    log(`${path}: saved the converted matrices (${size < 1e8 ? `${(size / 1e6).toFixed(1)} MB` : `${(size / 1e9).toFixed(2)} GB`}); later loads map them`);
  } catch (e) {
    log(`${path}: cannot save the layout cache (${(e as Error).message}); every load converts the matrices`);
  }
}
