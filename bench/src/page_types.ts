/** What the benchmark's browser page (bench/web/main.ts) hands back to its driver (bench/src/browser.ts). Browser-safe. */

/** The page's setup: the browser, and what onnxruntime-web and TensorFlow.js run with there. */
export interface PageSetup {
  userAgent: string;
  crossOriginIsolated: boolean;
  /** onnxruntime-web's wasm threads (its default: 1 where the page is not cross-origin isolated, else min(4, ceil(cores / 2))). */
  ortThreads: number;
  ortVersion: string;
  /** TensorFlow.js's version, its wasm backend's SIMD and threads (its defaults). */
  tfjsVersion: string;
  tfjsSimd: boolean;
  tfjsThreads: number;
  /** The smallest step of performance.now() the page saw, in microseconds (Chromium coarsens the clock). */
  timerStepUs: number;
}

/** The browser table's columns, in order. */
export const BROWSER_COLUMNS = [
  { key: "evaluator", label: "ev.run (onnx-losses/web, wasm)" },
  { key: "raw", label: "raw onnxruntime-web session" },
  { key: "floor", label: "floor: one ReduceMax, raw" },
] as const;
export type BrowserKey = (typeof BROWSER_COLUMNS)[number]["key"];

/** One (loss, size) of the browser run. */
export interface BrowserRow {
  loss: string;
  N: number;
  C: number;
  /** Median microseconds per call. */
  us: Record<BrowserKey, number>;
  rounds: number;
  /**
   * For the losses TensorFlow.js has: its function, its value and ev.run's before the timing, and the
   * medians of rounds of their own (TensorFlow.js on wasm and ev.run again beside it; in the columns'
   * rounds it slowed them).
   */
  tfjs?: { fn: string; values: { ours: number; wasm: number }; us: { evaluator: number; wasm: number }; rounds: number };
}

/** What the page exposes to the driver. */
export interface BenchPage {
  /** Initialize TensorFlow.js's wasm backend and the floor session, then run the floor graph for `warmupMs`. */
  setup(warmupMs: number): Promise<PageSetup>;
  /** One (loss, size): `rounds` interleaved rounds after a warm-up of at least `warmupMs`. */
  row(loss: string, N: number, C: number, rounds: number, warmupMs: number): Promise<BrowserRow>;
}
