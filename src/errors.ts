// User-facing errors: a message that names the file, field or flag and what was expected.
// The CLI prints these without a stack trace; anything else is a bug and keeps its stack.

export class MugptError extends Error {
  override readonly name = 'MugptError';
}

/** Throws a MugptError unless cond holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new MugptError(typeof message === 'string' ? message : message());
}
