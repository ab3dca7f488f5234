/**
 * The seam for tensor files. A format is one object: the bytes it starts with, how to open it for reads
 * of whole rows by offset (streaming), how to decode and encode a whole file, and the header written
 * before rows that arrive in chunks. `eval`, streaming and the page use formats only through this module
 * (and io/tensor_files.ts, which opens files on disk with it), so a new format is one file exporting a
 * TensorFormat plus its line in TENSOR_FORMATS: docs/adding-an-input-format.md.
 *
 * Pure (no Node module): the web entry decodes with it too.
 */
import type { DType } from "../onnx/dtypes.js";
import type { TensorData, TensorDType } from "../tensor/tensor.js";
import { type ArchiveKind, archiveKind, ArchiveError, decodeArchiveMember, type InflateBudget, openArchiveMember } from "./archives.js";
import { NPY_FORMAT, NpyError } from "./npy.js";
import { looksLike } from "../util/sniff.js";

/** Random access to a file's bytes: a FileHandle in Node, a Blob or bytes in memory elsewhere. */
export interface ByteSource {
  /** The size in bytes. */
  readonly size: number;
  /** Read into `view` from byte `position`; resolves to the bytes read (fewer only at the end). */
  read(view: Uint8Array, position: number): Promise<number>;
}

/** A tensor of a file, its header read, ready for reads of whole rows (along dim 0). */
export interface OpenedTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /**
   * Fill `view`, a whole number of rows, with rows from row `from` on: C order, little-endian, as a
   * typed array of `dtype` holds them. Throws the format's error for a file that ends early.
   */
  readRows(view: Uint8Array, from: number): Promise<void>;
}

export interface TensorFormat {
  /** As errors and docs name it: "npy". */
  readonly name: string;
  /** The file name extension outputs get: ".npy". */
  readonly extension: string;
  /** Do a file's first bytes (at least `magicLength` of them when the file has them) start this format? */
  matches(head: Uint8Array): boolean;
  readonly magicLength: number;
  /** Read the header through `source` (bounded reads) and check the data is all there. `shown` names the file in errors. */
  open(source: ByteSource, shown: string): Promise<OpenedTensor>;
  /** A whole file's bytes as a tensor (its data copied into a buffer of its own). */
  decode(bytes: Uint8Array, shown: string): TensorData;
  /** A tensor as a whole file's bytes. */
  encode(t: TensorData): Uint8Array;
  /** The bytes before the data of a file of `dtype` and `dims` whose rows are written as they come. */
  header(dtype: TensorDType, dims: readonly number[]): Uint8Array;
}

/** Every format a tensor file may have, tried in this order by its first bytes. */
export const TENSOR_FORMATS: readonly TensorFormat[] = [NPY_FORMAT];

/** The format outputs are written in. */
export const OUTPUT_FORMAT: TensorFormat = NPY_FORMAT;

/** The first bytes read to tell a file's format: the longest magic of TENSOR_FORMATS, and the archives' (io/archives.ts). */
export const MAGIC_LENGTH = Math.max(16, ...TENSOR_FORMATS.map((f) => f.magicLength));

/**
 * Which array of an archive (.npz, .safetensors: io/archives.ts) a read takes: `key`; `explicit` when the
 * caller named it (`--input NAME=FILE:KEY`), so that a file of one tensor with a key is refused rather
 * than the key ignored.
 */
export interface ArrayPick {
  readonly key: string;
  readonly explicit?: boolean;
}

/** The archive kind of a file's first bytes, or undefined for a tensor format (a pickle is refused). */
export function archiveOf(head: Uint8Array, shown: string): ArchiveKind | undefined {
  return archiveKind(head, shown);
}

function oneTensor(shown: string, pick: ArrayPick | undefined): void {
  if (pick?.explicit)
    throw new ArchiveError(
      `${shown}: holds one tensor, not an archive of arrays: drop :${pick.key}, which picks an array of a .npz or .safetensors`,
    );
}

function noKey(shown: string, kind: ArchiveKind): never {
  throw new ArchiveError(`${shown}: a .${kind} archive of several arrays: name the one to read`);
}

/** Open a tensor of a file (a tensor file, or one array of an archive) for reads of whole rows. */
export async function openTensor(source: ByteSource, head: Uint8Array, shown: string, pick?: ArrayPick): Promise<OpenedTensor> {
  const kind = archiveOf(head, shown);
  if (kind) return openArchiveMember(source, kind, shown, pick?.key ?? noKey(shown, kind));
  oneTensor(shown, pick);
  return formatOf(head, shown).open(source, shown);
}

/**
 * The format a file's first bytes start; bytes that start none (nor an archive: the callers asked
 * archiveOf first) are refused in one line naming every format read and what the bytes look like.
 */
export function formatOf(head: Uint8Array, shown: string): TensorFormat {
  const format = TENSOR_FORMATS.find((f) => f.matches(head));
  if (format) return format;
  throw new NpyError(`${shown}: expected a .npy, .npz or .safetensors file, received ${looksLike(head) ?? "other bytes"}`);
}

/**
 * A whole tensor file's bytes, in whichever format they are, or the array `pick` names of an archive's
 * (.npz, .safetensors; only that array is inflated). `shown` names the file in errors; `budget`, what
 * deflated members may inflate to, is shared by the reads it is given to (a fresh one otherwise).
 */
export function decodeTensorBytes(bytes: Uint8Array, shown: string, pick?: ArrayPick, budget?: InflateBudget): TensorData {
  const head = bytes.subarray(0, MAGIC_LENGTH);
  const kind = archiveOf(head, shown);
  if (kind) return decodeArchiveMember(bytes, kind, shown, pick?.key ?? noKey(shown, kind), budget);
  oneTensor(shown, pick);
  return formatOf(head, shown).decode(bytes, shown);
}
