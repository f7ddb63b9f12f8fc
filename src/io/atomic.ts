// Atomic file writes: write a temp file beside the target, fsync it, rename over the target, fsync
// the folder. A killed process leaves either the old file or the new one, never a torn one, and its
// temp file is removed by the next write into that folder (stale-temps.ts); a failed write (missing
// folder, a folder at the target, a full disk, no permission) removes its temp file and throws a
// MugptError naming the path and the reason.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MugptError, fsReason, isFsError } from '../errors.js';
import { removeStaleTemps } from './stale-temps.js';

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

/** Why path cannot be written, checked before any byte is: a folder there, or no folder to hold it. */
function checkWritable(path: string): void {
  let st;
  try { st = statSync(path); } catch { st = null; }
  if (st?.isDirectory()) throw new MugptError(`${path}: cannot write the file: a folder has that name (give a file path)`);
  const dir = dirname(path);
  if (!existsSync(dir)) throw new MugptError(`${path}: cannot write the file: the folder ${dir} does not exist`);
}

/** A file-system failure as a one-line MugptError naming the path; other errors pass unchanged. */
function writeError(path: string, err: unknown): unknown {
  return isFsError(err) ? new MugptError(`${path}: cannot write the file: ${fsReason(err)}`) : err;
}

/**
 * Writes data (or the chunks a writer produces) to path atomically. On any failure (a full disk
 * included) the temp file is removed, the previous file at path is untouched, and the error rethrown
 * (file-system errors as a MugptError naming path). durable: false skips the two fsyncs, for a file
 * that checks its own contents when read (a cache): the rename stays atomic for running processes, but
 * after a power loss the file may hold zeros or old blocks, which its reader must detect.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | ((write: (chunk: Uint8Array) => void) => void),
  { durable = true }: { durable?: boolean } = {}): void {
  checkWritable(path);
  removeStaleTemps(dirname(path));
  const tmp = tempPath(path);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw writeError(path, err);
  }
  let closed = false;
  try {
    // Only the writer's own file operations become "cannot write" errors; the data callback's pass as they are.
    const io = <T>(op: () => T): T => {
      try { return op(); } catch (err) { throw writeError(path, err); }
    };
    const write = (chunk: Uint8Array): void => {
      let off = 0;
      while (off < chunk.length) off += io(() => writeSync(fd, chunk, off, chunk.length - off));
    };
    if (typeof data === 'string') write(Buffer.from(data, 'utf8'));
    else if (data instanceof Uint8Array) write(data);
    else data(write);
    if (durable) io(() => fsyncSync(fd));
    closed = true;
    io(() => closeSync(fd));
    io(() => renameSync(tmp, path));
  } catch (err) {
    if (!closed) try { closeSync(fd); } catch { /* the error being reported matters more */ }
    rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) fsyncDir(dirname(path));
}
