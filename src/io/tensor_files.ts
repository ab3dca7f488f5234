/**
 * Node only: tensor files on disk through the format seam (io/formats.ts). A file opened for streaming
 * is read by offset, in whole rows; one read whole goes through the bounded reader (io/read.ts). The
 * format is told by the file's first bytes, never by its name.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { DTYPES, type DType } from "../onnx/dtypes.js";
import { sizeOf } from "../tensor/tensor.js";
import { archiveKeys } from "./archives.js";
import { type ArrayPick, archiveOf, type ByteSource, MAGIC_LENGTH, openTensor } from "./formats.js";
import { FileError } from "./read.js";

/** A tensor file open for reads of whole rows (streaming): close it when done. */
export interface TensorFile {
  /** The file as errors name it. */
  readonly file: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Values and bytes in one row (dims after the first). */
  readonly rowElems: number;
  readonly rowBytes: number;
  /** Fill `view` (whole rows) with the rows from row `from` on. */
  readRows(view: Uint8Array, from: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a file that is not a regular file (nor a folder, which fails as EISDIR) is, for the refusal;
 * undefined for a regular file.
 */
function notRegular(st: Stats): string | undefined {
  if (st.isFile() || st.isDirectory()) return undefined;
  if (st.isFIFO()) return "a FIFO or pipe";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * A streamed input that is not a regular file: streaming reads each chunk by its offset in the file
 * (ESPIPE on a pipe), so a pipe, a FIFO or a device is refused, by a stat that never blocks (opening a
 * FIFO without a writer blocks).
 */
export class StreamFileError extends FileError {
  override name = "StreamFileError";
  constructor(
    readonly file: string,
    readonly kind: string,
  ) {
    super(
      `${file}: expected a regular file to stream, received ${kind}: streamed evaluation reads files by offset; copy it to a regular file`,
    );
  }
}

/** Refuse a path that is not a regular file before anything opens it (stat does not block on a FIFO). */
export async function checkStreamable(path: string, shown = path): Promise<void> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch {
    return; // a missing file fails in open, with its path
  }
  const kind = notRegular(st);
  if (kind) throw new StreamFileError(shown, kind);
}

/**
 * Open a tensor file for reads of whole rows: a regular file only (StreamFileError otherwise), its
 * format told by its first bytes, its header read and its size checked against it. `shown` names it.
 */
export async function openTensorFile(path: string, shown = path, pick?: ArrayPick): Promise<TensorFile> {
  const handle = await openRegular(path, shown);
  try {
    const { source, head } = await sourceOf(handle, shown);
    const t = await openTensor(source, head, shown, pick);
    const rowElems = sizeOf(t.dims.slice(1));
    return {
      file: shown,
      dtype: t.dtype,
      dims: t.dims,
      rowElems,
      rowBytes: rowElems * DTYPES[t.dtype].bytes,
      readRows: (view, from) => t.readRows(view, from),
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close().catch(() => undefined); // the first error is the one to report
    throw namedError(e, shown);
  }
}

/** A regular file opened for reading (StreamFileError for anything else). */
async function openRegular(path: string, shown: string): Promise<FileHandle> {
  await checkStreamable(path, shown);
  // O_NONBLOCK: a file swapped for a FIFO after the stat opens at once and is refused below, never waits
  return open(path, constants.O_RDONLY | constants.O_NONBLOCK);
}

/** An open file as a ByteSource, checked to be regular, and its first MAGIC_LENGTH bytes (fewer in a shorter file). */
async function sourceOf(handle: FileHandle, shown: string): Promise<{ source: ByteSource; head: Uint8Array }> {
  const st = await handle.stat();
  const kind = notRegular(st);
  if (kind) throw new StreamFileError(shown, kind);
  const source = {
    size: st.size,
    read: async (view: Uint8Array, position: number) => (await handle.read(view, 0, view.length, position)).bytesRead,
  };
  const head = new Uint8Array(MAGIC_LENGTH);
  return { source, head: head.subarray(0, await source.read(head, 0)) };
}

/** Reading a folder fails with EISDIR but no path: the error names the file, as for a missing one. */
function namedError(e: unknown, shown: string): unknown {
  if (typeof e === "object" && e !== null && (e as { code?: unknown }).code !== undefined && (e as { path?: unknown }).path === undefined)
    Object.assign(e, { path: shown });
  return e;
}

/** A tensor file's dims from its header alone (what a loss name is built for: the input's rank). */
export async function tensorFileDims(path: string, shown = path, pick?: ArrayPick): Promise<readonly number[]> {
  return (await tensorFileHeader(path, shown, pick)).dims;
}

/** A tensor file's dtype and dims (the array `pick` names in an archive), read from its header (bounded reads, the data never loaded). */
export async function tensorFileHeader(path: string, shown = path, pick?: ArrayPick): Promise<{ dtype: DType; dims: readonly number[] }> {
  const t = await openTensorFile(path, shown, pick);
  await t.close();
  return { dtype: t.dtype, dims: t.dims };
}

/**
 * The array names of an archive on disk (.npz, .safetensors), from its index alone; undefined for a file
 * of one tensor (.npy). A regular file only.
 */
export async function archiveFileKeys(path: string, shown = path): Promise<string[] | undefined> {
  const handle = await openRegular(path, shown);
  try {
    const { source, head } = await sourceOf(handle, shown);
    const archive = archiveOf(head, shown);
    return archive === undefined ? undefined : await archiveKeys(source, archive, shown);
  } catch (e) {
    throw namedError(e, shown);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
