// `pullModel` / `mugpt pull` against a local server on 127.0.0.1 that serves the Hub's URL layout
// for a tiny fake repository: model info with blobs, resolve URLs (LFS files redirect to a "CDN" path),
// Range requests, and injected faults (cut connections, stalls, corrupt bytes, 404, gated).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MugptError } from '../src/errors.js';
import { openCheckpoint, writeCheckpoint } from '../src/io/hf.js';
import { pullModel, type PullProgress } from '../src/io/hub.js';
import { cliPath, scratch } from './helpers.js';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';

// The fake repository: a sharded checkpoint (LFS files) plus small git files.
const src = scratch('mugpt-hub-src-');
const tensors = [
  { name: 'transformer.wte.weight', shape: [64, 16], data: Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i)) },
  { name: 'transformer.wpe.weight', shape: [32, 16], data: Float32Array.from({ length: 512 }, (_, i) => Math.cos(i)) },
  { name: 'transformer.ln_f.weight', shape: [16], data: new Float32Array(16).fill(1) },
];
writeCheckpoint(src, tensors, { maxShardBytes: 4096 });
const shardNames = readdirSync(src).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f)).sort();
const files = new Map<string, Buffer>([
  ['config.json', Buffer.from('{"model_type": "gpt2", "n_embd": 16}\n')],
  ['tokenizer.json', Buffer.from('{"model": {"type": "BPE"}}\n')],
  ['model.safetensors.index.json', readFileSync(join(src, 'model.safetensors.index.json'))],
  ['pytorch_model.bin', Buffer.from('not wanted')],
  ['flax_model.msgpack', Buffer.from('not wanted either')],
  ...shardNames.map((s): [string, Buffer] => [s, readFileSync(join(src, s))]),
]);
const isLfs = (f: string): boolean => f.endsWith('.safetensors') || f.endsWith('.bin') || f.endsWith('.msgpack');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const siblings = [...files].map(([rfilename, b]) => isLfs(rfilename)
  ? { rfilename, size: b.length, blobId: gitSha1(Buffer.from(`pointer ${rfilename}`)), lfs: { sha256: sha256(b), size: b.length, pointerSize: 134 } }
  : { rfilename, size: b.length, blobId: gitSha1(b) });

// Fault injection, reset by each test.
const faults = { cut: new Set<string>(), stall: new Set<string>(), corrupt: new Set<string>() };
const log: Array<{ path: string; range?: string; auth?: string; enc?: string }> = [];

function serve(res: import('node:http').ServerResponse, name: string, range: string | undefined): void {
  let body = files.get(name)!;
  if (faults.corrupt.has(name)) { body = Buffer.from(body); body[body.length - 1] ^= 0xff; }
  let start = 0;
  const m = range && /^bytes=(\d+)-$/.exec(range);
  if (m) {
    start = Number(m[1]);
    if (start >= body.length) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end(); return; }
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
  } else {
    res.writeHead(200, { 'content-length': body.length });
  }
  const rest = body.subarray(start);
  if (faults.cut.delete(name)) { res.write(rest.subarray(0, rest.length >> 1), () => res.socket?.destroy()); return; }
  if (faults.stall.delete(name)) { res.write(rest.subarray(0, 10)); return; } // then nothing: the client must time out
  res.end(rest);
}

const server: Server = createServer((req, res) => {
  const url = new URL(req.url!, 'http://x');
  log.push({ path: url.pathname, range: req.headers.range, auth: req.headers.authorization, enc: req.headers['accept-encoding'] });
  const info = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
  if (info) {
    if (info[1] === 'acme/gated') { res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end('gated'); return; }
    if (info[1] === 'acme/ptonly' || info[1] === 'acme/noconfig') {
      const names = info[1] === 'acme/ptonly' ? ['config.json', 'pytorch_model.bin'] : ['model.safetensors'];
      res.writeHead(200).end(JSON.stringify({ sha: COMMIT, siblings: names.map((rfilename) => ({ rfilename, size: 3 })) }));
      return;
    }
    if (info[1] === 'acme/tiny' && info[2] === 'nope') { res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end(); return; }
    if (info[1] !== 'acme/tiny') { res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end('{"error":"Repository not found"}'); return; }
    assert.equal(url.searchParams.get('blobs'), 'true');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'acme/tiny', sha: COMMIT, siblings }));
    return;
  }
  const resolve = /^\/acme\/tiny\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
  if (resolve && resolve[1] === COMMIT && files.has(decodeURIComponent(resolve[2]))) {
    const name = decodeURIComponent(resolve[2]);
    if (isLfs(name)) { res.writeHead(302, { location: `/cdn/${encodeURIComponent(name)}` }).end(); return; }
    serve(res, name, req.headers.range);
    return;
  }
  const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
  if (cdn && files.has(decodeURIComponent(cdn[1]))) { serve(res, decodeURIComponent(cdn[1]), req.headers.range); return; }
  res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => { server.closeAllConnections(); server.close(); });

