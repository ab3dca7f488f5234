/**
 * Float64 reference implementations of every catalogue loss, written from the PyTorch semantics in
 * docs/design.md independently of the graphs (plain loops, no ONNX). Used by the property and streaming tests.
 */
import { logSoftmaxAt } from "../web/log_softmax.js";

/** The float64 log-softmax every reference here uses; the page's batch generator shares it. */
export { logSoftmaxAt } from "../web/log_softmax.js";

export interface Tensor {
  dims: number[];
  data: ArrayLike<number>;
}

type Reduction = "mean" | "sum" | "none";

function reduce(losses: number[], reduction: Reduction, denominator?: number): number[] {
  if (reduction === "none") return losses;
  const sum = losses.reduce((a, b) => a + b, 0);
  if (reduction === "sum") return [sum];
  return [sum / (denominator ?? losses.length)];
}

/** Iterate items of [N, C, d..]: calls f(item index, class -> flat index). */
function forItems(dims: number[], f: (item: number, at: (c: number) => number) => void): void {
  const [N, C] = dims;
  const S = dims.slice(2).reduce((a, b) => a * b, 1);
  for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) f(n * S + s, (c) => (n * C + c) * S + s);
}


export function crossEntropy(x: Tensor, t: Tensor, o: { weight?: number[] | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number; targetType?: string }): number[] {
  const C = x.dims[1];
  const w = o.weight ?? Array(C).fill(1);
  const eps = o.labelSmoothing ?? 0;
  const ii = o.ignoreIndex ?? -100;
  const losses: number[] = [];
  let denom = 0;
  forItems(x.dims, (item, at) => {
    const lp = logSoftmaxAt(x.data, C, at);
    if (o.targetType === "probs") {
      let l = 0;
      for (let c = 0; c < C; c++) l -= w[c] * ((1 - eps) * t.data[at(c)] + eps / C) * lp[c];
      losses.push(l);
      denom += 1;
      return;
    }
    const k = t.data[item];
    if (k === ii) {
      losses.push(0);
      return;
    }
    let smooth = 0;
    for (let c = 0; c < C; c++) smooth -= w[c] * lp[c];
    losses.push((1 - eps) * -w[k] * lp[k] + (eps / C) * smooth);
    denom += w[k];
  });
  return reduce(losses, o.reduction ?? "mean", denom);
}

export function binaryCrossEntropyWithLogits(x: Tensor, y: Tensor, o: { weight?: number[] | null; posWeight?: number[] | null; reduction?: Reduction }): number[] {
  const last = x.dims[x.dims.length - 1];
  const pick = (v: number[] | null | undefined, i: number) => (v ? (v.length === 1 ? v[0] : v[i % last]) : 1);
  const losses = Array.from({ length: x.data.length }, (_, i) => {
    const xi = x.data[i];
    const yi = y.data[i];
    const nls = Math.max(-xi, 0) + Math.log1p(Math.exp(-Math.abs(xi))); // -log sigmoid(x)
    const pw = pick(o.posWeight, i);
    return pick(o.weight, i) * ((1 - yi) * xi + (1 + (pw - 1) * yi) * nls);
  });
  return reduce(losses, o.reduction ?? "mean");
}

export function sigmoidFocalLoss(x: Tensor, y: Tensor, o: { alpha?: number | null; gamma?: number; reduction?: Reduction }): number[] {
  const alpha = o.alpha === undefined ? 0.25 : o.alpha;
  const gamma = o.gamma ?? 2;
  const ce = binaryCrossEntropyWithLogits(x, y, { reduction: "none" });
  const losses = ce.map((c, i) => {
    const p = 1 / (1 + Math.exp(-x.data[i]));
    const yi = y.data[i];
    const pt = p * yi + (1 - p) * (1 - yi);
    let l = c * Math.pow(1 - pt, gamma);
    if (alpha !== null && alpha >= 0) l *= alpha * yi + (1 - alpha) * (1 - yi);
    return l;
  });
  return reduce(losses, o.reduction ?? "mean");
}

