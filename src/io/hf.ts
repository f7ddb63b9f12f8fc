// Hugging Face checkpoint folders: `model.safetensors` or a sharded `model.safetensors.index.json`,
// plus `config.json`. Names are normalized to the canonical `transformer.`-prefixed form of
// GPT2LMHeadModel / BTLMLMHeadModel (the head `lm_head.weight` keeps its name); legacy mask buffers
// are dropped.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError, check, shown } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { canonicalName } from './checkpoint-names.js';
import { SafetensorsFile, tensorBytes, writeSafetensors, type DType, type FloatDType } from './safetensors.js';

export type { DType } from './safetensors.js';
export { canonicalName } from './checkpoint-names.js';

export interface TensorInfo { name: string; dtype: DType; shape: number[]; file: string }

export interface CheckpointReader {
  dir: string;
  /**
   * Canonical HF names: `transformer.`-prefixed, and `lm_head.weight` when stored (an untied head, or a
   * copy of the tied one that the model ignores); legacy buffers dropped.
   */
  names(): string[];
  info(name: string): TensorInfo;
  /** Reads (and upcasts F16/BF16 to F32) just this tensor, streaming from disk. */
  read(name: string): Float32Array;
  close(): void;
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';


function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new MugptError(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MugptError(`${path}: ${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function isDir(path: string): boolean {
  try { return statSync(path).isDirectory(); } catch { return false; }
}

/** The shard file of every stored tensor name, from a validated index. */
function readIndex(dir: string): Map<string, string> {
  const path = join(dir, INDEX_FILE);
  const json = readJson(path, 'safetensors index');
  check(json !== null && typeof json === 'object' && !Array.isArray(json), `${path}: index must be a JSON object with "weight_map"`);
  const weightMap = (json as Record<string, unknown>).weight_map;
  check(weightMap !== null && typeof weightMap === 'object' && !Array.isArray(weightMap),
    `${path}: "weight_map" must be an object mapping tensor names to shard files`);
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap as Record<string, unknown>)) {
    check(typeof file === 'string' && file.length > 0 && !file.includes('/') && !file.includes('\\') && file !== '..',
      () => `${path}: "weight_map" entry "${name}" must be a shard file name in the same folder, got ${shown(file)}`);
    map.set(name, file);
  }
  check(map.size > 0, `${path}: "weight_map" is empty`);
  return map;
}

/** Opens a checkpoint folder (model.safetensors, else model.safetensors.index.json and its shards). */
export function openCheckpoint(dir: string): CheckpointReader {
  check(isDir(dir), `${dir}: not a folder (expected a model folder with config.json and model.safetensors)`);
  const files = new Map<string, SafetensorsFile>();
  const located = new Map<string, { file: SafetensorsFile; stored: string }>(); // canonical name → where it lives
  const closeAll = (): void => { for (const f of files.values()) f.close(); };

  const add = (file: SafetensorsFile, stored: string): void => {
    const name = canonicalName(stored);
    if (name === null) return;
    const prev = located.get(name);
    if (prev) throw new MugptError(`${file.path}: tensor "${stored}" and "${prev.stored}" (${prev.file.path}) both map to "${name}"`);
    located.set(name, { file, stored });
  };

  try {
    if (existsSync(join(dir, SINGLE_FILE))) {
      const f = new SafetensorsFile(join(dir, SINGLE_FILE));
      files.set(SINGLE_FILE, f);
      for (const stored of f.names()) add(f, stored);
    } else if (existsSync(join(dir, INDEX_FILE))) {
      const index = readIndex(dir);
      const shardNames = [...new Set(index.values())];
      for (const shard of shardNames) {
        const path = join(dir, shard);
        check(existsSync(path), () => `${join(dir, INDEX_FILE)}: shard "${shard}" is listed in weight_map but ${path} does not exist`);
        files.set(shard, new SafetensorsFile(path));
      }
      for (const [stored, shard] of index) {
        const f = files.get(shard)!;
        check(f.has(stored), () => `${f.path}: tensor "${stored}" is listed in ${INDEX_FILE} for this shard but is not in it`);
        add(f, stored);
      }
    } else if (existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'))) {
      throw new MugptError(`${dir}: has only pytorch_model.bin; mugpt reads safetensors checkpoints (model.safetensors). `
        + 'Convert it (e.g. transformers save_pretrained(..., safe_serialization=True)) or pull a revision that has model.safetensors.');
    } else {
      throw new MugptError(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} in this folder`);
    }
  } catch (err) {
    closeAll();
    throw err;
  }

  const where = (name: string): { file: SafetensorsFile; stored: string } => {
    const loc = located.get(name);
    if (!loc) throw new MugptError(`${dir}: checkpoint has no tensor "${name}"`);
    return loc;
  };
  return {
    dir,
    names: () => [...located.keys()],
    info(name) {
      const { file, stored } = where(name);
      const e = file.entry(stored);
      return { name, dtype: e.dtype, shape: [...e.shape], file: file.path };
    },
    read: (name) => { const { file, stored } = where(name); return file.readFloat32(stored); },
    close: closeAll,
  };
}

