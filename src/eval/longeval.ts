// A synthetic long-context retrieval task in the style of LongEval's line retrieval (LongChat,
// Li et al. 2023): a record of N lines "line i: REGISTER_CONTENT is <n>" (n uniform in 1 … 50,000),
// then a question for one line's number. LongEval asks chat models and takes the last number of the
// reply; base models (which the papers evaluate) are given the answer's opening instead,
// "line i: REGISTER_CONTENT is <", as LongEval does for its completion-only model, and generate up
// to ">". Scored with generate-until (greedy) and exact match of the generated number.
import { check } from '../errors.js';
import { Rng } from '../rng.js';

export interface LongEvalDoc {
  /** The whole prompt, ending in the answer's opening. */
  context: string;
  /** Stop sequences of the generation. */
  until: string[];
  /** The expected number, as text. */
  target: string;
  /** Lines in the record, and the (1-based) line asked about. */
  num_lines: number;
  line: number;
}

const HEADER = 'Below is a record of lines I want you to remember. Each line begins with \'line <line index>\' and contains '
  + 'a \'<REGISTER_CONTENT>\' at the end of the line as a numerical value. For each line index, memorize its corresponding '
  + '<REGISTER_CONTENT>. At the end of the record, I will ask you to retrieve the corresponding <REGISTER_CONTENT> of a '
  + 'certain line index. Now the record start:\n\n';

/** Tokens the answer may take: a number of at most 5 digits and the closing ">". */
export const LONGEVAL_MAX_NEW_TOKENS = 8;

/** `count` prompts for each record length in `lines`, deterministic in seed. */
export function makeLongEval(o: { lines: number[]; count: number; seed: number }): LongEvalDoc[] {
  check(o.lines.length > 0 && o.lines.every((n) => Number.isInteger(n) && n >= 1), `--lines: expected integers ≥ 1, got ${o.lines.join(',')}`);
  check(Number.isInteger(o.count) && o.count >= 1, `--count: expected an integer ≥ 1, got ${o.count}`);
  const docs: LongEvalDoc[] = [];
  for (const n of o.lines) {
    const rng = new Rng(o.seed * 100_003 + n);
    for (let k = 0; k < o.count; k++) {
      const values = Array.from({ length: n }, () => 1 + rng.int(50_000));
      const line = 1 + rng.int(n);
      const record = values.map((v, i) => `line ${i + 1}: REGISTER_CONTENT is <${v}>\n`).join('');
      const question = `\nNow the record is over. Tell me what is the <REGISTER_CONTENT> in line ${line}? I need the number.\n`;
      docs.push({ context: `${HEADER}${record}${question}line ${line}: REGISTER_CONTENT is <`, until: ['>', '\n'], target: String(values[line - 1]), num_lines: n, line });
    }
  }
  return docs;
}

/** Checks a parsed JSONL row of a LongEval file; `where` names the file and line. */
export function parseLongEvalDoc(v: unknown, where: string): LongEvalDoc {
  const o = v as Record<string, unknown>;
  check(v !== null && typeof v === 'object' && !Array.isArray(v), `${where}: expected a JSON object`);
  for (const f of ['context', 'target'] as const) check(typeof o[f] === 'string' && o[f] !== '', `${where}: field "${f}" must be a non-empty string`);
  check(Array.isArray(o.until) && o.until.length > 0 && o.until.every((s) => typeof s === 'string' && s !== ''),
    `${where}: field "until" must be a non-empty array of non-empty strings`);
  for (const f of ['num_lines', 'line'] as const) check(Number.isInteger(o[f]) && (o[f] as number) >= 1, `${where}: field "${f}" must be an integer ≥ 1`);
  return o as unknown as LongEvalDoc;
}

/** A generate-until function: greedy text after context, cut at the first of until. */
export type GenerateUntil = (context: string, o: { until: string[]; maxNewTokens: number }) => string | Promise<string>;

export interface LongEvalSample { doc_id: number; num_lines: number; target: string; generated: string; exact_match: boolean }

export interface LongEvalResult {
  /** Exact-match accuracy per record length, with lm-eval's stderr (sample std ÷ √n). */
  byLines: Array<{ num_lines: number; exact_match: number; exact_match_stderr: number; n: number }>;
  exact_match: number;
  samples: LongEvalSample[];
}

function meanStderr(xs: number[]): [number, number] {
  const n = xs.length, mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return [mean, NaN];
  const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return [mean, Math.sqrt(v / n)];
}

/** Runs every document through generate and scores exact match (the generated text, trimmed, equals the target). */
export async function scoreLongEval(docs: LongEvalDoc[], generate: GenerateUntil, onProgress?: (done: number, total: number) => void): Promise<LongEvalResult> {
  const samples: LongEvalSample[] = [];
  for (const [i, d] of docs.entries()) {
    const generated = await generate(d.context, { until: d.until, maxNewTokens: LONGEVAL_MAX_NEW_TOKENS });
    samples.push({ doc_id: i, num_lines: d.num_lines, target: d.target, generated, exact_match: generated.trim() === d.target });
    onProgress?.(i + 1, docs.length);
  }
  const lines = [...new Set(docs.map((d) => d.num_lines))].sort((a, b) => a - b);
  const byLines = lines.map((n) => {
    const xs = samples.filter((s) => s.num_lines === n).map((s) => (s.exact_match ? 1 : 0));
    const [m, se] = meanStderr(xs);
    return { num_lines: n, exact_match: m, exact_match_stderr: se, n: xs.length };
  });
  return { byLines, exact_match: meanStderr(samples.map((s) => (s.exact_match ? 1 : 0)))[0], samples };
}
