// The files that make a checkpoint a complete Hugging Face model folder, besides the weights:
// config.json, generation_config.json, and the tokenizer in both of HF's forms (tokenizer.json for
// the fast tokenizer; vocab.json + merges.txt for GPT2Tokenizer) with tokenizer_config.json and
// special_tokens_map.json. transformers' AutoTokenizer / AutoModelForCausalLM load such a folder
// (btlm through the published BTLM remote code: the config's auto_map), and so does loadModel.
import { join } from 'node:path';
import { check } from '../errors.js';
import { toHfConfig, type ModelConfig } from './config.js';
import type { Tokenizer } from '../tokenizer/bpe.js';
import { tokenizerJson } from '../tokenizer/save.js';
import { writeFileAtomic } from '../io/atomic.js';

export type TorchDtype = 'float32' | 'float16' | 'bfloat16';

/** The tokenizer files written besides the weights, config.json and generation_config.json. */
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

/**
 * generation_config.json as transformers derives it from a model config (`_from_model_config`): the
 * special token ids generation starts and stops with.
 */
export function generationConfig(cfg: ModelConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { _from_model_config: true };
  if (cfg.bos_token_id !== null) out.bos_token_id = cfg.bos_token_id;
  if (cfg.eos_token_id !== null) out.eos_token_id = cfg.eos_token_id;
  return out;
}

const json = (x: unknown): string => `${JSON.stringify(x, null, 2)}\n`;

/**
 * Writes tok as tokenizer.json, vocab.json, merges.txt (GPT2Tokenizer's "#version" header line,
 * which its reader skips), tokenizer_config.json and special_tokens_map.json. The EOS token (GPT-2's
 * `<|endoftext|>`) is also BOS and UNK, as in GPT-2's own files; maxLength is model_max_length.
 */
export function writeTokenizerFiles(dir: string, tok: Tokenizer, maxLength: number): void {
  const tj = tokenizerJson(tok);
  const model = tj.model as { vocab: Record<string, number>; merges: string[] };
  writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tj));
  writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify(model.vocab));
  writeFileAtomic(join(dir, 'merges.txt'), `#version: 0.2\n${model.merges.map((m) => `${m}\n`).join('')}`);
  const eos = tok.eosTokenId === null ? null : Object.keys(model.vocab).find((k) => model.vocab[k] === tok.eosTokenId) ?? null;
  const special = eos === null ? {} : { bos_token: eos, eos_token: eos, unk_token: eos };
  writeFileAtomic(join(dir, 'special_tokens_map.json'), json(special));
  writeFileAtomic(join(dir, 'tokenizer_config.json'), json({
    add_prefix_space: false, ...special, model_max_length: maxLength, tokenizer_class: 'GPT2Tokenizer',
  }));
}

export interface HfFolderOptions {
  /** config.json's torch_dtype (the dtype of the stored weights); default float32. */
  torchDtype?: TorchDtype;
  /** The tokenizer the model was trained with; null or undefined: no tokenizer files. */
  tokenizer?: Tokenizer | null;
}

/**
 * config.json (HF form; btlm with the auto_map of the published BTLM code), generation_config.json,
 * and the tokenizer files when a tokenizer is given (its vocabulary must fit the model's). The
 * tokenizer's end-of-text token becomes the folder's bos_token_id and eos_token_id (a run config
 * keeps GPT-2's 50256 by default, which a trained tokenizer's ids need not match).
 */
export function writeHfFolderFiles(dir: string, cfg: ModelConfig, opts: HfFolderOptions = {}): void {
  const tok = opts.tokenizer ?? null;
  let out = cfg;
  if (tok !== null) {
    check(tok.vocabSize <= cfg.vocab_size, () => `${dir}: the tokenizer has ${tok.vocabSize} tokens, more than the model's `
      + `vocab_size ${cfg.vocab_size}; it cannot be the tokenizer this model was trained with`);
    if (tok.eosTokenId !== null) out = { ...cfg, bos_token_id: tok.eosTokenId, eos_token_id: tok.eosTokenId };
    writeTokenizerFiles(dir, tok, cfg.n_positions);
  }
  writeFileAtomic(join(dir, 'generation_config.json'), json(generationConfig(out)));
  writeFileAtomic(join(dir, 'config.json'), json({ ...toHfConfig(out), torch_dtype: opts.torchDtype ?? 'float32' }));
}
