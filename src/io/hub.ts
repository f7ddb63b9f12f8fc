// Downloads a model folder from the Hugging Face Hub (or a mirror with the same URL layout):
//   model info: GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
//               → { sha, siblings: [{ rfilename, size, blobId, lfs?: { sha256, size } }] }
//   file:       GET {endpoint}/{repo}/resolve/{rev}/{path}   (may redirect to a CDN; Range is honoured)
// Only the files a model needs are fetched, into the Hugging Face cache (hub-cache.ts):
// blobs/ETAG, linked from snapshots/COMMIT/PATH, refs/REVISION → COMMIT. Each file goes to
// `blobs/ETAG.incomplete`, resumed with a Range request after an interruption (in the same run, or the
// next), verified by size and by sha256 (LFS files) or git blob sha1 (small files), hashed as the bytes
// stream in, then renamed into place. A blob present under its final name was verified before its
// rename, so reruns skip it; a file an earlier mugpt release pulled into its own cache is copied in and
// verified the same way instead of downloaded.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MugptError, check } from '../errors.js';
import { RepoCache, cachedModel, hubCacheDir, hubOffline, hubToken, isCommitHash, legacyCacheDir, offlineMiss, resolvedSize } from './hub-cache.js';

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
  /** Hugging Face cache root; default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Where an earlier mugpt release cached models (files there are reused); default $MUGPT_CACHE, else ~/.cache/mugpt/hub. */
  legacyCacheDir?: string;
  /** Bearer token; default $HF_TOKEN, else the token file of `huggingface-cli login`. */
  token?: string;
  /** Use the cache alone, never the network; default: whether HF_HUB_OFFLINE is set. */
  offline?: boolean;
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

interface HubContext {
  repo: string;
  revision: string;
  endpoint: string;
  headers: Record<string, string>;
  stallMs: number;
}

/** A planned file: its path in the repository, size and the hash the Hub recorded (if any). */
interface PlannedFile {
  name: string;
  size: number | undefined;
  /** The Hub's etag: the LFS sha256, else the git blob sha1 (its name in blobs/). */
  etag: string | undefined;
  hashKind: HashKind;
}

