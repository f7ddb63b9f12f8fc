// The compact file format of the bundled GPT-2 vocabulary (assets/gpt2-bpe.bin), written by
// tools/gpt2-asset.ts. A byte-level BPE whose ids are laid out as GPT-2's are (256 byte tokens,
// then one token per merge in rank order, then added tokens) is fully described by the byte order
// of the first 256 ids and the (left, right) ids of each merge: every other token's bytes are the
// concatenation of its merge's two tokens. Layout, deflated (node:zlib):
//   "MUGPTBPE" | u32 LE header length | header JSON | 256 bytes: byte of id 0…255 |
//   u16 LE left ids [n_merges] | u16 LE right ids [n_merges]
import { readFileSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { MugptError, check } from '../errors.js';
import type { AddedToken, BpeSpec } from './bpe.js';
import { ASSET_MAGIC as MAGIC, parseAsset, type AssetHeader } from './asset-parse.js';


/** Serializes byte order + merges (merge r must produce id 256 + r) + added tokens. */
export function encodeAsset(byteOrder: ArrayLike<number>, mergePairs: Int32Array, added: AddedToken[], eosTokenId: number | null): Uint8Array {
  const nMerges = mergePairs.length / 2;
  check(byteOrder.length === 256, 'asset: the byte order must list 256 bytes');
  check(256 + nMerges + added.length <= 0x10000, 'asset: ids must fit in 16 bits');
  const header: AssetHeader = { version: 1, n_merges: nMerges, added, eos_token_id: eosTokenId };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const buf = Buffer.alloc(8 + 4 + json.length + 256 + 4 * nMerges);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  let o = 12 + json.length;
  for (let i = 0; i < 256; i++) buf[o++] = byteOrder[i];
  for (let r = 0; r < nMerges; r++) buf.writeUInt16LE(mergePairs[2 * r], o + 2 * r);
  o += 2 * nMerges;
  for (let r = 0; r < nMerges; r++) buf.writeUInt16LE(mergePairs[2 * r + 1], o + 2 * r);
  return deflateRawSync(buf, { level: 9 });
}

/** Reads an asset file into a BpeSpec (ids: bytes, merges, added tokens). */
export function readAsset(path: string): BpeSpec {
  let buf: Buffer;
  try {
    buf = inflateRawSync(readFileSync(path));
  } catch (err) {
    throw new MugptError(`${path}: cannot read the bundled vocabulary (${(err as Error).message}); reinstall mugpt`);
  }
  return parseAsset(buf, path);
}
