// Shared pieces of the model benchmarks: the two model shapes, deterministic random weights
// (generated tensor by tensor, so a 10 GB GGUF file is written without holding the model), cached
// GGUF files for llama.cpp, child processes that report one JSON line each (so peak RSS is per
// engine), the machine's description, and table printing.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { exportGguf, type GgufWeightType } from '../src/gguf/export.js';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { expectedTensors } from '../src/model/params.js';
import { alibiSlopes } from '../src/model/alibi.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import type { BpeTokenizer } from '../src/tokenizer/bpe.js';
import { MODEL_PRESETS } from '../src/train/presets.js';

export type ShapeName = 'cerebras-gpt-111m' | 'btlm-3b-8k';

/** Ends the bench on a bad flag or value: the message and exit code 2, not a stack trace. */
export function usageExit(message: string): never {
  console.error(`${basename(process.argv[1] ?? 'bench')}: ${message}`);
  process.exit(2);
}

/** A numeric flag's value: a whole number ≥ min (whole false: any number > 0), else usageExit. */
export function numberFlag(name: string, value: string | undefined, min = 1, whole = true): number {
  const x = Number(value);
  if (whole ? !Number.isInteger(x) || x < min : !(x > 0 && Number.isFinite(x)))
    return usageExit(`--${name}: expected ${whole ? `a whole number ≥ ${min}` : 'a positive number'}, got '${value}'`);
  return x;
}

/**
 * node:util's parseArgs (strict) for a bench's flags: `--help` lists them, and an unknown flag or a
 * missing value ends the bench through usageExit.
 */
export function benchArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const flags = Object.entries(config.options ?? {})
    .map(([name, o]) => `--${name}${o.type === 'string' ? ` <${o.default ?? 'value'}>` : ''}`).join(' ');
  if (process.argv.includes('--help')) {
    console.log(`${basename(process.argv[1] ?? 'bench')} ${flags}`);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (e) {
    return usageExit(`${(e as Error).message} (flags: ${flags})`);
  }
}

/** A preset's config, optionally with fewer layers (for quick runs). */
export function shapeConfig(shape: ShapeName, layers?: number): ModelConfig {
  const fields = { ...MODEL_PRESETS[shape] };
  if (layers !== undefined) fields.n_layer = layers;
  return makeConfig(fields);
}

/** Weights a decoded token reads: every matrix once (wte as the tied LM head; one row of wpe is negligible). */
export function weightCount(cfg: ModelConfig): { matrices: number } {
  let matrices = 0;
  for (const t of expectedTensors(cfg)) {
    if (t.shape.length === 2 && !/wpe|relative_pe/.test(t.name)) matrices += t.shape.reduce((a, b) => a * b, 1);
  }
  return { matrices };
}

/** Bytes of KV cache one decode step reads at `context` positions: keys and values of every layer (q8: an f32 scale a head). */
export function kvBytesPerToken(cfg: ModelConfig, context: number, kv: 'f32' | 'f16' | 'q8'): number {
  const perPosition = kv === 'f32' ? 4 * cfg.n_embd : kv === 'f16' ? 2 * cfg.n_embd : cfg.n_embd + 4 * cfg.n_head;
  return 2 * cfg.n_layer * context * perPosition;
}

function hash32(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * A tensor of the random model, deterministic from its name: matrices uniform with standard
 * deviation 0.02 (an LCG: a 2.7 B-parameter model fills in seconds), LayerNorm gains 1, biases 0,
 * ALiBi slopes from the formula. Speed does not depend on the values; finite, realistic magnitudes do.
 */
export function randomTensor(cfg: ModelConfig, name: string, shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (name.endsWith('relative_pe.slopes')) { out.set(alibiSlopes(cfg.n_head)); return out; }
  if (shape.length === 1) { if (/ln_\d\.weight$|ln_f\.weight$/.test(name)) out.fill(1); return out; }
  const a = 0.02 * Math.sqrt(3);
  let x = hash32(name);
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 2 ** 31 - 1) * a;
  }
  return out;
}

/** The whole random model by HF name (for Model.fromTensors). */
export function randomTensors(cfg: ModelConfig): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  for (const t of expectedTensors(cfg)) m.set(t.name, randomTensor(cfg, t.name, t.shape));
  return m;
}

/** The benchmarks' file cache (GGUF files of the random models): MUGPT_BENCH_DIR or the temp dir. */
export function benchDir(): string {
  const d = process.env.MUGPT_BENCH_DIR ?? join(tmpdir(), 'mugpt-bench');
  mkdirSync(d, { recursive: true });
  return d;
}