/** GET the model info; returns the commit (null when the listing has none) and the file list by name. */
async function fetchModelInfo(ctx: HubContext): Promise<{ commit: string | null; siblings: Map<string, Sibling> }> {
  const { repo, revision, endpoint } = ctx;
  const infoUrl = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  let res: Response;
  try {
    res = await fetch(infoUrl, { headers: ctx.headers, signal: AbortSignal.timeout(ctx.stallMs) });
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
  for (const sib of info.siblings as Sibling[]) if (sib && typeof sib.rfilename === 'string') siblings.set(sib.rfilename, sib);
  return { commit: typeof info.sha === 'string' && isCommitHash(info.sha) ? info.sha : null, siblings };
}

/** The files a model needs: config, weights (single, or the index whose shards come later), tokenizer and generation files. */
function planFiles(siblings: Map<string, Sibling>, repo: string, revision: string): string[] {
  check(siblings.has('config.json'), `${repo}@${revision} has no config.json: not a Hugging Face transformers model`);
  let weights: string;
  if (siblings.has('model.safetensors')) weights = 'model.safetensors';
  else if (siblings.has('model.safetensors.index.json')) weights = 'model.safetensors.index.json';
  else if (siblings.has('pytorch_model.bin') || siblings.has('pytorch_model.bin.index.json')) {
    throw new MugptError(`${repo}@${revision} has only pytorch_model.bin weights; mugpt reads safetensors. Look for a revision `
      + 'with model.safetensors (e.g. the "Adding `safetensors` variant" pull request, as @refs/pr/N)');
  } else {
    throw new MugptError(`${repo}@${revision} has no model.safetensors or model.safetensors.index.json`);
  }
  return ['config.json', ...OPTIONAL_FILES.filter((f) => siblings.has(f)), weights];
}

function describeFile(sib: Sibling, repo: string): PlannedFile {
  const name = sib.rfilename;
  check(!name.split('/').some((p) => p === '..' || p === '' || p === '.') && !name.startsWith('/'), `${repo}: unsafe file name "${name}" in the file list`);
  const size = sib.lfs?.size ?? sib.size;
  const sha256 = typeof sib.lfs?.sha256 === 'string' && /^[0-9a-f]{64}$/.test(sib.lfs.sha256) ? sib.lfs.sha256 : undefined;
  const blobId = !sib.lfs && size !== undefined && typeof sib.blobId === 'string' && isCommitHash(sib.blobId) ? sib.blobId : undefined;
  // Without a recorded hash, the blob is named by the sha256 of what arrives.
  return { name, size, etag: sha256 ?? blobId, hashKind: blobId ? 'git-sha1' : 'sha256' };
}

/**
 * Downloads the files a model needs from the Hub into the Hugging Face cache and returns the snapshot
 * folder, which `loadModel` / `mugpt generate --model` accept. Resumable and verified; see the file
 * comment. Offline (HF_HUB_OFFLINE or `offline`), or when the Hub cannot be reached, a model the cache
 * already holds at that revision is returned without a download.
 */
export async function pullModel(repoSpec: string, opts: PullOptions = {}): Promise<string> {
  const parsed = parseRepoSpec(repoSpec);
  const repo = parsed.repo;
  const revision = opts.revision ?? parsed.revision ?? 'main';
  check(revision.length > 0 && !revision.split('/').some((p) => p === '.' || p === '..' || p === ''), `revision "${revision}": not a valid branch, tag or commit`);
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  check(/^https?:\/\/[^/]/.test(endpoint), `--endpoint "${endpoint}": expected an http:// or https:// URL`);
  const root = opts.cacheDir ?? hubCacheDir();
  if (opts.offline ?? hubOffline()) {
    const folder = cachedModel(root, repo, revision);
    if (!folder) throw offlineMiss(root, repo, revision);
    return folder;
  }
  const token = opts.token ?? hubToken();
  const headers: Record<string, string> = { 'user-agent': 'mugpt' };
  if (token) headers.authorization = `Bearer ${token}`;
  const ctx: HubContext = { repo, revision, endpoint, headers, stallMs: opts.stallTimeoutMs ?? 60_000 };

  // 1. The file list at this revision, with sizes and hashes (or the cache, when the Hub is unreachable).
  let listing: Awaited<ReturnType<typeof fetchModelInfo>>;
  try {
    listing = await fetchModelInfo(ctx);
  } catch (err) {
    const cached = err instanceof MugptError && err.message.startsWith('network failure') ? cachedModel(root, repo, revision) : null;
    if (cached) return cached;
    throw err;
  }
  const { siblings } = listing;
  // Pin every download to the commit the listing describes, so a push during the pull cannot mix revisions.
  const commit = listing.commit ?? (isCommitHash(revision) ? revision : null);
  check(commit !== null, `model info of ${repo}@${revision} from ${endpoint} names no commit ("sha"): the cache files snapshots by commit`);
  const cache = new RepoCache(root, repo);

  // 2. Which files, then their byte total (the shards join once the index is in).
  const planned = planFiles(siblings, repo, revision);
  const sizeOf = (f: string): number => { const sib = siblings.get(f)!; return sib.lfs?.size ?? sib.size ?? 0; };
  const progress = { file: '', done: 0, total: planned.reduce((a, f) => a + sizeOf(f), 0), fetched: 0 };
  const report = (): void => opts.onProgress?.({ ...progress });
  report();
  const fetchOne = (name: string): Promise<string> => fetchFile(describeFile(siblings.get(name)!, repo), {
    ctx, cache, commit, repoSpec, progress, report, legacyRoot: opts.legacyCacheDir ?? legacyCacheDir(),
    maxAttempts: opts.maxAttempts ?? 5, retryDelayMs: opts.retryDelayMs ?? 1000,
  });

  // 3. The index first when sharded (it names the shards), then the rest.
  if (planned[planned.length - 1] === 'model.safetensors.index.json') {
    planned.pop();
    const shards = readShardNames(await fetchOne('model.safetensors.index.json'), siblings, repo, revision);
    progress.total += shards.reduce((a, f) => a + sizeOf(f), 0);
    planned.push(...shards);
  }
  for (const f of planned) await fetchOne(f);
  cache.writeRef(revision, commit);
  return cache.snapshot(commit);
}

/** The shard files a downloaded index names, each checked against the file list. */
function readShardNames(indexPath: string, siblings: Map<string, Sibling>, repo: string, revision: string): string[] {
  let map: unknown;
  try {
    map = (JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw new MugptError(`${indexPath}: not valid JSON: ${(err as Error).message}`);
  }
  check(map !== null && typeof map === 'object' && !Array.isArray(map), `${indexPath}: "weight_map" must be an object`);
  const shards = [...new Set(Object.values(map as Record<string, unknown>).map(String))];
  for (const s of shards) check(siblings.has(s), `${indexPath}: shard "${s}" is listed in weight_map but not in ${repo}@${revision}`);
  return shards;
}

interface FetchContext {
  ctx: HubContext;
  cache: RepoCache;
  commit: string;
  repoSpec: string;
  progress: PullProgress;
  report: () => void;
  legacyRoot: string;
  maxAttempts: number;
  retryDelayMs: number;
}

/**
 * Makes snapshots/COMMIT/NAME present: already there, or its blob is (another revision shares it),
 * or downloaded into blobs/ETAG.incomplete (seeded from an earlier mugpt cache), verified, renamed
 * and linked. Returns the snapshot path.
 */
async function fetchFile(file: PlannedFile, f: FetchContext): Promise<string> {
  const { ctx, cache, commit, progress } = f;
  const { name, size, etag } = file;
  progress.file = name;
  const dest = join(cache.snapshot(commit), name);
  const present = (p: string): boolean => { const n = resolvedSize(p); return n >= 0 && (size === undefined || n === size); };
  if (present(dest) || (etag !== undefined && present(cache.blob(etag)))) {
    if (!present(dest)) cache.link(commit, name, etag!);
    progress.done += size ?? 0;
    f.report();
    return dest;
  }
  mkdirSync(join(cache.dir, 'blobs'), { recursive: true });
  // Without a known etag the partial file is named for the commit and path until its hash is known.
  const part = cache.blob(`${etag ?? `unnamed-${commit}-${name.replace(/\//g, '--')}`}.incomplete`);
  const legacy = cache.legacyFile(f.legacyRoot, commit, name);
  if (legacy && resolvedSize(part) < 0 && size !== undefined && resolvedSize(legacy) === size) copyFileSync(legacy, part);

  const url = `${ctx.endpoint}/${ctx.repo}/resolve/${encodeURIComponent(commit)}/${encodePath(name)}`;
  const what = `${name} of ${ctx.repo}`;
  const startDone = progress.done;
  let pos = -1; // bytes of this file in its partial file (-1 until the first report: resumed bytes are not fetched ones)
  const onPos = (p: number): void => {
    if (pos >= 0 && p > pos) progress.fetched += p - pos;
    pos = p;
    progress.done = startDone + p;
    f.report();
  };
  let digest = '';
  for (let attempt = 1; ; attempt++) {
    try {
      digest = await downloadRange(ctx, url, part, size, what, onPos, () => startHash(file.hashKind, size ?? 0));
      break;
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      if (attempt >= f.maxAttempts) {
        throw new MugptError(`download of ${what} interrupted (${err.message}) after ${attempt} attempt${attempt > 1 ? 's' : ''}; `
          + `the partial file ${part} is kept: rerun \`mugpt pull ${f.repoSpec}\` to resume`);
      }
      await sleep(f.retryDelayMs * 2 ** (attempt - 1));
    }
  }

  // Verify, then move into place atomically and link it from the snapshot.
  const got = fileSize(part);
  const bad = (msg: string): never => {
    rmSync(part, { force: true });
    throw new MugptError(`${what}: ${msg}; the bad download was deleted, rerun \`mugpt pull ${f.repoSpec}\` to fetch it again`);
  };
  if (size !== undefined && got !== size) bad(`size mismatch: expected ${size} bytes, got ${got}`);
  if (etag !== undefined && digest !== etag) bad(`checksum mismatch: expected ${file.hashKind === 'sha256' ? 'sha256' : 'git blob sha1'} ${etag}, got ${digest}`);
  const blob = cache.blob(etag ?? digest);
  renameSync(part, blob);
  fsyncDir(dirname(blob));
  return cache.link(commit, name, etag ?? digest);
}

/**
 * Fetches the rest of `url` into `part` (resuming with Range from its current size), reporting the
 * part's size; returns the hex digest of the whole part (kept bytes re-read, new bytes hashed as they
 * stream in).
 */
async function downloadRange(ctx: HubContext, url: string, part: string, size: number | undefined, what: string,
  onPos: (pos: number) => void, newHash: () => Hash): Promise<string> {
  let have = Math.max(0, fileSize(part));
  if (size !== undefined && have > size) { rmSync(part, { force: true }); have = 0; }
  onPos(have);
  const hashKept = (): Hash => {
    const h = newHash();
    if (have > 0) hashPrefix(h, part, have);
    return h;
  };
  if (size !== undefined && have === size) return hashKept().digest('hex');
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(), ctx.stallMs);
  const poke = (): void => { clearTimeout(timer); timer = setTimeout(() => ac.abort(), ctx.stallMs); };
  let fd: number | null = null;
  try {
    let r: Response;
    try {
      // identity encoding: sizes, hashes and Range offsets all refer to the stored bytes.
      const h: Record<string, string> = { ...ctx.headers, 'accept-encoding': 'identity' };
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
          hash.update(chunk);
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
    return hash.digest('hex');
  } finally {
    clearTimeout(timer);
    if (fd !== null) closeSync(fd);
  }
}

/** A local model folder or .gguf file as it is; else a Hub id (OWNER/NAME[@REV]) pulled into, or found in, the cache. */
export async function resolveModelPath(idOrPath: string, opts: PullOptions = {}): Promise<string> {
  if (existsSync(idOrPath)) return idOrPath;
  let spec: ReturnType<typeof parseRepoSpec>;
  try {
    spec = parseRepoSpec(idOrPath);
  } catch {
    throw new MugptError(`${idOrPath}: no such file or folder, and not a Hub id (expected a model folder, a .gguf file or OWNER/NAME[@REVISION])`);
  }
  if (idOrPath.endsWith('.gguf') || !spec.repo.includes('/')) {
    throw new MugptError(`${idOrPath}: no such file or folder (a Hub id has the form OWNER/NAME[@REVISION])`);
  }
  return pullModel(idOrPath, opts);
}
