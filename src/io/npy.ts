/**
 * NumPy .npy files (format versions 1.0 to 3.0), C order, little-endian, of the dtypes in the project's
 * dtype table (onnx/dtypes.ts: float32 <f4, float64 <f8, float16 <f2, int64 <i8, int32 <i4, bool |b1).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { UserError } from "../errors.js";
import { DTYPE_NAMES, DTYPES, dtypeFromNpy, npyDescrOf, typedArrayOf, type DType } from "../onnx/dtypes.js";
import type { TensorData } from "../tensor/tensor.js";
import { sizeOf } from "../tensor/tensor.js";
import { preview as show } from "../util/preview.js";
import { knownFormat } from "../util/sniff.js";
import type { ByteSource, OpenedTensor, TensorFormat } from "./formats.js";

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

/** The longest .npy header read (numpy's own writer pads to 64 bytes; a header this long is hostile). */
export const MAX_NPY_HEADER_BYTES = 2 ** 20;

/**
 * The header dict, a Python literal as numpy writes it: `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (3, 4), }`. Exactly the keys descr, fortran_order and shape, each once (numpy refuses other
 * key sets; a duplicated key would be read differently by numpy, which takes the last one).
 */
function parseHeaderDict(text: string, what: string): { descr?: unknown; fortran_order?: unknown; shape?: number[] } {
  let i = 0;
  const fail = (expected: string): never => {
    throw new NpyError(
      `${what}: expected a .npy header dict with descr, fortran_order and shape (${expected} at character ${i}), received ${show(text.trim())}`,
    );
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const eat = (ch: string) => {
    ws();
    if (text[i] !== ch) fail(`"${ch}"`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') return fail("a quoted string");
    const end = text.indexOf(q, i + 1);
    if (end < 0) return fail("a closing quote");
    const v = text.slice(i + 1, end);
    i = end + 1;
    return v;
  };
  const int = (): number => {
    ws();
    const m = /^(\d+)L?/.exec(text.slice(i, i + 40));
    if (!m) return fail("a non-negative integer");
    i += m[0].length;
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) return fail(`a dim below 2^53 (${m[1]})`);
    return n;
  };
  const value = (): unknown => {
    ws();
    if (text.startsWith("True", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("False", i)) {
      i += 5;
      return false;
    }
    if (text[i] === "'" || text[i] === '"') return str();
    if (text[i] === "(") {
      i++;
      const dims: number[] = [];
      for (;;) {
        ws();
        if (text[i] === ")") break;
        dims.push(int());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== ")") fail('"," or ")"');
      }
      i++;
      return dims;
    }
    return fail("a string, True, False or a tuple");
  };
  const out: Record<string, unknown> = {};
  eat("{");
  for (;;) {
    ws();
    if (text[i] === "}") break;
    const key = str();
    if (!["descr", "fortran_order", "shape"].includes(key))
      fail(`only the keys descr, fortran_order and shape, not ${JSON.stringify(key)}`);
    if (Object.hasOwn(out, key)) fail(`each key once, not ${JSON.stringify(key)} twice`);
    eat(":");
    out[key] = value();
    ws();
    if (text[i] === ",") i++;
    else if (text[i] !== "}") fail('"," or "}"');
  }
  i++;
  if (text.slice(i).trim() !== "") fail("nothing after the dict but padding");
  for (const k of ["descr", "fortran_order", "shape"]) if (!(k in out)) fail(`the key ${k}`);
  return out as { descr?: unknown; fortran_order?: unknown; shape?: number[] };
}

/** The magic, version and header length of .npy bytes: where the header dict starts and how long it is. */
function preamble(bytes: Uint8Array, what: string): { major: number; start: number; headerLen: number } {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    const known = knownFormat(bytes);
    // a tensor saved another way: how to save it as .npy
    const hint = known ? "; save each tensor with numpy.save (a torch tensor: np.save(path, t.detach().cpu().numpy()))" : "";
    throw new NpyError(`${what}: expected a .npy file (magic \\x93NUMPY), received ${known ?? "other bytes"}${hint}`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return { major, start: 10, headerLen: view.getUint16(8, true) };
  if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(`${what}: truncated .npy header`);
    return { major, start: 12, headerLen: view.getUint32(8, true) };
  }
  throw new NpyError(`${what}: expected .npy format version 1, 2 or 3, received ${major}`);
}

/**
 * How many bytes of a .npy file its preamble and header take, from its first 12 bytes (at most
 * MAX_NPY_HEADER_BYTES + 12; 12 where they are not a .npy start, which parseNpyHeader then names).
 */
export function npyHeaderBytes(first: Uint8Array): number {
  try {
    const { start, headerLen } = preamble(first, "");
    return start + Math.min(headerLen, MAX_NPY_HEADER_BYTES);
  } catch {
    return 12;
  }
}

/** Parse the header of .npy bytes (at least the first header bytes). `what` names the file in errors. */
export function parseNpyHeader(bytes: Uint8Array, what = "npy"): NpyHeader {
  const { major, start, headerLen } = preamble(bytes, what);
  if (headerLen > MAX_NPY_HEADER_BYTES) {
    throw new NpyError(`${what}: expected a .npy header of at most ${MAX_NPY_HEADER_BYTES} bytes, received one of ${headerLen}`);
  }
  if (bytes.length < start + headerLen) throw new NpyError(`${what}: truncated .npy header`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + headerLen));
  const dict = parseHeaderDict(header, what);
  const { descr, fortran_order: fortran, shape } = dict;
  if (typeof descr !== "string") throw new NpyError(`${what}: expected descr to be a dtype string, received ${show(descr)}`);
  if (typeof fortran !== "boolean") throw new NpyError(`${what}: expected fortran_order True or False, received ${show(fortran)}`);
  if (!Array.isArray(shape)) throw new NpyError(`${what}: expected shape to be a tuple of integers, received ${show(shape)}`);
  const dtype = dtypeFromNpy(descr);
  if (!dtype) {
    throw new NpyError(`${what}: expected a little-endian dtype of ${SUPPORTED}, received ${descr}`);
  }
  if (fortran) throw new NpyError(`${what}: expected C order, received fortran_order True (save with np.ascontiguousarray)`);
  const dims = shape;
  return { dtype, dims, dataOffset: start + headerLen };
}

