// `mugpt serve` under load and faults, on loopback: a full queue answers 503 with Retry-After; 100
// clients that abort mid-stream leave no sequence behind and the memory flat; a bounded load test
// with 1 … 32 concurrent streams has no errors; SIGTERM lets a running stream finish and exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { loadRun } from '../bench/serve-load.js';
import { createServer, type MugptServer, type ServeOptions } from '../src/serve/server.js';
import type { Model } from '../src/model/model.js';
import { cliPath, scratch } from './helpers.js';
import { smallModel } from './serve-models.js';

const servers: MugptServer[] = [];
after(async () => { for (const s of servers) await s.close(0); });

// BTLM-shaped: ALiBi has no position limit, so streams can be made long enough to still run while the test acts
const btlm: Model = smallModel('btlm');

async function start(opts: Partial<ServeOptions>): Promise<{ url: string; server: MugptServer }> {
  const server = createServer(btlm, { port: 0, modelId: 'small', log: () => {}, ...opts });
  servers.push(server);
  return { url: await server.listen(), server };
}

/** Polls until cond holds (bounded: fails after 60 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Starts a long streaming completion and resolves once its first chunk arrived; abort() ends it. */
async function openStream(url: string, maxTokens = 20000): Promise<{ abort(): void; done: Promise<void>; firstChunk: Promise<void> }> {
  const ac = new AbortController();
  let first!: () => void;
  const firstChunk = new Promise<void>((r) => { first = r; });
  const res = fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: ac.signal,
    body: JSON.stringify({ model: 'small', prompt: 'Tell me a long story', max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  const done = res.then(async (r) => {
    for await (const _ of r.body!) first();
  }).catch(() => { first(); });
  return { abort: () => ac.abort(), done, firstChunk };
}

test('a full queue answers 503 with Retry-After and an OpenAI error body; the queued request starts when a slot frees', async () => {
  const { url, server } = await start({ maxConcurrency: 1, maxQueue: 1, ctxSize: 30000 });
  const a = await openStream(url);
  await a.firstChunk;
  const b = await openStream(url);
  await until(() => server.scheduler.stats().queued === 1, 'the second request to queue');
  const c = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'small', prompt: 'x', max_tokens: 5 }),
  });
  assert.equal(c.status, 503);
  assert.equal(c.headers.get('retry-after'), '1');
  const body = (await c.json()) as { error: { type: string; code: string; message: string } };
  assert.equal(body.error.code, 'queue_full');
  assert.match(body.error.message, /queue is full/);
  a.abort();
  await b.firstChunk; // admitted once a's slot freed
  assert.equal(server.scheduler.stats().queued, 0);
  b.abort();
  await until(() => server.scheduler.stats().active === 0, 'the batch to empty');
});

test('disconnect storms: 100 clients aborting mid-stream leave no active or queued sequence, and memory does not grow', async () => {
  const { url, server } = await start({ maxConcurrency: 8, maxQueue: 128, ctxSize: 30000 });
  const storm = async (): Promise<void> => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => openStream(url)));
    // half abort after their first token, half at once (many of those while still queued)
    await Promise.all(clients.map(async (c, i) => {
      if (i % 2 === 0) await c.firstChunk;
      c.abort();
      await c.done;
    }));
    await until(() => { const s = server.scheduler.stats(); return s.active === 0 && s.queued === 0; }, 'every sequence to leave');
    assert.equal(server.scheduler.stats().kvCacheBytes, 0);
  };
  await storm();
  const rss1 = process.memoryUsage().rss;
  for (let i = 0; i < 2; i++) await storm();
  const rss2 = process.memoryUsage().rss;
  assert.ok(rss2 - rss1 < 64 * 2 ** 20, `RSS grew by ${((rss2 - rss1) / 2 ** 20).toFixed(0)} MiB over two more storms`);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /^mugpt_active_sequences 0$/m);
  assert.match(metrics, /^mugpt_kv_cache_bytes 0$/m);
});

test('load: 1, 8 and 32 concurrent streams complete with no errors, every stream its tokens', async () => {
  const { url } = await start({ maxConcurrency: 8, maxQueue: 64 });
  for (const n of [1, 8, 32]) {
    const r = await loadRun(url, 'small', n, 16, 120_000);
    assert.equal(r.errors, 0, `${n} streams: ${r.errorSamples.join('; ')}`);
    assert.ok(r.tokens > 0 && r.tokens <= 16 * n, `${n} streams: ${r.tokens} tokens`);
    assert.ok(Number.isFinite(r.ttftP50Ms) && r.ttftP99Ms >= r.ttftP50Ms);
    assert.ok(r.serverRssMiB !== null && r.serverRssMiB > 0);
  }
});

test('mugpt serve: SIGTERM stops accepting, lets the running stream finish, and exits 0', async () => {
  const dir = scratch();
  smallModel('gpt2').save(dir);
  const child = spawn(process.execPath, [cliPath, 'serve', '--model', dir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /on (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`mugpt serve exited with ${code}: ${err}`)));
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: dir.split('/').pop(), prompt: 'Hello', max_tokens: 100, temperature: 0, stream: true }),
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  child.kill('SIGTERM');
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  assert.match(text, /"finish_reason":"length"/);
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  assert.equal(await exited, 0);
  assert.match(err, /SIGTERM: stopping/);
  await assert.rejects(fetch(`${url}/health`), 'no longer accepting connections');
});
