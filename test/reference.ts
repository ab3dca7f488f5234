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

/** A weight list along the last dim (1 number broadcasts; null weighs 1): the weight of flat element i. */
function lastDimPicker(dims: number[]): (v: number[] | null | undefined, i: number) => number {
  const last = dims[dims.length - 1];
  return (v, i) => (v ? (v.length === 1 ? v[0] : v[i % last]) : 1);
}

/** The softmax focal loss's per-class alpha: a list as given, a number to balanceIndex and 1 - it elsewhere, none as 1. */
function focalAlphas(C: number, o: { alpha?: number | number[] | null; balanceIndex?: number }): number[] {
  const a = o.alpha ?? null;
  return Array.isArray(a)
    ? a
    : typeof a === "number"
      ? Array.from({ length: C }, (_, c) => (c === (o.balanceIndex ?? 0) ? a : 1 - a))
      : Array(C).fill(1);
}

export function crossEntropy(
  x: Tensor,
  t: Tensor,
  o: { weight?: number[] | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number; targetType?: string },
): number[] {
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

export function binaryCrossEntropyWithLogits(
  x: Tensor,
  y: Tensor,
  o: { weight?: number[] | null; posWeight?: number[] | null; reduction?: Reduction },
): number[] {
  const pick = lastDimPicker(x.dims);
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
    let l = c * (1 - pt) ** gamma;
    if (alpha !== null && alpha >= 0) l *= alpha * yi + (1 - alpha) * (1 - yi);
    return l;
  });
  return reduce(losses, o.reduction ?? "mean");
}

export function softmaxFocalLoss(
  x: Tensor,
  t: Tensor,
  o: {
    gamma?: number;
    alpha?: number | number[] | null;
    balanceIndex?: number;
    ignoreIndex?: number;
    labelSmoothing?: number;
    oneHotClamp?: number;
    reduction?: Reduction;
  },
): number[] {
  const C = x.dims[1];
  const gamma = o.gamma ?? 2;
  const alpha = focalAlphas(C, o);
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
        l -= alpha[k] * (1 - p) ** gamma * Math.log(p);
        continue;
      }
      l -= alpha[c] * q * (1 - Math.exp(lp[c])) ** gamma * lp[c];
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
  const pick = lastDimPicker(p.dims);
  const losses = Array.from({ length: p.data.length }, (_, i) => {
    const pi = p.data[i];
    const yi = y.data[i];
    return -pick(o.weight, i) * (yi * Math.max(Math.log(pi), -100) + (1 - yi) * Math.max(Math.log(1 - pi), -100));
  });
  return reduce(losses, o.reduction ?? "mean");
}

/*
 * Float64 gradients in closed form: d loss / d input of the reduced loss ("none": of the sum of the
 * items, as PyTorch's backward(ones_like(loss))), derived by hand from the losses above, independently of
 * the graphs' own closed forms. Where PyTorch autograd gives NaN (focal losses with 0 < gamma < 1 at
 * p_t = 1), these give the limit, 0: the factor gamma (1 - p)^(gamma - 1) meets a log p that vanishes
 * faster. The generated-input tests compare input_grad with these element by element, and check these
 * against the slope of the reference losses.
 */

/** (1 - p)^(gamma - 1) * v for v -> 0 at least as fast as 1 - p: 0 where 1 - p is 0 (the limit). */
function powTimes(oneMinusP: number, gamma: number, v: number): number {
  if (gamma === 0 || v === 0) return 0;
  if (oneMinusP === 0) return gamma >= 1 ? (gamma === 1 ? v : 0) : 0;
  return oneMinusP ** (gamma - 1) * v;
}

/** Probabilities of one item from its float64 log-softmax. */
function softmaxOf(lp: number[]): number[] {
  return lp.map(Math.exp);
}

