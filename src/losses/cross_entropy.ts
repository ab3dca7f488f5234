import type { Value } from "../builder/graph.js";
import { add, cast, div, mul, neg, reduceMean, reduceSum, sub, unsqueeze, where } from "../builder/ops/index.js";
import {
  classCount,
  classInputDims,
  classValueAt,
  ClassLogProbs,
  hardTargets,
  itemDims,
  type LossBuilder,
  perClass,
  perClassTensor,
  subtractAtTarget,
} from "./common.js";
import { integerIn, numberIn, numberListOrInput, OptionError, oneOf, rankOption, reductionOption } from "./options.js";
import { defineLoss, type InputCheck } from "./types.js";

/** The class-weight option of cross_entropy and nll_loss: C numbers, or PyTorch's weight= [C] tensor as an input. */
export const CLASS_WEIGHT_OPTION = numberListOrInput(
  'Per-class weights (C numbers); "input" for a class-weight tensor input `weight` [C], as PyTorch\'s weight=; null for none.',
  "weight",
  0,
  "[C], C the classes of input",
);

/**
 * The class-weight input `weight` [C] of cross_entropy and nll_loss: its dim is input's class dim C, so
 * a weight of another length is refused before the run, naming `weight`.
 */
export function classWeightInput(b: LossBuilder): Value {
  return b.input("weight", "float", ["C"], "class-weights");
}

/**
 * Cross-entropy of logits, F.cross_entropy parity.
 *
 * Class indices: l_i = -w[t_i] log p_i[t_i], 0 where t_i = ignoreIndex; with label smoothing eps,
 * l_i = (1 - eps) l_i + (eps / C) s_i with s_i = -sum_c w_c log p_ic. The mean divides by the sum of
 * w[t_i] over non-ignored items (NaN when every item is ignored, as PyTorch).
 *
 * Probabilities (targetType "probs"): l_i = -sum_c w_c q_ic log p_ic with q = (1 - eps) q + eps / C;
 * the mean is over items.
 *
 * log p comes from LogSoftmax + GatherElements (never Log(Softmax)), gathered before any per-item math.
 */
export const crossEntropy = defineLoss({
  name: "cross_entropy",
  summary: "Cross-entropy of logits against class indices or class probabilities.",
  pytorch: "torch.nn.functional.cross_entropy",
  formula:
    "l_i = -w[t_i] log_softmax(x_i)[t_i]; smoothing eps: (1-eps) l_i - (eps/C) sum_c w_c log p_ic; probs: -sum_c w_c q_ic log p_ic, q = (1-eps) q + eps/C",
  options: {
    rank: rankOption(2, "Rank of input: 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    targetType: oneOf("index: int64 class indices [N, d..]; probs: class probabilities shaped like input.", "index", ["index", "probs"]),
    weight: CLASS_WEIGHT_OPTION,
    ignoreIndex: integerIn("Target value that contributes nothing (class indices only).", -100),
    reduction: reductionOption,
    labelSmoothing: numberIn("Label smoothing eps: targets become (1 - eps) target + eps / C.", 0, 0, 1),
  },
  build(o, b) {
    const list = Array.isArray(o.weight) ? o.weight : undefined;
    const C = list?.length;
    const g = b.graph;
    const x = b.input("input", "float", classInputDims(o.rank, C), "logits");
    const logp = new ClassLogProbs(x, o.rank);
    const eps = o.labelSmoothing;
    let w = list ? perClass(g, list, o.rank) : undefined;
    // a weight input is declared after target, as PyTorch's weight= follows (input, target)
    let wIn: Value | undefined;
    const declareWeight = () => {
      if (o.weight !== "input") return;
      wIn = classWeightInput(b);
      w = perClassTensor(wIn, o.rank);
    };
    // eps / C times v (a number or a tensor), C a number when a list fixes it, else input's class dim
    const perClassShare = (v: Value) => (C ? mul(v, eps / C) : div(mul(v, eps), classCount(x, o.rank)));
    let loss: Value;
    let denominator: Value | undefined;
    let gradient: Value | undefined;
    const checks: InputCheck[] = [];
    // d l_i / d x_ij = p_ij sum_c v_ic - v_ij, with v_ic the weight item i's loss puts on log p_ic
    const softmaxGrad = (v: Value) => sub(mul(logp.probs(), reduceSum(v, { axes: [1], keepdims: true })), v);
    if (o.targetType === "probs") {
      const t = b.input("target", "float", classInputDims(o.rank, C), "class-probabilities");
      declareWeight();
      let q = t;
      if (eps > 0) q = add(mul(t, 1 - eps), C ? eps / C : div(g.constant(eps, g.floatType), classCount(x, o.rank)));
      let prod = mul(logp.full(), q);
      if (w) prod = mul(prod, w);
      loss = neg(reduceSum(prod, { axes: [1] }));
      if (o.gradient) gradient = softmaxGrad(w ? mul(q, w) : q);
    } else {
      const t = b.input("target", g.indexType, itemDims(o.rank), "class-indices");
      declareWeight();
      checks.push({ kind: "classIndex", tensor: "target", classesOf: "input", axis: 1, ignoreIndex: o.ignoreIndex });
      const { valid, safe } = hardTargets(t, o.ignoreIndex);
      let nll = neg(logp.atTarget(safe));
      let wt: Value | undefined;
      if (list || wIn) {
        wt = classValueAt(x, list ?? (wIn as Value), safe, o.rank);
        nll = mul(nll, wt);
      }
      if (eps > 0) {
        // s_i = -sum_c w_c log p_ic; without weights (eps / C) s_i = eps * mean_c(-log p_ic).
        const smooth = w
          ? C
            ? mul(reduceSum(mul(logp.full(), w), { axes: [1] }), -eps / C)
            : neg(perClassShare(reduceSum(mul(logp.full(), w), { axes: [1] })))
          : mul(reduceMean(logp.full(), { axes: [1] }), -eps);
        nll = add(mul(nll, 1 - eps), smooth);
      }
      loss = where(valid, nll, 0);
      denominator = wt ? where(valid, wt, 0) : valid;
      if (o.gradient) {
        // v_c = (1 - eps) w_t [c = t] + (eps / C) w_c, and 0 for an ignored item: p_j sum_c v_c - v_j, where
        // sum_c v_c = (1 - eps) w_t + eps mean_c(w_c) is known (1 without weights)
        const P = logp.probs();
        let base = P;
        if (wt) {
          const meanW = list ? list.reduce((a, b) => a + b, 0) / list.length : mul(reduceMean(wIn as Value), eps);
          base = mul(P, unsqueeze(add(mul(wt, 1 - eps), typeof meanW === "number" ? eps * meanW : meanW), [1]));
        }
        if (eps > 0) base = sub(base, w ? perClassShare(w) : div(g.constant(eps, g.floatType), classCount(x, o.rank)));
        gradient = mul(subtractAtTarget(base, safe, wt ? mul(wt, 1 - eps) : 1 - eps, o.rank), unsqueeze(cast(valid, g.floatType), [1]));
      }
    }
    return b.finish(loss, {
      reduction: o.reduction,
      denominator,
      items: itemDims(o.rank),
      checks,
      gradient,
      doc: "cross_entropy: F.cross_entropy parity; input = logits",
    });
  },
  check(o) {
    if (o.targetType === "probs" && o.ignoreIndex !== -100) {
      throw new OptionError(
        `cross_entropy: option ignoreIndex: expected the default -100 with targetType "probs" (PyTorch ignores it for probabilities), received ${o.ignoreIndex}`,
      );
    }
  },
});
