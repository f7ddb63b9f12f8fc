#!/usr/bin/env node
// Runs the compiled CLI; `npm ci` (prepare) or `npm run build` compiles it into dist/.
import { existsSync } from 'node:fs';
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('mugpt: the package is not built (dist/ is missing); run `npm run build` in its folder\n');
  process.exit(1);
}
await import(main.href);