export function crossEntropyGrad(
  x: Tensor,
  t: Tensor,
  o: { weight?: number[] | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number; targetType?: string },
): number[] {
  const C = x.dims[1];
  const w = o.weight ?? Array(C).fill(1);
  const W = w.reduce((a, b) => a + b, 0);
  const eps = o.labelSmoothing ?? 0;
  const ii = o.ignoreIndex ?? -100;
  const grad = new Array<number>(x.data.length).fill(0);
  let denom = 0;
  forItems(x.dims, (item, at) => {
    const p = softmaxOf(logSoftmaxAt(x.data, C, at));
    if (o.targetType === "probs") {
      // l = -sum_c w_c q_c log p_c: dl/dx_j = p_j sum_c w_c q_c - w_j q_j
      const q = Array.from({ length: C }, (_, c) => (1 - eps) * t.data[at(c)] + eps / C);
      const S = q.reduce((a, qc, c) => a + w[c] * qc, 0);
      for (let j = 0; j < C; j++) grad[at(j)] = p[j] * S - w[j] * q[j];
      denom += 1;
      return;
    }
    const k = t.data[item];
    if (k === ii) return;
    // l = (1 - eps) (-w_k log p_k) + (eps / C) sum_c (-w_c log p_c)
    for (let j = 0; j < C; j++) grad[at(j)] = (1 - eps) * w[k] * (p[j] - (j === k ? 1 : 0)) + (eps / C) * (W * p[j] - w[j]);
    denom += w[k];
  });
  return scaleGrad(grad, o.reduction ?? "mean", denom);
}

export function nllLossGrad(x: Tensor, t: Tensor, o: { weight?: number[] | null; ignoreIndex?: number; reduction?: Reduction }): number[] {
  const C = x.dims[1];
  const w = o.weight ?? Array(C).fill(1);
  const ii = o.ignoreIndex ?? -100;
  const grad = new Array<number>(x.data.length).fill(0);
  let denom = 0;
  forItems(x.dims, (item, at) => {
    const k = t.data[item];
    if (k === ii) return;
    grad[at(k)] = -w[k];
    denom += w[k];
  });
  return scaleGrad(grad, o.reduction ?? "mean", denom);
}

export function binaryCrossEntropyWithLogitsGrad(
  x: Tensor,
  y: Tensor,
  o: { weight?: number[] | null; posWeight?: number[] | null; reduction?: Reduction },
): number[] {
  const pick = lastDimPicker(x.dims);
  // d/dx [(1 - y) x + (1 + (pw - 1) y)(-log sigmoid x)] = (1 - y) - (1 + (pw - 1) y) sigmoid(-x)
  const grad = Array.from({ length: x.data.length }, (_, i) => {
    const yi = y.data[i];
    return pick(o.weight, i) * (1 - yi - (1 + (pick(o.posWeight, i) - 1) * yi) * sigmoid(-x.data[i]));
  });
  return scaleGrad(grad, o.reduction ?? "mean", grad.length);
}

export function binaryCrossEntropyGrad(p: Tensor, y: Tensor, o: { weight?: number[] | null; reduction?: Reduction }): number[] {
  const pick = lastDimPicker(p.dims);
  // PyTorch's backward (not the derivative of the clamped logs): w (p - y) / max(p (1 - p), eps), its
  // eps being 1e-12 as a float32 constant
  const grad = Array.from({ length: p.data.length }, (_, i) => {
    const pi = p.data[i];
    return (pick(o.weight, i) * (pi - y.data[i])) / Math.max(pi * (1 - pi), Math.fround(1e-12));
  });
  return scaleGrad(grad, o.reduction ?? "mean", grad.length);
}

export function sigmoidFocalLossGrad(x: Tensor, y: Tensor, o: { alpha?: number | null; gamma?: number; reduction?: Reduction }): number[] {
  const alpha = o.alpha === undefined ? 0.25 : o.alpha;
  const gamma = o.gamma ?? 2;
  const ce = binaryCrossEntropyWithLogits(x, y, { reduction: "none" });
  // l = a_t m^gamma ce, m = 1 - p_t = y sigmoid(-x) + (1 - y) sigmoid(x):
  // dl/dx = a_t (gamma m^(gamma-1) (1 - 2y) p (1 - p) ce + m^gamma (p - y))
  const grad = ce.map((c, i) => {
    const xi = x.data[i];
    const yi = y.data[i];
    const p = sigmoid(xi);
    const q = sigmoid(-xi); // 1 - p without cancellation
    const m = yi * q + (1 - yi) * p;
    const at = alpha !== null && alpha >= 0 ? alpha * yi + (1 - alpha) * (1 - yi) : 1;
    return at * (gamma * powTimes(m, gamma, (1 - 2 * yi) * p * q * c) + m ** gamma * (p - yi));
  });
  return scaleGrad(grad, o.reduction ?? "mean", grad.length);
}

