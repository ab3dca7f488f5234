/** Parsing of flag values shared by the commands. */
import { resolve } from "node:path";
import { UserError } from "../errors.js";
import { readBoundedText } from "../io/files.js";
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
  if (text === undefined || !text.startsWith("@")) return parseOptionsJson(text);
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
  return parseOptionsJson(content, flag);
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
