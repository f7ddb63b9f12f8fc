// `mugpt serve --model PATH [...]`: an OpenAI-compatible HTTP server with continuous batching
// (src/serve/). SIGTERM or SIGINT stops it gracefully (running streams get --grace seconds) and exits 0.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Option, type Command } from 'commander';
import { MugptError } from '../errors.js';
import { digitsInteger } from './flags.js';
import type { BackendName } from '../kernels/kernels.js';
import { KV_CACHE_TYPES, type KVCacheType } from '../model/kvcache.js';
import { loadModel } from '../model/model.js';
import { DEFAULT_CTX, createServer } from '../serve/server.js';
import { modelFromArg } from './hub-progress.js';
import { threadsOption } from './threads.js';

interface Flags {
  model: string;
  host: string;
  port: string;
  apiKey?: string;
  maxConcurrency: string;
  maxQueue: string;
  ctxSize?: string;
  kvCache?: KVCacheType;
  prefillChunk: string;
  grace: string;
  backend?: BackendName;
  padToBlocks?: 'q4_0' | 'q8_0' | 'none';
  layoutCache: boolean;
}

function int(v: string, flag: string, min: number): number {
  const n = digitsInteger(v);
  if (n === null || n < min) throw new MugptError(`${flag} expects an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function register(program: Command): void {
  threadsOption(program.command('serve'))
    .description('serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, streaming), batching concurrent requests')
    .requiredOption('--model <path>', 'HF folder, GGUF file (F32/F16/Q8_0/Q4_0), or a Hub id OWNER/NAME[@REVISION] (pulled into the Hugging Face cache)')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free one)', '8080')
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" on /v1/* (default: $MUGPT_API_KEY, else none)')
    .option('--max-concurrency <n>', 'sequences decoded together, each with its own KV cache', '8')
    .option('--max-queue <n>', 'sequences that may wait for a slot; more are refused with 503', '64')
    .option('--ctx-size <n>', `positions per sequence, prompt + max_tokens (default: n_positions, at most ${DEFAULT_CTX})`)
    .addOption(new Option('--kv-cache <type>', 'element type of the KV caches (default f32)').choices([...KV_CACHE_TYPES]))
    .option('--prefill-chunk <n>', 'prompt tokens per batched step: long prompts are fed in chunks between decode steps', '64')
    .option('--grace <s>', 'seconds running streams get to finish after SIGTERM', '10')
    .addOption(new Option('--backend <name>', 'kernels (default: native where built, else js; or $MUGPT_BACKEND)').choices(['js', 'native']))
    .addOption(new Option('--pad-to-blocks <type>', 'GGUF: float matrices with unaligned inputs as zero-padded blocks (default: the file\'s type), or none').choices(['q4_0', 'q8_0', 'none']))
    .option('--no-layout-cache', 'GGUF: neither read nor write FILE.gguf.mugpt-x16, the converted matrices saved next to the file at the first load (docs/quantization.md)')
    .action(async (flags: Flags) => {
      const port = int(flags.port, '--port', 0);
      if (port > 65535) throw new MugptError(`--port expects a port number ≤ 65535, got ${port}`);
      const maxConcurrency = int(flags.maxConcurrency, '--max-concurrency', 1);
      const maxQueue = int(flags.maxQueue, '--max-queue', 0);
      const ctxSize = flags.ctxSize === undefined ? undefined : int(flags.ctxSize, '--ctx-size', 1);
      const prefillChunk = int(flags.prefillChunk, '--prefill-chunk', 1);
      const grace = int(flags.grace, '--grace', 0);
      const path = await modelFromArg(flags.model); // a Hub id is pulled (or found in the Hugging Face cache) first
      const model = loadModel(path, {
        backend: flags.backend, kvCache: flags.kvCache, padToBlocks: flags.padToBlocks === 'none' ? false : flags.padToBlocks,
        layoutCache: flags.layoutCache, onLog: (line) => process.stderr.write(`mugpt serve: ${line}\n`),
      });
      const modelId = existsSync(flags.model) ? basename(flags.model.replace(/\/+$/, '')) : flags.model;
      const server = createServer(model, {
        host: flags.host, port, apiKey: flags.apiKey ?? process.env.MUGPT_API_KEY ?? null,
        maxConcurrency, maxQueue, ctxSize, prefillChunk, modelId, modelPath: path,
      });
      const url = await server.listen();
      process.stderr.write(`mugpt serve: ${modelId} on ${url} (${maxConcurrency} sequences × ${server.ctxSize} positions, `
        + `${flags.kvCache ?? 'f32'} KV cache, ${model.kernels.name} kernels, chat template: ${server.chatTemplateSource})\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          process.stderr.write(`mugpt serve: ${signal}: stopping (running streams get ${grace} s)\n`);
          server.close(grace * 1000).then(resolve, (err: unknown) => { process.stderr.write(`mugpt serve: ${String(err)}\n`); resolve(); });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      process.stderr.write('mugpt serve: stopped\n');
      process.exit(0);
    });
}