/**
 * The random model of `shape` (n_layer layers) as a GGUF file of `type`, written once and reused
 * (its name carries the shape, layer count and type). Quantized files keep the embedding / LM head
 * in Q8_0 (exportGguf's default), as llama.cpp's quantizer does.
 */
export function ggufFile(shape: ShapeName, cfg: ModelConfig, type: GgufWeightType): string {
  const path = join(benchDir(), `${shape}-L${cfg.n_layer}-${type}.gguf`);
  if (existsSync(path)) return path;
  const t0 = performance.now();
  const shapes = new Map(expectedTensors(cfg).map((t) => [t.name, t.shape]));
  const spec = (loadTokenizer('gpt2') as BpeTokenizer).spec;
  const tmp = `${path}.partial`;
  exportGguf(tmp, cfg, (name) => {
    const s = shapes.get(name);
    if (!s) throw new Error(`random model: no tensor ${name}`);
    return randomTensor(cfg, name, s);
  }, spec, { type });
  renameSync(tmp, path);
  console.error(`wrote ${path} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return path;
}

/** Prompt token ids, deterministic. */
export function promptIds(n: number, vocab: number, seed = 1): number[] {
  let x = seed >>> 0;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % vocab;
  });
}

const here = fileURLToPath(new URL('.', import.meta.url)); // dist/bench/
/** bench/peers/<file> in the source tree (python scripts are not compiled). */
export const peerScript = (file: string): string => join(here, '..', '..', 'bench', 'peers', file);
/** A compiled bench module next to this one. */
export const benchModule = (file: string): string => join(here, file);

export interface ChildResult { ok: true; json: Record<string, unknown> }
export interface ChildFailure { ok: false; error: string }

/**
 * Runs a command that prints one JSON object as its last stdout line; its stderr passes through.
 * A failure (exit code, signal, no JSON) is returned, not thrown, so one peer's failure does not stop the table.
 */
export function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildResult | ChildFailure> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', (e) => resolve({ ok: false, error: e.message }));
    p.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0) {
        try { resolve({ ok: true, json: JSON.parse(last) as Record<string, unknown> }); return; } catch { /* fall through */ }
      }
      resolve({ ok: false, error: `${cmd} ${args[0] ?? ''} exited with ${signal ?? code}: ${last.slice(0, 300)}` });
    });
  });
}

/** Runs a compiled bench engine (dist/bench/<file>) with a JSON argument, in its own process. */
export function runEngine(file: string, arg: unknown): Promise<ChildResult | ChildFailure> {
  return runChild(process.execPath, ['--max-old-space-size=8192', benchModule(file), JSON.stringify(arg)]);
}

/** Peak resident set of this process in MiB (ru_maxrss). */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** One line describing the machine and its load right now. */
export function machineLine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  const la = loadavg().map((x) => x.toFixed(2)).join(' ');
  return `${new Date().toISOString()}  ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, load average ${la}`;
}

/** A plain text table (Markdown pipe syntax, so it can be pasted into BENCHMARKS.md). */
export function printTable(header: string[], rows: string[][]): void {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

export const fmt = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);

export const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
  a && b && Number.isFinite(a) && Number.isFinite(b) ? `×${(a / b).toFixed(2)}` : '—';

/** n floats uniform in [−1, 1) from a fast LCG (Math.random is too slow to fill a GiB); a random seed by default. */
export function randUniform(n: number, seed = (Math.random() * 2 ** 32) >>> 0): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = x / 2 ** 31 - 1;
  }
  return a;
}

/** Best seconds per call over about `budget` seconds (at least 3 calls after a warm-up). */
export function timeBest(fn: () => void, budget: number): number {
  fn();
  let best = Infinity;
  let spent = 0;
  for (let i = 0; i < 3 || spent < budget; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.min(best, dt);
    spent += dt;
  }
  return best;
}

/** The median of xs (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * Rates for each S in `streams`, measured `rounds` times with the S interleaved (1, 8, 1, 8, …), so a
 * slow spell of a shared machine falls on both sides of a ratio: the median of each S, and every run.
 */
export async function interleavedRates(streams: readonly number[], rounds: number, run: (S: number) => number | Promise<number>):
Promise<{ rates: Record<string, number>; runs: Record<string, number[]> }> {
  const runs: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) for (const S of streams) (runs[S] ??= []).push(await run(S));
  const rates: Record<string, number> = {};
  for (const S of streams) rates[S] = median(runs[S]);
  return { rates, runs };
}
