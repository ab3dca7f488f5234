/**
 * The model contract: what a model built by onnx-losses says about itself, encoded and decoded in one
 * place, and refused when a file's metadata was edited into something the graph is not. The same edited
 * files go through the library, `eval` and `eval --stream`: each refuses them with the same one line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { Graph } from "../src/builder/graph.js";
import { neg } from "../src/builder/ops/index.js";
import { readModel } from "../src/builder/reader.js";
import { encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { ROOT, runCliIn, type CliRun, exactly, withMetadata } from "./helpers.js";
import { OptionError } from "../src/errors.js";
import { readLossModel } from "../src/models/kinds.js";
import { isTrustedBuild } from "../src/model/trusted.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { canonicalJson, CONTRACT_VERSION, decodeContract, META, ModelContractError } from "../src/model/contract.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Model bytes with metadata entries replaced (a value of null removes the key). */
const cli = (...argv: string[]): Promise<CliRun> => runCliIn(dir, argv);

const ce = buildLoss("cross_entropy");
const N = 6;
const C = 3;
writeFileSync(
  join(dir, "x.npy"),
  encodeNpy({ dtype: "float32", dims: [N, C], data: Float32Array.from({ length: N * C }, (_, i) => Math.sin(i) * 3) }),
);
writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [N], data: BigInt64Array.from([0n, 1n, 2n, -100n, 1n, 0n]) }));
writeFileSync(join(dir, "neg3.npy"), encodeNpy({ dtype: "int64", dims: [N], data: BigInt64Array.from([0n, 1n, 2n, -3n, 1n, 0n]) }));
const inputs = ["--input", "input=x.npy", "--input", "target=t.npy"];

describe("encode and decode", () => {
  test.each(CATALOGUE.map((d) => d.name))("%s: decoding a built model gives what buildLoss wrote", (name) => {
    for (const build of [{}, { lowering: "webgpu" as const }, { dtype: "float16" as const }, { outputs: "parts" as const }]) {
      const g = buildLoss(name, {}, build);
      const info = readModel(g.model);
      const c = decodeContract(info, "m.onnx")!;
      expect(c).toEqual({
        kind: "loss",
        version: CONTRACT_VERSION,
        loss: name,
        options: JSON.parse(canonicalJson(g.options)),
        checks: g.checks,
        inputs: g.inputs.map((i) => ({ name: i.name, doc: i.doc })),
        lowering: g.lowering,
        dtype: g.dtype,
        accumulate: g.accumulate,
        outputs: g.outputMode,
      });
      expect(readLossModel(g.model, "m.onnx").contract?.options).toEqual(g.options);
    }
  });

  test("a model without onnx-losses metadata has no contract and is evaluated as any ONNX model", async () => {
    const g = new Graph("negate");
    g.output(neg(g.input("x", "float32", ["N"])), "y", ["N"]);
    const model = g.toModel();
    expect(decodeContract(readModel(model))).toBeUndefined();
    const ev = await createEvaluator(model);
    expect(ev.contract).toBeUndefined();
    const { y } = await ev.run({ x: { data: Float32Array.from([1, -2]), dims: [2] } });
    expect(Array.from(y.data as Float32Array)).toEqual([-1, 2]);
    await ev.release();
  });

  test("the evaluator runs the contract's checks: a negative target never reaches GatherElements", async () => {
    const ev = await createEvaluator(ce);
    expect(ev.loss).toEqual({ name: "cross_entropy", options: ce.options });
    await expect(ev.run({ input: { data: new Float32Array(6), dims: [2, 3] }, target: { data: [0, -3], dims: [2] } })).rejects.toThrow(
      exactly("target: expected class indices in [0, 3) or ignoreIndex -100 (C = input dim 1), received -3 at flat index 1"),
    );
    await ev.release();
  });
});

/** Model bytes that claim another producer version. */
function withProducer(model: Uint8Array, version: string): Uint8Array {
  return encodeModel({ ...decodeModel(model), producerVersion: version });
}

/** A Neg model dressed in cross_entropy's metadata. */
function negWithCeMetadata(): Uint8Array {
  const g = new Graph("cross_entropy");
  g.output(neg(g.input("input", "float32", ["N", "C"])), "loss", ["N", "C"]);
  const m = decodeModel(g.toModel());
  return encodeModel({ ...m, metadataProps: decodeModel(ce.model).metadataProps });
}

const options = (o: Record<string, unknown>) => canonicalJson({ ...ce.options, ...o });
const resolved = canonicalJson(ce.options);
const checks = canonicalJson(ce.checks);
const these = `cross_entropy with options ${resolved}`;

