import { readFile } from "node:fs/promises";

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** The working directory relative paths resolve against. */
  cwd: string;
  /** Show progress bars (stderr is a terminal). */
  progress?: boolean;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
  cwd: process.cwd(),
  progress: process.stderr.isTTY === true,
};

/**
 * A file's bytes. Node's readFile of a folder fails with EISDIR but no path: the error gets `path`, so
 * the one-line message names the file (see errors.ts) as it does for a missing one.
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if (typeof e === "object" && e !== null && (e as { path?: unknown }).path === undefined) Object.assign(e, { path });
    throw e;
  }
}
