// The seeded pseudo-random generator of mugpt (sampling, parameter init, data order):
// xoshiro128** seeded through splitmix64.
//
// Written by hand rather than taken from a library or Math.random because a seed must give the same
// token stream on every platform, Node version and CPU: the algorithm below uses only 32-bit integer
// operations (Math.imul, shifts, xor), which JavaScript defines bit-exactly everywhere, and its output
// sequence is fixed by this file, not by a dependency's release. xoshiro128** (Blackman & Vigna) has
// a 2^128 − 1 period and passes BigCrush; splitmix64 spreads any seed, 0 included, over the state.
// tools/xoshiro128ss.c is the C reference the known-answer test was generated with.

import { check } from './errors.js';

/** Largest accepted seed: seeds are non-negative safe integers. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 (the seeder the xoshiro authors recommend): returns [next state, output], both 64-bit. */
function splitmix64(state: bigint): [bigint, bigint] {
  const s = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [s, z ^ (z >> 31n)];
}
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** seed: an integer in [0, 2^53 − 1]. Two splitmix64 outputs of it fill the 128-bit state (low word first). */
  constructor(readonly seed: number) {
    check(Number.isSafeInteger(seed) && seed >= 0, `seed must be an integer in [0, ${MAX_SEED}], got ${seed}`);
    const [st, a] = splitmix64(BigInt(seed));
    const [, b] = splitmix64(st);
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
  }

  /** The next 32-bit output, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (27 + 26 from two outputs). */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** A standard normal (Box–Muller; one draw per call). */
  normal(): number {
    const u1 = 1 - this.nextFloat(); // (0, 1]
    const u2 = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A normal of standard deviation std truncated to ±2·std (rejection; accepts 95.4%). */
  truncNormal(std: number): number {
    for (;;) {
      const z = this.normal();
      if (z >= -2 && z <= 2) return z * std;
    }
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(a: T[] | Uint32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
