// Downloads a model folder from the Hugging Face Hub (or a mirror with the same URL layout):
//   model info: GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
//               → { sha, siblings: [{ rfilename, size, blobId, lfs?: { sha256, size } }] }
//   file:       GET {endpoint}/{repo}/resolve/{rev}/{path}   (may redirect to a CDN; Range is honoured)
// Only the files a model needs are fetched, into {cache}/{OWNER--NAME}/{commit}/. Each file goes to
// `<name>.part`, resumed with a Range request after an interruption (in the same run, or the next),
// verified by size and by sha256 (LFS files) or git blob sha1 (small files), hashed as the bytes stream in,
// then renamed into place.
// A file present under its final name was verified before its rename, so reruns skip it.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { MugptError, check } from '../errors.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface PullProgress {
  /** The file being downloaded. */
  file: string;
  /** Bytes of all planned files present so far (already cached ones included), and their total. */
  done: number;
  total: number;
  /** Bytes fetched over the network in this run (for a rate). */
  fetched: number;
}

export interface PullOptions {
  /** Branch, tag or commit; default "main" (or the `@rev` suffix of the repo argument). */
  revision?: string;
  /** Hub URL; default $HF_ENDPOINT, else the public Hub. */
  endpoint?: string;
  /** Cache root; default $MUGPT_CACHE, else ~/.cache/mugpt/hub. */
  cacheDir?: string;
  /** Bearer token; default $HF_TOKEN. */
  token?: string;
  onProgress?: (p: PullProgress) => void;
  /** Attempts per file before giving up (the .part file is kept for the next run). Default 5. */
  maxAttempts?: number;
  /** First retry delay in ms, doubled on each retry. Default 1000. */
  retryDelayMs?: number;
  /** Abort a request that receives nothing for this long. Default 60 s. */
  stallTimeoutMs?: number;
}

interface Sibling { rfilename: string; size?: number; blobId?: string; lfs?: { sha256?: string; size?: number } }

/** Optional files fetched when the repo has them. */
const OPTIONAL_FILES = ['generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt',
  'special_tokens_map.json', 'added_tokens.json', 'README.md'];

const REPO_RE = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

/** Splits `OWNER/NAME[@revision]`. */
export function parseRepoSpec(spec: string): { repo: string; revision?: string } {
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const revision = at < 0 ? undefined : spec.slice(at + 1);
  check(REPO_RE.test(repo) && !repo.includes('..'), `repository "${spec}": expected OWNER/NAME or OWNER/NAME@REVISION`);
  check(revision === undefined || (revision.length > 0 && !revision.includes('..')), `repository "${spec}": empty or invalid revision after "@"`);
  return { repo, revision };
}

/** A failure worth retrying (connection reset, stall, 5xx); anything else is thrown as is. */
class TransientError extends Error {}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return 'no data received before the timeout';
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? e);
}

/** The error for a non-success HTTP status, using the Hub's X-Error-Code when present. */
function statusError(res: Response, what: string, ctx: { repo: string; revision: string; endpoint: string }): MugptError {
  const code = res.headers.get('x-error-code') ?? '';
  const where = `${ctx.repo}@${ctx.revision} at ${ctx.endpoint}`;
  if (code === 'GatedRepo' || ((res.status === 401 || res.status === 403) && code !== 'RepoNotFound')) {
    return new MugptError(`${what}: access denied (HTTP ${res.status}) for ${where}: the model is gated or private; `
      + 'accept its terms on the model page and set HF_TOKEN (or pass --token)');
  }
  if (code === 'RevisionNotFound') return new MugptError(`${what}: revision "${ctx.revision}" not found in ${ctx.repo} at ${ctx.endpoint}`);
  if (code === 'EntryNotFound') return new MugptError(`${what}: not found in ${where}`);
  if (res.status === 404 || code === 'RepoNotFound') {
    return new MugptError(`${what}: repository or revision not found: ${where} (HTTP ${res.status}; check the name, or set HF_TOKEN for a private repo)`);
  }
  return new MugptError(`${what}: HTTP ${res.status} ${res.statusText} from ${where}`);
}

function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}

type HashKind = 'sha256' | 'git-sha1';

