/** Plain tensors that cross the evaluator boundary, independent of onnxruntime's Tensor class. */

/** Element types an evaluator accepts and returns. */
export type TensorDType = "float32" | "float64" | "int64" | "int32" | "bool" | "float16";

/** The typed array of each dtype. */
export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

/** A tensor: row-major (C order) data and its dims. */
export interface TensorData {
  dtype: TensorDType;
  dims: number[];
  data: TypedData;
}

/** What a caller may feed: a typed array (dtype taken from it) or a plain number array with dims. */
export interface TensorInput {
  data: TypedData | readonly number[] | readonly bigint[];
  dims: readonly number[];
  /** Required only for plain arrays of numbers whose dtype is ambiguous; taken from the model otherwise. */
  dtype?: TensorDType;
}

/** The dtype of a typed array. */
export function dtypeOfArray(a: unknown): TensorDType | undefined {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof BigInt64Array) return "int64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Uint8Array) return "bool";
  if (a instanceof Uint16Array) return "float16";
  return undefined;
}

/** The number of elements of dims. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** `[2, 3]` */
export function fmtDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(", ")}]`;
}
