// `mugpt mup coord-check` and `mugpt mup sweep`: the μP checks of docs/mup.md. Each prints its table,
// writes a JSON of every number and an SVG plot into -o DIR, and takes the sizes as flags.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { MugptError } from '../errors.js';
import { parseIntFlag } from './flags.js';
import { COORD_DEFAULTS, coordCheck, formatCoordCheck, writeCoordCheck } from '../mup/coordcheck.js';
import { SWEEP_DEFAULTS, formatSweep, lrSweep, writeSweep } from '../mup/sweep.js';
import type { MupArch } from '../mup/setup.js';
import { threadsOption } from './threads.js';

/** A number: decimal, exponent form, or a power of two written 2^k. */
function parseNumber(flag: string, text: string): number {
  const t = text.trim();
  const pow = /^2\^(-?\d+(?:\.\d+)?)$/.exec(t);
  const x = pow ? 2 ** Number(pow[1]) : t === '' ? NaN : Number(t);
  if (!Number.isFinite(x) || x <= 0) throw new MugptError(`${flag}: expected a positive number or 2^k, got "${text}"`);
  return x;
}

/** --arch: btlm or gpt2. */
export function parseArch(text: string): MupArch {
  if (text !== 'btlm' && text !== 'gpt2') throw new MugptError(`--arch: expected btlm or gpt2, got "${text}"`);
  return text;
}

/** --widths 64,128,256: distinct integers ≥ 8, multiples of --heads. */
export function parseWidths(text: string, heads: number, min = 1): number[] {
  const ws = text.split(',').map((s) => parseIntFlag('--widths', s, 8));
  if (ws.length < min) throw new MugptError(`--widths: expected at least ${min} comma-separated widths, got "${text}"`);
  if (new Set(ws).size !== ws.length) throw new MugptError(`--widths: a width is repeated in "${text}"`);
  for (const w of ws) if (w % heads !== 0) throw new MugptError(`--widths: ${w} is not a multiple of --heads (${heads})`);
  return ws;
}

/**
 * --lrs: a grid "2^-12..2^-4" (one point per power of two), "2^-12..2^-4:0.5" (step in log2), or a
 * comma list "0.001,2^-8,0.01".
 */
export function parseLrs(text: string): number[] {
  const grid = /^(.+)\.\.([^:]+)(?::(.+))?$/.exec(text.trim());
  if (grid) {
    const lo = Math.log2(parseNumber('--lrs', grid[1])), hi = Math.log2(parseNumber('--lrs', grid[2]));
    const step = grid[3] === undefined ? 1 : Number(grid[3]);
    if (!Number.isFinite(step) || step <= 0) throw new MugptError(`--lrs: the step after ":" must be a positive number (log2 units), got "${grid[3]}"`);
    if (hi < lo) throw new MugptError(`--lrs: the grid "${text}" runs backwards (expected LOW..HIGH)`);
    const n = Math.floor((hi - lo) / step + 1e-9) + 1;
    if (n > 64) throw new MugptError(`--lrs: the grid "${text}" has ${n} points (at most 64)`);
    return Array.from({ length: n }, (_, i) => 2 ** (lo + i * step));
  }
  const lrs = text.split(',').map((s) => parseNumber('--lrs', s));
  if (new Set(lrs).size !== lrs.length) throw new MugptError(`--lrs: a learning rate is repeated in "${text}"`);
  return lrs;
}

interface CommonFlags {
  arch: string; widths?: string; steps?: string; seed: string; layers: string; heads: string; batch: string;
  seqLen: string; vocab: string; out: string;
}

function common(o: CommonFlags, minWidths: number, defaultWidths: number[]) {
  const heads = parseIntFlag('--heads', o.heads, 1);
  return {
    arch: parseArch(o.arch),
    heads,
    widths: o.widths === undefined ? defaultWidths : parseWidths(o.widths, heads, minWidths),
    seed: parseIntFlag('--seed', o.seed, 0),
    layers: parseIntFlag('--layers', o.layers, 1),
    batch: parseIntFlag('--batch', o.batch, 1),
    seqLen: parseIntFlag('--seq-len', o.seqLen, 2),
    vocab: parseIntFlag('--vocab', o.vocab, 2),
  };
}

