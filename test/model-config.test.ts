// config.json parsing: HF defaults, aliases, the old BTLM μP names, alibi_scaling validation, errors
// that name the field, and the round trip through toHfConfig.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MugptError } from '../src/errors.js';
import { BTLM_AUTO_MAP, innerSize, parseConfig, toHfConfig, type ModelConfig } from '../src/model/config.js';
import { fixture } from './helpers.js';

const BTLM_3B = {
  architectures: ['BTLMLMHeadModel'], model_type: 'btlm',
  auto_map: { AutoConfig: 'configuration_btlm.BTLMConfig', AutoModelForCausalLM: 'modeling_btlm.BTLMLMHeadModel' },
  n_embd: 2560, n_layer: 32, n_head: 32, n_inner: 6826, n_positions: 8192, vocab_size: 50257,
  activation_function: 'swiglu', position_embedding_type: 'alibi', mup_width_scale: 0.1, mup_embeddings_scale: 14.6,
  mup_output_alpha: 2.2200000000000003, mup_scale_qk_dot_by_d: true, initializer_range: 0.073, layer_norm_epsilon: 1e-5,
  attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false,
  reorder_and_upcast_attn: false, torch_dtype: 'bfloat16', transformers_version: '4.30.0', use_cache: true,
  bos_token_id: 50256, eos_token_id: 50256,
};

/** The 359-byte config.json of the Hub repository cerebras/Cerebras-GPT-111M. */
const CGPT_111M = {
  model_type: 'gpt2', n_embd: 768, n_layer: 10, n_head: 12, n_inner: 3072, n_positions: 2048, vocab_size: 50257,
  activation_function: 'gelu', layer_norm_epsilon: 1e-5, attn_pdrop: 0, embd_pdrop: 0, resid_pdrop: 0,
  scale_attn_weights: true, tie_word_embeddings: true,
};

function throwsNaming(raw: Record<string, unknown>, ...parts: string[]): void {
  assert.throws(() => parseConfig(raw, 'x/config.json'), (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    for (const p of parts) assert.ok(err.message.includes(p), `"${err.message}" should mention ${p}`);
    assert.ok(err.message.includes('x/config.json'), `"${err.message}" should name the file`);
    return true;
  });
}

test('GPT2Config defaults fill what the Cerebras-GPT-111M config leaves out', () => {
  const c = parseConfig(CGPT_111M);
  assert.equal(c.model_type, 'gpt2');
  assert.equal(c.activation_function, 'gelu');
  assert.equal(c.position_embedding_type, 'learned');
  assert.equal(c.scale_attn_by_inverse_layer_idx, false);
  assert.equal(c.bos_token_id, 50256);
  assert.equal(c.eos_token_id, 50256);
  assert.equal(c.initializer_range, 0.02);
  assert.equal(c.mup_embeddings_scale, 1);
  assert.equal(c.mup_output_alpha, 1);
  assert.equal(c.alibi_scaling, null);
  const d = parseConfig({ model_type: 'gpt2' });
  assert.deepEqual([d.vocab_size, d.n_positions, d.n_embd, d.n_layer, d.n_head, d.n_inner], [50257, 1024, 768, 12, 12, null]);
  assert.equal(d.activation_function, 'gelu_new');
  assert.deepEqual([d.resid_pdrop, d.embd_pdrop, d.attn_pdrop, d.layer_norm_epsilon], [0.1, 0.1, 0.1, 1e-5]);
  assert.equal(innerSize(d), 4 * 768);
});

test('BTLM-3B-8K config: μP fields, ALiBi, SwiGLU; BTLMConfig defaults', () => {
  const c = parseConfig(BTLM_3B);
  assert.equal(c.position_embedding_type, 'alibi');
  assert.equal(c.activation_function, 'swiglu');
  assert.equal(c.mup_width_scale, 0.1);
  assert.equal(c.mup_embeddings_scale, 14.6);
  assert.equal(c.mup_output_alpha, 2.2200000000000003);
  assert.equal(c.mup_scale_qk_dot_by_d, true);
  assert.equal(innerSize(c), 6826);
  assert.equal(c.extra.torch_dtype, 'bfloat16');
  const d = parseConfig({ model_type: 'btlm' });
  assert.equal(d.position_embedding_type, 'learned');
  assert.equal(d.activation_function, 'gelu_new');
  assert.deepEqual([d.mup_width_scale, d.mup_embeddings_scale, d.mup_output_alpha, d.mup_scale_qk_dot_by_d], [1, 1, 1, false]);
  assert.equal(d.alibi_scaling, null);
});

