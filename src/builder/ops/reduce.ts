/**
 * Reductions. The only place that knows where the axes go: ReduceSum takes them as an input from
 * opset 13, ReduceMean/ReduceMax/ReduceMin/ReduceLogSumExp/ReduceProd from opset 18; before that they
 * are an attribute. https://onnx.ai/onnx/operators/onnx__ReduceSum.html
 */
import type { Value } from "../graph.js";

type ReduceOp = "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceLogSumExp" | "ReduceProd";

/** The first opset at which each reduction takes `axes` as an input instead of an attribute. */
const AXES_AS_INPUT_SINCE: Readonly<Record<ReduceOp, number>> = {
  ReduceSum: 13,
  ReduceMean: 18,
  ReduceMax: 18,
  ReduceMin: 18,
  ReduceLogSumExp: 18,
  ReduceProd: 18,
};

/** Options of a reduction. */
export interface ReduceOptions {
  /** Axes to reduce; all axes when omitted. */
  axes?: readonly number[];
  /** Keep reduced axes with size 1 (default false). */
  keepdims?: boolean;
}

function reduce(op: ReduceOp, x: Value, { axes, keepdims = false }: ReduceOptions): Value {
  const g = x.graph;
  const attrs: Record<string, number | number[]> = { keepdims: keepdims ? 1 : 0 };
  if (axes === undefined) return g.node(op, [x], attrs);
  if (g.opset >= AXES_AS_INPUT_SINCE[op]) return g.node(op, [x, g.constant([...axes], "int64")], attrs);
  return g.node(op, [x], { ...attrs, axes: [...axes] });
}

/** Sum over axes ([ReduceSum](https://onnx.ai/onnx/operators/onnx__ReduceSum.html)). */
export const reduceSum = (x: Value, o: ReduceOptions = {}): Value => reduce("ReduceSum", x, o);
/** Mean over axes ([ReduceMean](https://onnx.ai/onnx/operators/onnx__ReduceMean.html)). */
export const reduceMean = (x: Value, o: ReduceOptions = {}): Value => reduce("ReduceMean", x, o);
/** Max over axes ([ReduceMax](https://onnx.ai/onnx/operators/onnx__ReduceMax.html)). */
export const reduceMax = (x: Value, o: ReduceOptions = {}): Value => reduce("ReduceMax", x, o);
/** Min over axes ([ReduceMin](https://onnx.ai/onnx/operators/onnx__ReduceMin.html)). */
export const reduceMin = (x: Value, o: ReduceOptions = {}): Value => reduce("ReduceMin", x, o);
/** log(sum(exp(x))) over axes ([ReduceLogSumExp](https://onnx.ai/onnx/operators/onnx__ReduceLogSumExp.html)). */
export const reduceLogSumExp = (x: Value, o: ReduceOptions = {}): Value => reduce("ReduceLogSumExp", x, o);
/** Product over axes ([ReduceProd](https://onnx.ai/onnx/operators/onnx__ReduceProd.html)). */
export const reduceProd = (x: Value, o: ReduceOptions = {}): Value => reduce("ReduceProd", x, o);