export function softmaxFocalLossGrad(
  x: Tensor,
  t: Tensor,
  o: {
    gamma?: number;
    alpha?: number | number[] | null;
    balanceIndex?: number;
    ignoreIndex?: number;
    labelSmoothing?: number;
    oneHotClamp?: number;
    reduction?: Reduction;
  },
): number[] {
  const C = x.dims[1];
  const gamma = o.gamma ?? 2;
  const alpha = focalAlphas(C, o);
  const eps = o.labelSmoothing ?? 0;
  const s = o.oneHotClamp ?? 0;
  const ii = o.ignoreIndex ?? -100;
  const grad = new Array<number>(x.data.length).fill(0);
  let count = 0;
  forItems(x.dims, (item, at) => {
    const k = t.data[item];
    if (k === ii) return;
    count++;
    const lp = logSoftmaxAt(x.data, C, at);
    const p = softmaxOf(lp);
    if (s > 0) {
      // l = -a_k (1 - p')^gamma log p', p' = (1 - 2s) p_k + s; dp'/dx_j = (1 - 2s) p_k ([j = k] - p_j).
      // dl/dp' dp'/dx_j written with p_k / p' (at most 1 / (1 - 2s)), finite where p' is subnormal
      const pp = (1 - 2 * s) * p[k] + s;
      const r = p[k] / pp;
      const d = alpha[k] * (1 - 2 * s) * r * (gamma * powTimes(1 - pp, gamma, pp * Math.log(pp)) - (1 - pp) ** gamma);
      for (let j = 0; j < C; j++) grad[at(j)] = d * ((j === k ? 1 : 0) - p[j]);
      return;
    }
    // l = sum_c a_c q_c f(log p_c), f(u) = -(1 - e^u)^gamma u, f'(u) = gamma (1 - p)^(gamma-1) p u - (1 - p)^gamma;
    // dl/dx_j = g_j - p_j sum_c g_c with g_c = a_c q_c f'(log p_c)
    const g = lp.map((u, c) => {
      const q = (c === k ? 1 : 0) * (1 - eps) + eps / C;
      if (q === 0) return 0;
      const oneMinusP = -Math.expm1(u);
      return alpha[c] * q * (gamma * powTimes(oneMinusP, gamma, p[c] * u) - oneMinusP ** gamma);
    });
    const G = g.reduce((acc, v) => acc + v, 0);
    for (let j = 0; j < C; j++) grad[at(j)] = g[j] - p[j] * G;
  });
  return scaleGrad(grad, o.reduction ?? "mean", count);
}

function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/**
 * A mean divides every item's gradient by the mean's denominator; "sum" and "none" (the sum's gradient)
 * do not. An ignored item's 0 stays 0 even over no items (as PyTorch's backward writes it).
 */
function scaleGrad(grad: number[], reduction: Reduction, denominator: number): number[] {
  return reduction === "mean" ? grad.map((v) => (v === 0 ? 0 : v / denominator)) : grad;
}

type Reference = (input: Tensor, target: Tensor, options: never) => number[];

/** Each catalogue loss's float64 reference and closed-form gradient (above). */
const REFERENCES: Readonly<Record<string, { loss: Reference; grad: Reference }>> = {
  cross_entropy: { loss: crossEntropy, grad: crossEntropyGrad },
  nll_loss: { loss: nllLoss, grad: nllLossGrad },
  binary_cross_entropy: { loss: binaryCrossEntropy, grad: binaryCrossEntropyGrad },
  binary_cross_entropy_with_logits: { loss: binaryCrossEntropyWithLogits, grad: binaryCrossEntropyWithLogitsGrad },
  softmax_focal_loss: { loss: softmaxFocalLoss, grad: softmaxFocalLossGrad },
  sigmoid_focal_loss: { loss: sigmoidFocalLoss, grad: sigmoidFocalLossGrad },
};

function referenceOf(loss: string): { loss: Reference; grad: Reference } {
  const r = Object.hasOwn(REFERENCES, loss) ? REFERENCES[loss] : undefined;
  if (!r) throw new Error(`no float64 reference for ${loss}: add one to test/reference.ts`);
  return r;
}

/** The reference of any catalogue loss by name, on its `input` and `target`. */
export function referenceFor(loss: string, input: Tensor, target: Tensor, options: Record<string, unknown>): number[] {
  return referenceOf(loss).loss(input, target, options as never);
}

/** The float64 closed-form gradient of any catalogue loss by name (see above). */
export function referenceGradFor(loss: string, input: Tensor, target: Tensor, options: Record<string, unknown>): number[] {
  return referenceOf(loss).grad(input, target, options as never);
}
