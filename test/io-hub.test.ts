// `pullModel` / `mugpt pull` / loading by Hub id against a local server on 127.0.0.1 that serves the
// Hub's URL layout for tiny fake repositories: model info with blobs, resolve URLs (LFS files redirect
// to a "CDN" path), Range requests, and injected faults (cut connections, stalls, corrupt bytes, 404,
// gated). Downloads land in the Hugging Face cache layout (https://huggingface.co/docs/hub/local-cache).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MugptError } from '../src/errors.js';
import { openCheckpoint, writeCheckpoint } from '../src/io/hf.js';
import { pullModel, resolveModelPath, type PullProgress } from '../src/io/hub.js';
import { loadModel } from '../src/index.js';
import { fromPretrained } from '../src/model/pretrained.js';
import { cliPath, fixture, scratch } from './helpers.js';

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
/** The Hub's etag of a file: the blob's name in the cache. */
const etagOf = (name: string, b: Buffer): string => (isLfs(name) ? sha256(b) : gitSha1(b));
const siblingsOf = (repoFiles: Map<string, Buffer>) => [...repoFiles].map(([rfilename, b]) => isLfs(rfilename)
  ? { rfilename, size: b.length, blobId: gitSha1(Buffer.from(`pointer ${rfilename}`)), lfs: { sha256: sha256(b), size: b.length, pointerSize: 134 } }
  : { rfilename, size: b.length, blobId: gitSha1(b) });
const siblings = siblingsOf(files);

// A second repository holding a real (tiny) model, to load by Hub id: the gpt2-unscaled-f16 fixture.
const MODEL_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const modelFiles = new Map(['config.json', 'model.safetensors'].map((f): [string, Buffer] => [f, readFileSync(join(fixture('model', 'gpt2-unscaled-f16'), f))]));

// Fault injection, reset by each test.
const faults = { cut: new Set<string>(), stall: new Set<string>(), corrupt: new Set<string>() };
const log: Array<{ path: string; range?: string; auth?: string; enc?: string }> = [];

function serve(res: import('node:http').ServerResponse, name: string, range: string | undefined, repoFiles = files): void {
  let body = repoFiles.get(name)!;
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
    if (info[1] === 'acme/model') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: info[1], sha: MODEL_COMMIT, siblings: siblingsOf(modelFiles) }));
      return;
    }
    if (info[1] !== 'acme/tiny') { res.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end('{"error":"Repository not found"}'); return; }
    assert.equal(url.searchParams.get('blobs'), 'true');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'acme/tiny', sha: COMMIT, siblings }));
    return;
  }
  const resolve = /^\/acme\/(tiny|model)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
  const repoFiles = resolve?.[1] === 'tiny' ? files : modelFiles;
  if (resolve && resolve[2] === (resolve[1] === 'tiny' ? COMMIT : MODEL_COMMIT) && repoFiles.has(decodeURIComponent(resolve[3]))) {
    const name = decodeURIComponent(resolve[3]);
    if (isLfs(name)) { res.writeHead(302, { location: `/cdn/${encodeURIComponent(name)}` }).end(); return; }
    serve(res, name, req.headers.range, repoFiles);
    return;
  }
  const cdn = /^\/cdn\/(.+)$/.exec(url.pathname);
  if (cdn && (files.has(decodeURIComponent(cdn[1])) || modelFiles.has(decodeURIComponent(cdn[1])))) { const n = decodeURIComponent(cdn[1]); serve(res, n, req.headers.range, files.has(n) ? files : modelFiles); return; }
  res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => { server.closeAllConnections(); server.close(); });

function reset(): void {
  faults.cut.clear(); faults.stall.clear(); faults.corrupt.clear();
  log.length = 0;
}

// An empty folder as the old mugpt cache, so no test reads the home folder's.
const fast = { endpoint, retryDelayMs: 10, stallTimeoutMs: 2000, legacyCacheDir: scratch() };

