// The study's data, as the commands make it: a byte-level BPE trained on the corpus's sources
// (`mugpt tokenizer train`, sized for small models), then the corpus built through the SlimPajama
// steps and packed into token shards with that tokenizer (`mugpt data build`). Both steps resume: the
// tokenizer is kept once written, and the corpus build skips the stages it has already done.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildCorpus } from '../data/build.js';
import { loadCorpusConfig, type CorpusConfig } from '../data/corpus-config.js';
import { sotuCorpusConfig } from '../data/presets.js';
import { emptyReadStats, readSource } from '../data/readers.js';
import { MugptError, check } from '../errors.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { saveTokenizerJson } from '../tokenizer/save.js';
import { trainBpe } from '../tokenizer/train.js';
import { openShards } from '../train/loader.js';
import type { Study } from './study.js';

export interface StudyDataFiles {
  tokenizer: string;
  /** The shard folder (index.json, train-*.bin, val-*.bin). */
  shards: string;
  trainTokens: number;
  valTokens: number;
}

/** The corpus config of the study, writing into `<dir>/data/corpus` with the study's tokenizer and seq_len. */
export function studyCorpusConfig(study: Study, dir: string): CorpusConfig {
  const output = join(dir, 'data', 'corpus'), tokenizer = join(dir, 'data', 'tokenizer.json');
  if ('preset' in study.data.source) {
    return sotuCorpusConfig({ output, tokenizer, seqLen: study.data.seqLen, heldoutFraction: study.data.heldoutFraction });
  }
  const cfg = loadCorpusConfig(study.data.source.corpus);
  return { ...cfg, output, tokenizer, seqLen: study.data.seqLen };
}

/** Trains the tokenizer (unless present) and builds the corpus (resuming a partial build). */
export async function prepareStudyData(study: Study, dir: string, opts: { log?: (line: string) => void; progress?: boolean } = {}): Promise<StudyDataFiles> {
  const log = opts.log ?? (() => {});
  const cfg = studyCorpusConfig(study, dir);
  const tokPath = cfg.tokenizer;
  if (!existsSync(tokPath)) {
    log(`training a ${study.data.vocabSize}-token BPE on the corpus sources`);
    const stats = emptyReadStats();
    async function* texts(): AsyncGenerator<string> {
      for (const s of cfg.sources) {
        for await (const d of readSource(s, { baseDir: cfg.baseDir || undefined, onError: cfg.onError, stats })) yield d.text;
      }
    }
    const tok = await trainBpe(texts(), { vocabSize: study.data.vocabSize });
    check(tok.vocabSize === study.data.vocabSize,
      `${study.file}: data.vocab_size: the corpus supports only ${tok.vocabSize} BPE tokens, fewer than ${study.data.vocabSize}; set data.vocab_size: ${tok.vocabSize}`);
    mkdirSync(dirname(tokPath), { recursive: true });
    saveTokenizerJson(tok, tokPath);
  } else {
    const have = loadTokenizer(tokPath).vocabSize;
    if (have !== study.data.vocabSize) {
      throw new MugptError(`${tokPath}: a ${have}-token tokenizer from an earlier study, but ${study.file} asks for ${study.data.vocabSize}; choose another -o folder`);
    }
  }
  log(`building the corpus into ${cfg.output}`);
  await buildCorpus(cfg, { progress: opts.progress ?? false, log });
  const { train, val } = openShards(cfg.output, study.data.vocabSize);
  try {
    check(val.length >= study.data.seqLen, `${cfg.output}: the held-out split has ${val.length} tokens, fewer than one sequence of ${study.data.seqLen}`);
    return { tokenizer: tokPath, shards: cfg.output, trainTokens: train.length, valTokens: val.length };
  } finally {
    train.close();
    val.close();
  }
}
