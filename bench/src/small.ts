/**
 * What the latency runs in Node (bench/src/latency.ts) and in Chromium (bench/web) share: the sizes, the
 * inputs, and the interleaved timing loop. Browser-safe: no Node module is imported here.
 */
import type { TensorData } from "../../src/tensor/tensor.js";
import { workloadData, type Workload } from "./workloads.js";

/** The sizes of the latency tables, [N, C]. */
export const LATENCY_SIZES: readonly (readonly [number, number])[] = [
  [1, 2],
  [64, 10],
  [256, 100],
  [1024, 1000],
];

/** Calls of each variant per size (a full run), and the time a size's rounds may take before there are fewer. */
export const LATENCY_ROUNDS = 2000;
export const LATENCY_BUDGET_MS = 20000;
/** The fewest rounds a size gets when the budget cuts them. */
export const LATENCY_MIN_ROUNDS = 50;

export const FOCAL = { alpha: 0.25, gamma: 2 };
const SIGMOID = new Set(["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"]);

export function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The loss's inputs at N x C, as the main benchmark's workloads make them. */
export function feedsOf(loss: string, N: number, C: number): { input: TensorData; target: TensorData } {
  const w: Workload = { name: "latency", title: "", dims: [N, C], target: SIGMOID.has(loss) ? "binary" : "index", losses: [loss] };
  const d = workloadData(w);
  const input = loss === "nll_loss" ? d.logProbs : loss === "binary_cross_entropy" ? d.probs : d.logits;
  return { input, target: d.target };
}

/** One timed variant: `before` runs outside the timing (TensorFlow.js's backend switch), `run` is timed. */
export interface TimedCall {
  key: string;
  before?: () => unknown;
  run: () => unknown;
}

/** The least time a size's warm-up takes in a full run (JIT tiers, onnxruntime's caches), besides its 20 rounds. */
export const LATENCY_WARMUP_MS = 500;

/**
 * Median microseconds per call of each variant: warm-up rounds (20, and more until `warmupMs` has
 * passed), then `rounds` rounds (fewer where the warm-up says they would take over `budgetMs`, never
 * under {@link LATENCY_MIN_ROUNDS}), each running every variant once, the order rotating by round.
 * Returns the medians and the rounds run.
 */
export async function timeInterleaved(
  calls: readonly TimedCall[],
  rounds: number,
  o: { budgetMs?: number; warmupMs?: number } = {},
): Promise<{ us: Record<string, number>; rounds: number }> {
  const budgetMs = o.budgetMs ?? LATENCY_BUDGET_MS;
  const warmupMs = o.warmupMs ?? LATENCY_WARMUP_MS;
  const warm0 = performance.now();
  let warmRounds = 0;
  while (warmRounds < 20 || performance.now() - warm0 < warmupMs) {
    for (const c of calls) {
      await c.before?.();
      await c.run();
    }
    warmRounds++;
  }
  const perRound = (performance.now() - warm0) / warmRounds;
  const n = Math.min(rounds, Math.max(Math.min(rounds, LATENCY_MIN_ROUNDS), Math.floor(budgetMs / Math.max(perRound, 1e-3))));
  const times: number[][] = calls.map(() => []);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < calls.length; j++) {
      const i = (r + j) % calls.length;
      await calls[i].before?.();
      const t0 = performance.now();
      await calls[i].run();
      times[i].push((performance.now() - t0) * 1000);
    }
  }
  return { us: Object.fromEntries(calls.map((c, i) => [c.key, median(times[i])])), rounds: n };
}
