// The Hugging Face Hub cache on disk, in the layout huggingface_hub (and transformers, llama.cpp, the
// Rust hf-hub …) share, described at https://huggingface.co/docs/hub/local-cache:
//
//   $HF_HUB_CACHE (else $HF_HOME/hub, else ~/.cache/huggingface/hub)
//   └─ models--OWNER--NAME/
//      ├─ blobs/ETAG                 file contents, named by the Hub's etag: the sha256 of an LFS file,
//      │                             the git blob sha1 of a small one; ETAG.incomplete while downloading
//      ├─ snapshots/COMMIT/PATH      a relative symlink to ../../blobs/ETAG per file of that commit
//      └─ refs/REVISION              the commit a branch or tag pointed to when last resolved
//
// A model that Python downloaded is found here, and one mugpt pulled loads in Python. Files mugpt's
// earlier releases pulled into their own cache ($MUGPT_CACHE, else ~/.cache/mugpt/hub, as
// OWNER--NAME/COMMIT/PATH) are reused by the next pull instead of downloaded again.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { MugptError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

/** The cache root: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  const home = process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/** The cache folder of mugpt releases before the Hugging Face layout: $MUGPT_CACHE, else ~/.cache/mugpt/hub. */
export function legacyCacheDir(): string {
  return process.env.MUGPT_CACHE ?? join(homedir(), '.cache', 'mugpt', 'hub');
}

/** The access token: $HF_TOKEN, else the file `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token). */
export function hubToken(): string | undefined {
  if (process.env.HF_TOKEN) return process.env.HF_TOKEN;
  const home = process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  try {
    return readFileSync(process.env.HF_TOKEN_PATH ?? join(home, 'token'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** HF_HUB_OFFLINE set to 1/true/yes/on (huggingface_hub's reading): no network, the cache alone. */
export function hubOffline(): boolean {
  return /^(1|true|yes|on)$/i.test(process.env.HF_HUB_OFFLINE ?? '');
}

export const isCommitHash = (rev: string): boolean => /^[0-9a-f]{40}$/.test(rev);

/** One repository's folders in a cache root. */
export class RepoCache {
  readonly dir: string;

  constructor(readonly root: string, readonly repo: string) {
    this.dir = join(root, `models--${repo.split('/').join('--')}`);
  }

  blob(etag: string): string { return join(this.dir, 'blobs', etag); }
  snapshot(commit: string): string { return join(this.dir, 'snapshots', commit); }

  /** The commit a revision names: itself when it is a hash, else what refs/REVISION recorded (null when none). */
  commitOf(revision: string): string | null {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = readFileSync(join(this.dir, 'refs', revision), 'utf8').trim();
      return isCommitHash(commit) ? commit : null;
    } catch {
      return null;
    }
  }

  /** Records that revision (a branch or tag) points at commit. */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const path = join(this.dir, 'refs', revision);
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, commit);
  }

  /**
   * Points snapshots/COMMIT/PATH at blobs/ETAG: a relative symlink as huggingface_hub makes, or a
   * copy where the file system refuses symlinks.
   */
  link(commit: string, path: string, etag: string): string {
    const dest = join(this.snapshot(commit), path);
    mkdirSync(dirname(dest), { recursive: true });
    if (pathExists(dest)) rmSync(dest, { force: true });
    try {
      symlinkSync(relative(dirname(dest), this.blob(etag)), dest);
    } catch {
      copyFileSync(this.blob(etag), dest);
    }
    return dest;
  }

  /** The file of an earlier mugpt release's cache for this commit and path, if it is there. */
  legacyFile(legacyRoot: string, commit: string, path: string): string | null {
    const f = join(legacyRoot, this.repo.replace('/', '--'), commit, path);
    return existsSync(f) ? f : null;
  }
}

/** Whether a path exists as an entry, a dangling symlink included. */
function pathExists(p: string): boolean {
  try { lstatSync(p); return true; } catch { return false; }
}

/** The size of the file a snapshot entry resolves to, or -1 (missing, or a link to a missing blob). */
export function resolvedSize(p: string): number {
  try { return statSync(p).size; } catch { return -1; }
}

/** The weight files a snapshot folder needs: model.safetensors, or an index and the shards it names. */
function weightsPresent(folder: string): boolean {
  if (resolvedSize(join(folder, 'model.safetensors')) >= 0) return true;
  const index = join(folder, 'model.safetensors.index.json');
  if (resolvedSize(index) < 0) return false;
  try {
    const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
    return Object.values(map).every((f) => resolvedSize(join(folder, String(f))) >= 0);
  } catch {
    return false;
  }
}

/**
 * The snapshot folder of repo at revision when the cache holds a loadable model there (config.json
 * and all weights), else null. No network.
 */
export function cachedModel(root: string, repo: string, revision: string): string | null {
  const cache = new RepoCache(root, repo);
  const commit = cache.commitOf(revision);
  if (!commit) return null;
  const folder = cache.snapshot(commit);
  return resolvedSize(join(folder, 'config.json')) >= 0 && weightsPresent(folder) ? folder : null;
}

/** The error for a model that HF_HUB_OFFLINE keeps from being downloaded. */
export function offlineMiss(root: string, repo: string, revision: string): MugptError {
  return new MugptError(`${repo}@${revision} is not in the Hugging Face cache ${root} and HF_HUB_OFFLINE is set: `
    + `run \`mugpt pull ${repo}${revision === 'main' ? '' : `@${revision}`}\` with network access first (or unset HF_HUB_OFFLINE)`);
}
