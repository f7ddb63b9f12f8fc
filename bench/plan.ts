// Decode plans (Kernels.record) against the same steps made call by call, in one process with tokens
// alternating between the two (so both see the same machine), logits compared bit for bit:
//   node dist/bench/plan.js [--shapes 111m,btlm] [--types f32,q4_0,q8_0] [--tokens 60]
// F32 runs the random model from its tensors (111M: 10 layers, BTLM: 4), q4_0 and q8_0 the bench's GGUF
// files (BTLM: all 32 layers) through their layout cache, as mugpt generate loads them.
import type { GgufWeightType } from '../src/gguf/export.js';
import { loadModel, Model } from '../src/index.js';
import { nativeAvailable } from '../src/kernels/index.js';
import { nativeLoadError } from '../src/native/addon.js';
import {
  fmt, ggufFile, machineLine, printTable, promptIds, randomTensors, shapeConfig, type ShapeName, benchArgs,
  usageExit, numberFlag,
} from './common.js';

const { values: opt } = benchArgs({
  options: {
    shapes: { type: 'string', default: '111m,btlm' },
    types: { type: 'string', default: 'f32,q4_0,q8_0' },
    tokens: { type: 'string', default: '60' },
  },
});
const SHAPES: Record<string, { shape: ShapeName; f32Layers: number }> = {
  '111m': { shape: 'cerebras-gpt-111m', f32Layers: 10 },
  btlm: { shape: 'btlm-3b-8k', f32Layers: 4 },
};
if (!nativeAvailable()) {
  console.log(`the native addon did not load (${nativeLoadError()}): no plans to measure`);
  process.exit(0);
}
console.log(machineLine());

const tokens = numberFlag('tokens', opt.tokens);
const rows: string[][] = [];
for (const key of opt.shapes.split(',')) {
  const s = SHAPES[key];
  if (!s) usageExit(`--shapes: unknown shape '${key}' (expected 111m or btlm)`);
  for (const type of opt.types.split(',')) {
    const model = type === 'f32'
      ? Model.fromTensors(shapeConfig(s.shape, s.f32Layers), randomTensors(shapeConfig(s.shape, s.f32Layers)), { kvCache: 'f32' })
      : loadModel(ggufFile(s.shape, shapeConfig(s.shape), type as GgufWeightType), { layoutCache: true, kvCache: 'f16' });
    const k = model.kernels, record = k.record, V = model.vocabSize;
    const caches = [model.newCache(512 + tokens), model.newCache(512 + tokens)];
    const out = [new Float32Array(V), new Float32Array(V)];
    for (const c of caches) model.step(c, promptIds(512, V), out[0]);
    const ms = [0, 0];
    let differ = 0;
    for (let i = 0; i < tokens; i++) {
      const id = 1 + ((7 * i) % 100);
      for (const p of i % 2 ? [1, 0] : [0, 1]) {
        k.record = p === 0 ? record : undefined; // 0: plans, 1: call by call
        const t0 = performance.now();
        model.step(caches[p], [id], out[p]);
        ms[p] += performance.now() - t0;
      }
      for (let j = 0; j < V; j++) if (out[0][j] !== out[1][j]) differ++;
    }
    k.record = record;
    rows.push([`${key} ${type}`, fmt(ms[1] / tokens, 2), fmt(ms[0] / tokens, 2), `×${(ms[1] / ms[0]).toFixed(3)}`, differ === 0 ? 'identical' : `${differ} differ`]);
  }
}
printTable(['model', 'call by call, ms a token', 'plan, ms a token', 'plan ÷ calls', 'logits'], rows);
