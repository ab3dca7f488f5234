/**
 * Weight tensors streamed (issue 19): a weight (pos_weight) whose dim 0 is the batch's (per element
 * [N, C, ..], per sample [N, 1]) is read in row chunks with the input and target; one without it (per
 * class [C], a single [1] or scalar, a leading 1) is read whole once, within the chunk size, and fed
 * to every chunk, as are cross_entropy's and nll_loss's class weights [C]. The streamed value is the one-pass value and PyTorch's (every weight fixture, in
 * chunks of about one row: a mean over chunks stays PyTorch's mean over elements of w l), from .npy
 * files, a plain and a compressed .npz, through the CLI, and per item for weights attached to exported
 * models (whose own outputs keep a mean from being combined over chunks); the refusals are one line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { zipSync } from "fflate";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import type { TensorData } from "../src/tensor/tensor.js";
import {
  exactly,
  FIXTURES,
  type FixtureTensor,
  firstMismatch,
  loadAttachWeightCases,
  loadFixtures,
  num,
  onePass,
  runCliIn,
} from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-stream-weights-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npy = (t: FixtureTensor) =>
  t.dtype === "int64"
    ? encodeNpy({ dtype: "int64", dims: [...t.dims], data: BigInt64Array.from(t.data, (v) => BigInt(v)) })
    : encodeNpy({ dtype: "float32", dims: [...t.dims], data: Float32Array.from(t.data, num) });
const sizeOf = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
/** An .npz of these arrays (members NAME.npy), stored or deflated. */
const npz = (arrays: Record<string, FixtureTensor>, compressed: boolean) =>
  zipSync(Object.fromEntries(Object.entries(arrays).map(([k, t]) => [`${k}.npy`, npy(t)])), { level: compressed ? 6 : 0 });

describe("every weight fixture streamed in chunks of about one row equals PyTorch", () => {
  const cases = loadFixtures("weight_tensors.json");
  test("mean, sum and none; weights per element, class, sample and single, at ranks 1 to 3; cross_entropy's and nll_loss's class weights [C]", async () => {
    expect(cases.length).toBe(186);
    expect(cases.filter((c) => c.loss === "cross_entropy" || c.loss === "nll_loss").length).toBe(54);
    const failures: string[] = [];
    let whole = 0;
    let streamed = 0;
    for (const [k, c] of cases.entries()) {
      const files: Record<string, string> = {};
      for (const [name, t] of Object.entries(c.inputs)) {
        files[name] = join(dir, `f${k}_${name}.npy`);
        writeFileSync(files[name], npy(t));
        if (name !== "input" && name !== "target") {
          if (t.dims.length === c.inputs.input.dims.length && t.dims[0] === c.inputs.input.dims[0] && t.dims[0] > 1) streamed++;
          else whole++;
        }
      }
      // input and target rows, with room for a weight's: one or two rows a chunk
      const rowBytes = (4 * sizeOf(c.inputs.input.dims)) / c.inputs.input.dims[0];
      const noneOutput = join(dir, `f${k}_loss.npy`);
      const r = await evaluateNpyFiles({ loss: c.loss, options: c.options }, files, { chunkBytes: 4 * rowBytes, noneOutput });
      expect(r.chunks).toBeGreaterThan(1);
      const got = c.options.reduction === "none" ? (decodeNpy(readFileSync(noneOutput)).data as Float32Array) : [r.value as number];
      const i = firstMismatch(got, c.expected.data.map(num));
      if (i >= 0) failures.push(`${c.id}: at ${i} got ${got[i]} want ${num(c.expected.data[i])}`);
    }
    expect(failures).toEqual([]);
    // both ways of feeding a weight are taken
    expect([whole > 20, streamed > 20]).toEqual([true, true]);
  });
});

