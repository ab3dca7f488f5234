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