function reset(): void {
  faults.cut.clear(); faults.stall.clear(); faults.corrupt.clear();
  log.length = 0;
}

const fast = { endpoint, retryDelayMs: 10, stallTimeoutMs: 2000 };

async function rejectsMugpt(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('pull downloads exactly the files a model needs, verified, into cache/OWNER--NAME/COMMIT', async () => {
  reset();
  const cacheDir = scratch();
  const reports: PullProgress[] = [];
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir, onProgress: (p) => reports.push(p) });
  assert.equal(folder, join(cacheDir, 'acme--tiny', COMMIT));
  assert.deepEqual(readdirSync(folder).sort(), ['config.json', 'model.safetensors.index.json', ...shardNames, 'tokenizer.json'].sort());
  for (const f of readdirSync(folder)) assert.deepEqual(readFileSync(join(folder, f)), files.get(f), f);
  assert.ok(shardNames.length >= 2);
  // The model loads from the pulled folder.
  const r = openCheckpoint(folder);
  for (const t of tensors) assert.deepEqual(r.read(t.name), t.data);
  r.close();
  // Progress ends at the full byte total of the planned files.
  const last = reports[reports.length - 1];
  const total = ['config.json', 'tokenizer.json', 'model.safetensors.index.json', ...shardNames].reduce((a, f) => a + files.get(f)!.length, 0);
  assert.equal(last.total, total);
  assert.equal(last.done, total);
  assert.equal(last.fetched, total);
  // LFS files came through the redirect; nothing unwanted was requested.
  assert.ok(log.some((l) => l.path.startsWith('/cdn/')));
  assert.ok(!log.some((l) => /pytorch_model|flax/.test(l.path)));
  // Files are fetched without content encoding (undici may repeat the value on a redirect).
  for (const l of log) if (!l.path.startsWith('/api/')) assert.match(l.enc ?? '', /^identity(, identity)*$/, l.path);

  // A second run finds everything in place: only the model info is requested.
  log.length = 0;
  assert.equal(await pullModel('acme/tiny', { ...fast, cacheDir }), folder);
  assert.deepEqual(log.map((l) => l.path), [`/api/models/acme/tiny/revision/main`]);
});

test('an interrupted download keeps its .part file and the next run resumes it with a Range request', async () => {
  reset();
  const cacheDir = scratch();
  const shard = shardNames[0];
  faults.cut.add(shard);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir, maxAttempts: 1 }),
    new RegExp(`download of ${shard} of acme/tiny interrupted \\(connection lost.*after 1 attempt; the partial file .*\\.part is kept: rerun`));
  const part = join(cacheDir, 'acme--tiny', COMMIT, `${shard}.part`);
  const have = statSync(part).size;
  assert.ok(have > 0 && have < files.get(shard)!.length, `partial size ${have}`);

  const dir = join(cacheDir, 'acme--tiny', COMMIT);
  const present = readdirSync(dir).filter((f) => files.has(f)).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
  log.length = 0;
  let last: PullProgress | undefined;
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir, onProgress: (p) => { last = p; } });
  // Bytes fetched in the second run: everything minus the finished files and what the .part file held.
  assert.equal(last?.fetched, last!.total - present - have);
  assert.equal(last?.done, last?.total);
  const resumed = log.filter((l) => l.path === `/cdn/${shard}`);
  assert.deepEqual(resumed.map((l) => l.range), [`bytes=${have}-`]);
  assert.deepEqual(readFileSync(join(folder, shard)), files.get(shard));
  assert.ok(!existsSync(part));
});

test('bytes kept in a .part file are verified too: a damaged partial file is caught on resume', async () => {
  reset();
  const cacheDir = scratch();
  const shard = shardNames[0];
  faults.cut.add(shard);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir, maxAttempts: 1 }), /interrupted/);
  const part = join(cacheDir, 'acme--tiny', COMMIT, `${shard}.part`);
  const bytes = readFileSync(part);
  bytes[0] ^= 1;
  writeFileSync(part, bytes);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir }), new RegExp(`${shard.replace(/\./g, '\\.')} of acme/tiny: checksum mismatch: expected sha256`));
  assert.ok(!existsSync(part));
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir });
  assert.deepEqual(readFileSync(join(folder, shard)), files.get(shard));
});

