/** The catalogue: option validation with exact messages, and the structure of the graphs. */
import { describe, expect, test } from "@jest/globals";
import { readModel, type ModelInfo } from "../src/builder/reader.js";
import { CHUNKS } from "../src/losses/common.js";
import { buildLoss, CATALOGUE, LOSS_NAMES, resolveLossOptions } from "../src/losses/index.js";
import { SUPPORTED_OPSETS } from "../src/onnx/versions.js";
import { createEvaluator } from "../src/runtime/node.js";
import { exactly } from "./helpers.js";

const ops = (m: ModelInfo) => m.nodes.map((n) => n.opType);
const info = (name: string, options: object = {}) => readModel(buildLoss(name, options).model);

describe("options", () => {
  test("defaults are filled in, in schema order", () => {
    expect(resolveLossOptions("softmax_focal_loss")).toEqual({
      rank: 2,
      gamma: 2,
      alpha: null,
      balanceIndex: 0,
      ignoreIndex: -100,
      labelSmoothing: 0,
      oneHotClamp: 0,
      reduction: "mean",
      gradient: false,
    });
    expect(resolveLossOptions("sigmoid_focal_loss")).toEqual({ rank: 2, alpha: 0.25, gamma: 2, reduction: "mean", gradient: false });
    expect(resolveLossOptions("cross_entropy")).toEqual({
      rank: 2,
      targetType: "index",
      weight: null,
      ignoreIndex: -100,
      reduction: "mean",
      labelSmoothing: 0,
      gradient: false,
    });
  });

  test.each([
    ["softmax_focal_loss", { gamma: -1 }, "softmax_focal_loss: option gamma: expected a number >= 0, received -1"],
    [
      "softmax_focal_loss",
      { alpha: 1.5 },
      "softmax_focal_loss: option alpha: expected null, a number in [0, 1], or a non-empty list of numbers >= 0, received 1.5",
    ],
    [
      "sigmoid_focal_loss",
      { alpha: 2 },
      "sigmoid_focal_loss: option alpha: expected null or a number <= 1 (negative disables), received 2",
    ],
    ["cross_entropy", { labelSmoothing: 1.2 }, "cross_entropy: option labelSmoothing: expected a number in [0, 1], received 1.2"],
    ["cross_entropy", { reduction: "avg" }, 'cross_entropy: option reduction: expected "mean" | "sum" | "none", received "avg"'],
    [
      "cross_entropy",
      { weight: [] },
      'cross_entropy: option weight: expected null or a non-empty list of numbers >= 0, or "input" (a tensor input weight, [C], C the classes of input), received []',
    ],
    [
      "cross_entropy",
      { weight: [1, -2] },
      'cross_entropy: option weight: expected null or a non-empty list of numbers >= 0, or "input" (a tensor input weight, [C], C the classes of input), received [1,-2]',
    ],
    ["cross_entropy", { rank: 1 }, "cross_entropy: option rank: expected an integer in [2, 8], received 1"],
    [
      "cross_entropy",
      { ignore_index: 3 },
      'cross_entropy: unknown option "ignore_index" (did you mean ignoreIndex?); options are rank, targetType, weight, ignoreIndex, reduction, labelSmoothing',
    ],
    [
      "softmax_focal_loss",
      { smooth: 0.1 },
      'softmax_focal_loss: unknown option "smooth"; options are rank, gamma, alpha, balanceIndex, ignoreIndex, labelSmoothing, oneHotClamp, reduction',
    ],
    ["softmax_focal_loss", { oneHotClamp: 0.6 }, "softmax_focal_loss: option oneHotClamp: expected a number in [0, 0.5], received 0.6"],
    [
      "softmax_focal_loss",
      { oneHotClamp: 0.1, labelSmoothing: 0.1 },
      "softmax_focal_loss: options labelSmoothing and oneHotClamp: expected at most one of them > 0, received labelSmoothing 0.1 and oneHotClamp 0.1",
    ],
    [
      "softmax_focal_loss",
      { alpha: [1, 2], balanceIndex: 1 },
      "softmax_focal_loss: option balanceIndex: expected the default 0 when alpha is a list (it applies to a number alpha), received 1",
    ],
    [
      "binary_cross_entropy_with_logits",
      { weight: [1, 2, 3], posWeight: [1, 2] },
      "binary_cross_entropy_with_logits: option posWeight: expected 3 numbers (the length of weight, both run along the last dim), received 2",
    ],
    [
      "cross_entropy",
      { targetType: "probs", ignoreIndex: 1 },
      'cross_entropy: option ignoreIndex: expected the default -100 with targetType "probs" (PyTorch ignores it for probabilities), received 1',
    ],
    ["nll_loss", "gamma", 'nll_loss: options: expected an object, received "gamma"'],
  ])("%s %j is refused", (loss, options, message) => {
    expect(() => buildLoss(loss, options)).toThrow(message);
  });

  test("unknown losses get a hint", () => {
    expect(() => buildLoss("focal")).toThrow(
      exactly(`loss: unknown loss "focal" (did you mean softmax_focal_loss or sigmoid_focal_loss?); losses are ${LOSS_NAMES.join(", ")}`),
    );
    expect(() => buildLoss("cross_entropi")).toThrow(
      exactly(`loss: unknown loss "cross_entropi" (did you mean cross_entropy?); losses are ${LOSS_NAMES.join(", ")}`),
    );
    expect(() => buildLoss("bce")).toThrow(
      exactly(
        `loss: unknown loss "bce" (did you mean binary_cross_entropy or binary_cross_entropy_with_logits?); losses are ${LOSS_NAMES.join(", ")}`,
      ),
    );
  });

  test("opsets outside 13..23 are refused", () => {
    expect(() => buildLoss("cross_entropy", {}, { opset: 11 })).toThrow(exactly("opset: expected an integer from 13 to 23, received 11"));
  });

  test("a weight, an alpha list or a posWeight fixes C in the declared input shape", () => {
    expect(info("cross_entropy", { weight: [1, 2, 3] }).inputs[0].shape).toEqual(["N", 3]);
    expect(info("softmax_focal_loss", { alpha: [1, 2, 3, 4], rank: 4 }).inputs[0].shape).toEqual(["N", 4, "d1", "d2"]);
    expect(info("binary_cross_entropy_with_logits", { posWeight: [1, 2] }).inputs[0].shape).toEqual(["N", 2]);
    expect(info("binary_cross_entropy_with_logits", { posWeight: [2] }).inputs[0].shape).toEqual(["N", "C"]);
  });
});

