/**
 * Type tests: `npm run typecheck` (run by .ci/run) compiles this file, and every `@ts-expect-error`
 * below must be an error, or the check fails. At run time the well-typed calls build.
 */
import { describe, expect, test } from "@jest/globals";
import { Graph } from "../src/builder/graph.js";
import { mul } from "../src/builder/ops/index.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss, type LossName, type LossOptionsFor } from "../src/losses/index.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { createEvaluator } from "../src/runtime/node.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import type { TensorOf } from "../src/tensor/tensor.js";

/** Compile-time only: never called. */
function misuses(): void {
  // @ts-expect-error a misspelt option of a known loss
  buildLoss("softmax_focal_loss", { gama: 2 });
  // @ts-expect-error a value of the wrong type
  buildLoss("cross_entropy", { labelSmoothing: "0.1" });
  // @ts-expect-error a reduction that does not exist
  buildLoss("nll_loss", { reduction: "avg" });
  // @ts-expect-error an option of another loss
  buildLoss("binary_cross_entropy", { gamma: 2 });
  // @ts-expect-error an opset must be a number
  buildLoss("cross_entropy", {}, { opset: "17" });
  // @ts-expect-error lowering takes "none" | "webgpu"
  buildLoss("cross_entropy", {}, { lowering: "webgl" });
  // @ts-expect-error a misspelt build option (types come from the schema, util/schema.ts)
  buildLoss("cross_entropy", {}, { opest: 18 });
  // @ts-expect-error a misspelt evaluator option
  void createEvaluator(buildLoss("cross_entropy"), { thread: 1 });
  // @ts-expect-error skipValidation is a boolean
  void createEvaluator(buildLoss("cross_entropy"), { skipValidation: "yes" });
  // @ts-expect-error attachLoss needs output
  attachLoss(new Uint8Array(), { loss: "cross_entropy" });
  // @ts-expect-error the step's lr is required
  linearHeadStep("cross_entropy", {}, {});
  // @ts-expect-error a stream option of the wrong type
  void evaluateNpyFiles({ loss: "cross_entropy" }, {}, { chunkBytes: "64M" });
  const g = new Graph("g");
  // @ts-expect-error ops take Values or numbers
  mul(g.input("x", "float32", [1]), "2");
  // @ts-expect-error a dtype the builder does not know
  g.input("x", "float8", [1]);
}
void misuses;

/**
 * Compile-time only: the outputs are typed precisely, so the README's examples need no cast. Each
 * `@ts-expect-error` fails the check if the types loosen (a union with BigInt64Array again, or
 * `Float32Array<ArrayBufferLike>`, which a `new Float32Array(n)` variable does not take).
 */
async function outputTypes(): Promise<unknown[]> {
  const ev = await createEvaluator(buildLoss("softmax_focal_loss", { gradient: true }));
  const { loss, input_grad } = await ev.run({});
  const values: number[] = Array.from(loss.data);
  const grads: string[] = Array.from(input_grad.data, (v) => v.toFixed(6));
  const f32: Float32Array = loss.data;
  const first: string = loss.data[0].toFixed(4);
  const dtype: "float32" = loss.dtype;
  // @ts-expect-error a float32 loss's data is a Float32Array, not a union with BigInt64Array
  const asInt: BigInt64Array = loss.data;
  // @ts-expect-error nor a Float64Array
  const as64: Float64Array = input_grad.data;

  const ev64 = await createEvaluator(buildLoss("cross_entropy", {}, { dtype: "float64" }));
  const f64: Float64Array = (await ev64.run({})).loss.data;
  // @ts-expect-error a float64 build's loss is a Float64Array
  const not32: Float32Array = (await ev64.run({})).loss.data;
  const parts = await createEvaluator(buildLoss("cross_entropy", {}, { outputs: "parts" }));
  // @ts-expect-error parts accumulate in float64 (float32 under the WebGPU lowering): not only float32
  const sum32: Float32Array = (await parts.run({})).loss_sum.data;

  // the training step's outputs feed its inputs, and a `new Float32Array(n)` variable takes them
  const step = await createEvaluator(linearHeadStep("cross_entropy", {}, { lr: 0.5 }));
  let W = new Float32Array(6);
  let b = new Float32Array(3);
  const out = await step.run({ W: { data: W, dims: [2, 3] }, b: { data: b, dims: [3] } });
  W = out.W_next.data;
  b = out.b_next.data;
  await step.run({ W: out.W_next, b: out.b_next });
  const step64 = await createEvaluator(linearHeadStep("cross_entropy", {}, { lr: 0.5 }, { dtype: "float64" }));
  // @ts-expect-error a float64 step's W_next is a Float64Array, which a Float32Array variable does not take
  W = (await step64.run({})).W_next.data;

  // attached: the named output, loss and its gradient are floats; the model's other outputs any dtype
  const attached = await createEvaluator(attachLoss(new Uint8Array(), { output: "logits", loss: "cross_entropy" }));
  const { logits, logits_grad, other } = await attached.run({});
  const shown: string[] = Array.from(logits_grad.data, (v) => v.toFixed(6));
  const dims: number[] = logits.dims;
  // @ts-expect-error another output of the model may be int64: its data is not known to hold numbers
  const otherValues: number[] = Array.from(other.data);

  // any model: each output narrows by its dtype; an index output is a BigInt64Array
  const any = await createEvaluator(new Uint8Array());
  const t = (await any.run({})).out;
  // @ts-expect-error an output of unknown dtype may be int64
  const unknown: number[] = Array.from(t.data);
  const indices: BigInt64Array | undefined = t.dtype === "int64" ? t.data : undefined;
  // @ts-expect-error an index output is not a Float32Array
  const wrong: Float32Array | undefined = t.dtype === "int64" ? t.data : undefined;
  const idx: TensorOf<"int64"> = { dtype: "int64", dims: [1], data: BigInt64Array.of(1n) };
  const big: bigint = idx.data[0];
  const streamed = await evaluateNpyFiles({ loss: "cross_entropy" }, {});
  const s = streamed.outputs.loss;
  const sum: number | undefined = s.dtype === "float64" ? s.data[0] : undefined;
  return [values, grads, f32, first, dtype, asInt, as64, f64, not32, sum32, b, shown, dims, otherValues, unknown, indices, wrong, big, sum];
}
void outputTypes;

describe("typed options", () => {
  test("known names take their own options; other strings anything (checked at run time)", () => {
    const focal: LossOptionsFor<"softmax_focal_loss"> = { gamma: 1, alpha: [0.2, 0.8], reduction: "sum" };
    expect(buildLoss("softmax_focal_loss", focal).options.gamma).toBe(1);
    const name: string = "sigmoid_focal_loss";
    expect(buildLoss(name, { alpha: null }).options.alpha).toBeNull();
    const names: LossName[] = [
      "cross_entropy",
      "nll_loss",
      "binary_cross_entropy",
      "binary_cross_entropy_with_logits",
      "softmax_focal_loss",
      "sigmoid_focal_loss",
    ];
    for (const n of names) expect(buildLoss(n).name).toBe(n);
  });
});
