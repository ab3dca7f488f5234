/**
 * The page's "train" panel without the page: a seeded imbalanced 2-D set with three overlapping classes
 * (12, 40 and 300 points)
 * and full-batch gradient descent of a softmax-regression head, each step one run of the step graph
 * (linearHeadStep) with W and b fed back in. The Node tests run this same code with onnxruntime-node.
 */
import { seededRandom, type Evaluator, type TensorData } from "../src/web.js";

/** Points per class. Class 0 is the minority (12 points, 25 times fewer than class 2). */
export const CLASS_SIZES = [12, 40, 300] as const;
/**
 * Where each class's points are centred (unit normal spread around it): close enough that the minority
 * overlaps both others, so where the boundary falls decides how many of its points are found.
 */
const CENTRES = [
  [1.2, 1.2],
  [-1.2, 0.4],
  [0.24, -0.64],
] as const;
/** The seed of the page's set (with it, 50 steps at lr 1 find 2 of the minority's 12 points with cross_entropy, 5 with focal gamma 2). */
export const TRAIN_SEED = 3;

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
export function imbalancedSet(seed = TRAIN_SEED): TrainSet {
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

/**
 * The mean focal factor (1 - p_t)^gamma per class at head (W, b): the weight softmax_focal_loss gives a
 * class's points relative to cross_entropy (which weighs every point 1). Easy points of the majority
 * get a factor near 0, the minority's misclassified points one near 1.
 */
export function focalWeights(set: TrainSet, W: ArrayLike<number>, b: ArrayLike<number>, gamma: number): number[] {
  const sum = new Array<number>(set.c).fill(0);
  const total = new Array<number>(set.c).fill(0);
  const z = new Array<number>(set.c);
  for (let i = 0; i < set.n; i++) {
    const t = Number(set.y[i]);
    let max = -Infinity;
    for (let k = 0; k < set.c; k++) {
      z[k] = set.X[2 * i] * W[k] + set.X[2 * i + 1] * W[set.c + k] + b[k];
      max = Math.max(max, z[k]);
    }
    let s = 0;
    for (let k = 0; k < set.c; k++) s += Math.exp(z[k] - max);
    const pt = Math.exp(z[t] - max) / s;
    sum[t] += (1 - pt) ** gamma;
    total[t]++;
  }
  return sum.map((v, k) => (total[k] ? v / total[k] : NaN));
}
