/**
 * NumPy .npy files (format versions 1.0 to 3.0), C order, little-endian, of the dtypes in the project's
 * dtype table (onnx/dtypes.ts: float32 <f4, float64 <f8, float16 <f2, int64 <i8, int32 <i4, bool |b1).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { UserError } from "../errors.js";
import { DTYPE_NAMES, DTYPES, dtypeFromNpy, typedArrayOf, type DType } from "../onnx/dtypes.js";
import type { TensorData } from "../runtime/tensor.js";
import { sizeOf } from "../runtime/tensor.js";

/** A malformed or unsupported .npy file. */
export class NpyError extends UserError {
  override name = "NpyError";
}

/** The dtypes a .npy file may hold, as the errors list them: `float32 (<f4), ...`. */
const SUPPORTED = DTYPE_NAMES.map((d) => `${d} (${DTYPES[d].npy})`).join(", ");
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** The header of a .npy file and where its data starts. */
export interface NpyHeader {
  dtype: DType;
  dims: number[];
  dataOffset: number;
}

/** Parse the header of .npy bytes (at least the first header bytes). `what` names the file in errors. */
export function parseNpyHeader(bytes: Uint8Array, what = "npy"): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw new NpyError(`${what}: expected a .npy file (magic \\x93NUMPY), received other bytes`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${what}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyError(`${what}: expected .npy format version 1, 2 or 3, received ${major}`);
  }
  if (bytes.length < start + headerLen) throw new NpyError(`${what}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError(`${what}: expected a .npy header with descr, fortran_order and shape, received ${JSON.stringify(header.trim())}`);
  }
  const dtype = dtypeFromNpy(descr);
  if (!dtype) {
    throw new NpyError(`${what}: expected a little-endian dtype of ${SUPPORTED}, received ${descr}`);
  }
  if (fortran === "True") throw new NpyError(`${what}: expected C order, received fortran_order True (save with np.ascontiguousarray)`);
  const dims = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s.replace(/L$/, "")));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`${what}: bad shape (${shapeText})`);
  return { dtype, dims, dataOffset: start + headerLen };
}

/** Decode a whole .npy file. */
export function decodeNpy(bytes: Uint8Array, what = "npy"): TensorData {
  const h = parseNpyHeader(bytes, what);
  const count = sizeOf(h.dims);
  const need = count * DTYPES[h.dtype].bytes;
  if (bytes.length - h.dataOffset < need) {
    throw new NpyError(`${what}: expected ${need} data bytes for ${h.dtype} ${JSON.stringify(h.dims)}, received ${bytes.length - h.dataOffset}`);
  }
  // copy into an aligned buffer of its own (Buffer#slice would return a view of a shared pool)
  const buf = Uint8Array.prototype.slice.call(bytes, h.dataOffset, h.dataOffset + need).buffer;
  return { dtype: h.dtype, dims: h.dims, data: typedArrayOf(h.dtype, buf) };
}

/** Encode a tensor as .npy (format 1.0). */
export function encodeNpy(t: TensorData): Uint8Array {
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(", ")})`;
  let header = `{'descr': '${DTYPES[t.dtype].npy}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const head = new TextEncoder().encode(header);
  const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(10 + head.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(data, 10 + head.length);
  return out;
}
