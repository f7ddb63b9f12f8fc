// Reading task files: JSON lines, label lists and raw text, every problem reported with its file, line
// and field.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MugptError, check } from '../../errors.js';

/** One JSON object of a .jsonl file and the line it came from (1-based). */
export interface Row {
  file: string;
  line: number;
  value: Record<string, unknown>;
}

/** Reads a file as UTF-8, with a clear error when it is missing or a folder. */
export function readText(file: string): string {
  check(existsSync(file), `${file}: no such file`);
  check(statSync(file).isFile(), `${file}: expected a file, found a folder`);
  return readFileSync(file, 'utf8');
}

/** The JSON objects of a .jsonl file (blank lines skipped); an empty file is an error. */
export function readJsonl(file: string): Row[] {
  const rows: Row[] = [];
  readText(file).split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new MugptError(`${file}:${i + 1}: invalid JSON (${(err as Error).message})`);
    }
    check(typeof value === 'object' && value !== null && !Array.isArray(value), `${file}:${i + 1}: expected a JSON object`);
    rows.push({ file, line: i + 1, value: value as Record<string, unknown> });
  });
  check(rows.length > 0, `${file}: no documents (the file is empty)`);
  return rows;
}

/** `file:line: field "name"` — the place every field error names. */
export function where(row: Row, field: string): string {
  return `${row.file}:${row.line}: field "${field}"`;
}

/** A string field. */
export function str(row: Row, field: string): string {
  const v = row.value[field];
  check(typeof v === 'string', () => `${where(row, field)} is ${v === undefined ? 'missing' : `not a string (${JSON.stringify(v)})`}`);
  return v;
}

/** An object field. */
export function obj(row: Row, field: string): Record<string, unknown> {
  const v = row.value[field];
  check(typeof v === 'object' && v !== null && !Array.isArray(v), () => `${where(row, field)} is ${v === undefined ? 'missing' : 'not an object'}`);
  return v as Record<string, unknown>;
}

/** A non-empty array of strings. */
export function strings(row: Row, field: string, v: unknown = row.value[field]): string[] {
  check(Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'),
    () => `${where(row, field)} is ${v === undefined ? 'missing' : 'not a non-empty array of strings'}`);
  return v as string[];
}

/** An integer index into n choices, given as a number or a digit string (HF datasets store labels as strings). */
export function index(row: Row, field: string, n: number, v: unknown = row.value[field]): number {
  const k = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  check(typeof k === 'number' && Number.isInteger(k), () => `${where(row, field)} is ${v === undefined ? 'missing' : `not an integer (${JSON.stringify(v)})`}`);
  check(k >= 0 && k < n, () => `${where(row, field)} is ${k}, out of range for ${n} choices (expected 0 … ${n - 1})`);
  return k;
}

/** A boolean field (true/false; BoolQ's answer or SuperGLUE's label). */
export function bool(row: Row, field: string): boolean {
  const v = row.value[field];
  check(typeof v === 'boolean', () => `${where(row, field)} is ${v === undefined ? 'missing' : `not true or false (${JSON.stringify(v)})`}`);
  return v;
}

/**
 * The file of a task given as PATH: PATH itself when it is a file, else the first of `names` in the
 * folder PATH. Returns null for an optional file that is absent.
 */
export function findFile(path: string, names: readonly string[], what: string, optional = false): string | null {
  check(existsSync(path), `${path}: no such file or folder`);
  if (statSync(path).isFile()) return optional ? null : path;
  for (const n of names) if (existsSync(join(path, n))) return join(path, n);
  check(optional, `${path}: a folder without the ${what} (expected ${names.join(' or ')})`);
  return null;
}
