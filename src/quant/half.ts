// IEEE 754 half precision and bfloat16 ↔ float32, exact in both directions where representable;
// float → half / bf16 rounds to nearest even. Written by hand: F16/BF16 tensors and GGUF block scales
// are bit formats we control. One module serves safetensors, GGUF, the quantizer and the KV cache.

/** float32 bit patterns (as int32) of all 65,536 IEEE half values (exact; NaN payloads kept). */
export const HALF_BITS: Int32Array = (() => {
  const table = new Int32Array(65536);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) table[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) table[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else { f[0] = mant * 2 ** -24; table[h] = sign | u[0]; } // subnormal (or zero): exact in float32
  }
  return table;
})();

/** All 65,536 half values as floats, for hot dequantization loops (the same bits as HALF_BITS). */
export const HALF_TABLE: Float32Array = new Float32Array(HALF_BITS.buffer);

/** Half bits → float (exact). */
export function halfToFloat(h: number): number {
  return HALF_TABLE[h & 0xffff];
}

/** IEEE half bits of a float32 (given as int32 or uint32 bits), rounding to nearest even; overflow gives ±Inf. */
export function floatBitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00; // NaN stays NaN (quiet bit set)
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    // Subnormal: value = m · 2^(e−38) with m the 24-bit significand; in units of 2^−24 that is m >> (14 − e).
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry may roll into the exponent, up to Inf: correct
  return sign | h;
}

/** bfloat16 bits of a float32 (given as int32 or uint32 bits), rounding to nearest even; NaN stays NaN. */
export function floatBitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) & 0xffff) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** Float → half bits, round to nearest even (of the float32 nearest x); overflow gives ±Inf, NaN stays NaN. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  return floatBitsToHalf(i32[0]);
}