async function rejectsMugpt(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MugptError, `expected a MugptError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

const snapshotOf = (cacheDir: string, repo = 'acme--tiny', commit = COMMIT): string => join(cacheDir, `models--${repo}`, 'snapshots', commit);
const blobsOf = (cacheDir: string, repo = 'acme--tiny'): string => join(cacheDir, `models--${repo}`, 'blobs');

test('pull downloads exactly the files a model needs, verified, into the Hugging Face cache layout', async () => {
  reset();
  const cacheDir = scratch();
  const reports: PullProgress[] = [];
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir, onProgress: (p) => reports.push(p) });
  assert.equal(folder, snapshotOf(cacheDir));
  assert.deepEqual(readdirSync(folder).sort(), ['config.json', 'model.safetensors.index.json', ...shardNames, 'tokenizer.json'].sort());
  for (const f of readdirSync(folder)) assert.deepEqual(readFileSync(join(folder, f)), files.get(f), f);
  // huggingface_hub's layout: blobs named by etag (LFS sha256, git blob sha1), relative symlinks, refs/main → commit.
  for (const f of readdirSync(folder)) {
    assert.ok(lstatSync(join(folder, f)).isSymbolicLink(), f);
    assert.equal(readlinkSync(join(folder, f)), join('..', '..', 'blobs', etagOf(f, files.get(f)!)), f);
  }
  assert.deepEqual(readdirSync(blobsOf(cacheDir)).sort(), readdirSync(folder).map((f) => etagOf(f, files.get(f)!)).sort());
  assert.equal(readFileSync(join(cacheDir, 'models--acme--tiny', 'refs', 'main'), 'utf8'), COMMIT);
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

test('an interrupted download keeps its partial file (blobs/ETAG.incomplete) and the next run resumes it with a Range request', async () => {
  reset();
  const cacheDir = scratch();
  const shard = shardNames[0];
  faults.cut.add(shard);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir, maxAttempts: 1 }),
    new RegExp(`download of ${shard} of acme/tiny interrupted \\(connection lost.*after 1 attempt; the partial file .*\\.incomplete is kept: rerun`));
  const part = join(blobsOf(cacheDir), `${sha256(files.get(shard)!)}.incomplete`);
  const have = statSync(part).size;
  assert.ok(have > 0 && have < files.get(shard)!.length, `partial size ${have}`);

  const dir = snapshotOf(cacheDir);
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

test('bytes kept in a partial file are verified too: a damaged partial file is caught on resume', async () => {
  reset();
  const cacheDir = scratch();
  const shard = shardNames[0];
  faults.cut.add(shard);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir, maxAttempts: 1 }), /interrupted/);
  const part = join(blobsOf(cacheDir), `${sha256(files.get(shard)!)}.incomplete`);
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
    const etag = etagOf(name, files.get(name)!);
    assert.ok(!existsSync(join(snapshotOf(cacheDir), name)) && !existsSync(join(blobsOf(cacheDir), etag))
      && !existsSync(join(blobsOf(cacheDir), `${etag}.incomplete`)));
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
  // Endpoint, cache ($HF_HOME/hub) and token from the environment; the failure case below uses the flags.
  const env = { ...process.env, HF_TOKEN: 'secret-token', HF_ENDPOINT: endpoint, HF_HOME: cacheDir, HF_HUB_CACHE: '', MUGPT_CACHE: scratch() };
  const { stdout } = await run(process.execPath, [cliPath, 'pull', 'acme/tiny'], { env });
  assert.equal(stdout, `${snapshotOf(join(cacheDir, 'hub'))}\n`);
  assert.ok(existsSync(join(snapshotOf(join(cacheDir, 'hub')), 'config.json')));
  assert.ok(log.length > 0 && log.every((l) => l.auth === 'Bearer secret-token'), 'HF_TOKEN is sent as Bearer auth');
  await assert.rejects(run(process.execPath, [cliPath, 'pull', 'acme/missing', '--endpoint', endpoint, '--cache-dir', cacheDir, '--token', 't'], { env: process.env }),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /^mugpt: model info of acme\/missing: repository or revision not found/m);
      assert.doesNotMatch(err.stderr, /at .*\.js:\d+/);
      return true;
    });
});

test('HF_HUB_OFFLINE: a cached model resolves with no request; a missing one is a clear error', async () => {
  reset();
  const cacheDir = scratch();
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir });
  log.length = 0;
  assert.equal(await pullModel('acme/tiny', { ...fast, cacheDir, offline: true }), folder);
  assert.equal(await pullModel(`acme/tiny@${COMMIT}`, { ...fast, cacheDir, offline: true }), folder, 'a commit needs no ref');
  process.env.HF_HUB_OFFLINE = '1';
  try {
    assert.equal(await pullModel('acme/tiny', { ...fast, cacheDir }), folder);
    await rejectsMugpt(pullModel('acme/tiny@v2', { ...fast, cacheDir }), /acme\/tiny@v2 is not in the Hugging Face cache .* HF_HUB_OFFLINE is set: run `mugpt pull acme\/tiny@v2`/);
    await rejectsMugpt(pullModel('acme/other', { ...fast, cacheDir }), /acme\/other@main is not in the Hugging Face cache/);
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  assert.deepEqual(log, [], 'no network request offline');
  // A snapshot missing a shard is not a model: offline refuses it rather than failing later.
  const broken = scratch();
  await pullModel('acme/tiny', { ...fast, cacheDir: broken });
  const shardLink = join(snapshotOf(broken), shardNames[1]);
  const blob = join(snapshotOf(broken), readlinkSync(shardLink));
  rmSync(blob);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir: broken, offline: true }), /not in the Hugging Face cache/);
  // When the Hub cannot be reached, the cached model is used.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  assert.equal(await pullModel('acme/tiny', { ...fast, cacheDir, endpoint: `http://127.0.0.1:${port}` }), folder);
});

