/**
 * The files `eval --out DIR` and the streaming writer create (Node only; the entries never load it):
 * which file names a model's output names may become, folders created without Node's recursive mkdir,
 * and writes whose errors name their path.
 *
 * A model chooses its output names, so a name is a file name only when it cannot leave the folder,
 * cannot be another output's file on any common file system, and cannot be a device: outputs with
 * other names are refused (one line, naming the output), never mapped to another name that the user
 * would have to guess.
 */
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { npyDescrOf } from "../onnx/dtypes.js";
import { preview } from "../util/preview.js";
import { OUTPUT_FORMAT } from "./formats.js";

/** An output whose name or element type cannot be written as DIR/NAME.npy. */
export class OutputFileError extends UserError {
  override name = "OutputFileError";
}

/** The longest output name written as a file, in UTF-8 bytes (NAME.npy.partial stays below the usual 255). */
export const MAX_OUTPUT_NAME_BYTES = 200;

/** Names Windows takes as devices, with any extension (`NUL.npy` is the null device there). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3]|conin\$|conout\$)(\..*)?$/i;
/** Characters no output file name may hold: separators, the characters Windows forbids, NUL and controls. */
const FORBIDDEN = /[/\\<>:"|?*\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** An output name as the messages show it: JSON (controls escaped), at most 60 characters, no bidi controls. */
export function shownName(name: string): string {
  return preview(name).replace(
    /[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Why `name` cannot be a file name NAME.npy, or undefined when it can. */
export function outputNameProblem(name: string): string | undefined {
  if (name === "") return "the name is empty";
  if (name === "." || name === "..") return "the name is a folder's";
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    const c = bad[0];
    if (c === "/" || c === "\\") return `the name holds a path separator (${c})`;
    if (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) >= 0x7f)
      return `the name holds a control character (U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")})`;
    return `the name holds ${c}, which Windows does not allow in a file name`;
  }
  if (LONE_SURROGATE.test(name)) return "the name is not well-formed Unicode";
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_OUTPUT_NAME_BYTES)
    return `the name is ${bytes} bytes of UTF-8, more than the ${MAX_OUTPUT_NAME_BYTES} a file name may take here`;
  if (WINDOWS_DEVICE.test(name)) return "the name is a device's on Windows";
  return undefined;
}

/** Names equal on a case-insensitive, normalizing file system (macOS, Windows) have one key. */
function foldKey(name: string): string {
  return name.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

/**
 * The file DIR/NAME.npy of each output name, after checking every name (before anything is written):
 * a name that is not a plain file name, a name given twice, and names one case-insensitive file system
 * would take as one file are refused, naming the output. `what` names the model.
 */
export function outputFiles(dir: string, names: readonly string[], what = "model"): Map<string, string> {
  const files = new Map<string, string>();
  const keys = new Map<string, string>();
  for (const name of names) {
    const problem = outputNameProblem(name);
    if (problem)
      throw new OutputFileError(`${what}: output ${shownName(name)} cannot be written as a file in the --out folder: ${problem}`);
    if (files.has(name))
      throw new OutputFileError(
        `${what}: output ${shownName(name)} cannot be written as a file in the --out folder: the model has two outputs of that name`,
      );
    const key = foldKey(name);
    const other = keys.get(key);
    if (other !== undefined) {
      throw new OutputFileError(
        `${what}: outputs ${shownName(other)} and ${shownName(name)} cannot be written as files in the --out folder: a case-insensitive file system takes them as one file`,
      );
    }
    keys.set(key, name);
    files.set(name, join(dir, `${name}${OUTPUT_FORMAT.extension}`));
  }
  return files;
}

/** Refuse an output whose element type has no .npy form here (string, complex, bfloat16), naming it. */
export function checkWritableType(name: string, dtype: string, what = "model"): void {
  if (npyDescrOf(dtype) === undefined) {
    throw new OutputFileError(
      `${what}: output ${shownName(name)} is ${dtype}, which --out cannot write as .npy (it writes numbers and bool); print it with --json instead`,
    );
  }
}

/** Give a file-system error the path it concerns (Node leaves it out of write errors, e.g. ENOSPC). */
export function withPath(e: unknown, path: string): unknown {
  if (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "string" &&
    (e as { path?: unknown }).path === undefined
  ) {
    Object.assign(e, { path });
  }
  return e;
}

/**
 * Create the folder `dir` and any missing parents, one non-recursive mkdir each: first up to the
 * nearest folder that exists, then down again. Each step runs once, so a path where mkdir keeps
 * failing (`/proc/self/x`, where Node's recursive mkdir loops forever) is refused, naming it.
 * Returns the folders it made, outermost first (none when `dir` was there).
 */
export async function makeFolder(dir: string): Promise<string[]> {
  const missing: string[] = [];
  const made: string[] = [];
  for (let p = dir; ; ) {
    try {
      const s = await stat(p);
      if (!s.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${p}'`), { code: "ENOTDIR", path: p, syscall: "mkdir" });
      break;
    } catch (e) {
      if ((e as { code?: unknown }).code !== "ENOENT") throw withPath(e, p);
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p);
      made.push(p);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (
        code === "EEXIST" &&
        (await stat(p).then(
          (s) => s.isDirectory(),
          () => false,
        ))
      )
        continue; // made meanwhile
      if (code === "ENOENT")
        throw new UserError(`${p}: cannot create this folder (mkdir says its parent does not exist, though ${dirname(p)} does)`);
      throw withPath(e, p);
    }
  }
  return made;
}

/** Open flags for a new file that never follow a link put where the file goes (O_NOFOLLOW where the OS has it). */
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0);

/** Open `path` for writing, created or truncated, not through a symbolic link; errors name the path. */
export async function openForWrite(path: string) {
  try {
    return await open(path, CREATE, 0o666);
  } catch (e) {
    throw withPath(e, path);
  }
}

/**
 * Write `bytes` to `file` (an output in a folder the user named) by way of FILE.partial, renamed when
 * complete: a failed write (a full disk) leaves neither a half-written file nor a lost earlier one, and a
 * link at FILE or FILE.partial is replaced, never followed. Errors name the file.
 */
export async function writeOutputFile(file: string, bytes: Uint8Array): Promise<void> {
  const partial = `${file}.partial`;
  const handle = await openForWrite(partial);
  try {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, done);
      done += bytesWritten;
    }
    await handle.close();
  } catch (e) {
    await handle.close().catch(() => {});
    await rm(partial, { force: true }).catch(() => {});
    throw withPath(e, file);
  }
  try {
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true }).catch(() => {});
    throw withPath(e, file);
  }
}

/** Write `bytes` to a file the user named (`-o FILE`: a link or device there is followed as given); errors name it. */
export async function writeNamedFile(path: string, bytes: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (e) {
    throw withPath(e, path);
  }
}

/**
 * The text of a small file the user named (`--options @FILE`), read in pieces and refused past `limit`
 * bytes before more is read, whatever the file is (a device such as /dev/zero, a pipe, a FIFO with a
 * writer). UTF-8; errors name the file as `shown`.
 */
export async function readBoundedText(path: string, limit: number, shown = path): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    if (typeof e === "object" && e !== null) Object.assign(e, { path: shown });
    throw e;
  }
  try {
    const pieces: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const piece = new Uint8Array(Math.min(2 ** 20, limit + 1 - total));
      const { bytesRead } = await handle.read(piece, 0, piece.length, null);
      if (bytesRead === 0) break;
      pieces.push(piece.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw new UserError(`${shown}: expected at most ${limit} bytes, the file has more`);
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of pieces) {
      all.set(p, at);
      at += p.length;
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(all);
    } catch {
      throw new UserError(`${shown}: expected UTF-8 text, received other bytes`);
    }
  } catch (e) {
    throw withPath(e, shown);
  } finally {
    await handle.close();
  }
}
