// The source layout of docs/layout.md holds: every import between src/ folders is one its table
// allows, and the folders' imports form no cycle (type-only imports count: they are dependencies too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { repoRoot } from './helpers.js';

const SRC = join(repoRoot, 'src');

/** The folder of a path under src/ ('errors' for src/errors.ts, 'model' for src/model/gpt.ts). */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.[jt]s$/, '');
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** Folder → the folders it imports, with one importing file and specifier per edge (for messages). */
function importGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const to = folderOf(normalize(join(dirname(file), m[1])));
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string>();
      if (!edges.has(to)) edges.set(to, `${relative(repoRoot, file)} imports '${m[1]}'`);
      graph.set(from, edges);
    }
  }
  return graph;
}

/** The table of docs/layout.md: folder → the folders it may import. */
function allowed(): Map<string, Set<string>> {
  const rows = new Map<string, Set<string>>();
  for (const m of readFileSync(join(repoRoot, 'docs', 'layout.md'), 'utf8').matchAll(/^\| ([a-z]+) \| ([a-z ]+) \|$/gm)) {
    rows.set(m[1], new Set(m[2].trim().split(/\s+/)));
  }
  return rows;
}

test('every import between src/ folders is one docs/layout.md allows', () => {
  const rules = allowed();
  assert.ok(rules.size >= 15, `docs/layout.md lists ${rules.size} folders`);
  const broken: string[] = [];
  for (const [from, edges] of importGraph()) {
    for (const [to, where] of edges) if (!rules.get(from)?.has(to)) broken.push(`${from} → ${to}: ${where}`);
  }
  assert.deepEqual(broken, []);
});

test('the src/ folders import each other in no cycle', () => {
  const graph = importGraph();
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') { cycles.push([...path.slice(path.indexOf(node)), node].join(' → ')); return; }
    state.set(node, 'open');
    for (const next of graph.get(node)?.keys() ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});

test('the layout test sees the imports it checks (a known edge and a known absence)', () => {
  const graph = importGraph();
  assert.match(graph.get('gguf')?.get('model') ?? '', /^src\/gguf\/.*\.ts imports '\.\.\/model\//);
  assert.equal(graph.get('model')?.has('gguf'), false);
});
