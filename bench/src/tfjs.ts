/**
 * TensorFlow.js as the JavaScript peer of the benchmark, for the three losses it has: softmax
 * cross-entropy (tf.losses.softmaxCrossEntropy on one-hot labels, against cross_entropy), sigmoid
 * cross-entropy (tf.losses.sigmoidCrossEntropy, against binary_cross_entropy_with_logits) and log loss
 * (tf.losses.logLoss, against binary_cross_entropy). Browser-safe: nothing here imports a Node module, so
 * the benchmark page (bench/web) runs the same calls; the TensorFlow.js module is passed in.
 *
 * Each call is what a user holding JS arrays does, so it compares with `ev.run` (JS arrays in, JS arrays
 * out): make the input tensors from the Float32Array (and the one-hot labels from Int32Array class
 * indices with tf.oneHot), compute the loss with the default reduction (Reduction.SUM_BY_NONZERO_WEIGHTS,
 * which without weights is the mean over the loss's elements: over the rows for softmaxCrossEntropy,
 * whose loss is one value a row, over every element for the sigmoid losses; PyTorch's mean in each case),
 * read the scalar back with dataSync(), all inside tf.tidy, which disposes every tensor it made.
 */
import type * as Tf from "@tensorflow/tfjs";
import type { TensorData } from "../../src/tensor/tensor.js";

export type TfModule = typeof Tf;

/** The losses TensorFlow.js has, by this project's name: its function, and what it takes. */
export const TFJS_LOSSES: Readonly<Record<string, string>> = {
  cross_entropy: "tf.losses.softmaxCrossEntropy",
  binary_cross_entropy_with_logits: "tf.losses.sigmoidCrossEntropy",
  binary_cross_entropy: "tf.losses.logLoss",
};

/** tf.losses.logLoss's default epsilon: -(y log(p + eps) + (1 - y) log(1 - p + eps)). */
export const LOG_LOSS_EPSILON = 1e-7;

/**
 * How close TensorFlow.js's loss must be to this project's before it is timed, relative to the value:
 * the mean, in float64, of its per-element losses (Reduction.NONE; one a row for softmaxCrossEntropy).
 * That is the check that it is the same loss; logLoss's epsilon moves BCE by about 1e-7 relative on
 * these probabilities (sigmoid of logits in [-4, 4]; see {@link logLossEpsilonShift}).
 */
export const TFJS_TOLERANCE = 1e-5;

/**
 * How close the value of the timed call (the default reduction's mean) must be: TensorFlow.js sums it in
 * float32, one term after another, which at millions of terms is off by up to about 1e-2 (logLoss's mean
 * on 65536 x 80: 8e-3 low). This bound only catches a wrong reduction (a sum, a mean over the wrong axis);
 * the tables print the actual difference.
 */
export const TFJS_MEAN_TOLERANCE = 5e-2;

/** One call of a TensorFlow.js loss on the given feeds, returning the scalar; the feeds are converted once, up front. */
export function tfjsCall(tf: TfModule, loss: string, feeds: { input: TensorData; target: TensorData }): () => number {
  const dims = feeds.input.dims as number[];
  const x = feeds.input.data as Float32Array;
  if (loss === "cross_entropy") {
    // TensorFlow.js has no int64: the class indices as int32, made before the timing
    const C = dims[1];
    const idx = Int32Array.from(feeds.target.data as BigInt64Array, Number);
    return () =>
      tf.tidy(() => {
        const logits = tf.tensor(x, dims, "float32");
        const labels = tf.oneHot(tf.tensor1d(idx, "int32"), C);
        return tf.losses.softmaxCrossEntropy(labels, logits).dataSync()[0];
      });
  }
  const y = feeds.target.data as Float32Array;
  if (loss === "binary_cross_entropy_with_logits") {
    return () => tf.tidy(() => tf.losses.sigmoidCrossEntropy(tf.tensor(y, dims, "float32"), tf.tensor(x, dims, "float32")).dataSync()[0]);
  }
  if (loss === "binary_cross_entropy") {
    return () => tf.tidy(() => tf.losses.logLoss(tf.tensor(y, dims, "float32"), tf.tensor(x, dims, "float32")).dataSync()[0]);
  }
  throw new Error(`bench: TensorFlow.js has no ${loss}`);
}

