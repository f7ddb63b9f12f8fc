// Prefill and decode speed of the F32 models against PyTorch and llama.cpp, in one run:
//   node dist/bench/inference.js [--shapes 111m,btlm] [--prompt 512] [--decode-111m 64] [--decode-btlm 16]
//                                [--btlm-layers 4] [--torch-btlm-layers 1] [--repeats 1] [--llama-threads 2,1] [--torch-threads 2/1] [--no-torch] [--no-llama]
// The default run (a few minutes) builds BTLM-3B with 4 of its 32 blocks; the full model is
// --btlm-layers 32 (10.6 GB of F32 weights per engine, about 12 minutes on 2 busy cores).
// Random weights. Every engine runs in its own child process (peak RSS per engine):
//   mugpt      native kernels, the model built in memory; step() over the prompt (LM head at the
//              last position only), then greedy decode over the KV cache;
//   PyTorch    bench/peers/torch_infer.py (OpenBLAS required, see torch-peer.ts), float32, HF-style (logits at
//              every prompt position); --torch-threads 2/1: 2 threads for the prompt, 1 for decode (its best here);
//   llama.cpp  node-llama-cpp on F32 and F16 GGUF files of the same weights (exportGguf), 2 threads.
// The decode bound is the bytes one token reads (the F32 weights, and the KV cache at the decode's mean
// context) ÷ the read bandwidth sampled between the decode's segments (probe-bandwidth.ts: the median
// of its passes; the start-of-run probe, best of 5, is printed beside it).
// GGUF files are cached in MUGPT_BENCH_DIR (default: the temp dir's mugpt-bench/); BTLM's F32 file is 10.6 GB.
import { toHfConfig } from '../src/model/config.js';
import {
  fmt, ggufFile, kvBytesPerToken, machineLine, printTable, ratio, runChild, runEngine, peerScript, shapeConfig,
  weightCount, type ChildFailure, type ChildResult, type ShapeName, benchArgs, usageExit, numberFlag,
} from './common.js';
import { measureMachine } from './machine.js';
import { boundBandwidth } from './probe-bandwidth.js';
import { profileLine, type KernelTime } from './profile.js';
import { checkTorchBlas } from './torch-peer.js';

const { values: opt } = benchArgs({
  options: {
    shapes: { type: 'string', default: '111m,btlm' },
    prompt: { type: 'string', default: '512' },
    'decode-111m': { type: 'string', default: '64' },
    'decode-btlm': { type: 'string', default: '16' },
    'btlm-layers': { type: 'string', default: '4' },
    'torch-btlm-layers': { type: 'string', default: '32' }, // capped at --btlm-layers: PyTorch runs what mugpt runs
    repeats: { type: 'string', default: '1' },
    'llama-threads': { type: 'string', default: '2' },
    'torch-threads': { type: 'string', default: '2/1' },
    'no-torch': { type: 'boolean', default: false },
    'no-llama': { type: 'boolean', default: false },
  },
});

const SHAPES: Record<string, ShapeName> = { '111m': 'cerebras-gpt-111m', btlm: 'btlm-3b-8k' };
const prompt = numberFlag('prompt', opt.prompt);
const repeats = numberFlag('repeats', opt.repeats);

interface Sample { prefill: number | null; decode: number; rss: number; extra: Record<string, unknown> }

/** Runs a measurement `repeats` times; the samples, or the failure message. */
async function measure(run: () => Promise<ChildResult | ChildFailure>): Promise<Sample[] | string> {
  const out: Sample[] = [];
  for (let i = 0; i < repeats; i++) {
    const r = await run();
    if (!r.ok) return r.error;
    const j = r.json;
    out.push({ prefill: j.prefillTokensPerSecond as number | null, decode: j.decodeTokensPerSecond as number, rss: j.peakRssMiB as number, extra: j });
  }
  return out;
}

/** "12.3" for one sample, "12.3–14.0" for several. */
function range(xs: Array<number | null>, digits = 1): string {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (!v.length) return '—';
  const lo = Math.min(...v), hi = Math.max(...v);
  return lo === hi || v.length === 1 ? fmt(lo, digits) : `${fmt(lo, digits)}–${fmt(hi, digits)}`;
}
const best = (xs: Array<number | null>): number | null => {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
};

console.log(machineLine());
const machine = measureMachine();
const torchOk = !opt['no-torch'] && checkTorchBlas().ok;
if (machine) console.log(`read bandwidth ${machine.bandwidthGBs.toFixed(1)} GB/s, FMA peak ${machine.peakGflops.toFixed(0)} GFLOP/s (${machine.simd})`);

