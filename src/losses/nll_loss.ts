import type { Value } from "../builder/graph.js";
import { cast, expand, mul, neg, shape, where } from "../builder/ops/index.js";
import { classInputDims, classValueAt, gatherAtTarget, hardTargets, itemDims, subtractAtTarget } from "./common.js";
import { CLASS_WEIGHT_OPTION, classWeightInput } from "./cross_entropy.js";
import { integerIn, rankOption, reductionOption } from "./options.js";
import { defineLoss } from "./types.js";

/**
 * Negative log-likelihood of log-probabilities, F.nll_loss parity: l_i = -w[t_i] input_i[t_i], 0 where
 * t_i = ignoreIndex; the mean divides by the sum of w[t_i] over non-ignored items.
 */
export const nllLoss = defineLoss({
  name: "nll_loss",
  summary: "Negative log-likelihood of log-probabilities against class indices.",
  pytorch: "torch.nn.functional.nll_loss",
  formula: "l_i = -w[t_i] x_i[t_i]  (x = log-probabilities)",
  options: {
    rank: rankOption(2, "Rank of input: 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    weight: CLASS_WEIGHT_OPTION,
    ignoreIndex: integerIn("Target value that contributes nothing.", -100),
    reduction: reductionOption,
  },
  build(o, b) {
    const list = Array.isArray(o.weight) ? o.weight : undefined;
    const C = list?.length;
    const g = b.graph;
    const x = b.input("input", "float", classInputDims(o.rank, C), "log-probabilities");
    const t = b.input("target", g.indexType, itemDims(o.rank), "class-indices");
    const weights = o.weight === "input" ? classWeightInput(b) : list;
    const { valid, safe } = hardTargets(t, o.ignoreIndex);
    let nll = neg(gatherAtTarget(x, safe, o.rank));
    let wt: Value | undefined;
    if (weights) {
      wt = classValueAt(x, weights, safe, o.rank);
      nll = mul(nll, wt);
    }
    const loss = where(valid, nll, 0);
    // d l_i / d x_ic = -w_t [c = t], 0 for an ignored item
    const zeros = () => expand(g.constant(0, g.floatType), shape(x));
    const gradient = o.gradient ? subtractAtTarget(zeros(), safe, wt ? where(valid, wt, 0) : cast(valid, g.floatType), o.rank) : undefined;
    return b.finish(loss, {
      gradient,
      reduction: o.reduction,
      denominator: wt ? where(valid, wt, 0) : valid,
      items: itemDims(o.rank),
      checks: [{ kind: "classIndex", tensor: "target", classesOf: "input", axis: 1, ignoreIndex: o.ignoreIndex }],
      doc: "nll_loss: F.nll_loss parity; input = log-probabilities",
    });
  },
});
