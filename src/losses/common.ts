/** Pieces shared by the losses: shapes, hard-target gathering, class log-probabilities, reductions. */
import { Graph, type Dim, type Value } from "../builder/graph.js";
import type { DType } from "../onnx/dtypes.js";
import {
  cast,
  div,
  equal,
  exp,
  gather,
  max,
  mul,
  gatherElements,
  log,
  logSoftmax,
  logSumExpParts,
  not,
  reduceProd,
  reduceSum,
  reshape,
  shape,
  squeeze,
  sub,
  unsqueeze,
  where,
} from "../builder/ops/index.js";
import { OptionError, type Reduction } from "./options.js";
import type { BuildContext, BuiltParts, InputCheck, TensorSpec } from "./types.js";

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
function onesLike(v: Value): Value {
  return v.graph.node("Expand", [v.graph.constant(1, v.graph.floatType), shape(v)]);
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
  const row = g.node("Slice", [x, first(), one(), i64(axes)]);
  const pads = i64([...Array(rank).fill(0), ...Array.from({ length: rank }, (_, i) => (i === 1 ? 0 : 1))]);
  return g.node("Slice", [g.node("Pad", [row, pads, g.constant(0, x.dtype)], { mode: "constant" }), first(), one(), i64(axes)]);
}

/**
 * The class indices 0 .. C-1 of x [N, C, d..] as a [C] vector, to compare with class numbers: int64
 * (Range), or under the WebGPU lowering in the float type (a CumSum of ones minus 1, exact below 2^24
 * classes), since a Range of a shape runs on the CPU there.
 */
export function classIndices(x: Value, rank: number): Value {
  const g = x.graph;
  if (g.lowering === "webgpu") return reshape(sub(g.node("CumSum", [onesLike(classRow(x, rank)), g.constant(1, "int32")]), 1), [-1]);
  return g.node("Range", [g.constant(0, "int64"), gather(shape(x), 1), g.constant(1, "int64")]);
}

/** Where each item's class `safe` [N, d..] is, over the classes of x [N, C, d..]: a bool [N, C, d..]. */
function targetMask(x: Value, safe: Value, rank: number): Value {
  const classes = classIndices(x, rank);
  return equal(reshape(classes, [1, -1, ...Array(rank - 2).fill(1)]), unsqueeze(cast(safe, classes.dtype), [1]));
}

/**
 * Hard targets: `valid` marks items whose target is not ignoreIndex, and `safe` replaces ignored
 * targets by 0 so that they can be gathered (their results are masked afterwards).
 */
export function hardTargets(t: Value, ignoreIndex: number): { valid: Value; safe: Value } {
  if (t.dtype === "int32" && (ignoreIndex < -(2 ** 31) || ignoreIndex > 2 ** 31 - 1)) {
    // an int32 constant would wrap it around (2^32 becomes 0, and class 0 would be ignored)
    throw new OptionError(
      `${t.graph.name}: option ignoreIndex: expected an integer in [-2^31, 2^31 - 1] with the WebGPU lowering (its class indices are int32), received ${ignoreIndex}`,
    );
  }
  const valid = not(equal(t, ignoreIndex));
  // A negative ignoreIndex (the default -100) is the only negative value the evaluator lets through,
  // so Max(t, 0) replaces it; onnxruntime runs that about 3x faster than Where on int64 indices. (The
  // WebGPU lowering's int32 indices take the Where: its backend has no Max.)
  return { valid, safe: ignoreIndex < 0 && t.graph.lowering !== "webgpu" ? max(t, 0) : where(valid, t, 0) };
}

/**
 * Log-probabilities over the class axis (1) of logits `x` of rank R, formulated for speed by rank:
 * LogSoftmax on the last axis for [N, C]; for [N, C, d..] a decomposed log-sum-exp over axis 1, which
 * onnxruntime runs about 10x faster than LogSoftmax(axis=1) on that layout. `atTarget` gathers first
 * and subtracts the log-sum-exp on the gathered [N, d..] values.
 */