describe("graph structure", () => {
  test("cross_entropy on [N, C] is LogSoftmax + GatherElements, never Softmax, Log(Softmax) or OneHot", () => {
    const o = ops(info("cross_entropy"));
    expect(o).toContain("LogSoftmax");
    expect(o).toContain("GatherElements");
    for (const bad of ["Softmax", "OneHot", "SoftmaxCrossEntropyLoss", "Log"]) expect(o).not.toContain(bad);
  });

  test("on [N, C, d..] the log-softmax is a decomposed log-sum-exp over axis 1 (faster in onnxruntime)", () => {
    const o = ops(info("cross_entropy", { rank: 4 }));
    expect(o).not.toContain("LogSoftmax");
    expect(o).toEqual(expect.arrayContaining(["ReduceMax", "Sub", "Exp", "ReduceSum", "Log", "GatherElements"]));
  });

  test.each([2, 3])("hard-target softmax_focal_loss (rank %i) has no one-hot and no [N, C] math after the log-softmax", (rank) => {
    const m = info("softmax_focal_loss", { alpha: 0.25, gamma: 2, rank });
    expect(ops(m)).not.toContain("OneHot");
    // every consumer of the class-axis tensors is the gather (or the log-sum-exp itself)
    const classTensors = new Set(m.nodes.filter((n) => ["LogSoftmax"].includes(n.opType)).flatMap((n) => n.outputs));
    if (rank > 2) {
      const sub = m.nodes.find((n) => n.opType === "Sub" && n.inputs.includes("input"))!;
      classTensors.add(sub.outputs[0]);
    }
    const consumers = m.nodes.filter((n) => n.inputs.some((i) => classTensors.has(i))).map((n) => n.opType);
    expect(consumers.length).toBeGreaterThan(0);
    for (const c of consumers) expect(["GatherElements", "Exp"]).toContain(c);
    if (rank > 2) expect(consumers.filter((c) => c === "Exp")).toHaveLength(1); // the log-sum-exp
  });

  test("gamma 2 is one Mul and gamma 0 drops the focal factor", () => {
    expect(ops(info("softmax_focal_loss", { gamma: 2 }))).not.toContain("Pow");
    expect(ops(info("softmax_focal_loss", { gamma: 0.5 }))).toContain("Pow");
    const g0 = ops(info("softmax_focal_loss", { gamma: 0 }));
    expect(g0).not.toContain("Exp");
    expect(g0).not.toContain("Pow");
  });

  test.each([{}, { posWeight: [2, 3] }, { reduction: "none" }])(
    "BCE with logits %j takes log only of sigmoid(|x|), never of sigmoid(x)",
    (options) => {
      const m = info("binary_cross_entropy_with_logits", options);
      const producer = new Map(m.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
      const logs = m.nodes.filter((n) => n.opType === "Log");
      // one per chunk of the batch for a mean or a sum (see the chunk tests below), one for "none"
      expect(logs).toHaveLength((options as { reduction?: string }).reduction === "none" ? 1 : CHUNKS);
      for (const log of logs) {
        // a mean or a sum without posWeight takes one Log per 16 values: of their product (sumOfLogs)
        let sig = producer.get(log.inputs[0])!;
        while (["ReduceProd", "Reshape", "Pad"].includes(sig.opType)) sig = producer.get(sig.inputs[0])!;
        expect(sig.opType).toBe("Sigmoid");
        expect(producer.get(sig.inputs[0])!.opType).toBe("Abs");
      }
      const grouped = (options as { reduction?: string; posWeight?: unknown }).reduction !== "none" && !("posWeight" in options);
      expect(m.nodes.filter((n) => n.opType === "ReduceProd")).toHaveLength(grouped ? CHUNKS : 0);
      expect(m.nodes.map((n) => n.opType)).not.toContain("Softplus");
    },
  );

  test("mean and sum of elementwise losses are blocked: float32 over the last axis, then float64", () => {
    // in chunks: each chunk's sum is float32 over the last axis, then float64; the chunks add in float64
    const m = info("binary_cross_entropy", { rank: 3, reduction: "sum" });
    const producer = new Map(m.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const op = (n: { opType: string; attributes: Record<string, unknown> }) => `${n.opType}${n.attributes.to ? `:${n.attributes.to}` : ""}`;
    expect(m.nodes.slice(-2).map(op)).toEqual(["Sum", "Cast:1"]);
    const sum = m.nodes[m.nodes.length - 2];
    expect(sum.inputs).toHaveLength(CHUNKS);
    for (const part of sum.inputs) {
      const chain: string[] = [];
      for (let n = producer.get(part); n && chain.length < 3; n = producer.get(n.inputs[0])) chain.push(op(n));
      expect(chain).toEqual(["ReduceSum", "Cast:11", "ReduceSum"]);
    }
    // one pass over a 1-D batch with a weight per element (not cut in chunks): zero-padded rows of 256
    const flat = info("binary_cross_entropy", { rank: 1, weight: [1, 2, 3], reduction: "sum" });
    expect(flat.nodes.slice(-6).map(op)).toEqual(["Pad", "Reshape", "ReduceSum", "Cast:11", "ReduceSum", "Cast:1"]);
  });

  test("mean and sum accumulate in float64", () => {
    for (const d of CATALOGUE) {
      const m = info(d.name);
      const last = m.nodes[m.nodes.length - 1];
      expect(last.opType).toBe("Cast");
      expect(last.attributes.to).toBe(1);
      expect(m.nodes.some((n) => n.opType === "Cast" && n.attributes.to === 11)).toBe(true);
    }
  });

  test("a model carries its loss, options and input checks as metadata", () => {
    const m = info("cross_entropy", { weight: [1, 2] });
    expect(m.metadata["onnx_losses.loss"]).toBe("cross_entropy");
    expect(JSON.parse(m.metadata["onnx_losses.options"]).weight).toEqual([1, 2]);
    expect(JSON.parse(m.metadata["onnx_losses.checks"])).toEqual([
      { axis: 1, classesOf: "input", ignoreIndex: -100, kind: "classIndex", tensor: "target" },
    ]);
  });

  test("builds are byte-identical for equal options, whatever their key order", () => {
    const a = buildLoss("softmax_focal_loss", { gamma: 1, alpha: 0.5 }).model;
    const b = buildLoss("softmax_focal_loss", { alpha: 0.5, gamma: 1 }).model;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});

describe("every loss and option family loads in onnxruntime at every opset", () => {
  const variants: [string, object][] = [
    ["cross_entropy", { rank: 3, labelSmoothing: 0.1, weight: [1, 2, 3] }],
    ["cross_entropy", { targetType: "probs", labelSmoothing: 0.1, rank: 4 }],
    ["nll_loss", { weight: [1, 2], reduction: "sum" }],
    ["binary_cross_entropy", { weight: [1, 2], rank: 3 }],
    ["binary_cross_entropy_with_logits", { posWeight: [1, 2], weight: [3], rank: 1 }],
    ["softmax_focal_loss", { labelSmoothing: 0.1, alpha: 0.25, gamma: 1.5, rank: 3 }],
    ["softmax_focal_loss", { oneHotClamp: 0.1, alpha: [1, 2, 3] }],
    ["sigmoid_focal_loss", { gamma: 0.5, alpha: null, reduction: "none" }],
  ];
  test.each(SUPPORTED_OPSETS)("opset %i", async (opset) => {
    for (const [name, options] of variants) {
      const ev = await createEvaluator(buildLoss(name, options, { opset }));
      await ev.release();
    }
  });
});
