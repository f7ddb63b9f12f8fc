// `npm install` hook: the native kernels without a compiler where a prebuilt binary fits, else built
// from source, else the JavaScript backend — each step one line; node-gyp's own log goes to a file.
//   1. prebuilds/PLATFORM-ARCH/*.node (made by native/prebuild.mjs when the package is packed) that
//      loads here: done. Skipped in a development checkout (src/ present), which always builds.
//   2. node-gyp rebuild (needs a C++ compiler, make and python3): the log goes to native/build.log.
//   3. Neither: the package still works, on the JavaScript kernels.
// It always exits 0: a failed build must not fail the install.
import { createRequire } from 'node:module';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const say = (m) => process.stdout.write(`mugpt: native kernels: ${m}\n`);
const where = `${process.platform}-${process.arch}`;

/** The prebuilt addon for this platform if one loads, else null (with the reason). */
function prebuilt() {
  process.env.PREBUILDS_ONLY = '1'; // node-gyp-build reads it when loaded: only prebuilds/, not build/
  try {
    const path = require('node-gyp-build').resolve(root);
    const { simd } = require(path).info();
    return { path, simd };
  } catch (e) {
    return { error: e.message.split('\n')[0] };
  } finally {
    delete process.env.PREBUILDS_ONLY;
  }
}

/** node-gyp rebuild with its output in a log file; true when the built addon loads. */
function buildFromSource(log) {
  const prefix = resolve(process.execPath, '..', '..');
  const args = ['rebuild'];
  // Official Node builds ship their headers beside the binary: use them, so the build needs no download.
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  // npm runs install scripts with npm_config_node_gyp pointing at its bundled node-gyp; run by hand,
  // the node-gyp that npm bundles beside this Node, else one on the PATH.
  const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : null);
  const fd = openSync(log, 'w');
  try {
    const r = gyp
      ? spawnSync(process.execPath, [gyp, ...args], { cwd: root, stdio: ['ignore', fd, fd] })
      : spawnSync('node-gyp', args, { cwd: root, stdio: ['ignore', fd, fd], shell: true });
    if (r.status !== 0) return false;
  } finally {
    closeSync(fd);
  }
  try {
    return require(join(root, 'build', 'Release', 'mugpt_native.node')).info().simd;
  } catch {
    return false;
  }
}

const development = existsSync(join(root, 'src', 'index.ts'));
const pre = development ? { error: 'a development checkout builds from source' } : prebuilt();
if (pre.path) {
  say(`prebuilt ${relative(root, pre.path)} (${pre.simd})`);
} else {
  const log = join(root, 'native', 'build.log');
  say(`${development ? 'development checkout' : `no prebuilt binary for ${where}`}: building from source (log: ${relative(process.cwd(), log) || log})`);
  const simd = buildFromSource(log);
  if (simd) {
    say(`built from source (${simd})`);
  } else {
    const last = readFileSync(log, 'utf8').trim().split('\n').filter((l) => /error|not found|ERR!/i.test(l)).slice(-1)[0] ?? '';
    say(`the build failed${last ? ` (${last.trim().slice(0, 160)})` : ''}; the JavaScript kernels will be used (see ${log})`);
  }
}