export class ClassLogProbs {
  private lsm?: Value;
  private parts?: { shifted: Value; lse: Value };
  private fullValue?: Value;
  private probsValue?: Value;

  constructor(
    private readonly x: Value,
    private readonly rank: number,
  ) {}

  /** log p at the target class: [N, d..]. `safeTarget` must hold valid indices. */
  atTarget(safeTarget: Value): Value {
    const idx = unsqueeze(safeTarget, [1]);
    if (this.useLogSoftmax) return squeeze(gatherElements(this.logSoftmax(), idx, 1), [1]);
    const { shifted, lse } = this.lseParts();
    if (gathersByMask(this.x.graph, this.rank)) return sub(gatherAtTarget(shifted, safeTarget, this.rank), squeeze(lse, [1]));
    return squeeze(sub(gatherElements(shifted, idx, 1), lse), [1]);
  }

  /** p for every class, exp(log p): [N, C, d..], built once however many users it has. */
  probs(): Value {
    this.probsValue ??= exp(this.full());
    return this.probsValue;
  }

  /** log p for every class: [N, C, d..]. */
  full(): Value {
    if (this.useLogSoftmax) return this.logSoftmax();
    if (!this.fullValue) {
      const { shifted, lse } = this.lseParts();
      this.fullValue = sub(shifted, lse);
    }
    return this.fullValue;
  }

  /** LogSoftmax for [N, C] (its fastest form there), except under the WebGPU lowering. */
  private get useLogSoftmax(): boolean {
    return this.rank === 2 && this.x.graph.lowering !== "webgpu";
  }

  private logSoftmax(): Value {
    this.lsm ??= logSoftmax(this.x, 1);
    return this.lsm;
  }

  private lseParts(): { shifted: Value; lse: Value } {
    this.parts ??= logSumExpParts(this.x, 1);
    return this.parts;
  }
}

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
function itemCount(v: Value): Value {
  if (v.graph.lowering === "webgpu") return reduceSum(onesLike(v));
  return cast(v.graph.node("Size", [v], {}, { dtype: "int64" }), v.graph.accumulateType);
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
  const padEnd = g.node("Mod", [g.node("Sub", [bConst, g.node("Mod", [n, bConst])]), bConst]);
  const pads = g.node("Concat", [g.constant([0], "int64"), padEnd], { axis: 0 });
  const padded = g.node("Pad", [v, pads, g.constant(fill, v.dtype)], { mode: "constant" });
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
  return reduceSum(cast(reduceSum(blocks(f, SUM_BLOCK), { axes: [1] }), acc));
}

/** Host graphs a loss is being built into (BuildContext.host), with the values bound to the loss's input names. */
const HOSTED = new WeakMap<Graph, Readonly<Record<string, Value>>>();

/**
 * The graph a loss's build appends to: a fresh Graph named `name` with the context's options, or the
 * host graph of `ctx.host` (then declareInput returns the bound values and finishLoss declares no outputs).
 */
