/**
 * The page's "train" panel without the page: a seeded imbalanced 2-D set with three classes (1:10:100)
 * and full-batch gradient descent of a softmax-regression head, each step one run of the step graph
 * (linearHeadStep) with W and b fed back in. The Node tests run this same code with onnxruntime-node.
 */
import { seededRandom, type Evaluator, type TensorData } from "../src/web.js";

/** Points per class: 1:10:100. Class 0 is the minority. */
export const CLASS_SIZES = [3, 30, 300] as const;
/** Where each class's points are centred (unit normal spread around it). */
const CENTRES = [
  [1.5, 1.5],
  [-1.5, 0.5],
  [0.3, -0.8],
] as const;

/** The training set: features X [N, 2] (float32), labels y [N] (int64). */
export interface TrainSet {
  X: Float32Array;
  y: BigInt64Array;
  n: number;
  d: number;
  c: number;
}

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** The seeded imbalanced set: the same seed, the same points on every machine. */
export function imbalancedSet(seed = 1): TrainSet {
  const r = seededRandom(seed);
  const n = CLASS_SIZES.reduce((a, b) => a + b, 0);
  const X = new Float32Array(n * 2);
  const y = new BigInt64Array(n);
  let i = 0;
  CLASS_SIZES.forEach((size, k) => {
    for (let j = 0; j < size; j++, i++) {
      X[2 * i] = CENTRES[k][0] + normal(r);
      X[2 * i + 1] = CENTRES[k][1] + normal(r);
      y[i] = BigInt(k);
    }
  });
  return { X, y, n, d: 2, c: CLASS_SIZES.length };
}

/** What one training run records: the loss before each step, and the head after the last step. */
export interface TrainRun {
  losses: number[];
  W: Float32Array;
  b: Float32Array;
}

/**
 * `steps` steps of the step graph behind `evaluator`, from W = 0, b = 0; `onStep` sees each step's loss
 * and the updated head (for drawing).
 */
export async function train(
  evaluator: Evaluator,
  set: TrainSet,
  steps: number,
  onStep?: (step: number, loss: number, W: Float32Array, b: Float32Array) => void | Promise<void>,
): Promise<TrainRun> {
  let W: Float32Array = new Float32Array(set.d * set.c);
  let b: Float32Array = new Float32Array(set.c);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const out: Record<string, TensorData> = await evaluator.run({
      X: { data: set.X, dims: [set.n, set.d] },
      target: { data: set.y, dims: [set.n] },
      W: { data: W, dims: [set.d, set.c] },
      b: { data: b, dims: [set.c] },
    });
    losses.push(Number(out.loss.data[0]));
    W = out.W_next.data as Float32Array;
    b = out.b_next.data as Float32Array;
    await onStep?.(s, losses[s], W, b);
  }
  return { losses, W, b };
}

/** The class the head predicts for point (x0, x1): argmax of [x0, x1] W + b. */
export function predict(W: ArrayLike<number>, b: ArrayLike<number>, c: number, x0: number, x1: number): number {
  let best = 0;
  let bestZ = -Infinity;
  for (let k = 0; k < c; k++) {
    const z = x0 * W[k] + x1 * W[c + k] + b[k];
    if (z > bestZ) {
      bestZ = z;
      best = k;
    }
  }
  return best;
}

/** Per-class recall of the head on the set: the share of each class's points predicted as that class. */
export function recalls(set: TrainSet, W: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const hit = new Array<number>(set.c).fill(0);
  const total = new Array<number>(set.c).fill(0);
  for (let i = 0; i < set.n; i++) {
    const k = Number(set.y[i]);
    total[k]++;
    if (predict(W, b, set.c, set.X[2 * i], set.X[2 * i + 1]) === k) hit[k]++;
  }
  return hit.map((h, k) => (total[k] ? h / total[k] : NaN));
}
