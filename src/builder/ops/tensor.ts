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

/** The element count of x as an int64 scalar ([Size](https://onnx.ai/onnx/operators/onnx__Size.html)). */
export function size(x: Value): Value {
  return x.graph.node("Size", [x], {}, { dtype: "int64" });
}

/** Join tensors along an axis ([Concat](https://onnx.ai/onnx/operators/onnx__Concat.html)). */
export function concat(values: readonly Value[], axis: number): Value {
  return values[0].graph.node("Concat", [...values], { axis });
}

/** Pad with a constant, `pads` an int64 [2 rank] tensor of begins then ends ([Pad](https://onnx.ai/onnx/operators/onnx__Pad.html)). */
export function pad(x: Value, pads: Value, fill: Value): Value {
  return x.graph.node("Pad", [x, pads, fill], { mode: "constant" });
}

/** Entries starts..ends along axes, int64 tensors ([Slice](https://onnx.ai/onnx/operators/onnx__Slice.html)). */
export function slice(x: Value, starts: Value, ends: Value, axes: Value): Value {
  return x.graph.node("Slice", [x, starts, ends, axes]);
}

/** Broadcast x to a shape given as an int64 tensor ([Expand](https://onnx.ai/onnx/operators/onnx__Expand.html)). */
export function expand(x: Value, to: Value): Value {
  return x.graph.node("Expand", [x, to]);
}

/** start, start + delta, .. below limit: scalars of one type ([Range](https://onnx.ai/onnx/operators/onnx__Range.html)). */
export function range(start: Value, limit: Value, delta: Value): Value {
  return start.graph.node("Range", [start, limit, delta]);
}

/** data with updates written at indices along an axis ([ScatterElements](https://onnx.ai/onnx/operators/onnx__ScatterElements.html)). */
export function scatterElements(data: Value, indices: Value, updates: Value, axis: number): Value {
  return data.graph.node("ScatterElements", [data, indices, updates], { axis });
}

/** Permute the axes ([Transpose](https://onnx.ai/onnx/operators/onnx__Transpose.html)). */
export function transpose(x: Value, perm: readonly number[]): Value {
  return x.graph.node("Transpose", [x], { perm: [...perm] });
}

/** Running sums along the axis given as a scalar tensor ([CumSum](https://onnx.ai/onnx/operators/onnx__CumSum.html)). */
export function cumSum(x: Value, axis: Value): Value {
  return x.graph.node("CumSum", [x, axis]);
}

/** Matrix product, numpy-style ([MatMul](https://onnx.ai/onnx/operators/onnx__MatMul.html)). */
export function matMul(a: Value, b: Value): Value {
  return a.graph.node("MatMul", [a, b]);
}
