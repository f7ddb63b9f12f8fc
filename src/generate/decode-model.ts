// What generation needs from a model: incremental decoding over a KV cache.

/** Keys and values of the positions seen so far, per layer. */
export interface KVCache {
  /** Positions already in the cache. */
  readonly length: number;
}

export interface DecodeModel {
  readonly vocabSize: number;
  /** `<|endoftext|>` for GPT-2 vocabularies; null when the config has none. */
  readonly eosTokenId: number | null;
  /** Longest sequence the model accepts: n_positions with learned positions, Infinity with ALiBi. */
  readonly maxContext: number;
  /**
   * An empty cache with room for `positions` (the prompt and the tokens to come; at most the model's
   * n_positions), so decoding does not copy it as it grows. Untouched room costs address space, not memory.
   */
  newCache(positions?: number): KVCache;
  /**
   * Appends ids to the cache and returns the logits [V] at the last appended position: in `out` when
   * given (a caller that reads each step's logits before the next reuses one array), else a new array.
   */
  step(cache: KVCache, ids: number[], out?: Float32Array): Float32Array;
}

/** One sequence's part of a batched step: its cache and the ids to append (one while decoding, a chunk of its prompt). */
export interface BatchEntry {
  cache: KVCache;
  ids: number[];
}

/** A model that steps many sequences at once (continuous batching). */
export interface BatchDecodeModel extends DecodeModel {
  /**
   * step() for several sequences in one pass: every weight matrix multiplies all their new rows at once;
   * each sequence attends to its own cache. Returns each entry's logits [V] at its last appended position.
   */
  stepBatch(entries: readonly BatchEntry[]): Float32Array[];
}
