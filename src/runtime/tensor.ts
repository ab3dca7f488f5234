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

/** A typed array of `dtype` over `buffer` (from its start, `length` elements or all that fit). */
export function typedArrayOf(dtype: TensorDType, buffer: ArrayBuffer, length?: number): TypedData {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, 0, length);
    case "float64":
      return new Float64Array(buffer, 0, length);
    case "int64":
      return new BigInt64Array(buffer, 0, length);
    case "int32":
      return new Int32Array(buffer, 0, length);
    case "bool":
      return new Uint8Array(buffer, 0, length);
    case "float16":
      return new Uint16Array(buffer, 0, length);
  }
}

/** The number of elements of dims. */
export function sizeOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** `[2, 3]` */
export function fmtDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(", ")}]`;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE float16 bits of a number, rounded to nearest even (overflow to infinity, NaN kept). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000; // subnormal: shift the implicit bit in
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is still right
  return sign | half;
}

/** The number an IEEE float16 bit pattern holds. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Numbers of any tensor (float16 bits decoded, int64 as numbers). */
export function tensorNumbers(t: TensorData): number[] {
  if (t.dtype === "float16") return Array.from(t.data as Uint16Array, fromFloat16Bits);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}
