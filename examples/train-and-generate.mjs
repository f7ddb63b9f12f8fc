// A model from nothing, in a few seconds and without a download: a tiny BTLM-style (ALiBi, SwiGLU,
// μP) network learns one sentence with AdamW, is saved as a Hugging Face folder, loaded back and
// asked to continue the sentence.
//
//   node examples/train-and-generate.mjs [OUT_DIR]      (default ./tiny-model)
import { AdamW, Model, initModel, loadModel, loadTokenizer, makeConfig } from 'mugpt';

const out = process.argv[2] ?? 'tiny-model';
const tok = loadTokenizer('gpt2'); // the bundled GPT-2 BPE
const text = 'The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.';
const ids = tok.encode(text);

const config = makeConfig({
  model_type: 'btlm', n_layer: 2, n_embd: 64, n_head: 4, n_positions: 128, activation_function: 'swiglu',
  position_embedding_type: 'alibi', mup_width_scale: 0.5, mup_embeddings_scale: 14.6, mup_output_alpha: 2.22,
  mup_scale_qk_dot_by_d: true,
});
const model = Model.fromTensors(config, new Map(initModel(config, { seed: 0 }).map((t) => [t.name, t.data])));
const opt = new AdamW(model, { lr: 3e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0 });

for (let step = 0; step <= 60; step++) {
  const { loss, grads } = model.lossAndGrad([ids]); // mean next-token cross-entropy, nats
  if (step % 20 === 0) console.log(`step ${step}: loss ${loss.toFixed(3)}`);
  if (step < 60) opt.step(grads);
}

model.save(out); // config.json + model.safetensors
const loaded = loadModel(out);
let continuation = '';
for await (const { text: piece } of loaded.generate('The quick brown', { maxNewTokens: 8 })) continuation += piece;
console.log(`${out}: The quick brown${continuation}`);
