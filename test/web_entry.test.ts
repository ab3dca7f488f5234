/**
 * The browser entry: no Node-only module reachable from dist/web.js; the web evaluator (onnxruntime-web,
 * wasm, here running in Node) matches PyTorch on every fixture; the WebGPU lowering gives the same
 * numbers on wasm, where both forms run, and contains only ops the WebGPU backend runs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { OptionError } from "../src/errors.js";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import type { TensorInput } from "../src/tensor/tensor.js";
import { allWasmThreads, configureWasm, createEvaluator, webProviderStatuses } from "../src/runtime/web.js";
import { feedsOf, firstMismatch, fixtureFiles, loadFixtures, num, ROOT } from "./helpers.js";
import { moduleGraph } from "./module_graph.js";

describe("onnx-losses/web", () => {
  test("imports no Node-only module anywhere in its module graph", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.exports["./web"]).toEqual({ types: "./dist/web.d.ts", import: "./dist/web.js" });
    const { files, bare } = moduleGraph(join(ROOT, "dist", "web.js")); // npm test builds first
    expect(files.length).toBeGreaterThan(10);
    expect(bare).toEqual(["fflate", "onnxruntime-web", "protobufjs/minimal.js"]);
  });

  test("providers: wasm always, webgpu only with an adapter", async () => {
    expect(await webProviderStatuses(undefined)).toEqual([
      { name: "wasm", available: true },
      { name: "webgpu", available: false, reason: expect.stringContaining("navigator.gpu is undefined") },
    ]);
    const none = await webProviderStatuses({ gpu: { requestAdapter: async () => null } });
    expect(none[1]).toMatchObject({ available: false, reason: expect.stringContaining("gave no adapter") });
    const some = await webProviderStatuses({ gpu: { requestAdapter: async () => ({}) } });
    expect(some[1]).toEqual({ name: "webgpu", available: true });
    await expect(createEvaluator(buildLoss("cross_entropy"), { ep: "webgpu" })).rejects.toThrow(
      /^execution provider webgpu: not available \(webgpu: /,
    );
  });

  test("the adapter is probed once per navigator (a browser logs a line for each request that finds none)", async () => {
    let asked = 0;
    const gpu = { requestAdapter: async () => (asked++, null) };
    for (let i = 0; i < 3; i++) expect((await webProviderStatuses({ gpu }))[1].available).toBe(false);
    expect(asked).toBe(1);
    expect((await webProviderStatuses({ gpu: { requestAdapter: async () => ({}) } }))[1].available).toBe(true);
  });

  test("worker: true is Node only: refused, naming the page's own Worker", async () => {
    const err = await createEvaluator(buildLoss("cross_entropy"), { worker: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toBe(
      "worker: expected false or nothing in the browser entry, received true (worker: true is Node only; in the browser run the page's own Worker, one that imports onnx-losses/web)",
    );
    const ev = await createEvaluator(buildLoss("cross_entropy"), { worker: false });
    expect(ev.provider).toBe("wasm");
    await ev.release();
  });
});

describe("wasm threads", () => {
  test('"all" is every core (at most 16) on a cross-origin-isolated page, 1 elsewhere', () => {
    expect(allWasmThreads({ crossOriginIsolated: true, navigator: { hardwareConcurrency: 8 } })).toBe(8);
    expect(allWasmThreads({ crossOriginIsolated: true, navigator: { hardwareConcurrency: 64 } })).toBe(16);
    expect(allWasmThreads({ crossOriginIsolated: true, navigator: {} })).toBe(1);
    expect(allWasmThreads({ crossOriginIsolated: false, navigator: { hardwareConcurrency: 8 } })).toBe(1);
    expect(allWasmThreads({})).toBe(1);
  });

  test("configureWasm refuses a thread count that is not an integer >= 0", () => {
    expect(() => configureWasm({ numThreads: -1 })).toThrow(new OptionError('numThreads: expected an integer >= 0 or "all", received -1'));
    expect(() => configureWasm({ numThreads: 1.5 })).toThrow(OptionError);
  });
});

describe("WebGPU lowering", () => {
  // Ops onnxruntime-web's WebGPU backend lacks (LogSoftmax, Softplus, OneHot, Max, Min: they would run
  // on the CPU in the middle of the GPU work), and shape arithmetic that runs on the CPU (Size, Range;
  // a Gather or Cast of a Shape). test/browser/webgpu.test.ts checks the placements themselves.
  test.each(CATALOGUE.map((d) => d.name))("%s uses only ops the WebGPU backend runs on the GPU", (name) => {
    const extra: Record<string, Record<string, unknown>> = {
      cross_entropy: { labelSmoothing: 0.1, targetType: "probs" },
      softmax_focal_loss: { labelSmoothing: 0.1, alpha: 0.25, balanceIndex: 1, gamma: 0.5 },
      sigmoid_focal_loss: { gamma: 0.5 },
    };
    const variants = [{}, { rank: 4 }, { rank: 5 }, extra[name] ?? {}].flatMap((o) => [o, { ...o, gradient: true }]);
    for (const options of variants) {
      const m = readModel(buildLoss(name, options, { lowering: "webgpu" }).model);
      const ops = m.nodes.map((n) => n.opType);
      for (const bad of ["LogSoftmax", "Softplus", "OneHot", "Max", "Min", "Size", "Range"])
        expect({ options, ops }).toEqual({ options, ops: ops.filter((o) => o !== bad) });
      const shapes = new Set(m.nodes.filter((n) => n.opType === "Shape").flatMap((n) => n.outputs));
      expect(
        m.nodes
          .filter((n) => n.inputs.some((i) => shapes.has(i)))
          .map((n) => n.opType)
          .filter((o) => o !== "Expand"),
      ).toEqual([]);
      expect(m.nodes.filter((n) => n.opType === "Cast" && n.attributes.to === 11)).toEqual([]); // no float64
      expect(m.inputs.map((i) => i.dtype)).not.toContain("int64");
      expect(m.metadata["onnx_losses.lowering"]).toBe("webgpu");
    }
  });
});

describe("WebGPU lowering on an empty batch", () => {
  // the lowering's counts and class indices come from shapes of slices: N = 0 (and a zero spatial dim) must still work
  test.each(CATALOGUE.map((d) => d.name))(
    "%s: the lowered graph gives what the plain graph gives, N = 0, ranks 2 and 5, every reduction, with input_grad",
    async (name) => {
      const extra: Record<string, Record<string, unknown>> = {
        cross_entropy: { labelSmoothing: 0.1, weight: [1, 2, 3] },
        nll_loss: { weight: [1, 2, 3] },
        softmax_focal_loss: { labelSmoothing: 0.1, alpha: 0.25, balanceIndex: 1 },
      };
      for (const rank of name.startsWith("binary") || name === "sigmoid_focal_loss" ? [1, 2, 5] : [2, 5]) {
        for (const reduction of ["mean", "sum", "none"] as const) {
          const options: Record<string, unknown> = { rank, reduction, gradient: true, ...(extra[name] ?? {}) };
          const outs = [];
          for (const lowering of ["none", "webgpu"] as const) {
            const g = buildLoss(name, options, { lowering });
            const feeds: Record<string, TensorInput> = {};
            for (const i of g.inputs) {
              const dims = i.shape.map((d) => (d === "N" ? 0 : typeof d === "number" ? d : 3));
              feeds[i.name] = { dims, data: i.dtype === "int64" || i.dtype === "int32" ? new BigInt64Array(0) : new Float32Array(0) };
            }
            const ev = await createEvaluator(g);
            outs.push(await ev.run(feeds));
            await ev.release();
          }
          const show = (o: Record<string, { dims: number[]; data: ArrayLike<number | bigint> }>) =>
            Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { dims: v.dims, data: Array.from(v.data, Number) }]));
          expect({ name, options, out: show(outs[1]) }).toEqual({ name, options, out: show(outs[0]) });
        }
      }
    },
  );
});

describe.each(fixtureFiles())("%s through onnxruntime-web (wasm)", (file) => {
  const cases = loadFixtures(file);
  test.each(["none", "webgpu"] as const)("every case matches PyTorch, lowering %s", async (lowering) => {
    const failures: string[] = [];
    for (const c of cases) {
      const ev = await createEvaluator(buildLoss(c.loss, c.options, { lowering }));
      expect(ev.provider).toBe("wasm");
      const { loss } = await ev.run(feedsOf(c)); // int64 targets are narrowed to int32 for the lowered graphs
      await ev.release();
      const want = c.expected.data.map(num);
      const i = firstMismatch(loss.data as Float32Array, want);
      if (i >= 0) failures.push(`${c.id}: at ${i} got ${loss.data[i]} want ${want[i]}`);
    }
    expect(failures).toEqual([]);
  });
});