test('attribute_map aliases (hidden_size, num_attention_heads, …); the canonical key wins', () => {
  const c = parseConfig({ model_type: 'gpt2', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 3, max_position_embeddings: 77 });
  assert.deepEqual([c.n_embd, c.n_head, c.n_layer, c.n_positions], [64, 4, 3, 77]);
  assert.equal(parseConfig({ model_type: 'gpt2', n_embd: 32, hidden_size: 64, n_head: 4 }).n_embd, 32);
  assert.ok(!('hidden_size' in toHfConfig(c)));
});

test('old BTLM μP names: alpha = output_logits_scale / width_scale', () => {
  const c = parseConfig({ model_type: 'btlm', width_scale: 0.1, embeddings_scale: 14.6, output_logits_scale: 0.222, scale_qk_dot_by_d: true });
  assert.equal(c.mup_width_scale, 0.1);
  assert.equal(c.mup_embeddings_scale, 14.6);
  assert.ok(Math.abs(c.mup_output_alpha - 2.22) < 1e-12);
  assert.equal(c.mup_scale_qk_dot_by_d, true);
  for (const k of ['width_scale', 'embeddings_scale', 'output_logits_scale', 'scale_qk_dot_by_d']) assert.ok(!(k in c.extra));
  // The new names win over the old ones.
  assert.equal(parseConfig({ model_type: 'btlm', width_scale: 0.5, mup_width_scale: 0.25 }).mup_width_scale, 0.25);
});

test('alibi_scaling: null, a fixed factor > 1, or an integer train_seq_len > 1', () => {
  const base = { model_type: 'btlm', position_embedding_type: 'alibi' };
  assert.equal(parseConfig({ ...base, alibi_scaling: null }).alibi_scaling, null);
  assert.deepEqual(parseConfig({ ...base, alibi_scaling: { type: 'linear', factor: 4.0 } }).alibi_scaling, { type: 'linear', factor: 4 });
  assert.deepEqual(parseConfig({ ...base, alibi_scaling: { type: 'linear', train_seq_len: 8192 } }).alibi_scaling,
    { type: 'linear', train_seq_len: 8192 });
  throwsNaming({ ...base, alibi_scaling: { type: 'linear', factor: 1.0 } }, 'alibi_scaling.factor', '1');
  throwsNaming({ ...base, alibi_scaling: { type: 'linear', train_seq_len: 1 } }, 'alibi_scaling.train_seq_len');
  throwsNaming({ ...base, alibi_scaling: { type: 'linear', train_seq_len: 8.5 } }, 'alibi_scaling.train_seq_len', '8.5');
  throwsNaming({ ...base, alibi_scaling: { type: 'dynamic', factor: 2 } }, 'alibi_scaling.type', 'dynamic');
  throwsNaming({ ...base, alibi_scaling: { type: 'linear', factor: 2, train_seq_len: 8 } }, 'alibi_scaling');
  throwsNaming({ ...base, alibi_scaling: { type: 'linear', scale: 2 } }, 'alibi_scaling', 'factor');
  throwsNaming({ ...base, alibi_scaling: 2 }, 'alibi_scaling');
});

