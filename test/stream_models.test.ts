/**
 * Streaming evaluates the model file itself: for every loss and reduction, and for models onnx-losses
 * did not write (per-item outputs, explicit loss_sum/weight_sum outputs, an edited graph), chunked
 * evaluation gives what one pass over the same file gives, or is refused with the reason.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { Graph } from "../src/builder/graph.js";
import { cast, neg, reduceMean, reduceSum } from "../src/builder/ops/index.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";
import type { TensorData } from "../src/runtime/tensor.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { seededRandom } from "../src/util/random.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-stream-models-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const N = 301; // not a multiple of any chunk size below
const C = 4;
const r = seededRandom(7);
const logits = Float32Array.from({ length: N * C }, () => (r() * 2 - 1) * 5);
const probs = Float32Array.from(logits, (v) => 1 / (1 + Math.exp(-v)));
const binary = Float32Array.from({ length: N * C }, () => (r() < 0.3 ? 1 : 0));
const classes = BigInt64Array.from({ length: N }, () => BigInt(r() < 0.15 ? -100 : Math.floor(r() * C)));

/** The feeds of a loss at rank 2, and their .npy files. */
function dataFor(loss: string): { feeds: Record<string, TensorData>; files: Record<string, string> } {
  const input: TensorData = { dtype: "float32", dims: [N, C], data: loss === "binary_cross_entropy" ? probs : logits };
  const hard = ["cross_entropy", "nll_loss", "softmax_focal_loss"].includes(loss);
  const target: TensorData = hard ? { dtype: "int64", dims: [N], data: classes } : { dtype: "float32", dims: [N, C], data: binary };
  const feeds = { input, target };
  const files: Record<string, string> = {};
  for (const [name, t] of Object.entries(feeds)) {
    files[name] = join(dir, `${loss}_${name}.npy`);
    writeFileSync(files[name], encodeNpy(t));
  }
  return { feeds, files };
}

async function onePass(model: Uint8Array, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  const ev = await createEvaluator(model);
  try {
    return await ev.run(feeds);
  } finally {
    await ev.release();
  }
}

