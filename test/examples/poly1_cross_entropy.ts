import { add, exp, mul, neg, sub, where } from "../../src/builder/ops/index.js";
import { ClassLogProbs, classInputDims, hardTargets, itemDims } from "../../src/losses/common.js";
import { integerIn, numberIn, rankOption, reductionOption } from "../../src/losses/options.js";
import { defineLoss } from "../../src/losses/types.js";

/**
 * Poly-1 cross-entropy (Leng et al., "PolyLoss", ICLR 2022): l_i = -log p_t + epsilon (1 - p_t), 0 where
 * t_i = ignoreIndex; the mean is over non-ignored items. log p_t comes from the gathered log-softmax,
 * and p_t = exp(log p_t) is taken on the gathered [N, d..] values: no one-hot, no [N, C] tensor after it.
 */
export const poly1CrossEntropy = defineLoss({
  name: "poly1_cross_entropy",
  summary: "Cross-entropy plus epsilon (1 - p_t): the Poly-1 loss.",
  pytorch: "F.cross_entropy(x, t) + epsilon * (1 - softmax(x)[t]), as the PolyLoss paper's code",
  formula: "l_i = -log p_t + epsilon (1 - p_t), p_t = softmax(x_i)[t_i]",
  options: {
    rank: rankOption(2, "Rank of input: 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    epsilon: numberIn("Weight of the first polynomial term (1 - p_t).", 1, -1),
    ignoreIndex: integerIn("Target value that contributes nothing.", -100),
    reduction: reductionOption,
  },
  build(o, b) {
    // o is typed from the schema: o.epsilon is a number, o.reduction "mean" | "sum" | "none";
    // b is the LossBuilder: its graph, its inputs by kind, and finish
    const g = b.graph;
    const x = b.input("input", "float", classInputDims(o.rank), "logits");
    const t = b.input("target", g.indexType, itemDims(o.rank), "class-indices");
    const { valid, safe } = hardTargets(t, o.ignoreIndex);
    const logPt = new ClassLogProbs(x, o.rank).atTarget(safe);
    const loss = where(valid, add(neg(logPt), mul(sub(1, exp(logPt)), o.epsilon)), 0);
    return b.finish(loss, {
      reduction: o.reduction,
      denominator: valid,
      items: itemDims(o.rank),
      checks: [{ kind: "classIndex", tensor: "target", classesOf: "input", axis: 1, ignoreIndex: o.ignoreIndex }],
      doc: "poly1_cross_entropy: Poly-1 loss; input = logits",
    });
  },
});
