// The bundled GPT-2 tokenizer in a browser: assets/gpt2-bpe.bin (copied beside the bundle by
// tools/build-web.mjs), inflated with DecompressionStream and parsed as in Node.
import { MugptError } from '../errors.js';
import { parseAsset } from '../tokenizer/asset-parse.js';
import { BpeTokenizer } from '../tokenizer/bpe.js';

let cache: Promise<BpeTokenizer> | null = null;

/** The GPT-2 tokenizer (Cerebras-GPT's and BTLM's vocabulary), fetched once. */
export function gpt2Tokenizer(): Promise<BpeTokenizer> {
  cache ??= (async () => {
    const url = new URL('./gpt2-bpe.bin', import.meta.url);
    const res = await fetch(url);
    if (!res.ok || !res.body) throw new MugptError(`${url.href}: cannot fetch the bundled GPT-2 vocabulary (${res.status})`);
    const inflated = await new Response(res.body.pipeThrough(new DecompressionStream('deflate-raw'))).arrayBuffer();
    return new BpeTokenizer(parseAsset(new Uint8Array(inflated), url.pathname));
  })();
  return cache;
}
