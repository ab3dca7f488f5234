/**
 * The element types this project reads and writes, in one table: the ONNX TensorProto.DataType number,
 * the bytes per element, the .npy descr and the typed array that holds the values. The graph builder,
 * the model reader, the .npy codec, the streaming reader and the evaluator all read it from here.
 */

/** The tensor element types this project handles. */
export type DType = "float32" | "float64" | "float16" | "int64" | "int32" | "bool";

/** The float types a loss graph can take and return. */
export type FloatDType = "float32" | "float16" | "float64";

/** The float types, in the order help texts list them (the default first). */
export const FLOAT_DTYPES: readonly FloatDType[] = Object.freeze(["float32", "float16", "float64"]);

/** The typed array of each dtype (float16 values are their IEEE bits in a Uint16Array; bool is 0/1 bytes). */
export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

type TypedArrayClass = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedData;
  new (length: number): TypedData;
  readonly BYTES_PER_ELEMENT: number;
};

/** One row of the table. */
export interface DTypeFacts {
  /** ONNX TensorProto.DataType number. */
  readonly onnx: number;
  /** Bytes per element. */
  readonly bytes: number;
  /** The .npy descr (little-endian) numpy writes for it. */
  readonly npy: string;
  /** The typed array that holds its values. */
  readonly array: TypedArrayClass;
}

/** The table itself. */
export const DTYPES: Readonly<Record<DType, DTypeFacts>> = Object.freeze({
  float32: { onnx: 1, bytes: 4, npy: "<f4", array: Float32Array },
  int32: { onnx: 6, bytes: 4, npy: "<i4", array: Int32Array },
  int64: { onnx: 7, bytes: 8, npy: "<i8", array: BigInt64Array },
  bool: { onnx: 9, bytes: 1, npy: "|b1", array: Uint8Array },
  float16: { onnx: 10, bytes: 2, npy: "<f2", array: Uint16Array },
  float64: { onnx: 11, bytes: 8, npy: "<f8", array: Float64Array },
});

/** Every handled dtype, in table order. */
export const DTYPE_NAMES: readonly DType[] = Object.freeze(Object.keys(DTYPES) as DType[]);

/** Is `name` one of the handled dtypes? */
export function isDType(name: unknown): name is DType {
  return typeof name === "string" && Object.hasOwn(DTYPES, name);
}

/** Is `name` one of the float types a graph takes? */
export function isFloatDType(name: unknown): name is FloatDType {
  return (FLOAT_DTYPES as readonly unknown[]).includes(name);
}

/** Readable names of every ONNX data type number, including the ones this project does not handle. */
const ONNX_NAME: Readonly<Record<number, string>> = Object.freeze({
  0: "undefined",
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
});

/** The ONNX TensorProto.DataType number of a dtype. */
export function onnxDataType(dtype: DType): number {
  return DTYPES[dtype].onnx;
}

/** A readable name for an ONNX TensorProto.DataType number (`float32`, `int64`, ...). */
export function dtypeName(code: number): string {
  return ONNX_NAME[code] ?? `dtype(${code})`;
}

/** The DType for an ONNX data type number, or undefined if this project does not handle it. */
export function dtypeFromOnnx(code: number): DType | undefined {
  return DTYPE_NAMES.find((d) => DTYPES[d].onnx === code);
}

/** The DType of a .npy descr (`<f4`, `=f4`, `|b1`, ...), or undefined. */
export function dtypeFromNpy(descr: string): DType | undefined {
  const norm = descr.replace(/^=/, "<");
  return DTYPE_NAMES.find((d) => DTYPES[d].npy === norm);
}

/** The DType of a typed array (a Uint8Array reads as bool, a Uint16Array as float16 bits), or undefined. */
export function dtypeOfArray(a: unknown): DType | undefined {
  return DTYPE_NAMES.find((d) => a instanceof DTYPES[d].array);
}

/** A typed array of `dtype` over `buffer` (from byte `offset`, `length` elements or all that fit). */
export function typedArrayOf(dtype: DType, buffer: ArrayBufferLike, length?: number, offset = 0): TypedData {
  return new DTYPES[dtype].array(buffer, offset, length);
}

/**
 * The .npy descr of the integer types onnxruntime can return besides the table's (a model's outputs,
 * written by `eval --out`; never read: inputs stay the table's types).
 */
const OUTPUT_ONLY_NPY: Readonly<Record<string, string>> = Object.freeze({
  int8: "|i1",
  uint8: "|u1",
  int16: "<i2",
  uint16: "<u2",
  uint32: "<u4",
  uint64: "<u8",
});

/** The .npy descr a tensor of `dtype` (a table dtype or one of onnxruntime's other integer types) is written with, or undefined. */
export function npyDescrOf(dtype: string): string | undefined {
  if (isDType(dtype)) return DTYPES[dtype].npy;
  return Object.hasOwn(OUTPUT_ONLY_NPY, dtype) ? OUTPUT_ONLY_NPY[dtype] : undefined;
}
