/**
 * Generated mutations of attached models and of training-step models (fast-check): a model's declared
 * output shape (dims named apart from the input's, unknown, fixed right or wrong, negative), its opset
 * imports (a domain twice, the ai.onnx alias), the loss, its options and the dims and values of the
 * feeds. The only outcomes are the float64 reference's value on the outputs onnxruntime computed, or a
 * one-line user error: never a silent wrong value, never an internal error (issue 16). Each failure
 * fast-check finds becomes a case in attach.test.ts or hostile.test.ts.
 */
import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { Graph, type Dim } from "../src/builder/graph.js";
import { UserError } from "../src/errors.js";
import { attachLoss } from "../src/losses/attach.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { decodeModel, encodeModel, type onnx } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";
import type { TensorInput } from "../src/tensor/tensor.js";
import { referenceFor, referenceGradFor } from "./reference.js";

/** Cases per property: a few dozen in npm test; ONNX_LOSSES_FUZZ_RUNS (npm run test:fuzz) for more. */
const FUZZ_RUNS = Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || 0;
const runs = (n: number) => FUZZ_RUNS || n;

/** Run f; a UserError of one line is an allowed outcome, anything else thrown fails the property. */
async function userErrorOr<T>(f: () => T | Promise<T>): Promise<T | UserError> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof UserError) {
      expect(e.message.split("\n")).toHaveLength(1);
      return e;
    }
    throw e;
  }
}

const close = (got: ArrayLike<number>, want: readonly number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const [g, w] = [Number(got[i]), want[i]];
    if (Number.isNaN(w)) expect(g).toBeNaN();
    else expect(Math.abs(g - w)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(w)));
  }
};

const K = 3; // the model's input features
/** Losses on logits: those taking class indices, and those taking a target of the output's shape. */
const INDEX_LOSSES = ["cross_entropy", "softmax_focal_loss", "nll_loss"];
const SAME_SHAPE_LOSSES = ["binary_cross_entropy_with_logits", "sigmoid_focal_loss"];

/**
 * logits = x W + b, x [B, 3], with C classes; the output declared as `declared` says (which may be
 * anything a file can hold), the opset imports edited as `opsets` says.
 */
function headModel(C: number, declared: readonly Dim[], opsets: "one" | "alias" | "twice" | "alias twice"): Uint8Array {
  const g = new Graph("head", { opset: 17 });
  const x = g.input("x", "float32", ["B", K]);
  const W = g.constant(
    Array.from({ length: K * C }, (_, i) => Math.sin(i + 1)),
    "float32",
    [K, C],
  );
  const b = g.constant(
    Array.from({ length: C }, (_, i) => Math.cos(i) / 2),
    "float32",
    [C],
  );
  g.output(g.node("Add", [g.node("MatMul", [x, W]), b]), "logits", declared);
  const m = decodeModel(g.toModel());
  if (opsets === "alias") m.opsetImport[0].domain = "ai.onnx";
  if (opsets === "twice") m.opsetImport.push({ domain: "", version: 13 } as onnx.OperatorSetIdProto);
  if (opsets === "alias twice") m.opsetImport.push({ domain: "ai.onnx", version: 18 } as onnx.OperatorSetIdProto);
  return encodeModel(m);
}

/** Target values for dims: class indices in [-2, C + 1] (some refused, -1 ignored where ignoreIndex is -1), or probabilities. */
function targetOf(indices: boolean, dims: number[], seed: number, C: number): TensorInput {
  const n = dims.reduce((a, d) => a * d, 1);
  const r = (i: number) => Math.abs(Math.sin(seed * 7.1 + i * 3.3));
  return indices
    ? { dims, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(Math.floor(r(i) * (C + 4)) - 2)) }
    : { dims, data: Float32Array.from({ length: n }, (_, i) => r(i)) };
}