test('a cache that huggingface_hub wrote (blobs, symlinked snapshot, refs/main) is used without downloading', async () => {
  reset();
  const cacheDir = scratch();
  // The layout of https://huggingface.co/docs/hub/local-cache, built by hand as Python leaves it.
  const repoDir = join(cacheDir, 'models--acme--tiny');
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'refs'));
  mkdirSync(join(repoDir, 'snapshots', COMMIT), { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), COMMIT);
  for (const [name, b] of files) {
    if (!/^(config\.json|tokenizer\.json|model.*)$/.test(name)) continue;
    writeFileSync(join(repoDir, 'blobs', etagOf(name, b)), b);
    symlinkSync(join('..', '..', 'blobs', etagOf(name, b)), join(repoDir, 'snapshots', COMMIT, name));
  }
  assert.equal(await pullModel('acme/tiny', { ...fast, cacheDir, offline: true }), join(repoDir, 'snapshots', COMMIT));
  assert.equal(await pullModel('acme/tiny', { ...fast, cacheDir }), join(repoDir, 'snapshots', COMMIT));
  assert.deepEqual(log.map((l) => l.path), ['/api/models/acme/tiny/revision/main'], 'online: the listing only, no file');
});

test('files an earlier mugpt release pulled (~/.cache/mugpt/hub/OWNER--NAME/COMMIT) are reused, verified, and left in place', async () => {
  reset();
  const cacheDir = scratch();
  const legacy = scratch();
  const old = join(legacy, 'acme--tiny', COMMIT);
  mkdirSync(old, { recursive: true });
  for (const name of ['config.json', 'model.safetensors.index.json', ...shardNames]) writeFileSync(join(old, name), files.get(name)!);
  const folder = await pullModel('acme/tiny', { ...fast, cacheDir, legacyCacheDir: legacy });
  assert.deepEqual(log.filter((l) => !l.path.startsWith('/api/')).map((l) => l.path), ['/acme/tiny/resolve/' + COMMIT + '/tokenizer.json'],
    'only the file the old cache lacked is downloaded');
  for (const f of readdirSync(folder)) assert.deepEqual(readFileSync(join(folder, f)), files.get(f), f);
  assert.deepEqual(readFileSync(join(old, 'config.json')), files.get('config.json'), 'the old cache is untouched');
  // A damaged old file is caught by the checksum, never linked into the new cache.
  reset();
  const cacheDir2 = scratch();
  const bad = Buffer.from(files.get(shardNames[0])!);
  bad[5] ^= 1;
  writeFileSync(join(old, shardNames[0]), bad);
  await rejectsMugpt(pullModel('acme/tiny', { ...fast, cacheDir: cacheDir2, legacyCacheDir: legacy }), /checksum mismatch/);
  const again = await pullModel('acme/tiny', { ...fast, cacheDir: cacheDir2, legacyCacheDir: scratch() });
  assert.deepEqual(readFileSync(join(again, shardNames[0])), files.get(shardNames[0]));
});

