// The built-in tasks, read from files in their release formats, and the generic files, evaluated end
// to end (prompts, few-shot contexts, per-document log-likelihoods, metrics) against the PyTorch
// reference of tools/torch_eval_reference.py, which applies lm-eval's task definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { drawFewshot, evaluate, limitDocs } from '../src/eval/harness.js';
import { EvalLM } from '../src/eval/lm.js';
import { hellaswagPreprocess, loadTask, wikitextDetokenize, wikitextPages } from '../src/eval/tasks/index.js';
import { loadModel, type Model } from '../src/model/model.js';
import { fixture } from './helpers.js';

interface RefTask {
  name: string; path: string; numFewshot: number; nSamples: { original: number; effective: number };
  metrics: Record<string, [number, number | null]>;
  samples: Array<{ arguments: Array<[string, string]>; loglikelihoods: number[]; is_greedy: Array<boolean | null>; fewshot: number[] }>;
}
interface RefRun { model: string; maxLength: number | null; numFewshot: number; limit: number | null; tasks: RefTask[] }

const ref = JSON.parse(readFileSync(fixture('eval', 'tasks.json'), 'utf8')) as { runs: RefRun[] };
const models = new Map<string, Model>();
const model = (name: string): Model => {
  if (!models.has(name)) models.set(name, loadModel(fixture('eval', name), { backend: 'js' }));
  return models.get(name)!;
};

function close(a: number, b: number, what: string, rel = 1e-4): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs reference ${b}`);
}

for (const run of ref.runs) {
  const label = `${run.model} max-length ${run.maxLength ?? 'default'}, ${run.numFewshot}-shot${run.limit === null ? '' : `, limit ${run.limit}`}`;
  test(`${label}: ${run.tasks.map((t) => t.name).join(', ')} equal the reference (prompts, log-likelihoods, metrics)`, () => {
    const m = model(run.model);
    const lm = new EvalLM(m, m.tokenizer, { maxLength: run.maxLength ?? undefined, batchSize: 2 });
    const tasks = run.tasks.map((t) => loadTask(t.name, fixture('eval', 'tasks', t.path)));
    const results = evaluate(lm, tasks, { numFewshot: run.numFewshot, limit: run.limit ?? undefined });
    results.forEach((r, i) => {
      const want = run.tasks[i];
      assert.equal(r.task.name, want.name);
      assert.equal(r.numFewshot, want.numFewshot);
      assert.deepEqual(r.nSamples, want.nSamples);
      assert.equal(r.samples.length, want.samples.length);
      r.samples.forEach((s, d) => {
        const w = want.samples[d];
        const where = `${want.name} doc ${d}`;
        assert.deepEqual(s.arguments, w.arguments, `${where}: requests`);
        assert.equal(s.fewshot.length, w.fewshot.length, `${where}: few-shot examples`);
        s.loglikelihoods.forEach((ll, j) => close(ll, w.loglikelihoods[j], `${where} request ${j}`));
        if (r.task.outputType !== 'loglikelihood_rolling') assert.deepEqual(s.is_greedy, w.is_greedy, `${where}: is_greedy`);
      });
      assert.deepEqual(Object.keys(r.metrics), Object.keys(want.metrics), `${want.name}: metrics`);
      for (const [name, [value, stderr]] of Object.entries(want.metrics)) {
        const got = r.metrics[name as keyof typeof r.metrics]!;
        close(got.value, value, `${want.name} ${name}`, name === 'perplexity' ? 1e-3 : 1e-4);
        if (stderr === null) assert.equal(got.stderr, null, `${want.name} ${name}_stderr`);
        else close(got.stderr!, stderr, `${want.name} ${name}_stderr`, name === 'perplexity' ? 1e-3 : 1e-4);
      }
    });
  });
}

test('HellaSwag preprocessing: strip, " [title]" → ". ", bracketed artifacts dropped, double spaces joined', () => {
  // lm-eval strips before removing the brackets, so a leading artifact leaves its space
  assert.equal(hellaswagPreprocess('  [header] How to dye your hair [title] Choose.  Then  go. '), ' How to dye your hair. Choose. Then go.');
  const t = loadTask('hellaswag', fixture('eval', 'tasks', 'hellaswag'));
  // ctx_b "THEN Rinse it." is capitalized (first upper, rest lower), as Python's str.capitalize
  assert.equal(t.docs[1].text, 'Personal Care and Style: How to dye your hair. Choose a colour. Then rinse it.');
  assert.deepEqual(t.docs[1].choices, [' Use a café crème rinse.', 'Brush it twice.', 'Wash the dog.', 'Sing loudly.']);
  assert.equal(t.docs[1].target, 0);
  assert.equal(t.fewshotDocs?.length, 3);
});

test('WikiText: pages split at top-level headings, lm-eval\'s detokenizer', () => {
  const pages = wikitextPages(readFileSync(fixture('eval', 'tasks', 'wikitext', 'wiki.test.raw'), 'utf8'));
  assert.equal(pages.length, 2);
  // the blank line before the first heading is a page of whitespace, which is dropped
  assert.ok(pages[0].startsWith(' = Robert Boulter = \n') && pages[0].includes(' = = Career = = '));
  assert.ok(pages[1].startsWith(' = Du Fu = '));
  assert.equal(wikitextDetokenize(' = = Career = = \n a 2 @,@ 500 @.@ 5 metre ( the " Old Vic " ) stage . \n'), ' == Career ==\na 2,500.5 metre (the "Old Vic") stage.\n');
});

test('--limit keeps the first N documents or ceil(n·fraction); the few-shot draw is seeded, distinct and never the document itself', () => {
  assert.equal(limitDocs(10, undefined), 10);
  assert.equal(limitDocs(10, 3), 3);
  assert.equal(limitDocs(10, 30), 10);
  assert.equal(limitDocs(10, 0.25), 3);
  assert.throws(() => limitDocs(10, 1.5), /--limit: expected an integer ≥ 1 or a fraction in \(0, 1\), got 1.5/);
  const task = loadTask('mine', fixture('eval', 'tasks', 'generic', 'mc.jsonl')); // 3 documents, no training split
  const draw = drawFewshot(task, 3, 2, 1234);
  draw.forEach((shots, i) => {
    assert.equal(shots.length, 2);
    assert.ok(!shots.includes(task.docs[i]), `document ${i} is among its own examples`);
    assert.equal(new Set(shots).size, 2);
  });
  assert.deepEqual(drawFewshot(task, 3, 2, 1234), draw);
  assert.throws(() => drawFewshot(task, 3, 3, 1234), /--num-fewshot 3: mine has 3 documents and no training split/);
  const hs = loadTask('hellaswag', fixture('eval', 'tasks', 'hellaswag'));
  for (const shots of drawFewshot(hs, 3, 3, 7)) assert.deepEqual(new Set(shots), new Set(hs.fewshotDocs)); // all 3 training documents
});
