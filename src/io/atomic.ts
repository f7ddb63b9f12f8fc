// Atomic file writes: write a temp file beside the target, fsync it, rename over the target, fsync
// the folder. A killed process leaves either the old file or the new one, never a torn one.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* some filesystems refuse to fsync a folder; the rename is still atomic */ }
}

/**
 * Writes data (or the chunks a writer produces) to path atomically. On any failure (a full disk
 * included) the temp file is removed, the previous file at path is untouched, and the error rethrown.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | ((write: (chunk: Uint8Array) => void) => void)): void {
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'w');
  try {
    const write = (chunk: Uint8Array): void => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    };
    if (typeof data === 'string') write(Buffer.from(data, 'utf8'));
    else if (data instanceof Uint8Array) write(data);
    else data(write);
    fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw err;
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