test('load by Hub id: fromPretrained pulls then loads; a local path stays local; generate, eval and quantize take an id', async () => {
  reset();
  const cacheDir = scratch();
  const model = await fromPretrained('acme/model', { ...fast, cacheDir, backend: 'js' });
  const local = loadModel(fixture('model', 'gpt2-unscaled-f16'), { backend: 'js' });
  const ids = [[1, 2, 3, 4]];
  assert.deepEqual(model.forward(ids).logits, local.forward(ids).logits);
  assert.equal(await resolveModelPath(fixture('model', 'gpt2-unscaled-f16')), fixture('model', 'gpt2-unscaled-f16'));
  await rejectsMugpt(resolveModelPath(join(cacheDir, 'nope.gguf')), /nope\.gguf: no such file or folder/);
  await rejectsMugpt(resolveModelPath('./nope'), /\.\/nope: no such file or folder, and not a Hub id/);
  // revision: a commit pins it.
  assert.equal(await resolveModelPath('acme/model', { ...fast, cacheDir, revision: MODEL_COMMIT, offline: true }),
    snapshotOf(cacheDir, 'acme--model', MODEL_COMMIT));

  // The CLI: the same model by id and by folder gives the same text; the HF cache and token come from the environment.
  const run = promisify(execFile);
  const home = scratch();
  const env = { ...process.env, HF_ENDPOINT: endpoint, HF_HOME: home, HF_HUB_CACHE: '', HF_TOKEN: 'tok', MUGPT_CACHE: scratch(), MUGPT_BACKEND: 'js' };
  const gen = (m: string, e: NodeJS.ProcessEnv = env) => run(process.execPath, [cliPath, 'generate', '--model', m, '--prompt', '*S[P', '--max-tokens', '5'], { env: e });
  log.length = 0;
  const byId = await gen('acme/model');
  assert.ok(log.some((l) => l.path === '/cdn/model.safetensors' && l.auth === 'Bearer tok'));
  assert.equal(byId.stdout, (await gen(fixture('model', 'gpt2-unscaled-f16'))).stdout);
  log.length = 0;
  assert.equal((await gen('acme/model', { ...env, HF_HUB_OFFLINE: '1' })).stdout, byId.stdout, 'offline from the cache');
  assert.deepEqual(log, []);
  const out = join(home, 'm.gguf');
  await run(process.execPath, [cliPath, 'quantize', 'acme/model', '--type', 'f32', '-o', out], { env });
  assert.ok(statSync(out).size > 0);
  // eval resolves the id to the pulled model too: the fixture's 64-token vocabulary then meets GPT-2 text.
  const text = join(home, 't.txt');
  writeFileSync(text, '*S[P'.repeat(200));
  await assert.rejects(run(process.execPath, [cliPath, 'eval', 'acme/model', '--text', text, '--seq-len', '16'], { env: { ...env, HF_HUB_OFFLINE: '1' } }),
    (err: { code: number; stderr: string }) => err.code === 1 && /the model's vocab(ulary of|_size) 64/.test(err.stderr));
});
