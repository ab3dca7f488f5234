import type { Value } from "../builder/graph.js";
import {
  add,
  cast,
  div,
  equal,
  exp,
  less,
  log,
  max,
  mul,
  neg,
  powConst,
  reduceSum,
  relu,
  reshape,
  sub,
  unsqueeze,
  where,
} from "../builder/ops/index.js";
import {
  classCount,
  classIndices,
  classInputDims,
  classValueAt,
  ClassLogProbs,
  hardTargets,
  itemDims,
  perClass,
  subtractAtTarget,
} from "./common.js";
import { integerIn, numberIn, OptionError, type OptionSpec, rankOption, received, reductionOption } from "./options.js";
import { defineLoss, type InputCheck } from "./types.js";

const alphaOption: OptionSpec<number | number[] | null> = {
  doc: "Class balance: null (none); a number a (class balanceIndex gets a, every other class 1 - a); or C numbers, used as given.",
  allowed: "null, a number in [0, 1], or a non-empty list of numbers >= 0",
  default: null,
  parse: (v) => {
    if (v === null) return { ok: true, value: null };
    if (typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 1) return { ok: true, value: v };
    if (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === "number" && Number.isFinite(a) && a >= 0)) {
      return { ok: true, value: [...v] as number[] };
    }
    return { ok: false };
  },
};

/**
 * G(p) = (1 - p)^g - g p (1 - p)^(g-1) log p, the focal loss's slope factor, from m = 1 - p, log p and
 * p; null for g = 0 (then G = 1). For 0 < g < 1, (1 - p)^(g-1) log p = m^g (log p / m), and the ratio
 * tends to -1 as m -> 0 (taken as -1 - m/2 below 1e-4), where autograd gives NaN: the limit is finite.
 */
function focalSlope(m: Value, logP: Value, p: Value, gamma: number): Value | null {
  if (gamma === 0) return null;
  const mg = powConst(m, gamma)!;
  let second: Value;
  if (gamma >= 1) second = gamma === 1 ? logP : mul(powConst(m, gamma - 1)!, logP);
  else {
    const small = less(m, 1e-4);
    second = mul(mg, where(small, sub(-1, mul(m, 0.5)), div(logP, m), m.dtype));
  }
  return sub(mg, mul(mul(p, second), gamma));
}

/**
 * alpha_c for a number alpha a: a for class balanceIndex, 1 - a for every other class, as a [C, 1, ..]
 * column built from C at run time.
 */
function balancedAlpha(x: Value, rank: number, balanceIndex: number, a: number): Value {
  return reshape(where(equal(classIndices(x, rank), balanceIndex), a, 1 - a, x.graph.floatType), [-1, ...Array(rank - 2).fill(1)]);
}

/** (1 - p)^gamma, or null when gamma is 0 (no factor, and 1 - p is never built). */
function focalFactor(oneMinusP: () => Value, gamma: number): Value | null {
  if (gamma === 0) return null;
  const base = oneMinusP();
  // 1 - p can round to a tiny negative number; Pow of a negative base with a fractional exponent is NaN
  return powConst(Number.isInteger(gamma) ? base : relu(base), gamma);
}

/**
 * Softmax focal loss (the article's FocalLoss, fixed): l_i = -alpha[t_i] (1 - p_t)^gamma log p_t.
 *
 * Hard targets take log p_t with LogSoftmax + GatherElements and apply the focal factor and alpha on
 * the gathered [N, d..] values: no one-hot and no [N, C] tensor after the log-softmax.
 * `oneHotClamp` s (the article's `smooth`) clamps the one-hot into [s, 1 - s] first, which makes
 * p' = (1 - 2s) p_t + s. Label smoothing eps uses soft targets q = (1 - eps) onehot + eps / C:
 * l_i = -sum_c alpha_c q_c (1 - p_c)^gamma log p_c = (1 - eps) l_i(hard) + (eps / C) sum_c (...), so the
 * one-hot never materializes there either. The mean is over non-ignored items.
 */
