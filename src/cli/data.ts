// `mugpt data …`: the corpus commands. Each subcommand registers itself on the `data` command:
// dedup (src/cli/data-dedup.ts); build and stats (the corpus pipeline) are added to `subcommands`.
import type { Command } from 'commander';
import { registerDedup } from './data-dedup.js';
import { registerBuild } from './data-build.js';
import { registerStats } from './data-stats.js';

/** Subcommand registrations, one per module (add `build` and `stats` here). */
const subcommands: Array<(data: Command) => void> = [
  registerDedup,
  registerBuild,
  registerStats,
];

export function register(program: Command): void {
  const data = program.command('data').description('prepare a SlimPajama-style corpus: clean, deduplicate, mix, tokenize, pack');
  for (const sub of subcommands) sub(data);
}
