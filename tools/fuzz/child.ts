// One batch of fuzz cases in a child process (started by runner.ts under a memory limit): prints one
// JSON line per case, so the parent can tell which case hung or crashed the process.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCase } from './case.js';
import { TARGETS } from './targets.js';

const [format, seedArg, fromArg, toArg, tmp] = process.argv.slice(2);
const target = TARGETS.find((t) => t.name === format);
if (!target) throw new Error(`fuzz child: unknown format ${format}`);
const seed = Number(seedArg);
target.prepare?.();
writeFileSync(1, `${JSON.stringify({ ready: true })}\n`);
for (let i = Number(fromArg); i < Number(toArg); i++) {
  const dir = join(tmp, `case-${i}`);
  mkdirSync(dir, { recursive: true });
  const r = await runCase(target, seed, i, dir);
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(1, `${JSON.stringify({ i, ...r })}\n`);
}
