// Every kernel refuses a bad call with the same MugptError on every backend (src/kernels/checks.ts),
// before any array is read: the JS reference, the native addon where it built, and WebAssembly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MugptError } from '../src/errors.js';
import { getKernels, nativeAvailable } from '../src/kernels/index.js';
import { jsKernels } from '../src/kernels/js.js';
import type { Kernels, QuantMatrix } from '../src/kernels/kernels.js';
import { addMasked, applyMask, attentionDropoutBackward, attentionDropoutForward, fillDropoutMask } from '../src/kernels/dropout.js';
import { Rng } from '../src/rng.js';

const backends: Kernels[] = [jsKernels, getKernels('wasm'), ...(nativeAvailable() ? [getKernels('native')] : [])];
const f = (n: number): Float32Array => new Float32Array(n);
const q8 = (N: number, K: number, bytes = (N * K / 32) * 34): QuantMatrix => ({ type: 'q8_0', data: new Uint8Array(bytes), N, K });

/** Attention sizes: 2 queries over 3 keys, 2 heads of 4, rows of 8. */
const att = { Tq: 2, Tk: 3, H: 2, d: 4, qStride: 8, kvStride: 8, scale: 0.5, slopes: null };
/** The same with the two new rows an f16-cache call stores. */
const att16 = { ...att, kNew: f(16), vNew: f(16), newStride: 8 };

