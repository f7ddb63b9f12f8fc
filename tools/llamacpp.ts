// The llama.cpp peer, through node-llama-cpp (prebuilt CPU binaries, no network): next-token
// log-probabilities for golden tests of our GGUF files, and prefill / decode speed for benchmarks.
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
