/** The evaluator: input validation before onnxruntime, dtype conversions, provider selection. */
import { runInNewContext } from "node:vm";
import { describe, expect, test } from "@jest/globals";
import { buildLoss } from "../src/losses/index.js";
import { readLossModel } from "../src/models/kinds.js";
import { createEvaluator, nodeProviderStatuses } from "../src/runtime/node.js";
import { parseProvider, planProviders, ProviderError, sessionOptionsFor, type ProviderStatus } from "../src/runtime/providers.js";
import { InputError } from "../src/runtime/validate.js";
import { createOrtEvaluator, firstLine, type OrtModule } from "../src/runtime/evaluator.js";
import { exactly } from "./helpers.js";

const logits = (n: number, c: number) => ({ data: Float32Array.from({ length: n * c }, (_, i) => Math.sin(i)), dims: [n, c] });
const labels = (values: number[]) => ({ data: BigInt64Array.from(values.map(BigInt)), dims: [values.length] });

async function runCe(options: object, feeds: Record<string, { data: unknown; dims: number[] }>) {
  const ev = await createEvaluator(buildLoss("cross_entropy", options));
  try {
    return await ev.run(feeds as never);
  } finally {
    await ev.release();
  }
}

describe("input validation", () => {
  test.each([
    [
      "a negative class index (ONNX would wrap it around)",
      {},
      { input: logits(3, 4), target: labels([0, -1, 2]) },
      "target: expected class indices in [0, 4) or ignoreIndex -100 (C = input dim 1), received -1 at flat index 1",
    ],
    [
      "a class index >= C",
      {},
      { input: logits(3, 4), target: labels([0, 4, 2]) },
      "target: expected class indices in [0, 4) or ignoreIndex -100 (C = input dim 1), received 4 at flat index 1",
    ],
    [
      "a batch size that differs between input and target",
      {},
      { input: logits(3, 4), target: labels([0, 1]) },
      "target: expected dim 0 (N) = 3 as in input dim 0, received [2]",
    ],
    [
      "a wrong rank",
      {},
      { input: { data: new Float32Array(24), dims: [2, 3, 4] }, target: labels([0, 1]) },
      "input: expected rank 2 [N, C], received rank 3 [2, 3, 4]",
    ],
    [
      "a C that differs from the weight length",
      { weight: [1, 2, 3] },
      { input: logits(2, 4), target: labels([0, 1]) },
      "input: expected dim 1 = 3 (shape [N, 3]), received [2, 4]",
    ],
    [
      "float targets for class indices",
      {},
      { input: logits(2, 4), target: { data: new Float32Array([0, 1]), dims: [2] } },
      'target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch); or, for class probabilities shaped like input, build cross_entropy with targetType "probs"',
    ],
    [
      "a data length that does not match dims",
      {},
      { input: { data: new Float32Array(7), dims: [2, 4] }, target: labels([0, 1]) },
      "input: expected 8 values for dims [2, 4], received 7",
    ],
    [
      "an unknown input name",
      {},
      { input: logits(2, 4), target: labels([0, 1]), weights: logits(1, 1) },
      "weights: unknown input; the model's inputs are input, target",
    ],
    ["a missing input", {}, { input: logits(2, 4) }, "target: missing input; expected int64 [N]"],
  ])("rejects %s", async (_what, options, feeds, message) => {
    const run = runCe(options, feeds as never);
    await expect(run).rejects.toThrow(InputError);
    await expect(runCe(options, feeds as never)).rejects.toThrow(message);
  });

  test("skipValidation hands typed arrays straight to onnxruntime (and refuses plain arrays)", async () => {
    const ev = await createEvaluator(buildLoss("cross_entropy"), { skipValidation: true });
    const ok = await ev.run({ input: logits(2, 3), target: labels([0, 2]) });
    expect(Number.isFinite(ok.loss.data[0] as number)).toBe(true);
    await expect(ev.run({ input: logits(2, 3), target: { data: [0, 2], dims: [2] } })).rejects.toThrow(
      exactly("target: expected a typed array when validation is skipped"),
    );
    await ev.release();
  });

  test("ignoreIndex is accepted even outside [0, C)", async () => {
    const { loss } = await runCe({ ignoreIndex: 9 }, { input: logits(3, 4), target: labels([0, 9, 2]) });
    expect(Number.isFinite(loss.data[0] as number)).toBe(true);
  });

  test("int32 targets are widened and float64 inputs narrowed, giving the same loss", async () => {
    const base = await runCe({}, { input: logits(3, 4), target: labels([0, 3, 2]) });
    const widened = await runCe(
      {},
      {
        input: { data: Float64Array.from(logits(3, 4).data), dims: [3, 4] },
        target: { data: new Int32Array([0, 3, 2]), dims: [3] },
      },
    );
    expect(widened.loss.data[0]).toBe(base.loss.data[0]);
  });

  test("plain number arrays take the declared dtypes", async () => {
    const base = await runCe({}, { input: logits(2, 2), target: labels([1, 0]) });
    const plain = await runCe({}, { input: { data: Array.from(logits(2, 2).data), dims: [2, 2] }, target: { data: [1, 0], dims: [2] } });
    expect(plain.loss.data[0]).toBe(base.loss.data[0]);
    await expect(runCe({}, { input: logits(2, 2), target: { data: [1.5, 0], dims: [2] } })).rejects.toThrow(
      exactly("target: expected integers (int64), received 1.5 at index 0"),
    );
  });

  test("binary_cross_entropy rejects probabilities outside [0, 1] (and NaN)", async () => {
    const ev = await createEvaluator(buildLoss("binary_cross_entropy"));
    const y = { data: new Float32Array(4), dims: [2, 2] };
    await expect(ev.run({ input: { data: new Float32Array([0.5, 1.5, 0, 1]), dims: [2, 2] }, target: y })).rejects.toThrow(
      exactly("input: expected values in [0, 1], received 1.5 at flat index 1"),
    );
    await expect(ev.run({ input: { data: new Float32Array([0.5, NaN, 0, 1]), dims: [2, 2] }, target: y })).rejects.toThrow(
      exactly("input: expected values in [0, 1], received NaN at flat index 1"),
    );
    await ev.release();
  });

  test("softmax_focal_loss with a number alpha needs balanceIndex to be a class", async () => {
    const ev = await createEvaluator(buildLoss("softmax_focal_loss", { alpha: 0.25, balanceIndex: 5 }));
    await expect(ev.run({ input: logits(2, 4), target: labels([0, 1]) })).rejects.toThrow(
      exactly("input: expected dim 1 >= 6 (balanceIndex 5 must be a class), received [2, 4]"),
    );
    await ev.release();
  });

  test("checks travel with a saved model: a .onnx path validates the same way", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const file = join(mkdtempSync(join(tmpdir(), "onnx-losses-")), "ce.onnx");
    writeFileSync(file, buildLoss("cross_entropy").model);
    const ev = await createEvaluator(file);
    expect(ev.loss?.name).toBe("cross_entropy");
    await expect(ev.run({ input: logits(2, 3), target: labels([0, -2]) })).rejects.toThrow(
      exactly("target: expected class indices in [0, 3) or ignoreIndex -100 (C = input dim 1), received -2 at flat index 1"),
    );
    await ev.release();
  });
});

