/**
 * Golden parity: every PyTorch fixture (scripts/make_fixtures.py) evaluated through onnxruntime-node,
 * |got - want| <= 1e-5 max(1, |want|), at the default opset and at the ends of the opset range.
 */
import { describe, expect, test } from "@jest/globals";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { feedsOf, firstMismatch, fixtureFiles, loadFixtures, num } from "./helpers.js";

const OPSETS = [17, 13, 18, 23];

describe.each(fixtureFiles())("%s", (file) => {
  const cases = loadFixtures(file);
  test("has cases", () => expect(cases.length).toBeGreaterThan(10));
  test.each(OPSETS)("every case matches PyTorch at opset %i", async (opset) => {
    const failures: string[] = [];
    for (const c of cases) {
      const ev = await createEvaluator(buildLoss(c.loss, c.options, { opset }));
      const { loss } = await ev.run(feedsOf(c));
      await ev.release();
      const want = c.expected.data.map(num);
      const i = firstMismatch(loss.data as Float32Array, want);
      if (i >= 0 || loss.dims.join() !== c.expected.dims.join()) {
        failures.push(`${c.id}: at ${i} got ${loss.data[i]} want ${want[i]} (dims ${loss.dims} vs ${c.expected.dims})`);
      }
    }
    expect(failures).toEqual([]);
  });
});
