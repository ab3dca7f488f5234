/**
 * Node only: the reads of files the caller names (models, .npy files), each bounded before it starts,
 * and the checks of a model's external data against its folder. A read opens the file without blocking
 * (a FIFO without a writer would block in open), refuses what is not a regular file (a device such as
 * /dev/zero, a FIFO, a socket, a directory) with one line naming the path, checks the size with fstat
 * against a limit, and reads that many bytes in bounded pieces.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, open, realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { UserError } from "../errors.js";
import type { ExternalRef } from "../onnx/external.js";

/** The largest model read: 2 GiB, protobuf's limit on one message (larger models keep their weights in external data). */
export const MAX_MODEL_BYTES = 2 ** 31;

/** A file that cannot be read as asked: not a regular file, too large, external data that is not where it should be. */
export class FileError extends UserError {
  override name = "FileError";
}

/** What kind of file a stat describes, as a message says it. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe) or pipe";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

const PIECE = 64 * 2 ** 20;

/** Reasons an open fails that are the path's, beyond those cli/errors.ts words (ENOENT, EISDIR, ENOTDIR, EACCES). */
const OPEN_FAILURES: Readonly<Record<string, string>> = {
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "its name is too long",
  EPERM: "operation not permitted",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
};

/**
 * A regular file's bytes, at most `limit` of them. `shown` names the file in errors (default: the path);
 * `what` says what it was to be ("a .onnx model"). Throws FileError, or Node's error with its path for a
 * file that is missing or unreadable.
 */
export async function readFileBounded(path: string, options: { limit?: number; shown?: string; what?: string } = {}): Promise<Uint8Array> {
  const shown = options.shown ?? path;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    // a socket cannot be opened at all; a device may refuse the open
    if (code === "ENXIO" || code === "ENODEV")
      throw new FileError(
        `${shown}: not a regular file (${code === "ENXIO" ? "a socket or a device without a reader" : "a device"}), expected ${options.what ?? "a file"}`,
      );
    if (typeof code === "string" && OPEN_FAILURES[code]) throw new FileError(`${shown}: cannot be opened (${OPEN_FAILURES[code]})`);
    if (typeof e === "object" && e !== null && (e as { path?: unknown }).path === undefined) Object.assign(e, { path: shown });
    throw e;
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new FileError(`${shown}: is a directory, expected a file`);
    if (!st.isFile())
      throw new FileError(
        `${shown}: ${fileKind(st)}, expected ${options.what ?? "a file"} (a regular file: onnx-losses reads no devices, pipes or sockets)`,
      );
    if (st.size > limit) throw new FileError(`${shown}: ${st.size} bytes, expected ${options.what ?? "a file"} of at most ${limit} bytes`);
    const out = new Uint8Array(st.size);
    let done = 0;
    while (done < st.size) {
      const { bytesRead } = await fh.read(out, done, Math.min(PIECE, st.size - done), done);
      if (bytesRead === 0) throw new FileError(`${shown}: ${done} bytes where fstat said ${st.size}: the file changed while it was read`);
      done += bytesRead;
    }
    return out;
  } catch (e) {
    if (typeof e === "object" && e !== null && (e as { code?: unknown }).code && (e as { path?: unknown }).path === undefined)
      Object.assign(e, { path: shown });
    throw e;
  } finally {
    await fh.close();
  }
}

/**
 * Check each external-data reference against the disk: the location, resolved against `dir` (the
 * model's folder), must be a regular file inside that folder after symbolic links are followed, and
 * hold the tensor's bytes at its offset. Throws FileError naming `what`, the tensor and the location.
 */
export async function checkExternalFiles(refs: readonly ExternalRef[], dir: string, what = "model"): Promise<void> {
  if (refs.length === 0) return;
  let root: string;
  try {
    root = await realpath(dir);
  } catch {
    throw new FileError(`${what}: its folder ${dir} cannot be read, which its external data is resolved against`);
  }
  const sizes = new Map<string, number>();
  for (const r of refs) {
    const fail = (why: string): never => {
      throw new FileError(`${what}: ${r.tensor}: external data ${JSON.stringify(r.location)} ${why}`);
    };
    let size = sizes.get(r.location);
    if (size === undefined) {
      let real: string;
      try {
        real = await realpath(resolve(root, r.location));
      } catch (e) {
        const code = (e as { code?: string }).code;
        return fail(code === "ENOENT" ? `not found in the model's folder (${dir})` : `cannot be opened (${code ?? String(e)})`);
      }
      const rel = relative(root, real);
      if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel))
        fail(`leaves the model's folder (it resolves to ${real}, outside ${root})`);
      const st = await stat(real);
      if (!st.isFile()) fail(`is ${fileKind(st)}, expected a regular file`);
      size = st.size;
      sizes.set(r.location, size);
    }
    if (r.offset + r.length > size) fail(`offset ${r.offset} length ${r.length}: past the end of the file (${size} bytes)`);
  }
}

/** stat of a path the caller named: a failure that is the path's (a link loop, a name too long) is a FileError naming it. */
export async function statPath(path: string, shown = path): Promise<Stats> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && OPEN_FAILURES[code]) throw new FileError(`${shown}: cannot be opened (${OPEN_FAILURES[code]})`);
    throw e;
  }
}

/** A model file: its bytes (bounded) and the folder its external data resolves against, checked. */
export async function readModelFile(path: string, shown = path): Promise<{ bytes: Uint8Array; dir: string }> {
  const bytes = await readFileBounded(path, { limit: MAX_MODEL_BYTES, shown, what: "a .onnx model" });
  return { bytes, dir: dirname(resolve(path)) };
}
