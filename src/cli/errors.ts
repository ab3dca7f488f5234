import { UserError } from "../errors.js";

/** Bad command-line usage (a missing argument, a malformed flag value). */
export class UsageError extends UserError {
  override name = "UsageError";
}

/** File-system errors that are the user's: a missing file, a folder given for a file, no permission. */
const FS_CODES: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, expected a file",
  ENOTDIR: "not a directory",
  EACCES: "permission denied",
  EEXIST: "already exists",
  EMFILE: "too many open files (raise ulimit -n)",
  ENFILE: "too many open files in the system",
};

/** Errors that are the user's input, not a bug: reported as one line, exit code 2. */
export function isUserError(e: unknown): boolean {
  if (e instanceof UserError) return true;
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(FS_CODES, code);
}

/** One line for the user: file-system errors say which path and what went wrong. */
export function oneLine(e: unknown): string {
  const err = e as { code?: string; path?: string; message?: string };
  if (typeof err?.code === "string" && err.path && Object.prototype.hasOwnProperty.call(FS_CODES, err.code)) {
    return `${err.path}: ${FS_CODES[err.code]}`;
  }
  return String(err?.message ?? e).split("\n")[0];
}
