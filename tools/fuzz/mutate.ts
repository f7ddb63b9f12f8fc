// Mutations of valid inputs: byte-level (bit flips, truncation, splices, duplicated and swapped
// ranges, extreme integers written over length fields, invalid UTF-8) and JSON-tree level (extreme
// numbers, wrong types, deleted, duplicated and reordered keys, deep nesting, huge strings).
import { Rng } from '../../src/rng.js';

/** 64-bit little-endian values that break size arithmetic: zero, one, sign and width boundaries. */
export const EXTREME_U64: bigint[] = [0n, 1n, 0x7fn, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, 1n << 62n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, 1000000000000n];

/** Byte sequences that are not UTF-8: a lone continuation, overlong NUL, a UTF-16 surrogate, a cut character, 0xFF. */
export const INVALID_UTF8: number[][] = [[0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xfe]];

const EXTREME_JSON_NUMBERS = ['0', '-1', '-0', '1', '0.5', '-2.5', '1e308', '-1e308', '1e999', '2147483648', '4294967296', '9007199254740993',
  '18446744073709551616', '1e21', '1e-320', '1000000000000', '3.0000000000000004'];
const WEIRD_STRINGS = ['', ' ', '\u0000', '\ud800', '\udfff x', '../../x', '/abs/path', 'a/b', '__proto__', 'constructor', '<|endoftext|>', 'é', '🤖', 'F32', 'BF16', 'x'.repeat(300)];
const WEIRD_KEYS = ['__proto__', 'constructor', 'prototype', '', '\u0000', 'toString', 'hasOwnProperty'];

export class Mutator {
  constructor(readonly rng: Rng) {}

  int(n: number): number { return this.rng.int(n); }
  chance(p: number): boolean { return this.rng.nextFloat() < p; }
  pick<T>(xs: readonly T[]): T { return xs[this.rng.int(xs.length)]; }

  /** 1-4 random byte-level operations; `other` is a second valid input used for splices. */
  bytes(data: Uint8Array, other?: Uint8Array): Uint8Array {
    let b: Buffer = Buffer.from(data);
    const ops = 1 + this.int(4);
    for (let k = 0; k < ops; k++) b = this.byteOp(b, other);
    return b;
  }

  private byteOp(b: Buffer, other?: Uint8Array): Buffer {
    const n = b.length;
    const at = (): number => this.int(n + 1);
    switch (this.int(11)) {
      case 0: { // flip a bit
        if (n === 0) return b;
        const i = this.int(n);
        b[i] ^= 1 << this.int(8);
        return b;
      }
      case 1: { // a byte set to a boundary value
        if (n === 0) return b;
        b[this.int(n)] = this.pick([0, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x5c, 0x0a]);
        return b;
      }
      case 2: return b.subarray(0, at()); // truncate
      case 3: { // delete a range
        const i = at(), len = this.int(Math.min(64, n - i) + 1);
        return Buffer.concat([b.subarray(0, i), b.subarray(i + len)]);
      }
      case 4: { // insert random bytes
        const i = at();
        const ins = Buffer.from(Array.from({ length: 1 + this.int(16) }, () => this.int(256)));
        return Buffer.concat([b.subarray(0, i), ins, b.subarray(i)]);
      }
      case 5: { // duplicate a range
        const i = at(), len = this.int(Math.min(256, n - i) + 1), j = at();
        return Buffer.concat([b.subarray(0, j), b.subarray(i, i + len), b.subarray(j)]);
      }
      case 6: { // splice: this input's head, another's tail
        if (!other || other.length === 0) return b.subarray(0, at());
        return Buffer.concat([b.subarray(0, at()), other.subarray(this.int(other.length))]);
      }
      case 7: case 8: { // an extreme integer over 4 or 8 bytes (aligned or not)
        const width = this.chance(0.5) ? 8 : 4;
        if (n < width) return b;
        const i = this.chance(0.5) ? this.int(Math.floor(n / width)) * width : this.int(n - width + 1);
        const v = this.pick(EXTREME_U64);
        if (width === 8) b.writeBigUInt64LE(v, i);
        else b.writeUInt32LE(Number(v & 0xffffffffn), i);
        return b;
      }
      case 9: { // invalid UTF-8
        const i = at();
        return Buffer.concat([b.subarray(0, i), Buffer.from(this.pick(INVALID_UTF8)), b.subarray(i)]);
      }
      default: { // swap two ranges (reordered entries)
        if (n < 4) return b;
        const cuts = [this.int(n), this.int(n), this.int(n)].sort((x, y) => x - y);
        const [p, q, r] = cuts;
        return Buffer.concat([b.subarray(0, p), b.subarray(q, r), b.subarray(p, q), b.subarray(r)]);
      }
    }
  }

