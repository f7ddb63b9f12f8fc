// Shared test helpers: repository paths and scratch folders.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/). */
export const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** A committed fixture under test/fixtures/. */
export function fixture(...parts: string[]): string {
  return join(repoRoot, 'test', 'fixtures', ...parts);
}

/** A fresh scratch folder. */
export function scratch(prefix = 'mugpt-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The CLI entry point, for spawning `node <cli> …`. */
export const cliPath = join(repoRoot, 'bin', 'mugpt.js');
