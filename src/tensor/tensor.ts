/** Plain tensors that cross the evaluator boundary, independent of onnxruntime's Tensor class. */
import type { DType, TypedData } from "../onnx/dtypes.js";

import { fromFloat16Bits } from "../onnx/float16.js";

export { dtypeOfArray, typedArrayOf, type TypedData } from "../onnx/dtypes.js";
export { fromFloat16Bits, toFloat16Bits } from "../onnx/float16.js";

/** Element types an evaluator accepts and returns: the project's dtypes (onnx/dtypes.ts). */
export type TensorDType = DType;

/** A tensor: row-major (C order) data and its dims. */
export interface TensorData {
  dtype: TensorDType;
  dims: number[];
  data: TypedData;
}

/**
 * The typed array an output of each dtype arrives in. Each is backed by an ArrayBuffer (TypeScript 5.7+
 * `Float32Array<ArrayBuffer>`, not `<ArrayBufferLike>`), so an output can be assigned to a variable made
 * with `new Float32Array(n)` or typed `Float32Array`, and fed back as an input.
 */
export interface TypedArrayOf {
  float32: Float32Array<ArrayBuffer>;
  float64: Float64Array<ArrayBuffer>;
  /** IEEE half-precision bits (fromFloat16Bits reads them). */
  float16: Uint16Array<ArrayBuffer>;
  int64: BigInt64Array<ArrayBuffer>;
  int32: Int32Array<ArrayBuffer>;
  /** 0/1 bytes. */
  bool: Uint8Array<ArrayBuffer>;
}

/**
 * An output tensor whose dtype is known: `TensorOf<"float32">`'s data is a Float32Array, `TensorOf<"int64">`'s
 * a BigInt64Array. A union of dtypes is a union narrowed by `dtype` (`if (t.dtype === "float64") t.data`).
 */
export type TensorOf<D extends TensorDType = TensorDType> = {
  [K in D]: { dtype: K; dims: number[]; data: TypedArrayOf[K] };
}[D];

/** What a caller may feed: a typed array (dtype taken from it) or a plain number array with dims. */
export interface TensorInput {
  data: TypedData | readonly number[] | readonly bigint[];
  dims: readonly number[];
  /** Required only for plain arrays of numbers whose dtype is ambiguous; taken from the model otherwise. */
  dtype?: TensorDType;
}

/** The number of elements of dims. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** `[2, 3]` */
export function fmtDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(", ")}]`;
}

/** Numbers of any tensor (float16 bits decoded, int64 as numbers). */
export function tensorNumbers(t: TensorData): number[] {
  if (t.dtype === "float16") return Array.from(t.data as Uint16Array, fromFloat16Bits);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}
