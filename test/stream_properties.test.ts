/**
 * Generated streams (fast-check): row counts, column counts, chunk sizes (one-row chunks and chunks
 * smaller than a row included) and models that keep rows apart or do not (catalogue losses, foreign
 * graphs, losses attached to a model), and the kind of file each input is. The only outcomes are the
 * value one pass gives (to the suite's tolerance) or one of the project's user errors in one line
 * (exit 2 in the CLI): never a silently different value, a crash or a hang.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { Graph } from "../src/builder/graph.js";
import { neg, reduceSum } from "../src/builder/ops/index.js";
import { isUserError, oneLine } from "../src/cli/errors.js";
import { UserError } from "../src/errors.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss } from "../src/losses/index.js";
import { tensorNumbers, type TensorData } from "../src/tensor/tensor.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { seededRandom } from "../src/util/random.js";
import { onePass } from "./helpers.js";

/** Cases per property: a few dozen in npm test; ONNX_LOSSES_FUZZ_RUNS (npm run test:fuzz) for more. */
const FUZZ_RUNS = Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || 0;
const runs = (n: number) => (FUZZ_RUNS ? Math.min(FUZZ_RUNS, 1000) : n);

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-stream-props-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A model over x [N, C] (and, for a loss, target): whether its outputs keep rows apart is what streaming must find out. */
interface ModelCase {
  name: string;
  /** Built for C columns. */
  build(C: number): Uint8Array;
  /** The target it takes: class indices [N], floats [N, C], or none. */
  target: "classes" | "floats" | "none";
  /** The name of its first input. */
  input: string;
}

const foreign = (name: string, body: (g: Graph, x: ReturnType<Graph["input"]>, C: number) => void): ((C: number) => Uint8Array) => {
  return (C) => {
    const g = new Graph(name, { opset: 17 });
    body(g, g.input("x", "float32", ["N", C]), C);
    return g.toModel();
  };
};
const negated = foreign("negated", (g, x, C) => g.output(neg(x), "logits", ["N", C]));
const centred = foreign("centred", (g, x, C) =>
  g.output(g.node("Sub", [x, g.node("ReduceMean", [x], { axes: [0], keepdims: 1 })]), "logits", ["N", C]),
);
const batchMax = foreign("batch_max", (g, x, C) =>
  g.output(g.node("Sub", [x, g.node("ReduceMax", [x], { axes: [0], keepdims: 1 })]), "logits", ["N", C]),
);
const attached = (model: (C: number) => Uint8Array, loss: string, options: Record<string, unknown>) => (C: number) =>
  attachLoss(model(C), { output: "logits", loss, options }).model;

const MODELS: ModelCase[] = [
  // rows apart
  { name: "negation", build: negated, target: "none", input: "x" },
  { name: "row sums", build: foreign("row_sum", (g, x) => g.output(reduceSum(x, { axes: [1] }), "s", ["N"])), target: "none", input: "x" },
  {
    name: "attached cross_entropy none after negation",
    build: attached(negated, "cross_entropy", { reduction: "none" }),
    target: "classes",
    input: "x",
  },
  { name: "attached cross_entropy mean after negation", build: attached(negated, "cross_entropy", {}), target: "classes", input: "x" },
  {
    name: "attached BCE-with-logits sum after negation",
    build: attached(negated, "binary_cross_entropy_with_logits", { reduction: "sum" }),
    target: "floats",
    input: "x",
  },
  {
    name: "catalogue cross_entropy none",
    build: () => buildLoss("cross_entropy", { reduction: "none" }).model,
    target: "classes",
    input: "input",
  },
  { name: "catalogue cross_entropy mean", build: () => buildLoss("cross_entropy").model, target: "classes", input: "input" },
  { name: "catalogue sigmoid_focal_loss mean", build: () => buildLoss("sigmoid_focal_loss").model, target: "floats", input: "input" },
  // rows mixed
  { name: "row-centring", build: centred, target: "none", input: "x" },
  { name: "minus the batch max", build: batchMax, target: "none", input: "x" },
  {
    name: "cumulative sum",
    build: foreign("cumsum", (g, x) => g.output(g.node("CumSum", [reduceSum(x, { axes: [1] }), g.constant(0, "int64")]), "running", ["N"])),
    target: "none",
    input: "x",
  },
  {
    name: "mean named loss_sum",
    build: foreign("mean_sum", (g, x) => g.output(g.node("ReduceMean", [x], { keepdims: 0 }), "loss_sum", [])),
    target: "none",
    input: "x",
  },
  {
    name: "attached cross_entropy none after row-centring",
    build: attached(centred, "cross_entropy", { reduction: "none" }),
    target: "classes",
    input: "x",
  },
  {
    name: "attached cross_entropy mean after the batch max",
    build: attached(batchMax, "cross_entropy", {}),
    target: "classes",
    input: "x",
  },
];

let caseNo = 0;

/** Inputs for a model case, as tensors and as .npy files. */
function inputsFor(
  m: ModelCase,
  N: number,
  C: number,
  seed: number,
): { feeds: Record<string, TensorData>; files: Record<string, string>; rowBytes: number } {
  const r = seededRandom(seed);
  const feeds: Record<string, TensorData> = {
    [m.input]: { dtype: "float32", dims: [N, C], data: Float32Array.from({ length: N * C }, () => (r() * 2 - 1) * 4) },
  };
  if (m.target === "classes")
    feeds.target = { dtype: "int64", dims: [N], data: BigInt64Array.from({ length: N }, () => BigInt(Math.floor(r() * C))) };
  if (m.target === "floats")
    feeds.target = { dtype: "float32", dims: [N, C], data: Float32Array.from({ length: N * C }, () => (r() < 0.4 ? 1 : 0)) };
  const files: Record<string, string> = {};
  const n = caseNo++;
  for (const [name, t] of Object.entries(feeds)) {
    files[name] = join(dir, `c${n}_${name}.npy`);
    writeFileSync(files[name], encodeNpy(t));
  }
  const rowBytes = C * 4 + (m.target === "classes" ? 8 : m.target === "floats" ? C * 4 : 0);
  return { feeds, files, rowBytes };
}

