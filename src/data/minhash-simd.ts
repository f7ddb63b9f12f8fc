// The MinHash inner loop in WebAssembly SIMD (i32x4: 4 permutations per instruction, 16 per pass
// with four accumulators), same arithmetic as the JS loop in minhash.ts: sig[i] = min_u over x of
// (a_i·x + b_i) mod 2^32. The module is 415 bytes, assembled below (no toolchain needed at build or
// run time); where WebAssembly SIMD is unavailable, minhash.ts keeps its JS loop.
//
// Exported function mh(h, n, a, b, sig, groups): for g < groups, the 16 permutations at a/b/sig + 64·g
// over the n int32 hashes at h. Memory layout per call: a[P], b[P], sig[P], hashes[n] (int32 each).

const I32 = 0x7f, V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const i32c = (v: number): number[] => [0x41, ...sleb(v)];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const v128load = (off: number): number[] => [...simd(0x00), 0, ...uleb(off)];
const v128store = (off: number): number[] => [...simd(0x0b), 0, ...uleb(off)];
const I32_ADD = 0x6a, I32_GE_U = 0x4f, BLOCK = 0x02, LOOP = 0x03, BR = 0x0c, BR_IF = 0x0d, END = 0x0b, VOID = 0x40;
const I32X4_SPLAT = 0x11, I32X4_ADD = 0xae, I32X4_MUL = 0xb5, I32X4_MIN_U = 0xb7, V128_CONST = 0x0c;

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

/** The module's bytes. */
function assemble(): Uint8Array<ArrayBuffer> {
  // params: 0 h, 1 n, 2 a, 3 b, 4 sig, 5 groups; i32 locals: 6 g, 7 k, 8 p, 9 pa, 10 pb, 11 ps;
  // v128 locals: 12 x, 13–16 a0–a3, 17–20 b0–b3, 21–24 m0–m3.
  const inc = (l: number, by: number): number[] => [...get(l), ...i32c(by), I32_ADD, ...set(l)];
  const code: number[] = [
    ...get(2), ...set(9), ...get(3), ...set(10), ...get(4), ...set(11), ...i32c(0), ...set(6),
    BLOCK, VOID, LOOP, VOID,
    ...get(6), ...get(5), I32_GE_U, BR_IF, 1,
  ];
  for (let j = 0; j < 4; j++) code.push(...get(9), ...v128load(16 * j), ...set(13 + j));
  for (let j = 0; j < 4; j++) code.push(...get(10), ...v128load(16 * j), ...set(17 + j));
  for (let j = 0; j < 4; j++) code.push(...simd(V128_CONST), ...new Array(16).fill(0xff), ...set(21 + j));
  code.push(...get(0), ...set(8), ...i32c(0), ...set(7),
    BLOCK, VOID, LOOP, VOID,
    ...get(7), ...get(1), I32_GE_U, BR_IF, 1,
    ...get(8), 0x28, 2, 0, ...simd(I32X4_SPLAT), ...set(12));  // x = splat(i32.load p)
  for (let j = 0; j < 4; j++) {
    // m_j = min_u(m_j, a_j·x + b_j)
    code.push(...get(21 + j), ...get(13 + j), ...get(12), ...simd(I32X4_MUL), ...get(17 + j), ...simd(I32X4_ADD), ...simd(I32X4_MIN_U), ...set(21 + j));
  }
  code.push(...inc(8, 4), ...inc(7, 1), BR, 0, END, END);
  for (let j = 0; j < 4; j++) code.push(...get(11), ...get(21 + j), ...v128store(16 * j));
  code.push(...inc(9, 64), ...inc(10, 64), ...inc(11, 64), ...inc(6, 1), BR, 0, END, END, END);
  const body = [2, 6, I32, 13, V128, ...code];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 6, I32, I32, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...name('mh'), 0, 0, ...name('mem'), 2, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/** A SIMD MinHash kernel bound to one instance's memory. */
export interface SimdMinhash {
  /** Computes sig[0..16·⌊P/16⌋) (the rest is left to the caller); see the file comment. */
  run(hashes: Int32Array, count: number, a: Int32Array, b: Int32Array, sig: Uint32Array): number;
}

let instance: SimdMinhash | null | undefined;

/** The SIMD kernel, or null where WebAssembly SIMD is not supported. */
export function simdMinhash(): SimdMinhash | null {
  if (instance !== undefined) return instance;
  try {
    const bytes = assemble();
    const mod = new WebAssembly.Module(bytes);
    const inst = new WebAssembly.Instance(mod, {});
    const mh = inst.exports.mh as (h: number, n: number, a: number, b: number, sig: number, groups: number) => void;
    const mem = inst.exports.mem as WebAssembly.Memory;
    let lastA: Int32Array | null = null;
    instance = {
      run(hashes, count, a, b, sig) {
        const P = a.length;
        const groups = Math.floor(P / 16);
        if (groups === 0) return 0;
        const need = (3 * P + count) * 4;
        if (mem.buffer.byteLength < need) { mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536)); lastA = null; }
        const view = new Int32Array(mem.buffer);
        if (lastA !== a) { view.set(a, 0); view.set(b, P); lastA = a; }
        view.set(hashes.subarray(0, count), 3 * P);
        mh(12 * P, count, 0, 4 * P, 8 * P, groups);
        sig.set(new Uint32Array(mem.buffer, 8 * P, groups * 16));
        return groups * 16;
      },
    };
  } catch {
    instance = null;
  }
  return instance;
}
