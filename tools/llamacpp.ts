// The llama.cpp peer, through node-llama-cpp (prebuilt CPU binaries, no network): next-token
// log-probabilities for golden tests of our GGUF files, prefill / decode speed for benchmarks, and
// llama.cpp's own quantizer.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ControlledEvaluateInputItem, Llama, LlamaModel, Token } from 'node-llama-cpp';

let llamaPromise: Promise<Llama> | null = null;

/** One llama.cpp instance per process, CPU only, never building from source. */
export async function getLlamaCpp(): Promise<Llama> {
  if (!llamaPromise) {
    llamaPromise = import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
      getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error }));
  }
  return llamaPromise;
}

async function withModel<T>(path: string, fn: (model: LlamaModel) => Promise<T>): Promise<T> {
  const llama = await getLlamaCpp();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

/**
 * log p(next token | tokens[0..t]) for every position t: [T][V] as Float64Arrays, from llama.cpp's
 * full next-token probability lists (node-llama-cpp exposes probabilities, not raw logits).
 */
export async function llamaCppLogProbs(path: string, tokens: number[], vocabSize: number): Promise<Float64Array[]> {
  return withModel(path, async (model) => {
    const context = await model.createContext({ contextSize: Math.max(64, tokens.length + 1), threads: 2 });
    try {
      const seq = context.getSequence();
      // temperature 1 with top-k / top-p / min-p disabled: the plain softmax of the logits
      const items: ControlledEvaluateInputItem[] = tokens.map((t) => [
        t as Token, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } },
      ]);
      const out = await seq.controlledEvaluate(items);
      return out.map((o, t) => {
        const probs = o?.next?.probabilities;
        if (!probs) throw new Error(`llama.cpp returned no probabilities at position ${t}`);
        const lp = new Float64Array(vocabSize).fill(-Infinity);
        for (const [id, p] of probs) lp[id] = Math.log(p);
        return lp;
      });
    } finally {
      await context.dispose();
    }
  });
}

export interface PeerSpeed {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

/** Prefill `prompt` in one batch, then decode `decode` tokens greedily; tokens per second of each. */
export async function llamaCppSpeed(path: string, prompt: number[], decode: number, threads = 2): Promise<PeerSpeed> {
  return withModel(path, async (model) => {
    const context = await model.createContext({
      contextSize: prompt.length + decode + 8, batchSize: prompt.length, threads: { ideal: threads, min: threads },
    });
    try {
      const seq = context.getSequence();
      // one untimed prefill of the same prompt first, then the sequence cleared: its threads and buffers
      // warmed as mugpt's are before its timing (bench/engine-mugpt.ts), so both measure their steady prefill
      await seq.evaluateWithoutGeneratingNewTokens(prompt as Token[]);
      await seq.clearHistory();
      const t0 = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(prompt as Token[]);
      const t1 = performance.now();
      let n = 0;
      const gen = seq.evaluate([prompt[prompt.length - 1] as Token], { temperature: 0 });
      const t2 = performance.now();
      for await (const _ of gen) {
        if (++n >= decode) break;
      }
      const t3 = performance.now();
      return { prefillTokensPerSecond: (prompt.length * 1000) / (t1 - t0), decodeTokensPerSecond: (n * 1000) / (t3 - t2) };
    } finally {
      await context.dispose();
    }
  });
}

/**
 * Builds tools/llama-quantize.c against the libllama of node-llama-cpp's prebuilt binaries (headers
 * from its bundled llama.cpp source), into dir; returns the executable's path. Needs git and a C compiler.
 */
export function buildLlamaQuantize(dir: string): string {
  const root = fileURLToPath(new URL('../../', import.meta.url)); // dist/tools/ → the repository
  const pkg = join(root, 'node_modules', 'node-llama-cpp');
  const bins = join(root, 'node_modules', '@node-llama-cpp', `${process.platform}-${process.arch}`, 'bins');
  const binDir = readdirSync(bins).map((d) => join(bins, d)).find((d) => readdirSync(d).some((f) => /^libllama\..*so$/.test(f)));
  if (!binDir) throw new Error(`no prebuilt libllama under ${bins}`);
  const lib = readdirSync(binDir).find((f) => /^libllama\..*so$/.test(f))!;
  const src = join(dir, 'llama-src');
  const run = (cmd: string, args: string[], cwd?: string): void => {
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  };
  run('git', ['clone', '-q', '--no-checkout', join(pkg, 'llama', 'gitRelease.bundle'), src]);
  run('git', ['checkout', '-q', 'HEAD', '--', 'include/llama.h', 'ggml/include'], src);
  const exe = join(dir, 'llama-quantize');
  run('cc', ['-O1', `-I${join(src, 'include')}`, `-I${join(src, 'ggml', 'include')}`, join(root, 'tools', 'llama-quantize.c'),
    '-o', exe, join(binDir, lib), `-Wl,-rpath,${binDir}`]);
  return exe;
}

/** Quantizes a GGUF file with llama.cpp's own quantizer (llama_model_quantize). */
export function llamaQuantize(exe: string, input: string, output: string, type: 'q8_0' | 'q4_0'): void {
  const r = spawnSync(exe, [input, output, type], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`llama.cpp quantize failed: ${r.stderr}`);
}
