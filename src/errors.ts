// User-facing errors: a message that names the file, field or flag and what was expected.
// The CLI prints these without a stack trace; anything else is a bug and keeps its stack.

export class MugptError extends Error {
  override readonly name = 'MugptError';
}

/** Throws a MugptError unless cond holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new MugptError(typeof message === 'string' ? message : message());
}

/** Plain words for the errno codes a file operation meets on a user's machine. */
const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, not a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'already exists',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EXDEV: 'source and target are on different devices',
};

/** A Node file-system error (it carries an errno code), as thrown by node:fs. */
export function isFsError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' &&
    typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/** The reason a file operation failed, in words ("no space left on the device"). */
export function fsReason(err: NodeJS.ErrnoException): string {
  return FS_REASONS[err.code ?? ''] ?? err.message.replace(/^[A-Z]+: /, '').split(',')[0];
}

/**
 * A value as JSON for an error message: cut to `max` characters, and safe for any parsed input (a
 * nesting too deep for JSON.stringify's recursion is described instead of overflowing the stack).
 */
export function shown(v: unknown, max = 120): string {
  let s: string | undefined;
  try { s = JSON.stringify(v); } catch { return Array.isArray(v) ? '[a deeply nested array]' : '{a deeply nested value}'; }
  if (s === undefined) return String(v);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}
