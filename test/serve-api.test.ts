// `mugpt serve`'s API through the official openai client and plain fetch, against servers started on
// loopback: greedy results equal model.generate, streaming equals the whole reply, log-probabilities
// equal an independent log-softmax of the model's logits, chat templates, limits and errors.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { loadModel, type Model } from '../src/index.js';
import { createServer, type MugptServer, type ServeOptions } from '../src/serve/server.js';
import { scratch } from './helpers.js';
import { smallModel } from './serve-models.js';

const servers: MugptServer[] = [];
async function start(model: Model, opts: Partial<ServeOptions> = {}): Promise<{ url: string; server: MugptServer; client: OpenAI; lines: string[] }> {
  const lines: string[] = [];
  const server = createServer(model, { port: 0, modelId: 'small', log: (l) => lines.push(l), ...opts });
  const url = await server.listen();
  servers.push(server);
  return { url, server, lines, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: opts.apiKey ?? 'unused', maxRetries: 0 }) };
}
after(async () => { for (const s of servers) await s.close(0); });

/** What model.generate gives: the text and whether it ended at the end-of-text token. */
async function solo(model: Model, prompt: string | number[], opts: { maxNewTokens: number; temperature?: number; seed?: number }): Promise<{ text: string; ids: number[]; finish: string }> {
  const gen = model.generate(prompt, opts);
  let text = '';
  const ids: number[] = [];
  for await (const t of gen) { text += t.text; ids.push(t.id); }
  return { text, ids, finish: gen.stats.finishReason === 'eos' ? 'stop' : gen.stats.finishReason! };
}

function logSoftmaxRef(logits: Float32Array): number[] {
  const m = Math.max(...logits);
  const z = logits.reduce((a, x) => a + Math.exp(x - m), 0);
  return Array.from(logits, (x) => x - m - Math.log(z));
}

let gguf: Model; // float weights; the batching tests cover the quantized kernels
let api: Awaited<ReturnType<typeof start>>;
before(async () => {
  gguf = smallModel('gpt2');
  api = await start(gguf, { maxConcurrency: 4 });
});

test('GET /v1/models lists the model; /health answers', async () => {
  const list = await api.client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['small']);
  const h = await fetch(`${api.url}/health`);
  assert.equal(h.status, 200);
  assert.equal(((await h.json()) as { status: string }).status, 'ok');
});

