/**
 * Per-call latency at the sizes users bring (`npm run bench -- --latency`): for every loss at 1 x 2,
 * 64 x 10, 256 x 100 and 1024 x 1000, the evaluator's `ev.run` (validation and tensor wrapping
 * included, its default threads) against the same graph in a raw onnxruntime-node session with one
 * intra-op thread and with onnxruntime's default threads, and the floor: a one-node graph (ReduceMax)
 * on the same input in a one-thread session. Medians of interleaved calls in one process, the order
 * rotating each round.
 */
import { cpus, totalmem } from "node:os";
import ort from "onnxruntime-node";
import { buildLoss, LOSS_NAMES } from "../../src/losses/index.js";
import type { Evaluator } from "../../src/runtime/evaluator.js";
import { createEvaluator } from "../../src/runtime/node.js";
import { sessionOptionsFor } from "../../src/runtime/providers.js";
import type { TensorData } from "../../src/tensor/tensor.js";
import { floorGraph } from "./variants.js";
import { workloadData, type Workload } from "./workloads.js";

/** The sizes of the latency table, [N, C]. */
export const LATENCY_SIZES: readonly (readonly [number, number])[] = [
  [1, 2],
  [64, 10],
  [256, 100],
  [1024, 1000],
];

/** What each row times, in the table's order. */
export const LATENCY_COLUMNS = [
  { key: "evaluator", label: "ev.run (default threads)" },
  { key: "raw1", label: "raw session, 1 thread" },
  { key: "rawDefault", label: "raw session, default threads" },
  { key: "floor", label: "floor: one ReduceMax, 1 thread" },
] as const;
export type LatencyKey = (typeof LATENCY_COLUMNS)[number]["key"];

export interface LatencyRow {
  loss: string;
  N: number;
  C: number;
  /** Median microseconds per call, by column. */
  us: Record<LatencyKey, number>;
  rounds: number;
}

export interface LatencyResult {
  machine: string;
  date: string;
  quick: boolean;
  rows: LatencyRow[];
}

const FOCAL = { alpha: 0.25, gamma: 2 };
const SIGMOID = new Set(["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"]);

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The loss's inputs at N x C, as the main benchmark's workloads make them. */
function feedsOf(loss: string, N: number, C: number): { input: TensorData; target: TensorData } {
  const w: Workload = { name: "latency", title: "", dims: [N, C], target: SIGMOID.has(loss) ? "binary" : "index", losses: [loss] };
  const d = workloadData(w);
  const input = loss === "nll_loss" ? d.logProbs : loss === "binary_cross_entropy" ? d.probs : d.logits;
  return { input, target: d.target };
}

