// One llama.cpp measurement (node-llama-cpp) in its own process, so its peak RSS is llama.cpp's alone:
//   node dist/bench/engine-llamacpp.js '{"path":"model.gguf","prompt":512,"decode":128,"threads":2}'
// Prefill of `prompt` tokens in one batch, then `decode` greedy tokens. Prints one JSON line.
import { llamaCppSpeed } from '../tools/llamacpp.js';
import { peakRssMiB, promptIds } from './common.js';

interface Args { path: string; prompt: number; decode: number; threads: number; vocab: number }

const a = JSON.parse(process.argv[2]) as Args;
const s = await llamaCppSpeed(a.path, promptIds(a.prompt, a.vocab), a.decode, a.threads);
console.log(JSON.stringify({ engine: 'llama.cpp', ...s, peakRssMiB: peakRssMiB() }));
