/**
 * Elementwise ops. Binary ops broadcast numpy-style
 * (https://onnx.ai/onnx/repo-docs/Broadcasting.html); a number operand becomes a scalar constant of the
 * other operand's dtype.
 */
import type { DType } from "../../onnx/dtypes.js";
import { onnxDataType } from "../../onnx/dtypes.js";
import type { Value } from "../graph.js";
import { lift, type Operand, pickValue } from "./common.js";

function binary(op: string, a: Operand, b: Operand): Value {
  const like = pickValue(a, b, op);
  return like.graph.node(op, sameType(op, lift(a, like), lift(b, like)));
}

/** ONNX binds both operands of an elementwise op to one type: check it here, not at session creation. */
function sameType(op: string, a: Value, b: Value): [Value, Value] {
  if (a.dtype !== b.dtype)
    throw new Error(`${op}: expected operands of one dtype, received ${a.dtype} (${a.name}) and ${b.dtype} (${b.name})`);
  return [a, b];
}

function unary(op: string, x: Value): Value {
  return x.graph.node(op, [x]);
}

/** a + b ([Add](https://onnx.ai/onnx/operators/onnx__Add.html)) */
export const add = (a: Operand, b: Operand): Value => binary("Add", a, b);
/** a - b ([Sub](https://onnx.ai/onnx/operators/onnx__Sub.html)) */
export const sub = (a: Operand, b: Operand): Value => binary("Sub", a, b);
/** a * b ([Mul](https://onnx.ai/onnx/operators/onnx__Mul.html)) */
export const mul = (a: Operand, b: Operand): Value => binary("Mul", a, b);
/** a / b ([Div](https://onnx.ai/onnx/operators/onnx__Div.html)) */
export const div = (a: Operand, b: Operand): Value => binary("Div", a, b);
/** a mod b, integers ([Mod](https://onnx.ai/onnx/operators/onnx__Mod.html)) */
export const mod = (a: Operand, b: Operand): Value => binary("Mod", a, b);
/** a ** b ([Pow](https://onnx.ai/onnx/operators/onnx__Pow.html)) */
export const pow = (a: Operand, b: Operand): Value => binary("Pow", a, b);
/**
 * elementwise max of two tensors ([Max](https://onnx.ai/onnx/operators/onnx__Max.html)). Under the
 * WebGPU lowering, where onnxruntime-web's WebGPU backend has no Max or Min kernel (they would run on
 * the CPU in the middle of the GPU work), `Where(a < b, b, a)`: the same values, infinities included,
 * and a NaN in a stays NaN (a NaN in b gives a, where Max gives NaN).
 */
export const max = (a: Operand, b: Operand): Value => extremum("Max", a, b);
/** elementwise min of two tensors ([Min](https://onnx.ai/onnx/operators/onnx__Min.html)); lowered as {@link max}, `Where(b < a, b, a)`. */
export const min = (a: Operand, b: Operand): Value => extremum("Min", a, b);

function extremum(op: "Max" | "Min", a: Operand, b: Operand): Value {
  const like = pickValue(a, b, op);
  if (like.graph.lowering !== "webgpu") return binary(op, a, b);
  const [va, vb] = sameType(op, lift(a, like), lift(b, like));
  return where(op === "Max" ? less(va, vb) : less(vb, va), vb, va);
}

/** -x ([Neg](https://onnx.ai/onnx/operators/onnx__Neg.html)) */
export const neg = (x: Value): Value => unary("Neg", x);
/** e^x ([Exp](https://onnx.ai/onnx/operators/onnx__Exp.html)) */
export const exp = (x: Value): Value => unary("Exp", x);
/** natural log ([Log](https://onnx.ai/onnx/operators/onnx__Log.html)) */
export const log = (x: Value): Value => unary("Log", x);
/** |x| ([Abs](https://onnx.ai/onnx/operators/onnx__Abs.html)) */
export const abs = (x: Value): Value => unary("Abs", x);
/** max(x, 0) ([Relu](https://onnx.ai/onnx/operators/onnx__Relu.html)) */
export const relu = (x: Value): Value => unary("Relu", x);
/** 1 / (1 + e^-x) ([Sigmoid](https://onnx.ai/onnx/operators/onnx__Sigmoid.html)) */
export const sigmoid = (x: Value): Value => unary("Sigmoid", x);
/**
 * log(1 + e^x) ([Softplus](https://onnx.ai/onnx/operators/onnx__Softplus.html)); under the WebGPU
 * lowering `max(x, 0) + log(1 + e^-|x|)`, which never overflows.
 */