describe("execution providers", () => {
  const statuses: ProviderStatus[] = [
    { name: "cpu", available: true },
    { name: "cuda", available: false, reason: "its libraries are not installed" },
    { name: "dml", available: false, reason: "Windows only" },
    { name: "webgpu", available: true },
  ];

  test("the requested provider comes first; fallbacks only when asked", () => {
    expect(planProviders("cpu", [], statuses)).toEqual(["cpu"]);
    expect(planProviders("webgpu", ["cpu"], statuses)).toEqual(["webgpu", "cpu"]);
    expect(planProviders("cuda", ["cpu"], statuses)).toEqual(["cpu"]);
    expect(planProviders("cuda", ["dml", "cpu", "cuda"], statuses)).toEqual(["cpu"]);
  });

  test("an unavailable provider without fallback is a clear error", () => {
    expect(() => planProviders("cuda", [], statuses)).toThrow(ProviderError);
    expect(() => planProviders("cuda", [], statuses)).toThrow(
      exactly(
        "execution provider cuda: not available (cuda: its libraries are not installed); available here: cpu, webgpu; pass a fallback list (e.g. --fallback cpu) to run elsewhere",
      ),
    );
    expect(() => planProviders("dml", ["cuda"], statuses)).toThrow(
      exactly(
        "execution provider dml: not available (dml: Windows only; cuda: its libraries are not installed); available here: cpu, webgpu",
      ),
    );
  });

  test("onnxruntime's session errors are cut to their message", () => {
    const ort =
      "/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters\nmore";
    expect(firstLine(new Error(ort))).toBe("Failed to get a WebGPU adapter: No supported adapters");
    expect(firstLine(new Error("plain message\nsecond"))).toBe("plain message");
    // an Error of another realm (onnxruntime-node's, seen from jest's vm context) is read the same way
    expect(firstLine(runInNewContext('new Error("other realm\\nsecond")'))).toBe("other realm");
  });

  test("provider names are parsed, with DirectML as an alias of dml", () => {
    expect(parseProvider("CUDA", ["cpu", "cuda"])).toBe("cuda");
    expect(parseProvider("directml", ["cpu", "dml"])).toBe("dml");
    expect(() => parseProvider("tpu", ["cpu", "cuda"])).toThrow(exactly('execution provider: expected one of cpu, cuda, received "tpu"'));
  });

  test("session options: spinning off by default, DirectML without memory pattern and sequential", () => {
    expect(sessionOptionsFor("cpu", 2)).toEqual({
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: 2,
      logSeverityLevel: 4,
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    });
    expect(sessionOptionsFor("dml")).toMatchObject({ executionProviders: ["dml"], enableMemPattern: false, executionMode: "sequential" });
  });

  test("Node probe: bundled providers are available, cuda only with its libraries, dml only on Windows", () => {
    const supported = [
      { name: "cpu", bundled: true },
      { name: "webgpu", bundled: true },
      { name: "cuda", bundled: false },
    ];
    const without = nodeProviderStatuses(supported, () => false);
    expect(without.map((s) => [s.name, s.available])).toEqual([
      ["cpu", true],
      ["cuda", false],
      ["dml", false],
      ["webgpu", true],
    ]);
    expect(without[1].reason).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci/);
    const withLibs = nodeProviderStatuses(supported, (f) => f === "libonnxruntime_providers_cuda.so");
    expect(withLibs[1].available).toBe(true);
    expect(nodeProviderStatuses([...supported, { name: "dml", bundled: true }], () => false)[2].available).toBe(true);
  });

  test("cuda selection from the Node probe: no cpu unless a fallback names it", () => {
    const supported = [
      { name: "cpu", bundled: true },
      { name: "webgpu", bundled: true },
      { name: "cuda", bundled: false },
    ];
    const withLibs = nodeProviderStatuses(supported, (f) => f === "libonnxruntime_providers_cuda.so");
    expect(planProviders("cuda", [], withLibs)).toEqual(["cuda"]);
    expect(planProviders("cuda", ["cpu"], withLibs)).toEqual(["cuda", "cpu"]);
    const without = nodeProviderStatuses(supported, () => false);
    expect(() => planProviders("cuda", [], without)).toThrow(ProviderError);
    expect(() => planProviders("cuda", [], without)).toThrow(
      new Error(
        "execution provider cuda: not available (cuda: its libraries are not installed; reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci (or ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node in a project; needs the CUDA 12 runtime and cuDNN 9)); available here: cpu, webgpu; pass a fallback list (e.g. --fallback cpu) to run elsewhere",
      ),
    );
    expect(planProviders("cuda", ["cpu"], without)).toEqual(["cpu"]);
    // a build without cuda at all (macOS, Linux arm64)
    const noCuda = nodeProviderStatuses([{ name: "cpu", bundled: true }], () => true);
    expect(() => planProviders("cuda", [], noCuda)).toThrow(
      new Error(
        `execution provider cuda: not available (cuda: not in this onnxruntime-node build (${process.platform}/${process.arch})); available here: cpu; pass a fallback list (e.g. --fallback cpu) to run elsewhere`,
      ),
    );
  });

  describe("a cuda session that fails to start (a fake onnxruntime module)", () => {
    // what onnxruntime-node 1.30 says when the cuda provider's libraries cannot be loaded
    const cudaError = "OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library";
    /** An onnxruntime module whose cuda sessions fail (or start, with cudaStarts) and that records what was tried. */
    function fakeOrt(cudaStarts: boolean) {
      const tried: string[] = [];
      const ort: OrtModule = {
        InferenceSession: {
          async create(_model, options) {
            const ep = (options as { executionProviders: string[] }).executionProviders.join(",");
            tried.push(ep);
            if (ep === "cuda" && !cudaStarts) throw new Error(cudaError);
            return { inputNames: ["input", "target"], outputNames: ["loss"], run: async () => ({}), release: async () => {} };
          },
        },
        Tensor: class {
          constructor(
            readonly type: string,
            readonly data: unknown,
            readonly dims: readonly number[],
          ) {}
        },
      };
      return { ort, tried };
    }
    const cudaUp: ProviderStatus[] = [
      { name: "cpu", available: true },
      { name: "cuda", available: true },
    ];
    const model = buildLoss("cross_entropy").model;
    const decoded = readLossModel(model);

    test("without a fallback: a ProviderError naming cuda and onnxruntime's reason; cpu is never tried", async () => {
      const { ort, tried } = fakeOrt(false);
      const err = await createOrtEvaluator(ort, model, decoded, cudaUp, { ep: "cuda" }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as Error).message).toBe(`execution provider cuda: session creation failed (cuda: ${cudaError})`);
      expect(tried).toEqual(["cuda"]);
    });

    test("with fallback cpu it runs on cpu, after trying cuda first", async () => {
      const { ort, tried } = fakeOrt(false);
      const ev = await createOrtEvaluator(ort, model, decoded, cudaUp, { ep: "cuda", fallback: ["cpu"] });
      expect(ev.provider).toBe("cpu");
      expect(tried).toEqual(["cuda", "cpu"]);
    });

    test("a cuda session that starts is used, with or without a fallback", async () => {
      for (const fallback of [[], ["cpu"]] as const) {
        const { ort, tried } = fakeOrt(true);
        const ev = await createOrtEvaluator(ort, model, decoded, cudaUp, { ep: "cuda", fallback });
        expect(ev.provider).toBe("cuda");
        expect(tried).toEqual(["cuda"]);
      }
    });
  });

  // The real onnxruntime-node of this machine: one of the two tests runs, the other is skipped.
  const statusesHere = nodeProviderStatuses();
  const cudaHere = statusesHere.find((s) => s.name === "cuda")!;
  const feeds = { input: logits(3, 4), target: labels([0, 3, 2]) };

  (cudaHere.available ? test : test.skip)(
    "this machine has CUDA's libraries: cuda runs on cuda or fails naming cuda, never silently on cpu",
    async () => {
      const model = buildLoss("cross_entropy");
      const onCpu = await runCe({}, feeds);
      const ev = await createEvaluator(model, { ep: "cuda" }).catch((e: unknown) => {
        // the libraries are there but the CUDA runtime, cuDNN or a GPU is not: onnxruntime's reason, named
        expect(e).toBeInstanceOf(ProviderError);
        expect((e as Error).message).toMatch(/^execution provider cuda: session creation failed \(cuda: .+\)$/);
        return null;
      });
      if (ev) {
        expect(ev.provider).toBe("cuda");
        const { loss } = await ev.run(feeds);
        expect(Math.abs((loss.data[0] as number) - (onCpu.loss.data[0] as number))).toBeLessThanOrEqual(1e-5);
        await ev.release();
      }
      const fb = await createEvaluator(model, { ep: "cuda", fallback: ["cpu"] });
      expect(fb.provider).toBe(ev ? "cuda" : "cpu");
      await fb.release();
    },
  );

  (cudaHere.available ? test.skip : test)(
    "this machine lacks CUDA: cuda without a fallback is refused before any session; with fallback cpu it runs on cpu",
    async () => {
      expect([
        "its libraries are not installed; reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci (or ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node in a project; needs the CUDA 12 runtime and cuDNN 9)",
        `not in this onnxruntime-node build (${process.platform}/${process.arch})`,
      ]).toContain(cudaHere.reason);
      const available = statusesHere.filter((s) => s.available).map((s) => s.name);
      expect(available).toContain("cpu");
      const model = buildLoss("cross_entropy");
      const err = await createEvaluator(model, { ep: "cuda" }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as Error).message).toBe(
        `execution provider cuda: not available (cuda: ${cudaHere.reason}); available here: ${available.join(", ")}; pass a fallback list (e.g. --fallback ${available[0]}) to run elsewhere`,
      );
      const ev = await createEvaluator(model, { ep: "cuda", fallback: ["cpu"] });
      expect(ev.provider).toBe("cpu");
      const { loss } = await ev.run(feeds);
      expect(loss.data[0]).toBe((await runCe({}, feeds)).loss.data[0]);
      await ev.release();
    },
  );
});

