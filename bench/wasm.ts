// The WebAssembly backend against the native and JS backends, and in a browser page:
//   node dist/bench/wasm.js [--decode 64] [--js-decode 8] [--no-browser]
// 111M shape (random weights), F32 (built in memory) and Q4_0 (a GGUF file from exportGguf): decode
// tokens/s after a 32-token prompt, each backend in its own process (engine-mugpt.ts), one thread
// for the wasm-vs-native comparison (MUGPT_THREADS=1), then wasm on every core. Then the playground
// page in headless Chromium (Debian's /usr/bin/chromium) on the Q4_0 file: its decode tokens/s.
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { startWebServer } from '../src/cli/web.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  benchModule, fmt, ggufFile, machineLine, printTable, runChild, shapeConfig, benchArgs, numberFlag,
} from './common.js';

const { values: opt } = benchArgs({
  options: {
    decode: { type: 'string', default: '64' },
    'js-decode': { type: 'string', default: '8' },
    'no-browser': { type: 'boolean', default: false },
  },
});
const decode = numberFlag('decode', opt.decode), jsDecode = numberFlag('js-decode', opt['js-decode'], 0);
const shape = 'cerebras-gpt-111m';
const cfg = shapeConfig(shape);

async function decodeRate(backend: string, threads: string, gguf: string | null, n: number): Promise<number | string> {
  const arg = { shape, gguf: gguf ?? undefined, prompt: 32, decode: n };
  const r = await runChild(process.execPath, ['--max-old-space-size=8192', benchModule('engine-mugpt.js'), JSON.stringify(arg)],
    { ...process.env, MUGPT_BACKEND: backend, MUGPT_THREADS: threads });
  return r.ok ? (r.json.decodeTokensPerSecond as number) : r.error;
}

console.log(machineLine());
const q4 = ggufFile(shape, cfg, 'q4_0');
const rows: string[][] = [];
const figures: Record<string, number | string> = {};
for (const [label, gguf] of [['F32', null], ['Q4_0', q4]] as const) {
  const wasm1 = await decodeRate('wasm', '1', gguf, decode);
  const native1 = await decodeRate('native', '1', gguf, decode);
  const js = label === 'F32' ? await decodeRate('js', '1', gguf, jsDecode) : 'not run';
  const wasmAll = await decodeRate('wasm', '', gguf, decode);
  const nativeAll = await decodeRate('native', '', gguf, decode);
  const n = (x: number | string): string => (typeof x === 'number' ? fmt(x) : x);
  const r = (a: number | string, b: number | string): string => (typeof a === 'number' && typeof b === 'number' ? `${(a / b).toFixed(2)}×` : '–');
  rows.push([label, n(wasm1), n(native1), r(wasm1, native1), n(js), r(wasm1, js), n(wasmAll), n(nativeAll)]);
  figures[`${label} wasm 1 thread`] = wasm1;
}
printTable(['111M decode tok/s', 'wasm 1T', 'native 1T', 'wasm/native', 'js', 'wasm/js', 'wasm all', 'native all'], rows);

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!opt['no-browser'] && existsSync(chromium)) {
  const server = await startWebServer({ model: q4, port: 0 });
  const browser = await puppeteer.launch({
    executablePath: chromium, headless: true, userDataDir: mkdtempSync(join(tmpdir(), 'mugpt-bench-chromium-')),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const rates: number[] = [];
    for (let run = 0; run < 2; run++) { // the first run also warms the JIT
      await page.goto(`${server.url}?prompt=${encodeURIComponent('The history of the')}&max_tokens=${decode}&temperature=0`);
      await page.waitForSelector('body[data-done="1"]', { timeout: 600_000 });
      const err = await page.$eval('#error', (e) => e.textContent);
      if (err) throw new Error(err);
      rates.push(Number(await page.evaluate(() => document.body.dataset.decodeTokensPerSecond)));
    }
    const backend = await page.evaluate(() => document.body.dataset.backend);
    console.log(`headless Chromium page, 111M Q4_0 decode: ${fmt(Math.max(...rates))} tok/s (${backend}); Node wasm 1 thread: ${
      typeof figures['Q4_0 wasm 1 thread'] === 'number' ? fmt(figures['Q4_0 wasm 1 thread']) : figures['Q4_0 wasm 1 thread']} tok/s`);
  } finally {
    await browser.close();
    await server.close();
  }
} else {
  console.log(`browser part skipped (${opt['no-browser'] ? '--no-browser' : `no ${chromium}`})`);
}
