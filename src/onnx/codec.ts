import { UserError } from "../errors.js";
import { onnx } from "./generated/onnx.js";
import { knownFormat, textStart } from "../util/sniff.js";

export { onnx };

/** A ModelProto as plain properties (what the builder produces and the reader consumes). */
export type ModelProps = onnx.ModelProto.$Properties;

/**
 * Encode a ModelProto to its protobuf bytes. Fields are written in field-number order and only when
 * set, so equal properties give equal bytes.
 */
export function encodeModel(model: ModelProps): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Bytes that are not an ONNX model. */
export class ModelDecodeError extends UserError {
  override name = "ModelDecodeError";
}

/**
 * Decode ONNX model bytes. Throws a ModelDecodeError that names `what` (a file, by default "onnx
 * model") when protobuf decoding fails.
 */
export function decodeModel(bytes: Uint8Array, what = "onnx model"): onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (e) {
    const known = knownFormat(bytes.subarray(0, 16)) ?? textStart(bytes);
    if (known) throw new ModelDecodeError(`${what}: expected an ONNX model (ModelProto bytes), received ${known}`);
    throw new ModelDecodeError(`${what}: expected ONNX ModelProto bytes, could not decode: ${(e as Error).message}`);
  }
}

/** An int64 field from a decoded message (protobufjs gives a Long when the value is not a number). */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === "number" ? v : v.toNumber();
}
