/** Seeded sample batches for the page: logits that carry signal, targets drawn with a class imbalance. */
import { seededRandom, type TensorInput } from "../src/web.js";
import { logSoftmaxRow } from "./log_softmax.js";

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

export interface BatchSpec {
  loss: string;
  options: Record<string, unknown>;
  n: number;
  c: number;
  /** 0: classes equally likely; 1: class k is about e^-5k as likely as class 0. */
  imbalance: number;
  seed: number;
}

/** A batch shaped for the loss: [N, C] inputs and the kind of target the loss takes. */
export function generateBatch(s: BatchSpec): Record<string, TensorInput> {
  const r = seededRandom(s.seed);
  const { n, c } = s;
  const weights = Array.from({ length: c }, (_, k) => Math.exp(-5 * s.imbalance * (k / Math.max(1, c - 1)) * 2));
  const total = weights.reduce((a, b) => a + b, 0);
  const drawClass = () => {
    let u = r() * total;
    for (let k = 0; k < c; k++) if ((u -= weights[k]) <= 0) return k;
    return c - 1;
  };
  const labels = Array.from({ length: n }, drawClass);
  const logits = new Float32Array(n * c);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) logits[i * c + k] = 1.5 * normal(r) + (k === labels[i] ? 2 : 0);
  const dims = [n, c];
  const logSoftmax = () => {
    const out = new Float32Array(n * c);
    for (let i = 0; i < n; i++) out.set(logSoftmaxRow(logits, i * c, c), i * c);
    return out;
  };
  const binary = () => Float32Array.from({ length: n * c }, (_, j) => (r() < weights[j % c] / (weights[0] * 2) ? 1 : 0));
  switch (s.loss) {
    case "nll_loss":
      return { input: { data: logSoftmax(), dims }, target: { data: BigInt64Array.from(labels, BigInt), dims: [n] } };
    case "binary_cross_entropy":
      return { input: { data: logits.map((v) => 1 / (1 + Math.exp(-v))), dims }, target: { data: binary(), dims } };
    case "binary_cross_entropy_with_logits":
    case "sigmoid_focal_loss":
      return { input: { data: logits, dims }, target: { data: binary(), dims } };
    case "cross_entropy":
      if (s.options.targetType === "probs") {
        const q = logSoftmax().map(Math.exp);
        return { input: { data: logits.map(() => 1.5 * normal(r)), dims }, target: { data: q, dims } };
      }
      return { input: { data: logits, dims }, target: { data: BigInt64Array.from(labels, BigInt), dims: [n] } };
    default:
      return { input: { data: logits, dims }, target: { data: BigInt64Array.from(labels, BigInt), dims: [n] } };
  }
}