describe("attached models: mutations of the model, the options and the feeds", () => {
  const dimOf = (what: string, size: number): Dim =>
    what === "shared"
      ? "B"
      : what === "named"
        ? "logits_dynamic_axes_1"
        : what === "unknown"
          ? "?"
          : what === "fixed"
            ? size
            : what === "wrong"
              ? size + 1
              : what === "one"
                ? 1
                : -5;
  const caseArb = fc.record({
    loss: fc.constantFrom(...INDEX_LOSSES, ...SAME_SHAPE_LOSSES),
    C: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 0, max: 4 }),
    batchDim: fc.constantFrom("shared", "named", "unknown", "fixed", "wrong", "negative"),
    classDim: fc.constantFrom("fixed", "named", "unknown", "wrong", "one", "negative"),
    opsets: fc.constantFrom("one", "one", "one", "alias", "twice", "alias twice"),
    reduction: fc.constantFrom("mean", "sum", "none"),
    ignoreIndex: fc.constantFrom(-100, -1),
    gradient: fc.boolean(),
    // the target's dims: right, one item more or fewer, one where there are more, a class dim off
    targetDims: fc.constantFrom("right", "more", "fewer", "one item", "class off", "class one"),
    seed: fc.nat(1000),
  });

  test("a value equal to the float64 reference on the computed output, or one line of user error", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const declared = [dimOf(k.batchDim, k.n), k.classDim === "named" ? "C" : dimOf(k.classDim, k.C)];
        const bytes = headModel(k.C, declared, k.opsets as never);
        const options: Record<string, unknown> = {
          reduction: k.reduction,
          ...(INDEX_LOSSES.includes(k.loss) ? { ignoreIndex: k.ignoreIndex } : {}),
        };
        const a = await userErrorOr(() => attachLoss(bytes, { output: "logits", loss: k.loss, options, gradient: k.gradient }, "m.onnx"));
        if (a instanceof UserError) {
          // refused at attach: only for a domain imported twice or a negative declared dim
          expect(k.opsets.includes("twice") || k.batchDim === "negative" || k.classDim === "negative").toBe(true);
          return;
        }
        const indices = INDEX_LOSSES.includes(k.loss);
        const right = indices ? [k.n] : [k.n, k.C];
        const dims =
          k.targetDims === "right"
            ? right
            : k.targetDims === "more"
              ? [k.n + 1, ...right.slice(1)]
              : k.targetDims === "fewer"
                ? [Math.max(k.n - 1, 0), ...right.slice(1)]
                : k.targetDims === "one item"
                  ? [1, ...right.slice(1)]
                  : indices
                    ? right
                    : [k.n, k.targetDims === "class off" ? k.C + 1 : 1];
        const x: TensorInput = { dims: [k.n, K], data: Float32Array.from({ length: k.n * K }, (_, i) => Math.cos(i * 1.7 + k.seed)) };
        const target = targetOf(indices, dims, k.seed, k.C);
        const ev = await userErrorOr(() => createEvaluator(a.model, { what: "m.onnx" }));
        if (ev instanceof UserError) return;
        try {
          const out = await userErrorOr(() => ev.run({ x, target }));
          if (out instanceof UserError) return;
          // it ran: the target had the dims the loss binds to the output as computed, which is [n, C]
          expect(out.logits.dims).toEqual([k.n, k.C]);
          expect(dims).toEqual(right);
          const input = { dims: out.logits.dims, data: Array.from(out.logits.data as Float32Array) };
          const t = { dims, data: Array.from(target.data as ArrayLike<number | bigint>, Number) };
          if (indices) expect(t.data.every((v) => (v >= 0 && v < k.C) || v === k.ignoreIndex)).toBe(true);
          close(out.loss.data as Float32Array, referenceFor(k.loss, input, t, options));
          if (k.gradient) close(out.logits_grad.data as Float32Array, referenceGradFor(k.loss, input, t, options));
        } finally {
          await ev.release();
        }
      }),
      { numRuns: runs(120) },
    );
  }, 120_000);
});

