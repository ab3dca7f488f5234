/** The benchmark's workloads: shapes and seeded data, and which losses run on each. */
import type { TensorData } from "../../src/tensor/tensor.js";
import { seededRandom } from "../../src/util/random.js";

export interface Workload {
  name: string;
  title: string;
  /** input dims; the class axis is 1 */
  dims: number[];
  /** class-index targets ([N, d..]) or float targets shaped like input */
  target: "index" | "binary";
  losses: string[];
}

const SOFTMAX = ["cross_entropy", "nll_loss", "softmax_focal_loss"];
const SIGMOID = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"];

export const WORKLOADS: readonly Workload[] = [
  { name: "classification", title: "classification 16384 x 1000", dims: [16384, 1000], target: "index", losses: SOFTMAX },
  { name: "segmentation", title: "segmentation 8 x 21 x 256 x 256", dims: [8, 21, 256, 256], target: "index", losses: SOFTMAX },
  { name: "detection", title: "detection-style sigmoid 65536 x 80", dims: [65536, 80], target: "binary", losses: SIGMOID },
  { name: "large-c", title: "large C 64 x 200000", dims: [64, 200000], target: "index", losses: SOFTMAX },
  { name: "large-n", title: "large N 1048576 x 10", dims: [1048576, 10], target: "index", losses: SOFTMAX },
  { name: "large-n-sigmoid", title: "large N sigmoid 1048576 x 10", dims: [1048576, 10], target: "binary", losses: SIGMOID },
];

/** Small versions of the same shapes, for tests of the benchmark itself. */
export const QUICK_WORKLOADS: readonly Workload[] = WORKLOADS.map((w) => {
  const dims = w.dims.map((d, i) => (i === 1 ? Math.min(d, 7) : Math.min(d, 16)));
  return { ...w, dims, title: `${w.name} ${dims.join(" x ")} (quick)` };
});

/** Logits in [-4, 4], class-index or binary targets; seeded, so every run measures the same data. */
export function workloadData(w: Workload, seed = 1): { logits: TensorData; probs: TensorData; logProbs: TensorData; target: TensorData } {
  const r = seededRandom(seed);
  const size = w.dims.reduce((a, b) => a * b, 1);
  const logits = new Float32Array(size);
  for (let i = 0; i < size; i++) logits[i] = (r() * 2 - 1) * 4;
  const C = w.dims[1];
  const inner = size / (w.dims[0] * C);
  // log-probabilities over axis 1 (for nll_loss), probabilities (for binary_cross_entropy)
  const logProbs = new Float32Array(size);
  for (let n = 0; n < w.dims[0]; n++) {
    for (let s = 0; s < inner; s++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, logits[(n * C + c) * inner + s]);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(logits[(n * C + c) * inner + s] - m);
      const lse = m + Math.log(z);
      for (let c = 0; c < C; c++) logProbs[(n * C + c) * inner + s] = logits[(n * C + c) * inner + s] - lse;
    }
  }
  const probs = logits.map((v) => 1 / (1 + Math.exp(-v)));
  let target: TensorData;
  if (w.target === "index") {
    const items = size / C;
    const t = new BigInt64Array(items);
    for (let i = 0; i < items; i++) t[i] = BigInt(Math.floor(r() * C));
    target = { dtype: "int64", dims: [w.dims[0], ...w.dims.slice(2)], data: t };
  } else {
    target = { dtype: "float32", dims: [...w.dims], data: Float32Array.from({ length: size }, () => (r() < 0.1 ? 1 : 0)) };
  }
  const dims = [...w.dims];
  return {
    logits: { dtype: "float32", dims, data: logits },
    probs: { dtype: "float32", dims, data: probs },
    logProbs: { dtype: "float32", dims, data: logProbs },
    target,
  };
}