describe("from archives and the command line", () => {
  const c = loadFixtures("weight_tensors.json").find((k) => k.id === "binary_cross_entropy_with_logits both sample [6, 1] on [6, 4] mean");
  const perClass = { dtype: "float32", dims: [4], data: [0.5, 1, 2, 4] } as FixtureTensor;
  test("a plain and a compressed .npz of input, target, weight [N, 1] and pos_weight: the .npy files' value, one pass and streamed", async () => {
    expect(c).toBeDefined();
    const arrays = { ...c!.inputs } as Record<string, FixtureTensor>;
    for (const [name, t] of Object.entries(arrays)) writeFileSync(join(dir, `${name}.npy`), npy(t));
    writeFileSync(join(dir, "class.npy"), npy(perClass));
    writeFileSync(join(dir, "batch.npz"), npz(arrays, false));
    writeFileSync(join(dir, "batch_compressed.npz"), npz({ ...arrays, pos_weight: perClass }, true));
    const value = async (argv: string[]) => {
      const r = await runCliIn(dir, ["eval", "binary_cross_entropy_with_logits", ...argv, "--json"]);
      expect([r.code, r.err]).toEqual([0, ""]);
      return (JSON.parse(r.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0];
    };
    const files = ["input", "target", "weight", "pos_weight"].flatMap((n) => ["--input", `${n}=${n}.npy`]);
    const want = await value(files);
    expect(firstMismatch([want], c!.expected.data.map(num))).toBe(-1);
    // about one row a chunk (input, target and weight rows are 36 bytes)
    for (const argv of [[...files], ["--inputs", "batch.npz"]])
      expect(firstMismatch([await value([...argv, "--stream", "--chunk-mb", "1"])], [want])).toBe(-1);
    const viaApi = await evaluateNpyFiles(
      { loss: "binary_cross_entropy_with_logits", options: { weight: "input", posWeight: "input" } },
      Object.fromEntries(["input", "target", "weight", "pos_weight"].map((n) => [n, join(dir, "batch.npz")])),
      { chunkBytes: 40 },
    );
    expect(viaApi.chunks).toBe(6);
    expect(firstMismatch([viaApi.value as number], [want])).toBe(-1);
    // a compressed archive whose pos_weight is per class: streamed by inflating, pos_weight read whole
    const perClassWant = await value([...files.slice(0, 6), "--input", "pos_weight=class.npy"]);
    const compressed = await evaluateNpyFiles(
      { loss: "binary_cross_entropy_with_logits", options: { weight: "input", posWeight: "input" } },
      Object.fromEntries(["input", "target", "weight", "pos_weight"].map((n) => [n, join(dir, "batch_compressed.npz")])),
      { chunkBytes: 40 },
    );
    expect(compressed.chunks).toBe(6);
    expect(firstMismatch([compressed.value as number], [perClassWant])).toBe(-1);
    expect(firstMismatch([await value(["--inputs", "batch_compressed.npz", "--stream"])], [perClassWant])).toBe(-1);
  });
});

describe("a weight attached to an exported model, streamed", () => {
  const cases = loadAttachWeightCases();
  // a mean over an attached model's outputs is not combined over chunks (its own outputs are per item):
  // the per-item losses are, each row as one pass gives it, and PyTorch's for the case of reduction none
  test.each(cases.map((c) => [c.id, c] as const))("%s: per item, as one pass and PyTorch give them", async (_, c) => {
    const a = attachLoss(new Uint8Array(readFileSync(join(FIXTURES, "attach", c.model))), {
      output: c.output,
      loss: c.loss,
      options: { ...c.options, reduction: "none" },
    });
    const files: Record<string, string> = {};
    const feeds: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(c.inputs)) {
      files[name] = join(dir, `a_${name}.npy`);
      writeFileSync(files[name], npy(t));
      feeds[name] = { dtype: "float32", dims: [...t.dims], data: Float32Array.from(t.data, num) };
    }
    const rowBytes = (4 * sizeOf(c.inputs.x.dims)) / c.inputs.x.dims[0];
    const outDir = join(dir, `out_${c.model}_${c.options.reduction}_${c.loss}`);
    const r = await evaluateNpyFiles(a.model, files, { chunkBytes: 4 * rowBytes, outDir });
    // a model onnx-losses did not verify takes two rows in its first chunk (seg's 2 rows are one chunk)
    expect(r.chunks).toBeGreaterThan(c.inputs.x.dims[0] > 2 ? 1 : 0);
    const got = decodeNpy(readFileSync(join(outDir, "loss.npy")));
    const want = (await onePass(a.model, feeds)).loss;
    expect(got.dims).toEqual(want.dims);
    expect(firstMismatch(got.data as Float32Array, Array.from(want.data as Float32Array))).toBe(-1);
    if (c.options.reduction === "none") expect(firstMismatch(got.data as Float32Array, c.loss_value.data.map(num))).toBe(-1);
  });
});

describe("refusals", () => {
  const N = 6;
  const write = (name: string, t: TensorData) => {
    writeFileSync(join(dir, name), encodeNpy(t));
    return join(dir, name);
  };
  const x = write("rx.npy", { dtype: "float32", dims: [N, 4], data: new Float32Array(N * 4) });
  const loss = { loss: "binary_cross_entropy_with_logits", options: { weight: "input" } };
  test("a weight whose dim 0 is neither the rows' nor 1", async () => {
    const w = write("rw.npy", { dtype: "float32", dims: [3, 4], data: new Float32Array(12) });
    await expect(evaluateNpyFiles(loss, { input: x, target: x, weight: w }, { chunkBytes: 64 })).rejects.toThrow(
      exactly(
        `weight: expected dim 0 = 6 (the rows of input, streamed with them) or 1 (read whole), as it broadcasts to input; received [3, 4] (${w})`,
      ),
    );
  });
  test("a weight without the batch dim above the chunk size", async () => {
    const w = write("rbig.npy", { dtype: "float32", dims: [1, 4], data: new Float32Array(4) });
    await expect(evaluateNpyFiles(loss, { input: x, target: x, weight: w }, { chunkBytes: 15 })).rejects.toThrow(
      exactly(
        "model: cannot be evaluated in chunks: its weight tensor weight [1, 4] has no batch dim (dim 0 = 6), so it is read whole and fed to every chunk, and its 16 bytes are above the chunk size of 15: raise --chunk-mb (chunkBytes) to 1 or more; evaluate it in one pass (without --stream)",
      ),
    );
  });
});
