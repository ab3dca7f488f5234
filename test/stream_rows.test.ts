/**
 * Streaming's edges (issue 16): the check that a model keeps rows apart runs whatever the chunk size
 * (one-row chunks included); a row larger than the chunk size is refused with the flag that raises it;
 * inputs that are not regular files (a pipe, a FIFO without a writer) are refused with one line, never
 * ESPIPE or a hang; more inputs than `ulimit -n` exit 2 with the path; no error path leaves a handle open.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { Graph } from "../src/builder/graph.js";
import { neg } from "../src/builder/ops/index.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss } from "../src/losses/index.js";
import { encodeModel } from "../src/onnx/codec.js";
import { InputError, OutputShapeError } from "../src/runtime/validate.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { ROOT, onePass, runCliIn, type CliRun, exactly } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-stream-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLI = join(ROOT, "dist", "cli", "main.js");
const posix = process.platform !== "win32";

const cli = (...argv: string[]): Promise<CliRun> => runCliIn(dir, argv);

const refusal = (what: string, reason: string) =>
  `${what}: cannot be evaluated in chunks: ${reason}; evaluate it in one pass (without --stream)`;

/** logits = x - the batch's mean over rows: per item in shape, not in value. */
function centring(C: number): Uint8Array {
  const g = new Graph("centred", { opset: 17 });
  const x = g.input("x", "float32", ["N", C]);
  g.output(g.node("Sub", [x, g.node("ReduceMean", [x], { axes: [0], keepdims: 1 })]), "logits", ["N", C]);
  return g.toModel();
}

// as in the issue: logits 4 x 5, a cross-entropy with reduction none attached; one-row chunks gave
// [1.609 x4] = log 5 (each row centred on itself is all 0) where one pass gives other values
const C = 5;
const X = Float32Array.from([9, 1, 0, -2, 3, -4, 5, 0, 8, -3, 2, 7, -1, 0, 4, -6, 1, 3, 2, 10]);
const T = BigInt64Array.from([0n, 1n, 2n, 3n]);
writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [4, C], data: X }));
writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [4], data: T }));
const files = { x: join(dir, "x.npy"), target: join(dir, "t.npy") };
const rowBytes = C * 4 + 8;

