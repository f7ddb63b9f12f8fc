// loadTokenizer: the bundled GPT-2 vocabulary, an HF tokenizer.json (BPE model, byte-level), or
// vocab.json + merges.txt. Every malformed field is reported with its file and JSON path.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MugptError, check } from '../errors.js';
import { readAsset } from './asset.js';
import { BpeTokenizer, type AddedToken, type BpeSpec, type Tokenizer } from './bpe.js';
import { buildSpec, checkVocabSize, findEos, isObject, parseTokenizerJson, MAX_TOKENIZER_ENTRIES } from './tokenizer-json.js';

export { parseTokenizerJson } from './tokenizer-json.js';

/** The bundled GPT-2 asset (assets/ at the package root; this file is dist/src/tokenizer/load.js). */
export const GPT2_ASSET = fileURLToPath(new URL('../../../assets/gpt2-bpe.bin', import.meta.url));

let gpt2Cache: BpeTokenizer | null = null;

/**
 * 'gpt2' → the bundled GPT-2 tokenizer (offline); a folder → its tokenizer.json, else its
 * vocab.json + merges.txt; a path to a tokenizer.json file → that file.
 */
export function loadTokenizer(dirOrName: string): Tokenizer {
  if (dirOrName === 'gpt2') return (gpt2Cache ??= new BpeTokenizer(readAsset(GPT2_ASSET)));
  check(existsSync(dirOrName), `tokenizer: ${dirOrName} does not exist (expected 'gpt2', a folder with tokenizer.json or vocab.json + merges.txt, or a tokenizer.json file)`);
  if (statSync(dirOrName).isFile()) return new BpeTokenizer(parseTokenizerJson(readJson(dirOrName), dirOrName));
  const tj = join(dirOrName, 'tokenizer.json');
  if (existsSync(tj)) return new BpeTokenizer(parseTokenizerJson(readJson(tj), tj, eosNameIn(dirOrName)));
  const vj = join(dirOrName, 'vocab.json'), mt = join(dirOrName, 'merges.txt');
  check(existsSync(vj) && existsSync(mt), `tokenizer: ${dirOrName} has neither tokenizer.json nor vocab.json + merges.txt`);
  return new BpeTokenizer(parseVocabMerges(dirOrName, vj, mt));
}

/**
 * Limits that keep a hostile tokenizer from exhausting memory, far above real ones (GPT-2: 50,257
 * tokens, 50,000 merges, a 1.4 MB tokenizer.json; the largest public vocabularies have about 256k):
 * a tokenizer file of at most 256 MiB, at most 2^22 tokens and 2^22 merges (tokenizer-json.ts).
 */
export const MAX_TOKENIZER_FILE_BYTES = 256 << 20;
export { MAX_TOKENIZER_ENTRIES };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A tokenizer file's text, its size checked before it is read, its UTF-8 checked (not replaced). */
function readText(path: string): string {
  const size = statSync(path).size;
  check(size <= MAX_TOKENIZER_FILE_BYTES, () => `${path}: ${size} bytes, more than the ${MAX_TOKENIZER_FILE_BYTES}-byte limit of a tokenizer file`);
  const bytes = readFileSync(path);
  try { return utf8.decode(bytes); } catch { throw new MugptError(`${path}: not valid UTF-8`); }
}

function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new MugptError(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

/** A folder with GPT-2's vocab.json + merges.txt (and optionally tokenizer_config.json / special_tokens_map.json). */
function parseVocabMerges(dir: string, vocabFile: string, mergesFile: string): BpeSpec {
  const vocab = readJson(vocabFile);
  check(isObject(vocab), `${vocabFile}: expected a JSON object mapping token strings to ids`);
  const merges: Array<[string, string]> = [];
  checkVocabSize(vocab, vocabFile, 'vocab');
  const text = readText(mergesFile);
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    check(++lines <= MAX_TOKENIZER_ENTRIES + 1, () => `${mergesFile}: more than ${MAX_TOKENIZER_ENTRIES} merges (the limit)`);
  }
  text.split('\n').forEach((line, i) => {
    line = line.replace(/\r$/, '');
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const sp = line.split(' ');
    check(sp.length === 2 && sp[0] !== '' && sp[1] !== '', () => `${mergesFile}:${i + 1}: ${JSON.stringify(line)} is not "left right"`);
    merges.push([sp[0], sp[1]]);
  });
  const eosName = eosNameIn(dir);
  // Special tokens of a vocab.json: its <|…|> entries (GPT-2: <|endoftext|>) and the eos_token;
  // they are matched only with allowSpecial, as in tokenizer.json.
  const added: AddedToken[] = [];
  for (const [content, id] of Object.entries(vocab)) {
    if (/^<\|[^|]*\|>$/.test(content) || content === eosName) added.push({ id: id as number, content, special: true });
  }
  const eos = findEos(vocab, added, eosName);
  return buildSpec(vocab, merges, added, eos, { file: vocabFile, vocabField: 'vocab', mergesField: mergesFile, addPrefixSpace: false, useRegex: true, ignoreMerges: false });
}

/** The eos_token named by a folder's special_tokens_map.json or tokenizer_config.json, if any. */
function eosNameIn(dir: string): string | null {
  for (const f of ['special_tokens_map.json', 'tokenizer_config.json']) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    const j = readJson(p);
    const e = isObject(j) ? j.eos_token : undefined;
    if (typeof e === 'string') return e;
    if (isObject(e) && typeof e.content === 'string') return e.content;
  }
  return null;
}