function sizeFlags(cmd: Command, defaultWidths: string): Command {
  return cmd
    .option('--arch <arch>', 'btlm (ALiBi, SwiGLU) or gpt2 (learned positions, GELU)', 'btlm')
    .option('--widths <list>', `model widths n_embd, comma-separated; the smallest is the μP base width (default ${defaultWidths})`)
    .option('--seed <n>', 'init and data-order seed', '0')
    .option('--layers <n>', 'blocks per model (the same at every width)', String(COORD_DEFAULTS.layers))
    .option('--heads <n>', 'attention heads (fixed, so the head dimension grows with width)', String(COORD_DEFAULTS.heads))
    .option('--batch <n>', 'sequences per step', String(COORD_DEFAULTS.batch))
    .option('--seq-len <n>', 'tokens per sequence', String(COORD_DEFAULTS.seqLen))
    .option('--vocab <n>', 'compact vocabulary: the n−1 most frequent GPT-2 tokens of the corpus plus one for the rest', String(COORD_DEFAULTS.vocab))
    .option('-o, --out <dir>', 'folder for the JSON and SVG', 'mup-out');
}

export function register(program: Command): void {
  const mup = program.command('mup').description('μP tools: coordinate check and learning-rate sweep across widths (SP vs μP)');

  sizeFlags(threadsOption(mup.command('coord-check')), COORD_DEFAULTS.widths.join(','))
    .description('train SP and μP models of several widths a few steps on the State of the Union corpus; plot mean |activation| per layer against width')
    .option('--steps <n>', 'AdamW updates (activations measured at init and after each)', String(COORD_DEFAULTS.steps))
    .option('--lr <x>', 'base learning rate (a number or 2^k)', String(COORD_DEFAULTS.lr))
    .action(async (o: CommonFlags & { lr: string }) => {
      const c = common(o, 2, COORD_DEFAULTS.widths);
      const steps = parseIntFlag('--steps', o.steps!, 0);
      const lr = parseNumber('--lr', o.lr);
      mkdirSync(o.out, { recursive: true });
      const r = coordCheck({ ...c, steps, lr, onProgress: (m) => process.stderr.write(`${m}\n`) });
      process.stdout.write(`${formatCoordCheck(r)}\n`);
      const files = await writeCoordCheck(r, o.out);
      process.stderr.write(`wrote ${files.svg} and ${files.json}\n`);
    });

  sizeFlags(threadsOption(mup.command('sweep')), SWEEP_DEFAULTS.widths.join(','))
    .description('learning-rate sweep across widths, SP and μP, on the State of the Union corpus; plot held-out loss against log2(lr)')
    .option('--lrs <grid>', 'peak learning rates: LOW..HIGH (powers of two apart; LOW..HIGH:STEP for another log2 step) or a comma list', '2^-11..2^-5')
    .option('--steps <n>', 'training steps per run', String(SWEEP_DEFAULTS.steps))
    .option('--eval-batches <n>', 'held-out batches the final loss averages over', String(SWEEP_DEFAULTS.evalBatches))
    .action(async (o: CommonFlags & { lrs: string; evalBatches: string }) => {
      const c = common(o, 1, SWEEP_DEFAULTS.widths);
      const steps = parseIntFlag('--steps', o.steps!, 1);
      const lrs = parseLrs(o.lrs);
      const evalBatches = parseIntFlag('--eval-batches', o.evalBatches, 1);
      mkdirSync(o.out, { recursive: true });
      const r = lrSweep({
        ...c, steps, lrs, evalBatches,
        onProgress: (done, total, q) => process.stderr.write(`[${done}/${total}] ${q.parameterization} width ${q.width} lr 2^${Math.log2(q.lr).toFixed(1)}: `
          + `${q.valLoss === null ? 'diverged' : `held-out loss ${q.valLoss.toFixed(3)}`} (${q.seconds.toFixed(1)} s)\n`),
      });
      process.stdout.write(`${formatSweep(r)}\n`);
      const files = await writeSweep(r, o.out);
      process.stderr.write(`wrote ${files.svg} and ${files.json}\n`);
    });
}