describe("the row check runs whatever the chunk size", () => {
  test("a row-centring model in one-row chunks is refused (it streamed zeros)", async () => {
    const outDir = mkdtempSync(join(dir, "out-"));
    await expect(evaluateNpyFiles(centring(C), { x: files.x }, { chunkBytes: C * 4, outDir, what: "centred.onnx" })).rejects.toThrow(
      refusal(
        "centred.onnx",
        "its output logits is not per item along N: rows 0, 3 of 4 evaluated one at a time differ from the same rows together",
      ),
    );
    expect(readdirSync(outDir)).toEqual([]);
  });

  test.each([1, 2, 3])(
    "an attached cross-entropy (reduction none) after a row-centring model, chunks of %i rows, is refused",
    async (rows) => {
      const model = attachLoss(centring(C), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model;
      const one = await onePass(model, { x: { dtype: "float32", dims: [4, C], data: X }, target: { dtype: "int64", dims: [4], data: T } });
      expect(Array.from(one.loss.data as Float32Array, (v) => +v.toFixed(3))).toEqual([0, 4.513, 5.211, 6.52]);
      const outDir = mkdtempSync(join(dir, "out-"));
      // the probe: up to two chunks' worth of rows spread over the file, together and one at a time
      const probed = rows === 1 ? "0, 3" : "0, 1, 2, 3";
      await expect(evaluateNpyFiles(model, files, { chunkBytes: rows * rowBytes, outDir, what: "a.onnx" })).rejects.toThrow(
        refusal(
          "a.onnx",
          `its output logits is not per item along N: rows ${probed} of 4 evaluated one at a time differ from the same rows together`,
        ),
      );
      expect(readdirSync(outDir)).toEqual([]);
    },
  );

  test("the CLI: --chunk-mb 1 on rows of 800 kB exits 2 with one line; a model that keeps rows apart streams as one pass", async () => {
    const wide = 200000;
    const model = attachLoss(centring(wide), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model;
    writeFileSync(join(dir, "wide.onnx"), model);
    const x = Float32Array.from({ length: 3 * wide }, (_, i) => Math.sin(i) * 3);
    writeFileSync(join(dir, "wx.npy"), encodeNpy({ dtype: "float32", dims: [3, wide], data: x }));
    writeFileSync(join(dir, "wt.npy"), encodeNpy({ dtype: "int64", dims: [3], data: BigInt64Array.from([1n, 7n, 99n]) }));
    const r = await cli("eval", "wide.onnx", "--input", "x=wx.npy", "--input", "target=wt.npy", "--chunk-mb", "1", "--out", "wide_out");
    expect([r.code, r.out, r.err]).toEqual([
      2,
      "",
      "onnx-losses: wide.onnx: cannot be evaluated in chunks: its output logits is not per item along N: rows 0, 2 of 3 evaluated one at a time differ from the same rows together; evaluate it in one pass (without --stream)\n",
    ]);
    // the same loss after a model that keeps rows apart (negation): streamed in one-row chunks, as one pass
    const g = new Graph("negated", { opset: 17 });
    g.output(neg(g.input("x", "float32", ["N", wide])), "logits", ["N", wide]);
    writeFileSync(
      join(dir, "neg.onnx"),
      attachLoss(g.toModel(), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model,
    );
    const s = await cli("eval", "neg.onnx", "--input", "x=wx.npy", "--input", "target=wt.npy", "--chunk-mb", "1", "--out", "neg_out");
    expect([s.code, s.err]).toEqual([0, ""]);
    expect(s.out).toContain("loss float32 [3]: streamed to neg_out/loss.npy (2 chunks)"); // rows 0..1, then 2
    const once = await cli("eval", "neg.onnx", "--input", "x=wx.npy", "--input", "target=wt.npy", "--json");
    const want = (JSON.parse(once.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data;
    expect(Array.from(decodeNpy(new Uint8Array(readFileSync(join(dir, "neg_out", "loss.npy")))).data as Float32Array)).toEqual(want);
  });
});

describe("the probe of rows spread over the file (found by the second attack on issue 16)", () => {
  // the first two rows equal: centring them gives 0 together or apart, so a check on the first chunk
  // alone passed, and one-row chunks streamed zeros where one pass does not
  const dup = Float32Array.from(X);
  dup.set(X.subarray(0, C), C);
  writeFileSync(join(dir, "dup.npy"), encodeNpy({ dtype: "float32", dims: [4, C], data: dup }));

  test("equal first rows no longer hide a batch mean", async () => {
    const outDir = join(dir, "dup-out", "deeper");
    await expect(
      evaluateNpyFiles(centring(C), { x: join(dir, "dup.npy") }, { chunkBytes: C * 4, outDir, what: "centred.onnx" }),
    ).rejects.toThrow(
      refusal(
        "centred.onnx",
        "its output logits is not per item along N: rows 0, 3 of 4 evaluated one at a time differ from the same rows together",
      ),
    );
    // refused before the output folder is made
    expect(readdirSync(dir)).not.toContain("dup-out");
    const model = attachLoss(centring(C), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model;
    await expect(
      evaluateNpyFiles(model, { x: join(dir, "dup.npy"), target: files.target }, { chunkBytes: rowBytes, outDir, what: "a.onnx" }),
    ).rejects.toThrow(
      exactly(
        "a.onnx: cannot be evaluated in chunks: its output logits is not per item along N: rows 0, 3 of 4 evaluated one at a time differ from the same rows together; evaluate it in one pass (without --stream)",
      ),
    );
  });

  test("a model that mixes rows only in batches of more than 4 (an If on the batch size) is refused", async () => {
    // logits = x - mean(x) when N > 4, else x: chunks of 4 rows never mixed, one pass of 8 does
    const FLOAT = 1;
    const INT64 = 7;
    const info = (name: string, type: number, dims: (number | string)[]) => ({
      name,
      type: {
        tensorType: { elemType: type, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } },
      },
    });
    const int64 = (name: string, v: number) => ({ name, dataType: INT64, dims: [], int64Data: [v] });
    const branch = (name: string, node: object, out: string) => ({ name, node: [node], output: [info(out, FLOAT, ["N", C])] });
    const model = encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }],
      graph: {
        name: "sometimes",
        initializer: [int64("zero", 0), int64("four", 4)],
        node: [
          { opType: "Shape", input: ["x"], output: ["shape"] },
          { opType: "Gather", input: ["shape", "zero"], output: ["n"], attribute: [{ name: "axis", type: 2, i: 0 }] },
          { opType: "Greater", input: ["n", "four"], output: ["big"] },
          {
            opType: "ReduceMean",
            input: ["x"],
            output: ["mean"],
            attribute: [
              { name: "axes", type: 7, ints: [0] },
              { name: "keepdims", type: 2, i: 1 },
            ],
          },
          {
            opType: "If",
            input: ["big"],
            output: ["logits"],
            attribute: [
              { name: "then_branch", type: 5, g: branch("then", { opType: "Sub", input: ["x", "mean"], output: ["centred"] }, "centred") },
              { name: "else_branch", type: 5, g: branch("else", { opType: "Identity", input: ["x"], output: ["same"] }, "same") },
            ],
          },
        ],
        input: [info("x", FLOAT, ["N", C])],
        output: [info("logits", FLOAT, ["N", C])],
      },
    });
    const X8 = Float32Array.from({ length: 8 * C }, (_, i) => Math.sin(i) * 4);
    writeFileSync(join(dir, "x8.npy"), encodeNpy({ dtype: "float32", dims: [8, C], data: X8 }));
    const one = await onePass(model, { x: { dtype: "float32", dims: [8, C], data: X8 } });
    expect(Array.from(one.logits.data as Float32Array)).not.toEqual(Array.from(X8)); // one pass centres
    await expect(
      evaluateNpyFiles(model, { x: join(dir, "x8.npy") }, { chunkBytes: 4 * C * 4, outDir: join(dir, "if-out"), what: "if.onnx" }),
    ).rejects.toThrow(
      refusal(
        "if.onnx",
        "its output logits is not per item along N: rows 0, 1, 2, 3, 4, 5, 6, 7 of 8 evaluated one at a time differ from the same rows together",
      ),
    );
  });
});

describe("the rows check, third look (issue 16): exact integers, equal rows, the file's indices", () => {
  test("an int64 output that adds the batch size is refused: integers compare exactly, not within 1e-5", async () => {
    // y = t + N on values near 1e9: a relative 1e-5 let it stream (N differs by 7 at most)
    const g = new Graph("plus_n", { opset: 17 });
    const t = g.input("t", "int64", ["N"]);
    g.output(g.node("Add", [t, g.node("Shape", [t])]), "y", ["N"]);
    const v = BigInt64Array.from({ length: 16 }, (_, i) => 1000000000n + BigInt(i * 3));
    writeFileSync(join(dir, "big_t.npy"), encodeNpy({ dtype: "int64", dims: [16], data: v }));
    await expect(
      evaluateNpyFiles(g.toModel(), { t: join(dir, "big_t.npy") }, { outDir: join(dir, "plus-out"), what: "plus.onnx" }),
    ).rejects.toThrow(
      refusal(
        "plus.onnx",
        "its output y is not per item along N: rows 0, 2, 4, 6, 9, 11, 13, 15 of 16 evaluated one at a time differ from the same rows together",
      ),
    );
    expect(readdirSync(dir)).not.toContain("plus-out");
    // the same model without the batch size streams as one pass
    const h = new Graph("plus_one", { opset: 17 });
    h.output(h.node("Add", [h.input("t", "int64", ["N"]), h.constant(1, "int64")]), "y", ["N"]);
    const r = await evaluateNpyFiles(h.toModel(), { t: join(dir, "big_t.npy") }, { outDir: join(dir, "one-out"), chunkBytes: 40 });
    expect(r.chunks).toBe(4);
    const streamed = decodeNpy(new Uint8Array(readFileSync(join(dir, "one-out", "y.npy")))).data as BigInt64Array;
    expect(Array.from(streamed)).toEqual(Array.from(v, (x) => x + 1n));
  });

  // a zero-padded file: centring equal rows gives 0 together or apart, so only different rows show it
  const padded = (n: number, from: number) => {
    const x = new Float32Array(n * C);
    for (let r = from; r < from + 20; r++) for (let j = 0; j < C; j++) x[r * C + j] = Math.sin(r * C + j) * 5;
    return encodeNpy({ dtype: "float32", dims: [n, C], data: x });
  };

  test("the probe passes over rows equal to one it took (rows 500..519 of 1000 differ from the zeros)", async () => {
    writeFileSync(join(dir, "pad1000.npy"), padded(1000, 500));
    const err = await evaluateNpyFiles(
      centring(C),
      { x: join(dir, "pad1000.npy") },
      { chunkBytes: 100 * C * 4, outDir: join(dir, "pad-out"), what: "c.onnx" },
    ).then(
      () => null,
      (e: unknown) => e as Error,
    );
    // rows 0 and 507 (the spread candidate among the different ones), then equal rows to fill up
    expect(err?.message).toMatch(
      /^c\.onnx: cannot be evaluated in chunks: its output logits is not per item along N: rows 0, [\d, ]*507[\d, ]* of 1000 evaluated one at a time/,
    );
    expect(readdirSync(dir)).not.toContain("pad-out");
  });

  test("where no spread row differs, the first chunk with two different rows is checked, and the folder it made is removed", async () => {
    // rows 5000..5019 of 10000: between two of the 64 spread candidates (4920 and 5079)
    writeFileSync(join(dir, "pad10000.npy"), padded(10000, 5000));
    const outDir = join(dir, "pad2-out", "deeper");
    await expect(
      evaluateNpyFiles(centring(C), { x: join(dir, "pad10000.npy") }, { chunkBytes: 100 * C * 4, outDir, what: "c.onnx" }),
    ).rejects.toThrow(
      refusal(
        "c.onnx",
        "its output logits is not per item along N: rows 5000..5049 and 5050..5099 evaluated apart do not combine into rows 5000..5099",
      ),
    );
    expect(readdirSync(dir)).not.toContain("pad2-out");
    // a model that keeps rows apart streams the same file as one pass
    const g = new Graph("negated", { opset: 17 });
    g.output(neg(g.input("x", "float32", ["N", C])), "logits", ["N", C]);
    const r = await evaluateNpyFiles(g.toModel(), { x: join(dir, "pad10000.npy") }, { chunkBytes: 100 * C * 4, outDir });
    expect(r.chunks).toBe(100);
    const x = decodeNpy(new Uint8Array(readFileSync(join(dir, "pad10000.npy")))).data as Float32Array;
    expect(Array.from(decodeNpy(new Uint8Array(readFileSync(join(outDir, "logits.npy")))).data as Float32Array)).toEqual(
      Array.from(x, (v) => -v),
    );
  });

  test("a bad value among the probed rows is named by its index in the file; a class count the loss fixes, with the rows probed", async () => {
    const model = attachLoss(centring(C), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model;
    const x = Float32Array.from({ length: 40 * C }, (_, i) => Math.cos(i));
    writeFileSync(join(dir, "x40.npy"), encodeNpy({ dtype: "float32", dims: [40, C], data: x }));
    const t = new BigInt64Array(40);
    t[39] = 7n;
    writeFileSync(join(dir, "t40.npy"), encodeNpy({ dtype: "int64", dims: [40], data: t }));
    // the probe batch holds rows 0, 8, 16, 23, 31, 39: row 39 is index 5 in it, 39 in the file
    await expect(
      evaluateNpyFiles(
        model,
        { x: join(dir, "x40.npy"), target: join(dir, "t40.npy") },
        { chunkBytes: 3 * rowBytes, outDir: join(dir, "t40-out") },
      ),
    ).rejects.toThrow(
      new InputError(
        "target: expected class indices in [0, 5) or ignoreIndex -100 (C = logits dim 1), received 7 at flat index 39 (in rows 0, 8, 16, 23, 31, 39 of 40, evaluated together first to check that rows stay apart)",
      ),
    );
    // a symbolic C, and a weight list of 3: the [8, 2] the model computed is the probe's, and says so
    const g = new Graph("negC", { opset: 17 });
    g.output(neg(g.input("x", "float32", ["N", "C"])), "logits", ["N", "C"]);
    const weighted = attachLoss(g.toModel(), {
      output: "logits",
      loss: "cross_entropy",
      options: { reduction: "none", weight: [1, 2, 3] },
    }).model;
    writeFileSync(join(dir, "x40c2.npy"), encodeNpy({ dtype: "float32", dims: [40, 2], data: x.subarray(0, 80) }));
    writeFileSync(join(dir, "t40z.npy"), encodeNpy({ dtype: "int64", dims: [40], data: new BigInt64Array(40) }));
    const err = await evaluateNpyFiles(
      weighted,
      { x: join(dir, "x40c2.npy"), target: join(dir, "t40z.npy") },
      { outDir: join(dir, "w-out") },
    ).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(OutputShapeError);
    expect(err?.message).toBe(
      "output logits: the attached loss takes dim 1 = 3 (3 is the length of option weight of cross_entropy), and the model computed [8, 2] from x [8, 2] (in rows 0, 6, 11, 17, 22, 28, 33, 39 of 40, evaluated together first to check that rows stay apart)",
    );
  });

  test("an attached loss on a torch.onnx.export model (the target's dim named after the output's) streams as one pass", async () => {
    // torch names logits' batch dim logits_dynamic_axes_1 and x's x_dynamic_axes_1: the target takes the
    // output's, and the stream was refused as "do not share one symbolic dim 0"
    const torch = new Uint8Array(readFileSync(join(ROOT, "test", "fixtures", "attach", "mlp_axes.onnx")));
    const model = attachLoss(torch, { output: "logits", loss: "cross_entropy", options: { reduction: "none" }, gradient: true }).model;
    const x = Float32Array.from({ length: 50 * 8 }, (_, i) => Math.sin(i * 0.7) * 2);
    const t = BigInt64Array.from({ length: 50 }, (_, i) => BigInt(i % 5));
    writeFileSync(join(dir, "tx.npy"), encodeNpy({ dtype: "float32", dims: [50, 8], data: x }));
    writeFileSync(join(dir, "tt.npy"), encodeNpy({ dtype: "int64", dims: [50], data: t }));
    const outDir = join(dir, "torch-out");
    const r = await evaluateNpyFiles(
      model,
      { x: join(dir, "tx.npy"), target: join(dir, "tt.npy") },
      { chunkBytes: 7 * (8 * 4 + 8), outDir },
    );
    expect(r.chunks).toBe(8);
    const one = await onePass(model, { x: { dtype: "float32", dims: [50, 8], data: x }, target: { dtype: "int64", dims: [50], data: t } });
    for (const name of ["logits", "loss", "logits_grad"]) {
      const streamed = decodeNpy(new Uint8Array(readFileSync(join(outDir, `${name}.npy`))));
      expect(streamed.dims).toEqual(one[name].dims);
      const a = streamed.data as Float32Array;
      const b = one[name].data as Float32Array;
      // the gradient of the per-item loss is per row; rows of a Gemm blocked otherwise differ by rounding
      expect(a.every((v, i) => Math.abs(v - b[i]) <= 1e-6 + 1e-5 * Math.abs(b[i]))).toBe(true);
    }
    // a target of other rows than x is refused in the chunk that shows it, naming the file's rows
    writeFileSync(join(dir, "tt49.npy"), encodeNpy({ dtype: "int64", dims: [49], data: t.subarray(0, 49) }));
    await expect(evaluateNpyFiles(model, { x: join(dir, "tx.npy"), target: join(dir, "tt49.npy") }, { outDir })).rejects.toThrow(
      exactly(`target: expected dim 0 (x_dynamic_axes_1) = 50 as in x dim 0, received [49] (${join(dir, "tt49.npy")})`),
    );
  });
});

describe("the rows check, fourth look (issue 16): inner dims, narrow integer sums, equal rows per input", () => {
  /** y = x[:, :K] where K = 2 + (the chunk's max of column 0 > 3): rows of another length in some chunks. */
  function varyingWidth(outputs: string[]): Uint8Array {
    const g = new Graph("varying", { opset: 17 });
    const x = g.input("x", "float32", ["N", 3]);
    const col0 = g.node("Slice", [x, g.constant([0], "int64"), g.constant([1], "int64"), g.constant([1], "int64")]);
    const big = g.node("Cast", [g.node("Greater", [g.node("ReduceMax", [col0], { keepdims: 0 }), g.constant(3, "float32")])], { to: 7 });
    const k = g.node("Add", [g.node("Reshape", [big, g.constant([1], "int64")]), g.constant([2], "int64")]);
    const y = g.node("Slice", [x, g.constant([0], "int64"), k, g.constant([1], "int64")]);
    for (const name of outputs) g.output(name === "y" ? y : neg(x), name, ["N", name === "y" ? "K" : 3]);
    return g.toModel();
  }
  const x = Float32Array.from({ length: 12 * 3 }, (_, i) => (i === 27 ? 5 : Math.sin(i))); // row 9 holds 5 in column 0
  writeFileSync(join(dir, "vx.npy"), encodeNpy({ dtype: "float32", dims: [12, 3], data: x }));

  test("an output whose inner dims change between chunks is refused (it streamed shifted rows, exit 0), and no file or folder is left", async () => {
    for (const outputs of [["y"], ["a", "y"]]) {
      const outDir = join(dir, "vary-out", "deeper");
      // one-row chunks (the first of two rows): [1, 2], but [1, 3] for row 9; the probe's rows 0 and 11 see no 5
      await expect(
        evaluateNpyFiles(varyingWidth(outputs), { x: join(dir, "vx.npy") }, { chunkBytes: 12, outDir, what: "v.onnx" }),
      ).rejects.toThrow(refusal("v.onnx", "its output y has rows of [3] in rows 9..9 and of [2] before, so it is not per item along N"));
      expect(readdirSync(dir)).not.toContain("vary-out");
    }
  });

  test("a uint8 sum streams to one pass's value, wrapped as uint8; a bool 'sum' is refused", async () => {
    // loss_sum = Cast(ReduceSum(t), uint8): the sum wraps past 255 in one pass as chunk by chunk
    const summed = (to: number) =>
      encodeModel({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        graph: {
          name: "narrow",
          node: [
            { opType: "ReduceSum", input: ["t"], output: ["s"], attribute: [{ name: "keepdims", type: 2, i: 0 }] },
            { opType: "Cast", input: ["s"], output: ["loss_sum"], attribute: [{ name: "to", type: 2, i: to }] },
          ],
          input: [{ name: "t", type: { tensorType: { elemType: 7, shape: { dim: [{ dimParam: "N" }] } } } }],
          output: [{ name: "loss_sum", type: { tensorType: { elemType: to, shape: { dim: [] } } } }],
        },
      });
    const g = { toModel: () => summed(2) };
    const v = BigInt64Array.from({ length: 40 }, (_, i) => BigInt(3 + i * 7));
    writeFileSync(join(dir, "u8t.npy"), encodeNpy({ dtype: "int64", dims: [40], data: v }));
    const one = await onePass(g.toModel(), { t: { dtype: "int64", dims: [40], data: v } });
    const r = await evaluateNpyFiles(g.toModel(), { t: join(dir, "u8t.npy") }, { chunkBytes: 7 * 8 });
    expect(r.chunks).toBe(6);
    expect([r.outputs.loss_sum.dtype, Array.from(r.outputs.loss_sum.data as Uint8Array)]).toEqual([
      "uint8",
      Array.from(one.loss_sum.data as Uint8Array),
    ]);
    expect(Number(one.loss_sum.data[0])).toBe(Number(v.reduce((a, b) => a + b, 0n) % 256n));
    const b = { toModel: () => summed(9) };
    await expect(evaluateNpyFiles(b.toModel(), { t: join(dir, "u8t.npy") }, { chunkBytes: 7 * 8, what: "b.onnx" })).rejects.toThrow(
      refusal("b.onnx", "its output loss_sum is bool, which chunks' values do not add up to"),
    );
  });

  test("rows equal in x but not in the target do not count as different for x: the chunk where x differs is checked", async () => {
    // y = x - mean(x over the batch), t passed through; x zero but in rows 5000..5019, t all different
    const g = new Graph("centre_x", { opset: 17 });
    const xi = g.input("x", "float32", ["N", C]);
    const ti = g.input("t", "int64", ["N"]);
    g.output(g.node("Sub", [xi, g.node("ReduceMean", [xi], { axes: [0], keepdims: 1 })]), "y", ["N", C]);
    g.output(g.node("Identity", [ti]), "u", ["N"]);
    const n = 10000;
    const xs = new Float32Array(n * C);
    for (let r = 5000; r < 5020; r++) for (let j = 0; j < C; j++) xs[r * C + j] = Math.cos(r + j) * 3;
    writeFileSync(join(dir, "ex.npy"), encodeNpy({ dtype: "float32", dims: [n, C], data: xs }));
    writeFileSync(
      join(dir, "et.npy"),
      encodeNpy({ dtype: "int64", dims: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) }),
    );
    const per = C * 4 + 8;
    await expect(
      evaluateNpyFiles(
        g.toModel(),
        { x: join(dir, "ex.npy"), t: join(dir, "et.npy") },
        { chunkBytes: 100 * per, outDir: join(dir, "ex-out"), what: "cx.onnx" },
      ),
    ).rejects.toThrow(
      refusal(
        "cx.onnx",
        "its output y is not per item along N: rows 5000..5049 and 5050..5099 evaluated apart do not combine into rows 5000..5099",
      ),
    );
  });

  test("an attached loss whose model output has no name for dim 0: the refusal says to name it", async () => {
    const g = new Graph("unnamed", { opset: 17 });
    g.output(neg(g.input("x", "float32", ["N", C])), "logits", ["?", C]);
    const model = attachLoss(g.toModel(), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model;
    await expect(evaluateNpyFiles(model, files, { outDir: join(dir, "unnamed-out"), what: "u.onnx" })).rejects.toThrow(
      refusal(
        "u.onnx",
        "the model's output logits has no name for its dim 0, so neither has the target input attach made from it: name that dim in the model (torch.onnx.export's dynamic_axes) and attach again",
      ),
    );
  });
});

describe("a chunk holds at least one row: a larger row is refused with the flag that raises the chunk size", () => {
  test("library and CLI", async () => {
    const wide = 2 ** 18; // 1 MiB of float32 per row, input and target: 2 MiB
    const x = Float32Array.from({ length: 2 * wide }, (_, i) => Math.cos(i));
    const y = Float32Array.from(x, (v) => (v > 0 ? 1 : 0));
    writeFileSync(join(dir, "bx.npy"), encodeNpy({ dtype: "float32", dims: [2, wide], data: x }));
    writeFileSync(join(dir, "by.npy"), encodeNpy({ dtype: "float32", dims: [2, wide], data: y }));
    const bce = { loss: "binary_cross_entropy_with_logits", options: { reduction: "none" } };
    await expect(
      evaluateNpyFiles(
        bce,
        { input: join(dir, "bx.npy"), target: join(dir, "by.npy") },
        { chunkBytes: 2 ** 20, noneOutput: join(dir, "b.npy"), what: "bce" },
      ),
    ).rejects.toThrow(
      refusal(
        "bce",
        "one row of its inputs (input, target together) is 2 MiB, above the chunk size of 1 MiB, and a chunk holds at least one row: raise --chunk-mb (chunkBytes) to 2 or more",
      ),
    );
    const argv = [
      "eval",
      "binary_cross_entropy_with_logits",
      "--input",
      "input=bx.npy",
      "--input",
      "target=by.npy",
      "--options",
      '{"reduction":"none"}',
      "--out",
      "b_out",
    ];
    const r = await cli(...argv, "--chunk-mb", "1");
    expect([r.code, r.out]).toEqual([2, ""]);
    expect(r.err).toBe(
      "onnx-losses: binary_cross_entropy_with_logits: cannot be evaluated in chunks: one row of its inputs (input, target together) is 2 MiB, above the chunk size of 1 MiB, and a chunk holds at least one row: raise --chunk-mb (chunkBytes) to 2 or more; evaluate it in one pass (without --stream)\n",
    );
    const ok = await cli(...argv, "--chunk-mb", "2");
    expect([ok.code, ok.err]).toEqual([0, ""]);
    const once = await onePass(buildLoss("binary_cross_entropy_with_logits", { reduction: "none" }).model, {
      input: { dtype: "float32", dims: [2, wide], data: x },
      target: { dtype: "float32", dims: [2, wide], data: y },
    });
    expect(Buffer.from(readFileSync(join(dir, "b_out", "loss.npy"))).equals(Buffer.from(encodeNpy(once.loss)))).toBe(true);
  });
});

(posix ? describe : describe.skip)("inputs that are not regular files", () => {
  const sh = (script: string) =>
    spawnSync("bash", ["-c", script], { cwd: dir, encoding: "utf8", timeout: 60000, env: { ...process.env, CLI } });
  const line = (shown: string) =>
    `onnx-losses: ${shown}: expected a regular file to stream, received a FIFO or pipe: streamed evaluation reads files by offset; copy it to a regular file\n`;

  test("a process substitution under --stream exits 2 with one line (was internal error: ESPIPE); without --stream the bounded reader refuses it with one line", () => {
    writeFileSync(join(dir, "ce_x.npy"), encodeNpy({ dtype: "float32", dims: [4, C], data: X }));
    const once = sh(`node "$CLI" eval cross_entropy --input input=ce_x.npy --input target=t.npy --json`);
    expect(once.status).toBe(0);
    for (const inputs of ["--input input=<(cat ce_x.npy) --input target=t.npy", "--input input=ce_x.npy --input target=<(cat t.npy)"]) {
      const r = sh(`node "$CLI" eval cross_entropy ${inputs} --stream`);
      expect([r.status, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(
        /^onnx-losses: \/dev\/fd\/\d+: expected a regular file to stream, received a FIFO or pipe: .*; copy it to a regular file\n$/,
      );
      // one pass reads whole files through the bounded reader, which takes regular files only (a pipe
      // has no size to check before reading)
      const p = sh(`node "$CLI" eval cross_entropy ${inputs} --json`);
      expect([p.status, p.stdout]).toEqual([2, ""]);
      expect(p.stderr).toMatch(/^onnx-losses: \/dev\/fd\/\d+: a FIFO \(named pipe\) or pipe, expected a file .*\n$/);
    }
  });

  test("a FIFO without a writer under --stream exits 2 at once, whichever input it is (it blocked forever in open)", () => {
    expect(sh("mkfifo fifo.npy").status).toBe(0);
    for (const inputs of ["--input input=fifo.npy --input target=t.npy", "--input input=ce_x.npy --input target=fifo.npy"]) {
      const r = sh(`node "$CLI" eval cross_entropy ${inputs} --stream`);
      expect([r.status, r.signal, r.stdout, r.stderr]).toEqual([2, null, "", line("fifo.npy")]);
    }
    writeFileSync(join(dir, "centred.onnx"), centring(C));
    const r = sh(`node "$CLI" eval centred.onnx --input x=fifo.npy --stream`);
    expect([r.status, r.signal, r.stderr]).toEqual([2, null, line("fifo.npy")]);
  });
});

(process.platform === "linux" ? describe : describe.skip)("open files", () => {
  test("more inputs than ulimit -n under --stream: exit 2 naming the path (was internal error: EMFILE)", () => {
    const inputs = Array.from({ length: 100 }, (_, i) => `--input x${i}=t.npy`).join(" ");
    const r = spawnSync(
      "bash",
      ["-c", `ulimit -n 50 && node "$CLI" eval cross_entropy --input input=ce_x.npy --input target=t.npy ${inputs} --stream`],
      {
        cwd: dir,
        encoding: "utf8",
        timeout: 60000,
        env: { ...process.env, CLI },
      },
    );
    expect([r.status, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(`onnx-losses: ${join(dir, "t.npy")}: too many open files in this process (raise ulimit -n)\n`);
  });

  test("no error path of the stream leaves a file handle open", async () => {
    const fds = () => readdirSync("/proc/self/fd").length;
    writeFileSync(join(dir, "bad_t.npy"), encodeNpy({ dtype: "int64", dims: [4], data: BigInt64Array.from([0n, 1n, 2n, 9n]) }));
    writeFileSync(join(dir, "short_t.npy"), encodeNpy({ dtype: "int64", dims: [3], data: BigInt64Array.from([0n, 1n, 2n]) }));
    writeFileSync(join(dir, "junk.npy"), "not an npy file at all");
    writeFileSync(join(dir, "a_file"), "");
    const ce = { loss: "cross_entropy" };
    const xs = join(dir, "ce_x.npy");
    const attempts: [Parameters<typeof evaluateNpyFiles>, RegExp][] = [
      [[ce, { input: xs, target: join(dir, "junk.npy") }], /junk\.npy/],
      [[ce, { input: xs, target: join(dir, "short_t.npy") }], /expected dim 0/],
      [[ce, { input: xs, target: join(dir, "bad_t.npy") }, { chunkBytes: rowBytes }], /received 9 at flat index 3/],
      [[ce, { input: xs, target: join(dir, "missing.npy") }], /ENOENT/],
      [[centring(C), { x: xs }, { chunkBytes: C * 4, outDir: dir }], /cannot be evaluated in chunks/],
      [
        [
          { loss: "cross_entropy", options: { reduction: "none" } },
          { input: xs, target: join(dir, "t.npy") },
          { chunkBytes: 2 * rowBytes, outDir: join(dir, "a_file") },
        ],
        /EEXIST|ENOTDIR/,
      ],
      [[ce, { input: xs, target: join(dir, "t.npy") }, { chunkBytes: 8 }], /raise --chunk-mb/],
    ];
    // one run first, so that what onnxruntime keeps open for the process is open before counting
    await evaluateNpyFiles(ce, { input: xs, target: join(dir, "t.npy") });
    const before = fds();
    for (const [args, message] of attempts) await expect(evaluateNpyFiles(...args)).rejects.toThrow(message);
    expect(fds()).toBe(before);
  });
});
