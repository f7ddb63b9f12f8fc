// Quantized inference against llama.cpp on the same GGUF files, in one run:
//   node dist/bench/quantized.js [--shapes 111m,btlm] [--types q8_0,q4_0] [--prompt 512] [--kv f16|f32|q8] [--full] [--no-memory]
// Random weights written by exportGguf (embedding / LM head in Q8_0; matrices whose K is not a
// multiple of 32, BTLM's ffn_down with K = 6826, fall back to F16, as llama.cpp's quantizer does).
// mugpt loads the .gguf (loadModel); llama.cpp runs the same file through node-llama-cpp. Each
// engine in its own child process (peak RSS per engine), 2 threads.
// While mugpt's quantized matrix kernel is the JS reference (no native qlinear), its prefill runs
// a shorter prompt and fewer decode tokens (printed) unless --full: a 512-token BTLM prefill would
// take most of an hour.
// The memory part loads BTLM-3B Q4_0 in mugpt, fills the KV cache to 2,048 and 8,192 positions
// (random keys/values: no prefill needed) and decodes after them: weights, process peak RSS.
import { getKernels } from '../src/kernels/index.js';
import { jsKernels } from '../src/kernels/js.js';
import { GgmlType, readGguf } from '../src/gguf/file.js';
import { padTypeOf } from '../src/gguf/hf-model.js';
import { quantizedBytes, type BlockType } from '../src/quant/blocks.js';
import {
  fmt, ggufFile, kvBytesPerToken, machineLine, printTable, ratio, runEngine, shapeConfig, type ChildFailure,
  type ChildResult, type ShapeName, benchArgs, usageExit, numberFlag,
} from './common.js';
import { measureMachine } from './machine.js';
import { boundBandwidth } from './probe-bandwidth.js';
import { profileLine, type KernelTime } from './profile.js';

