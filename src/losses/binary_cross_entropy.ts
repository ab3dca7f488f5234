import type { Dim, Graph, Value } from "../builder/graph.js";
import { div, lessOrEqual, log, max, mul, sub, where } from "../builder/ops/index.js";
import { accurateSum, elementwiseDims, type LossBuilder } from "./common.js";
import { numberListOrInput, rankOption, reductionOption } from "./options.js";
import { defineLoss, type InputCheck } from "./types.js";

/** A weight list of length 1 is a scalar; longer lists run along the last dim (fixing its size). */
export function lastDimConstant(g: Graph, values: readonly number[] | null): { value?: Value; last?: number } {
  if (!values) return {};
  if (values.length === 1) return { value: g.constant(values[0], g.floatType) };
  return { value: g.constant(values, g.floatType), last: values.length };
}

/** The weight option of the binary losses: a list along the last dim, or a tensor input. */
export const WEIGHT_DOC =
  'Weights: 1 number (a scalar) or one per last-dim entry, broadcast along the last dim; "input" for a weight tensor input `weight` broadcast to input as PyTorch\'s weight= (per element, per class [C], per sample [N, 1]); null for none.';

/**
 * A weight tensor input (`name`) of a binary loss, broadcast to the input as PyTorch broadcasts the
 * function's weight argument: declared with the input's rank and dims of its own (`name_d0`, ...), each
 * checked to be the input's or 1 (a feed of fewer dims is read with leading 1s); recorded in `checks`.
 */
export function weightInput(b: LossBuilder, name: string, dims: readonly Dim[], checks: InputCheck[]): Value {
  checks.push({ kind: "broadcast", tensor: name, to: "input" });
  return b.input(
    name,
    "float",
    dims.map((_, i) => `${name}_d${i}`),
    "weights",
  );
}

/**
 * The largest float32 whose log is below -100: 26 * 2^-149 (log = -100.02; 27 * 2^-149 gives -99.98),
 * a subnormal.
 */
export const LOG_BELOW_MINUS_100 = 26 * 2 ** -149;

/**
 * max(log v, -100) for v in [0, 1], PyTorch's clamp, as Where(v <= 26 * 2^-149, -100, log v): no
 * log(0) decides it. On a GPU log(0) is not -inf (WGSL leaves it undefined; SwiftShader gives -88.03,
 * so BCE at p = 0 or 1 came out 88 where PyTorch gives 100), and a GPU may flush subnormals to zero:
 * there the comparison reads a subnormal v (and the bound) as 0 and takes the clamp, 100 where PyTorch
 * gives -log v (87.3 to 100), the one difference left, for v below 2^-126 only. A NaN v fails the
 * comparison and stays NaN, as in PyTorch.
 */
function clampedLog(v: Value): Value {
  return where(lessOrEqual(v, LOG_BELOW_MINUS_100), -100, log(v));
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
    weight: numberListOrInput(WEIGHT_DOC, "weight", 0),
    reduction: reductionOption,
  },
  build(o, b) {
    const g = b.graph;
    const w = o.weight === "input" ? {} : lastDimConstant(g, o.weight);
    const dims = elementwiseDims(o.rank, w.last);
    const p = b.input("input", "float", dims, "probabilities");
    const y = b.input("target", "float", dims, "binary-targets");
    const checks: InputCheck[] = [{ kind: "range", tensor: "input", min: 0, max: 1 }];
    const weight = o.weight === "input" ? weightInput(b, "weight", dims, checks) : w.value;
    const perElement = (p: Value, y: Value): Value => {
      const logP = clampedLog(p);
      const log1mP = clampedLog(sub(1, p));
      // -(y log p + (1 - y) log(1 - p)) as (y - 1) log(1 - p) - y log p: a sum of two terms >= 0, the
      // same roundings, one pass fewer than with a Neg
      const l = sub(mul(sub(y, 1), log1mP), mul(y, logP));
      return weight ? mul(l, weight) : l;
    };
    const doc = "binary_cross_entropy: F.binary_cross_entropy parity; input = probabilities";
    return b.finishElementwise([p, y], {
      loss: o,
      weightAlong0: w.last !== undefined,
      weightTensors: o.weight === "input",
      sumOfChunk: (p, y) => accurateSum(perElement(p, y), dims.length),
      whole: () => {
        const loss = perElement(p, y);
        let gradient: Value | undefined;
        if (o.gradient) {
          // PyTorch's backward, not the derivative of the clamped logs: w (p - y) / max(p (1 - p), 1e-12)
          gradient = div(sub(p, y), max(mul(p, sub(1, p)), 1e-12));
          if (weight) gradient = mul(gradient, weight);
        }
        return { loss, gradient };
      },
      items: dims,
      checks,
      doc,
    });
  },
});
