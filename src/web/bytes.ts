// A model file streamed into one block of memory, chunk by chunk as it arrives (never held twice):
// the WebAssembly kernels' memory, where the weights are then read in place, or a plain ArrayBuffer.
import { MugptError } from '../errors.js';

/** Where the bytes go, once their count is known: n bytes of memory to fill (a view of the kernels' memory, or a fresh array). */
export type Destination = (n: number) => Uint8Array | Promise<Uint8Array>;

/** The bytes of a URL or a File/Blob, streamed into dest(size); onProgress(loaded, total) as they come. */
export async function readSource(source: string | Blob, name: string, dest: Destination,
  onProgress: (loaded: number, total: number) => void): Promise<Uint8Array> {
  let size: number;
  let stream: ReadableStream<Uint8Array>;
  if (typeof source === 'string') {
    let res: Response;
    try {
      res = await fetch(source);
    } catch (e) {
      throw new MugptError(`${name}: cannot fetch the model (${(e as Error).message})`);
    }
    if (!res.ok || !res.body) throw new MugptError(`${name}: the server answered ${res.status} ${res.statusText}`);
    const len = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(len) || len <= 0) throw new MugptError(`${name}: the server sent no Content-Length (needed to place the model in memory)`);
    size = len;
    stream = res.body;
  } else {
    size = source.size;
    stream = source.stream();
  }
  const out = await dest(size);
  const reader = stream.getReader();
  let done = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    if (done + r.value.length > size) throw new MugptError(`${name}: more bytes arrived than the announced ${size}`);
    out.set(r.value, done);
    done += r.value.length;
    onProgress(done, size);
  }
  if (done !== size) throw new MugptError(`${name}: the download stopped at ${done} of ${size} bytes`);
  return out;
}
