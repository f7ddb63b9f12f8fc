// A few hundred fuzz cases of every input format (tools/fuzz; the full runs of 10,000 a format are in
// docs/reliability.md): each must end in success or a MugptError naming the file, within its time and
// memory limits. A fixed seed other than the full run's, so CI adds coverage rather than repeating it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from '../tools/fuzz/runner.js';
import { TARGETS } from '../tools/fuzz/targets.js';

const CASES = 200;
/** Loading a whole model (a 50,257-token GGUF tokenizer included) takes about 100 times longer a case. */
const FEWER: Record<string, number> = { 'gguf-model': 20 };

for (const { name } of TARGETS) {
  const cases = FEWER[name] ?? CASES;
  test(`fuzz ${name}: ${cases} cases end in success or a MugptError naming the file`, async () => {
    const s = await runFuzz({ format: name, cases, seed: 20261206, timeoutMs: 60_000 });
    assert.equal(s.cases, cases);
    assert.deepEqual(s.failures, [], s.failures.map((f) => `case ${f.case}: ${f.why}`).join('\n'));
    assert.ok(s.refused > 0 || name === 'encode' || name === 'jsonl' || name === 'text', 'the mutations reach the checks');
    assert.ok(s.accepted > 0, 'valid inputs are accepted');
  });
}
