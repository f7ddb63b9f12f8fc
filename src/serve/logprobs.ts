// Log-probabilities as OpenAI reports them: the chosen token's log p under the model's next-token
// distribution (log-softmax of the logits, before penalties and temperature) and the k most likely
// alternatives.

export interface TokenLogprob {
  logprob: number;
  /** The k most likely tokens, most likely first. */
  top: Array<{ id: number; logprob: number }>;
}

/** log softmax(logits)[i] = logits[i] − (max + log Σ exp(logits − max)), summed in float64: [V]. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let z = 0;
  for (let i = 0; i < logits.length; i++) z += Math.exp(logits[i] - max);
  const lse = max + Math.log(z);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** The chosen token's log-probability and the k (≤ 20) largest, lower ids first among ties. */
export function topLogprobs(lsm: Float64Array, id: number, k: number): TokenLogprob {
  const top: Array<{ id: number; logprob: number }> = [];
  if (k > 0) {
    for (let i = 0; i < lsm.length; i++) {
      const x = lsm[i];
      if (top.length === k && x <= top[k - 1].logprob) continue;
      let j = top.length < k ? top.length : k - 1;
      while (j > 0 && top[j - 1].logprob < x) j--;
      top.splice(j, 0, { id: i, logprob: x });
      if (top.length > k) top.pop();
    }
  }
  return { logprob: lsm[id], top };
}