/**
 * How much logLoss's epsilon moves the mean BCE on these probabilities and targets, in float64: the
 * mean of -(y log(p + eps) + (1 - y) log(1 - p + eps)) minus the mean of -(y log p + (1 - y) log(1 - p)).
 * Negative: the epsilon lifts each probability, so each log is a little larger.
 */
export function logLossEpsilonShift(feeds: { input: TensorData; target: TensorData }): number {
  const p = feeds.input.data as Float32Array;
  const y = feeds.target.data as Float32Array;
  let shift = 0;
  for (let i = 0; i < p.length; i++) {
    const a = y[i] * Math.log(p[i] + LOG_LOSS_EPSILON) + (1 - y[i]) * Math.log(1 - p[i] + LOG_LOSS_EPSILON);
    const b = y[i] * Math.log(p[i]) + (1 - y[i]) * Math.log(1 - p[i]);
    shift -= a - b;
  }
  return shift / p.length;
}

/** The mean, in float64, of TensorFlow.js's per-element losses (Reduction.NONE) on the current backend. */
export function tfjsElementMean(tf: TfModule, loss: string, feeds: { input: TensorData; target: TensorData }): number {
  const dims = feeds.input.dims as number[];
  const x = feeds.input.data as Float32Array;
  const none = tf.Reduction.NONE;
  const values = tf.tidy(() => {
    if (loss === "cross_entropy") {
      const labels = tf.oneHot(tf.tensor1d(Int32Array.from(feeds.target.data as BigInt64Array, Number), "int32"), dims[1]);
      return tf.losses.softmaxCrossEntropy(labels, tf.tensor(x, dims, "float32"), undefined, undefined, none).dataSync();
    }
    const y = tf.tensor(feeds.target.data as Float32Array, dims, "float32");
    if (loss === "binary_cross_entropy_with_logits")
      return tf.losses.sigmoidCrossEntropy(y, tf.tensor(x, dims, "float32"), undefined, undefined, none).dataSync();
    return tf.losses.logLoss(y, tf.tensor(x, dims, "float32"), undefined, undefined, none).dataSync();
  });
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

const relative = (a: number, b: number) => Math.abs(b - a) / Math.max(Math.abs(a), 1e-30);

/**
 * Check TensorFlow.js against this project's value `ours` on the current backend before timing it: its
 * per-element losses' float64 mean within {@link TFJS_TOLERANCE} (the same loss), and the timed call's
 * value `timed` within {@link TFJS_MEAN_TOLERANCE} (the same reduction). Throws, naming the numbers,
 * otherwise; returns the timed value's relative difference.
 */
export function checkTfjs(
  what: string,
  tf: TfModule,
  loss: string,
  feeds: { input: TensorData; target: TensorData },
  ours: number,
  timed: number,
): number {
  const mean = tfjsElementMean(tf, loss, feeds);
  if (!(relative(ours, mean) <= TFJS_TOLERANCE))
    throw new Error(
      `bench: ${what}: TensorFlow.js's per-element losses average ${mean}, this project's loss is ${ours} (relative difference ${relative(ours, mean).toExponential(2)}, tolerance ${TFJS_TOLERANCE}): not the same loss, so not timed`,
    );
  const rel = relative(ours, timed);
  if (!(rel <= TFJS_MEAN_TOLERANCE))
    throw new Error(
      `bench: ${what}: TensorFlow.js's mean is ${timed}, this project's ${ours} (relative difference ${rel.toExponential(2)}, tolerance ${TFJS_MEAN_TOLERANCE}): not the same reduction, so not timed`,
    );
  return rel;
}
