// `npm install` hook: builds the addon with node-gyp. When this Node has its headers installed
// beside it (official builds do), they are used, so the build needs no download.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const prefix = resolve(process.execPath, '..', '..');
const args = ['rebuild'];
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
// npm runs install scripts with npm_config_node_gyp pointing at its bundled node-gyp.
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' })
  : spawnSync('node-gyp', args, { stdio: 'inherit', shell: true });
process.exit(r.status ?? 1);
