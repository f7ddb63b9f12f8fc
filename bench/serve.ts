// Continuous batching against one stream and against llama.cpp, on the same GGUF files, in one run:
//   node dist/bench/serve.js [--shapes 111m,btlm] [--streams 1,8] [--prompt 32] [--decode 32] [--rounds 3] [--btlm-layers 32] [--kv f16] [--threads 2] [--no-llama]
// Aggregate decode tokens/s of S sequences decoded together: mugpt's Model.stepBatch (the step of
// `mugpt serve`'s scheduler; each weight matrix read once for all S), and node-llama-cpp with S
// sequences in one context (llama.cpp batches them into one llama_decode). The 111M shape runs an
// F32 file, BTLM-3B a Q4_0 one (random weights, written by exportGguf and cached; see common.ts).
// Each engine in its own child process with --threads threads (mugpt: MUGPT_THREADS); mugpt's KV cache
// f16, as llama.cpp's default. Each rate is the median of --rounds runs, the stream counts interleaved
// (1, 8, 1, 8, …), so a slow spell of a shared machine does not fall on one side of a ratio only.
// Targets: 8 streams ≥ 4× one on 111M, ≥ 3× on BTLM Q4_0, and ≥ llama.cpp's 8 sequences.
import {
  fmt, ggufFile, machineLine, printTable, ratio, runEngine, shapeConfig, type ShapeName, benchArgs, usageExit,
  numberFlag,
} from './common.js';

const { values: opt } = benchArgs({
  options: {
    shapes: { type: 'string', default: '111m,btlm' },
    streams: { type: 'string', default: '1,8' },
    prompt: { type: 'string', default: '32' },
    decode: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    'btlm-layers': { type: 'string', default: '32' },
    kv: { type: 'string', default: 'f16' },
    threads: { type: 'string', default: '2' },
    'no-llama': { type: 'boolean', default: false },
  },
});
const SHAPES: Record<string, { shape: ShapeName; type: 'f32' | 'q4_0' }> = {
  '111m': { shape: 'cerebras-gpt-111m', type: 'f32' },
  btlm: { shape: 'btlm-3b-8k', type: 'q4_0' },
};
const streams = opt.streams.split(',').map(Number);
const prompt = numberFlag('prompt', opt.prompt), decode = numberFlag('decode', opt.decode);
const threads = numberFlag('threads', opt.threads), rounds = numberFlag('rounds', opt.rounds);
process.env.MUGPT_THREADS = String(threads); // inherited by the mugpt engine's process

console.log(machineLine());
for (const key of opt.shapes.split(',')) {
  const spec = SHAPES[key];
  if (!spec) usageExit(`--shapes: unknown shape '${key}' (expected 111m or btlm)`);
  const cfg = shapeConfig(spec.shape, spec.shape === 'btlm-3b-8k' ? Number(opt['btlm-layers']) : undefined);
  const path = ggufFile(spec.shape, cfg, spec.type);
  console.log(`\n## ${spec.shape}, ${cfg.n_layer} layers, ${spec.type.toUpperCase()} GGUF (random weights): ${prompt}-token prompts, then ${decode} decode steps; aggregate decode tokens/s (median of ${rounds} interleaved runs), ${threads} thread${threads > 1 ? 's' : ''}`);
  const mugpt = await runEngine('engine-serve-mugpt.js', { gguf: path, prompt, decode, streams, rounds, kvType: opt.kv });
  const llama = opt['no-llama'] ? null
    : await runEngine('engine-serve-llamacpp.js', { path, prompt, decode, streams, rounds, threads, vocab: cfg.vocab_size });
  const rates = (r: typeof mugpt | null): Record<string, number> | null => (r && r.ok ? r.json.rates as Record<string, number> : null);
  const m = rates(mugpt), l = rates(llama);
  if (!mugpt.ok) console.log(`mugpt failed: ${mugpt.error}`);
  if (llama && !llama.ok) console.log(`llama.cpp failed: ${llama.error}`);
  printTable(['streams', 'mugpt tok/s', `mugpt ÷ mugpt ${streams[0]} stream`, 'llama.cpp tok/s', `llama.cpp ÷ llama.cpp ${streams[0]}`, 'mugpt ÷ llama.cpp'],
    streams.map((S) => [String(S), fmt(m?.[S]), ratio(m?.[S], m?.[streams[0]]), fmt(l?.[S]), ratio(l?.[S], l?.[streams[0]]), ratio(m?.[S], l?.[S])]));
  const runs = (r: typeof mugpt | null): string => (r && r.ok ? streams.map((S) => `${S}: ${(r.json.runs as Record<string, number[]>)[S].map((x) => fmt(x)).join(' / ')}`).join(', ') : '–');
  console.log(`runs, tok/s: mugpt ${runs(mugpt)}; llama.cpp ${runs(llama)}`);
  console.log(`peak RSS MiB: mugpt ${fmt(mugpt.ok ? mugpt.json.peakRssMiB as number : null, 0)}, llama.cpp ${fmt(llama?.ok ? llama.json.peakRssMiB as number : null, 0)}`);
}