describe("small runs on one thread (issue 18)", () => {
  test("every catalogue loss has its crossover; a run below it goes to the one-thread session made first, above it to one with the default threads, made then, with the same values", async () => {
    const { LOSS_NAMES } = await import("../src/losses/index.js");
    const { ONE_THREAD_BELOW } = await import("../src/runtime/evaluator.js");
    expect(Object.keys(ONE_THREAD_BELOW).sort()).toEqual([...LOSS_NAMES].sort());
    const { availableParallelism } = await import("node:os");
    const ev = await createEvaluator(buildLoss("cross_entropy"));
    const sessions = ev as unknown as { large?: Promise<unknown>; defaultThreads?: unknown };
    const batch = (N: number, C: number) => ({
      input: { data: Float32Array.from({ length: N * C }, (_, i) => Math.sin(i)), dims: [N, C] },
      target: { data: BigInt64Array.from({ length: N }, (_, i) => BigInt(i % C)), dims: [N] },
    });
    try {
      // below the crossover: the session made with the evaluator, no second one
      const small = batch(64, 10);
      const b = (await ev.run(small)).loss.data[0];
      expect(sessions.large).toBeUndefined();
      // a second session, with the default threads, only where there is a second core to use
      expect(sessions.defaultThreads !== undefined).toBe(availableParallelism() > 1);
      const large = batch(1024, 300);
      const a = (await ev.run(large)).loss.data[0];
      expect(sessions.large !== undefined).toBe(availableParallelism() > 1);
      const pinned = await createEvaluator(buildLoss("cross_entropy"), { threads: 1 });
      try {
        expect((await pinned.run(small)).loss.data[0]).toBe(b);
        expect((await pinned.run(large)).loss.data[0]).toBeCloseTo(a as number, 5);
        expect((pinned as unknown as { defaultThreads?: unknown }).defaultThreads).toBeUndefined(); // the caller chose the threads
      } finally {
        await pinned.release();
      }
    } finally {
      await ev.release();
    }
    await expect(ev.run(batch(2, 3))).rejects.toThrow(exactly("model: this evaluator was released; create another one to run again"));
  });
});