/** [what was edited, the model bytes, the exact message after "edited.onnx: "] */
const HOSTILE: [string, Uint8Array, string][] = [
  [
    "options cut down to {reduction: sum, rank: 2}",
    withMetadata(ce.model, { [META.options]: '{"reduction":"sum","rank":2}' }),
    `metadata onnx_losses.options: expected every option of cross_entropy resolved (as onnx-losses writes them), received {"rank":2,"reduction":"sum"}`,
  ],
  [
    "the reduction changed to sum, every option present",
    withMetadata(ce.model, { [META.options]: options({ reduction: "sum" }) }),
    `metadata onnx_losses.options: the graph is not what cross_entropy with options ${options({ reduction: "sum" })} builds at opset 17 (was it edited after export? a model without onnx_losses metadata is evaluated as any ONNX model, without input checks)`,
  ],
  [
    "malformed options JSON",
    withMetadata(ce.model, { [META.options]: '{"reduction' }),
    "metadata onnx_losses.options: expected JSON, received text that does not parse (",
  ],
  [
    "checks [null]",
    withMetadata(ce.model, { [META.checks]: "[null]" }),
    "metadata onnx_losses.checks: expected input checks on the graph's inputs (input, target), received check 0 null is not an object",
  ],
  [
    "checks emptied",
    withMetadata(ce.model, { [META.checks]: "[]" }),
    `metadata onnx_losses.checks: expected ${checks} (what ${these} needs), received []`,
  ],
  [
    "a check on a tensor the graph does not have",
    withMetadata(ce.model, { [META.checks]: checks.replace('"tensor":"target"', '"tensor":"labels"') }),
    `metadata onnx_losses.checks: expected input checks on the graph's inputs (input, target), received check 0 names tensor "labels", which is not a graph input`,
  ],
  [
    "an unknown version",
    withMetadata(ce.model, { [META.version]: "3" }),
    'metadata onnx_losses.version: expected 1 (a loss graph) or 2 (a model with a loss attached), received "3" (written by another release of onnx-losses: export the model again with this one)',
  ],
  [
    "no version",
    withMetadata(ce.model, { [META.version]: null }),
    "metadata onnx_losses.version: expected 1 (a loss graph) or 2 (a model with a loss attached), received none (written by another release of onnx-losses: export the model again with this one)",
  ],
  [
    "version 2 (attached) without its record",
    withMetadata(ce.model, { [META.version]: "2" }),
    "metadata onnx_losses.attached: expected a value (every onnx_losses key is written together), received none",
  ],
  [
    "an attached record in a version 1 contract",
    withMetadata(ce.model, { [META.attached]: '{"gradient":null,"loss":"loss","output":"input","prefix":"p/","target":"target"}' }),
    'metadata onnx_losses.attached: expected no value in a version 1 contract (a loss graph; a model with a loss attached is version 2), received "{\\"gradient\\":null,\\"loss\\":\\"loss\\",\\"output\\":\\"input\\",\\"prefix\\":..."',
  ],
  [
    "an unknown key",
    withMetadata(ce.model, { "onnx_losses.extra": "1" }),
    `metadata onnx_losses.extra: expected one of the keys ${Object.values(META).join(", ")}, received an unknown key`,
  ],
  [
    "a missing key",
    withMetadata(ce.model, { [META.inputs]: null }),
    "metadata onnx_losses.inputs: expected a value (every onnx_losses key is written together), received none",
  ],
  [
    "an option that does not parse",
    withMetadata(ce.model, { [META.options]: options({ labelSmoothing: 2 }) }),
    "metadata onnx_losses.options: cross_entropy: option labelSmoothing: expected a number in [0, 1], received 2",
  ],
  [
    "an unknown loss",
    withMetadata(ce.model, { [META.loss]: "focal" }),
    'metadata onnx_losses.loss: loss: unknown loss "focal" (did you mean softmax_focal_loss or sigmoid_focal_loss?); losses are cross_entropy, nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits, softmax_focal_loss, sigmoid_focal_loss',
  ],
  [
    "a float type the inputs do not have",
    withMetadata(ce.model, { [META.dtype]: "float64" }),
    'metadata onnx_losses.dtype: expected the float type of the graph\'s inputs (input is float32), received "float64"',
  ],
  [
    "keys renamed (which would switch the checks off)",
    encodeModel({
      ...decodeModel(ce.model),
      metadataProps: decodeModel(ce.model).metadataProps.map((p) => ({
        key: (p.key ?? "").replace("onnx_losses.", "Onnx_losses."),
        value: p.value,
      })),
    }),
    `metadata Onnx_losses.accumulate: expected one of the keys ${Object.values(META).join(", ")}, received an unknown key`,
  ],
  [
    "another release's producer version with ignoreIndex -3 written into options and checks (the graph ignores -100)",
    withProducer(
      withMetadata(ce.model, { [META.options]: options({ ignoreIndex: -3 }), [META.checks]: checks.replace("-100", "-3") }),
      "0.0.9",
    ),
    `metadata onnx_losses.options: the graph is not what cross_entropy with options ${options({ ignoreIndex: -3 })} builds at opset 17, and it was written by onnx-losses 0.0.9: export it again with 0.1.0 (was it edited after export? a model without onnx_losses metadata is evaluated as any ONNX model, without input checks)`,
  ],
  [
    "another loss's input docs",
    withMetadata(ce.model, {
      [META.inputs]: canonicalJson([
        { name: "input", doc: "log-probabilities" },
        { name: "target", doc: "class indices in [0, C) or ignoreIndex" },
      ]),
    }),
    `metadata onnx_losses.inputs: expected ${canonicalJson(ce.inputs.map((i) => ({ name: i.name, doc: i.doc })))} (what ${these} takes), received`,
  ],
  [
    "a Neg model whose metadata says cross_entropy",
    negWithCeMetadata(),
    "metadata onnx_losses.inputs: expected one {name, doc} per graph input, in order (input), received",
  ],
];

