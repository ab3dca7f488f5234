/**
 * BCE with logits and sigmoid focal at logits of +-inf, against PyTorch (test/fixtures/infinite/logits.json,
 * made by scripts/make_fixtures.py): inf for +inf unless y = 1, NaN for -inf, as PyTorch's
 * (1 - y) x + max(-x, 0) + log(...) gives them, with and without posWeight. On the CPU provider.
 */
import { describe, expect, test } from "@jest/globals";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { feedsOf, firstMismatch, loadFixtures, num } from "./helpers.js";

describe("infinite logits as PyTorch (test/fixtures/infinite/logits.json)", () => {
  const cases = loadFixtures("infinite/logits.json");
  test("the fixture holds both losses and infinities", () => {
    expect(new Set(cases.map((c) => c.loss))).toEqual(new Set(["binary_cross_entropy_with_logits", "sigmoid_focal_loss"]));
    expect(cases.every((c) => c.expected.data.includes("Infinity") && c.expected.data.includes("NaN"))).toBe(true);
  });
  test.each(cases.map((c) => [c.id, c] as const))("%s", async (_id, c) => {
    for (const opset of [13, 17, 18]) {
      const ev = await createEvaluator(buildLoss(c.loss, c.options, { opset }));
      const { loss } = await ev.run(feedsOf(c));
      await ev.release();
      const want = c.expected.data.map(num);
      expect({ opset, at: firstMismatch(loss.data as Float32Array, want) }).toEqual({ opset, at: -1 });
    }
  });
});
