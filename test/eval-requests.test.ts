// lm-eval's request scoring against the independent PyTorch reference (tools/torch_eval_reference.py):
// token ids of the pair encoding, per-request log-likelihoods and greedy flags, rolling windows and
// totals, generate_until, and the metrics computed from them, on a GPT-2 and a BTLM model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MugptError } from '../src/errors.js';
import { EvalLM } from '../src/eval/lm.js';
import { aggregateMean, aggregatePerplexity, bitsPerByte, multipleChoiceScores, rollingWeights, weightedPerplexity } from '../src/eval/metrics.js';
import { encodePair, modelInput, rollingWindows } from '../src/eval/requests.js';
import { nativeAvailable } from '../src/kernels/index.js';
import { loadModel } from '../src/model/model.js';
import { fixture } from './helpers.js';

interface LlCase { context: string; continuation: string; contextIds: number[]; continuationIds: number[]; logprob?: number; isGreedy?: boolean; error?: string }
interface RollCase { text: string; ids: number[]; windows: Array<{ context: number[]; continuation: number[] }>; logprob: number }
interface GenCase { context: string; until: string[]; maxNewTokens: number; text: string }
interface McDoc { context: string; choices: string[]; gold: number; loglikelihoods: number[]; acc: number; acc_norm: number }
interface Metrics {
  multipleChoice: { docs: McDoc[]; acc: number; acc_stderr: number; acc_norm: number; acc_norm_stderr: number };
  loglikelihood: { acc: number; acc_stderr: number; perplexity: number };
  rolling: { word_perplexity: number; byte_perplexity: number; bits_per_byte: number };
}
interface Case { maxLength: number; loglikelihood: LlCase[]; rolling: RollCase[]; generateUntil: GenCase[]; metrics: Metrics }

const ref = JSON.parse(readFileSync(fixture('eval', 'requests.json'), 'utf8')) as { models: Record<string, Case[]> };

/** float32 logits against the float64 reference: 1e-4 relative to the magnitude (docs/model.md's tolerance). */
function close(a: number, b: number, what: string, rel = 1e-4): void {
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs reference ${b}`);
}

for (const [name, cases] of Object.entries(ref.models)) {
  const model = loadModel(fixture('eval', name), { backend: 'js' });
  const tok = model.tokenizer;
  for (const c of cases) {
    const L = c.maxLength;
    const opts = L === model.config.n_positions ? {} : { maxLength: L }; // the default is n_positions

    test(`${name} L=${L}: pair encoding and loglikelihood requests (batch sizes 1 and 3) equal the reference`, () => {
      for (const batchSize of [1, 3]) {
        const lm = new EvalLM(model, tok, { ...opts, batchSize });
        assert.equal(lm.maxLength, L);
        for (const r of c.loglikelihood) {
          const enc = encodePair(tok, lm.eot, r.context, r.continuation);
          assert.deepEqual(enc, { context: r.contextIds, continuation: r.continuationIds }, JSON.stringify([r.context, r.continuation]));
        }
        const ok = c.loglikelihood.filter((r) => r.error === undefined);
        const got = lm.loglikelihoodBatch(ok.map((r) => [r.context, r.continuation] as const));
        ok.forEach((r, i) => {
          close(got[i].logprob, r.logprob!, `${JSON.stringify([r.context, r.continuation])} logprob`);
          assert.equal(got[i].isGreedy, r.isGreedy, `${JSON.stringify([r.context, r.continuation])} isGreedy`);
        });
        for (const r of c.loglikelihood.filter((x) => x.error !== undefined)) {
          assert.throws(() => lm.loglikelihood(r.context, r.continuation), (e: unknown) =>
            e instanceof MugptError && /more than the maximum length/.test(e.message));
        }
        // the single-request form agrees with the batch
        const one = lm.loglikelihood(ok[0].context, ok[0].continuation);
        assert.equal(one.logprob, got[0].logprob);
      }
    });

    test(`${name} L=${L}: the native kernels score as the reference too (skipped without the addon)`, { skip: !nativeAvailable() }, () => {
      const native = loadModel(fixture('eval', name), { backend: 'native' });
      const lm = new EvalLM(native, tok, { ...opts, batchSize: 2 });
      const ok = c.loglikelihood.filter((r) => r.error === undefined);
      lm.loglikelihoodBatch(ok.map((r) => [r.context, r.continuation] as const)).forEach((g, i) => {
        close(g.logprob, ok[i].logprob!, `native ${JSON.stringify([ok[i].context, ok[i].continuation])}`);
        assert.equal(g.isGreedy, ok[i].isGreedy);
      });
      lm.loglikelihoodRollingBatch(c.rolling.map((r) => r.text)).forEach((g, i) => close(g, c.rolling[i].logprob, `native rolling ${i}`));
    });

    test(`${name} L=${L}: rolling windows and document log-likelihoods equal the reference`, () => {
      for (const batchSize of [1, 4]) {
        const lm = new EvalLM(model, tok, { ...opts, batchSize });
        for (const r of c.rolling) {
          assert.deepEqual(tok.encode(r.text), r.ids);
          assert.deepEqual(lm.windows(r.text), r.windows);
        }
        const got = lm.loglikelihoodRollingBatch(c.rolling.map((r) => r.text));
        c.rolling.forEach((r, i) => close(got[i], r.logprob, `rolling ${JSON.stringify(r.text.slice(0, 20))}`));
        close(lm.loglikelihoodRolling(c.rolling[3].text), c.rolling[3].logprob, 'single rolling');
      }
    });

    test(`${name} L=${L}: generateUntil equals the reference's greedy generation`, () => {
      const lm = new EvalLM(model, tok, opts);
      for (const g of c.generateUntil) {
        assert.equal(lm.generateUntil(g.context, { until: g.until, maxNewTokens: g.maxNewTokens }), g.text, JSON.stringify(g.context));
      }
    });

    test(`${name} L=${L}: acc, acc_norm, perplexity and the rolling perplexities equal lm-eval's aggregates`, () => {
      const lm = new EvalLM(model, tok, opts);
      const mc = c.metrics.multipleChoice;
      const reqs = mc.docs.flatMap((d) => d.choices.map((ch) => [d.context, ` ${ch}`] as const));
      const lls = lm.loglikelihoodBatch(reqs).map((r) => r.logprob);
      let k = 0;
      const scores = mc.docs.map((d) => {
        const mine = d.choices.map(() => lls[k++]);
        mine.forEach((x, i) => close(x, d.loglikelihoods[i], `${d.context} / ${d.choices[i]}`));
        const s = multipleChoiceScores(mine, d.choices, d.gold);
        assert.deepEqual(s, { acc: d.acc, acc_norm: d.acc_norm });
        return s;
      });
      const acc = aggregateMean(scores.map((s) => s.acc)), norm = aggregateMean(scores.map((s) => s.acc_norm));
      close(acc.value, mc.acc, 'acc', 1e-12);
      close(acc.stderr!, mc.acc_stderr, 'acc_stderr', 1e-12);
      close(norm.value, mc.acc_norm, 'acc_norm', 1e-12);
      close(norm.stderr!, mc.acc_norm_stderr, 'acc_norm_stderr', 1e-12);

      const ok = c.loglikelihood.filter((r) => r.error === undefined);
      const res = lm.loglikelihoodBatch(ok.map((r) => [r.context, r.continuation] as const));
      const greedy = aggregateMean(res.map((r) => (r.isGreedy ? 1 : 0)));
      close(greedy.value, c.metrics.loglikelihood.acc, 'loglikelihood acc', 1e-12);
      close(greedy.stderr!, c.metrics.loglikelihood.acc_stderr, 'loglikelihood acc_stderr', 1e-12);
      close(aggregatePerplexity(res.map((r) => r.logprob)).value, c.metrics.loglikelihood.perplexity, 'perplexity', 1e-3);

      const rl = lm.loglikelihoodRollingBatch(c.rolling.map((r) => r.text));
      const w = c.rolling.map((r) => rollingWeights(r.text));
      const m = c.metrics.rolling;
      close(weightedPerplexity(rl, w.map((x) => x.words)).value, m.word_perplexity, 'word_perplexity');
      close(weightedPerplexity(rl, w.map((x) => x.bytes)).value, m.byte_perplexity, 'byte_perplexity');
      close(bitsPerByte(rl, w.map((x) => x.bytes)).value, m.bits_per_byte, 'bits_per_byte');
    });
  }
}