export function lossGraph(name: string, ctx: BuildContext): Graph {
  if (!ctx.host) return new Graph(name, ctx);
  const g = ctx.host.graph;
  if (ctx.outputs !== "loss") throw new Error(`${name}: expected outputs "loss" in a host graph, received ${JSON.stringify(ctx.outputs)}`);
  if (g.opset !== ctx.opset || g.lowering !== ctx.lowering || g.ioFloatType !== ctx.dtype) {
    throw new Error(
      `${name}: expected a host graph built with the loss's opset, lowering and dtype, received graph ${g.name} (opset ${g.opset}, lowering ${g.lowering}, dtype ${g.ioFloatType})`,
    );
  }
  HOSTED.set(g, ctx.host.bind);
  return g;
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
  const n = g.node("Gather", [shape(values[0]), i64(0)], { axis: 0 });
  const size = g.node("Size", [values[0]], {}, { dtype: "int64" });
  const rowSize = g.node("Max", [g.node("Div", [size, g.node("Max", [n, i64(1)])]), i64(1)]);
  const ceilDiv = (a: Value, b: Value) => g.node("Div", [g.node("Sub", [g.node("Add", [a, b]), i64(1)]), b]);
  const rows = g.node("Max", [ceilDiv(n, i64(CHUNKS)), ceilDiv(i64(MIN_CHUNK_ELEMENTS), rowSize)]);
  const step = unsqueeze(rows, [0]);
  const axes = i64([0]);
  const parts: Value[] = [];
  for (let k = 0; k < CHUNKS; k++) {
    const starts = g.node("Mul", [step, i64([k])]);
    const ends = g.node("Mul", [step, i64([k + 1])]);
    const chunk = values.map((v) => g.node("Slice", [v, starts, ends, axes]));
    parts.push(sumOfChunk(...chunk));
  }
  return g.node("Sum", parts);
}

/**
 * Declare a graph input and record its spec (name, dtype, shape, meaning) in `specs`. A float input
 * (`"float"`) takes the graph's input float type and is cast to the type the math runs in. In a host
 * graph (see {@link lossGraph}) a name bound there is not declared: the bound value is returned.
 */
export function declareInput(g: Graph, specs: TensorSpec[], name: string, dtype: DType | "float", shape: Dim[], doc: string): Value {
  const declared = dtype === "float" ? g.ioFloatType : dtype;
  specs.push({ name, dtype: declared, shape, doc });
  const bound = HOSTED.get(g)?.[name];
  if (bound) {
    const want = dtype === "float" ? g.floatType : dtype;
    if (bound.dtype !== want)
      throw new Error(`${g.name}: input ${name}: expected a bound value of dtype ${want}, received ${bound.dtype} (${bound.name})`);
    return bound;
  }
  const v = g.input(name, declared, shape);
  return dtype === "float" ? cast(v, g.floatType) : v;
}

/**
 * Reduce the per-item losses (see {@link reduceItems}), declare the output `loss` and return the parts
 * buildLoss wraps. `items` are the per-item dims, the output's shape for reduction "none".
 */
export function finishLoss(
  g: Graph,
  inputs: TensorSpec[],
  perItem: Value,
  o: {
    outputs: "loss" | "parts";
    reduction: Reduction;
    denominator?: Value;
    items: Dim[];
    checks?: InputCheck[];
    doc: string;
    /** d (sum of the per-item losses) / d input, in the float type: output as `input_grad`, scaled as the reduction scales. */
    gradient?: Value;
    /**
     * The sum of the per-item losses, already taken (by {@link chunkedSum}), in the accumulate type: then
     * `perItem` is only counted (a mean of elementwise losses divides by the element count).
     */
    total?: Value;
  },
): BuiltParts {
  const base = { graph: g, inputs, checks: o.checks ?? [], doc: o.doc };
  if (o.gradient && o.outputs === "parts")
    throw new OptionError('gradient: expected outputs "loss" (the gradient is of the loss), received outputs "parts"');
  if (o.outputs === "parts") {
    const rank = o.items.length;
    const acc = g.accumulateType;
    g.output(o.total ?? accurateSum(perItem, rank), "loss_sum", []);
    const count = o.denominator ? accurateSum(o.denominator, rank) : itemCount(perItem);
    g.output(count, "weight_sum", []);
    return {
      ...base,
      outputs: [
        { name: "loss_sum", dtype: acc, shape: [], doc: "sum of the weighted per-item losses" },
        { name: "weight_sum", dtype: acc, shape: [], doc: 'what "mean" divides by' },
      ],
    };
  }
  const shape = o.reduction === "none" ? o.items : [];
  const reduced = reduceItems(perItem, o.reduction, o.items.length, o.denominator, o.total);
  let grad: Value | undefined;
  if (o.gradient) {
    // "none": the gradient of the sum of the items (PyTorch's backward(ones_like(loss))); "mean": / weight_sum
    // (a mean over no weight: every item's gradient is 0, and so is the mean's, as in PyTorch, not 0 / 0)
    grad = o.gradient;
    if (reduced.weights) {
      const w = cast(reduced.weights, g.floatType);
      grad = div(grad, where(equal(w, 0), 1, w, g.floatType));
    }
  }
  // built into a host graph: the host decides what becomes an output
  if (HOSTED.has(g)) return { ...base, outputs: [], values: { loss: reduced.value, inputGrad: grad } };
  g.output(reduced.value, "loss", shape);
  const outputs: TensorSpec[] = [{ name: "loss", dtype: g.ioFloatType, shape, doc: "the loss" }];
  if (grad) {
    const input = inputs.find((i) => i.name === "input")!;
    g.output(cast(grad, g.ioFloatType), "input_grad", input.shape);
    outputs.push({
      name: "input_grad",
      dtype: g.ioFloatType,
      shape: input.shape,
      doc: "d loss / d input (for reduction none: of the sum of the items)",
    });
  }
  return { ...base, outputs };
}

