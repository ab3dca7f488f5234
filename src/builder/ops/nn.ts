/** Normalizations over an axis. */
import type { Value } from "../graph.js";
import { exp, log, sub } from "./elementwise.js";
import { reduceMax, reduceSum } from "./reduce.js";

/**
 * log(softmax(x)) along an axis ([LogSoftmax](https://onnx.ai/onnx/operators/onnx__LogSoftmax.html));
 * under the WebGPU lowering `x - max - log(sum(exp(x - max)))`.
 */
export function logSoftmax(x: Value, axis: number): Value {
  if (x.graph.lowering === "webgpu") {
    const { shifted, lse } = logSumExpParts(x, axis);
    return sub(shifted, lse);
  }
  return x.graph.node("LogSoftmax", [x], { axis });
}

/** softmax(x) along an axis ([Softmax](https://onnx.ai/onnx/operators/onnx__Softmax.html)). */
export function softmax(x: Value, axis: number): Value {
  return x.graph.node("Softmax", [x], { axis });
}

/**
 * The pieces of a log-softmax along `axis`, decomposed: `shifted = x - max(x)` and
 * `lse = log(sum(exp(shifted)))` (both keep the axis with size 1), so `logp = shifted - lse`.
 * Callers that only need some classes gather from `shifted` and subtract `lse` afterwards.
 * On [N, C, d..] layouts onnxruntime's CPU LogSoftmax(axis=1) is ~10x slower than this form.
 */
export function logSumExpParts(x: Value, axis: number): { shifted: Value; lse: Value } {
  const m = reduceMax(x, { axes: [axis], keepdims: true });
  const shifted = sub(x, m);
  const lse = log(reduceSum(exp(shifted), { axes: [axis], keepdims: true }));
  return { shifted, lse };
}