/** Decode a whole .npy file. */
export function decodeNpy(bytes: Uint8Array, what = "npy"): TensorData {
  const h = parseNpyHeader(bytes, what);
  const count = sizeOf(h.dims);
  const need = count * DTYPES[h.dtype].bytes;
  if (bytes.length - h.dataOffset < need) {
    throw new NpyError(
      `${what}: expected ${need} data bytes for ${h.dtype} ${JSON.stringify(h.dims)}, received ${bytes.length - h.dataOffset}`,
    );
  }
  // copy into an aligned buffer of its own (Buffer#slice would return a view of a shared pool)
  const buf = Uint8Array.prototype.slice.call(bytes, h.dataOffset, h.dataOffset + need).buffer;
  return { dtype: h.dtype, dims: h.dims, data: typedArrayOf(h.dtype, buf) };
}

/**
 * Encode a tensor as .npy (format 1.0): a dtype of the table, or one of the other integer types
 * onnxruntime returns (uint8 as |u1, uint64 as <u8, ...: onnx/dtypes.ts npyDescrOf). Other types (string)
 * are refused.
 */
export function encodeNpy(t: TensorData): Uint8Array {
  const descr = npyDescrOf(t.dtype);
  if (descr === undefined || !ArrayBuffer.isView(t.data))
    throw new NpyError(`.npy: cannot write a tensor of ${String(t.dtype)} (it holds numbers and bool)`);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += `${" ".repeat((64 - (total % 64)) % 64)}\n`;
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

/**
 * The .npy format for the tensor-file seam (io/formats.ts): its header read in two bounded reads (the
 * 12-byte preamble says how long the rest is), rows read by offset from the data's start.
 */
export const NPY_FORMAT: TensorFormat = {
  name: "npy",
  extension: ".npy",
  magicLength: MAGIC.length,
  matches: (head) => MAGIC.every((b, i) => head[i] === b),
  async open(source: ByteSource, shown: string): Promise<OpenedTensor> {
    const pre = new Uint8Array(12);
    const preRead = await source.read(pre, 0);
    const head = new Uint8Array(npyHeaderBytes(pre.subarray(0, preRead)));
    const got = await source.read(head, 0);
    const header = parseNpyHeader(head.subarray(0, got), shown);
    const rowBytes = sizeOf(header.dims.slice(1)) * DTYPES[header.dtype].bytes;
    const need = header.dataOffset + sizeOf(header.dims) * DTYPES[header.dtype].bytes;
    if (source.size < need)
      throw new NpyError(`${shown}: expected ${need} bytes for ${header.dtype} [${header.dims.join(", ")}], the file has ${source.size}`);
    return {
      dtype: header.dtype,
      dims: header.dims,
      async readRows(view: Uint8Array, from: number): Promise<void> {
        const start = header.dataOffset + from * rowBytes;
        for (let done = 0; done < view.length; ) {
          const n = await source.read(view.subarray(done), start + done);
          if (n === 0) throw new NpyError(`${shown}: ended early at row ${from}`);
          done += n;
        }
      },
    };
  },
  decode: decodeNpy,
  encode: encodeNpy,
  // the header of an empty array of these dims: the same header bytes, no data
  header: (dtype, dims) => encodeNpy({ dtype, dims: [...dims], data: new Uint8Array(0) } as unknown as TensorData),
};
