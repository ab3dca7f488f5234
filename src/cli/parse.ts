/** Parsing of flag values shared by the commands. */
import { UsageError } from "./errors.js";

/** `--options JSON`: an object. */
export function parseOptionsJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--options: expected a JSON object, could not parse ${JSON.stringify(text)}: ${(e as Error).message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new UsageError(`--options: expected a JSON object, received ${JSON.stringify(text)}`);
  }
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
