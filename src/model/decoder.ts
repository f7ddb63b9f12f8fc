// The decoding core of a model, with no Node API (browsers run it too; src/web/): float or GGUF-block
// parameters on a set of kernels, the full-model activations, a KV cache per sequence, one step of
// incremental decoding. Model (model.ts) adds loading, training, saving and its tokenizer.
import { check, MugptError } from '../errors.js';
import type { KernelPlan, Kernels } from '../kernels/kernels.js';
import { alibiScale } from './alibi.js';
import { usesAlibi, type ModelConfig } from './config.js';
import type { DecodeModel, KVCache } from '../generate/decode-model.js';
import { Activations, blocksForward, embedForward, gptContext, lmHeadForward, type GptContext } from './gpt.js';
import { KV_CACHE_TYPES, LayerKVCache, type KVCacheType, type LayerKV } from './kvcache.js';
import { adoptParams, quantMatrices, type Params, type Weight } from './params.js';

export class Decoder implements DecodeModel {
  readonly config: ModelConfig;
  /** Float matrices, or GGUF blocks for a model loaded from a quantized GGUF file. */
  readonly params: Params<Weight>;
  readonly kernels: Kernels;
  protected readonly ctx: GptContext;
  protected readonly acts: Activations;
  private readonly kvCacheType: KVCacheType;
  /** Each cache's step plan, or 'none' when its steps cannot be recorded (see stepPlan). */
  private readonly plans = new WeakMap<LayerKVCache, StepPlan | 'none'>();
  /** [V] where every plan writes its logits (steps run one at a time); set by the first recording. */
  private planLogits: Float32Array | null = null;

  /** kvCache: the KV cache's element type ('f32' by default); the kernels adopt and prepare the weights. */
  constructor(config: ModelConfig, params: Params<Weight>, kernels: Kernels, kvCache?: KVCacheType) {
    this.config = config;
    this.kernels = kernels;
    this.params = kernels.adopt ? adoptParams(params, kernels.adopt) : params;
    check(kvCache === undefined || KV_CACHE_TYPES.includes(kvCache),
      () => `kvCache: expected one of ${KV_CACHE_TYPES.map((t) => `'${t}'`).join(', ')}, got '${String(kvCache)}'`);
    for (const W of quantMatrices(this.params)) kernels.qprepare(W); // after the checks: it rewrites the blocks
    this.kvCacheType = kvCache ?? 'f32';
    this.ctx = gptContext(config, kernels, this.params);
    this.acts = new Activations(this.ctx);
  }

  get vocabSize(): number { return this.config.vocab_size; }
  get eosTokenId(): number | null { return this.config.eos_token_id; }
  /** n_positions with learned positions; ALiBi extrapolates, so no limit. */
  get maxContext(): number { return usesAlibi(this.config) ? Infinity : this.config.n_positions; }