export function softmaxFocalLoss(
  x: Tensor,
  t: Tensor,
  o: { gamma?: number; alpha?: number | number[] | null; balanceIndex?: number; ignoreIndex?: number; labelSmoothing?: number; oneHotClamp?: number; reduction?: Reduction },
): number[] {
  const C = x.dims[1];
  const gamma = o.gamma ?? 2;
  const a = o.alpha ?? null;
  const alpha = Array.isArray(a) ? a : typeof a === "number" ? Array.from({ length: C }, (_, c) => (c === (o.balanceIndex ?? 0) ? a : 1 - a)) : Array(C).fill(1);
  const eps = o.labelSmoothing ?? 0;
  const s = o.oneHotClamp ?? 0;
  const ii = o.ignoreIndex ?? -100;
  const losses: number[] = [];
  let count = 0;
  forItems(x.dims, (item, at) => {
    const k = t.data[item];
    if (k === ii) {
      losses.push(0);
      return;
    }
    count++;
    const lp = logSoftmaxAt(x.data, C, at);
    let l = 0;
    for (let c = 0; c < C; c++) {
      let q = (c === k ? 1 : 0) * (1 - eps) + eps / C;
      if (s > 0) {
        // the article: p' = sum_c clamp(onehot, s, 1 - s)_c p_c, loss on p' for the target only
        if (c !== k) continue;
        q = 1;
        const p = (1 - 2 * s) * Math.exp(lp[k]) + s;
        l -= alpha[k] * Math.pow(1 - p, gamma) * Math.log(p);
        continue;
      }
      l -= alpha[c] * q * Math.pow(1 - Math.exp(lp[c]), gamma) * lp[c];
    }
    losses.push(l);
  });
  return reduce(losses, o.reduction ?? "mean", count);
}

export function nllLoss(x: Tensor, t: Tensor, o: { weight?: number[] | null; ignoreIndex?: number; reduction?: Reduction }): number[] {
  const C = x.dims[1];
  const w = o.weight ?? Array(C).fill(1);
  const ii = o.ignoreIndex ?? -100;
  const losses: number[] = [];
  let denom = 0;
  forItems(x.dims, (item, at) => {
    const k = t.data[item];
    if (k === ii) {
      losses.push(0);
      return;
    }
    losses.push(-w[k] * x.data[at(k)]);
    denom += w[k];
  });
  return reduce(losses, o.reduction ?? "mean", denom);
}

export function binaryCrossEntropy(p: Tensor, y: Tensor, o: { weight?: number[] | null; reduction?: Reduction }): number[] {
  const last = p.dims[p.dims.length - 1];
  const pick = (v: number[] | null | undefined, i: number) => (v ? (v.length === 1 ? v[0] : v[i % last]) : 1);
  const losses = Array.from({ length: p.data.length }, (_, i) => {
    const pi = p.data[i];
    const yi = y.data[i];
    return -pick(o.weight, i) * (yi * Math.max(Math.log(pi), -100) + (1 - yi) * Math.max(Math.log(1 - pi), -100));
  });
  return reduce(losses, o.reduction ?? "mean");
}

/** The reference of any catalogue loss by name, on its `input` and `target`. */
export function referenceFor(loss: string, input: Tensor, target: Tensor, options: Record<string, unknown>): number[] {
  const o = options as never;
  switch (loss) {
    case "cross_entropy":
      return crossEntropy(input, target, o);
    case "nll_loss":
      return nllLoss(input, target, o);
    case "binary_cross_entropy":
      return binaryCrossEntropy(input, target, o);
    case "binary_cross_entropy_with_logits":
      return binaryCrossEntropyWithLogits(input, target, o);
    case "softmax_focal_loss":
      return softmaxFocalLoss(input, target, o);
    case "sigmoid_focal_loss":
      return sigmoidFocalLoss(input, target, o);
    default:
      throw new Error(`no float64 reference for ${loss}: add one to test/reference.ts`);
  }
}
