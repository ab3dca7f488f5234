/** Seeded sample batches for the page: logits that carry signal, targets drawn with a class imbalance. */
import { buildLoss, seededRandom, type TensorInput } from "../src/web.js";
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
    for (let k = 0; k < c; k++) {
      u -= weights[k];
      if (u <= 0) return k;
    }
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
  // What to generate comes from the loss's own input specs (their dtype and meaning), so a new loss
  // needs no case here: its input is logits, probabilities or log-probabilities; its target class
  // indices (an integer dtype), class probabilities, or binary targets.
  const specs = buildLoss(s.loss, { ...s.options, rank: 2 }).inputs;
  const inputKind = specs.find((t) => t.name === "input")?.kind ?? "logits";
  const target = specs.find((t) => t.name === "target");
  const input =
    inputKind === "log-probabilities" ? logSoftmax() : inputKind === "probabilities" ? logits.map((v) => 1 / (1 + Math.exp(-v))) : logits;
  if (!target || target.kind === "class-indices") {
    return { input: { data: input, dims }, target: { data: BigInt64Array.from(labels, BigInt), dims: [n] } };
  }
  if (target.kind === "class-probabilities") {
    const q = logSoftmax().map(Math.exp);
    return { input: { data: logits.map(() => 1.5 * normal(r)), dims }, target: { data: q, dims } };
  }
  return { input: { data: input, dims }, target: { data: binary(), dims } };
}
