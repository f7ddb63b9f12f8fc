// `mugpt generate --model DIR|FILE.gguf|OWNER/NAME --prompt TEXT [...]`: stream a continuation to stdout.
// The prompt is printed first, then each token's text as it is produced; a stats line goes to stderr.
import { Option, type Command } from 'commander';
import { MugptError } from '../errors.js';
import { digitsInteger } from './flags.js';
import type { Generation } from '../generate/generate.js';
import { resolveOptions, DEFAULT_MAX_NEW_TOKENS, type GenerateOptions } from '../generate/options.js';
import type { BackendName } from '../kernels/kernels.js';
import { loadModel } from '../model/model.js';
import { describeKernels } from '../kernels/index.js';
import { modelFromArg } from './hub-progress.js';
import { KV_CACHE_TYPES, type KVCacheType } from '../model/kvcache.js';
import { threadsOption } from './threads.js';

interface Flags {
  model: string;
  prompt: string;
  maxTokens?: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  repetitionPenalty?: string;
  seed?: string;
  stop?: string[];
  ignoreEos?: boolean;
  backend?: BackendName;
  kvCache?: KVCacheType;
  padToBlocks?: 'q4_0' | 'q8_0' | 'none';
  layoutCache: boolean;
}

/** The flag that sets each generate option, for error messages. */
const FLAG: Record<keyof GenerateOptions, string> = {
  maxNewTokens: '--max-tokens', temperature: '--temperature', topK: '--top-k', topP: '--top-p',
  repetitionPenalty: '--repetition-penalty', seed: '--seed', stop: '--stop', ignoreEos: '--ignore-eos', signal: 'signal',
};

export function register(program: Command): void {
  threadsOption(program.command('generate'))
    .description('generate text from a Hugging Face model folder or a GGUF file, streamed to stdout (greedy unless --temperature > 0)')
    .requiredOption('--model <path>', 'an HF model folder (config.json + model.safetensors, or a sharded index), a .gguf file, or a Hub id OWNER/NAME[@REVISION] (pulled into the Hugging Face cache)')
    .requiredOption('--prompt <text>', 'the text to continue ("" starts from <|endoftext|>)')
    .option('--max-tokens <n>', `most new tokens (default ${DEFAULT_MAX_NEW_TOKENS})`)
    .option('--temperature <t>', 'sampling temperature; 0 is greedy (default 0)')
    .option('--top-k <k>', 'keep the K most likely tokens; 0 is off (default 0)')
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]; 1 is off (default 1)')
    .option('--repetition-penalty <r>', 'HF repetition penalty > 0; 1 is off (default 1)')
    .option('--seed <s>', 'sampling seed, an integer (default: random, printed in the stats)')
    .option('--stop <str...>', 'stop strings: the text ends before the first one generated')
    .option('--ignore-eos', 'keep generating past <|endoftext|>')
    .addOption(new Option('--backend <name>', 'kernels (default: native where built, else js; or $MUGPT_BACKEND)').choices(['js', 'native', 'wasm']))
    .addOption(new Option('--kv-cache <type>', 'element type of the KV cache: f32, f16 for half the memory, q8 (int8 with a scale per position and head) for about a quarter (default f32)').choices([...KV_CACHE_TYPES]))
    .addOption(new Option('--pad-to-blocks <type>', 'GGUF: float matrices with unaligned inputs (BTLM mlp.c_proj) as zero-padded q4_0 / q8_0 blocks (default q8_0 in quantized files; q4_0: least memory), or none: floats as in llama.cpp').choices(['q4_0', 'q8_0', 'none']))
    .option('--no-layout-cache', 'GGUF: neither read nor write FILE.gguf.mugpt-x16, the converted matrices saved next to the file at the first load (docs/quantization.md)')
    .action(async (flags: Flags) => {
      const opts = optionsFromFlags(flags);
      const path = await modelFromArg(flags.model);
      const t0 = performance.now();
      const model = loadModel(path, {
        backend: flags.backend, kvCache: flags.kvCache, padToBlocks: flags.padToBlocks === 'none' ? false : flags.padToBlocks,
        layoutCache: flags.layoutCache, onLog: (line) => process.stderr.write(`mugpt: ${line}\n`),
      });
      const loadMs = performance.now() - t0;
      const controller = new AbortController();
      const gen = model.generate(flags.prompt, { ...opts, signal: controller.signal });
      await stream(gen, flags.prompt, controller, describeKernels(model.kernels), loadMs);
    });
}

/** Parses and checks the flags' values; errors name the flag. */
export function optionsFromFlags(flags: Omit<Flags, 'model' | 'prompt' | 'backend' | 'kvCache' | 'padToBlocks' | 'layoutCache'>): GenerateOptions {
  const opts: GenerateOptions = {
    maxNewTokens: integer(flags.maxTokens, '--max-tokens'),
    temperature: number(flags.temperature, '--temperature'),
    topK: integer(flags.topK, '--top-k'),
    topP: number(flags.topP, '--top-p'),
    repetitionPenalty: number(flags.repetitionPenalty, '--repetition-penalty'),
    seed: integer(flags.seed, '--seed'),
    stop: flags.stop,
    ignoreEos: flags.ignoreEos,
  };
  for (const k of Object.keys(opts) as Array<keyof GenerateOptions>) if (opts[k] === undefined) delete opts[k];
  resolveOptions(opts, (k) => FLAG[k]);
  return opts;
}

function number(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new MugptError(`${flag} expects a number, got ${JSON.stringify(v)}`);
  return x;
}

function integer(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = digitsInteger(v);
  if (n === null) throw new MugptError(`${flag} expects a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Writes the prompt and the tokens to stdout as they come and the stats to stderr. Ctrl-C (exit code
 * 130) or a closed pipe (EPIPE, e.g. `| head`; exit code 0) stops generation; the stats line is still written.
 */
async function stream(gen: Generation, prompt: string, controller: AbortController, kernels: string, loadMs: number): Promise<void> {
  let stoppedBy: 'SIGINT' | 'EPIPE' | null = null;
  const onSigint = (): void => {
    stoppedBy = 'SIGINT';
    controller.abort();
  };
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
    stoppedBy ??= 'EPIPE';
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  process.stdout.on('error', onStdoutError);
  try {
    process.stdout.write(prompt);
    for await (const { text } of gen) if (text) process.stdout.write(text);
    process.stdout.write('\n');
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
  process.stderr.write(`${statsLine(gen, stoppedBy, kernels, loadMs)}\n`);
  if (stoppedBy === 'SIGINT') process.exitCode = 130;
}

function statsLine(gen: Generation, stoppedBy: string | null, kernels: string, loadMs: number): string {
  const s = gen.stats;
  const rate = (n: number, ms: number): string => (ms > 0 ? (n / (ms / 1000)).toFixed(1) : '-');
  const end = stoppedBy ?? s.finishReason;
  return `mugpt: loaded in ${(loadMs / 1000).toFixed(2)} s; ${s.promptTokens} prompt tokens, prefill ${rate(s.promptTokens, s.prefillMs)} tokens/s; ` +
    `${s.generatedTokens} generated, decode ${rate(s.decodeTokens, s.decodeMs)} tokens/s; kernels ${kernels}; ` +
    `seed ${s.seed}, end: ${end}`;
}
