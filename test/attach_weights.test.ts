/**
 * Weight tensors attached (issue 19): binary_cross_entropy(_with_logits) with weight / posWeight "input"
 * attached to a model gain the graph inputs weight and pos_weight (their own dims weight_d0, ..),
 * broadcast to the attached output as PyTorch broadcasts weight= and pos_weight=. On models made by
 * torch.onnx.export (scripts/make_attach_fixtures.py, weight_cases.json) the loss and
 * `<output>_grad` equal PyTorch's and autograd's; through an Identity model every rank-2 weight
 * fixture of test/fixtures/weight_tensors.json holds; the broadcast is checked against the output as
 * the model computed it; the names are chosen (weightInput, posWeightInput) and refused where taken;
 * the record of them is verified; the CLI attaches and evaluates them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { canonicalJson, META } from "../src/model/contract.js";
import { readLossModel } from "../src/models/kinds.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";
import type { TensorInput } from "../src/tensor/tensor.js";
import { loadGradFixtures } from "./grad_fixtures.js";
import {
  exactly,
  FIXTURES,
  type FixtureTensor,
  feedsOf,
  firstMismatch,
  identityLogitsModel,
  loadAttachWeightCases,
  loadFixtures,
  num,
  runCliIn,
  withMetadata,
} from "./helpers.js";

const ATTACH = join(FIXTURES, "attach");
const modelFile = (file: string) => new Uint8Array(readFileSync(join(ATTACH, file)));

const CASES = loadAttachWeightCases();
const feed = (t: FixtureTensor): TensorInput => ({ dims: t.dims, data: Float32Array.from(t.data, num) });

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-attach-weights-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parity with PyTorch", () => {
  test("on exported models: the loss and <output>_grad equal PyTorch's and autograd's, for weights per sample, class and element", async () => {
    expect(CASES.length).toBe(6);
    const failures: string[] = [];
    for (const c of CASES) {
      const a = attachLoss(modelFile(c.model), { output: c.output, loss: c.loss, options: { ...c.options, gradient: true } });
      // the written file verifies against its contract (not the trusted build)
      expect(readLossModel(new Uint8Array(a.model)).contract?.kind).toBe("attached");
      const ev = await createEvaluator(a.model);
      try {
        const out = await ev.run(Object.fromEntries(Object.entries(c.inputs).map(([k, t]) => [k, feed(t)])));
        const loss = firstMismatch(out.loss.data as Float32Array, c.loss_value.data.map(num));
        const grad = firstMismatch(out[`${c.output}_grad`].data as Float32Array, c.grad.data.map(num));
        if (loss >= 0 || grad >= 0) failures.push(`${c.id}: loss at ${loss}, grad at ${grad}`);
      } finally {
        await ev.release();
      }
    }
    expect(failures).toEqual([]);
  });

  test("through an Identity model, every rank-2 weight fixture (cross_entropy's and nll_loss's class weights among them), with autograd's gradient", async () => {
    const grads = new Map(loadGradFixtures("weight_tensors").map((g) => [g.id, g.input_grad.data.map(num)]));
    const cases = loadFixtures("weight_tensors.json").filter((c) => c.inputs.input.dims.length === 2);
    expect(cases.length).toBe(87);
    expect(cases.filter((c) => c.loss === "cross_entropy" || c.loss === "nll_loss").length).toBe(27);
    const model = identityLogitsModel(4);
    const failures: string[] = [];
    for (const c of cases) {
      const { rank: _, ...options } = c.options;
      const a = attachLoss(model, { output: "logits", loss: c.loss, options: { ...options, gradient: true } });
      const { input, ...rest } = feedsOf(c);
      const ev = await createEvaluator(a.model);
      try {
        const out = await ev.run({ x: input, ...rest });
        const loss = firstMismatch(out.loss.data as Float32Array, c.expected.data.map(num));
        const grad = firstMismatch(out.logits_grad.data as Float32Array, grads.get(c.id) ?? []);
        if (loss >= 0 || grad >= 0) failures.push(`${c.id}: loss at ${loss}, grad at ${grad}`);
      } finally {
        await ev.release();
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("the inputs attach adds", () => {
  test("weight and pos_weight after the target, dims of their own named after them; the record and docs in the contract", () => {
    const a = attachLoss(identityLogitsModel(4), {
      output: "logits",
      loss: "binary_cross_entropy_with_logits",
      options: { weight: "input", posWeight: "input" },
    });
    const info = readModel(a.model);
    expect(info.inputs.map((t) => `${t.name} ${t.dtype} [${t.shape.join(", ")}]`)).toEqual([
      "x float32 [batch, 4]",
      "target float32 [batch, 4]",
      "weight float32 [weight_d0, weight_d1]",
      "pos_weight float32 [pos_weight_d0, pos_weight_d1]",
    ]);
    expect(a.attached.weights).toEqual({ weight: "weight", pos_weight: "pos_weight" });
    expect(a.weights.map((t) => t.name)).toEqual(["weight", "pos_weight"]);
    expect(a.checks).toEqual([
      { kind: "broadcast", tensor: "weight", to: "logits" },
      { kind: "broadcast", tensor: "pos_weight", to: "logits" },
    ]);
    const contract = readLossModel(new Uint8Array(a.model)).contract;
    expect(contract?.inputs.map((i) => i.name)).toEqual(["x", "target", "weight", "pos_weight"]);
    expect(contract?.inputs[2].doc).toMatch(/^weights broadcast to input/);
    // a loss without weight tensors writes the record as before (no weights key)
    const plain = attachLoss(identityLogitsModel(4), { output: "logits", loss: "binary_cross_entropy_with_logits" });
    expect(Object.keys(plain.attached).sort()).toEqual(["gradient", "loss", "output", "prefix", "target"]);
    expect(plain.weights).toEqual([]);
  });

  test("weightInput and posWeightInput choose the names (and so the dims); taken names and unused ones are refused in one line", () => {
    const model = identityLogitsModel(4);
    const bce = { output: "logits", loss: "binary_cross_entropy_with_logits", options: { weight: "input", posWeight: "input" } };
    const a = attachLoss(model, { ...bce, weightInput: "w", posWeightInput: "pw" });
    expect(readModel(a.model).inputs.map((t) => `${t.name} [${t.shape.join(", ")}]`)).toEqual([
      "x [batch, 4]",
      "target [batch, 4]",
      "w [w_d0, w_d1]",
      "pw [pw_d0, pw_d1]",
    ]);
    expect(a.attached.weights).toEqual({ weight: "w", pos_weight: "pw" });
    expect(() => attachLoss(model, { ...bce, weightInput: "x" })).toThrow(
      exactly('weightInput: expected a name the model does not use, received "x", which the model already has'),
    );
    expect(() => attachLoss(model, { ...bce, weightInput: "t", targetInput: "t" })).toThrow(
      exactly('weightInput: expected a name other than targetInput\'s, received "t" for both'),
    );
    expect(() =>
      attachLoss(model, { output: "logits", loss: "binary_cross_entropy_with_logits", options: { weight: [1] }, weightInput: "w" }),
    ).toThrow(
      exactly(
        'weightInput: expected a loss that takes a weight tensor input weight (its option weight "input"), received binary_cross_entropy_with_logits with options {"gradient":false,"posWeight":null,"rank":2,"reduction":"mean","weight":[1]}',
      ),
    );
    // a model dim named as a weight's own dim would bind the two
    const dimmed = decodeModel(model);
    const dim = dimmed.graph?.input?.[0].type?.tensorType?.shape?.dim?.[0];
    if (dim) dim.dimParam = "weight_d0";
    const out0 = dimmed.graph?.output?.[0].type?.tensorType?.shape?.dim?.[0];
    if (out0) out0.dimParam = "weight_d0";
    expect(() => attachLoss(encodeModel(dimmed), bce)).toThrow(
      exactly(
        'weightInput: expected a name whose dims (weight_d0, ..) the model does not use, received "weight", and the model has a dim named weight_d0',
      ),
    );
  });
});

describe("the broadcast is checked against the output the model computed", () => {
  const a = attachLoss(identityLogitsModel(4), {
    output: "logits",
    loss: "binary_cross_entropy_with_logits",
    options: { weight: "input" },
  });
  const rows = (n: number) => ({ dims: [n, 4], data: new Float32Array(n * 4) });
  test("per class [4], per sample [N, 1], single [1] and scalar [] run; a weight of other rows is refused, not broadcast", async () => {
    const ev = await createEvaluator(a.model);
    try {
      const run = (weight: TensorInput, n = 6) => ev.run({ x: rows(n), target: rows(n), weight });
      for (const w of [
        { dims: [4], data: new Float32Array([1, 2, 3, 4]) },
        { dims: [6, 1], data: new Float32Array(6).fill(2) },
        { dims: [1], data: new Float32Array([2]) },
        { dims: [], data: new Float32Array([2]) },
      ])
        expect((await run(w)).loss.data[0]).toBeCloseTo(Math.log(2) * (w.dims.length === 1 && w.dims[0] === 4 ? 2.5 : 2), 6);
      // [5, 1] does not broadcast to [6, 4]: onnxruntime's Mul fails, and the message names both shapes
      await expect(run({ dims: [5, 1], data: new Float32Array(5) })).rejects.toThrow(
        exactly(
          "weight: expected dims that broadcast to logits [6, 4] (each dim logits's or 1, as PyTorch broadcasts them; fewer dims are leading 1s), received [5, 1]",
        ),
      );
      // [6, 4] against an output of 1 row would broadcast the loss to 6 rows: refused after the run
      await expect(run({ dims: [6, 4], data: new Float32Array(24) }, 1)).rejects.toThrow(
        exactly(
          "weight: expected dims that broadcast to logits [1, 4] (each dim logits's or 1, as PyTorch broadcasts them; fewer dims are leading 1s), received [6, 4]",
        ),
      );
    } finally {
      await ev.release();
    }
  });
});

describe("the record of the weight inputs is verified", () => {
  const a = attachLoss(identityLogitsModel(4), {
    output: "logits",
    loss: "binary_cross_entropy",
    options: { weight: "input" },
    weightInput: "w",
  });
  const record = JSON.parse(readModel(a.model).metadata[META.attached]) as Record<string, unknown>;
  const withRecord = (r: Record<string, unknown>) => new Uint8Array(withMetadata(a.model, { [META.attached]: canonicalJson(r) }));
  test("a record without the weights, naming another input, or not an object of names is refused", () => {
    const { weights: _, ...without } = record;
    expect(() => readLossModel(withRecord(without))).toThrow(
      exactly(
        'model: metadata onnx_losses.options: binary_cross_entropy with options {"gradient":false,"rank":2,"reduction":"mean","weight":"input"} attached to output logits: binary_cross_entropy: expected graph input names for its weight tensor inputs (weight), received names for none',
      ),
    );
    expect(() => readLossModel(withRecord({ ...record, weights: { weight: "target" } }))).toThrow(
      exactly(
        "model: metadata onnx_losses.attached: expected an input of the graph other than the target's and the other weights' for weights.weight (x, target, w), received \"target\"",
      ),
    );
    expect(() => readLossModel(withRecord({ ...record, weights: { weight: "x" } }))).toThrow(/^model: metadata onnx_losses.options: /);
    expect(() => readLossModel(withRecord({ ...record, weights: ["w"] }))).toThrow(
      /^model: metadata onnx_losses.attached: expected \{output, target/,
    );
    expect(() => readLossModel(withRecord({ ...record, weights: {} }))).toThrow(
      /^model: metadata onnx_losses.attached: expected \{output, target/,
    );
  });
});

describe("the training step", () => {
  test("refuses a weight tensor input in one line, saying why", () => {
    expect(() => linearHeadStep("binary_cross_entropy_with_logits", { rank: 2, weight: "input" }, { lr: 0.1 })).toThrow(
      exactly(
        "linear_head_step: expected a loss without a weight tensor input, received one broadcast to its input (the step computes its logits X W + b, which no weight input can be checked against before the run): give the weights as a list",
      ),
    );
  });
});

describe("from the command line", () => {
  const c = CASES.find((k) => k.id.startsWith("mlp.onnx logits binary_cross_entropy_with_logits mean"));
  test('attach --options with weight and posWeight "input", then eval --input weight=FILE pos_weight=FILE: PyTorch\'s value', async () => {
    expect(c).toBeDefined();
    writeFileSync(join(dir, "mlp.onnx"), modelFile("mlp.onnx"));
    for (const [name, t] of Object.entries(c!.inputs))
      writeFileSync(join(dir, `${name}.npy`), encodeNpy({ dtype: "float32", dims: [...t.dims], data: Float32Array.from(t.data, num) }));
    const attached = await runCliIn(dir, [
      "attach",
      "mlp.onnx",
      "--model-output",
      "logits",
      "--loss",
      c!.loss,
      "--options",
      JSON.stringify(c!.options),
      "-o",
      "with_loss.onnx",
    ]);
    expect([attached.code, attached.err]).toEqual([0, ""]);
    expect(attached.out).toMatch(
      /inputs target: float32 \[N, 5\], weight: float32 \[weight_d0, weight_d1\], pos_weight: float32 \[pos_weight_d0, pos_weight_d1\], outputs \+ loss;/,
    );
    const r = await runCliIn(dir, [
      "eval",
      "with_loss.onnx",
      ...["x", "target", "weight", "pos_weight"].flatMap((n) => ["--input", `${n}=${n}.npy`]),
      "--json",
    ]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const got = (JSON.parse(r.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data;
    expect(firstMismatch(Float32Array.from(got), c!.loss_value.data.map(num))).toBe(-1);
    // --weight-input names the input (a flag the CLI reference will list)
    const named = await runCliIn(dir, [
      "attach",
      "mlp.onnx",
      "--model-output",
      "logits",
      "--loss",
      c!.loss,
      "--options",
      '{"weight": "input"}',
      "--weight-input",
      "x",
      "-o",
      "named.onnx",
    ]);
    expect([named.code, named.err]).toEqual([
      2,
      'onnx-losses: --weight-input: expected a name the model does not use, received "x", which the model already has\n',
    ]);
  });
});
