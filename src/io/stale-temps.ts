// Temp files of killed writers. writeFileAtomic writes `.NAME.tmp-PID-N` beside NAME and renames it
// over NAME; a process killed before the rename leaves its temp file behind. The next write into the
// same folder removes those whose process is gone (once a folder per process, so a folder of many
// shards is listed once, not once a shard).
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const scanned = new Set<string>();

/** Whether a process of this id is running (EPERM: it runs under another user). */
function isRunning(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Removes the temp files in dir left by writers that are no longer running. */
export function removeStaleTemps(dir: string): void {
  if (scanned.has(dir)) return;
  scanned.add(dir);
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return; }
  for (const e of entries) {
    const m = /^\..+\.tmp-(\d+)-\d+$/.exec(e);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !isRunning(pid)) rmSync(join(dir, e), { force: true });
  }
}
