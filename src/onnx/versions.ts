/**
 * Opset to IR version, as onnx's `helper.VERSION_TABLE` records it: the IR version of the first ONNX
 * release that shipped each ai.onnx opset. A model must declare at least this IR version for its opset.
 */
import { OptionError } from "../errors.js";

const MIN_IR_VERSION_FOR_OPSET: Readonly<Record<number, number>> = Object.freeze({
  13: 7, // onnx 1.8
  14: 7, // onnx 1.9
  15: 8, // onnx 1.10
  16: 8, // onnx 1.11
  17: 8, // onnx 1.12
  18: 8, // onnx 1.13
  19: 9, // onnx 1.14
  20: 9, // onnx 1.15
  21: 10, // onnx 1.16
  22: 10, // onnx 1.17
  23: 11, // onnx 1.18
});

/** The lowest and highest ai.onnx opset this project emits, and the default. */
export const MIN_OPSET = 13;
export const MAX_OPSET = 23;
export const DEFAULT_OPSET = 17;

/** The opsets this project can emit, in order. */
export const SUPPORTED_OPSETS: readonly number[] = Object.freeze(
  Object.keys(MIN_IR_VERSION_FOR_OPSET)
    .map(Number)
    .sort((a, b) => a - b),
);

/**
 * Check an opset: the one place that knows the allowed range. Returns it; throws OptionError otherwise.
 * @example checkOpset(17) // 17
 */
export function checkOpset(opset: unknown): number {
  if (typeof opset !== "number" || MIN_IR_VERSION_FOR_OPSET[opset] === undefined) {
    throw new OptionError(`opset: expected an integer from ${MIN_OPSET} to ${MAX_OPSET}, received ${JSON.stringify(opset)}`);
  }
  return opset;
}

/**
 * The IR version a model of the given ai.onnx opset declares.
 * @example irVersionForOpset(17) // 8
 */
export function irVersionForOpset(opset: number): number {
  return MIN_IR_VERSION_FOR_OPSET[checkOpset(opset)];
}
