// Crash test of `mugpt pull` (docs/reliability.md): the CLI is killed with SIGKILL at random points of
// a download that a local server (the Hub's URL layout) streams slowly. Whatever the cache layout, a
// file under a name the repository uses (or its content hash) must be complete; partial downloads are
// kept only under temporary names, are resumed by the next run, and are gone when the pull completes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeCheckpoint } from '../src/io/hf.js';
import { Rng } from '../src/rng.js';
import { cliPath, scratch } from './helpers.js';

const COMMIT = 'aaaabbbbccccddddeeeeffff0000111122223333';
const src = scratch();
writeCheckpoint(src, [{ name: 'transformer.wte.weight', shape: [1024, 1024], data: Float32Array.from({ length: 1 << 20 }, (_, i) => Math.sin(i)) }]);
const files = new Map<string, Buffer>([
  ['config.json', Buffer.from('{"model_type": "gpt2", "n_embd": 1024, "vocab_size": 1024}\n')],
  ['model.safetensors', readFileSync(join(src, 'model.safetensors'))],
]);
const isLfs = (f: string): boolean => f.endsWith('.safetensors');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const etag = (name: string, b: Buffer): string => (isLfs(name) ? sha256(b) : gitSha1(b));
const siblings = [...files].map(([rfilename, b]) => isLfs(rfilename)
  ? { rfilename, size: b.length, blobId: gitSha1(Buffer.from(`pointer ${rfilename}`)), lfs: { sha256: sha256(b), size: b.length, pointerSize: 134 } }
  : { rfilename, size: b.length, blobId: gitSha1(b) });

/** Streams a file (from a Range start) in 64 KiB pieces 4 ms apart: at least 0.3 s for the 4 MiB model. */
function serve(res: ServerResponse, name: string, range: string | undefined): void {
  const body = files.get(name)!;
  const m = range && /^bytes=(\d+)-$/.exec(range);
  const start = m ? Number(m[1]) : 0;
  if (start >= body.length && body.length > 0) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end(); return; }
  res.writeHead(m ? 206 : 200, { 'content-length': body.length - start, etag: `"${etag(name, body)}"`,
    ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
  let pos = start;
  const next = (): void => {
    if (res.destroyed) return;
    if (pos >= body.length) { res.end(); return; }
    const piece = body.subarray(pos, pos + (1 << 16));
    pos += piece.length;
    res.write(piece, () => setTimeout(next, 4));
  };
  next();
}

const server = createServer((req, res) => {
  const url = new URL(req.url!, 'http://x');
  if (/^\/api\/models\/acme\/big\/revision\/[^/]+$/.test(url.pathname)) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'acme/big', sha: COMMIT, siblings }));
    return;
  }
  const resolve = /^\/acme\/big\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
  const name = resolve ? decodeURIComponent(resolve[2]) : '';
  if (resolve && files.has(name)) {
    const b = files.get(name)!;
    const head = { 'x-repo-commit': COMMIT, ...(isLfs(name) ? { 'x-linked-etag': `"${sha256(b)}"`, 'x-linked-size': String(b.length) } : { etag: `"${gitSha1(b)}"` }) };
    if (isLfs(name)) { res.writeHead(302, { ...head, location: `/cdn/${encodeURIComponent(name)}` }).end(); return; }
    if (req.method === 'HEAD') { res.writeHead(200, { ...head, 'content-length': b.length }).end(); return; }
    serve(res, name, req.headers.range);
    return;
  }
  const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
  if (cdn && files.has(decodeURIComponent(cdn[1]))) {
    const n = decodeURIComponent(cdn[1]);
    if (req.method === 'HEAD') { res.writeHead(200, { 'content-length': files.get(n)!.length, etag: `"${sha256(files.get(n)!)}"` }).end(); return; }
    serve(res, n, req.headers.range);
    return;
  }
  res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => { server.closeAllConnections(); server.close(); });

/** Every regular file under dir (symlinks followed), with its path. */
function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    let st;
    try { st = statSync(p); } catch { continue; } // a dangling link
    if (st.isDirectory()) walk(p, out); else out.push(p);
  }
  return out;
}

/** Files under a name the repository uses, or named by a file's hash: these must be complete. */
function checkComplete(cache: string, when: string): void {
  const byName = new Map<string, Buffer>();
  for (const [n, b] of files) { byName.set(n, b); byName.set(etag(n, b), b); byName.set(sha256(b), b); }
  for (const p of walk(cache)) {
    const want = byName.get(p.split('/').pop()!);
    if (want) assert.ok(readFileSync(p).equals(want), `${when}: ${p} is not the complete file`);
  }
}

const partials = (cache: string): string[] => walk(cache).filter((p) => /\.(part|incomplete|partial)$|\.tmp-/.test(p));

/** Bytes in the cache's partial files (whatever their layout names them). */
const partialBytes = (cache: string): number => partials(cache).reduce((n, p) => n + statSync(p).size, 0);

/** Runs `mugpt pull`; SIGKILLs it once its partial files hold at least killAtBytes. */
function pull(cache: string, killAtBytes?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, 'pull', 'acme/big', '--endpoint', endpoint, '--cache-dir', cache], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const poll = killAtBytes === undefined ? null : setInterval(() => { try { if (partialBytes(cache) >= killAtBytes) child.kill('SIGKILL'); } catch { /* renamed meanwhile */ } }, 2);
  return new Promise((resolve) => child.on('close', (code, signal) => { if (poll) clearInterval(poll); resolve({ code, signal, stdout, stderr }); }));
}

test('mugpt pull killed with SIGKILL at random points of the download: no partial file under a final name, the next run resumes and completes', async () => {
  const cache = scratch();
  const rng = new Rng(17);
  const size = files.get('model.safetensors')!.length;
  // three kill points at increasing amounts of the model downloaded (a point of the download, not a
  // time, so it holds however loaded the machine is); each run resumes what the last one left
  const points = [0.25, 0.5, 0.75].map((f) => Math.round(size * (f + (rng.nextFloat() - 0.5) * 0.2)));
  let kills = 0;
  for (const [i, at] of points.entries()) {
    const r = await pull(cache, at);
    checkComplete(cache, `after run ${i}`);
    if (r.signal === 'SIGKILL') kills++;
    else assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(kills >= 2, `only ${kills} pulls were killed`);
  const done = await pull(cache);
  assert.equal(done.code, 0, done.stderr);
  const folder = done.stdout.trim().split('\n').pop()!;
  for (const [name, bytes] of files) assert.ok(readFileSync(join(folder, name)).equals(bytes), `${name} in ${folder}`);
  checkComplete(cache, 'at the end');
  assert.deepEqual(partials(cache), []);
});