describe("small batches of a chunked elementwise loss (issue 18)", () => {
  test("run the loss built without row chunks, made on the first small run; large batches the model itself; one value either way", async () => {
    const { smallBatchModel, SMALL_BATCH_ELEMENTS } = await import("../src/losses/index.js");
    const ort = (await import("node:module")).createRequire(import.meta.url)("onnxruntime-node") as typeof import("onnxruntime-node");
    const g = buildLoss("binary_cross_entropy_with_logits", { posWeight: [2] });
    const unchunked = smallBatchModel(g.name, g.options, {});
    expect(unchunked).toBeDefined();
    const batch = (N: number, C: number) => ({
      input: { data: Float32Array.from({ length: N * C }, (_, i) => 3 * Math.sin(i)), dims: [N, C] },
      target: { data: Float32Array.from({ length: N * C }, (_, i) => (i % 5 === 0 ? 1 : 0)), dims: [N, C] },
    });
    const raw = async (model: Uint8Array, b: ReturnType<typeof batch>) => {
      const s = await ort.InferenceSession.create(model);
      const { loss } = await s.run({
        input: new ort.Tensor("float32", b.input.data, b.input.dims),
        target: new ort.Tensor("float32", b.target.data, b.target.dims),
      });
      await s.release();
      return (loss.data as Float32Array)[0];
    };
    const ev = await createEvaluator(g);
    const sessions = ev as unknown as { small?: Promise<unknown> };
    try {
      const big = batch(Math.floor(SMALL_BATCH_ELEMENTS / 20) + 1, 10); // above the bound: the model itself
      expect((await ev.run(big)).loss.data[0]).toBe(await raw(g.model, big));
      expect(sessions.small).toBeUndefined();
      const small = batch(64, 10);
      const got = (await ev.run(small)).loss.data[0] as number;
      expect(sessions.small).toBeDefined();
      expect(got).toBe(await raw(unchunked!, small));
      const chunked = await raw(g.model, small);
      expect(Math.abs(got - chunked)).toBeLessThanOrEqual(1e-6 * Math.abs(chunked));
    } finally {
      await ev.release();
    }
  });

  test("only where the graph has chunks or a blocked sum: not for reduction none, the WebGPU lowering, float32 sums of rows", async () => {
    const { smallBatchModel } = await import("../src/losses/index.js");
    const variant = (name: string, options: object = {}, build: object = {}) =>
      smallBatchModel(name, buildLoss(name, options, build).options, build) !== undefined;
    // a blocked float64 sum over N items (softmax losses), chunks (the sigmoid family)
    expect(variant("cross_entropy")).toBe(true);
    expect(variant("cross_entropy", { gradient: true })).toBe(true);
    expect(variant("nll_loss", { reduction: "sum" })).toBe(true);
    expect(variant("softmax_focal_loss")).toBe(true);
    expect(variant("binary_cross_entropy")).toBe(true);
    // neither: no sum, float32 sums (the lowering, accumulate float32), items of rank 2 summed by rows, float64
    expect(variant("cross_entropy", { reduction: "none" })).toBe(false);
    expect(variant("binary_cross_entropy", { reduction: "none" })).toBe(false);
    expect(variant("binary_cross_entropy", {}, { lowering: "webgpu" })).toBe(false);
    expect(variant("cross_entropy", {}, { accumulate: "float32" })).toBe(false);
    expect(variant("cross_entropy", { rank: 3 })).toBe(false);
    expect(variant("cross_entropy", {}, { dtype: "float64" })).toBe(false);
    expect(variant("sigmoid_focal_loss", { gradient: true })).toBe(false);
  });

  test("a softmax loss's small batch: the loss without its blocked sums, 8 nodes fewer each, one value with the model's", async () => {
    const { smallBatchModel } = await import("../src/losses/index.js");
    const { decodeModel } = await import("../src/onnx/codec.js");
    const g = buildLoss("cross_entropy", { weight: [1, 2, 0.5], labelSmoothing: 0.1 });
    const small = smallBatchModel(g.name, g.options, {}) as Uint8Array;
    const ops = (m: Uint8Array) => (decodeModel(m).graph?.node ?? []).map((n) => n.opType);
    expect(ops(g.model).length - ops(small).length).toBe(16); // the weighted losses' and the weights' sums
    expect(ops(small)).not.toContain("Pad");
    const N = 1000;
    const feeds = {
      input: { data: Float32Array.from({ length: N * 3 }, (_, i) => 4 * Math.sin(i * 0.37)), dims: [N, 3] },
      target: { data: BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 3)), dims: [N] },
    };
    const ev = await createEvaluator(g);
    try {
      const got = (await ev.run(feeds)).loss.data[0] as number;
      expect((ev as unknown as { smallSession?: unknown }).smallSession).toBeDefined();
      // the model as written, in a plain session (an evaluator would run the variant too)
      const ort = (await import("node:module")).createRequire(import.meta.url)("onnxruntime-node") as typeof import("onnxruntime-node");
      const s = await ort.InferenceSession.create(g.model);
      const { loss } = await s.run({
        input: new ort.Tensor("float32", feeds.input.data, feeds.input.dims),
        target: new ort.Tensor("int64", feeds.target.data, feeds.target.dims),
      });
      await s.release();
      const want = (loss.data as Float32Array)[0];
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));
    } finally {
      await ev.release();
    }
  });
});