test('within one run, a cut connection or a stall is retried from where it stopped', async () => {
  reset();
  const cacheDir = scratch();
  faults.cut.add(shardNames[1]);
  faults.stall.add('config.json');
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir, stallTimeoutMs: 300, maxAttempts: 3 });
  assert.deepEqual(readFileSync(join(folder, shardNames[1])), files.get(shardNames[1]));
  assert.deepEqual(readFileSync(join(folder, 'config.json')), files.get('config.json'));
  const shardReqs = log.filter((l) => l.path === `/cdn/${shardNames[1]}`);
  assert.equal(shardReqs.length, 2);
  assert.match(shardReqs[1].range ?? '', /^bytes=\d+-$/);
  assert.equal(log.filter((l) => l.path.endsWith('/config.json'))[1].range, 'bytes=10-');

  // A stall that never ends gives up after maxAttempts, with a message, not a hang.
  reset();
  faults.stall.add('tokenizer.json');
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir: scratch(), stallTimeoutMs: 200, maxAttempts: 1 }),
    /tokenizer\.json of acme\/tiny interrupted \(connection lost: no data received before the timeout\)/);
});

test('a checksum mismatch deletes the bad file (LFS sha256 and git blob sha1)', async () => {
  for (const name of [shardNames[0], 'config.json']) {
    reset();
    const cacheDir = scratch();
    faults.corrupt.add(name);
    await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir }),
      new RegExp(`${name.replace(/\./g, '\\.')} of acme/tiny: checksum mismatch: expected ${isLfs(name) ? 'sha256' : 'git blob sha1'} [0-9a-f]+, got [0-9a-f]+; the bad download was deleted`));
    const dir = join(cacheDir, 'acme--tiny', COMMIT);
    assert.ok(!existsSync(join(dir, name)) && !existsSync(join(dir, `${name}.part`)));
    // Without the fault, a rerun succeeds.
    faults.corrupt.clear();
    assert.deepEqual(readFileSync(join(await pullModel('acme/tiny', { ...fast, cacheDir }), name)), files.get(name));
  }
});

test('repo or revision not found, gated repo, bad spec, non-safetensors repo and network failure are clear errors', async () => {
  reset();
  const cacheDir = scratch();
  await rejectsMugpt(pullModel('acme/missing', { ...fast, cacheDir }), /model info of acme\/missing: repository or revision not found: acme\/missing@main at http:\/\/127\.0\.0\.1:\d+ \(HTTP 404/);
  await rejectsMugpt(pullModel('acme/gated@v1', { ...fast, cacheDir }), /access denied \(HTTP 401\) for acme\/gated@v1 .*gated or private.*HF_TOKEN/);
  await rejectsMugpt(pullModel('not a repo', { ...fast, cacheDir }), /repository "not a repo": expected OWNER\/NAME/);
  await rejectsMugpt(pullModel('acme/tiny@nope', { ...fast, cacheDir }), /revision "nope" not found in acme\/tiny/);
  await rejectsMugpt(pullModel('acme/ptonly', { ...fast, cacheDir }), /acme\/ptonly@main has only pytorch_model\.bin weights; mugpt reads safetensors/);
  await rejectsMugpt(pullModel('acme/noconfig', { ...fast, cacheDir }), /acme\/noconfig@main has no config\.json/);
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir, endpoint: `http://127.0.0.1:${port}` }), /network failure reaching http:\/\/127\.0\.0\.1:\d+ for acme\/tiny@main: .*ECONNREFUSED/);
});

test('mugpt pull prints the folder on stdout; errors print one line and exit 1', async () => {
  reset();
  const run = promisify(execFile);
  const cacheDir = scratch();
  // Endpoint, cache and token from the environment; the failure case below uses the flags.
  const env = { ...process.env, HF_TOKEN: 'secret-token', HF_ENDPOINT: endpoint, MUGPT_CACHE: cacheDir };
  const { stdout } = await run(process.execPath, [cliPath, 'pull', 'acme/tiny'], { env });
  assert.equal(stdout, `${join(cacheDir, 'acme--tiny', COMMIT)}\n`);
  assert.ok(existsSync(join(cacheDir, 'acme--tiny', COMMIT, 'config.json')));
  assert.ok(log.length > 0 && log.every((l) => l.auth === 'Bearer secret-token'), 'HF_TOKEN is sent as Bearer auth');
  await assert.rejects(run(process.execPath, [cliPath, 'pull', 'acme/missing', '--endpoint', endpoint, '--cache-dir', cacheDir, '--token', 't'], { env: process.env }),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /^mugpt: model info of acme\/missing: repository or revision not found/m);
      assert.doesNotMatch(err.stderr, /at .*\.js:\d+/);
      return true;
    });
});