test('completions: greedy text and token-id prompts equal model.generate; usage and finish_reason as OpenAI', async () => {
  for (const prompt of ['The capital of France is', [464, 3139, 286, 4881]]) {
    const want = await solo(gguf, prompt, { maxNewTokens: 12 });
    const r = await api.client.completions.create({ model: 'small', prompt, max_tokens: 12, temperature: 0 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices[0].text, want.text);
    assert.equal(r.choices[0].finish_reason, want.finish);
    const promptLen = typeof prompt === 'string' ? gguf.tokenizer.encode(prompt).length : prompt.length;
    assert.deepEqual(r.usage, { prompt_tokens: promptLen, completion_tokens: want.ids.length, total_tokens: promptLen + want.ids.length });
  }
});

test('completions: several prompts and n choices, seeded sampling reproducible and equal to generate with that seed', async () => {
  const r = await api.client.completions.create({ model: 'small', prompt: ['Hello', 'Goodbye'], n: 2, max_tokens: 6, temperature: 0.9, seed: 11 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3]);
  const again = await api.client.completions.create({ model: 'small', prompt: ['Hello', 'Goodbye'], n: 2, max_tokens: 6, temperature: 0.9, seed: 11 });
  assert.deepEqual(again.choices.map((c) => c.text), r.choices.map((c) => c.text));
  // choice i samples with seed + i
  for (const [i, prompt] of [[0, 'Hello'], [1, 'Hello'], [3, 'Goodbye']] as const) {
    const want = await solo(gguf, prompt, { maxNewTokens: 6, temperature: 0.9, seed: 11 + i });
    assert.equal(r.choices[i].text, want.text, `choice ${i}`);
  }
});

test('completions: echo, stop strings, and max_tokens 0', async () => {
  const want = await solo(gguf, 'Once upon', { maxNewTokens: 10 });
  const e = await api.client.completions.create({ model: 'small', prompt: 'Once upon', max_tokens: 10, temperature: 0, echo: true });
  assert.equal(e.choices[0].text, `Once upon${want.text}`);
  const stop = want.text.slice(3, 6);
  const s = await api.client.completions.create({ model: 'small', prompt: 'Once upon', max_tokens: 10, temperature: 0, stop: [stop] });
  assert.equal(s.choices[0].text, want.text.slice(0, want.text.indexOf(stop)));
  assert.equal(s.choices[0].finish_reason, 'stop');
});

test('streaming: the chunks add up to the whole reply, end with [DONE], and carry usage when asked', async () => {
  const whole = await api.client.completions.create({ model: 'small', prompt: 'A stream of', max_tokens: 15, temperature: 0 });
  const stream = await api.client.completions.create({ model: 'small', prompt: 'A stream of', max_tokens: 15, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '', finish: string | null = null, usage: unknown = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) { text += c.text; finish ??= c.finish_reason; }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(usage, whole.usage);
  // the raw wire format
  const res = await fetch(`${api.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stream: true }),
  });
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events = (await res.text()).split('\n\n').filter(Boolean);
  assert.equal(events[events.length - 1], 'data: [DONE]');
  const first = JSON.parse(events[0].slice(6)) as { object: string; choices: Array<{ delta: { role?: string } }> };
  assert.equal(first.object, 'chat.completion.chunk');
  assert.equal(first.choices[0].delta.role, 'assistant');
});

test('chat: the plain template for a model without one; greedy reply equals generate on the rendered prompt', async () => {
  const rendered = 'System: Be brief.\n\nUser: Hi there\n\nAssistant:';
  const want = await solo(gguf, rendered, { maxNewTokens: 8 });
  const r = await api.client.chat.completions.create({
    model: 'small', max_tokens: 8, temperature: 0,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi there' }],
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, want.text.split('\nUser:')[0]);
  assert.equal(r.usage!.prompt_tokens, gguf.tokenizer.encode(rendered).length);
});

test('chat: the model\'s own chat_template from tokenizer_config.json', async () => {
  const dir = scratch();
  smallModel('gpt2').save(dir);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({
    eos_token: '<|endoftext|>',
    chat_template: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
  }));
  const model = loadModel(dir);
  const s = await start(model, { modelPath: dir });
  assert.equal(s.server.chatTemplateSource, 'model');
  const want = await solo(model, '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n', { maxNewTokens: 6 });
  const r = await s.client.chat.completions.create({ model: 'small', max_tokens: 6, temperature: 0, messages: [{ role: 'user', content: 'Hello' }] });
  assert.equal(r.choices[0].message.content, want.text);
});

test('logprobs: the chosen token and top alternatives equal a log-softmax of the model\'s own logits', async () => {
  const prompt = [464, 3139, 286];
  const ref = logSoftmaxRef(gguf.step(gguf.newCache(), prompt));
  const best = ref.indexOf(Math.max(...ref));
  const r = await api.client.chat.completions.create({ model: 'small', max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 3, messages: [{ role: 'user', content: 'x' }] });
  assert.equal(r.choices[0].logprobs!.content!.length, 1);
  assert.equal(r.choices[0].logprobs!.content![0].top_logprobs.length, 3);
  const c = await api.client.completions.create({ model: 'small', prompt, max_tokens: 1, temperature: 0, logprobs: 3 });
  const lp = c.choices[0].logprobs!;
  assert.equal(lp.tokens![0], gguf.tokenizer.decode([best]));
  assert.ok(Math.abs(lp.token_logprobs![0] - ref[best]) < 1e-4, `${lp.token_logprobs![0]} vs ${ref[best]}`);
  const top = Object.values(lp.top_logprobs![0]);
  const sorted = [...ref].sort((a, b) => b - a).slice(0, 3);
  top.forEach((x, i) => assert.ok(Math.abs(x - sorted[i]) < 1e-4, `top ${i}: ${x} vs ${sorted[i]}`));
});

test('errors: OpenAI-style bodies for bad JSON, wrong types, out-of-range values, unknown model or route, context overflow', async () => {
  const post = async (path: string, body: string): Promise<{ status: number; error: { message: string; type: string; param: string | null; code: string | null } }> => {
    const res = await fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, error: ((await res.json()) as { error: never }).error };
  };
  const cases: Array<[string, string, number, RegExp, string | null]> = [
    ['/v1/completions', '{"model": "small", "prompt": ', 400, /JSON/, null],
    ['/v1/completions', '{"model": "small", "prompt": "a", "max_tokens": "ten"}', 400, /max_tokens/, 'max_tokens'],
    ['/v1/completions', '{"model": "small", "prompt": "a", "temperature": 3}', 400, /temperature.*\[0, 2\]/, 'temperature'],
    ['/v1/completions', '{"model": "small", "prompt": 5}', 400, /prompt/, 'prompt'],
    ['/v1/completions', '{"model": "small", "prompt": [1, 99999999]}', 400, /vocabulary/, 'prompt'],
    ['/v1/chat/completions', '{"model": "small", "messages": []}', 400, /messages/, 'messages'],
    ['/v1/chat/completions', '{"model": "small", "messages": [{"role": "user", "content": "a"}], "logit_bias": {"1": 5}}', 400, /not supported/, 'logit_bias'],
    ['/v1/completions', '{"model": "gpt-4", "prompt": "a"}', 404, /gpt-4/, 'model'],
    ['/v1/embeddings', '{"model": "small", "input": "a"}', 404, /Unknown request URL/, null],
    ['/v1/completions', '{"model": "small", "prompt": "a b c", "max_tokens": 126}', 400, /128 tokens.*129 tokens \(3 in the prompt, 126 for the completion\)/, 'max_tokens'],
  ];
  for (const [path, body, status, msg, param] of cases) {
    const r = await post(path, body);
    assert.equal(r.status, status, body);
    assert.match(r.error.message, msg, body);
    assert.equal(r.error.param, param, body);
    assert.equal(typeof r.error.type, 'string');
    assert.ok('code' in r.error);
  }
});

test('limits: 413 for a body over the limit; 401 without the API key', async () => {
  const s = await start(gguf, { bodyLimit: 1000, apiKey: 'sesame' });
  const big = await fetch(`${s.url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sesame' },
    body: JSON.stringify({ model: 'small', prompt: 'x'.repeat(2000) }),
  });
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'request_too_large');
  const wrong = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'guess', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const none = await fetch(`${s.url}/v1/models`);
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { type: string } }).error.type, 'authentication_error');
  assert.deepEqual((await s.client.models.list()).data.map((m) => m.id), ['small']);
  assert.equal((await fetch(`${s.url}/health`)).status, 200, '/health needs no key');
});

