/** Shape and indexing ops. Squeeze/Unsqueeze take axes as an input (every supported opset is >= 13). */
import type { Value } from "../graph.js";

/** Insert size-1 axes ([Unsqueeze](https://onnx.ai/onnx/operators/onnx__Unsqueeze.html)). */
export function unsqueeze(x: Value, axes: readonly number[]): Value {
  return x.graph.node("Unsqueeze", [x, x.graph.constant([...axes], "int64")]);
}

/** Remove size-1 axes ([Squeeze](https://onnx.ai/onnx/operators/onnx__Squeeze.html)). */
export function squeeze(x: Value, axes: readonly number[]): Value {
  return x.graph.node("Squeeze", [x, x.graph.constant([...axes], "int64")]);
}

/** Reshape to a constant shape (0 copies, -1 infers) ([Reshape](https://onnx.ai/onnx/operators/onnx__Reshape.html)). */
export function reshape(x: Value, shape: readonly number[] | Value): Value {
  const s = Array.isArray(shape) ? x.graph.constant([...shape], "int64") : (shape as Value);
  return x.graph.node("Reshape", [x, s]);
}

/** The shape of x as int64 [rank] ([Shape](https://onnx.ai/onnx/operators/onnx__Shape.html)). */
export function shape(x: Value): Value {
  return x.graph.node("Shape", [x], {}, { dtype: "int64" });
}

/** Take entries along an axis ([Gather](https://onnx.ai/onnx/operators/onnx__Gather.html)). */
export function gather(data: Value, indices: Value | number, axis = 0): Value {
  const idx = typeof indices === "number" ? data.graph.constant(indices, data.graph.indexType) : indices;
  return data.graph.node("Gather", [data, idx], { axis });
}

/**
 * Take one entry per position along an axis ([GatherElements](https://onnx.ai/onnx/operators/onnx__GatherElements.html)).
 * Negative indices wrap around in ONNX: callers validate indices first.
 */
export function gatherElements(data: Value, indices: Value, axis: number): Value {
  return data.graph.node("GatherElements", [data, indices], { axis });
}