test('bad configs: errors name the field and the value', () => {
  throwsNaming({ model_type: 'llama' }, 'model_type', 'llama');
  throwsNaming({ n_embd: 64 }, 'model_type');
  throwsNaming({ model_type: 'gpt2', activation_function: 'relu' }, 'activation_function', 'relu');
  throwsNaming({ model_type: 'gpt2', activation_function: 'swiglu' }, 'activation_function', 'swiglu', 'btlm');
  throwsNaming({ model_type: 'btlm', position_embedding_type: 'rotary' }, 'position_embedding_type', 'rotary');
  throwsNaming({ model_type: 'gpt2', n_embd: 100, n_head: 3 }, 'n_embd', 'n_head');
  throwsNaming({ model_type: 'gpt2', n_layer: 0 }, 'n_layer', '0');
  throwsNaming({ model_type: 'gpt2', vocab_size: 12.5 }, 'vocab_size', '12.5');
  throwsNaming({ model_type: 'gpt2', n_inner: -4 }, 'n_inner', '-4');
  throwsNaming({ model_type: 'gpt2', layer_norm_epsilon: 0 }, 'layer_norm_epsilon');
  throwsNaming({ model_type: 'gpt2', attn_pdrop: 1.5 }, 'attn_pdrop', '1.5');
  throwsNaming({ model_type: 'gpt2', scale_attn_weights: 'yes' }, 'scale_attn_weights', 'yes');
  throwsNaming({ model_type: 'btlm', mup_width_scale: -0.1 }, 'mup_width_scale', '-0.1');
  throwsNaming({ model_type: 'btlm', mup_output_alpha: 'big' }, 'mup_output_alpha', 'big');
  throwsNaming({ model_type: 'gpt2', tie_word_embeddings: 0 }, 'tie_word_embeddings');
  throwsNaming({ model_type: 'gpt2', eos_token_id: -1 }, 'eos_token_id', '-1');
});

test('toHfConfig round-trips every config (the real ones and every fixture)', () => {
  const raws: Record<string, unknown>[] = [BTLM_3B, CGPT_111M, { model_type: 'gpt2' }, { model_type: 'btlm', tie_word_embeddings: false },
    { model_type: 'btlm', position_embedding_type: 'alibi', alibi_scaling: { type: 'linear', train_seq_len: 4096 } }];
  const root = fixture('model');
  for (const n of readdirSync(root)) raws.push(JSON.parse(readFileSync(join(root, n, 'config.json'), 'utf8')));
  for (const raw of raws) {
    const c: ModelConfig = parseConfig(raw);
    const hf = JSON.parse(JSON.stringify(toHfConfig(c))) as Record<string, unknown>;
    // Same config back (toHfConfig adds the HF architectures when the source had none) …
    const { architectures: _a, auto_map: _m, ...extra } = c.extra;
    const c2 = parseConfig(hf);
    const { architectures: _b, auto_map: _m2, ...extra2 } = c2.extra;
    assert.deepEqual({ ...c2, extra: extra2 }, { ...c, extra });
    // … and the written form is a fixed point.
    assert.deepEqual(toHfConfig(c2), hf);
    assert.equal(hf.model_type, c.model_type);
    assert.ok(Array.isArray(hf.architectures));
    if (c.model_type === 'btlm') {
      for (const k of ['mup_width_scale', 'mup_embeddings_scale', 'mup_output_alpha', 'mup_scale_qk_dot_by_d', 'alibi_scaling', 'position_embedding_type']) {
        assert.ok(k in hf, `btlm config written without ${k}`);
      }
    } else {
      assert.ok(!('mup_width_scale' in hf) && !('alibi_scaling' in hf), 'gpt2 config written with btlm fields');
    }
  }
  // A btlm config is written with the auto_map of the published BTLM code, qualified by its repository
  // (HF needs it to find the custom model class; BTLM's own folder-relative names would point at code
  // files a saved folder does not have); gpt2 needs none.
  for (const [k, v] of Object.entries(BTLM_3B.auto_map as Record<string, string>)) assert.equal(BTLM_AUTO_MAP[k], `cerebras/btlm-3b-8k-base--${v}`);
  assert.deepEqual(toHfConfig(parseConfig(BTLM_3B)).auto_map, BTLM_AUTO_MAP);
  assert.deepEqual(toHfConfig(parseConfig({ model_type: 'btlm' })).auto_map, BTLM_AUTO_MAP);
  assert.equal(toHfConfig(parseConfig(CGPT_111M)).auto_map, undefined);
});
