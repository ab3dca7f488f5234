/**
 * The elementwise losses (binary_cross_entropy, binary_cross_entropy_with_logits, sigmoid_focal_loss)
 * sum a mean or a sum over CHUNKS slices of the batch (src/losses/common.ts, chunkedSum). The PyTorch
 * fixtures are small batches, where the first slice holds everything; this test takes batches that fill
 * every slice, leave the last one short, or leave some empty, and checks the chunked graph against the
 * float64 reference and against the graph of reduction "none" (one pass, no slices) summed in float64.
 * BCE with logits without posWeight or a weight list also takes its log terms by products of 16
 * (sumOfLogs): the cases without options and with a scalar weight run that path.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { CHUNKS, MIN_CHUNK_ELEMENTS } from "../src/losses/common.js";
import { buildLoss } from "../src/losses/index.js";
import { seededRandom as seeded } from "../src/util/random.js";
import { createEvaluator } from "../src/runtime/node.js";
import { FIXTURES, num } from "./helpers.js";
import { referenceFor } from "./reference.js";

const C = 20;
const rowsPerChunk = (n: number) => Math.max(Math.ceil(n / CHUNKS), Math.ceil(MIN_CHUNK_ELEMENTS / C));
/** Batch sizes: every slice full; the last slice short; two slices and six empty; one slice; no rows. */
const BATCHES = [8 * 4000, 8 * 4000 - 3, 5000, 100, 0];

test("the batches exercise what they say", () => {
  expect(Math.ceil(BATCHES[0] / rowsPerChunk(BATCHES[0]))).toBe(CHUNKS);
  expect(BATCHES[1] % rowsPerChunk(BATCHES[1])).toBeGreaterThan(0);
  expect(Math.ceil(BATCHES[2] / rowsPerChunk(BATCHES[2]))).toBe(2);
});

const CASES: [string, Record<string, unknown>][] = [
  ["binary_cross_entropy", {}],
  ["binary_cross_entropy", { weight: Array.from({ length: C }, (_, i) => 0.5 + i / 10) }],
  ["binary_cross_entropy_with_logits", {}],
  ["binary_cross_entropy_with_logits", { posWeight: Array.from({ length: C }, (_, i) => 1 + i) }],
  ["binary_cross_entropy_with_logits", { weight: [0.3] }],
  ["sigmoid_focal_loss", {}],
  ["sigmoid_focal_loss", { gamma: 0.5, alpha: 0.6 }],
];

describe.each(CASES)("%s %j", (loss, options) => {
  test.each(BATCHES)(
    "N = %i rows of 20: mean and sum equal the float64 reference and one pass",
    async (N) => {
      const r = seeded(N + 7);
      const size = N * C;
      const x = Float32Array.from({ length: size }, () => (loss === "binary_cross_entropy" ? r() : (r() - 0.5) * 20));
      const y = Float32Array.from({ length: size }, () => (r() < 0.1 ? 1 : r() < 0.5 ? 0 : r()));
      const feeds = { input: { data: x, dims: [N, C] }, target: { data: y, dims: [N, C] } };
      const none = await createEvaluator(buildLoss(loss, { ...options, rank: 2, reduction: "none" }));
      const items = (await none.run(feeds)).loss.data as Float32Array;
      await none.release();
      let onePass = 0;
      for (const v of items) onePass += v;
      for (const reduction of ["sum", "mean"] as const) {
        const ev = await createEvaluator(buildLoss(loss, { ...options, rank: 2, reduction }));
        const got = (await ev.run(feeds)).loss.data[0] as number;
        await ev.release();
        const want = referenceFor(loss, { dims: [N, C], data: x }, { dims: [N, C], data: y }, { ...options, reduction })[0];
        if (N === 0) {
          expect(reduction === "sum" ? got === 0 : Number.isNaN(got)).toBe(true);
          continue;
        }
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));
        const pass = reduction === "mean" ? onePass / size : onePass;
        expect(Math.abs(got - pass)).toBeLessThanOrEqual(1e-6 * Math.abs(pass));
      }
    },
    60000,
  );
});

/**
 * The inputs of test/fixtures/chunks/large.json, rebuilt from the formula scripts/make_fixtures.py
 * (formula_inputs) defines them by: one float64 division per value, rounded to float32, as there.
 */
function formulaInputs(n: number, c: number): { logits: Float32Array; probs: Float32Array; target: Float32Array } {
  const size = n * c;
  const logits = new Float32Array(size);
  const probs = new Float32Array(size);
  const target = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    logits[k] = (((k * 7919) % 2001) - 1000) / 125;
    probs[k] = (((k * 104729) % 9973) + 13) / 10000;
    target[k] = k % 17 === 0 ? 1 : k % 5 === 0 ? ((k * 31) % 9) / 8 : 0;
  }
  return { logits, probs, target };
}

describe("PyTorch parity on batches that fill every slice (test/fixtures/chunks/large.json)", () => {
  const cases = (
    JSON.parse(readFileSync(join(FIXTURES, "chunks", "large.json"), "utf8")) as {
      cases: { id: string; loss: string; options: Record<string, unknown>; dims: number[]; expected: number | string }[];
    }
  ).cases;

  test("the fixture fills all slices and leaves the last one short", () => {
    const sizes = [...new Set(cases.map((c) => c.dims[0]))];
    expect(sizes.some((n) => Math.ceil(n / rowsPerChunk(n)) === CHUNKS && n % rowsPerChunk(n) === 0)).toBe(true);
    expect(sizes.some((n) => Math.ceil(n / rowsPerChunk(n)) === CHUNKS && n % rowsPerChunk(n) > 0)).toBe(true);
  });

  test.each(cases.map((c) => [c.id, c] as const))(
    "%s",
    async (_id, c) => {
      const { logits, probs, target } = formulaInputs(c.dims[0], c.dims[1]);
      const ev = await createEvaluator(buildLoss(c.loss, c.options));
      const got = Number(
        (
          await ev.run({
            input: { data: c.loss === "binary_cross_entropy" ? probs : logits, dims: c.dims },
            target: { data: target, dims: c.dims },
          })
        ).loss.data[0],
      );
      await ev.release();
      const want = num(c.expected);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.abs(want));
    },
    60000,
  );
});
