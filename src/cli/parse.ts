/** Parsing of flag values shared by the commands. */
import { dirname, resolve } from "node:path";
import { UserError } from "../errors.js";
import { readBoundedText } from "../io/files.js";
import { decodeTensorBytes } from "../io/formats.js";
import { readFileBounded } from "../io/read.js";
import { tensorFileHeader } from "../io/tensor_files.js";
import { tensorNumbers } from "../tensor/tensor.js";
import { depthAbove, received } from "../losses/options.js";
import { UsageError } from "./errors.js";

/** The longest `--options` JSON read (a list of 10^5 class weights is about 1 MB). */
export const MAX_OPTIONS_JSON = 16 * 2 ** 20;
/** How deep `--options` JSON may nest (options are numbers, strings, null and flat lists). */
export const MAX_OPTIONS_DEPTH = 8;

/**
 * `--options JSON`: an object, at most MAX_OPTIONS_JSON characters and MAX_OPTIONS_DEPTH deep. `flag`
 * names where the text came from in errors (`--options @opts.json`).
 */
export function parseOptionsJson(text: string | undefined, flag = "--options"): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  if (text.length > MAX_OPTIONS_JSON)
    throw new UsageError(`${flag}: expected at most ${MAX_OPTIONS_JSON} characters of JSON, received ${text.length}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    // NaN and Infinity are JavaScript, not JSON: say so rather than only where parsing stopped
    const hint = /(^|[^\w"])-?(NaN|Infinity)\b/.test(text) ? " (JSON has no NaN or Infinity: write a number, or leave the option out)" : "";
    throw new UsageError(`${flag}: expected a JSON object, could not parse ${received(text)}: ${(e as Error).message}${hint}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new UsageError(`${flag}: expected a JSON object, received ${received(text)}`);
  }
  if (depthAbove(v, MAX_OPTIONS_DEPTH))
    throw new UsageError(`${flag}: expected JSON at most ${MAX_OPTIONS_DEPTH} levels deep, received deeper`);
  return v as Record<string, unknown>;
}

/**
 * The value of `--options` for every command that takes it: JSON text, or `@FILE`, the JSON read from
 * FILE (relative to `cwd`; at most MAX_OPTIONS_JSON bytes, read in pieces, so a device or pipe is
 * bounded too; the file named in errors). One argument is capped near 128 KiB by the OS; a file is not.
 */
export async function readOptionsFlag(text: string | undefined, cwd: string): Promise<Record<string, unknown> | undefined> {
  if (text === undefined || !text.startsWith("@")) {
    const options = parseOptionsJson(text);
    return options && listsFromFiles(options, cwd, "--options");
  }
  const file = text.slice(1);
  if (file === "") throw new UsageError("--options: expected a file name after @ (--options @FILE reads the JSON from FILE)");
  const flag = `--options @${file}`;
  let content: string;
  try {
    content = await readBoundedText(resolve(cwd, file), MAX_OPTIONS_JSON, file);
  } catch (e) {
    if (e instanceof UserError && !(e instanceof UsageError))
      throw new UsageError(`${flag}: ${e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message}`);
    throw e;
  }
  const options = parseOptionsJson(content, flag) as Record<string, unknown>;
  return listsFromFiles(options, dirname(resolve(cwd, file)), flag);
}

/** The most values a number list read from a .npy file may hold (a class weight per class). */
export const MAX_LIST_FILE_VALUES = 2 ** 24;

/**
 * Options whose value is the name of a .npy file: the file's values as a list of numbers (a number-list
 * option such as weight, alpha or posWeight, saved with numpy.save), read relative to `base` (the
 * working folder, or the folder of the @FILE the options came from). The file must hold one dimension
 * of at most MAX_LIST_FILE_VALUES numbers; the loss's own check then decides whether the list fits.
 */
async function listsFromFiles(options: Record<string, unknown>, base: string, flag: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (typeof value !== "string" || !/\.npy$/i.test(value)) {
      out[key] = value;
      continue;
    }
    const where = `${flag}: ${key}: ${value}`;
    const path = resolve(base, value);
    let header: { dtype: string; dims: readonly number[] };
    try {
      header = await tensorFileHeader(path, value);
    } catch (e) {
      if (e instanceof UserError) throw new UsageError(`${flag}: ${key}: ${e.message}`);
      throw e;
    }
    if (header.dims.length !== 1 || header.dims[0] > MAX_LIST_FILE_VALUES || header.dtype === "bool") {
      throw new UsageError(
        `${where}: expected a list of numbers (one dimension of at most ${MAX_LIST_FILE_VALUES}, as numpy.save of a 1-D array writes), received ${header.dtype} [${header.dims.join(", ")}]`,
      );
    }
    const t = decodeTensorBytes(await readFileBounded(path, { shown: value }), value);
    out[key] = tensorNumbers(t);
  }
  return out;
}

/** An integer flag value. */
export function parseIntFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`${flag}: expected an integer, received ${JSON.stringify(text)}`);
  return Number(text);
}

/** Collect repeatable `--input NAME=FILE` flags. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Split `NAME=FILE`. */
export function parseNamedFile(flag: string, text: string): { name: string; file: string } {
  const i = text.indexOf("=");
  if (i <= 0 || i === text.length - 1) throw new UsageError(`${flag}: expected NAME=FILE.npy, received ${JSON.stringify(text)}`);
  return { name: text.slice(0, i), file: text.slice(i + 1) };
}