  /** Checks token ids: integers in [0, V). */
  protected checkIds(ids: ArrayLike<number>, what: (i: number) => string): void {
    const V = this.config.vocab_size;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new MugptError(`${what(i)} is ${String(id)}: token ids must be integers in [0, ${V}) (vocab_size)`);
      }
    }
  }

  protected checkContext(total: number, what: string): void {
    check(total <= this.maxContext, () => `${what} has ${total} positions, more than the model's context of `
      + `${this.maxContext} (n_positions, learned position embeddings)`);
  }

  newCache(positions = 0): LayerKVCache {
    check(Number.isSafeInteger(positions) && positions >= 0, () => `newCache: positions must be an integer ≥ 0, got ${String(positions)}`);
    const cache = new LayerKVCache(this, this.config.n_layer, this.config.n_embd, this.maxContext, this.kvCacheType, this.config.n_head,
      { adopt: this.kernels.adopt?.bind(this.kernels), populate: this.kernels.populate?.bind(this.kernels) });
    // room up front for at most n_positions (ALiBi models extrapolate past it: the cache then grows by doubling)
    cache.reserve(Math.min(positions, this.config.n_positions, this.maxContext));
    return cache;
  }

  /**
   * Appends ids to the cache and returns the logits [V] at the last new position, in `out` when given.
   * Only that position goes through ln_f and the LM head (a prompt needs logits at its end only).
   * A reused `out` saves a token's allocation: a new 50,257-float array cost 0.2–0.4 ms a token in the
   * 111M Q4_0 decode (3.1–3.6 ms a token; the allocation's page faults and garbage collection).
   */
  step(cache: KVCache, ids: number[], out?: Float32Array): Float32Array {
    check(cache instanceof LayerKVCache && cache.owner === this, 'step: the cache must come from this model\'s newCache()');
    check(Array.isArray(ids) && ids.length > 0, 'step: ids must be a non-empty array of token ids');
    check(out === undefined || (out instanceof Float32Array && out.length === this.config.vocab_size),
      () => `step: out must be a Float32Array of the vocabulary size ${this.config.vocab_size}`);
    this.checkIds(ids, (i) => `step: ids[${i}]`);
    const past = cache.length, T = ids.length;
    this.checkContext(past + T, 'step: the sequence');
    cache.prepare(past + T);
    const a = this.acts, D = this.config.n_embd;
    a.ensure(T);
    embedForward(this.ctx, a.h, ids, T, past, T);
    const plan = T === 1 ? this.stepPlan(cache, past) : null;
    const logits = out ?? new Float32Array(this.config.vocab_size);
    if (plan) {
      plan.plan.run(past - plan.past);
      logits.set(this.planLogits!);
    } else {
      blocksForward(this.ctx, a, 1, T, past, cache.layers());
      lmHeadForward(this.ctx, logits, a.h.subarray((T - 1) * D, T * D), a.ln, 1);
    }
    cache.length = past + T;
    return logits;
  }

  /**
   * The plan of a one-token step over `cache` at position `past` (Kernels.record: the step's kernel calls made
   * in one call from JavaScript instead of dozens), recorded at the first such step and again whenever what it
   * was recorded with changed: the cache's arrays (it grew), the activations (a longer prompt grew them), the
   * ALiBi slopes' scale, or an earlier position (the cache was cut back). null where the kernels cannot record
   * (JS, wasm; a q8 cache, whose stores are not recordable: its steps run call by call) or the ALiBi scale
   * changes every step (past a linear scaling's train_seq_len).
   */
  private stepPlan(cache: LayerKVCache, past: number): StepPlan | null {
    const record = this.kernels.record;
    const known = this.plans.get(cache);
    if (!record || known === 'none') return null;
    const cfg = this.config, scale = usesAlibi(cfg) ? alibiScale(cfg, past + 1) : 1;
    const layers = cache.layers(), h = this.acts.h;
    if (known && known.layers === layers && known.h === h && known.alibiScale === scale && past >= known.past) return known;
    const s = cfg.alibi_scaling;
    if (usesAlibi(cfg) && s !== null && !('factor' in s) && past + 1 > s.train_seq_len) return null;
    const logits = this.planLogits ??= new Float32Array(cfg.vocab_size), D = cfg.n_embd;
    try {
      const plan = record.call(this.kernels, () => {
        blocksForward(this.ctx, this.acts, 1, 1, past, layers);
        lmHeadForward(this.ctx, logits, h.subarray(0, D), this.acts.ln, 1);
      });
      const p: StepPlan = { plan, past, layers, h, alibiScale: scale };
      this.plans.set(cache, p);
      return p;
    } catch {
      this.plans.set(cache, 'none'); // a kernel it cannot record: this cache's steps run call by call
      return null;
    }
  }
}

/** A recorded one-token step (Decoder.stepPlan) and what it was recorded with. */
interface StepPlan {
  plan: KernelPlan;
  /** The position it was recorded at: it runs at past with tkShift = past − this. */
  past: number;
  /** The cache's layers and the activations' residual stream it binds (both are replaced when they grow). */
  layers: readonly LayerKV[];
  h: Float32Array;
  alibiScale: number;
}
