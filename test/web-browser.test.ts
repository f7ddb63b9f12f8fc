// The playground in a real browser: Debian's chromium, headless, driven by puppeteer-core, against
// `mugpt web` started on loopback. A small random GPT-2-shaped model (GPT-2's vocabulary) as a Q8_0
// GGUF file and as an HF folder (F32 safetensors): greedy text in the page equals model.generate in
// Node on the same (wasm) kernels (at these sizes no kernel splits a sum by thread count, so the two
// agree bit for bit); a file that is not a model shows an error in the page.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { makeConfig } from '../src/model/config.js';
import { initModel } from '../src/model/init.js';
import { Model, loadModel } from '../src/model/model.js';
import { quantizeModel } from '../src/gguf/quantize-model.js';
import { cliPath, scratch } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (Debian package chromium; or set CHROMIUM_PATH)`;

/** A random gpt2 model with GPT-2's vocabulary: an HF folder dir/hf and a Q8_0 GGUF file. */
function makeModel(dir: string): { hf: string; gguf: string } {
  const cfg = makeConfig({ model_type: 'gpt2', vocab_size: 50257, n_embd: 64, n_layer: 2, n_head: 4, n_positions: 128, activation_function: 'gelu_new', initializer_range: 0.2 });
  const tensors = new Map(initModel(cfg, { seed: 7, parameterization: 'sp' }).map((t) => [t.name, t.data]));
  Model.fromTensors(cfg, tensors, { backend: 'js' }).save(join(dir, 'hf'));
  const file = join(dir, 'model-q8_0.gguf');
  quantizeModel(join(dir, 'hf'), file, { type: 'q8_0' });
  return { hf: join(dir, 'hf'), gguf: file };
}

/** `mugpt web` on a free loopback port; resolves with its URL. */
function startServer(model: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [cliPath, 'web', '--model', model, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '', err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /mugpt web: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ url: m[1], child });
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code) => reject(new Error(`mugpt web exited with ${code}: ${err}`)));
  });
}

let browser: Browser | null = null;
const servers: ChildProcess[] = [];
after(async () => {
  await browser?.close();
  for (const s of servers) s.kill();
});

/** Greedy text of model.generate in Node (wasm kernels). */
async function nodeText(model: string, prompt: string): Promise<string> {
  let text = '';
  for await (const t of loadModel(model, { backend: 'wasm' }).generate(prompt, { maxNewTokens: 12, temperature: 0 })) text += t.text;
  return text;
}

test('the page generates what model.generate does in Node, and shows an error for a file that is not a model', { skip, timeout: 600_000 }, async () => {
  const dir = scratch('mugpt-web-');
  const { hf, gguf } = makeModel(dir);
  const prompt = 'The capital of France is';
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: scratch('mugpt-chromium-'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));

  let url = '';
  for (const model of [gguf, hf]) {
    const wantText = await nodeText(model, prompt);
    assert.ok(wantText.length > 0);
    const s = await startServer(model);
    servers.push(s.child);
    url = s.url;
    await page.goto(`${s.url}?prompt=${encodeURIComponent(prompt)}&max_tokens=12&temperature=0`);
    await page.waitForSelector('body[data-done="1"]', { timeout: 300_000 });
    const got = await page.evaluate(() => ({
      output: document.getElementById('output')!.textContent,
      error: document.getElementById('error')!.textContent,
      backend: document.body.dataset.backend,
    }));
    assert.equal(got.error, '', `${model}: page error: ${got.error}\n${logs.join('\n')}`);
    assert.equal(got.backend, 'wasm-simd-threads', 'mugpt web makes the page cross-origin isolated');
    assert.equal(got.output, prompt + wantText, model);
  }

  // a file that is not GGUF: the bundled vocabulary, served beside the page
  await page.goto(`${url}?model=/gpt2-bpe.bin&prompt=x&max_tokens=2`);
  await page.waitForSelector('body[data-done="1"]', { timeout: 120_000 });
  const error = await page.$eval('#error', (e) => e.textContent);
  assert.match(error ?? '', /gpt2-bpe\.bin: not a valid GGUF file: the magic bytes are not "GGUF"/);
});