test('rolling windows: lm-eval\'s own known answer (34 tokens, max_seq_len 10, context_len 1)', () => {
  const ids = Array.from({ length: 34 }, (_, i) => i);
  const windows = rollingWindows(ids, -100, 10);
  // lm-eval tests/test_utils.py, after make_disjoint_window
  const gold: Array<[number[], number[]]> = [
    [[-100], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
    [[9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]],
    [[19], [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]],
    [[23, 24, 25, 26, 27, 28, 29], [30, 31, 32, 33]],
  ];
  assert.deepEqual(windows.map((w) => [w.context, w.continuation]), gold);
  assert.deepEqual(rollingWindows([], 0, 10), []);
  assert.deepEqual(rollingWindows([5], 0, 10), [{ context: [0], continuation: [5] }]);
});

test('model input: left truncation to maxLength + 1 tokens, the last continuation.length positions scored', () => {
  assert.deepEqual(modelInput({ context: [1, 2, 3], continuation: [4, 5] }, 8), { prefix: [1, 2], suffix: [3, 4] });
  // 7 tokens, L = 4: input = [3, 4, 5, 6], the last 2 scored
  assert.deepEqual(modelInput({ context: [1, 2, 3, 4, 5], continuation: [6, 7] }, 4), { prefix: [3, 4], suffix: [5, 6] });
  assert.throws(() => modelInput({ context: [1], continuation: [] }, 4), /no tokens/);
  assert.throws(() => modelInput({ context: [1], continuation: [1, 2, 3, 4, 5] }, 4), /more than the maximum length 4/);
});

test('EvalLM refuses a maximum length past learned positions and a bad batch size', () => {
  const model = loadModel(fixture('eval', 'gpt2'), { backend: 'js' });
  assert.throws(() => new EvalLM(model, model.tokenizer, { maxLength: 129 }), /--max-length: 129 is more than the model's context of 128/);
  assert.throws(() => new EvalLM(model, model.tokenizer, { batchSize: 0 }), /--batch-size: expected an integer ≥ 1/);
});
