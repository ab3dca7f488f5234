/** The tensor element types this project reads and writes, by ONNX TensorProto.DataType number. */
export type DType = "float32" | "float64" | "float16" | "int64" | "int32" | "bool";

const ONNX_CODE: Readonly<Record<DType, number>> = Object.freeze({
  float32: 1, // FLOAT
  int32: 6, // INT32
  int64: 7, // INT64
  bool: 9, // BOOL
  float16: 10, // FLOAT16
  float64: 11, // DOUBLE
});

const ONNX_NAME: Readonly<Record<number, string>> = Object.freeze({
  0: "undefined", 1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
  8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
  15: "complex128", 16: "bfloat16",
});

/** The ONNX TensorProto.DataType number of a dtype. */
export function onnxDataType(dtype: DType): number {
  return ONNX_CODE[dtype];
}

/** A readable name for an ONNX TensorProto.DataType number (`float32`, `int64`, ...). */
export function dtypeName(code: number): string {
  return ONNX_NAME[code] ?? `dtype(${code})`;
}

/** The DType for an ONNX data type number, or undefined if this project does not handle it. */
export function dtypeFromOnnx(code: number): DType | undefined {
  for (const [name, c] of Object.entries(ONNX_CODE)) if (c === code) return name as DType;
  return undefined;
}
