/**
 * The shapes of a loss's inputs (class inputs [N, C, d..], index targets [N, d..], elementwise) and the
 * class-dim helpers built on them (per-class constants, the class count, class indices).
 */
import type { Graph, Dim, Value } from "../../builder/graph.js";
import { cast, cumSum, expand, gather, pad, range, reduceSum, reshape, shape, slice, sub } from "../../builder/ops/index.js";

/** `input` dims for a rank: [N, C, d1, .., d(rank-2)], with C fixed when the options fix it. */
export function classInputDims(rank: number, classes?: number): Dim[] {
  return ["N", classes ?? "C", ...spatialDims(rank)];
}

/** Index-target dims for a rank: [N, d1, .., d(rank-2)]. */
export function itemDims(rank: number): Dim[] {
  return ["N", ...spatialDims(rank)];
}

function spatialDims(rank: number): Dim[] {
  return Array.from({ length: rank - 2 }, (_, i) => `d${i + 1}`);
}

/** Elementwise dims for rank R: [N, C] for 2, [N] for 1, [N, C, d1..] above; the last fixed if given. */
export function elementwiseDims(rank: number, last?: number): Dim[] {
  const dims: Dim[] = rank === 1 ? ["N"] : classInputDims(rank);
  if (last !== undefined) dims[dims.length - 1] = last;
  return dims;
}

/** A per-class constant shaped [C, 1, .., 1] so that it broadcasts over [N, C, d..]. */
export function perClass(g: Graph, values: readonly number[], rank: number): Value {
  return g.constant(values, g.floatType, [values.length, ...Array(rank - 2).fill(1)]);
}

/** The number of classes (dim 1 of x, of rank `rank`) as a scalar of the graph's float type. */
export function classCount(x: Value, rank: number): Value {
  if (x.graph.lowering === "webgpu") return reduceSum(onesLike(classRow(x, rank)));
  return cast(gather(shape(x), 1), x.graph.floatType);
}

/**
 * Ones shaped like v in the float type, made where v lives: Expand of a constant to Shape(v). The WebGPU
 * lowering counts with it: a Size, or a Gather or Cast of a shape, runs on the CPU (shapes live in host
 * memory), and onnxruntime-web uploads its result in the middle of the GPU work, which it can order
 * wrongly (an int32 Max placed so gave a cross-entropy of 0.41 for 1.91 in Chromium). Shape itself stays
 * on the WebGPU provider, and Expand reads its shape input from host memory.
 */
export function onesLike(v: Value): Value {
  return expand(v.graph.constant(1, v.graph.floatType), shape(v));
}

/**
 * x [N, C, d..] cut to [1, C, 1, ..] whatever N and the d are, zero included (only its shape is used):
 * its first item and position, after padding one at the end of those axes so that an empty batch
 * still has a row.
 */
function classRow(x: Value, rank: number): Value {
  const g = x.graph;
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
  const i64 = (v: number[]) => g.constant(v, "int64");
  const first = () => i64(axes.map(() => 0));
  const one = () => i64(axes.map(() => 1));
  const row = slice(x, first(), one(), i64(axes));
  const pads = i64([...Array(rank).fill(0), ...Array.from({ length: rank }, (_, i) => (i === 1 ? 0 : 1))]);
  return slice(pad(row, pads, g.constant(0, x.dtype)), first(), one(), i64(axes));
}

/**
 * The class indices 0 .. C-1 of x [N, C, d..] as a [C] vector, to compare with class numbers: int64
 * (Range), or under the WebGPU lowering in the float type (a CumSum of ones minus 1, exact below 2^24
 * classes), since a Range of a shape runs on the CPU there.
 */
export function classIndices(x: Value, rank: number): Value {
  const g = x.graph;
  if (g.lowering === "webgpu") return reshape(sub(cumSum(onesLike(classRow(x, rank)), g.constant(1, "int32")), 1), [-1]);
  return range(g.constant(0, "int64"), gather(shape(x), 1), g.constant(1, "int64"));
}
