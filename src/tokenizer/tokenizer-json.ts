// HF tokenizer.json (BPE model, byte-level) → a BpeSpec, with no Node API (browsers read a model's
// tokenizer too); tokenizer/load.ts reads the files. Every malformed field is reported with its file
// and JSON path.
import { check, shown } from '../errors.js';
import type { AddedToken, BpeSpec } from './bpe.js';
import { byteToChar, tokenStringToBytes } from './bytes.js';

/** At most 2^22 tokens and 2^22 merges: far above real tokenizers, checked before any table is built. */
export const MAX_TOKENIZER_ENTRIES = 1 << 22;

/** Refuses a vocabulary with more than MAX_TOKENIZER_ENTRIES tokens before anything is built from it. */
export function checkVocabSize(vocab: Record<string, unknown>, file: string, field: string): void {
  let n = 0;
  for (const _ in vocab) {
    check(++n <= MAX_TOKENIZER_ENTRIES, () => `${file}: ${field} has more than ${MAX_TOKENIZER_ENTRIES} tokens (the limit)`);
  }
}

const UTF8 = new TextEncoder();

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An HF tokenizer.json with a BPE model and a ByteLevel pre-tokenizer. Added tokens are matched as
 * literal strings (their lstrip / rstrip / single_word / normalized flags are not applied). The EOS
 * is eosName (from tokenizer_config.json) when given and present, else `<|endoftext|>`.
 */
export function parseTokenizerJson(json: unknown, file: string, eosName: string | null = null): BpeSpec {
  check(isObject(json), `${file}: expected a JSON object`);
  const model = json.model;
  check(isObject(model), `${file}: field "model" is missing or not an object`);
  check(model.type === undefined || model.type === 'BPE', `${file}: model.type is ${shown(model.type)}; only "BPE" is supported`);
  check(isObject(model.vocab), `${file}: model.vocab must be an object mapping token strings to ids`);
  check(Array.isArray(model.merges), `${file}: model.merges must be an array`);
  check(model.merges.length <= MAX_TOKENIZER_ENTRIES, () => `${file}: model.merges has ${(model.merges as unknown[]).length} merges, more than the limit of ${MAX_TOKENIZER_ENTRIES}`);
  checkVocabSize(model.vocab, file, 'model.vocab');
  for (const f of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    check(model[f] === undefined || model[f] === null || model[f] === '', `${file}: model.${f} ${shown(model[f])} is not supported (byte-level BPE has none)`);
  }
  check(!model.byte_fallback, `${file}: model.byte_fallback is not supported (byte-level BPE needs none)`);
  check(json.normalizer === undefined || json.normalizer === null, `${file}: normalizer ${shown((json.normalizer as { type?: unknown })?.type)} is not supported (expected null)`);
  const byteLevel = findByteLevel(json.pre_tokenizer, file);

  const added: AddedToken[] = [];
  if (json.added_tokens !== undefined && json.added_tokens !== null) {
    check(Array.isArray(json.added_tokens), `${file}: added_tokens must be an array`);
    json.added_tokens.forEach((t: unknown, i: number) => {
      check(isObject(t) && Number.isInteger(t.id) && (t.id as number) >= 0 && (t.id as number) < MAX_TOKENIZER_ENTRIES && typeof t.content === 'string' && t.content !== '',
        () => `${file}: added_tokens[${i}] needs an integer "id" in 0…${MAX_TOKENIZER_ENTRIES - 1} and a non-empty string "content"`);
      added.push({ id: t.id as number, content: t.content as string, special: t.special !== false });
    });
  }
  const merges = (model.merges as unknown[]).map((m, i): [string, string] => {
    if (typeof m === 'string') {
      const sp = m.split(' ');
      check(sp.length === 2 && sp[0] !== '' && sp[1] !== '', () => `${file}: model.merges[${i}] ${shown(m)} is not "left right"`);
      return [sp[0], sp[1]];
    }
    check(Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string',
      () => `${file}: model.merges[${i}] must be a "left right" string or a [left, right] pair of strings`);
    return [m[0], m[1]];
  });
  const eos = findEos(model.vocab as Record<string, unknown>, added, eosName);
  return buildSpec(model.vocab as Record<string, unknown>, merges, added, eos, {
    file, vocabField: 'model.vocab', mergesField: 'model.merges',
    addPrefixSpace: byteLevel.addPrefixSpace, useRegex: byteLevel.useRegex, ignoreMerges: model.ignore_merges === true,
  });
}

