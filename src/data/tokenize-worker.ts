// Worker thread of the tokenization pool: loads the tokenizer once, then encodes batches of texts.
// Special-token strings inside documents stay plain text (allowSpecial false), so a document cannot
// inject <|endoftext|>. Replies with all ids in one transferable array plus per-text lengths.
import { parentPort, workerData } from 'node:worker_threads';
import { loadTokenizer } from '../tokenizer/load.js';

const tok = loadTokenizer((workerData as { tokenizer: string }).tokenizer);

parentPort!.on('message', (msg: { id: number; texts: string[] }) => {
  const parts = msg.texts.map((t) => tok.encode(t));
  const lengths = new Uint32Array(parts.length);
  let n = 0;
  parts.forEach((p, i) => { lengths[i] = p.length; n += p.length; });
  const ids = new Uint32Array(n);
  let o = 0;
  for (const p of parts) { ids.set(p, o); o += p.length; }
  parentPort!.postMessage({ id: msg.id, ids, lengths }, [ids.buffer, lengths.buffer]);
});