const { values: opt } = benchArgs({
  options: {
    shapes: { type: 'string', default: '111m,btlm' },
    types: { type: 'string', default: 'q8_0,q4_0' },
    prompt: { type: 'string', default: '512' },
    full: { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'no-llama': { type: 'boolean', default: false },
    kv: { type: 'string', default: 'f16' },
  },
});
// The KV cache of mugpt's speed runs: f16 by default, the type llama.cpp's cache has by default.
const kvType = opt.kv;
if (kvType !== 'f16' && kvType !== 'f32' && kvType !== 'q8') usageExit(`--kv: expected f16, f32 or q8, got '${kvType}'`);
const SHAPES: Record<string, ShapeName> = { '111m': 'cerebras-gpt-111m', btlm: 'btlm-3b-8k' };
const prompt = numberFlag('prompt', opt.prompt);
const qlinearJs = getKernels().qlinear === jsKernels.qlinear;

/**
 * Bytes of weights one decode step reads: every matrix once (token_embd only as the LM head when there
 * is no output.weight). llama.cpp reads the file's tensors; mugpt holds float matrices whose K is not a
 * multiple of 32 (BTLM's F16 ffn_down) as zero-padded blocks of importGguf's default type for the file
 * (padTypeOf: Q8_0 in quantized files), so it reads fewer bytes.
 */
function bytesPerToken(path: string): { perToken: number; mugptPerToken: number; file: number; padType: BlockType | false } {
  const f = readGguf(path);
  const padType = padTypeOf(f, {});
  let perToken = 0, mugptPerToken = 0, file = 0;
  const tiedHead = !f.tensors.has('output.weight');
  for (const t of f.tensors.values()) {
    file += t.bytes;
    if (t.dims.length !== 2 || t.name === 'position_embd.weight') continue;
    if (t.name === 'token_embd.weight' && !tiedHead) continue;
    perToken += t.bytes;
    const [K, rows] = t.dims;
    const padded = padType && (t.type === GgmlType.F16 || t.type === GgmlType.F32) && K % 32 !== 0;
    mugptPerToken += padded ? quantizedBytes(padType, rows, Math.ceil(K / 32) * 32) : t.bytes;
  }
  return { perToken, mugptPerToken, file, padType };
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

console.log(machineLine());
const machine = measureMachine();
if (machine) console.log(`read bandwidth ${machine.bandwidthGBs.toFixed(1)} GB/s`);
console.log(`mugpt quantized matrix kernel (qlinear): ${qlinearJs ? 'JS reference (the native one has not landed)' : 'native'}`);

for (const key of opt.shapes.split(',')) {
  const shape = SHAPES[key];
  if (!shape) usageExit(`--shapes: unknown shape '${key}' (expected 111m or btlm)`);
  const cfg = shapeConfig(shape);
  const btlm = shape === 'btlm-3b-8k';
  const decode = btlm ? 16 : 64;
  const small = qlinearJs && !opt.full;
  const mPrompt = small ? (btlm ? 8 : 64) : prompt;
  const mDecode = small ? (btlm ? 4 : 16) : decode;
  for (const type of opt.types.split(',') as Array<'q8_0' | 'q4_0'>) {
    const path = ggufFile(shape, cfg, type);
    const { perToken, mugptPerToken, file, padType } = bytesPerToken(path);
    console.log(`\n## ${shape} ${type.toUpperCase()}: file ${mib(file)} MiB; mugpt prefill ${mPrompt} / decode ${mDecode}, llama.cpp prefill ${prompt} / decode ${decode} tokens; KV cache ${kvType} (mugpt), f16 (llama.cpp)`);
    const res: Array<[string, ChildResult | ChildFailure]> = [];
    const m = await runEngine('engine-mugpt.js', { shape, gguf: path, prompt: mPrompt, decode: mDecode, kvType, bandwidthSegments: machine ? 4 : undefined });
    res.push([`mugpt (qlinear ${qlinearJs ? 'JS' : 'native'})`, m]);
    if (!opt['no-llama']) res.push(['llama.cpp', await runEngine('engine-llamacpp.js', { path, prompt, decode, threads: 2, vocab: cfg.vocab_size })]);
    const mp = m.ok ? (m.json.prefillTokensPerSecond as number) : null;
    const md = m.ok ? (m.json.decodeTokensPerSecond as number) : null;
    // bounds: weights and the KV cache at the decode's mean context ÷ the bandwidth sampled between mugpt's
    // decode segments (median); llama.cpp runs right after, against the same figure
    const sampled = machine ? boundBandwidth(m.ok ? (m.json.bandwidthGBs as number[]) : [], machine.bandwidthGBs) : null;
    const bw = sampled?.gbs ?? null;
    const kv = (engineKv: 'f32' | 'f16' | 'q8', dec: number, pre: number): number => kvBytesPerToken(cfg, pre + dec / 2, engineKv);
    const mBytes = mugptPerToken + kv(kvType, mDecode, mPrompt), lBytes = perToken + kv('f16', decode, prompt);
    const bound = bw ? (bw * 1e9) / lBytes : null;
    const mBound = bw ? (bw * 1e9) / mBytes : null;
    printTable(['engine', 'prefill tok/s', 'decode tok/s', 'peak RSS MiB', 'mugpt ÷ engine, prefill', 'mugpt ÷ engine, decode', 'decode ÷ bandwidth bound'],
      res.map(([name, r]) => {
        if (!r.ok) return [name, `failed: ${r.error}`, '', '', '', '', ''];
        const p = r.json.prefillTokensPerSecond as number, d = r.json.decodeTokensPerSecond as number;
        const b = r.json.engine === 'mugpt' ? mBound : bound;
        return [name, fmt(p), fmt(d, 2), fmt(r.json.peakRssMiB as number, 0), ratio(mp, p), ratio(md, d), b ? `${((100 * d) / b).toFixed(0)}%` : '—'];
      }));
    if (bound && mBound && bw) {
      const fileBound = (bw * 1e9) / (perToken + kv(kvType, mDecode, mPrompt));
      console.log(`decode bound (target ≥ 80%): bytes a token ÷ ${sampled?.line ?? ''}.`
        + ` mugpt reads ${mib(mBytes)} MiB a token (weights${mugptPerToken !== perToken ? `, the unaligned F16 matrices padded to ${String(padType).toUpperCase()} blocks` : ''}, and its ${kvType} KV cache at context ${mPrompt + mDecode / 2}): ${mBound.toFixed(1)} tok/s`
        + (mugptPerToken !== perToken ? `; with the file's weights instead ${fileBound.toFixed(1)} tok/s, of which mugpt decodes at ${md ? ((100 * md) / fileBound).toFixed(0) : '—'}%` : '')
        + `; llama.cpp reads ${mib(lBytes)} MiB (f16 KV cache at context ${prompt + decode / 2}): ${bound.toFixed(1)} tok/s`);
    }
    if (m.ok) {
      console.log(`  mugpt prefill: ${profileLine(m.json.prefillProfile as KernelTime[], m.json.prefillMs as number)}`);
      console.log(`  mugpt decode:  ${profileLine(m.json.decodeProfile as KernelTime[], m.json.decodeProfileMs as number)}`);
    }
  }
}

if (!opt['no-memory'] && opt.shapes.includes('btlm')) {
  const cfg = shapeConfig('btlm-3b-8k');
  const path = ggufFile('btlm-3b-8k', cfg, 'q4_0');
  const { file } = bytesPerToken(path);
  console.log(`\n## BTLM-3B-8K Q4_0 memory (claim: weights ≤ 1.7 GB, process ≤ 3 GB at 2,048 context): file ${(file / 1e9).toFixed(2)} GB of tensors`);
  const rows: string[][] = [];
  for (const kvType of ['f32', 'f16', 'q8'] as const) {
    for (const ctx of [2048, 8192]) {
      const r = await runEngine('engine-mugpt.js', { shape: 'btlm-3b-8k', gguf: path, prompt: 0, decode: 2, fillContext: ctx, kvType });
      if (!r.ok) { rows.push([String(ctx), kvType, `failed: ${r.error}`, '', '', '']); continue; }
      const gb = (miB: unknown): string => (((miB as number) * 2 ** 20) / 1e9).toFixed(2);
      rows.push([String(ctx), kvType.toUpperCase(), gb(r.json.kvCacheMiB), gb(r.json.rssAfterLoadMiB), gb(r.json.peakRssMiB),
        fmt(r.json.decodeTokensPerSecond as number, 2)]);
    }
  }
  printTable(['context', 'KV cache', 'KV cache GB', 'RSS after load GB (mapped file pages count once touched)', 'peak RSS GB', 'decode tok/s at that context'], rows);
}
