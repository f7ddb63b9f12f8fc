// Parsing the bundled GPT-2 vocabulary's format (see tokenizer/asset.ts) from its inflated bytes, with
// no Node API: browsers inflate the asset with DecompressionStream and parse it here.
import { check } from '../errors.js';
import type { AddedToken, BpeSpec } from './bpe.js';

export const ASSET_MAGIC = 'MUGPTBPE';

export interface AssetHeader { version: 1; n_merges: number; added: AddedToken[]; eos_token_id: number | null }

/** The inflated bytes of an asset (path names it in errors) → a BpeSpec. */
export function parseAsset(buf: Uint8Array, path: string): BpeSpec {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  check(buf.length >= 12 && String.fromCharCode(...buf.subarray(0, 8)) === ASSET_MAGIC, `${path}: not a mugpt BPE asset (bad magic)`);
  const jsonLen = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(12, 12 + jsonLen))) as AssetHeader;
  const nMerges = header.n_merges;
  let o = 12 + jsonLen;
  check(header.version === 1 && buf.length === o + 256 + 4 * nMerges, `${path}: truncated or unknown-version BPE asset`);
  const byteToId = new Int32Array(256);
  const tokenBytes: Uint8Array[] = [];
  for (let id = 0; id < 256; id++) { byteToId[buf[o + id]] = id; tokenBytes.push(Uint8Array.of(buf[o + id])); }
  o += 256;
  const mergePairs = new Int32Array(2 * nMerges);
  const mergeResults = new Int32Array(nMerges);
  for (let r = 0; r < nMerges; r++) {
    const a = view.getUint16(o + 2 * r, true), b = view.getUint16(o + 2 * (nMerges + r), true);
    check(a < 256 + r && b < 256 + r, `${path}: merge ${r} refers to a later token`);
    mergePairs[2 * r] = a; mergePairs[2 * r + 1] = b; mergeResults[r] = 256 + r;
    const t = new Uint8Array(tokenBytes[a].length + tokenBytes[b].length);
    t.set(tokenBytes[a]); t.set(tokenBytes[b], tokenBytes[a].length);
    tokenBytes.push(t);
  }
  for (const t of header.added) {
    check(t.id === tokenBytes.length, `${path}: added token ${t.content} has id ${t.id}, expected ${tokenBytes.length}`);
    tokenBytes.push(new TextEncoder().encode(t.content));
  }
  return { tokenBytes, mergePairs, mergeResults, byteToId, added: header.added, eosTokenId: header.eos_token_id };
}