/** A hash as the Hub records it: sha256 of the content (LFS), or git's blob sha1 (header "blob SIZE\0"). */
function startHash(kind: HashKind, size: number): Hash {
  const h = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') h.update(`blob ${size}\0`);
  return h;
}

/** Feeds the first `length` bytes of a file (the part kept from an earlier attempt) into a hash. */
function hashPrefix(h: Hash, path: string, length: number): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (let off = 0; off < length;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - off), off);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      off += n;
    }
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try { const fd = openSync(dir, 'r'); try { fsyncSync(fd); } finally { closeSync(fd); } } catch { /* not supported: rename stays atomic */ }
}

function fileSize(path: string): number {
  try { return statSync(path).size; } catch { return -1; }
}

/**
 * Downloads the files a model needs from the Hub into the local cache and returns the folder path,
 * which `loadModel` / `mugpt generate --model` accept. Resumable and verified; see the file comment.
 */
export async function pullModel(repoSpec: string, opts: PullOptions = {}): Promise<string> {
  const parsed = parseRepoSpec(repoSpec);
  const repo = parsed.repo;
  const revision = opts.revision ?? parsed.revision ?? 'main';
  check(revision.length > 0 && !revision.split('/').some((p) => p === '.' || p === '..'), `revision "${revision}": not a valid branch, tag or commit`);
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  check(/^https?:\/\/[^/]/.test(endpoint), `--endpoint "${endpoint}": expected an http:// or https:// URL`);
  const token = opts.token ?? process.env.HF_TOKEN;
  const cacheRoot = opts.cacheDir ?? process.env.MUGPT_CACHE ?? join(homedir(), '.cache', 'mugpt', 'hub');
  const maxAttempts = opts.maxAttempts ?? 5;
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const stallMs = opts.stallTimeoutMs ?? 60_000;
  const ctx = { repo, revision, endpoint };
  const headers: Record<string, string> = { 'user-agent': 'mugpt' };
  if (token) headers.authorization = `Bearer ${token}`;

  // 1. The file list at this revision, with sizes and hashes.
  const infoUrl = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let res: Response;
  try {
    res = await fetch(infoUrl, { headers, signal: AbortSignal.timeout(stallMs) });
  } catch (err) {
    throw new MugptError(`network failure reaching ${endpoint} for ${repo}@${revision}: ${describeFetchError(err)}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw statusError(res, `model info of ${repo}`, ctx);
  }
  let info: { sha?: unknown; siblings?: unknown };
  try {
    info = await res.json() as typeof info;
  } catch (err) {
    throw new MugptError(`model info of ${repo}@${revision} from ${endpoint} is not valid JSON: ${describeFetchError(err)}`);
  }
  check(info && Array.isArray(info.siblings), `model info of ${repo}@${revision} from ${endpoint} has no "siblings" file list`);
  const siblings = new Map<string, Sibling>();
  for (const s of info.siblings as Sibling[]) if (s && typeof s.rfilename === 'string') siblings.set(s.rfilename, s);
  // Pin every download to the commit the listing describes, so a push during the pull cannot mix revisions.
  const commit = typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : null;
  const pinned = commit ?? revision;
  const folder = join(cacheRoot, repo.replace('/', '--'), commit ?? revision.replace(/[^\w.-]/g, '_'));

  // 2. Which files: config, weights (single or index + shards), tokenizer and generation files.
  check(siblings.has('config.json'), `${repo}@${revision} has no config.json: not a Hugging Face transformers model`);
  let weights: string[];
  if (siblings.has('model.safetensors')) weights = ['model.safetensors'];
  else if (siblings.has('model.safetensors.index.json')) weights = ['model.safetensors.index.json'];
  else if (siblings.has('pytorch_model.bin') || siblings.has('pytorch_model.bin.index.json')) {
    throw new MugptError(`${repo}@${revision} has only pytorch_model.bin weights; mugpt reads safetensors. Look for a revision `
      + 'with model.safetensors (e.g. the "Adding `safetensors` variant" pull request, as @refs/pr/N)');
  } else {
    throw new MugptError(`${repo}@${revision} has no model.safetensors or model.safetensors.index.json`);
  }
  const planned = ['config.json', ...OPTIONAL_FILES.filter((f) => siblings.has(f)), ...weights];
  mkdirSync(folder, { recursive: true });

  let fetched = 0;
  let done = 0;
  let total = 0;
  let current = '';
  const report = (): void => opts.onProgress?.({ file: current, done, total, fetched });

  const fetchFile = async (name: string): Promise<string> => {
    const sib = siblings.get(name)!;
    check(!name.split('/').some((p) => p === '..' || p === '') && !name.startsWith('/'), `${repo}: unsafe file name "${name}" in the file list`);
    const dest = join(folder, name);
    const part = `${dest}.part`;
    const size = sib.lfs?.size ?? sib.size;
    const sha256 = sib.lfs?.sha256;
    const blobId = !sib.lfs && size !== undefined && typeof sib.blobId === 'string' && /^[0-9a-f]{40}$/.test(sib.blobId) ? sib.blobId : undefined;
    const hashKind: HashKind | null = sha256 ? 'sha256' : blobId ? 'git-sha1' : null;
    current = name;
    if (existsSync(dest) && (size === undefined || fileSize(dest) === size)) {
      done += size ?? 0;
      report();
      return dest;
    }
    mkdirSync(dirname(dest), { recursive: true });
    const url = `${endpoint}/${repo}/resolve/${encodeURIComponent(pinned)}/${encodePath(name)}`;
    const what = `${name} of ${repo}`;
    const startDone = done;
    let pos = -1; // bytes of this file in its .part file (-1 until the first report: resumed bytes are not fetched ones)
    const onPos = (p: number): void => {
      if (pos >= 0 && p > pos) fetched += p - pos;
      pos = p;
      done = startDone + p;
      report();
    };

    let digest: string | null = null;
    for (let attempt = 1; ; attempt++) {
      try {
        digest = await downloadRange(url, part, size, what, onPos, hashKind && (() => startHash(hashKind, size ?? 0)));
        break;
      } catch (err) {
        if (!(err instanceof TransientError)) throw err;
        if (attempt >= maxAttempts) {
          throw new MugptError(`download of ${what} interrupted (${err.message}) after ${attempt} attempt${attempt > 1 ? 's' : ''}; `
            + `the partial file ${part} is kept: rerun \`mugpt pull ${repoSpec}\` to resume`);
        }
        await sleep(retryDelayMs * 2 ** (attempt - 1));
      }
    }

    // Verify, then move into place atomically.
    const got = fileSize(part);
    const bad = (msg: string): never => {
      rmSync(part, { force: true });
      throw new MugptError(`${what}: ${msg}; the bad download was deleted, rerun \`mugpt pull ${repoSpec}\` to fetch it again`);
    };
    if (size !== undefined && got !== size) bad(`size mismatch: expected ${size} bytes, got ${got}`);
    if (sha256 && digest !== sha256) bad(`checksum mismatch: expected sha256 ${sha256}, got ${digest}`);
    if (blobId && digest !== blobId) bad(`checksum mismatch: expected git blob sha1 ${blobId}, got ${digest}`);
    renameSync(part, dest);
    fsyncDir(dirname(dest));
    return dest;
  };

  /**
   * Fetches the rest of `url` into `part` (resuming with Range from its current size), reporting the
   * part's size; returns the hex digest of the whole part (kept bytes re-read, new bytes hashed as they
   * stream in) when `newHash` is given, else null.
   */
  const downloadRange = async (url: string, part: string, size: number | undefined, what: string,
    onPos: (pos: number) => void, newHash: (() => Hash) | null): Promise<string | null> => {
    let have = Math.max(0, fileSize(part));
    if (size !== undefined && have > size) { rmSync(part, { force: true }); have = 0; }
    onPos(have);
    const hashKept = (): Hash | null => {
      const h = newHash?.() ?? null;
      if (h && have > 0) hashPrefix(h, part, have);
      return h;
    };
    if (size !== undefined && have === size) return hashKept()?.digest('hex') ?? null;
    const ac = new AbortController();
    let timer = setTimeout(() => ac.abort(), stallMs);
    const poke = (): void => { clearTimeout(timer); timer = setTimeout(() => ac.abort(), stallMs); };
    let fd: number | null = null;
    try {
      let r: Response;
      try {
        // identity encoding: sizes, hashes and Range offsets all refer to the stored bytes.
        const h: Record<string, string> = { ...headers, 'accept-encoding': 'identity' };
        if (have > 0) h.range = `bytes=${have}-`;
        r = await fetch(url, { headers: h, signal: ac.signal });
      } catch (err) {
        throw new TransientError(`network failure: ${describeFetchError(err)}`);
      }
      if (!r.ok) await r.body?.cancel().catch(() => undefined); // release the connection before throwing
      if (r.status === 416) { rmSync(part, { force: true }); throw new TransientError('server rejected the resume range (HTTP 416); restarting the file'); }
      if (r.status >= 500 || r.status === 429) throw new TransientError(`HTTP ${r.status} ${r.statusText}`);
      if (!r.ok) throw statusError(r, what, ctx);
      if (r.status === 206) {
        const cr = r.headers.get('content-range') ?? '';
        if (!cr.startsWith(`bytes ${have}-`)) { rmSync(part, { force: true }); throw new TransientError(`unexpected Content-Range "${cr}" for a resume from byte ${have}`); }
      } else if (have > 0) {
        have = 0; // the server ignored Range and sends the whole file: start over
      }
      fd = openSync(part, have > 0 ? 'a' : 'w');
      const hash = hashKept();
      let pos = have;
      onPos(pos);
      if (r.body) {
        try {
          for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
            poke();
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
            hash?.update(chunk);
            pos += chunk.length;
            onPos(pos);
          }
        } catch (err) {
          fsyncSync(fd);
          throw new TransientError(`connection lost: ${describeFetchError(err)}`);
        }
      }
      fsyncSync(fd);
      const got = fileSize(part);
      if (size !== undefined && got < size) throw new TransientError(`connection closed after ${got} of ${size} bytes`);
      return hash?.digest('hex') ?? null;
    } finally {
      clearTimeout(timer);
      if (fd !== null) closeSync(fd);
    }
  };

  // 3. Plan the byte total, fetch the index first when sharded (it names the shards), then the rest.
  const sizeOf = (f: string): number => { const s = siblings.get(f)!; return s.lfs?.size ?? s.size ?? 0; };
  total = planned.reduce((a, f) => a + sizeOf(f), 0);
  report();
  if (weights[0] === 'model.safetensors.index.json') {
    const indexPath = await fetchFile('model.safetensors.index.json');
    let map: unknown;
    try {
      map = (JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown }).weight_map;
    } catch (err) {
      throw new MugptError(`${indexPath}: not valid JSON: ${(err as Error).message}`);
    }
    check(map !== null && typeof map === 'object' && !Array.isArray(map), `${indexPath}: "weight_map" must be an object`);
    const shards = [...new Set(Object.values(map as Record<string, unknown>).map(String))];
    for (const s of shards) check(siblings.has(s), `${indexPath}: shard "${s}" is listed in weight_map but not in ${repo}@${revision}`);
    total += shards.reduce((a, f) => a + sizeOf(f), 0);
    planned.splice(planned.indexOf('model.safetensors.index.json'), 1, ...shards);
  }
  for (const f of planned) await fetchFile(f);
  return folder;
}

/**
 * The cache folder of a model pulled before (`OWNER/NAME[@revision]`): that revision's folder, or
 * without one the most recently pulled complete folder (config.json and weights present); null when
 * the cache holds none.
 */
export function cachedModel(repoSpec: string, cacheDir?: string): string | null {
  const { repo, revision } = parseRepoSpec(repoSpec);
  const root = join(cacheDir ?? process.env.MUGPT_CACHE ?? join(homedir(), '.cache', 'mugpt', 'hub'), repo.replace('/', '--'));
  if (!existsSync(root)) return null;
  const complete = (d: string): boolean => existsSync(join(d, 'config.json'))
    && (existsSync(join(d, 'model.safetensors')) || existsSync(join(d, 'model.safetensors.index.json')));
  if (revision !== undefined) {
    const d = join(root, revision.replace(/[^\w.-]/g, '_'));
    return complete(d) ? d : null;
  }
  const found = readdirSync(root).map((n) => join(root, n)).filter(complete)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return found[0] ?? null;
}
