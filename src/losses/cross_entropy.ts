import type { Value } from "../builder/graph.js";
import { add, cast, div, mul, neg, reduceMean, reduceSum, sub, unsqueeze, where } from "../builder/ops/index.js";
import { classCount, classInputDims, classValueAt, ClassLogProbs, hardTargets, itemDims, perClass, subtractAtTarget } from "./common.js";
import { integerIn, numberIn, numberList, OptionError, oneOf, rankOption, reductionOption } from "./options.js";
import { defineLoss, type InputCheck } from "./types.js";

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
    weight: numberList("Per-class weights (C numbers); null for none.", 0),
    ignoreIndex: integerIn("Target value that contributes nothing (class indices only).", -100),
    reduction: reductionOption,
    labelSmoothing: numberIn("Label smoothing eps: targets become (1 - eps) target + eps / C.", 0, 0, 1),
  },
  build(o, b) {
    const C = o.weight?.length;
    const g = b.graph;
    const x = b.input("input", "float", classInputDims(o.rank, C), "logits");
    const logp = new ClassLogProbs(x, o.rank);
    const eps = o.labelSmoothing;
    const w = o.weight ? perClass(g, o.weight, o.rank) : undefined;
    let loss: Value;
    let denominator: Value | undefined;
    let gradient: Value | undefined;
    const checks: InputCheck[] = [];
    // d l_i / d x_ij = p_ij sum_c v_ic - v_ij, with v_ic the weight item i's loss puts on log p_ic
    const softmaxGrad = (v: Value) => sub(mul(logp.probs(), reduceSum(v, { axes: [1], keepdims: true })), v);
    if (o.targetType === "probs") {
      const t = b.input("target", "float", classInputDims(o.rank, C), "class-probabilities");
      let q = t;
      if (eps > 0) q = add(mul(t, 1 - eps), C ? eps / C : div(g.constant(eps, g.floatType), classCount(x, o.rank)));
      let prod = mul(logp.full(), q);
      if (w) prod = mul(prod, w);
      loss = neg(reduceSum(prod, { axes: [1] }));
      if (o.gradient) gradient = softmaxGrad(w ? mul(q, w) : q);
    } else {
      const t = b.input("target", g.indexType, itemDims(o.rank), "class-indices");
      checks.push({ kind: "classIndex", tensor: "target", classesOf: "input", axis: 1, ignoreIndex: o.ignoreIndex });
      const { valid, safe } = hardTargets(t, o.ignoreIndex);
      let nll = neg(logp.atTarget(safe));
      let wt: Value | undefined;
      if (o.weight) {
        wt = classValueAt(x, o.weight, safe, o.rank);
        nll = mul(nll, wt);
      }
      if (eps > 0) {
        // s_i = -sum_c w_c log p_ic; without weights (eps / C) s_i = eps * mean_c(-log p_ic).
        const smooth = w
          ? mul(reduceSum(mul(logp.full(), w), { axes: [1] }), -eps / (C as number))
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
          const meanW = (o.weight as number[]).reduce((a, b) => a + b, 0) / (C as number);
          base = mul(P, unsqueeze(add(mul(wt, 1 - eps), eps * meanW), [1]));
        }
        if (eps > 0) base = sub(base, w ? mul(w, eps / (C as number)) : div(g.constant(eps, g.floatType), classCount(x, o.rank)));
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