/** Time every loss at every size; `rounds` calls of each variant per size, interleaved. */
/** The machine a latency run ran on, in one line. */
export function latencyMachine(): string {
  const cpu = (cpus()[0]?.model ?? "unknown CPU").trim();
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}/${process.arch}; Node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? "?"} (cpu), spinning off`;
}

export async function runLatency(o: { quick?: boolean; rounds?: number; log?: (line: string) => void }): Promise<LatencyResult> {
  const rounds = o.rounds ?? (o.quick ? 20 : 2000);
  const sizes = o.quick ? LATENCY_SIZES.slice(0, 2) : LATENCY_SIZES;
  const rows: LatencyRow[] = [];
  const floorModel = floorGraph(2);
  const floor = await ort.InferenceSession.create(floorModel, sessionOptionsFor("cpu", 1, false));
  try {
    for (const loss of LOSS_NAMES) {
      const g = buildLoss(loss, loss.endsWith("focal_loss") ? FOCAL : {});
      const raw1 = await ort.InferenceSession.create(g.model, sessionOptionsFor("cpu", 1, false));
      const rawDefault = await ort.InferenceSession.create(g.model, sessionOptionsFor("cpu", undefined, false));
      const ev: Evaluator = await createEvaluator(g);
      try {
        for (const [N, C] of sizes) {
          const feeds = feedsOf(loss, N, C);
          const ortFeeds = {
            input: new ort.Tensor(feeds.input.dtype, feeds.input.data as Float32Array, feeds.input.dims),
            target: new ort.Tensor(feeds.target.dtype, feeds.target.data as Float32Array, feeds.target.dims),
          };
          const floorFeeds = { input: ortFeeds.input };
          const calls: Record<LatencyKey, () => Promise<unknown>> = {
            evaluator: () => ev.run(feeds),
            raw1: () => raw1.run(ortFeeds),
            rawDefault: () => rawDefault.run(ortFeeds),
            floor: () => floor.run(floorFeeds),
          };
          const keys = LATENCY_COLUMNS.map((c) => c.key);
          const times: Record<LatencyKey, number[]> = { evaluator: [], raw1: [], rawDefault: [], floor: [] };
          // warm-up: the first calls make the evaluator's sessions and fill onnxruntime's caches
          for (let i = 0; i < 20; i++) for (const k of keys) await calls[k]();
          for (let r = 0; r < rounds; r++) {
            for (let j = 0; j < keys.length; j++) {
              const k = keys[(r + j) % keys.length];
              const t0 = process.hrtime.bigint();
              await calls[k]();
              times[k].push(Number(process.hrtime.bigint() - t0) / 1000);
            }
          }
          const us = Object.fromEntries(keys.map((k) => [k, median(times[k])])) as Record<LatencyKey, number>;
          rows.push({ loss, N, C, us, rounds });
          o.log?.(`latency ${loss} ${N} x ${C}: ${keys.map((k) => `${k} ${us[k].toFixed(1)} us`).join(", ")}`);
        }
      } finally {
        await ev.release();
        await raw1.release();
        await rawDefault.release();
      }
    }
  } finally {
    await floor.release();
  }
  return { machine: latencyMachine(), date: new Date().toISOString().slice(0, 10), quick: o.quick ?? false, rows };
}

const fmt = (us: number): string => (us >= 100 ? us.toFixed(0) : us.toFixed(1));

/** The latency table in Markdown, with the targets' ratios: ev.run over the floor and over the best raw session. */
export function latencyTable(r: LatencyResult): string {
  const head = `| loss | N x C | ${LATENCY_COLUMNS.map((c) => `${c.label} (us)`).join(" | ")} | ev.run / floor | ev.run / best raw |`;
  const rule = `|${"---|".repeat(LATENCY_COLUMNS.length + 4)}`;
  const lines = r.rows.map((row) => {
    const best = Math.min(row.us.raw1, row.us.rawDefault);
    return `| ${row.loss} | ${row.N} x ${row.C} | ${LATENCY_COLUMNS.map((c) => fmt(row.us[c.key])).join(" | ")} | ${(row.us.evaluator / row.us.floor).toFixed(2)}x | ${(row.us.evaluator / best).toFixed(2)}x |`;
  });
  return [head, rule, ...lines].join("\n");
}

/** The issue's small-batch targets against a latency run: ev.run within 1.5x of the floor at 64 x 10, within 1.2x of the best raw session everywhere. */
export function latencyTargets(r: LatencyResult): string[] {
  const lines: string[] = [];
  for (const row of r.rows) {
    const best = Math.min(row.us.raw1, row.us.rawDefault);
    const vsRaw = row.us.evaluator / best;
    if (row.N === 64 && row.C === 10) {
      const vsFloor = row.us.evaluator / row.us.floor;
      lines.push(`- ${row.loss} 64 x 10: ev.run ${vsFloor.toFixed(2)}x the floor (target 1.5x): ${vsFloor <= 1.5 ? "met" : "missed"}`);
    }
    if (vsRaw > 1.2)
      lines.push(`- ${row.loss} ${row.N} x ${row.C}: ev.run ${vsRaw.toFixed(2)}x the best raw session (target 1.2x): missed`);
  }
  const within = r.rows.filter((row) => row.us.evaluator / Math.min(row.us.raw1, row.us.rawDefault) <= 1.2).length;
  lines.push(`- ev.run within 1.2x of the best raw session: ${within} of ${r.rows.length} rows`);
  return lines;
}
