// `mugpt tokenizer train --vocab 8192 --input PATH... -o tokenizer.json`: trains a byte-level BPE
// (src/tokenizer/train.ts) on .txt (one document per file), .jsonl / .jsonl.zst (a text field)
// files or folders of them, and writes an HF tokenizer.json. `mugpt tokenizer encode|decode` try one.
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { multiBar, type SingleBar } from '../report/progress.js';
import { MugptError, check } from '../errors.js';
import { parseIntFlag } from './flags.js';
import { emptyReadStats, formatIssue, listFiles, readSource } from '../data/readers.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { saveTokenizerJson } from '../tokenizer/save.js';
import { trainBpe } from '../tokenizer/train.js';

const CORPUS_FILE = /\.(txt|jsonl|ndjson|jsonl\.zst)$/i;

/** The corpus files of the given paths: named files as they are, folders' .txt/.jsonl/.jsonl.zst files. */
function corpusFiles(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    const { files: found, missing } = listFiles([p]);
    check(missing.length === 0, `--input: ${p} does not exist or holds no files`);
    const isDir = statSync(resolve(p)).isDirectory();
    const kept = isDir ? found.filter((f) => CORPUS_FILE.test(f)).sort() : found;
    check(kept.length > 0, `--input: folder ${p} holds no .txt, .jsonl or .jsonl.zst files`);
    files.push(...kept);
  }
  return [...new Set(files)];
}

export function register(program: Command): void {
  const tk = program.command('tokenizer').description('byte-level BPE tokenizers: train one, or try one on text');

  tk.command('train')
    .description('train a byte-level BPE tokenizer on .txt / .jsonl / .jsonl.zst files (or folders of them) and write tokenizer.json')
    .requiredOption('--vocab <n>', 'vocabulary size: 256 byte tokens + merges + special tokens')
    .requiredOption('--input <paths...>', 'corpus files or folders')
    .option('-o, --output <file>', 'the tokenizer.json to write', 'tokenizer.json')
    .option('--min-frequency <n>', 'pairs seen fewer times are never merged', '2')
    .option('--special <tokens...>', 'special tokens besides <|endoftext|>')
    .option('--text-field <name>', 'JSONL field holding the text', 'text')
    .option('--on-error <mode>', "bad input (invalid UTF-8, malformed JSON line, missing text field): 'stop' with its file and line, or 'skip' it and count", 'stop')
    .option('--no-progress', 'no progress bars')
    .action(async (o: { vocab: string; input: string[]; output: string; minFrequency: string; special?: string[]; textField: string; onError: string; progress: boolean }) => {
      check(o.onError === 'stop' || o.onError === 'skip', `--on-error: expected 'stop' or 'skip', got '${o.onError}'`);
      const vocabSize = parseIntFlag('--vocab', o.vocab, 1);
      const minFrequency = parseIntFlag('--min-frequency', o.minFrequency, 1);
      const out = resolve(o.output);
      check(statSync(dirname(out), { throwIfNoEntry: false })?.isDirectory(), `-o/--output: folder ${dirname(o.output)} does not exist`);
      const files = corpusFiles(o.input);
      const totalBytes = files.reduce((s, f) => s + statSync(f).size, 0);
      const show = o.progress && process.stderr.isTTY;
      const bars = show ? multiBar('{stage} |{bar}| {percentage}% {value}/{total} {unit} | {rate} | ETA {eta_formatted}') : null;
      const MB = 1024 * 1024;
      const t0 = Date.now();
      const readBar = bars?.create(Math.max(1, Math.round(totalBytes / MB * 10) / 10), 0, { stage: 'count words', unit: 'MB', rate: '' });
      let mergeBar: SingleBar | undefined;
      const stats = emptyReadStats();
      let disk = 0;
      let firstIssue = '';
      async function* texts(): AsyncGenerator<string> {
        const docs = readSource({ name: 'input', paths: files, textField: o.textField }, {
          onError: o.onError as 'stop' | 'skip', stats,
          onIssue: (i) => { firstIssue ||= formatIssue(i, true); },
          onDiskBytes: (n) => {
            disk += n;
            readBar?.update(Math.round(disk / MB * 10) / 10, { rate: `${(disk / MB / Math.max(1e-3, (Date.now() - t0) / 1000)).toFixed(1)} MB/s` });
          },
        });
        for await (const d of docs) yield d.text;
      }
      const t1 = { at: 0 };
      const tok = await trainBpe(texts(), {
        vocabSize, minFrequency, specialTokens: o.special,
        onProgress: (p) => {
          if (p.phase !== 'merge' || !bars) return;
          if (!mergeBar) { t1.at = Date.now(); mergeBar = bars.create(p.total, 0, { stage: 'merge      ', unit: 'merges', rate: '' }); }
          mergeBar.update(p.merges, { rate: `${(p.merges / Math.max(1e-3, (Date.now() - t1.at) / 1000)).toFixed(0)} merges/s` });
        },
      }).finally(() => bars?.stop());
      saveTokenizerJson(tok, out);
      const s = (Date.now() - t0) / 1000;
      console.log(`${o.output}: ${tok.vocabSize} tokens (${tok.spec.mergeResults.length} merges) from ${stats.documents} documents, ${(stats.bytes / MB).toFixed(1)} MB, in ${s.toFixed(1)} s`);
      const issues = Object.values(stats.issues).reduce((a, b) => a + b, 0);
      if (issues > 0) console.log(`skipped ${issues} pieces of bad input (${Object.entries(stats.issues).filter(([, n]) => n > 0).map(([k, n]) => `${k}: ${n}`).join(', ')}); the first: ${firstIssue}`);
      if (tok.vocabSize < vocabSize) console.log(`note: the corpus supports only ${tok.vocabSize} of the ${vocabSize} tokens asked for (no pair left with ≥ ${minFrequency} occurrences)`);
    });

  tk.command('encode')
    .description('print the token ids of a text')
    .argument('<text>')
    .option('--tokenizer <dirOrName>', "'gpt2' or a folder / tokenizer.json", 'gpt2')
    .option('--allow-special', 'turn <|endoftext|> (and other special tokens) in the text into their ids')
    .action((text: string, o: { tokenizer: string; allowSpecial?: boolean }) => {
      console.log(JSON.stringify(loadTokenizer(o.tokenizer).encode(text, { allowSpecial: o.allowSpecial === true })));
    });

  tk.command('decode')
    .description('print the text of some token ids')
    .argument('<ids...>')
    .option('--tokenizer <dirOrName>', "'gpt2' or a folder / tokenizer.json", 'gpt2')
    .action((ids: string[], o: { tokenizer: string }) => {
      const nums = ids.flatMap((s) => s.split(/[\s,[\]]+/)).filter((s) => s !== '').map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n)) throw new MugptError(`decode: '${s}' is not a token id`);
        return n;
      });
      process.stdout.write(loadTokenizer(o.tokenizer).decode(nums) + '\n');
    });
}