const cases: Array<[string, (k: Kernels) => unknown, RegExp]> = [
  ['gemm, A too short', (k) => k.gemm(false, false, 2, 2, 2, 1, f(3), f(4), 0, f(4)), /^gemm: A has 3 elements, needs at least 4$/],
  ['gemm, M negative', (k) => k.gemm(false, false, -1, 2, 2, 1, f(4), f(4), 0, f(4)), /^gemm: M must be a non-negative integer, got -1$/],
  ['linear, W too short', (k) => k.linear(f(6), f(4), f(5), null, 2, 2, 3), /^linear: W has 5 elements, needs at least 6$/],
  ['linear, bias too short', (k) => k.linear(f(6), f(4), f(6), f(2), 2, 2, 3), /^linear: bias has 2 elements, needs at least 3$/],
  ['layerNorm, rstd too short', (k) => k.layerNorm(f(8), f(8), f(4), f(4), 2, 4, 1e-5, f(2), f(1)), /^layerNorm: rstd has 1 elements, needs at least 2$/],
  ['gelu, unknown kind', (k) => k.gelu(f(4), f(4), 4, 'relu' as 'erf'), /^gelu: kind must be 'erf' or 'tanh', got 'relu'$/],
  ['gelu, n past x', (k) => k.gelu(f(8), f(4), 8, 'tanh'), /^gelu: x has 4 elements, needs at least 8$/],
  ['swiglu, n fractional', (k) => k.swiglu(f(4), f(4), f(4), 1.5), /^swiglu: n must be a non-negative integer, got 1.5$/],
  ['attention, Tq > Tk', (k) => k.attention({ ...att, Tq: 4, out: f(64), q: f(64), k: f(64), v: f(64) }), /^attention: Tq \(4\) must not exceed Tk \(3\)$/],
  ['attention, stride below H·d', (k) => k.attention({ ...att, qStride: 7, out: f(64), q: f(64), k: f(64), v: f(64) }),
    /^attention: qStride \(7\) and kvStride \(8\) must be at least H·d = 8$/],
  ['attention, v too short', (k) => k.attention({ ...att, out: f(16), q: f(16), k: f(24), v: f(23) }), /^attention: v has 23 elements, needs at least 24$/],
  ['attention, probs too short', (k) => k.attention({ ...att, out: f(16), q: f(16), k: f(24), v: f(24), probs: f(11) }),
    /^attention: probs has 11 elements, needs at least 12$/],
  ['attentionF16, float k', (k) => k.attentionF16({ ...att16, out: f(16), q: f(16), k: f(24) as unknown as Uint16Array, v: new Uint16Array(24) }),
    /^attentionF16: k and v must be Uint16Arrays of half bits$/],
  ['attentionF16, out too short', (k) => k.attentionF16({ ...att16, out: f(15), q: f(16), k: new Uint16Array(24), v: new Uint16Array(24) }),
    /^attentionF16: out has 15 elements, needs at least 16$/],
  ['attentionF16, vNew too short', (k) => k.attentionF16({ ...att16, vNew: f(15), out: f(16), q: f(16), k: new Uint16Array(24), v: new Uint16Array(24) }),
    /^attentionF16: vNew has 15 elements, needs at least 16$/],
  ['attentionF16, newStride below H·d', (k) => k.attentionF16({ ...att16, newStride: 7, out: f(16), q: f(16), k: new Uint16Array(24), v: new Uint16Array(24) }),
    /^attentionF16: newStride \(7\) must be at least H·d = 8$/],
  ['attentionF16, float64 kNew', (k) => k.attentionF16({ ...att16, kNew: new Float64Array(16) as unknown as Float32Array, out: f(16), q: f(16), k: new Uint16Array(24), v: new Uint16Array(24) }),
    /^attentionF16: kNew and vNew must be Float32Arrays$/],
  ['attentionF16Batch, one cache short', (k) => k.attentionF16Batch({ ...att16, out: f(16), q: f(16), k: [new Uint16Array(24), new Uint16Array(23)],
    v: [new Uint16Array(24), new Uint16Array(24)], Tk: Int32Array.of(3, 3) }), /^attentionF16Batch: k\[1\] has 23 elements, needs at least 24$/],
  ['attentionF16Batch, caches not one a sequence', (k) => k.attentionF16Batch({ ...att16, out: f(16), q: f(16), k: [new Uint16Array(24)],
    v: [new Uint16Array(24)], Tk: Int32Array.of(3, 3) }), /^attentionF16Batch: k and v must be arrays of one Uint16Array a sequence \(2, Tk.length\)$/],
  ['attentionF16Batch, slopes too short', (k) => k.attentionF16Batch({ ...att16, out: f(16), q: f(16), k: [new Uint16Array(24), new Uint16Array(24)],
    v: [new Uint16Array(24), new Uint16Array(24)], Tk: Int32Array.of(3, 3), slopes: f(3) }), /^attentionF16Batch: slopes has 3 elements, needs at least 4$/],
  ['attentionQ8, vScale too short', (k) => k.attentionQ8({ ...att, out: f(16), q: f(16), k: new Int8Array(24), v: new Int8Array(24), kScale: f(6), vScale: f(5) }),
    /^attentionQ8: vScale has 5 elements, needs at least 6$/],
  ['quantizeHeads, scale too short', (k) => k.quantizeHeads(new Int8Array(8), f(1), f(8), 2, 4),
    /^quantizeHeads: x \(8\) and q \(8\) need H·d = 8 elements, scale \(1\) needs H = 2$/],
  ['qlinear, data too short', (k) => k.qlinear(f(2), f(32), q8(2, 32, 67), null, 1, 1, false), /^qlinear: q8_0 data has 67 bytes, \[2, 32\] needs 68$/],
  ['qlinear, x too short', (k) => k.qlinear(f(4), f(32), q8(2, 32), null, 2, 1, false), /^qlinear: x or out too short for M = 2$/],
  ['qlinear, K not whole blocks', (k) => k.qlinear(f(2), f(48), q8(2, 48), null, 1, 1, false), /^qlinear: bad matrix size \[2, 48\] \(K a multiple of 32\)$/],
  ['qrow, row past N', (k) => k.qrow(f(32), q8(2, 32), 2), /^qrow: row 2 of \[2, 32\]$/],
  ['qrow, unknown block type', (k) => k.qrow(f(32), { ...q8(2, 32), type: 'q5_0' as 'q8_0' }, 0), /^qrow: unknown block type 'q5_0'$/],
  ['qprepare, data too short', (k) => k.qprepare(q8(16, 32, 100)), /^qprepare: q8_0 data has 100 bytes, \[16, 32\] needs 544$/],
  ['layerNormBackward, mean too short', (k) => k.layerNormBackward(f(8), f(4), f(4), f(8), f(8), f(1), f(2), f(4), 2, 4),
    /^layerNormBackward: mean has 1 elements, needs at least 2$/],
  ['geluBackward, dout too short', (k) => k.geluBackward(f(4), f(4), f(3), 4, 'erf'), /^geluBackward: dout has 3 elements, needs at least 4$/],
  ['swigluBackward, dg too short', (k) => k.swigluBackward(f(4), f(3), f(4), f(4), f(4), 4), /^swigluBackward: dg has 3 elements, needs at least 4$/],
  ['attentionBackward, probs too short', (k) => k.attentionBackward({ dq: f(16), dk: f(16), dv: f(16), dout: f(16), q: f(16), k: f(16), v: f(16),
    qStride: 8, kvStride: 8, probs: f(7), T: 2, H: 2, d: 4, scale: 0.5 }), /^attentionBackward: probs has 7 elements, needs at least 8$/],
  ['softmaxCrossEntropy, target past V', (k) => k.softmaxCrossEntropy(f(8), [1, 4], 2, 4, 1),
    /^softmaxCrossEntropy: target 4 of row 1 is not an id in \[0, 4\) nor negative \(ignored\)$/],
];

