// Files of the build's intermediate stages: streamed writes that land atomically (temp file, fsync,
// rename — the streaming counterpart of io/atomic.ts's writeFileAtomic, for outputs too large to
// hold in memory), and the stage JSONL format `{"source": name, "text": …}` read back line by line.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

export class AtomicFileWriter {
  private readonly tmp: string;
  private fd: number;
  private buf: Buffer[] = [];
  private buffered = 0;
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);
    this.fd = openSync(this.tmp, 'w');
  }

  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.hash.update(b);
    this.bytes += b.length;
    this.buf.push(b);
    this.buffered += b.length;
    if (this.buffered >= 1 << 20) this.flush();
  }

  private flush(): void {
    const all = Buffer.concat(this.buf);
    let off = 0;
    while (off < all.length) off += writeSync(this.fd, all, off, all.length - off);
    this.buf = [];
    this.buffered = 0;
  }

  /** Syncs and renames the file into place; returns its size and SHA-256. */
  commit(): { bytes: number; sha256: string } {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
    try { const d = openSync(dirname(this.path), 'r'); try { fsyncSync(d); } finally { closeSync(d); } } catch { /* see io/atomic.ts */ }
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  /** Drops the temp file (on failure). */
  abort(): void {
    try { closeSync(this.fd); } catch { /* already closed */ }
    rmSync(this.tmp, { force: true });
  }
}

/** One stage record: a document and the source it came from. */
export function stageLine(source: string, text: string): string {
  return `${JSON.stringify({ source, text })}\n`;
}

/** SHA-256 and size of a file, streamed. */
export async function fileDigest(path: string): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) { h.update(chunk as Buffer); bytes += (chunk as Buffer).length; }
  return { bytes, sha256: h.digest('hex') };
}
