// The public API of mugpt. Every CLI command has a library function exported here.
export { MugptError } from './errors.js';
export type { Kernels, BackendName, GeluKind, AttentionArgs } from './kernels/kernels.js';
export { getKernels, nativeAvailable } from './kernels/index.js';
export type { DecodeModel, KVCache } from './model/decode.js';
export { loadTokenizer } from './tokenizer/load.js';
export type { Tokenizer } from './tokenizer/bpe.js';
export { saveTokenizerJson } from './tokenizer/save.js';
