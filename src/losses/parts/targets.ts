/**
 * Hard targets (class indices with an ignore index) against class inputs: the valid mask and safe
 * indices, class log-probabilities, the value at each item's class, one-hot rows for gradients.
 */
import type { Graph, Value } from "../../builder/graph.js";
import {
  scatterElements,
  cast,
  equal,
  exp,
  gather,
  max,
  mul,
  gatherElements,
  logSoftmax,
  logSumExpParts,
  not,
  reduceSum,
  reshape,
  squeeze,
  sub,
  unsqueeze,
  where,
} from "../../builder/ops/index.js";
import { OptionError } from "../options.js";
import { perClass, classIndices } from "./dims.js";

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

/**
 * A per-class value at each item's class `safe` [N, d..] (x [N, C, d..] of rank `rank`): [N, d..], the
 * item's weight or alpha. The values are a list (a constant) or a [C] tensor of the graph (a class
 * weight input).
 */
export function classValueAt(x: Value, values: readonly number[] | Value, safe: Value, rank: number): Value {
  const g = x.graph;
  const isList = Array.isArray(values);
  if (!gathersByMask(g, rank)) return gather(isList ? g.constant(values, g.floatType) : (values as Value), safe, 0);
  const column = isList ? perClass(g, values, rank) : perClassTensor(values as Value, rank);
  return reduceSum(where(targetMask(x, safe, rank), column, 0), { axes: [1] });
}

/** A [C] tensor of the graph shaped [C, 1, .., 1], so that it broadcasts over [N, C, d..] (x of rank `rank`). */
export function perClassTensor(w: Value, rank: number): Value {
  return rank === 2
    ? w
    : unsqueeze(
        w,
        Array.from({ length: rank - 2 }, (_, i) => i + 1),
      );
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
  return scatterElements(full, idx, sub(gatherElements(full, idx, 1), at), 1);
}

/** One-hot of valid class indices `safe` [N, d..] over the classes (dim 1) of x [N, C, d..]: [N, C, d..] in the float type. Gradients only. */
export function oneHotOf(x: Value, safe: Value, rank: number): Value {
  return cast(targetMask(x, safe, rank), x.graph.floatType);
}
