import { UserError } from "../errors.js";

/** Bad command-line usage (a missing argument, a malformed flag value). */
export class UsageError extends UserError {
  override name = "UsageError";
}

/**
 * File-system errors that are the user's (a missing file, a folder given for a file, no permission, a
 * full disk, too many open files): one line naming the path, exit 2. The writes and opens of the CLI
 * give each error its path (io/files.ts withPath), which Node leaves out of write errors.
 */
const FS_CODES: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, expected a file",
  ENOTDIR: "not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EEXIST: "already exists",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large",
  EIO: "input/output error",
  EROFS: "read-only file system",
  EMFILE: "too many open files in this process (raise ulimit -n)",
  ENFILE: "too many open files on this system",
  ENAMETOOLONG: "name too long",
  ELOOP: "too many levels of symbolic links, or a symbolic link where a file is written",
  EBUSY: "resource busy or locked",
  ETXTBSY: "text file busy",
  ENXIO: "no such device or address",
  ENODEV: "no such device",
  EXDEV: "cross-device link",
  ENOTEMPTY: "directory not empty",
};

/** Errors that are the user's input, not a bug: reported as one line, exit code 2. */
export function isUserError(e: unknown): boolean {
  if (e instanceof UserError) return true;
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && Object.hasOwn(FS_CODES, code);
}

/** One line for the user: file-system errors say which path and what went wrong. */
export function oneLine(e: unknown): string {
  const err = e as { code?: string; path?: string; message?: string };
  if (typeof err?.code === "string" && Object.hasOwn(FS_CODES, err.code)) {
    if (err.path) return `${err.path}: ${FS_CODES[err.code]}`;
    return `${FS_CODES[err.code]} (${err.code}${typeof (err as { syscall?: unknown }).syscall === "string" ? `, ${(err as { syscall: string }).syscall}` : ""})`;
  }
  return String(err?.message ?? e).split("\n")[0];
}
