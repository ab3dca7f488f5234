import { NpyError } from "../io/npy.js";
import { ModelDecodeError } from "../onnx/codec.js";
import { OptionError } from "../losses/options.js";
import { ProviderError } from "../runtime/providers.js";
import { InputError } from "../runtime/validate.js";

/** Bad command-line usage (a missing argument, a malformed flag value). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Errors that are the user's input, not a bug: reported as one line, exit code 2. */
export function isUserError(e: unknown): boolean {
  if (e instanceof UsageError || e instanceof OptionError || e instanceof InputError || e instanceof ProviderError || e instanceof NpyError || e instanceof ModelDecodeError) {
    return true;
  }
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && /^(ENOENT|EISDIR|ENOTDIR|EACCES|EEXIST)$/.test(code)) return true;
  // range errors from option-like values (opset)
  return e instanceof RangeError && /^opset:/.test((e as Error).message);
}

/** One line for the user: file-system errors say which path and what went wrong. */
export function oneLine(e: unknown): string {
  const err = e as { code?: string; path?: string; message?: string };
  if (typeof err?.code === "string" && err.path) {
    const what: Record<string, string> = {
      ENOENT: "no such file or directory",
      EISDIR: "is a directory, expected a file",
      ENOTDIR: "not a directory",
      EACCES: "permission denied",
      EEXIST: "already exists",
    };
    return `${err.path}: ${what[err.code] ?? err.code}`;
  }
  return String(err?.message ?? e).split("\n")[0];
}
