// A bounded load test of a running `mugpt serve` (loopback only): N concurrent streaming completions,
// each of `tokens` tokens, for N in a list; per N the aggregate tokens/s, p50 / p99 time to first
// token, errors, and the server's peak RSS as its /metrics reports it.
//   node dist/bench/serve-load.js --url http://127.0.0.1:8080 --model ID [--streams 1,2,4,8,16,32] [--tokens 64]
// Every request has a deadline (--timeout seconds), so a run ends whatever the server does.
import { fileURLToPath } from 'node:url';
import { benchArgs, usageExit, numberFlag } from './common.js';

export interface LoadResult {
  streams: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  ttftP50Ms: number;
  ttftP99Ms: number;
  errors: number;
  errorSamples: string[];
  /** Peak resident memory of the server (mugpt_peak_rss_bytes of its /metrics after the run), MiB. */
  serverRssMiB: number | null;
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** One streaming completion: its time to first token and its token count (each SSE chunk with text). */
async function oneStream(url: string, model: string, prompt: string, tokens: number, timeoutMs: number): Promise<{ ttft: number; tokens: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(timeoutMs),
    body: JSON.stringify({ model, prompt, max_tokens: tokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (res.status !== 200 || !res.body) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
  let ttft = NaN, n = 0, buf = '', done = false;
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part as Uint8Array, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (ev === 'data: [DONE]') { done = true; continue; }
      const j = JSON.parse(ev.slice(6)) as { error?: { message: string }; usage?: { completion_tokens: number } | null; choices: unknown[] };
      if (j.error) throw new Error(j.error.message);
      if (j.usage) n = j.usage.completion_tokens;
      else if (Number.isNaN(ttft) && j.choices.length) ttft = performance.now() - t0;
    }
  }
  if (!done) throw new Error('the stream ended without [DONE]');
  return { ttft, tokens: n };
}

async function serverRss(url: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const m = /^mugpt_peak_rss_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : null;
  } catch {
    return null;
  }
}

/** N streams at once, each of `tokens` tokens (prompts differ, so no two sequences are alike). */
export async function loadRun(url: string, model: string, streams: number, tokens: number, timeoutMs = 300_000): Promise<LoadResult> {
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: streams }, (_, i) =>
    oneStream(url, model, `Request ${i}: the quick brown fox jumps over the lazy dog`, tokens, timeoutMs)));
  const seconds = (performance.now() - t0) / 1000;
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : []));
  const total = ok.reduce((a, r) => a + r.tokens, 0);
  const ttfts = ok.map((r) => r.ttft).filter(Number.isFinite);
  return {
    streams, tokens: total, seconds, tokensPerSecond: total / seconds,
    ttftP50Ms: quantile(ttfts, 0.5), ttftP99Ms: quantile(ttfts, 0.99),
    errors: failed.length, errorSamples: failed.slice(0, 3), serverRssMiB: await serverRss(url),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values: opt } = benchArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      model: { type: 'string' },
      streams: { type: 'string', default: '1,2,4,8,16,32' },
      tokens: { type: 'string', default: '64' },
      timeout: { type: 'string', default: '600' },
    },
  });
  const url = opt.url.replace(/\/+$/, '');
  if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(url)) usageExit(`--url must be a loopback address, got ${url}`);
  const model = opt.model ?? ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data[0].id;
  console.log('| streams | tokens | seconds | tokens/s | TTFT p50 ms | TTFT p99 ms | errors | server RSS MiB |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const n of opt.streams.split(',').map(Number)) {
    const r = await loadRun(url, model, n, numberFlag('tokens', opt.tokens), numberFlag('timeout', opt.timeout, 0, false) * 1000);
    console.log(`| ${n} | ${r.tokens} | ${r.seconds.toFixed(1)} | ${r.tokensPerSecond.toFixed(1)} | ${r.ttftP50Ms.toFixed(0)} | ${r.ttftP99Ms.toFixed(0)} | ${r.errors} | ${r.serverRssMiB?.toFixed(0) ?? '—'} |`);
    for (const e of r.errorSamples) console.log(`  error: ${e}`);
  }
}