/** Reads config.json of a model folder as a JSON object. */
export function readConfigJson(dir: string): Record<string, unknown> {
  const path = join(dir, 'config.json');
  check(existsSync(path), `${dir}: no config.json in this folder (expected a Hugging Face model folder)`);
  const json = readJson(path, 'config.json');
  check(json !== null && typeof json === 'object' && !Array.isArray(json), `${path}: config.json must be a JSON object`);
  return json as Record<string, unknown>;
}

/** Shard file name in HF's pattern. */
function shardName(i: number, n: number): string {
  const pad = (k: number): string => String(k).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

/** Removes the files of a previous checkpoint that would shadow or contradict the new one. */
function removeStale(dir: string, keep: Set<string>): void {
  const indexPath = join(dir, INDEX_FILE);
  if (existsSync(indexPath)) {
    try {
      for (const shard of new Set(readIndex(dir).values())) if (!keep.has(shard)) rmSync(join(dir, shard), { force: true });
    } catch { /* an unreadable old index: its shards cannot be known */ }
    if (!keep.has(INDEX_FILE)) rmSync(indexPath, { force: true });
  }
  if (!keep.has(SINGLE_FILE)) rmSync(join(dir, SINGLE_FILE), { force: true });
}

/**
 * Writes tensors as a HF checkpoint: one model.safetensors, or (when the total exceeds maxShardBytes)
 * shards of at most maxShardBytes each (a larger tensor gets a shard of its own) plus
 * model.safetensors.index.json. Every file is written atomically with {"format":"pt"} metadata.
 */
export function writeCheckpoint(dir: string, tensors: Array<{ name: string; shape: number[]; data: Float32Array }>,
  opts: { dtype?: FloatDType; maxShardBytes?: number } = {}): void {
  const dtype = opts.dtype ?? 'F32';
  check(dtype === 'F32' || dtype === 'F16' || dtype === 'BF16', `writeCheckpoint: dtype must be F32, F16 or BF16, got ${String(dtype)}`);
  const max = opts.maxShardBytes ?? Infinity;
  check(max > 0, `writeCheckpoint: maxShardBytes must be positive, got ${max}`);
  mkdirSync(dir, { recursive: true });
  const items = tensors.map((t) => ({ ...t, dtype }));
  const total = items.reduce((s, t) => s + tensorBytes(t), 0);

  if (total <= max) {
    writeSafetensors(join(dir, SINGLE_FILE), items);
    removeStale(dir, new Set([SINGLE_FILE]));
    return;
  }
  const groups: Array<typeof items> = [];
  let size = 0;
  for (const t of items) {
    const b = tensorBytes(t);
    if (groups.length === 0 || size + b > max) { groups.push([]); size = 0; }
    groups[groups.length - 1].push(t);
    size += b;
  }
  const weightMap: Record<string, string> = {};
  const keep = new Set([INDEX_FILE]);
  groups.forEach((group, i) => {
    const file = shardName(i, groups.length);
    writeSafetensors(join(dir, file), group);
    for (const t of group) weightMap[t.name] = file;
    keep.add(file);
  });
  const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
  removeStale(dir, keep);
  writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2) + '\n');
}
