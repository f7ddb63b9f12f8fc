// The public API of mugpt. Every CLI command has a library function exported here.
export { MugptError } from './errors.js';
export type { Kernels, BackendName, GeluKind, AttentionArgs } from './kernels/kernels.js';
export { getKernels, nativeAvailable } from './kernels/index.js';
export type { DecodeModel, KVCache } from './model/decode.js';
