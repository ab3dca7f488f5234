/**
 * The benchmark's browser page: for a loss at N x C, the library's browser entry (`onnx-losses/web`,
 * here its source, src/web.ts) `createEvaluator` on wasm and its `ev.run`, the same graph in a raw
 * onnxruntime-web session, the one-node floor graph raw, and TensorFlow.js on its wasm backend for the
 * losses it has (its value checked against ev.run's first), timed as medians of interleaved calls
 * (bench/src/small.ts). onnxruntime-web runs with its default threads; TensorFlow.js with its
 * single-thread SIMD build (see below). The driver (bench/src/browser.ts) calls `window.benchPage`.
 */
import * as tf from "@tensorflow/tfjs";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as ort from "onnxruntime-web";
import { buildLoss, configureWasm, createEvaluator } from "../../src/web.js";
import type { BenchPage, BrowserRow, PageSetup } from "../src/page_types.js";
import { FOCAL, feedsOf, type TimedCall, timeInterleaved } from "../src/small.js";
import { checkTfjs, TFJS_LOSSES, tfjsCall } from "../src/tfjs.js";
import { floorGraph } from "../src/variants.js";

configureWasm({ wasmPaths: new URL("ort/", document.baseURI).href });
setWasmPaths(new URL("tfjs/", document.baseURI).href);
tf.enableProdMode();
// TensorFlow.js's threaded wasm build does not start from a bundled page: its pthread workers load the
// page's script as a classic script, and the Vite bundle's throws there ("e is not defined"), so the
// backend never initializes. Its single-thread SIMD build, as in Node.
tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);

let floor: ort.InferenceSession | undefined;

async function setup(warmupMs: number): Promise<PageSetup> {
  if (!(await tf.setBackend("wasm"))) throw new Error("TensorFlow.js's wasm backend did not initialize");
  floor ??= await ort.InferenceSession.create(floorGraph(2), { executionProviders: ["wasm"] });
  // the page's first rows ran slower than the same work later (the browser still compiling onnxruntime's
  // 28 MB of wasm in the background, on the same two cores): run the floor graph for a while first
  const feeds = feedsOf("cross_entropy", 64, 10);
  const input = new ort.Tensor("float32", feeds.input.data as Float32Array, feeds.input.dims);
  for (const t0 = performance.now(); performance.now() - t0 < warmupMs; ) await floor.run({ input });
  let step = Infinity;
  for (let i = 0; i < 200; i++) {
    const a = performance.now();
    let b = performance.now();
    while (b === a) b = performance.now();
    step = Math.min(step, b - a);
  }
  return {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    ortThreads: ort.env.wasm.numThreads ?? 0,
    ortVersion: ort.env.versions.web ?? "?",
    tfjsVersion: tf.version.tfjs,
    tfjsSimd: (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true,
    tfjsThreads: getThreadsCount(),
    timerStepUs: Math.round(step * 1000 * 10) / 10,
  };
}

async function row(loss: string, N: number, C: number, rounds: number, warmupMs: number): Promise<BrowserRow> {
  if (!floor) throw new Error("setup() first");
  const floorSession = floor;
  const g = buildLoss(loss, loss.endsWith("focal_loss") ? FOCAL : {});
  const ev = await createEvaluator(g, { ep: "wasm" });
  const raw = await ort.InferenceSession.create(g.model, { executionProviders: ["wasm"] });
  try {
    const feeds = feedsOf(loss, N, C);
    const tensors = {
      input: new ort.Tensor("float32", feeds.input.data as Float32Array, feeds.input.dims),
      target:
        feeds.target.dtype === "int64"
          ? new ort.Tensor("int64", feeds.target.data as BigInt64Array, feeds.target.dims)
          : new ort.Tensor("float32", feeds.target.data as Float32Array, feeds.target.dims),
    };
    const calls: TimedCall[] = [
      { key: "evaluator", run: () => ev.run(feeds) },
      { key: "raw", run: () => raw.run(tensors) },
      { key: "floor", run: () => floorSession.run({ input: tensors.input }) },
    ];
    const t = await timeInterleaved(calls, rounds, { warmupMs });
    let tfjs: BrowserRow["tfjs"];
    if (TFJS_LOSSES[loss]) {
      const call = tfjsCall(tf, loss, feeds);
      const ours = Number((await ev.run(feeds))[ev.outputs[0].name].data[0]);
      const wasm = call();
      checkTfjs(`${TFJS_LOSSES[loss]} on wasm in the browser, ${loss} ${N} x ${C}`, tf, loss, feeds, ours, wasm);
      // rounds of their own, with ev.run again beside it: in the columns' rounds it slowed them
      const tt = await timeInterleaved(
        [
          { key: "evaluator", run: () => ev.run(feeds) },
          { key: "wasm", run: call },
        ],
        rounds,
        { warmupMs },
      );
      tfjs = { fn: TFJS_LOSSES[loss], values: { ours, wasm }, us: { evaluator: tt.us.evaluator, wasm: tt.us.wasm }, rounds: tt.rounds };
    }
    const us = { evaluator: t.us.evaluator, raw: t.us.raw, floor: t.us.floor };
    return { loss, N, C, us, rounds: t.rounds, ...(tfjs ? { tfjs } : {}) };
  } finally {
    await ev.release();
    await raw.release();
  }
}

const page: BenchPage = { setup, row };
(globalThis as unknown as { benchPage: BenchPage }).benchPage = page;
document.body.dataset.ready = "1";
