// Checkpoints mugpt writes are complete HF model folders: config.json (btlm with the published BTLM
// code's auto_map), generation_config.json, model.safetensors and the tokenizer files of the tokenizer
// the model was trained with, which HF's tokenizer (@huggingface/tokenizers) and mugpt read back alike;
// the independent PyTorch reference (tools/torch_load_check.py) loads the weights with equal logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { BTLM_AUTO_MAP, makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { Model, loadModel } from '../src/model/model.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { trainBpe } from '../src/tokenizer/train.js';
import { saveTokenizerJson } from '../src/tokenizer/save.js';
import type { Tokenizer } from '../src/tokenizer/bpe.js';
import { TOKENIZER_FILES } from '../src/model/hf-files.js';
import { parseRunConfig } from '../src/train/runconfig.js';
import { train } from '../src/train/trainer.js';
import { repoRoot, scratch } from './helpers.js';
import { sotuTexts } from './tokenizer-texts.js';

const TEXTS = ['The state of the Union is strong.', 'Fellow citizens: 1,234 ships — naïve <|endoftext|> done', '  spaces\tand\nlines  '];
const readJson = (dir: string, f: string): Record<string, unknown> => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;

/** Every tokenizer form of the folder encodes like `tok`: HF's own reader of tokenizer.json, mugpt's, and vocab.json + merges.txt. */
function sameTokenizer(dir: string, tok: Tokenizer): void {
  const hf = new HfTokenizer(readJson(dir, 'tokenizer.json'), readJson(dir, 'tokenizer_config.json'));
  const own = loadTokenizer(dir);
  for (const t of TEXTS) {
    const ids = tok.encode(t, { allowSpecial: true });
    assert.deepEqual(hf.encode(t).ids, ids, `HF tokenizer.json: ${t}`);
    assert.deepEqual(own.encode(t, { allowSpecial: true }), ids, `mugpt tokenizer.json: ${t}`);
  }
  const only = scratch();
  for (const f of ['vocab.json', 'merges.txt', 'special_tokens_map.json']) writeFileSync(join(only, f), readFileSync(join(dir, f)));
  const vm = loadTokenizer(only);
  assert.equal(vm.eosTokenId, tok.eosTokenId);
  for (const t of TEXTS) assert.deepEqual(vm.encode(t, { allowSpecial: true }), tok.encode(t, { allowSpecial: true }), `vocab.json + merges.txt: ${t}`);
  assert.match(readFileSync(join(dir, 'merges.txt'), 'utf8'), /^#version: 0\.2\n/, 'GPT2Tokenizer skips the first line of merges.txt');
}

/** Logits of the folder in tools/torch_load_check.py, against mugpt's; skipped without PyTorch. */
function torchAgrees(dir: string, ids: number[][]): boolean {
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch']).status !== 0) return false;
  const ours = loadModel(dir, { backend: 'js' }).forward(ids);
  const py = spawnSync('/usr/bin/python3', [join(repoRoot, 'tools', 'torch_load_check.py'), dir, JSON.stringify(ids)], { encoding: 'utf8', maxBuffer: 1 << 30 });
  assert.equal(py.status, 0, py.stderr);
  const ref = JSON.parse(py.stdout) as { shape: number[]; logits: number[] };
  assert.deepEqual(ref.shape, [...ours.shape]);
  let maxB = 0, maxD = 0;
  ref.logits.forEach((b, i) => { maxB = Math.max(maxB, Math.abs(b)); maxD = Math.max(maxD, Math.abs(b - ours.logits[i])); });
  assert.ok(maxD <= 1e-4 * maxB, `max|Δ| ${maxD} (max|logit| ${maxB})`);
  return true;
}

test('model.save writes a complete HF folder: btlm auto_map, generation_config, GPT-2 tokenizer files', (t) => {
  const cfg = makeConfig({
    model_type: 'btlm', vocab_size: 50257, n_embd: 16, n_layer: 2, n_head: 4, n_inner: 40, n_positions: 64,
    activation_function: 'swiglu', position_embedding_type: 'alibi', mup_width_scale: 0.5, mup_embeddings_scale: 3,
    mup_output_alpha: 2, mup_scale_qk_dot_by_d: true,
  });
  const m = Model.fromTensors(cfg, new Map(initModel(cfg, { seed: 5, parameterization: 'sp' }).map((x) => [x.name, x.data])), { backend: 'js' });
  const dir = join(scratch(), 'btlm');
  m.save(dir);
  for (const f of ['config.json', 'model.safetensors', 'generation_config.json', ...TOKENIZER_FILES]) assert.ok(existsSync(join(dir, f)), f);
  const c = readJson(dir, 'config.json');
  assert.deepEqual(c.architectures, ['BTLMLMHeadModel']);
  assert.deepEqual(c.auto_map, BTLM_AUTO_MAP);
  assert.equal((c.auto_map as Record<string, string>).AutoModelForCausalLM, 'cerebras/btlm-3b-8k-base--modeling_btlm.BTLMLMHeadModel');
  assert.equal(c.torch_dtype, 'float32');
  assert.deepEqual(readJson(dir, 'generation_config.json'), { _from_model_config: true, bos_token_id: 50256, eos_token_id: 50256 });
  const tc = readJson(dir, 'tokenizer_config.json');
  assert.equal(tc.eos_token, '<|endoftext|>');
  assert.equal(tc.model_max_length, 64);
  assert.equal(tc.tokenizer_class, 'GPT2Tokenizer');
  sameTokenizer(dir, loadTokenizer('gpt2'));
  // saved again from the loaded folder: the same files (the auto_map stays qualified)
  const again = join(scratch(), 'again');
  loadModel(dir, { backend: 'js' }).save(again);
  for (const f of ['config.json', 'generation_config.json']) assert.deepEqual(readJson(again, f), readJson(dir, f), f);
  for (const f of ['tokenizer.json', 'vocab.json', 'merges.txt']) assert.equal(readFileSync(join(again, f), 'utf8'), readFileSync(join(dir, f), 'utf8'), f);
  if (!torchAgrees(dir, [[50256, 464, 1, 30000], [7, 8, 9, 10]])) t.diagnostic('PyTorch not installed: the torch check was skipped');
  // a vocabulary smaller than the tokenizer's: no tokenizer files rather than wrong ones
  const small = makeConfig({ ...cfg, vocab_size: 64 });
  const dir2 = join(scratch(), 'small');
  Model.fromTensors(small, new Map(initModel(small, { seed: 5, parameterization: 'sp' }).map((x) => [x.name, x.data]))).save(dir2);
  assert.ok(existsSync(join(dir2, 'generation_config.json')) && !existsSync(join(dir2, 'tokenizer.json')));
  assert.throws(() => Model.fromTensors(small, new Map(initModel(small, { seed: 5, parameterization: 'sp' }).map((x) => [x.name, x.data])))
    .save(dir2, { tokenizer: loadTokenizer('gpt2') }), /tokenizer has 50257 tokens, more than the model's vocab_size 64/);
});

test('a training run with a trained BPE: its checkpoint carries that tokenizer, and PyTorch loads it with equal logits', async (t) => {
  const work = scratch();
  const corpus = sotuTexts(40).slice(0, 3).join('\n\n');
  writeFileSync(join(work, 'corpus.txt'), corpus);
  const tok = await trainBpe([corpus], { vocabSize: 400 });
  saveTokenizerJson(tok, join(work, 'tok.json'));
  const run = parseRunConfig({
    model: {
      model_type: 'btlm', vocab_size: 400, n_embd: 16, n_layer: 2, n_head: 4, n_inner: 40, n_positions: 64,
      activation_function: 'swiglu', position_embedding_type: 'alibi', mup_scale_qk_dot_by_d: true,
    },
    data: { text: join(work, 'corpus.txt'), tokenizer: join(work, 'tok.json'), val_fraction: 0.1 },
    batch_size: 2, seq_len: 32, steps: 2, optimizer: { lr: 0.01 }, schedule: { warmup_steps: 1 },
    eval: { interval: 0 }, checkpoint: { interval: 0 }, seed: 3, out_dir: join(work, 'out'),
  }, join(work, 'run.yaml'));
  const r = await train(run, { plots: false });
  const ck = r.checkpoint;
  for (const f of ['config.json', 'model.safetensors', 'generation_config.json', ...TOKENIZER_FILES]) assert.ok(existsSync(join(ck, f)), f);
  sameTokenizer(ck, tok);
  // the trained tokenizer's end-of-text id, not GPT-2's 50256, is the folder's bos/eos
  const eos = tok.eosTokenId;
  assert.equal(readJson(ck, 'config.json').eos_token_id, eos);
  assert.deepEqual(readJson(ck, 'generation_config.json'), { _from_model_config: true, bos_token_id: eos, eos_token_id: eos });
  const m = loadModel(ck, { backend: 'js' });
  assert.equal(m.tokenizer.vocabSize, 400, 'generate uses the checkpoint\'s own tokenizer');
  if (!torchAgrees(ck, [tok.encode('The state of the Union'), tok.encode('is strong and growing')].map((x) => x.slice(0, 4)))) {
    t.diagnostic('PyTorch not installed: the torch check was skipped');
  }
  rmSync(work, { recursive: true, force: true });
});
