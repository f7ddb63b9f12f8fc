// The npm package as a user gets it: `npm pack`, then `npm install ./mugpt-x.y.z.tgz` into an empty
// project (dependencies from the npm cache that `npm ci` filled, so no network beyond the registry),
// and there, without the repository: `npx mugpt --help`, `import { … } from 'mugpt'`, the examples,
// generate on a small model; the install's native step is one line (a prebuilt binary), and without a
// prebuild or a compiler the package falls back to the JavaScript kernels, again in one line a step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeAvailable } from '../src/kernels/index.js';
import { repoRoot, scratch } from './helpers.js';

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 900_000, env: { ...process.env, MUGPT_THREADS: '1', ...env } });
  assert.ok(!r.error, String(r.error));
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  assert.equal(r.status, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

test('npm pack → npm install into an empty project → the CLI, the library and the examples work there', { timeout: 1_800_000 }, () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const packDir = scratch('mugpt-pack-');
  const packed = ok(sh(npm, ['pack', '--pack-destination', packDir, '--json'], repoRoot), 'npm pack');
  const [{ filename, files }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const paths = files.map((f) => f.path);
  // What the help and docs point to is in it; the repository's tests and TypeScript sources are not.
  for (const p of ['LICENSE', 'README.md', 'package.json', 'bin/mugpt.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'docs/api.md',
    'examples/corpus.yaml', 'examples/generate.mjs', 'examples/train-and-generate.mjs', 'runs/btlm-tiny.yaml', 'assets/gpt2-bpe.bin',
    'native/install.mjs', 'binding.gyp']) assert.ok(paths.includes(p), `${p} is in the tarball`);
  assert.ok(!paths.some((p) => p.startsWith('test/') || p.startsWith('src/') || p.startsWith('build/') || p.startsWith('dist/test/')), 'no tests, sources or local build');
  assert.match(readFileSync(join(repoRoot, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
  const prebuilt = paths.filter((p) => p.startsWith(`prebuilds/${process.platform}-${process.arch}/`) && p.endsWith('.node'));
  if (nativeAvailable()) assert.equal(prebuilt.length, 1, `one prebuilt addon for ${process.platform}-${process.arch}: ${paths.filter((p) => p.startsWith('prebuilds/'))}`);

  // An empty project installs the tarball.
  const project = scratch('mugpt-user-');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  const install = ok(sh(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', join(packDir, filename)], project), 'npm install');
  const nativeLines = `${install.stdout}\n${install.stderr}`.split('\n').filter((l) => l.startsWith('mugpt: native kernels:'));
  assert.doesNotMatch(install.stdout + install.stderr, /CXX\(target\)|gyp info/, 'no node-gyp log');
  if (nativeAvailable()) assert.deepEqual(nativeLines, [`mugpt: native kernels: prebuilt ${prebuilt[0]} (${nativeLines[0]?.match(/\((\w+)\)$/)?.[1]})`]);
  const installed = join(project, 'node_modules', 'mugpt');
  assert.ok(!existsSync(join(installed, 'build')), 'nothing was compiled');
  const meta = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
  for (const k of ['license', 'repository', 'keywords', 'engines']) assert.deepEqual(meta[k], pkg[k], k);
  assert.equal(meta.license, 'Apache-2.0');

  // The CLI, the library and the examples, from the project folder.
  assert.match(ok(sh('npx', ['--no-install', 'mugpt', '--help'], project), 'npx mugpt --help').stdout, /Usage: mugpt/);
  writeFileSync(join(project, 'check.mjs'), "import { loadModel, fromPretrained, describeKernels, getKernels } from 'mugpt';\n"
    + "console.log(typeof loadModel, typeof fromPretrained, describeKernels(getKernels()));\n");
  const lib = ok(sh(process.execPath, ['check.mjs'], project), 'import from mugpt').stdout.trim();
  assert.match(lib, nativeAvailable() ? /^function function native \(/ : /^function function js$/);
  const example = ok(sh(process.execPath, [join(installed, 'examples', 'train-and-generate.mjs'), 'tiny'], project), 'example');
  assert.match(example.stdout, /^step 60: loss /m);
  assert.match(example.stdout, /tiny: The quick brown fox/);
  const gen = ok(sh('npx', ['--no-install', 'mugpt', 'generate', '--model', 'tiny', '--prompt', 'The quick brown', '--max-tokens', '2'], project), 'generate');
  assert.equal(gen.stdout, 'The quick brown fox jumps\n');
  assert.match(gen.stderr, nativeAvailable() ? /kernels native/ : /kernels js/);
  assert.match(ok(sh(process.execPath, [join(installed, 'examples', 'generate.mjs'), 'tiny', 'The quick brown'], project), 'generate example').stdout,
    /^The quick brown fox/);

  // No prebuild for this platform and no working compiler: two lines (the attempt, the fallback), the
  // node-gyp output in the log file, and the package runs on the JavaScript kernels.
  rmSync(join(installed, 'prebuilds'), { recursive: true, force: true });
  const fakeGyp = join(project, 'fake-node-gyp.js');
  writeFileSync(fakeGyp, "for (let i = 0; i < 300; i++) console.log('gyp info noise ' + i);\nconsole.error('gyp ERR! stack Error: not found: make');\nprocess.exit(1);\n");
  chmodSync(fakeGyp, 0o755);
  const fallback = ok(sh(process.execPath, [join(installed, 'native', 'install.mjs')], project, { npm_config_node_gyp: fakeGyp }), 'install script');
  const lines = fallback.stdout.trim().split('\n');
  assert.equal(lines.length, 2, fallback.stdout);
  assert.match(lines[0], new RegExp(`^mugpt: native kernels: no prebuilt binary for ${process.platform}-${process.arch}: building from source \\(log: `));
  assert.match(lines[1], /^mugpt: native kernels: the build failed \(gyp ERR! stack Error: not found: make\); the JavaScript kernels will be used/);
  assert.match(readFileSync(join(installed, 'native', 'build.log'), 'utf8'), /gyp info noise 299/);
  const js = ok(sh('npx', ['--no-install', 'mugpt', 'generate', '--model', 'tiny', '--prompt', 'The quick brown', '--max-tokens', '2'], project), 'generate on js');
  assert.equal(js.stdout, 'The quick brown fox jumps\n');
  assert.match(js.stderr, /kernels js; seed/);
  assert.deepEqual(readdirSync(packDir), [filename]);
});
