// `mugpt web --model FILE.gguf|DIR [--port 8080]`: the playground page on loopback. Serves dist/web/
// (the page, the mugpt/web bundle, the WebAssembly kernels, the GPT-2 vocabulary) and the model (a
// GGUF file, or an HF folder's config.json, model.safetensors and tokenizer.json),
// every response with the headers that make the page cross-origin isolated (COOP same-origin, COEP
// require-corp), so its kernels may run a pool of Web Workers over a SharedArrayBuffer.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { MugptError, check } from '../errors.js';
import { readGguf } from '../gguf/file.js';

/** dist/web of this package (this file is dist/src/cli/web.js). */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json',
  '.wasm': 'application/wasm', '.bin': 'application/octet-stream', '.gguf': 'application/octet-stream',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export interface WebServerOptions {
  /** A GGUF file or an HF folder (config.json + model.safetensors). */
  model: string;
  port: number;
  host?: string;
}

/** Starts the playground server; resolves with its URL once it listens. */
export function startWebServer(o: WebServerOptions): Promise<{ url: string; close: () => Promise<void> }> {
  check(existsSync(o.model), `--model: ${o.model} does not exist`);
  check(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535, `--port: expected an integer in [0, 65535], got ${o.port}`);
  check(existsSync(join(WEB_DIR, 'index.html')), `${WEB_DIR}: the web bundle is not built (run \`npm run build\` in the mugpt folder)`);
  // the model's files by URL path, and the URL the page loads (a folder URL ends in '/')
  const files = new Map<string, string>();
  let modelUrl: string;
  if (statSync(o.model).isDirectory()) {
    for (const f of ['config.json', 'model.safetensors']) {
      check(existsSync(join(o.model, f)), `--model: ${o.model} has no ${f}; the page reads an HF folder with config.json and model.safetensors `
        + '(a sharded checkpoint: make one GGUF file with `mugpt quantize DIR --type f32 -o model.gguf`)');
    }
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) if (existsSync(join(o.model, f))) files.set(`/model/${f}`, join(o.model, f));
    modelUrl = '/model/';
  } else {
    check(o.model.toLowerCase().endsWith('.gguf'), `--model: ${o.model} is neither a .gguf file nor a Hugging Face folder`);
    readGguf(o.model); // a file that is not GGUF is reported here, before the page shows it
    modelUrl = `/model/${encodeURIComponent(basename(o.model))}`;
    files.set(decodeURIComponent(modelUrl), o.model);
  }
  const page = readFileSync(join(WEB_DIR, 'index.html'), 'utf8')
    .replace('<meta name="mugpt-model" content="">', `<meta name="mugpt-model" content="${modelUrl}">`);
  const assets = new Set(['mugpt.js', 'mugpt.js.map', 'worker.js', 'worker.js.map', 'mugpt-simd-threads.wasm', 'mugpt-simd.wasm', 'gpt2-bpe.bin']);

  const send = (req: IncomingMessage, res: ServerResponse, file: string | null, body?: string): void => {
    const type = body !== undefined ? TYPES['.html'] : TYPES[extname(file!)] ?? 'application/octet-stream';
    const size = body !== undefined ? Buffer.byteLength(body) : statSync(file!).size;
    res.writeHead(200, { ...ISOLATION, 'Content-Type': type, 'Content-Length': size });
    if (req.method === 'HEAD') res.end();
    else if (body !== undefined) res.end(body);
    else createReadStream(file!).pipe(res);
  };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, ISOLATION).end();
    } else if (path === '/' || path === '/index.html') {
      send(req, res, null, page);
    } else if (files.has(path)) {
      send(req, res, files.get(path)!);
    } else if (assets.has(path.slice(1))) {
      send(req, res, join(WEB_DIR, path.slice(1)));
    } else {
      res.writeHead(404, { ...ISOLATION, 'Content-Type': 'text/plain' }).end('not found\n');
    }
  });
  const host = o.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new MugptError(`--port ${o.port}: cannot listen on ${host} (${e.code ?? e.message})`)));
    server.listen(o.port, host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : o.port;
      resolve({ url: `http://${host}:${port}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

export function register(program: Command): void {
  program
    .command('web')
    .description('serve the playground page (the model runs in the browser on WebAssembly kernels) on loopback')
    .requiredOption('--model <path>', 'a GGUF file, or a Hugging Face folder with config.json and model.safetensors')
    .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', '8080')
    .action(async (o: { model: string; port: string }) => {
      const { url } = await startWebServer({ model: o.model, port: Number(o.port) });
      process.stdout.write(`mugpt web: ${url}\n`);
    });
}
