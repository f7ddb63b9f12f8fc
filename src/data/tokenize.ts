// Tokenization on all cores: a pool of worker threads (tokenize-worker.ts), each with its own copy of
// the tokenizer. Batches go out round-robin and come back as promises the caller awaits in order,
// so packing sees the documents in their original order.
import { Worker } from 'node:worker_threads';
import { MugptError } from '../errors.js';

interface Reply { id: number; ids: Uint32Array; lengths: Uint32Array }

export class TokenizePool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (r: Uint32Array[]) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | null = null;

  constructor(tokenizer: string, size: number) {
    const url = new URL('./tokenize-worker.js', import.meta.url);
    this.workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = new Worker(url, { workerData: { tokenizer } });
      w.on('message', (r: Reply) => {
        const p = this.waiting.get(r.id);
        if (!p) return;
        this.waiting.delete(r.id);
        const out: Uint32Array[] = [];
        let o = 0;
        for (const len of r.lengths) { out.push(r.ids.subarray(o, o + len)); o += len; }
        p.resolve(out);
      });
      w.on('error', (err) => this.fail(err instanceof MugptError ? err : new MugptError(`tokenizer worker failed: ${err.message}`)));
      return w;
    });
  }

  private fail(err: Error): void {
    this.failed = err;
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }

  /** Token ids of each text, in order. */
  encode(texts: string[]): Promise<Uint32Array[]> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.workers[id % this.workers.length].postMessage({ id, texts });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
