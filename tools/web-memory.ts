// The playground page on a small machine: headless Chromium (Debian's /usr/bin/chromium, or
// CHROMIUM_PATH) confined to a memory cgroup of its own, capped at --limit-mib, loads a model in
// `mugpt web`'s page and generates from it.
//   node dist/tools/web-memory.js MODEL.gguf [--limit-mib 4096] [--max-tokens 32]
// The cap is the cgroup's hard limit (v1 memory.limit_in_bytes and memsw, or v2 memory.max): the kernel
// reclaims or kills inside it as on a machine with that much memory. Printed: the page's result, the
// peak of the browser processes' summed proportional set size (PSS: pages shared between them counted
// once, split), sampled every 0.5 s from /proc, and the cgroup's own peak (v1 max_usage_in_bytes or
// v2 memory.peak, which also count the file cache the browser touched), and its OOM kills. The file
// server (`mugpt web`, this process) runs outside the cap. Needs root (the cgroup).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { startWebServer } from '../src/cli/web.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'limit-mib': { type: 'string', default: '4096' }, 'max-tokens': { type: 'string', default: '32' } },
});
const model = positionals[0];
if (!model) throw new Error('usage: web-memory MODEL.gguf [--limit-mib 4096] [--max-tokens 32]');
const limit = Number(opt['limit-mib']) * 2 ** 20;
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A fresh memory cgroup below this process's own, capped at `bytes`: its folder and the files to read. */
function makeCgroup(bytes: number): { dir: string; version: string; peak: string; ooms: () => number } {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
  const v1 = lines.find((l) => l[1].split(',').includes('memory'));
  const name = `mugpt-web-memory-${process.pid}`;
  if (v1 && existsSync('/sys/fs/cgroup/memory')) {
    const dir = join('/sys/fs/cgroup/memory', v1[2], name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
    return { dir, version: 'v1', peak: join(dir, 'memory.max_usage_in_bytes'),
      ooms: () => Number(/oom_kill (\d+)/.exec(readFileSync(join(dir, 'memory.oom_control'), 'utf8'))?.[1] ?? 0) };
  }
  const v2 = lines.find((l) => l[0] === '0');
  if (!v2) throw new Error('no memory cgroup (v1 memory controller or cgroup v2) for this process');
  const dir = join('/sys/fs/cgroup', v2[2], name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'memory.max'), String(bytes));
  writeFileSync(join(dir, 'memory.swap.max'), '0');
  return { dir, version: 'v2', peak: join(dir, 'memory.peak'),
    ooms: () => Number(/oom_kill (\d+)/.exec(readFileSync(join(dir, 'memory.events'), 'utf8'))?.[1] ?? 0) };
}

/** Σ PSS of the cgroup's processes, bytes (a process that ended between the two reads counts 0). */
function pssSum(dir: string): number {
  let sum = 0;
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      sum += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch { /* ended */ }
  }
  return sum;
}

const cg = makeCgroup(limit);
// the browser enters the cgroup before it starts: a wrapper that moves itself there, then execs it
const tmp = mkdtempSync(join(tmpdir(), 'mugpt-web-memory-'));
const wrapper = join(tmp, 'chromium-in-cgroup.sh');
writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${join(cg.dir, 'cgroup.procs')}'\nexec '${chromium}' "$@"\n`, { mode: 0o755 });
const server = await startWebServer({ model, port: 0 });
let peakPss = 0;
// smaps_rollup walks each process's page tables (the wasm memories reserve many GiB of address space): every 0.5 s
const sampler = setInterval(() => { peakPss = Math.max(peakPss, pssSum(cg.dir)); }, 500);
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`;
try {
  const browser = await puppeteer.launch({
    executablePath: wrapper, headless: true, userDataDir: join(tmp, 'profile'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const t0 = performance.now();
    await page.goto(`${server.url}?prompt=${encodeURIComponent('The history of the')}&max_tokens=${opt['max-tokens']}&temperature=0`);
    await page.waitForSelector('body[data-done="1"]', { timeout: 900_000 });
    const seconds = (performance.now() - t0) / 1000;
    const [error, output, backend, rate, stats] = await page.evaluate(() => [document.getElementById('error')!.textContent,
      document.getElementById('output')!.textContent, document.body.dataset.backend, document.body.dataset.decodeTokensPerSecond,
      document.getElementById('stats')!.textContent]);
    peakPss = Math.max(peakPss, pssSum(cg.dir));
    console.log(`model ${model}, cap ${mib(limit)} (a cgroup ${cg.version} memory limit)`);
    console.log(error ? `page error: ${error}` : `page: ${backend}, ${rate} decode tokens/s, ${seconds.toFixed(1)} s from load to done; ${stats}`);
    console.log(`text: ${JSON.stringify(output)}`);
  } finally {
    await browser.close();
  }
  console.log(`peak Σ PSS of the browser's processes: ${mib(peakPss)}; cgroup peak (with file cache): ${mib(Number(readFileSync(cg.peak, 'utf8')))}; ` +
    `OOM kills in the cgroup: ${cg.ooms()}`);
} finally {
  clearInterval(sampler);
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
  // the browser's last processes may take a moment to be reaped before the cgroup can go
  for (let i = 0; ; i++) {
    try {
      rmdirSync(cg.dir);
      break;
    } catch (e) {
      if (i === 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