describe("training-step models: mutations of the feeds' dims and of the model's opset imports", () => {
  const caseArb = fc.record({
    loss: fc.constantFrom("cross_entropy", "softmax_focal_loss", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"),
    reduction: fc.constantFrom("mean", "sum"),
    n: fc.integer({ min: 0, max: 4 }),
    D: fc.integer({ min: 1, max: 3 }),
    C: fc.integer({ min: 1, max: 4 }),
    // one feed's dim off by one (or none): X's N, X's D, W's D, W's C, b's C, the target's N or C
    off: fc.constantFrom("none", "none", "X.N", "X.D", "W.D", "W.C", "b.C", "target.N", "target.C"),
    opsets: fc.constantFrom("one", "one", "twice"),
    seed: fc.nat(1000),
  });

  test("a step equal to the float64 reference, or one line of user error", async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const lr = 0.5;
        const step = linearHeadStep(k.loss, { reduction: k.reduction }, { lr });
        let bytes = step.model;
        if (k.opsets === "twice") {
          const m = decodeModel(bytes);
          m.opsetImport.push({ domain: "", version: 13 } as onnx.OperatorSetIdProto);
          bytes = encodeModel(m);
        }
        const off = (what: string, d: number) => (k.off === what ? d + 1 : d);
        const indices = k.loss === "cross_entropy" || k.loss === "softmax_focal_loss";
        const r = (i: number) => Math.sin(k.seed + i * 2.3);
        const Xd = [off("X.N", k.n), off("X.D", k.D)];
        const Wd = [off("W.D", k.D), off("W.C", k.C)];
        const bd = [off("b.C", k.C)];
        const td = indices ? [off("target.N", k.n)] : [off("target.N", k.n), off("target.C", k.C)];
        const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
        const X = Float32Array.from({ length: size(Xd) }, (_, i) => r(i));
        const W = Float32Array.from({ length: size(Wd) }, (_, i) => r(i + 100) / 2);
        const b = Float32Array.from({ length: size(bd) }, (_, i) => r(i + 200) / 4);
        const target = indices
          ? { dims: td, data: BigInt64Array.from({ length: size(td) }, (_, i) => BigInt(Math.floor(Math.abs(r(i + 300)) * (k.C + 2)) - 1)) }
          : { dims: td, data: Float32Array.from({ length: size(td) }, (_, i) => Math.abs(r(i + 300))) };
        const ev = await userErrorOr(() => createEvaluator(bytes, { what: "step.onnx" }));
        if (ev instanceof UserError) {
          expect(k.opsets).toBe("twice");
          return;
        }
        try {
          const out = await userErrorOr(() =>
            ev.run({ X: { dims: Xd, data: X }, W: { dims: Wd, data: W }, b: { dims: bd, data: b }, target }),
          );
          if (out instanceof UserError) return;
          // it ran: no dim was off (a class-index target has no C to be off)
          expect(k.off === "none" || (indices && k.off === "target.C")).toBe(true);
          // logits = X W + b in float64, the reference's loss and gradient on them
          const logits = Array.from({ length: k.n * k.C }, (_, i) => {
            const [row, c] = [Math.floor(i / k.C), i % k.C];
            let s = b[c];
            for (let d = 0; d < k.D; d++) s += X[row * k.D + d] * W[d * k.C + c];
            return s;
          });
          const input = { dims: [k.n, k.C], data: logits };
          const t = { dims: td, data: Array.from(target.data as ArrayLike<number | bigint>, Number) };
          if (indices) expect(t.data.every((v) => v >= 0 && v < k.C)).toBe(true);
          const options = { reduction: k.reduction };
          // float32 logits computed by onnxruntime against float64 ones here: 1e-4
          const near = (got: ArrayLike<number>, want: number[]) => close(got, want, 1e-4);
          near(out.loss.data as Float32Array, referenceFor(k.loss, input, t, options));
          const g = referenceGradFor(k.loss, input, t, options);
          const Wnext = Array.from({ length: k.D * k.C }, (_, i) => {
            const [d, c] = [Math.floor(i / k.C), i % k.C];
            let s = 0;
            for (let row = 0; row < k.n; row++) s += X[row * k.D + d] * g[row * k.C + c];
            return W[i] - lr * s;
          });
          near(out.W_next.data as Float32Array, Wnext);
        } finally {
          await ev.release();
        }
      }),
      { numRuns: runs(120) },
    );
  }, 120_000);
});