const close = (a: number, b: number, rel = 1e-6) => (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= rel * Math.max(1e-30, Math.abs(a), Math.abs(b));

/** Bytes of about 7 rows per chunk, so that every stream runs many chunks. */
const CHUNK = 7 * C * 12;

describe("every loss and reduction: --stream equals one pass over the same file", () => {
  const cases = CATALOGUE.flatMap((d) => (["mean", "sum", "none"] as const).map((reduction) => [d.name, reduction] as const));
  test.each(cases)("%s, reduction %s", async (loss, reduction) => {
    const { feeds, files } = dataFor(loss);
    const model = buildLoss(loss, { rank: 2, reduction }).model;
    const one = await onePass(model, feeds);
    const outDir = mkdtempSync(join(dir, "out-"));
    const s = await evaluateNpyFiles(model, files, { chunkBytes: CHUNK, outDir });
    expect(s.chunks).toBeGreaterThan(10);
    if (reduction === "none") {
      const written = decodeNpy(readFileSync(join(outDir, "loss.npy")));
      expect(written.dims).toEqual(one.loss.dims);
      const a = one.loss.data as Float32Array;
      const b = written.data as Float32Array;
      for (let i = 0; i < a.length; i++) if (!close(a[i], b[i])) throw new Error(`item ${i}: one pass ${a[i]}, streamed ${b[i]}`);
    } else {
      const want = Number(one.loss.data[0]);
      expect(close(s.value!, want)).toBe(true);
    }
  });

  test('a "parts" model (loss_sum, weight_sum outputs) streams to the sums one pass gives', async () => {
    const { feeds, files } = dataFor("cross_entropy");
    const model = buildLoss("cross_entropy", { weight: [1, 2, 0.5, 3] }, { outputs: "parts" }).model;
    const one = await onePass(model, feeds);
    const s = await evaluateNpyFiles(model, files, { chunkBytes: CHUNK });
    // weight_sum is exact; loss_sum's float32 partial sums fall differently in chunks
    expect(Number(s.outputs.weight_sum.data[0])).toBe(Number(one.weight_sum.data[0]));
    expect(close(Number(s.outputs.loss_sum.data[0]), Number(one.loss_sum.data[0]))).toBe(true);
  });

  test("N = 0 is validated as one pass validates it (float targets for class indices are refused)", async () => {
    const files = { input: join(dir, "empty_x.npy"), target: join(dir, "empty_t.npy") };
    writeFileSync(files.input, encodeNpy({ dtype: "float32", dims: [0, C], data: new Float32Array(0) }));
    writeFileSync(files.target, encodeNpy({ dtype: "float32", dims: [0], data: new Float32Array(0) }));
    await expect(evaluateNpyFiles({ loss: "cross_entropy" }, files)).rejects.toThrow("target: expected dtype int64 (int32 accepted), received float32");
    writeFileSync(files.target, encodeNpy({ dtype: "int64", dims: [0], data: new BigInt64Array(0) }));
    const s = await evaluateNpyFiles({ loss: "cross_entropy" }, files);
    expect(s.value).toBeNaN(); // mean over no items, as PyTorch and one pass
  });
});

/** Files of x [N, C] float32 for the foreign models below. */
const xFile = join(dir, "x.npy");
writeFileSync(xFile, encodeNpy({ dtype: "float32", dims: [N, C], data: logits }));
const xFeeds = { x: { dtype: "float32" as const, dims: [N, C], data: logits } };

/** Model bytes without any onnx_losses metadata. */
function stripped(model: Uint8Array): Uint8Array {
  return encodeModel({ ...decodeModel(model), metadataProps: [] });
}

describe("models onnx-losses did not write", () => {
  test("per-item outputs along the streamed dim are concatenated, each into its own file", async () => {
    const g = new Graph("foreign");
    const x = g.input("x", "float32", ["batch", C]);
    g.output(neg(x), "negated", ["batch", C]);
    g.output(reduceSum(x, { axes: [1] }), "row_sum", ["batch"]);
    const model = g.toModel();
    const one = await onePass(model, xFeeds);
    const outDir = mkdtempSync(join(dir, "out-"));
    const s = await evaluateNpyFiles(model, { x: xFile }, { chunkBytes: CHUNK, outDir });
    expect(Object.keys(s.files!)).toEqual(["negated", "row_sum"]);
    for (const name of ["negated", "row_sum"]) {
      const w = decodeNpy(readFileSync(join(outDir, `${name}.npy`)));
      expect(w.dims).toEqual(one[name].dims);
      expect(Array.from(w.data as Float32Array)).toEqual(Array.from(one[name].data as Float32Array));
    }
  });

  test("explicit loss_sum and weight_sum outputs are added", async () => {
    const g = new Graph("foreign_parts");
    const x = g.input("x", "float32", ["N", C]);
    g.output(cast(reduceSum(x), "float64"), "loss_sum", []);
    g.output(cast(g.node("Size", [x], {}, { dtype: "int64" }), "float64"), "weight_sum", []);
    const model = g.toModel();
    const one = await onePass(model, xFeeds);
    const s = await evaluateNpyFiles(model, { x: xFile }, { chunkBytes: CHUNK });
    expect(Number(s.outputs.weight_sum.data[0])).toBe(N * C);
    expect(close(Number(s.outputs.loss_sum.data[0]), Number(one.loss_sum.data[0]), 1e-5)).toBe(true);
  });

  test("a scalar with nothing to combine it from is refused, and says why", async () => {
    const g = new Graph("foreign_mean");
    g.output(reduceMean(g.input("x", "float32", ["N", C])), "mean", []);
    const model = g.toModel();
    expect((await onePass(model, xFeeds)).mean.dims).toEqual([]);
    await expect(evaluateNpyFiles(model, { x: xFile }, { what: "mean.onnx" })).rejects.toThrow(
      "mean.onnx: cannot be evaluated in chunks: its output mean is a scalar, and the graph names no loss_sum (and weight_sum) it was computed from; evaluate it in one pass (without --stream)",
    );
  });

  test("an input whose dim 0 is fixed has no rows to split, and says so", async () => {
    const g = new Graph("fixed");
    g.output(neg(g.input("x", "float32", [N, C])), "y", [N, C]);
    await expect(evaluateNpyFiles(g.toModel(), { x: xFile }, { what: "fixed.onnx" })).rejects.toThrow(
      `fixed.onnx: cannot be evaluated in chunks: input x has dim 0 = ${N}, not a named (symbolic) dim to split rows along; evaluate it in one pass (without --stream)`,
    );
  });

  test("an onnx-losses mean with its metadata stripped still streams from the loss_sum and weight_sum its graph names", async () => {
    const { feeds, files } = dataFor("softmax_focal_loss");
    const model = stripped(buildLoss("softmax_focal_loss", { alpha: 0.25 }).model);
    const one = await onePass(model, feeds);
    const s = await evaluateNpyFiles(model, files, { chunkBytes: CHUNK });
    expect(close(s.value!, Number(one.loss.data[0]))).toBe(true);
  });

  test("an edited graph whose output is not loss_sum / weight_sum is refused, not combined as a mean", async () => {
    const { feeds, files } = dataFor("cross_entropy");
    const m = decodeModel(stripped(buildLoss("cross_entropy").model));
    const div = m.graph!.node!.find((n) => (n.input ?? []).join() === "loss_sum,weight_sum")!;
    div.opType = "Mul";
    const model = encodeModel(m);
    const one = await onePass(model, feeds);
    expect(Number.isFinite(Number(one.loss.data[0]))).toBe(true);
    await expect(evaluateNpyFiles(model, files, { chunkBytes: CHUNK, what: "edited.onnx" })).rejects.toThrow(
      /^edited\.onnx: cannot be evaluated in chunks: its output loss \(\S+\) is not loss_sum \/ weight_sum \(\S+\) of the same graph on rows 0\.\.\d+; evaluate it in one pass \(without --stream\)$/,
    );
  });
});
