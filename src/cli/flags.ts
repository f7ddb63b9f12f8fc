// Numeric command-line flags: one rule for what spells an integer, for every command.
import { MugptError } from '../errors.js';

/** The integer a flag's text spells in decimal digits (spaces around allowed; no sign, exponent or hex), else null. */
export function digitsInteger(text: string): number | null {
  const n = Number(text);
  return /^\s*\d+\s*$/.test(text) && Number.isInteger(n) ? n : null;
}

/** An integer flag ≥ min; anything else is refused as `FLAG: expected an integer ≥ MIN, got "TEXT"`. */
export function parseIntFlag(flag: string, text: string, min: number): number {
  const n = digitsInteger(text);
  if (n === null || n < min) throw new MugptError(`${flag}: expected an integer ≥ ${min}, got "${text}"`);
  return n;
}