for (const [name, call, message] of cases) {
  test(`kernel checks: ${name} is refused with the same message by ${backends.map((k) => k.name).join(', ')}`, () => {
    for (const k of backends) {
      assert.throws(() => call(k), (e: unknown) => {
        assert.ok(e instanceof MugptError, `${k.name}: ${String(e)}`);
        assert.match(e.message, message, k.name);
        return true;
      });
    }
  });
}

test('dropout: bad sizes are refused before anything is read or written, on every backend', () => {
  const drop = { T: 2, H: 2, d: 4, kvStride: 8, probs: f(8), mask: f(8), v: f(16) };
  for (const k of backends) {
    assert.throws(() => attentionDropoutForward(k, { ...drop, out: f(15) }), /^MugptError: attentionDropoutForward: out has 15 elements, needs at least 16$/);
    assert.throws(() => attentionDropoutForward(k, { ...drop, mask: f(7), out: f(16) }), /^MugptError: attentionDropoutForward: mask has 7 elements, needs at least 8$/);
    assert.throws(() => attentionDropoutBackward(k, { ...drop, dq: f(16), dk: f(16), dv: f(15), dout: f(16), q: f(16), k: f(16), qStride: 8, scale: 1 }),
      /^MugptError: attentionDropoutBackward: dv has 15 elements, needs at least 16$/);
  }
  const dv = f(16);
  assert.throws(() => attentionDropoutBackward(jsKernels, { ...drop, dq: f(16), dk: f(16), dv, dout: f(16), q: f(16), k: f(16), qStride: 7, scale: 1 }),
    /^MugptError: attentionDropoutBackward: qStride \(7\) and kvStride \(8\) must be at least H·d = 8$/);
  assert.deepEqual([...dv], new Array(16).fill(0));
  assert.throws(() => fillDropoutMask(new Rng(1), f(3), 4, 0.1), /^MugptError: fillDropoutMask: mask has 3 elements, needs at least 4$/);
  assert.throws(() => applyMask(f(4), f(4), f(3), 4), /^MugptError: applyMask: mask has 3 elements, needs at least 4$/);
  assert.throws(() => addMasked(f(3), f(4), f(4), 4), /^MugptError: addMasked: out has 3 elements, needs at least 4$/);
});
