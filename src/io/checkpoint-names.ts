// Canonical tensor names of HF checkpoints (GPT2LMHeadModel / BTLMLMHeadModel), with no Node API.

/** The canonical name of a stored tensor, or null for tensors mugpt ignores. */
export function canonicalName(stored: string): string | null {
  if (stored.endsWith('.attn.bias') || stored.endsWith('.attn.masked_bias')) return null; // causal-mask buffers
  if (stored === 'lm_head.weight') return stored; // the LM head, outside the transformer
  return stored.startsWith('transformer.') ? stored : `transformer.${stored}`;
}