for (const key of opt.shapes.split(',')) {
  const shape = SHAPES[key];
  if (!shape) usageExit(`--shapes: unknown shape '${key}' (expected 111m or btlm)`);
  const layers = shape === 'btlm-3b-8k' ? Number(opt['btlm-layers']) : undefined;
  const cfg = shapeConfig(shape, layers);
  const decode = Number(shape === 'btlm-3b-8k' ? opt['decode-btlm'] : opt['decode-111m']);
  console.log(`\n## ${shape}, ${cfg.n_layer} layers, F32 random weights: prefill ${prompt} tokens, decode ${decode} tokens after them (2 threads)`);

  const rows: Array<{ name: string; s: Sample[] | string }> = [];
  const bandwidthSegments = machine ? 4 : undefined;
  const mugpt = await measure(() => runEngine('engine-mugpt.js', { shape, layers, prompt, decode, bandwidthSegments }));
  rows.push({ name: 'mugpt (native, F32)', s: mugpt });
  // the same weights with an f16 KV cache, the cache type llama.cpp's rows below use
  const mugpt16 = await measure(() => runEngine('engine-mugpt.js', { shape, layers, prompt, decode, kvType: 'f16', bandwidthSegments }));
  rows.push({ name: 'mugpt (native, F32, f16 KV cache)', s: mugpt16 });
  if (torchOk) {
    const runLayers = shape === 'btlm-3b-8k' ? Math.min(cfg.n_layer, Number(opt['torch-btlm-layers'])) : cfg.n_layer;
    const th = opt['torch-threads'];
    const name = `PyTorch 1.13 F32, OpenBLAS, threads ${th}` + (runLayers < cfg.n_layer ? ` (${runLayers} of ${cfg.n_layer} blocks run, scaled)` : '');
    rows.push({
      name, s: await measure(() => runChild('/usr/bin/python3', [peerScript('torch_infer.py'), JSON.stringify(toHfConfig(cfg)),
        String(prompt), String(decode), th, String(runLayers)])),
    });
  }
  if (!opt['no-llama']) {
    for (const type of ['f32', 'f16'] as const) {
      const path = ggufFile(shape, cfg, type);
      for (const threads of opt['llama-threads'].split(',').map(Number)) {
        rows.push({
          name: `llama.cpp ${type.toUpperCase()}, ${threads} thread${threads > 1 ? 's' : ''}`,
          s: await measure(() => runEngine('engine-llamacpp.js', { path, prompt, decode, threads, vocab: cfg.vocab_size })),
        });
      }
    }
  }

  const m = typeof mugpt === 'string' ? null : mugpt;
  const mPrefill = m ? best(m.map((x) => x.prefill)) : null;
  const mDecode = m ? best(m.map((x) => x.decode)) : null;
  printTable(['engine', 'prefill tok/s', 'decode tok/s', 'peak RSS MiB', 'mugpt ÷ engine, prefill', 'mugpt ÷ engine, decode'],
    rows.map(({ name, s }) => {
      if (typeof s === 'string') return [name, `failed: ${s}`, '', '', '', ''];
      const p = best(s.map((x) => x.prefill)), d = best(s.map((x) => x.decode));
      const rss = name.includes('blocks run') ? `(${range(s.map((x) => x.rss), 0)}, partial model)` : range(s.map((x) => x.rss), 0);
      return [name, range(s.map((x) => x.prefill)), range(s.map((x) => x.decode), 2), rss, ratio(mPrefill, p), ratio(mDecode, d)];
    }));

  const weights = 4 * weightCount(cfg).matrices;
  if (machine && m) {
    const bw = boundBandwidth(m.flatMap((x) => x.extra.bandwidthGBs as number[]), machine.bandwidthGBs);
    const bw16 = boundBandwidth(typeof mugpt16 === 'string' ? [] : mugpt16.flatMap((x) => x.extra.bandwidthGBs as number[]), machine.bandwidthGBs);
    const share = (rate: number | null, kv: 'f32' | 'f16', gbs: number): string => {
      const bytes = weights + kvBytesPerToken(cfg, prompt + decode / 2, kv);
      return rate ? `${((100 * rate * bytes) / (gbs * 1e9)).toFixed(0)}% of ${((gbs * 1e9) / bytes).toFixed(1)} tok/s (${(bytes / 1e6).toFixed(0)} MB a token)` : '—';
    };
    const m16 = typeof mugpt16 === 'string' ? null : best(mugpt16.map((x) => x.decode));
    console.log(`decode bound: ${(weights / 1e6).toFixed(0)} MB of F32 weights and the KV cache at context ${prompt + decode / 2} per token`
      + ` ÷ ${bw.line}:`
      + ` mugpt decodes at ${share(mDecode, 'f32', bw.gbs)} (target ≥ 85%), ${share(m16, 'f16', bw16.gbs)} with the f16 KV cache (its own run's bandwidth: ${bw16.line});`
      + ` of the weights alone at the start-of-run probe (${machine.bandwidthGBs.toFixed(1)} GB/s, best of 5): ${mDecode ? ((100 * mDecode * weights) / (machine.bandwidthGBs * 1e9)).toFixed(0) : '—'}%`);
  }
  if (m) {
    const last = m[m.length - 1].extra;
    console.log(`mugpt load ${fmt(last.loadSeconds as number)} s; profile of the last run:`);
    console.log(`  prefill: ${profileLine(last.prefillProfile as KernelTime[], last.prefillMs as number)}`);
    console.log(`  decode:  ${profileLine(last.decodeProfile as KernelTime[], last.decodeProfileMs as number)}`);
  }
}