/**
 * Whether a gather at the target class is taken with a mask instead: under the WebGPU lowering at rank
 * 5 and above, where onnxruntime-web's WebGPU GatherElements is wrong (measured in Chromium with
 * onnxruntime-web 1.30: 539 of 540 values of a rank-5 gather, every rank from 5 to 8; ranks 3 and 4
 * right) and its Gather on rank-6 indices gave NaN.
 */
function gathersByMask(g: Graph, rank: number): boolean {
  return g.lowering === "webgpu" && rank >= 5;
}

/**
 * x [N, C, d..] (of rank `rank`) at each item's class `safe` [N, d..]: [N, d..]. Where gathersByMask,
 * the sum over the classes of Where(target mask, x, 0): one term, so exact, and a -inf elsewhere in x
 * stays out of it.
 */
export function gatherAtTarget(x: Value, safe: Value, rank: number): Value {
  if (!gathersByMask(x.graph, rank)) return squeeze(gatherElements(x, unsqueeze(safe, [1]), 1), [1]);
  return reduceSum(where(targetMask(x, safe, rank), x, 0), { axes: [1] });
}

/** A per-class constant at each item's class `safe` [N, d..] (x [N, C, d..] of rank `rank`): [N, d..], the item's weight or alpha. */
export function classValueAt(x: Value, values: readonly number[], safe: Value, rank: number): Value {
  const g = x.graph;
  if (!gathersByMask(g, rank)) return gather(g.constant(values, g.floatType), safe, 0);
  return reduceSum(where(targetMask(x, safe, rank), perClass(g, values, rank), 0), { axes: [1] });
}

/**
 * `full` [N, C, d..] minus `atTarget` ([N, d..] or a number) at each item's target class: the
 * `- [j = t] v` of a softmax gradient. One ScatterElements of the gathered values, instead of a one-hot
 * [N, C] tensor and two more passes over it; under the WebGPU lowering (whose backend may not have
 * ScatterElements on the GPU) the one-hot form.
 */
export function subtractAtTarget(full: Value, safe: Value, atTarget: Value | number, rank: number): Value {
  const g = full.graph;
  const at = typeof atTarget === "number" ? atTarget : unsqueeze(atTarget, [1]);
  if (g.lowering === "webgpu") return sub(full, mul(oneHotOf(full, safe, rank), at));
  const idx = unsqueeze(safe, [1]);
  return g.node("ScatterElements", [full, idx, sub(gatherElements(full, idx, 1), at)], { axis: 1 });
}

/** One-hot of valid class indices `safe` [N, d..] over the classes (dim 1) of x [N, C, d..]: [N, C, d..] in the float type. Gradients only. */
export function oneHotOf(x: Value, safe: Value, rank: number): Value {
  return cast(targetMask(x, safe, rank), x.graph.floatType);
}