describe("hand-edited metadata is refused, the same way everywhere", () => {
  test.each(HOSTILE)("%s", async (_what, model, message) => {
    writeFileSync(join(dir, "edited.onnx"), model);
    const full = `edited.onnx: ${message}`;
    // the library
    const thrown = await createEvaluator(model, { what: "edited.onnx" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(thrown).toBeInstanceOf(ModelContractError);
    expect((thrown as Error).message.startsWith(full)).toBe(true);
    // inspect, eval and eval --stream: exit 2, the same one line
    for (const argv of [
      ["inspect", "edited.onnx"],
      ["eval", "edited.onnx", ...inputs],
      ["eval", "edited.onnx", ...inputs, "--stream"],
    ]) {
      const r = await cli(...argv);
      expect([r.code, r.out]).toEqual([2, ""]);
      expect(r.err.startsWith(`onnx-losses: ${full}`)).toBe(true);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
  });

  test("every refusal above is exact where the text is ours (only JSON.parse's and a listing's tails vary)", () => {
    const prefixOnly = HOSTILE.filter(([, , m]) => m.endsWith("(") || m.endsWith("received"));
    expect(prefixOnly.map(([w]) => w)).toEqual([
      "malformed options JSON",
      "another loss's input docs",
      "a Neg model whose metadata says cross_entropy",
    ]);
  });

  test("the untouched file: eval and eval --stream agree, and a negative target is refused by both", async () => {
    writeFileSync(join(dir, "ce.onnx"), ce.model);
    const one = await cli("eval", "ce.onnx", ...inputs, "--json");
    const streamed = await cli("eval", "ce.onnx", ...inputs, "--json", "--stream");
    expect(one.code).toBe(0);
    expect(streamed.code).toBe(0);
    const a = JSON.parse(one.out).outputs.loss.data[0] as number;
    const b = JSON.parse(streamed.out).outputs.loss.data[0] as number;
    expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.abs(a));
    for (const extra of [[], ["--stream"]]) {
      const r = await cli("eval", "ce.onnx", "--input", "input=x.npy", "--input", "target=neg3.npy", ...extra);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /^onnx-losses: target: expected class indices in \[0, 3\) or ignoreIndex -100 \(C = input dim 1\), received -3 at flat index 3/,
      );
    }
  });
});

describe("issue 17's defects: one kind per model, the version carried, no unknown option key", () => {
  const mlp = readFileSync(join(ROOT, "test", "fixtures", "attach", "mlp.onnx"));
  const attached = attachLoss(mlp, { output: "logits", loss: "cross_entropy" }).model;

  test("an attached model with a hand-added onnx_losses.step key is refused", () => {
    const both = withMetadata(attached, { [META.step]: '{"kind":"linear_head","lr":0.5}' });
    expect(() => readLossModel(both, "m.onnx")).toThrow(
      exactly(
        `m.onnx: metadata ${META.step}: expected no value in a model with a loss attached (${META.attached}): a model is a loss, a training step or an attached loss, not two, received ${JSON.stringify('{"kind":"linear_head","lr":0.5}')}`,
      ),
    );
  });

  test("a version-2 contract decodes as version 2, a version-1 one as version 1", () => {
    expect(readLossModel(attached).contract?.version).toBe(2);
    expect(readLossModel(buildLoss("cross_entropy").model).contract?.version).toBe(CONTRACT_VERSION);
  });

  test("buildLoss refuses an unknown build option, naming the nearest", () => {
    expect(() => buildLoss("cross_entropy", {}, { opest: 18 } as never)).toThrow(
      exactly(
        'cross_entropy: build options: unknown option "opest" (did you mean opset?); options are opset, lowering, accumulate, outputs, dtype',
      ),
    );
  });

  test("createEvaluator and evaluateNpyFiles refuse unknown options, naming the nearest", async () => {
    await expect(createEvaluator(buildLoss("cross_entropy"), { thread: 1, fallbak: ["cpu"] } as never)).rejects.toThrow(
      exactly(
        'createEvaluator options: unknown option "thread" (did you mean threads?); options are ep, fallback, threads, spinning, skipValidation, what, worker, externalDataDir',
      ),
    );
    await expect(createEvaluator(buildLoss("cross_entropy"), null as never)).rejects.toThrow(
      exactly("createEvaluator options: expected an object, received null"),
    );
    await expect(evaluateNpyFiles({ loss: "cross_entropy" }, {}, { chunk_bytes: 1 } as never)).rejects.toThrow(
      exactly(
        'evaluateNpyFiles options: unknown option "chunk_bytes" (did you mean chunkBytes?); options are ep, fallback, threads, spinning, skipValidation, what, worker, externalDataDir, chunkBytes, onProgress, outDir, noneOutput, shownAs, keys',
      ),
    );
  });

  test("evaluateNpyFiles checks its source and files: a typo'd key, { model }, no loss, a path that is not a string", async () => {
    const bytes = buildLoss("cross_entropy").model;
    const cases: [unknown, unknown, string][] = [
      [
        { loss: "cross_entropy", option: { reduction: "sum" } },
        {},
        'evaluateNpyFiles source: unknown option "option" (did you mean options?); options are loss, options, opset, lowering, dtype',
      ],
      [
        { model: bytes },
        {},
        'evaluateNpyFiles source: unknown option "model"; pass a model\'s bytes as the source itself, not as { model }',
      ],
      [{ options: {} }, {}, "evaluateNpyFiles source: loss: expected a catalogue loss name, received nothing"],
      [
        { loss: "cross_entropy", options: [] },
        {},
        "evaluateNpyFiles source: options: expected an object of loss options, received an array",
      ],
      [
        "cross_entropy",
        {},
        'evaluateNpyFiles source: expected a model\'s bytes (Uint8Array) or { loss, options?, opset?, lowering?, dtype? }, received "cross_entropy"',
      ],
      [bytes, { input: 3 }, "evaluateNpyFiles files: input: expected a path, received 3"],
      [bytes, null, "evaluateNpyFiles files: expected an object of input name to .npy path, received null"],
      [
        bytes.buffer,
        {},
        "evaluateNpyFiles source: expected a model's bytes (Uint8Array) or { loss, options?, opset?, lowering?, dtype? }, received an ArrayBuffer (pass new Uint8Array(buffer))",
      ],
      [
        { loss: "cross_entropy", options: new Map() },
        {},
        "evaluateNpyFiles source: options: expected an object of loss options, received a Map",
      ],
      [bytes, new Map([["input", "x.npy"]]), "evaluateNpyFiles files: expected an object of input name to .npy path, received a Map"],
    ];
    for (const [source, files, message] of cases) {
      await expect(evaluateNpyFiles(source as never, files as never)).rejects.toThrow(message);
    }
    // the stream's own options, by value (NaN rows per chunk, a callback that is not one, a folder of 5)
    const o = "evaluateNpyFiles options";
    const options: [Record<string, unknown>, string][] = [
      [{ chunkBytes: Number.NaN }, `${o}: chunkBytes: expected an integer >= 1 (bytes of input rows per chunk), received NaN`],
      [{ chunkBytes: "64" }, `${o}: chunkBytes: expected an integer >= 1 (bytes of input rows per chunk), received "64"`],
      [{ chunkBytes: 0 }, `${o}: chunkBytes: expected an integer >= 1 (bytes of input rows per chunk), received 0`],
      [{ onProgress: 5 }, `${o}: onProgress: expected a function (rowsDone, rowsTotal), received 5`],
      [{ outDir: 5 }, `${o}: outDir: expected a path, received 5`],
      [{ noneOutput: "" }, `${o}: noneOutput: expected a path, received ""`],
      [{ shownAs: 5 }, `${o}: shownAs: expected an object of input name to the name errors give its file, received 5`],
    ];
    for (const [given, message] of options)
      await expect(evaluateNpyFiles(bytes, {}, given as never)).rejects.toThrow(new OptionError(message));
  });

  test("attachLoss refuses unknown options, naming the nearest (the step's in train.test.ts)", () => {
    const g = new Graph("m", { opset: 17 });
    g.output(neg(g.input("x", "float32", ["N", 3])), "logits", ["N", 3]);
    expect(() => attachLoss(g.toModel(), { output: "logits", loss: "cross_entropy", lossOuput: "l" } as never)).toThrow(
      exactly(
        'attachLoss: unknown option "lossOuput" (did you mean lossOutput?); options are output, loss, options, gradient, targetInput, lossOutput, weightInput, posWeightInput',
      ),
    );
  });
});

describe("no round trip: bytes built in this process are trusted by identity (model/trusted.ts)", () => {
  const cases: [string, () => { model: Uint8Array }][] = [
    ...CATALOGUE.map((d): [string, () => { model: Uint8Array }] => [d.name, () => buildLoss(d.name, { reduction: "sum" })]),
    ["a training step", () => linearHeadStep("cross_entropy", { gradient: true }, { lr: 0.5 })],
  ];
  test.each(cases)("%s: the trusted contract is the one verification gives", (_, make) => {
    const { model } = make();
    expect(isTrustedBuild(model)).toBe(true);
    const copy = new Uint8Array(model);
    expect(isTrustedBuild(copy)).toBe(false);
    expect(readLossModel(model).contract).toEqual(readLossModel(copy, "copy.onnx").contract);
  });

  test("bytes changed in place after the build are verified like a file", () => {
    const g = buildLoss("cross_entropy");
    const at = Buffer.from(g.model).lastIndexOf('"reduction":"mean"'); // the metadata's, after the doc string's
    expect(at).toBeGreaterThan(0);
    // the same length, so the protobuf stays valid: the metadata now claims reduction "none"
    g.model.set(Buffer.from('"reduction":"none"'), at);
    expect(isTrustedBuild(g.model)).toBe(false);
    expect(() => readLossModel(g.model, "edited.onnx")).toThrow(
      /^edited\.onnx: metadata onnx_losses\.options: cross_entropy with options .* gives outputs loss: \[N\]; the graph has loss: \[\]$/,
    );
  });
});

describe("the contract records every build option verification needs", () => {
  test("accumulate and outputs are written, as built (the WebGPU lowering accumulates in float32)", () => {
    const meta = (m: Uint8Array) => readModel(m).metadata;
    expect(meta(buildLoss("cross_entropy").model)).toMatchObject({ [META.accumulate]: "float64", [META.outputs]: "loss" });
    expect(meta(buildLoss("cross_entropy", {}, { lowering: "webgpu", outputs: "parts" }).model)).toMatchObject({
      [META.accumulate]: "float32",
      [META.outputs]: "parts",
    });
    expect(meta(buildLoss("nll_loss", {}, { dtype: "float64", accumulate: "float32" }).model)).toMatchObject({
      [META.accumulate]: "float64",
    });
  });

  test("a recorded accumulate the graph was not built with is refused", () => {
    const lie = withMetadata(buildLoss("cross_entropy").model, { [META.accumulate]: "float32" });
    expect(() => readLossModel(lie, "m.onnx")).toThrow(
      /^m\.onnx: metadata onnx_losses\.options: the graph is not what cross_entropy with options .* builds at opset 17 /,
    );
    const bad = withMetadata(buildLoss("cross_entropy").model, { [META.outputs]: "all" });
    expect(() => readLossModel(bad, "m.onnx")).toThrow(
      exactly('m.onnx: metadata onnx_losses.outputs: expected "loss" or "parts", received "all"'),
    );
  });

  test("a model written before these keys still verifies: they are read from its graph", () => {
    for (const build of [{}, { outputs: "parts" as const }, { accumulate: "float32" as const, outputs: "parts" as const }]) {
      const g = buildLoss("softmax_focal_loss", { gamma: 1 }, build);
      const proto = decodeModel(g.model);
      const older = encodeModel({
        ...proto,
        metadataProps: proto.metadataProps.filter((p) => p.key !== META.accumulate && p.key !== META.outputs),
      });
      const c = readLossModel(older, "older.onnx").contract;
      expect([c?.accumulate, c?.outputs]).toEqual([g.accumulate, g.outputMode]);
    }
  });
});
