/**
 * Golden parity: every PyTorch fixture (scripts/make_fixtures.py) evaluated through onnxruntime-node,
 * |got - want| <= 1e-5 max(1, |want|), at the default opset and at the ends of the opset range.
 */
import { describe, expect, test } from "@jest/globals";
import { createRequire } from "node:module";
import { buildLoss, smallBatchModel } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { fromFloat16Bits, toFloat16Bits } from "../src/tensor/tensor.js";
import { feedsOf, firstMismatch, fixtureFiles, loadFixtures, num, QUICK } from "./helpers.js";

/** The default opset, then the ends of the range (the quick tier: the default only). */
const OPSETS = QUICK ? [17] : [17, 13, 18, 23];

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

describe("dtypes", () => {
  // float64 graphs do the math in float64: the fixtures' float32 inputs widen exactly, so they must
  // match PyTorch's float64 values far closer than float32 can.
  const RTOL_F64 = 1e-7; // not 1e-12: the fixtures hold class weights and alphas as PyTorch float32 tensors
  // float16 graphs round the output to float16 (11 significant bits: 4.9e-4 relative) after float32 math.
  const RTOL_F16 = 1e-3;

  // onnx_conformance.json is left out here: its expected values are ONNX's float32 numpy reference,
  // so they cannot say more than float32 does (it runs at 1e-5 above)
  test.each(fixtureFiles().filter((f) => f !== "onnx_conformance.json"))("float64 graphs: %s within 1e-7", async (file) => {
    const failures: string[] = [];
    for (const c of loadFixtures(file)) {
      const ev = await createEvaluator(buildLoss(c.loss, c.options, { dtype: "float64" }));
      const feeds = feedsOf(c);
      for (const t of Object.values(feeds)) if (t.data instanceof Float32Array) t.data = Float64Array.from(t.data);
      const { loss } = await ev.run(feeds);
      await ev.release();
      expect(loss.dtype).toBe("float64");
      const want = c.expected.data.map(num);
      const i = firstMismatch(loss.data as Float64Array, want, RTOL_F64);
      if (i >= 0) failures.push(`${c.id}: at ${i} got ${loss.data[i]} want ${want[i]}`);
    }
    expect(failures).toEqual([]);
  });

  test("float16 graphs: inputs and output float16, within 1e-3 of PyTorch on the float16 values", async () => {
    const cases = loadFixtures("float16.json");
    expect(cases.length).toBeGreaterThanOrEqual(42);
    const failures: string[] = [];
    for (const c of cases) {
      const g = buildLoss(c.loss, c.options, { dtype: "float16" });
      expect(g.inputs[0].dtype).toBe("float16");
      const ev = await createEvaluator(g);
      const feeds = feedsOf(c);
      for (const t of Object.values(feeds)) if (t.data instanceof Float32Array) t.data = Uint16Array.from(t.data, toFloat16Bits);
      const { loss } = await ev.run(feeds);
      await ev.release();
      expect(loss.dtype).toBe("float16");
      const want = c.expected.data.map(num);
      const i = firstMismatch(Array.from(loss.data as Uint16Array, fromFloat16Bits), want, RTOL_F16);
      if (i >= 0) failures.push(`${c.id}: at ${i} got ${fromFloat16Bits((loss.data as Uint16Array)[i])} want ${want[i]}`);
    }
    expect(failures).toEqual([]);
  });

  test("float32 data fed to float16 and float64 graphs is converted", async () => {
    const c = loadFixtures("samples.json")[0];
    for (const dtype of ["float16", "float64"] as const) {
      const ev = await createEvaluator(buildLoss(c.loss, c.options, { dtype }));
      const { loss } = await ev.run(feedsOf(c));
      await ev.release();
      const got = dtype === "float16" ? fromFloat16Bits((loss.data as Uint16Array)[0]) : (loss.data[0] as number);
      expect(Math.abs(got - num(c.expected.data[0])) / num(c.expected.data[0])).toBeLessThan(dtype === "float16" ? 1e-3 : 1e-6);
    }
  });
});

describe("the graphs as written, chunks and blocked sums included", () => {
  // the evaluator runs a small batch on the same loss built without row chunks and blocked sums
  // (smallBatchModel): the model as written, chunks, blocks and all, must match PyTorch on the fixtures too
  const ort = createRequire(import.meta.url)("onnxruntime-node") as typeof import("onnxruntime-node");
  test.each([
    "binary_cross_entropy.json",
    "binary_cross_entropy_with_logits.json",
    "sigmoid_focal_loss.json",
    "cross_entropy.json",
    "nll_loss.json",
    "softmax_focal_loss.json",
  ])("%s: every case through the model as written, in a plain onnxruntime session", async (file) => {
    const failures: string[] = [];
    let chunked = 0;
    for (const c of loadFixtures(file)) {
      const g = buildLoss(c.loss, c.options);
      if (smallBatchModel(c.loss, g.options as Record<string, unknown>, {})) chunked++;
      const session = await ort.InferenceSession.create(g.model);
      const feeds = Object.fromEntries(
        Object.entries(feedsOf(c)).map(([k, t]) => [
          k,
          new ort.Tensor(t.data instanceof BigInt64Array ? "int64" : "float32", t.data as Float32Array, t.dims),
        ]),
      );
      const { loss } = await session.run(feeds);
      await session.release();
      const want = c.expected.data.map(num);
      const i = firstMismatch(loss.data as Float32Array, want);
      if (i >= 0) failures.push(`${c.id}: at ${i} got ${loss.data[i]} want ${want[i]}`);
    }
    expect(failures).toEqual([]);
    expect(chunked).toBeGreaterThan(5); // the cases whose graph has chunks or blocks, which the evaluator runs without
  });
});
