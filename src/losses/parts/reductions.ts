/**
 * Reductions over items: mean, sum or none (reduceItems), float32 sums accurate at large N (blocked,
 * accumulated in the accumulate type), products of probabilities summed as few logs, sums in row chunks.
 */
import type { Graph, Value } from "../../builder/graph.js";
import {
  add,
  cast,
  concat,
  div,
  gather,
  log,
  max,
  mod,
  mul,
  pad,
  reduceProd,
  reduceSum,
  reshape,
  shape,
  size,
  slice,
  sub,
  sum,
  unsqueeze,
} from "../../builder/ops/index.js";
import type { Reduction } from "../options.js";
import { onesLike } from "./dims.js";

/**
 * Combine per-item losses (`itemRank` = their rank). "mean" and "sum" are accurate at any size:
 * onnxruntime's float32 ReduceSum over one axis stays within ~7e-7 relative up to 2e5 values (measured)
 * but loses ~2e-5 over 1e6, so the sum is blocked (see accurateSum): rows summed in float32, the row
 * sums accumulated in float64 (the accumulate type). Under the WebGPU lowering or with
 * `accumulate: "float32"` every step is float32. For "mean", `denominator` holds the per-item weights
 * to divide by (PyTorch's weighted mean; a bool mask counts items); without it the mean is over all
 * items.
 */
export function reduceItems(
  loss: Value,
  reduction: Reduction,
  itemRank: number,
  denominator?: Value,
  total?: Value,
): { value: Value; weights?: Value } {
  const g = loss.graph;
  const out = g.ioFloatType;
  if (reduction === "none") return { value: cast(loss, out) };
  // The total and what a mean divides by are named in value_info (loss_sum, weight_sum): a streamed
  // evaluation fetches them from this very graph to combine chunks exactly (stream/plan.ts).
  const sum = g.annotate(total ?? accurateSum(loss, itemRank), "loss_sum", []);
  if (reduction === "sum") return { value: cast(sum, out) };
  const weights = g.annotate(denominator ? accurateSum(denominator, itemRank) : itemCount(loss), "weight_sum", []);
  return { value: cast(div(sum, weights), out), weights };
}

/** The number of elements of v, in the accumulate type (under the WebGPU lowering a sum of ones, see onesLike). */
export function itemCount(v: Value): Value {
  if (v.graph.lowering === "webgpu") return reduceSum(onesLike(v));
  return cast(size(v), v.graph.accumulateType);
}

/**
 * Row length of the float32 partial sums of a 1-D vector. Measured on onnxruntime 1.30 over 7.5e6 equal
 * values (where float32 rounding errors add up instead of cancelling): rows of 1024 are 1.0e-6 off the
 * float64 sum, rows of 256 1.0e-7; random values stay near 1e-9 either way.
 */
const SUM_BLOCK = 256;

/** A 1-D vector as [ceil(n / b), b] rows, zero-padded at the end: one copy, instead of a float64 cast. */
function blocks(v: Value, b: number, fill = 0): Value {
  const g = v.graph;
  const n = shape(v); // [1] int64
  const bConst = g.constant([b], "int64");
  const padEnd = mod(sub(bConst, mod(n, bConst)), bConst);
  const pads = concat([g.constant([0], "int64"), padEnd], 0);
  const padded = pad(v, pads, g.constant(fill, v.dtype));
  return reshape(padded, [-1, b]);
}

/**
 * Sum of every element: the float type over the last axis (rank >= 2; a 1-D vector is first
 * zero-padded into rows of SUM_BLOCK), then the row sums in the accumulate type. A bool mask (a count of
 * items) is summed in int32 instead: exact up to 2^31 items and half the memory traffic of float64.
 */
export function accurateSum(v: Value, rank: number): Value {
  const acc = v.graph.accumulateType;
  if (v.dtype === "bool" && acc === "float64") return cast(reduceSum(cast(v, "int32")), acc);
  const f = cast(v, v.graph.floatType);
  if (rank >= 2) return reduceSum(cast(reduceSum(f, { axes: [rank - 1] }), acc));
  if (acc === f.dtype) return reduceSum(f);
  if (!v.graph.blockedSums) return reduceSum(cast(f, acc));
  return reduceSum(cast(reduceSum(blocks(f, SUM_BLOCK), { axes: [1] }), acc));
}

