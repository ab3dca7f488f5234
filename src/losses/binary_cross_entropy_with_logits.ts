import { Graph, type Value } from "../builder/graph.js";
import { abs, add, mul, neg, relu, softplus, sub } from "../builder/ops/index.js";
import { lastDimConstant } from "./binary_cross_entropy.js";
import { declareInput, elementwiseDims, finishLoss } from "./common.js";
import { numberList, OptionError, rankOption, reductionOption, type Reduction } from "./options.js";
import type { LossDefinition, TensorSpec } from "./types.js";

interface Options {
  rank: number;
  weight: number[] | null;
  posWeight: number[] | null;
  reduction: Reduction;
}

/**
 * -log sigmoid(x) = log(1 + e^-x), stable for every x.
 *
 * The naive form log(1 + exp(-x)) overflows for x < -88 in float32 (exp(-x) = inf) and
 * -log(sigmoid(x)) gives inf once sigmoid underflows to 0. Split x into its sign parts:
 * log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|); the exponent is never positive, so nothing overflows,
 * and Softplus(-|x|) = log(1 + e^-|x|) lies in (0, log 2]. At x = -1e4 this gives exactly 1e4.
 */
export function negLogSigmoid(x: Value): Value {
  return add(softplus(neg(abs(x))), relu(neg(x)));
}

/**
 * BCE on logits: l = (1 - y) x + (1 + (pw - 1) y) (-log sigmoid(x)), times weight. Without posWeight
 * this is the familiar max(x, 0) - x y + log(1 + e^-|x|). Exact and finite for |x| up to 1e4.
 */
export function bceWithLogits(x: Value, y: Value, posWeight?: Value): Value {
  const nls = negLogSigmoid(x);
  const linear = mul(sub(1, y), x);
  if (!posWeight) return add(linear, nls);
  return add(linear, mul(add(mul(sub(posWeight, 1), y), 1), nls));
}

/** binary_cross_entropy_with_logits: F.binary_cross_entropy_with_logits parity. */
export const binaryCrossEntropyWithLogits: LossDefinition = {
  name: "binary_cross_entropy_with_logits",
  summary: "Binary cross-entropy of logits, stable for any logit.",
  pytorch: "torch.nn.functional.binary_cross_entropy_with_logits",
  formula: "l = w * ((1 - y) x + (1 + (pw - 1) y) (softplus(-|x|) + relu(-x)))",
  options: [
    rankOption(1, "Rank of input (and target): 1 for [N], 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    numberList("weight", "Weights broadcast along the last dim: 1 number (a scalar) or one per last-dim entry; null for none.", 0),
    numberList("posWeight", "Weights of positive examples along the last dim (C numbers; 1 number broadcasts); null for none.", 0),
    reductionOption,
  ],
  check(o) {
    const w = o.weight as number[] | null;
    const pw = o.posWeight as number[] | null;
    if (w && pw && w.length > 1 && pw.length > 1 && w.length !== pw.length) {
      throw new OptionError(
        `binary_cross_entropy_with_logits: option posWeight: expected ${w.length} numbers (the length of weight, both run along the last dim), received ${pw.length}`,
      );
    }
  },
  build(raw, ctx) {
    const o = raw as unknown as Options;
    const g = new Graph("binary_cross_entropy_with_logits", ctx);
    const w = lastDimConstant(g, o.weight);
    const pw = lastDimConstant(g, o.posWeight);
    const dims = elementwiseDims(o.rank, w.last ?? pw.last);
    const inputs: TensorSpec[] = [];
    const x = declareInput(g, inputs, "input", "float32", dims, "logits");
    const y = declareInput(g, inputs, "target", "float32", dims, "targets in [0, 1], shaped like input");
    let loss = bceWithLogits(x, y, pw.value);
    if (w.value) loss = mul(loss, w.value);
    return finishLoss(g, inputs, loss, { reduction: o.reduction, items: dims, doc: "binary_cross_entropy_with_logits: F.binary_cross_entropy_with_logits parity; input = logits" });
  },
};