export function softplus(x: Value): Value {
  if (x.graph.lowering === "webgpu") return add(relu(x), log(add(exp(neg(abs(x))), 1)));
  return unary("Softplus", x);
}
/** logical not ([Not](https://onnx.ai/onnx/operators/onnx__Not.html)) */
export const not = (x: Value): Value => unary("Not", x);

/** Clamp into [lo, hi]; either bound may be omitted ([Clip](https://onnx.ai/onnx/operators/onnx__Clip.html)). */
export function clip(x: Value, lo?: number, hi?: number): Value {
  const g = x.graph;
  const inputs = [x, lo === undefined ? null : g.constant(lo, x.dtype), hi === undefined ? null : g.constant(hi, x.dtype)];
  while (inputs[inputs.length - 1] === null) inputs.pop();
  return g.node("Clip", inputs);
}

/** a == b as bool ([Equal](https://onnx.ai/onnx/operators/onnx__Equal.html)) */
export function equal(a: Operand, b: Operand): Value {
  const like = pickValue(a, b, "Equal");
  return like.graph.node("Equal", sameType("Equal", lift(a, like), lift(b, like)), {}, { dtype: "bool" });
}

/** a < b as bool ([Less](https://onnx.ai/onnx/operators/onnx__Less.html)) */
export function less(a: Operand, b: Operand): Value {
  const like = pickValue(a, b, "Less");
  return like.graph.node("Less", sameType("Less", lift(a, like), lift(b, like)), {}, { dtype: "bool" });
}

/** a <= b as bool ([LessOrEqual](https://onnx.ai/onnx/operators/onnx__LessOrEqual.html), opset 12 on) */
export function lessOrEqual(a: Operand, b: Operand): Value {
  const like = pickValue(a, b, "LessOrEqual");
  return like.graph.node("LessOrEqual", sameType("LessOrEqual", lift(a, like), lift(b, like)), {}, { dtype: "bool" });
}

/**
 * cond ? a : b ([Where](https://onnx.ai/onnx/operators/onnx__Where.html)); a number takes the other
 * branch's dtype, or `dtype` when both branches are numbers.
 */
export function where(cond: Value, a: Operand, b: Operand, dtype: DType = "float32"): Value {
  const g = cond.graph;
  const like = typeof a !== "number" ? a : typeof b !== "number" ? b : g.constant(a, dtype);
  return g.node("Where", [cond, ...sameType("Where", lift(a, like), lift(b, like))], {}, { dtype: like.dtype });
}

/** Convert the element type ([Cast](https://onnx.ai/onnx/operators/onnx__Cast.html)); a no-op when it already has it. */
export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return x.graph.node("Cast", [x], { to: onnxDataType(to) }, { dtype: to });
}

/**
 * x ** gamma for a constant exponent: 1 for 0, multiplications for small integers (gamma 2 is one
 * Mul), Pow otherwise.
 */
export function powConst(x: Value, gamma: number): Value | null {
  if (gamma === 0) return null;
  if (gamma === 1) return x;
  if (Number.isInteger(gamma) && gamma > 0 && gamma <= 4) {
    // square-and-multiply: gamma 2 -> x*x, 3 -> x*x*x, 4 -> (x*x)^2
    if (gamma === 4) {
      const sq = mul(x, x);
      return mul(sq, sq);
    }
    let r = mul(x, x);
    if (gamma === 3) r = mul(r, x);
    return r;
  }
  return pow(x, gamma);
}

/** The elementwise sum of one or more tensors of one dtype ([Sum](https://onnx.ai/onnx/operators/onnx__Sum.html)). */
export function sum(values: readonly Value[]): Value {
  for (const v of values) if (v.dtype !== values[0].dtype) sameType("Sum", values[0], v);
  return values[0].graph.node("Sum", [...values]);
}