test('metrics: Prometheus text with requests, tokens, queue, active sequences, tokens/s and KV-cache bytes; one log line a request', async () => {
  const s = await start(gguf);
  const r = await s.client.completions.create({ model: 'small', prompt: 'Count', max_tokens: 5, temperature: 0 });
  const text = await (await fetch(`${s.url}/metrics`)).text();
  for (const name of ['mugpt_requests_total', 'mugpt_generated_tokens_total', 'mugpt_queue_length', 'mugpt_active_sequences', 'mugpt_tokens_per_second', 'mugpt_kv_cache_bytes', 'mugpt_time_to_first_token_seconds_bucket']) {
    assert.match(text, new RegExp(`^${name}`, 'm'), name);
  }
  assert.match(text, /^mugpt_requests_total\{route="\/v1\/completions",status="200"\} 1$/m);
  assert.match(text, new RegExp(`^mugpt_generated_tokens_total ${r.usage!.completion_tokens}$`, 'm'));
  assert.match(text, /^mugpt_active_sequences 0$/m);
  assert.match(s.lines.find((l) => l.includes('/v1/completions'))!, new RegExp(`POST /v1/completions 200 tokens=${r.usage!.prompt_tokens}\\+${r.usage!.completion_tokens} \\d+ms$`));
});