/** The suite's tolerance: float32 sums in another order (chunks), and float64 combinations. */
const close = (a: number, b: number) =>
  (Number.isNaN(a) && Number.isNaN(b)) || a === b || Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(a), Math.abs(b));

/** An error the CLI reports as one line with exit 2 (a UserError, or a file-system error with its path). */
function expectOneLineUserError(e: unknown): void {
  if (!isUserError(e)) throw e;
  const line = oneLine(e);
  expect(line.length).toBeGreaterThan(0);
  if (e instanceof UserError) expect(e.message).not.toContain("\n");
}

describe("streaming (generated)", () => {
  test("any model, row count and chunk size: the value one pass gives, or exit 2 with one line", async () => {
    const seen = { streamed: 0, refused: 0, oneRowChunks: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.nat(MODELS.length - 1),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        // the chunk size in rows (0: less than one row), and bytes past a whole number of rows
        fc.integer({ min: 0, max: 10 }),
        fc.nat(),
        fc.nat(),
        async (k, N, C, chunkRows, extra, seed) => {
          const m = MODELS[k];
          const model = m.build(C);
          const { feeds, files, rowBytes } = inputsFor(m, N, C, seed);
          const chunkBytes = chunkRows === 0 ? Math.max(1, rowBytes - 1 - (extra % rowBytes)) : chunkRows * rowBytes + (extra % rowBytes);
          const outDir = join(dir, `out${caseNo}`);
          let streamed;
          try {
            streamed = await evaluateNpyFiles(model, files, { chunkBytes, outDir });
          } catch (e) {
            expectOneLineUserError(e);
            seen.refused++;
            return;
          }
          seen.streamed++;
          if (chunkRows === 1 && N > 2) seen.oneRowChunks++;
          const one = await onePass(model, feeds);
          const outputs = streamed.files
            ? Object.fromEntries(Object.entries(streamed.files).map(([name, f]) => [name, decodeNpy(new Uint8Array(readFileSync(f.file)))]))
            : streamed.outputs;
          expect(Object.keys(outputs).sort()).toEqual(Object.keys(one).sort());
          for (const [name, want] of Object.entries(one)) {
            const got = outputs[name];
            expect(got.dims).toEqual(want.dims);
            const [a, b] = [tensorNumbers(got), tensorNumbers(want)];
            for (let i = 0; i < b.length; i++) {
              if (!close(a[i], b[i]))
                throw new Error(
                  `${m.name}, N ${N}, C ${C}, chunk ${chunkBytes} bytes (row ${rowBytes}): ${name}[${i}] streamed ${a[i]}, one pass ${b[i]}`,
                );
            }
          }
        },
      ),
      // one-row chunks of a model that streams, whatever the generator draws (drawn alone, about 1 run
      // in 100 of 120 cases had none)
      { numRuns: runs(120), examples: [[0, 5, 3, 1, 0, 1]] },
    );
    // both outcomes, and one-row chunks among the streams
    expect(seen.streamed).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.oneRowChunks).toBeGreaterThan(0);
  }, 300000);

  (process.platform === "linux" ? test : test.skip)(
    "any kind of file as a streamed input: the value one pass gives, or exit 2 with one line, never a hang",
    async () => {
      const m = MODELS.find((c) => c.name === "catalogue cross_entropy mean")!;
      const model = m.build(3);
      const { feeds, files } = inputsFor(m, 6, 3, 5);
      const want = tensorNumbers((await onePass(model, feeds)).loss)[0];
      const kinds: Record<string, (name: string) => string> = {
        regular: (name) => files[name],
        symlink: (name) => {
          const p = join(dir, `link${caseNo++}.npy`);
          symlinkSync(files[name], p);
          return p;
        },
        "dangling symlink": () => {
          const p = join(dir, `dangling${caseNo++}.npy`);
          symlinkSync(join(dir, "nothing-here.npy"), p);
          return p;
        },
        directory: () => {
          const p = join(dir, `folder${caseNo++}.npy`);
          mkdirSync(p);
          return p;
        },
        "FIFO without a writer": () => {
          const p = join(dir, `fifo${caseNo++}.npy`);
          execFileSync("mkfifo", [p]);
          return p;
        },
        "character device": () => "/dev/null",
        "endless device": () => "/dev/zero",
        missing: () => join(dir, "missing.npy"),
      };
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...Object.keys(kinds)), fc.constantFrom(...Object.keys(kinds)), async (kx, kt) => {
          const paths = { input: kinds[kx]("input"), target: kinds[kt]("target") };
          const plain = (k: string) => k === "regular" || k === "symlink";
          let got: number;
          try {
            got = (await evaluateNpyFiles(model, paths, { chunkBytes: 2 * (3 * 4 + 8) })).value!;
          } catch (e) {
            expect(plain(kx) && plain(kt)).toBe(false);
            expectOneLineUserError(e);
            return;
          }
          expect(plain(kx) && plain(kt)).toBe(true);
          expect(close(got, want)).toBe(true);
        }),
        { numRuns: runs(40) },
      );
    },
    300000,
  );
});
