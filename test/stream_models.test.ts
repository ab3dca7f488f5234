/**
 * Streaming evaluates the model file itself: for every loss and reduction, and for models onnx-losses
 * did not write (per-item outputs, explicit loss_sum/weight_sum outputs, an edited graph), chunked
 * evaluation gives what one pass over the same file gives, or is refused with the reason.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { Graph } from "../src/builder/graph.js";
import { cast, neg, reduceMean, reduceSum } from "../src/builder/ops/index.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { tensorNumbers, type TensorData } from "../src/tensor/tensor.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { seededRandom } from "../src/util/random.js";
import { onePass, exactly } from "./helpers.js";

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
  // class indices or float targets, as the loss's own input spec says
  const hard = buildLoss(loss).inputs.find((t) => t.name === "target")!.dtype === "int64";
  const target: TensorData = hard ? { dtype: "int64", dims: [N], data: classes } : { dtype: "float32", dims: [N, C], data: binary };
  const feeds = { input, target };
  const files: Record<string, string> = {};
  for (const [name, t] of Object.entries(feeds)) {
    files[name] = join(dir, `${loss}_${name}.npy`);
    writeFileSync(files[name], encodeNpy(t));
  }
  return { feeds, files };
}

const close = (a: number, b: number, rel = 1e-6) =>
  (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= rel * Math.max(1e-30, Math.abs(a), Math.abs(b));

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
    await expect(evaluateNpyFiles({ loss: "cross_entropy" }, files)).rejects.toThrow(
      exactly(
        'target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch); or, for class probabilities shaped like input, build cross_entropy with targetType "probs"',
      ),
    );
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
      exactly(
        "mean.onnx: cannot be evaluated in chunks: its output mean is a scalar, and the graph names no loss_sum (and weight_sum) it was computed from; evaluate it in one pass (without --stream)",
      ),
    );
  });

  test("an input whose dim 0 is fixed has no rows to split, and says so", async () => {
    const g = new Graph("fixed");
    g.output(neg(g.input("x", "float32", [N, C])), "y", [N, C]);
    await expect(evaluateNpyFiles(g.toModel(), { x: xFile }, { what: "fixed.onnx" })).rejects.toThrow(
      exactly(
        `fixed.onnx: cannot be evaluated in chunks: input x has dim 0 = ${N}, not a named (symbolic) dim to split rows along; evaluate it in one pass (without --stream)`,
      ),
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

describe("models whose outputs lie about being per item or sums are refused, not combined", () => {
  const refusal = (what: string, reason: string) =>
    `${what}: cannot be evaluated in chunks: ${reason}; evaluate it in one pass (without --stream)`;

  test("per-item outputs that depend on other rows (a cumulative sum)", async () => {
    const g = new Graph("cumsum");
    const x = g.input("x", "float32", ["N", C]);
    g.output(g.node("CumSum", [reduceSum(x, { axes: [1] }), g.constant(0, "int64")]), "running", ["N"]);
    const outDir = mkdtempSync(join(dir, "out-"));
    await expect(evaluateNpyFiles(g.toModel(), { x: xFile }, { chunkBytes: CHUNK, outDir, what: "cumsum.onnx" })).rejects.toThrow(
      refusal(
        "cumsum.onnx",
        "its output running is not per item along N: rows 0, 43, 86, 129, 171, 214, 257, 300 of 301 evaluated one at a time differ from the same rows together",
      ),
    );
  });

  test("an output declared [N] that is not (one value per chunk)", async () => {
    const g = new Graph("lie");
    g.output(reduceMean(g.input("x", "float32", ["N", C])), "loss", ["N"]);
    const outDir = mkdtempSync(join(dir, "out-"));
    await expect(evaluateNpyFiles(g.toModel(), { x: xFile }, { chunkBytes: CHUNK, outDir, what: "lie.onnx" })).rejects.toThrow(
      refusal(
        "lie.onnx",
        "its output loss is not per item along N: rows 0, 43, 86, 129, 171, 214, 257, 300 of 301 evaluated one at a time differ from the same rows together",
      ),
    );
    expect(readdirSync(outDir)).toEqual([]); // nothing half-written left behind
  });

  test("a mean named loss_sum, and a max named loss_sum in value_info", async () => {
    const mean = new Graph("mean_as_sum");
    mean.output(reduceMean(mean.input("x", "float32", ["N", C])), "loss_sum", []);
    await expect(evaluateNpyFiles(mean.toModel(), { x: xFile }, { chunkBytes: CHUNK, what: "m.onnx" })).rejects.toThrow(
      refusal(
        "m.onnx",
        "its output loss_sum is not a sum over items: rows 0, 43, 86, 129, 171, 214, 257, 300 of 301 evaluated one at a time differ from the same rows together",
      ),
    );
    const max = new Graph("max_as_sum");
    const x = max.input("x", "float32", ["N", C]);
    const m = max.annotate(cast(max.node("ReduceMax", [x], { keepdims: 0 }), "float64"), "loss_sum", []);
    const n = max.annotate(cast(max.node("Size", [x], {}, { dtype: "int64" }), "float64"), "weight_sum", []);
    max.output(cast(max.node("Div", [m, n]), "float32"), "loss", []);
    await expect(evaluateNpyFiles(max.toModel(), { x: xFile }, { chunkBytes: CHUNK, what: "max.onnx" })).rejects.toThrow(
      refusal(
        "max.onnx",
        "its output loss_sum is not a sum over items: rows 0, 43, 86, 129, 171, 214, 257, 300 of 301 evaluated one at a time differ from the same rows together",
      ),
    );
  });

  test("value_info naming a value no node computes is not a loss_sum", async () => {
    const g = new Graph("dangling");
    g.output(reduceMean(g.input("x", "float32", ["N", C])), "mean", []);
    const m = decodeModel(g.toModel());
    m.graph!.valueInfo = [{ name: "loss_sum", type: m.graph!.output![0].type }];
    await expect(evaluateNpyFiles(encodeModel(m), { x: xFile }, { what: "d.onnx" })).rejects.toThrow(
      refusal("d.onnx", "its output mean is a scalar, and the graph names no loss_sum (and weight_sum) it was computed from"),
    );
  });
});

describe("streamed results are what one pass gives, to the ends of the output type", () => {
  test("a float16 sum past 65504 is inf streamed as in one pass", async () => {
    const { feeds, files } = dataFor("cross_entropy");
    const big = Float32Array.from(logits, (v) => v * 2000);
    writeFileSync(files.input, encodeNpy({ dtype: "float32", dims: [N, C], data: big }));
    const model = buildLoss("cross_entropy", { reduction: "sum" }, { dtype: "float16" }).model;
    const one = await onePass(model, { ...feeds, input: { dtype: "float32", dims: [N, C], data: big } });
    const s = await evaluateNpyFiles(model, files, { chunkBytes: CHUNK });
    expect(one.loss.dtype).toBe("float16");
    expect(s.outputs.loss.dtype).toBe("float16");
    expect(tensorNumbers(one.loss)).toEqual([Infinity]);
    expect(tensorNumbers(s.outputs.loss)).toEqual([Infinity]);
    expect(Number.isFinite(s.value)).toBe(true); // the float64 combination itself
  });

  test("a bad value in a later chunk is named by its index in the file", async () => {
    const { files } = dataFor("cross_entropy");
    const t = BigInt64Array.from(classes);
    t[250] = -3n;
    writeFileSync(files.target, encodeNpy({ dtype: "int64", dims: [N], data: t }));
    await expect(evaluateNpyFiles({ loss: "cross_entropy" }, files, { chunkBytes: CHUNK })).rejects.toThrow(
      /^target: expected class indices in \[0, 4\) or ignoreIndex -100 \(C = input dim 1\), received -3 at flat index 250 \(in rows \d+\.\.\d+ of 301\)$/,
    );
  });
});
