// The screenshot of the playground in docs/web.md: `mugpt web`'s page in headless Chromium (Debian's
// /usr/bin/chromium, or CHROMIUM_PATH), after a generation from the query string.
//   node dist/tools/web-screenshot.js MODEL.gguf OUT.png [PROMPT]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { startWebServer } from '../src/cli/web.js';

const [model, out, prompt = 'The history of the'] = process.argv.slice(2);
if (!model || !out) throw new Error('usage: web-screenshot MODEL.gguf OUT.png [PROMPT]');
const server = await startWebServer({ model, port: 0 });
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, userDataDir: mkdtempSync(join(tmpdir(), 'mugpt-shot-')),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 900, height: 720 });
  await page.goto(`${server.url}?prompt=${encodeURIComponent(prompt)}&max_tokens=48&temperature=0.8&seed=1`);
  await page.waitForSelector('body[data-done="1"]', { timeout: 600_000 });
  await page.screenshot({ path: out as `${string}.png`, fullPage: true });
} finally {
  await browser.close();
  await server.close();
}
