// Test helpers of the training loop: a stand-in model with an exact gradient, and shards it can learn.
import { writeShard, writeShardIndex } from '../src/data/shards.js';
import type { ModelConfig } from '../src/model/config.js';
import type { NamedTensor } from '../src/model/init.js';
import type { ModelFactory, TrainableModel } from '../src/train/trainer.js';
import { parseRunConfig, type RunConfig } from '../src/train/runconfig.js';
import { scratch } from './helpers.js';

export const V = 64;

/**
 * A stand-in for the real model with an exact gradient: a tied bigram model,
 * h_t = wte[x_t] + ln_f.bias ([D]), logits_t = wte · h_t ([V]), mean cross-entropy against x_{t+1}.
 * Every other tensor gets a zero gradient.
 */
export function bigram(cfg: ModelConfig, tensors: NamedTensor[], nanAtCall = -1): TrainableModel {
  const params = Object.fromEntries(tensors.filter((t) => !t.name.endsWith('slopes')).map((t) => [t.name, t.data]));
  const D = cfg.n_embd, wte = params['transformer.wte.weight'], bias = params['transformer.ln_f.bias'];
  const grads = Object.fromEntries(Object.entries(params).map(([n, p]) => [n, new Float32Array(p.length)]));
  let calls = 0;
  const run = (ids: number[][], withGrad: boolean) => {
    for (const g of Object.values(grads)) g.fill(0);
    const N = ids.reduce((a, s) => a + s.length - 1, 0);
    const h = new Float64Array(D), logits = new Float64Array(V);
    let loss = 0;
    for (const seq of ids) {
      for (let t = 0; t + 1 < seq.length; t++) {
        const x = seq[t], y = seq[t + 1];
        for (let d = 0; d < D; d++) h[d] = wte[x * D + d] + bias[d];
        let max = -Infinity;
        for (let v = 0; v < V; v++) { let s = 0; for (let d = 0; d < D; d++) s += wte[v * D + d] * h[d]; logits[v] = s; max = Math.max(max, s); }
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(logits[v] - max);
        loss += (Math.log(z) + max - logits[y]) / N;
        if (!withGrad) continue;
        const gw = grads['transformer.wte.weight'], gb = grads['transformer.ln_f.bias'];
        for (let v = 0; v < V; v++) {
          const dl = (Math.exp(logits[v] - max) / z - (v === y ? 1 : 0)) / N;
          for (let d = 0; d < D; d++) {
            gw[v * D + d] += dl * h[d];
            const dh = dl * wte[v * D + d];
            gw[x * D + d] += dh;
            gb[d] += dh;
          }
        }
      }
    }
    return loss;
  };
  return {
    parameters: () => params,
    lossAndGrad: (ids) => ({ loss: calls++ === nanAtCall ? NaN : run(ids, true), grads }),
    loss: (ids) => run(ids, false),
  };
}
export const factory: ModelFactory = (cfg, t) => bigram(cfg, t);

/** A shard folder of a repetitive token stream the bigram model can learn. */
export function bigramShards(valSequences = 4): string {
  const dir = scratch();
  const toks = (n: number, off: number) => Uint32Array.from({ length: n }, (_, i) => ((i * 7 + off + (i % 5 === 0 ? 3 : 0)) % V));
  writeShardIndex(dir, { format: 'mugpt-shards', version: 1, dtype: 'uint16', seq_len: 32, vocab_size: V, eos_token_id: 0, tokenizer: 'test',
    splits: { train: [writeShard(dir, 'train-00000.bin', toks(64 * 32, 0), 32, 'uint16'), writeShard(dir, 'train-00001.bin', toks(32 * 32, 1), 32, 'uint16')],
      val: [writeShard(dir, 'val-00000.bin', toks(valSequences * 32, 2), 32, 'uint16')] } });
  return dir;
}


/** A small μP run over bigramShards(): 12 steps, two context stages, grad accumulation, evals and checkpoints every 4. */
export function bigramRun(data: string, out: string, extra: Record<string, unknown> = {}): RunConfig {
  return parseRunConfig({
    model: { model_type: 'gpt2', vocab_size: V, n_embd: 8, n_layer: 1, n_head: 2, n_inner: 16, n_positions: 64 },
    parameterization: 'mup', mup: { base_width: 4, embeddings_scale: 10, output_alpha: 1 },
    data: { shards: data }, batch_size: 4, grad_accum: 2,
    seq_len: [{ seq_len: 16, fraction: 0.5 }, { seq_len: 32, fraction: 0.5 }],
    steps: 12, optimizer: { lr: 0.3, weight_decay: 0.1 }, schedule: { warmup_steps: 2, decay: 'cosine', end_ratio: 0.1 },
    clip_grad_norm: 1.0, eval: { interval: 4, batches: 2 }, checkpoint: { interval: 4 }, seed: 11, out_dir: out, ...extra,
  }, 'test-run.yaml');
}

