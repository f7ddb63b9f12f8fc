// The public API of mugpt. Every CLI command has a library function exported here.
export { MugptError } from './errors.js';
export type { Kernels, BackendName } from './kernels/kernels.js';
export type { DecodeModel, KVCache } from './model/decode.js';