  /** A mutated JSON text of value: 1-3 tree edits, sometimes a textual one (duplicate key, deep nesting). */
  json(value: unknown): string {
    let v = structuredClone(value);
    const edits = 1 + this.int(3);
    for (let k = 0; k < edits; k++) v = this.treeEdit(v);
    let text = JSON.stringify(v, null, this.chance(0.5) ? 1 : undefined) ?? 'null';
    if (this.chance(0.15)) text = this.textualJson(text);
    return text;
  }

  /** One edit at a random node of a JSON tree; returns the (possibly replaced) root. */
  treeEdit(root: unknown): unknown {
    const nodes: Array<{ parent: Record<string, unknown> | unknown[] | null; key: string | number }> = [{ parent: null, key: '' }];
    const walk = (v: unknown, depth: number): void => {
      if (depth > 12 || v === null || typeof v !== 'object') return;
      if (Array.isArray(v)) v.forEach((x, i) => { nodes.push({ parent: v, key: i }); walk(x, depth + 1); });
      else for (const [k, x] of Object.entries(v)) { nodes.push({ parent: v as Record<string, unknown>, key: k }); walk(x, depth + 1); }
    };
    walk(root, 0);
    const { parent, key } = this.pick(nodes);
    const get = (): unknown => (parent === null ? root : (parent as Record<string | number, unknown>)[key]);
    const old = get();
    const op = this.int(10);
    if (op === 0 && parent !== null) { // delete
      if (Array.isArray(parent)) parent.splice(key as number, 1); else delete parent[key as string];
      return root;
    }
    if (op === 1 && parent !== null && !Array.isArray(parent)) { // an unknown or hostile key beside it
      parent[this.chance(0.5) ? this.pick(WEIRD_KEYS) : `${String(key)}_x`] = old;
      return root;
    }
    if (op === 2 && parent !== null && !Array.isArray(parent)) { // reorder: the key moves to the end
      delete parent[key as string];
      parent[key as string] = old;
      return root;
    }
    if (op === 3 && Array.isArray(parent)) { // duplicate an entry
      parent.splice(key as number, 0, structuredClone(old));
      return root;
    }
    const replacement = this.replacement(old);
    if (parent === null) return replacement;
    (parent as Record<string | number, unknown>)[key] = replacement;
    return root;
  }

  private replacement(old: unknown): unknown {
    switch (this.int(9)) {
      case 0: return JSON.parse(this.pick(EXTREME_JSON_NUMBERS));
      case 1: return this.pick(WEIRD_STRINGS);
      case 2: return null;
      case 3: return this.chance(0.5);
      case 4: return [];
      case 5: return {};
      case 6: return [old, old];
      case 7: return typeof old === 'number' ? -old : typeof old === 'string' ? old + old : { value: old };
      default: return typeof old === 'number' ? old * this.pick([2, 1e6, 1e12, 0.5, -1]) + this.pick([0, 1, 0.5]) : this.pick(['0', 0, '1e3', -1]);
    }
  }

  /** A textual edit JSON.stringify cannot make: a duplicated key, deep nesting, a huge string, a big number literal. */
  textualJson(text: string): string {
    const at = this.int(text.length + 1);
    switch (this.int(5)) {
      case 0: { // duplicate the first "key": value pair of an object
        const m = /\{\s*("(?:[^"\\]|\\.)*"\s*:\s*(?:"(?:[^"\\]|\\.)*"|-?[0-9.eE+-]+|true|false|null))/.exec(text);
        return m ? text.replace(m[0], `${m[0]}, ${m[1]}`) : text;
      }
      case 1: { // nesting deeper than any recursive walker can follow
        const d = this.pick([1000, 100_000]);
        const deep = `${'['.repeat(d)}${']'.repeat(d)}`;
        const values = [...text.matchAll(/:\s*(-?\d[\d.eE+-]*|true|false|null|"(?:[^"\\]|\\.)*")/g)];
        if (values.length === 0) return deep;
        const m = this.pick(values);
        return `${text.slice(0, m.index)}: ${deep}${text.slice(m.index + m[0].length)}`;
      }
      case 2: return text.replace(/"[^"\\]*"/, `"${'y'.repeat(this.pick([1 << 16, 1 << 20]))}"`);
      case 3: return text.replace(/-?\d+(\.\d+)?/, this.pick(['1e999', '-1e999', '123456789012345678901234567890', '1.7976931348623157e309', '-0.0']));
      default: return text.slice(0, at);
    }
  }
}
