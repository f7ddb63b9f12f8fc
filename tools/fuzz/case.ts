// One fuzz case: generate (deterministic in format, seed and case number), write, run, classify.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError } from '../../src/errors.js';
import { Rng } from '../../src/rng.js';
import { Mutator } from './mutate.js';
import { caseNames, TARGETS, WrongResult, type FuzzCase, type Target } from './targets.js';

export interface CaseResult {
  /** ok: the readers accepted it; refused: a MugptError naming the file; fail: anything else. */
  r: 'ok' | 'refused' | 'fail';
  why?: string;
}

/** Bytes beyond which a case's allocations count as unjustified: 64 MiB plus 16 times its input. */
const ALLOWANCE = 64 << 20;

/** The seed of case i of a format: distinct for every (seed, format, case). */
export function caseSeed(seed: number, format: string, i: number): number {
  const f = TARGETS.findIndex((t) => t.name === format);
  // exact in BigInt: a large seed times a constant would lose the low bits (and i) in a double
  return Number(((BigInt(seed) * 8191n + BigInt(f)) * 1_000_003n + BigInt(i)) % BigInt(Number.MAX_SAFE_INTEGER));
}

export function generateCase(target: Target, seed: number, i: number): FuzzCase {
  const s = caseSeed(seed, target.name, i);
  return target.generate(new Mutator(new Rng(s)), s);
}

export function writeCase(c: FuzzCase, dir: string): number {
  let bytes = c.text?.length ?? 0;
  for (const [name, data] of Object.entries(c.files)) {
    writeFileSync(join(dir, name), data);
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }
  return bytes;
}

export async function runCase(target: Target, seed: number, i: number, dir: string): Promise<CaseResult> {
  const c = generateCase(target, seed, i);
  const inputBytes = writeCase(c, dir);
  const names = caseNames(dir, c);
  const named = (e: MugptError): boolean => target.name === 'encode' || names.some((n) => e.message.includes(n));
  const attempt = (fn: () => void): void => {
    try { fn(); } catch (e) {
      if (!(e instanceof MugptError)) throw e;
      if (!named(e)) throw new WrongResult(`a MugptError that names no file: ${e.message}`);
    }
  };
  const before = process.memoryUsage().arrayBuffers;
  let result: CaseResult;
  try {
    await target.run(dir, c, attempt);
    result = { r: 'ok' };
  } catch (e) {
    if (e instanceof MugptError) {
      if (c.valid) result = { r: 'fail', why: `a valid input was refused: ${e.message}` };
      else if (!named(e)) result = { r: 'fail', why: `a MugptError that names no file: ${e.message}` };
      else result = { r: 'refused' };
    } else {
      const err = e as Error;
      result = { r: 'fail', why: `${err instanceof WrongResult ? 'wrong result' : err?.name ?? typeof e}: ${err?.message ?? String(e)}`
        + (err instanceof WrongResult ? '' : `\n${(err?.stack ?? '').split('\n').slice(1, 4).join('\n')}`) };
    }
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  if (result.r !== 'fail' && grown > ALLOWANCE + 16 * inputBytes) {
    result = { r: 'fail', why: `allocated ${grown} bytes of buffers for a ${inputBytes}-byte input` };
  }
  return result;
}
