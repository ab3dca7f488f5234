/** Parsing of flag values shared by the commands. */
import { depthAbove, received } from "../losses/options.js";
import { UsageError } from "./errors.js";

/** The longest `--options` JSON read (a list of 10^5 class weights is about 1 MB). */
export const MAX_OPTIONS_JSON = 16 * 2 ** 20;
/** How deep `--options` JSON may nest (options are numbers, strings, null and flat lists). */
export const MAX_OPTIONS_DEPTH = 8;

/** `--options JSON`: an object, at most MAX_OPTIONS_JSON characters and MAX_OPTIONS_DEPTH deep. */
export function parseOptionsJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  if (text.length > MAX_OPTIONS_JSON) throw new UsageError(`--options: expected at most ${MAX_OPTIONS_JSON} characters of JSON, received ${text.length}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--options: expected a JSON object, could not parse ${received(text)}: ${(e as Error).message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new UsageError(`--options: expected a JSON object, received ${received(text)}`);
  }
  if (depthAbove(v, MAX_OPTIONS_DEPTH)) throw new UsageError(`--options: expected JSON at most ${MAX_OPTIONS_DEPTH} levels deep, received deeper`);
  return v as Record<string, unknown>;
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
