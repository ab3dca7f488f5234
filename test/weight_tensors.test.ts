/**
 * Weight tensors (issue 19): binary_cross_entropy's weight and binary_cross_entropy_with_logits'
 * weight and posWeight as tensor inputs ("input"), broadcast to the input as PyTorch broadcasts
 * weight= and pos_weight=; cross_entropy's and nll_loss' weight as a [C] class-weight input, as
 * their weight= (C input's class dim). The values are at PyTorch parity in test/parity.test.ts (every fixture file,
 * every opset, float64); here: the gradient against autograd's, the broadcast refusal, the CLI turning
 * the option on for `--input weight=FILE`, the verified contract of a written file, a batch large
 * enough for the graph's own row-chunked sum. Attached: test/attach_weights.test.ts; streamed:
 * test/stream_weights.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { encodeNpy } from "../src/io/npy.js";
import { buildLoss } from "../src/losses/index.js";
import { readLossModel } from "../src/models/kinds.js";
import { createEvaluator } from "../src/runtime/node.js";
import type { TensorData } from "../src/tensor/tensor.js";
import { loadGradFixtures } from "./grad_fixtures.js";
import { exactly, feedsOf, firstMismatch, loadFixtures, num, runCliIn } from "./helpers.js";

const cases = loadFixtures("weight_tensors.json");
const grads = new Map(loadGradFixtures("weight_tensors").map((g) => [g.id, g.input_grad]));

describe("weight tensors: the gradient", () => {
  test("input_grad equals autograd's on every fixture (the items' sum for reduction none)", async () => {
    expect(cases.length).toBeGreaterThan(100);
    const failures: string[] = [];
    for (const c of cases) {
      const ev = await createEvaluator(buildLoss(c.loss, { ...c.options, gradient: true }));
      try {
        const out = await ev.run(feedsOf(c));
        const want = (grads.get(c.id)?.data ?? []).map(num);
        const i = firstMismatch(out.input_grad.data as Float32Array, want);
        if (i >= 0 || out.input_grad.data.length !== want.length)
          failures.push(`${c.id}: at ${i} got ${out.input_grad.data[i]} want ${want[i]} (dims ${out.input_grad.dims})`);
      } finally {
        await ev.release();
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("class weights [C] under the WebGPU lowering (run here on the CPU provider)", () => {
  test("cross_entropy and nll_loss fixtures: PyTorch's value and input_grad; the graphs use only ops the WebGPU backend runs on the GPU, rank 5's masks included", async () => {
    const classCases = cases.filter((c) => c.id.includes("class weight [C]"));
    expect(classCases.length).toBeGreaterThan(50);
    const failures: string[] = [];
    for (const c of classCases) {
      const ev = await createEvaluator(buildLoss(c.loss, { ...c.options, gradient: true }, { lowering: "webgpu" }));
      try {
        const out = await ev.run(feedsOf(c));
        for (const [name, want] of [
          ["loss", c.expected.data.map(num)],
          ["input_grad", (grads.get(c.id)?.data ?? []).map(num)],
        ] as const) {
          const got = out[name].data as Float32Array;
          const i = firstMismatch(got, want);
          if (i >= 0 || got.length !== want.length) failures.push(`${c.id} ${name}: at ${i} got ${got[i]} want ${want[i]}`);
        }
      } finally {
        await ev.release();
      }
    }
    expect(failures).toEqual([]);
    for (const loss of ["cross_entropy", "nll_loss"])
      for (const rank of [2, 5])
        for (const extra of loss === "cross_entropy" ? [{}, { labelSmoothing: 0.1 }, { targetType: "probs", labelSmoothing: 0.1 }] : [{}]) {
          const options = { rank, weight: "input", gradient: true, ...extra };
          const ops = readModel(buildLoss(loss, options, { lowering: "webgpu" }).model).nodes.map((n) => n.opType);
          const bad = ops.filter((o) => ["LogSoftmax", "Softplus", "OneHot", "Max", "Min", "Size", "Range", "GatherElements"].includes(o));
          expect({ loss, options, bad: rank === 5 ? bad : bad.filter((o) => o !== "GatherElements") }).toEqual({ loss, options, bad: [] });
        }
    // rank 5, where the lowering gathers the weight at the target class by a mask: the plain graph's values
    const dims = [2, 3, 2, 1, 2];
    const feeds = {
      input: { data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3), dims },
      target: { data: BigInt64Array.from({ length: 8 }, (_, i) => BigInt(i % 3)), dims: [2, 2, 1, 2] },
      weight: { data: Float32Array.of(0.5, 2, 1.25), dims: [3] },
    };
    for (const loss of ["cross_entropy", "nll_loss"]) {
      const got: number[][] = [];
      for (const lowering of ["none", "webgpu"] as const) {
        const ev = await createEvaluator(buildLoss(loss, { rank: 5, weight: "input", gradient: true }, { lowering }));
        const out = await ev.run(feeds);
        got.push([...(out.loss.data as Float32Array), ...(out.input_grad.data as Float32Array)]);
        await ev.release();
      }
      expect(firstMismatch(Float32Array.from(got[1]), got[0])).toBe(-1);
    }
  });
});

describe("weight tensors: what is refused", () => {
  test("a weight that does not broadcast to the input, in one line", async () => {
    const ev = await createEvaluator(buildLoss("binary_cross_entropy_with_logits", { weight: "input" }));
    const feeds = (weight: TensorData | { data: Float32Array; dims: number[] }) => ({
      input: { data: new Float32Array(6), dims: [2, 3] },
      target: { data: new Float32Array(6), dims: [2, 3] },
      weight,
    });
    try {
      await expect(ev.run(feeds({ data: new Float32Array(2), dims: [2] }))).rejects.toThrow(
        exactly(
          "weight: expected dims that broadcast to input [2, 3] (each dim input's or 1, as PyTorch broadcasts them; fewer dims are leading 1s), received [1, 2]",
        ),
      );
      await expect(ev.run(feeds({ data: new Float32Array(12), dims: [2, 2, 3] }))).rejects.toThrow(
        exactly("weight: expected rank 2 [weight_d0, weight_d1], received rank 3 [2, 2, 3]"),
      );
      // a weight per sample [N, 1], and one per class [C] read as [1, C]
      const perSample = (await ev.run(feeds({ data: new Float32Array([1, 2]), dims: [2, 1] }))).loss.data[0];
      expect(perSample).toBeCloseTo(Math.log(2) * 1.5, 6);
      const perClass = (await ev.run(feeds({ data: new Float32Array([1, 2, 3]), dims: [3] }))).loss.data[0];
      expect(perClass).toBeCloseTo(Math.log(2) * 2, 6);
    } finally {
      await ev.release();
    }
  });

  test("a class weight [C] of another length than input's classes, or of another rank, in one line", async () => {
    for (const loss of ["cross_entropy", "nll_loss"]) {
      const g = buildLoss(loss, { weight: "input" });
      expect(g.inputs.map((i) => [i.name, i.shape.join(",")])).toEqual([
        ["input", "N,C"],
        ["target", "N"],
        ["weight", "C"],
      ]);
      const ev = await createEvaluator(g);
      const feeds = (weight: { data: Float32Array; dims: number[] }) => ({
        input: { data: new Float32Array(6), dims: [2, 3] },
        target: { data: new BigInt64Array([0n, 2n]), dims: [2] },
        weight,
      });
      try {
        await expect(ev.run(feeds({ data: new Float32Array(4), dims: [4] }))).rejects.toThrow(
          exactly("weight: expected dim 0 (C) = 3 as in input dim 1, received [4]"),
        );
        await expect(ev.run(feeds({ data: new Float32Array(3), dims: [1, 3] }))).rejects.toThrow(
          exactly("weight: expected rank 1 [C], received rank 2 [1, 3]"),
        );
        // weights 1 and 3 on the two items' classes: the mean is weighted, (1 l_0 + 3 l_1) / 4
        const one = (await ev.run(feeds({ data: new Float32Array([1, 1, 1]), dims: [3] }))).loss.data[0] as number;
        const weighted = (await ev.run(feeds({ data: new Float32Array([1, 7, 3]), dims: [3] }))).loss.data[0] as number;
        expect(weighted).toBeCloseTo(loss === "nll_loss" ? 0 : one, 6);
      } finally {
        await ev.release();
      }
    }
  });

  test("a written file's contract verifies", async () => {
    const g = buildLoss("binary_cross_entropy", { weight: "input" });
    const copy = new Uint8Array(g.model); // not the trusted build: verified against the catalogue
    expect(readLossModel(copy).contract?.checks).toEqual([
      { kind: "range", tensor: "input", min: 0, max: 1 },
      { kind: "broadcast", tensor: "weight", to: "input" },
    ]);
  });

  test("a batch large enough for the row-chunked sum: the weight's rows are not sliced with the input's (per sample, per element, per class)", async () => {
    // 2^16 rows of 4: above the evaluator's small-batch graph, so the graph itself runs; its sum is
    // not cut into row chunks, which would meet each slice of the input with every row of the weight
    const N = 2 ** 16;
    const x = Float32Array.from({ length: N * 4 }, (_, i) => ((i * 7919) % 13) / 3 - 2);
    const y = Float32Array.from({ length: N * 4 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const sample = Float32Array.from({ length: N }, (_, i) => (i % 5) / 2);
    const perClass = Float32Array.of(0.5, 1, 1.5, 2);
    const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    for (const [weight, dims, at] of [
      [sample, [N, 1], (i: number) => sample[Math.floor(i / 4)]],
      [x.map(Math.abs), [N, 4], (i: number) => Math.abs(x[i])],
      [perClass, [1, 4], (i: number) => perClass[i % 4]],
    ] as const) {
      let want = 0;
      for (let i = 0; i < N * 4; i++) want += at(i) * (softplus(x[i]) - y[i] * x[i]);
      want /= N * 4;
      const ev = await createEvaluator(buildLoss("binary_cross_entropy_with_logits", { weight: "input" }));
      try {
        const got = (
          await ev.run({ input: { data: x, dims: [N, 4] }, target: { data: y, dims: [N, 4] }, weight: { data: weight, dims: [...dims] } })
        ).loss.data[0] as number;
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.abs(want));
      } finally {
        await ev.release();
      }
    }
  });
});

describe("weight tensors from the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "onnx-losses-weights-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const c = cases.find((k) => k.id === "binary_cross_entropy_with_logits both class [4] on [6, 4] mean");
  test("--input weight=FILE and pos_weight=FILE turn the options to tensor inputs: PyTorch's value, one pass and streamed", async () => {
    expect(c).toBeDefined();
    const feeds = feedsOf(c!);
    for (const [name, t] of Object.entries(feeds))
      writeFileSync(join(dir, `${name}.npy`), encodeNpy({ dtype: "float32", dims: [...t.dims], data: t.data as Float32Array }));
    const argv = [
      "eval",
      "binary_cross_entropy_with_logits",
      ...["input", "target", "weight", "pos_weight"].flatMap((n) => ["--input", `${n}=${n}.npy`]),
    ];
    const r = await runCliIn(dir, [...argv, "--json"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const got = (JSON.parse(r.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data;
    expect(firstMismatch(Float32Array.from(got), c!.expected.data.map(num))).toBe(-1);
    // streamed: the weights' rows with the input's (test/stream_weights.test.ts has every fixture)
    const streamed = await runCliIn(dir, [...argv, "--stream", "--json"]);
    expect([streamed.code, streamed.err]).toEqual([0, ""]);
    const chunked = (JSON.parse(streamed.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data;
    expect(firstMismatch(Float32Array.from(chunked), c!.expected.data.map(num))).toBe(-1);
  });

  test.each([
    ["cross_entropy", "cross_entropy class weight [C] index ignored -100 on [3, 4, 5] mean"],
    ["cross_entropy", "cross_entropy class weight [C] probs on [6, 4] mean"],
    ["nll_loss", "nll_loss class weight [C] index ignored -100 on [6, 4] mean"],
  ])("eval %s --input weight=FILE turns weight to the [C] input: PyTorch's value (%s)", async (loss, id) => {
    const k = cases.find((x) => x.id === id);
    expect(k).toBeDefined();
    const sub = mkdtempSync(join(dir, "class-"));
    for (const [name, t] of Object.entries(feedsOf(k!))) {
      const dtype = t.data instanceof BigInt64Array ? "int64" : "float32";
      writeFileSync(join(sub, `${name}.npy`), encodeNpy({ dtype, dims: [...t.dims], data: t.data } as TensorData));
    }
    const { rank, ...rest } = k!.options as { rank: number };
    const r = await runCliIn(sub, [
      "eval",
      loss,
      ...["input", "target", "weight"].flatMap((n) => ["--input", `${n}=${n}.npy`]),
      ...(rank === 2 ? [] : ["--options", JSON.stringify({ rank })]),
      "--json",
    ]);
    // a float target shaped like input is read as probabilities, said on stderr and in the JSON's options
    const probs = (rest as { targetType?: string }).targetType === "probs";
    expect(r.code).toBe(0);
    expect(r.err).toEqual(probs ? expect.stringContaining('read as class probabilities (targetType "probs")') : "");
    const out = JSON.parse(r.out) as { options?: unknown; outputs: { loss: { data: number[] } } };
    expect(out.options).toEqual(probs ? { targetType: "probs" } : undefined);
    expect(firstMismatch(Float32Array.from(out.outputs.loss.data), k!.expected.data.map(num))).toBe(-1);
  });
});