/** How many values {@link sumOfLogs} multiplies before taking one Log. */
export const LOG_GROUP = 16;

/**
 * The sum of log(v) over every element of v, for v in [1/2, 1] (sigmoid(|x|)), in the accumulate type:
 * the values are multiplied in groups of {@link LOG_GROUP} (ReduceProd; a product stays above 2^-16) and
 * the Log taken of each product, since log a + log b = log(a b). onnxruntime's Log kernel costs about
 * eight elementwise passes (5.7 ms of a 13.8 ms BCE-with-logits graph on 65536 x 80); one Log per 16
 * values and a ReduceProd cost 1.5 ms where 16 Logs cost 5.9. The product's rounding (16 roundings of
 * 2^-24) is an absolute error of about 1e-7 in the group's log, the spacing of float32 near 1 that
 * each sigmoid(|x|) already carries. The tail is padded with 1 (log 1 = 0).
 */
export function sumOfLogs(v: Value): Value {
  const flat = reshape(v, [-1]);
  return accurateSum(log(reduceProd(blocks(flat, LOG_GROUP, 1), { axes: [1] })), 1);
}

/** How many row chunks {@link chunkedSum} cuts a batch into, and the fewest elements a chunk takes. */
export const CHUNKS = 8;
export const MIN_CHUNK_ELEMENTS = 65536;

/**
 * Whether an elementwise loss sums its elements in row chunks ({@link chunkedSum}): for a mean or a sum
 * without a gradient output (which needs every element), except under the WebGPU lowering, and except
 * where a weight list runs along axis 0 (rank 1 with a weight per element: a slice would not broadcast).
 */
export function sumsInChunks(g: Graph, o: { reduction: Reduction; gradient: boolean; rank: number }, weightAlong0 = false): boolean {
  return o.reduction !== "none" && !o.gradient && g.lowering !== "webgpu" && !(o.rank === 1 && weightAlong0);
}

/**
 * The sum over every element, computed on {@link CHUNKS} slices of the batch along axis 0 by
 * `sumOfChunk` (usually {@link accurateSum} of the chunk's elementwise loss) and added in the
 * accumulate type. An elementwise loss is a chain of 10 to 20 ops, each a pass
 * over the whole tensor; on slices of a few MB each chain's intermediates stay in cache and onnxruntime
 * reuses their buffers (sigmoid focal measured 0.67x the whole-tensor chain on 65536 x 80, bench/README.md).
 * Each slice has at least {@link MIN_CHUNK_ELEMENTS} elements when the batch has that many (rows of
 * `ceil(N / CHUNKS)` or more), so a small batch is one slice and empty ones (a few microseconds each).
 * Slices keep the trailing dims, so per-class weights broadcast as on the whole tensor. Each slice is
 * summed as the whole tensor would be (float32 rows of the last dim or of 256, then the accumulate
 * type), so the accuracy is the same.
 */
export function chunkedSum(values: readonly Value[], sumOfChunk: (...chunk: Value[]) => Value): Value {
  const g = values[0].graph;
  const i64 = (v: number | number[]) => g.constant(v, "int64");
  const n = gather(shape(values[0]), i64(0), 0);
  const elements = size(values[0]);
  const rowSize = max(div(elements, max(n, i64(1))), i64(1));
  const ceilDiv = (a: Value, b: Value) => div(sub(add(a, b), i64(1)), b);
  const rows = max(ceilDiv(n, i64(CHUNKS)), ceilDiv(i64(MIN_CHUNK_ELEMENTS), rowSize));
  const step = unsqueeze(rows, [0]);
  const axes = i64([0]);
  const parts: Value[] = [];
  for (let k = 0; k < CHUNKS; k++) {
    const starts = mul(step, i64([k]));
    const ends = mul(step, i64([k + 1]));
    const chunk = values.map((v) => slice(v, starts, ends, axes));
    parts.push(sumOfChunk(...chunk));
  }
  return sum(parts);
}
