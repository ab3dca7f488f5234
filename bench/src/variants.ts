/**
 * The graphs the benchmark compares with this project's: ONNX's one-node loss ops, the naive
 * Softmax -> Log -> one-hot formulation, and the floor (one read of the input), all built with the
 * same builder.
 */
import { Graph } from "../../src/builder/graph.js";
import {
  cast,
  gather,
  log,
  mul,
  neg,
  powConst,
  reduceMax,
  reduceMean,
  reduceSum,
  shape,
  sigmoid,
  softmax,
  sub,
} from "../../src/builder/ops/index.js";
import { classInputDims, itemDims } from "../../src/losses/common.js";

/** One-node SoftmaxCrossEntropyLoss (cross_entropy) or NegativeLogLikelihoodLoss (nll_loss), mean. */
export function oneNodeLoss(loss: "cross_entropy" | "nll_loss", rank: number): Uint8Array {
  const g = new Graph(`${loss}_one_node`);
  const x = g.input("input", "float32", classInputDims(rank));
  const t = g.input("target", "int64", itemDims(rank));
  const op = loss === "cross_entropy" ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss";
  g.output(g.node(op, [x, t], { reduction: "mean" }), "loss", []);
  return g.toModel();
}

/**
 * The naive softmax graph: p = Softmax(x), log p = Log(p), one-hot of the target (OneHot, depth C),
 * l = -sum_c onehot * log p (times (1 - p)^2 for the focal variant), then the mean.
 */
export function naiveSoftmaxLoss(rank: number, focal: boolean): Uint8Array {
  const g = new Graph(focal ? "naive_focal" : "naive_cross_entropy");
  const x = g.input("input", "float32", classInputDims(rank));
  const t = g.input("target", "int64", itemDims(rank));
  const p = softmax(x, 1);
  const logp = log(p);
  const depth = gather(shape(x), g.constant([1], "int64"), 0);
  const onehot = g.node("OneHot", [t, depth, g.constant([0, 1], "float32")], { axis: 1 }, { dtype: "float32" });
  let term = mul(onehot, logp);
  if (focal) term = mul(term, powConst(sub(1, p), 2)!);
  g.output(neg(reduceMean(reduceSum(term, { axes: [1] }))), "loss", []);
  return g.toModel();
}

/** The naive sigmoid graph: -(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))), the mean. */
export function naiveSigmoidLoss(rank: number): Uint8Array {
  const g = new Graph("naive_bce_with_logits");
  const dims = classInputDims(rank);
  const x = g.input("input", "float32", dims);
  const y = g.input("target", "float32", dims);
  const p = sigmoid(x);
  const l = neg(g.node("Add", [mul(y, log(p)), mul(sub(1, y), log(sub(1, p)))]));
  g.output(reduceMean(l), "loss", []);
  return g.toModel();
}

/** The floor: one ReduceMax over the input, i.e. one read of the logits (float32 or float16 input). */
export function floorGraph(rank: number, dtype: "float32" | "float16" = "float32"): Uint8Array {
  const g = new Graph("one_read");
  const x = g.input("input", dtype, classInputDims(rank));
  g.output(cast(reduceMax(x), "float32"), "max", []);
  return g.toModel();
}