export const softmaxFocalLoss = defineLoss({
  name: "softmax_focal_loss",
  summary: "Focal loss on softmax class probabilities (the article's CE focal loss).",
  pytorch: "the article's FocalLoss (alpha defect fixed); gamma 0 and no alpha = F.cross_entropy",
  formula: "l_i = -alpha[t_i] (1 - p_t)^gamma log p_t, p_t = softmax(x_i)[t_i]",
  options: {
    rank: rankOption(2, "Rank of input: 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    gamma: numberIn("Focusing exponent: (1 - p_t)^gamma scales each item's loss.", 2, 0),
    alpha: alphaOption,
    balanceIndex: integerIn("The class that gets alpha when alpha is a number.", 0, 0),
    ignoreIndex: integerIn("Target value that contributes nothing.", -100),
    labelSmoothing: numberIn("Soft-target focal loss with q = (1 - eps) onehot + eps / C.", 0, 0, 1),
    oneHotClamp: numberIn("The article's smooth: the one-hot is clamped into [s, 1 - s] before p_t is taken.", 0, 0, 0.5),
    reduction: reductionOption,
  },
  check(o) {
    if (o.labelSmoothing > 0 && o.oneHotClamp > 0) {
      throw new OptionError(
        `softmax_focal_loss: options labelSmoothing and oneHotClamp: expected at most one of them > 0, received labelSmoothing ${o.labelSmoothing} and oneHotClamp ${o.oneHotClamp}`,
      );
    }
    if (Array.isArray(o.alpha) && o.balanceIndex !== 0) {
      throw new OptionError(
        `softmax_focal_loss: option balanceIndex: expected the default 0 when alpha is a list (it applies to a number alpha), received ${received(o.balanceIndex)}`,
      );
    }
  },
  build(o, b) {
    const alphaList = Array.isArray(o.alpha) ? o.alpha : null;
    const alphaNum = typeof o.alpha === "number" ? o.alpha : null;
    const C = alphaList?.length;
    const g = b.graph;
    const x = b.input("input", "float", classInputDims(o.rank, C), "logits");
    const t = b.input("target", g.indexType, itemDims(o.rank), "class-indices");
    const { valid, safe } = hardTargets(t, o.ignoreIndex);
    const logp = new ClassLogProbs(x, o.rank);

    // Hard part on gathered [N, d..] values.
    let logPt = logp.atTarget(safe);
    const logPt0 = logPt;
    let pt = () => exp(logPt);
    const s = o.oneHotClamp;
    if (s > 0) {
      // The article's smooth: p' = (1 - 2s) p_t + s, taken in log space so that neither p_t nor s
      // underflows: log p' = logaddexp(log(1 - 2s) + log p_t, log s) = m + log(e^(a - m) + e^(b - m)),
      // m = max(a, b). (In probabilities, p_t of a logit 1e4 below the others is 0 in float32, and an s
      // below float32's range too, so log p' was -inf where float64 gives log s.)
      const a = add(logPt, Math.log(1 - 2 * s));
      const b = Math.log(s);
      const m = max(a, b);
      const logPPrime = add(m, log(add(exp(sub(a, m)), exp(sub(b, m)))));
      logPt = logPPrime;
      pt = () => exp(logPPrime);
    }
    const factor = focalFactor(() => sub(1, pt()), o.gamma);
    // -alpha_t (1 - p_t)^gamma log p_t: with an alpha the sign goes into the alpha (one pass fewer)
    const focal = factor ? mul(factor, logPt) : logPt;
    let loss: Value;
    if (alphaList)
      loss = mul(
        focal,
        classValueAt(
          x,
          alphaList.map((a) => -a),
          safe,
          o.rank,
        ),
      );
    else if (alphaNum !== null) loss = mul(focal, where(equal(safe, o.balanceIndex), -alphaNum, alphaNum - 1, g.floatType));
    else loss = neg(focal);

    const eps = o.labelSmoothing;
    if (eps > 0) {
      // (eps / C) sum_c alpha_c (1 - p_c)^gamma (-log p_c) over every class, on [N, C, d..].
      const full = logp.full();
      const f = focalFactor(() => sub(1, logp.probs()), o.gamma);
      const term = f ? mul(f, full) : full;
      let sum: Value;
      if (alphaList) sum = reduceSum(mul(term, perClass(g, alphaList, o.rank)), { axes: [1] });
      else if (alphaNum !== null) {
        // alpha_c = a for class balanceIndex, 1 - a for the others, as a [C, 1, ..] vector built from C at
        // run time. (Writing the sum as (1 - a) sum_c term_c + (2a - 1) term_b instead cancels in float32
        // when term_b is large, e.g. a = 0 with a logit far below the others: 2.6e-5 relative, measured.)
        sum = reduceSum(mul(term, balancedAlpha(x, o.rank, o.balanceIndex, alphaNum)), { axes: [1] });
      } else sum = reduceSum(term, { axes: [1] });
      const scale = C ? g.constant(-eps / C, g.floatType) : div(g.constant(-eps, g.floatType), classCount(x, o.rank));
      loss = add(mul(loss, 1 - eps), mul(sum, scale));
    }
    loss = where(valid, loss, 0);

    let gradient: Value | undefined;
    if (o.gradient) {
      // d l / d x_j = a_t G(p_t) (p_j - [j = t]), G(p) = (1 - p)^g - g p (1 - p)^(g-1) log p (focalSlope);
      // 1 - p_t is the other classes' mass (no cancellation as p_t -> 1)
      const P = logp.probs();
      const mT = reduceSum(subtractAtTarget(P, safe, exp(logPt0), o.rank), { axes: [1] });
      let coef: Value | undefined;
      if (s > 0) {
        // p' = (1 - 2s) p_t + s: d l / d x_j = a_t (1 - 2s) (p_t / p') G(p') (p_j - [j = t])
        const slopeP = focalSlope(add(mul(mT, 1 - 2 * s), s), logPt, exp(logPt), o.gamma);
        coef = mul(mul(slopeP ?? g.constant(1, g.floatType), exp(sub(logPt0, logPt))), 1 - 2 * s);
      } else coef = focalSlope(mT, logPt, exp(logPt), o.gamma) ?? undefined;
      const aT = alphaList
        ? classValueAt(x, alphaList, safe, o.rank)
        : alphaNum !== null
          ? where(equal(safe, o.balanceIndex), alphaNum, 1 - alphaNum, g.floatType)
          : undefined;
      if (aT) coef = coef ? mul(coef, aT) : aT;
      // coef (p_j - [j = t]), the one-hot part scattered at the targets
      let grad = coef ? subtractAtTarget(mul(P, unsqueeze(coef, [1])), safe, coef, o.rank) : subtractAtTarget(P, safe, 1, o.rank);
      if (eps > 0) {
        // soft targets: (1 - eps) of the above + (eps / C) (h_j - p_j sum_c h_c), h_c = -alpha_c G(p_c)
        const slopes = focalSlope(relu(sub(1, P)), logp.full(), P, o.gamma);
        // h has the shape of P (-1 everywhere when gamma is 0)
        let h = slopes ? neg(slopes) : sub(mul(P, 0), 1);
        if (alphaList) h = mul(h, perClass(g, alphaList, o.rank));
        else if (alphaNum !== null) {
          h = mul(h, balancedAlpha(x, o.rank, o.balanceIndex, alphaNum));
        }
        const soft = sub(h, mul(P, reduceSum(h, { axes: [1], keepdims: true })));
        grad = add(
          mul(grad, 1 - eps),
          mul(soft, C ? g.constant(eps / C, g.floatType) : div(g.constant(eps, g.floatType), classCount(x, o.rank))),
        );
      }
      gradient = mul(grad, unsqueeze(cast(valid, g.floatType), [1]));
    }
    const checks: InputCheck[] = [{ kind: "classIndex", tensor: "target", classesOf: "input", axis: 1, ignoreIndex: o.ignoreIndex }];
    if (alphaNum !== null) {
      checks.push({
        kind: "minDim",
        tensor: "input",
        axis: 1,
        min: o.balanceIndex + 1,
        why: `balanceIndex ${o.balanceIndex} must be a class`,
      });
    }
    return b.finish(loss, {
      reduction: o.reduction,
      denominator: valid,
      items: itemDims(o.rank),
      checks,
      gradient,
      doc: "softmax_focal_loss: the article's FocalLoss with its alpha defect fixed; input = logits",
    });
  },
});
