// `npm pack` hook (prepack): a prebuilt addon for this platform in prebuilds/PLATFORM-ARCH/, made by
// prebuildify (Node-API, so one binary serves every Node version ≥ 20; stripped; tagged glibc or musl).
// It holds the portable, AVX2 and AVX-512 kernels and picks one at load time (native/isa.h), so one
// x64 binary serves every x64 CPU. For more platforms, run this on each (e.g. a CI matrix of
// linux-arm64, darwin-arm64, win32-x64) and gather their prebuilds/ folders before `npm pack`.
//
// When build/Release/mugpt_native.node is newer than every source it is built from (native/,
// binding.gyp), it is what node-gyp would build again: it is copied (stripped) instead of rebuilt.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const libc = process.platform === 'linux' ? (existsSync('/etc/alpine-release') ? 'musl' : 'glibc') : '';
const dir = join(root, 'prebuilds', `${process.env.PREBUILD_PLATFORM ?? process.platform}-${process.env.PREBUILD_ARCH ?? process.arch}`);
// node-gyp-build's naming: runtime node, Node-API, C library.
const name = `node.napi${libc ? `.${libc}` : ''}.node`;

const built = join(root, 'build', 'Release', 'mugpt_native.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).filter((f) => /\.(cc|h|inc)$/.test(f)).map((f) => join(root, 'native', f))];
const fresh = existsSync(built) && !process.env.PREBUILD_ARCH && sources.every((f) => statSync(f).mtimeMs <= statSync(built).mtimeMs);

if (fresh) {
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, name));
  if (process.platform === 'linux') spawnSync('strip', ['--strip-all', join(dir, name)], { stdio: 'ignore' });
  console.log(`mugpt: prebuilt ${join('prebuilds', `${process.platform}-${process.arch}`, name)} (from the up-to-date build/Release)`);
} else {
  // Official Node builds ship their headers beside the binary: node-gyp then needs no download.
  const prefix = resolve(process.execPath, '..', '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) process.env.npm_config_nodedir = prefix;
  // npm's bundled node-gyp (npm names it to lifecycle scripts; by hand, the one beside this Node), else the PATH's.
  const bundled = join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : null);
  const prebuildify = require('prebuildify');
  prebuildify({
    cwd: root, name: 'node.napi', napi: true, shell: true, strip: process.platform === 'linux' || process.platform === 'darwin', tagLibc: libc !== '', quiet: true,
    nodeGyp: gyp ? `"${process.execPath}" "${gyp}"` : 'node-gyp',
  }, (err) => {
    if (err) {
      console.error(`mugpt: prebuild failed: ${err.message}`);
      process.exit(1);
    }
    console.log(`mugpt: prebuilt ${join('prebuilds', `${process.platform}-${process.arch}`)}/ with prebuildify`);
  });
}
