/**
 * Models with large weights: verification of an attached loss compares the loss's own constants by
 * name and bytes and never serializes the model's initializers (it once turned each into JSON once per
 * loss constant: resnet18's 45 MB took 36 s, a 160 MB head ended in "Invalid string length"), and the
 * reader keeps initializers as views of the model's bytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { runCli } from "../src/cli/program.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss } from "../src/losses/index.js";
import { readLossModel } from "../src/models/kinds.js";
import { decodeModel, encodeModel, type onnx } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-large-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 10M float32 (40 MB), all 0 but the first, 1.5. */
const BIG = 10_000_000;
function bigTensor(name: string): onnx.ITensorProto {
  const data = new Float32Array(BIG);
  data[0] = 1.5;
  return { name, dims: [BIG], dataType: 1, rawData: new Uint8Array(data.buffer) };
}

/** x [N, 5] -> logits = x + sum(big): a head whose one weight is 40 MB. */
function head(): Uint8Array {
  const vi = (name: string, dims: (number | string)[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "test",
    graph: {
      name: "head",
      input: [vi("x", ["N", 5])],
      output: [vi("logits", ["N", 5])],
      initializer: [bigTensor("big")],
      node: [
        { opType: "ReduceSum", input: ["big"], output: ["s"], attribute: [{ name: "keepdims", type: 2, i: 0 }] },
        { opType: "Add", input: ["x", "s"], output: ["logits"] },
      ],
    },
  });
}

const seconds = (f: () => unknown) => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
};

describe("large initializers", () => {
  test("an attached loss on a 40 MB head verifies in about the time of decoding it, and evaluates right", async () => {
    const a = attachLoss(head(), { output: "logits", loss: "softmax_focal_loss", options: { gamma: 2, alpha: [1, 2, 3, 4, 5] } });
    // before: every model initializer serialized to JSON once per loss constant (tens of seconds here)
    const t = seconds(() => readLossModel(a.model, "head"));
    expect(t).toBeLessThan(5);
    const ev = await createEvaluator(a.model);
    const x = new Float32Array(10);
    const out = await ev.run({ x: { data: x, dims: [2, 5] }, target: { data: [0, 4], dims: [2] } });
    await ev.release();
    // logits all 1.5: p = 1/5 for each class, loss_i = alpha_t (4/5)^2 log 5, mean over the 2 items
    const want = ((1 + 5) / 2) * 0.64 * Math.log(5);
    expect(Math.abs((out.loss.data as Float32Array)[0] - want)).toBeLessThan(1e-5 * want);
  }, 120000);

  test("the reader keeps the bytes as a view and decodes values only when asked", () => {
    const bytes = head();
    const info = readModel(bytes);
    const big = info.initializers[0];
    expect(big.count).toBe(BIG);
    expect(big.bytes.buffer).toBe(bytes.buffer);
    expect(Object.keys(big)).toEqual(["name", "dtype", "shape", "count"]);
    expect(JSON.stringify(info).length).toBeLessThan(2000);
  });

  test("a catalogue graph carrying an unused 40 MB initializer is refused in one line by inspect, quickly", async () => {
    const m = decodeModel(buildLoss("cross_entropy").model);
    (m.graph as onnx.GraphProto).initializer.push(bigTensor("unused") as onnx.TensorProto);
    writeFileSync(join(dir, "ce.onnx"), encodeModel(m));
    let err = "";
    const t0 = performance.now();
    const code = await runCli(["inspect", "ce.onnx"], { out: () => undefined, err: (s) => (err += s), cwd: dir });
    expect((performance.now() - t0) / 1000).toBeLessThan(10);
    expect(code).toBe(2);
    expect(err).toMatch(
      /^onnx-losses: ce\.onnx: metadata onnx_losses\.options: the graph is not what cross_entropy with options .* builds at opset 17/,
    );
    expect(err.trim().split("\n")).toHaveLength(1);
  }, 120000);
});