/** The ByteLevel step of pre_tokenizer (alone, or inside a Sequence); other steps are refused. */
function findByteLevel(pre: unknown, file: string): { addPrefixSpace: boolean; useRegex: boolean } {
  check(isObject(pre), `${file}: pre_tokenizer must be a ByteLevel pre-tokenizer (found ${shown(pre)})`);
  let steps: unknown[] = [pre];
  if (pre.type === 'Sequence') {
    check(Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 1, `${file}: pre_tokenizer Sequence must hold exactly one ByteLevel step`);
    steps = pre.pretokenizers;
  }
  const bl = steps[0];
  check(isObject(bl) && bl.type === 'ByteLevel', `${file}: pre_tokenizer.type ${shown(isObject(bl) ? bl.type : bl)} is not supported (expected "ByteLevel")`);
  return { addPrefixSpace: bl.add_prefix_space === true, useRegex: bl.use_regex !== false };
}

export function findEos(vocab: Record<string, unknown>, added: AddedToken[], name: string | null): number | null {
  for (const n of [name, '<|endoftext|>']) {
    if (n === null) continue;
    const a = added.find((t) => t.content === n);
    if (a) return a.id;
    if (Number.isInteger(vocab[n])) return vocab[n] as number;
  }
  return null;
}

export interface BuildOpts {
  file: string; vocabField: string; mergesField: string;
  addPrefixSpace: boolean; useRegex: boolean; ignoreMerges: boolean;
}

/** Token strings → ids and bytes; merges → id pairs; checks ids are 0…V-1 without holes. */
export function buildSpec(vocab: Record<string, unknown>, merges: Array<[string, string]>, added: AddedToken[], eos: number | null, o: BuildOpts): BpeSpec {
  const ids = new Map<string, number>();
  const byId: Array<string | undefined> = [];
  for (const [tok, id] of Object.entries(vocab)) {
    check(Number.isInteger(id) && (id as number) >= 0 && (id as number) < MAX_TOKENIZER_ENTRIES,
      () => `${o.file}: ${o.vocabField}[${shown(tok)}] = ${shown(id)} is not an integer id in 0…${MAX_TOKENIZER_ENTRIES - 1}`);
    check(byId[id as number] === undefined, () => `${o.file}: ${o.vocabField}: id ${id} is used by both ${shown(byId[id as number])} and ${shown(tok)}`);
    ids.set(tok, id as number);
    byId[id as number] = tok;
  }
  const addedIds = new Set<number>();
  for (const t of added) {
    check(byId[t.id] === undefined || byId[t.id] === t.content, () => `${o.file}: added token ${shown(t.content)} has id ${t.id}, which the vocabulary gives to ${shown(byId[t.id])}`);
    byId[t.id] = t.content;
    addedIds.add(t.id);
  }
  const V = byId.length;
  check(V > 0, `${o.file}: ${o.vocabField} is empty`);
  const tokenBytes: Uint8Array[] = new Array(V);
  for (let id = 0; id < V; id++) {
    const s = byId[id];
    check(s !== undefined, () => `${o.file}: ${o.vocabField} has no token with id ${id} (ids must run 0…${V - 1} without gaps)`);
    tokenBytes[id] = (addedIds.has(id) ? null : tokenStringToBytes(s)) ?? UTF8.encode(s);
  }
  const byteToId = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    const id = ids.get(byteToChar[b]);
    check(id !== undefined, () => `${o.file}: ${o.vocabField} lacks the byte-level token ${shown(byteToChar[b])} for byte 0x${b.toString(16).padStart(2, '0')}; a byte-level BPE needs all 256`);
    byteToId[b] = id;
  }
  const mergePairs = new Int32Array(2 * merges.length);
  const mergeResults = new Int32Array(merges.length);
  merges.forEach(([l, r], i) => {
    const a = ids.get(l), b = ids.get(r), c = ids.get(l + r);
    const where = (): string => `${o.file}: ${o.mergesField}[${i}] ${shown(l + ' ' + r)}`;
    check(a !== undefined && b !== undefined, () => `${where()} uses a token that is not in ${o.vocabField}`);
    check(c !== undefined, () => `${where()}: the merged token ${shown(l + r)} is not in ${o.vocabField}`);
    mergePairs[2 * i] = a; mergePairs[2 * i + 1] = b; mergeResults[i] = c;
  });
  return { tokenBytes, mergePairs, mergeResults, byteToId, added, eosTokenId: eos, addPrefixSpace: o.addPrefixSpace, useRegex: o.useRegex, ignoreMerges: o.ignoreMerges };
}
