// YAML config text → a plain value, with errors a user can act on: the file, line and column, the
// parser's reason and the offending line with a caret under the spot (the `yaml` package's snippet).
import { parse, YAMLError } from 'yaml';
import { MugptError } from '../errors.js';

/** Parses YAML text read from `path`; a syntax error is a MugptError with the snippet. */
export function parseYamlText(text: string, path: string): unknown {
  try {
    return parse(text, { logLevel: 'error' });
  } catch (err) {
    // The parser's other refusals: an alias bomb (its alias-count limit), nesting past the stack.
    if (!(err instanceof YAMLError)) throw new MugptError(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    // The package's message: "REASON at line L, column C:\n\nSOURCE LINE\n   ^\n".
    const [head, ...rest] = err.message.split('\n');
    const reason = head.replace(/ at line \d+, column \d+:$/, '');
    const where = err.linePos ? `${path}:${err.linePos[0].line}:${err.linePos[0].col}` : path;
    const snippet = rest.filter((l) => l.trim() !== '').map((l) => `  ${l}`).join('\n');
    throw new MugptError(`${where}: not valid YAML: ${reason}${snippet ? `\n${snippet}` : ''}`);
  }
}
