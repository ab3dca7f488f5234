import type { Value } from "../builder/graph.js";
import { add, div, max, mul, neg, powConst, relu, sigmoid, sub } from "../builder/ops/index.js";
import { bceWithLogits } from "./binary_cross_entropy_with_logits.js";
import { accurateSum, elementwiseDims } from "./common.js";
import { numberIn, type OptionSpec, rankOption, reductionOption } from "./options.js";
import { defineLoss } from "./types.js";

const alphaOption: OptionSpec<number | null> = {
  doc: "Weight of positives (negatives get 1 - alpha); null or a negative number disables it.",
  allowed: "null or a number <= 1 (negative disables)",
  default: 0.25,
  parse: (v) =>
    v === null || (typeof v === "number" && Number.isFinite(v) && v <= 1) ? { ok: true, value: v as number | null } : { ok: false },
};

/**
 * Sigmoid focal loss, torchvision.ops.sigmoid_focal_loss parity (this project defaults to reduction
 * "mean"; torchvision to "none"):
 * ce = BCE-with-logits(x, y), l = ce (1 - p_t)^gamma, times alpha y + (1 - alpha)(1 - y) when alpha >= 0,
 * with p = sigmoid(x) and p_t = p y + (1 - p)(1 - y).
 *
 * 1 - p_t is computed as y sigmoid(-x) + (1 - y) sigmoid(x), which equals it exactly without the
 * cancellation of 1 - p_t near p_t = 1; ce is the stable form. The article's BCEFocalLoss takes
 * log(sigmoid(x)) and returns inf at logit -200 with target 1; this graph returns 200 alpha.
 */
export const sigmoidFocalLoss = defineLoss({
  name: "sigmoid_focal_loss",
  summary: "Focal loss on independent sigmoid outputs (the article's BCE focal loss).",
  pytorch: "torchvision.ops.sigmoid_focal_loss",
  formula: "l = alpha_t (1 - p_t)^gamma bce_with_logits(x, y), p_t = p y + (1 - p)(1 - y), alpha_t = alpha y + (1 - alpha)(1 - y)",
  options: {
    rank: rankOption(1, "Rank of input (and target): 1 for [N], 2 for [N, C], R > 2 for [N, C, d1..d(R-2)]."),
    alpha: alphaOption,
    gamma: numberIn("Focusing exponent: (1 - p_t)^gamma scales each element's loss.", 2, 0),
    reduction: reductionOption,
  },
  build(o, b) {
    const dims = elementwiseDims(o.rank);
    const x = b.input("input", "float", dims, "logits");
    const y = b.input("target", "float", dims, "binary-targets");
    const doc = "sigmoid_focal_loss: torchvision.ops.sigmoid_focal_loss parity; input = logits";
    /** The forward values on x and y (the whole batch, or a chunk of it). */
    const forward = (x: Value, y: Value) => {
      const ce = bceWithLogits(x, y);
      let loss = ce;
      const oneMinusY = sub(1, y);
      let base: Value | undefined;
      let factor: Value | undefined;
      if (o.gamma !== 0) {
        const oneMinusPt = add(mul(y, sigmoid(neg(x))), mul(oneMinusY, sigmoid(x)));
        // a soft y outside [0, 1] could make the base negative; Pow of a negative base is NaN.
        base = Number.isInteger(o.gamma) ? oneMinusPt : relu(oneMinusPt);
        factor = powConst(base, o.gamma)!;
        loss = mul(loss, factor);
      }
      let alphaT: Value | undefined;
      if (o.alpha !== null && o.alpha >= 0) {
        // alpha y + (1 - alpha)(1 - y), as written: the shorter (1 - alpha) + (2 alpha - 1) y cancels in
        // float32 at y = 1 for a small alpha (alpha 2e-9 weighed positives 0)
        alphaT = add(mul(y, o.alpha), mul(oneMinusY, 1 - o.alpha));
        loss = mul(loss, alphaT);
      }
      return { ce, base, factor, alphaT, loss };
    };
    return b.finishElementwise([x, y], {
      loss: o,
      sumOfChunk: (x, y) => accurateSum(forward(x, y).loss, dims.length),
      whole: () => {
        const { ce, base, factor, alphaT, loss } = forward(x, y);
        let gradient: Value | undefined;
        if (o.gradient) {
          // d ce / d x = sigmoid(x) - y; with the focal factor m^g (m = 1 - p_t), d m / d x = (1 - 2y) s (1 - s)
          gradient = sub(sigmoid(x), y);
          if (base && factor) {
            // g m^(g-1) (1 - 2y) s (1 - s) ce + m^g (s - y); for g < 1, m^(g-1) s (1 - s) = m^g s (1 - s) / m,
            // and where m = 0 (then s (1 - s) = 0 too) the term is 0 rather than 0 / 0
            const s1s = mul(sigmoid(x), sigmoid(neg(x)));
            const dm =
              o.gamma >= 1
                ? mul(o.gamma === 1 ? s1s : mul(powConst(base, o.gamma - 1)!, s1s), o.gamma)
                : mul(div(mul(factor, s1s), max(base, 1e-30)), o.gamma);
            gradient = add(mul(mul(dm, sub(1, mul(y, 2))), ce), mul(factor, gradient));
          }
          if (alphaT) gradient = mul(gradient, alphaT);
        }
        return { loss, gradient };
      },
      items: dims,
      doc,
    });
  },
});
