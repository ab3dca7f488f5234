import type { Graph, Value } from "../builder/graph.js";
import { add, div, log, max, mul, neg, sub } from "../builder/ops/index.js";
import { accurateSum, chunkedSum, declareInput, elementwiseDims, finishLoss, lossGraph, sumsInChunks } from "./common.js";
import { numberList, rankOption, reductionOption } from "./options.js";
import { defineLoss, type InputCheck, type TensorSpec } from "./types.js";

/** A weight list of length 1 is a scalar; longer lists run along the last dim (fixing its size). */
export function lastDimConstant(g: Graph, values: readonly number[] | null): { value?: Value; last?: number } {
  if (!values) return {};
  if (values.length === 1) return { value: g.constant(values[0], g.floatType) };
  return { value: g.constant(values, g.floatType), last: values.length };
}

/**
 * Binary cross-entropy of probabilities, F.binary_cross_entropy parity:
 * l = -w (y max(log p, -100) + (1 - y) max(log(1 - p), -100)). Each log is clamped at -100 as
 * PyTorch does, so one element's loss is at most 100 (times its weight).
 */
export const binaryCrossEntropy = defineLoss({
  name: "binary_cross_entropy",
  summary: "Binary cross-entropy of probabilities in [0, 1].",
  pytorch: "torch.nn.functional.binary_cross_entropy",
  formula: "l = -w (y max(log p, -100) + (1 - y) max(log(1 - p), -100))",
  options: {
    rank: rankOption(1, "Rank of input (and target): 1 for [N], 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    weight: numberList("Weights broadcast along the last dim: 1 number (a scalar) or one per last-dim entry; null for none.", 0),
    reduction: reductionOption,
  },
  build(o, ctx) {
    const g = lossGraph("binary_cross_entropy", ctx);
    const w = lastDimConstant(g, o.weight);
    const dims = elementwiseDims(o.rank, w.last);
    const inputs: TensorSpec[] = [];
    const p = declareInput(g, inputs, "input", "float", dims, "probabilities in [0, 1]");
    const y = declareInput(g, inputs, "target", "float", dims, "targets in [0, 1], shaped like input");
    const perElement = (p: Value, y: Value): Value => {
      const logP = max(log(p), -100);
      const log1mP = max(log(sub(1, p)), -100);
      const l = neg(add(mul(y, logP), mul(sub(1, y), log1mP)));
      return w.value ? mul(l, w.value) : l;
    };
    const checks: InputCheck[] = [{ kind: "range", tensor: "input", min: 0, max: 1 }];
    const doc = "binary_cross_entropy: F.binary_cross_entropy parity; input = probabilities";
    if (sumsInChunks(g, o, w.last !== undefined)) {
      const total = chunkedSum([p, y], (p, y) => accurateSum(perElement(p, y), dims.length));
      return finishLoss(g, inputs, p, { total, outputs: ctx.outputs, reduction: o.reduction, items: dims, checks, doc });
    }
    const loss = perElement(p, y);
    let gradient: Value | undefined;
    if (o.gradient) {
      // PyTorch's backward, not the derivative of the clamped logs: w (p - y) / max(p (1 - p), 1e-12)
      gradient = div(sub(p, y), max(mul(p, sub(1, p)), 1e-12));
      if (w.value) gradient = mul(gradient, w.value);
    }
    return finishLoss(g, inputs, loss, { gradient, outputs: ctx.outputs, reduction: o.reduction, items: dims, checks, doc });
  },
});
