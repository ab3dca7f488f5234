/**
 * Per-call latency at the sizes users bring (`npm run bench -- --latency`): for every loss at 1 x 2,
 * 64 x 10, 256 x 100 and 1024 x 1000, the evaluator's `ev.run` (validation and tensor wrapping
 * included, its default threads) against the same graph in a raw onnxruntime-node session with one
 * intra-op thread and with onnxruntime's default threads, and the floor: a one-node graph (ReduceMax)
 * on the same input in a one-thread session; for the three losses TensorFlow.js has, also its loss on
 * its wasm and its pure-JS cpu backend (bench/src/tfjs.ts), checked equal to ev.run's value first.
 * Medians of interleaved calls in one process, the order rotating each round.
 */
import { createRequire } from "node:module";
import { cpus, totalmem } from "node:os";
import { dirname } from "node:path";
import ort from "onnxruntime-node";
import { buildLoss, LOSS_NAMES, SMALL_BATCH_ELEMENTS, smallBatchModel } from "../../src/losses/index.js";
import type { Evaluator } from "../../src/runtime/evaluator.js";
import { createEvaluator } from "../../src/runtime/node.js";
import { sessionOptionsFor } from "../../src/runtime/providers.js";
import { FOCAL, feedsOf, LATENCY_ROUNDS, LATENCY_SIZES, LATENCY_WARMUP_MS, type TimedCall, timeInterleaved } from "./small.js";
import { checkTfjs, logLossEpsilonShift, TFJS_LOSSES, tfjsCall, type TfModule } from "./tfjs.js";
import { floorGraph } from "./variants.js";

export { LATENCY_SIZES } from "./small.js";

/** What each row times, in the table's order. */
export const LATENCY_COLUMNS = [
  { key: "evaluator", label: "ev.run (default threads)" },
  { key: "raw1", label: "raw session, 1 thread" },
  { key: "rawDefault", label: "raw session, default threads" },
  { key: "rawSmall", label: "raw session of the graph ev.run runs, 1 thread" },
  { key: "floor", label: "floor: one ReduceMax, 1 thread" },
] as const;
export type LatencyKey = (typeof LATENCY_COLUMNS)[number]["key"];

/** TensorFlow.js's times and values in a row of a loss it has (timed in rounds of their own, with ev.run). */
export interface TfjsCells {
  /** The TensorFlow.js function. */
  fn: string;
  /**
   * Median microseconds per call on its wasm and cpu backends, each timed in rounds of its own (apart from
   * the row's columns) with ev.run beside it: `evaluator` beside wasm, `evaluatorCpu` beside cpu.
   */
  us: { evaluator: number; wasm: number; evaluatorCpu: number; cpu: number };
  rounds: { wasm: number; cpu: number };
  /** The loss each gave before the timing: ev.run's, and TensorFlow.js's on each backend. */
  values: { ours: number; wasm: number; cpu: number };
  /** For logLoss: how much its epsilon moves the mean on this batch, in float64 (see tfjs.ts). */
  epsilonShift?: number;
}

export interface LatencyRow {
  loss: string;
  N: number;
  C: number;
  /** Median microseconds per call, by column. */
  us: Record<LatencyKey, number>;
  rounds: number;
  tfjs?: TfjsCells;
}

export interface LatencyResult {
  machine: string;
  date: string;
  quick: boolean;
  rows: LatencyRow[];
}

/** TensorFlow.js in Node with its wasm backend (its .wasm files read from node_modules) and its cpu backend. */
export async function loadTfjsNode(): Promise<{ tf: TfModule; line: string }> {
  const tf = (await import("@tensorflow/tfjs")) as TfModule;
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // prod mode: no debug checks, and no "install tfjs-node" banner
  tf.enableProdMode();
  const dist = dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"));
  wasm.setWasmPaths(`${dist}/`);
  if (!(await tf.setBackend("wasm"))) throw new Error("bench: TensorFlow.js's wasm backend did not initialize");
  const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) ? "SIMD" : "no SIMD";
  const threads = wasm.getThreadsCount();
  if (!(await tf.setBackend("cpu"))) throw new Error("bench: TensorFlow.js's cpu backend did not initialize");
  return { tf, line: `TensorFlow.js ${tf.version.tfjs} (wasm ${simd}, ${threads} thread${threads === 1 ? "" : "s"}; cpu), prod mode` };
}

/** The machine a latency run ran on, in one line. */
export function latencyMachine(tfjs?: string): string {
  const cpu = (cpus()[0]?.model ?? "unknown CPU").trim();
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}/${process.arch}; Node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? "?"} (cpu), spinning off${tfjs ? `; ${tfjs}` : ""}`;
}

/** Time every loss at every size; `rounds` calls of each variant per size, interleaved. */
export async function runLatency(o: {
  quick?: boolean;
  rounds?: number;
  tfjs?: boolean;
  log?: (line: string) => void;
}): Promise<LatencyResult> {
  const rounds = o.rounds ?? (o.quick ? 20 : LATENCY_ROUNDS);
  const sizes = o.quick ? LATENCY_SIZES.slice(0, 2) : LATENCY_SIZES;
  const warmupMs = o.quick ? 0 : LATENCY_WARMUP_MS;
  const tfjs = o.tfjs === false ? undefined : await loadTfjsNode();
  const rows: LatencyRow[] = [];
  const floorModel = floorGraph(2);
  const floor = await ort.InferenceSession.create(floorModel, sessionOptionsFor("cpu", 1, false));
  try {
    for (const loss of LOSS_NAMES) {
      const g = buildLoss(loss, loss.endsWith("focal_loss") ? FOCAL : {});
      const raw1 = await ort.InferenceSession.create(g.model, sessionOptionsFor("cpu", 1, false));
      const rawDefault = await ort.InferenceSession.create(g.model, sessionOptionsFor("cpu", undefined, false));
      const ev: Evaluator = await createEvaluator(g);
      // the graph the evaluator runs a small batch on (without row chunks and blocked sums), where the loss has one
      const small = smallBatchModel(g.name, g.options as Record<string, unknown>, {});
      const rawSmallModel = small ? await ort.InferenceSession.create(small, sessionOptionsFor("cpu", 1, false)) : undefined;
      try {
        for (const [N, C] of sizes) {
          const feeds = feedsOf(loss, N, C);
          const ortFeeds = {
            input: new ort.Tensor(feeds.input.dtype, feeds.input.data as Float32Array, feeds.input.dims),
            target: new ort.Tensor(feeds.target.dtype, feeds.target.data as Float32Array, feeds.target.dims),
          };
          const floorFeeds = { input: ortFeeds.input };
          const calls: TimedCall[] = [
            { key: "evaluator", run: () => ev.run(feeds) },
            { key: "raw1", run: () => raw1.run(ortFeeds) },
            { key: "rawDefault", run: () => rawDefault.run(ortFeeds) },
            {
              key: "rawSmall",
              run: () =>
                (rawSmallModel && feeds.input.data.length + feeds.target.data.length <= SMALL_BATCH_ELEMENTS ? rawSmallModel : raw1).run(
                  ortFeeds,
                ),
            },
            { key: "floor", run: () => floor.run(floorFeeds) },
          ];
          const t = await timeInterleaved(calls, rounds, { warmupMs });
          const us = Object.fromEntries(LATENCY_COLUMNS.map((c) => [c.key, t.us[c.key]])) as Record<LatencyKey, number>;
          let cells: TfjsCells | undefined;
          if (tfjs && TFJS_LOSSES[loss]) {
            const { tf } = tfjs;
            const call = tfjsCall(tf, loss, feeds);
            const ours = Number((await ev.run(feeds))[ev.outputs[0].name].data[0]);
            await tf.setBackend("wasm");
            const wasm = call();
            await tf.setBackend("cpu");
            const cpu = call();
            // the same number before the timing, or no timing
            checkTfjs(`${TFJS_LOSSES[loss]} on cpu, ${loss} ${N} x ${C}`, tf, loss, feeds, ours, cpu);
            await tf.setBackend("wasm");
            checkTfjs(`${TFJS_LOSSES[loss]} on wasm, ${loss} ${N} x ${C}`, tf, loss, feeds, ours, wasm);
            // rounds of their own, with ev.run again beside each backend, one backend at a time: in the
            // table's rounds the cpu backend's garbage (megabytes a call at 1024 x 1000, collected by V8's
            // threads on the cores onnxruntime uses) slowed the other columns, and beside the wasm backend
            // it would slow both; the backend switch (under a microsecond) is outside the timing
            const beside = async (b: "wasm" | "cpu") =>
              timeInterleaved(
                [
                  { key: "evaluator", run: () => ev.run(feeds) },
                  { key: b, before: () => tf.setBackend(b), run: call },
                ],
                rounds,
                { warmupMs },
              );
            const tw = await beside("wasm");
            const tc = await beside("cpu");
            cells = {
              fn: TFJS_LOSSES[loss],
              us: { evaluator: tw.us.evaluator, wasm: tw.us.wasm, evaluatorCpu: tc.us.evaluator, cpu: tc.us.cpu },
              rounds: { wasm: tw.rounds, cpu: tc.rounds },
              values: { ours, wasm, cpu },
              ...(loss === "binary_cross_entropy" ? { epsilonShift: logLossEpsilonShift(feeds) } : {}),
            };
          }
          rows.push({ loss, N, C, us, rounds: t.rounds, ...(cells ? { tfjs: cells } : {}) });
          o.log?.(
            `latency ${loss} ${N} x ${C}: ${Object.entries(t.us)
              .map(([k, v]) => `${k} ${v.toFixed(1)} us`)
              .join(
                ", ",
              )} (${t.rounds} rounds)${cells ? `; TensorFlow.js: ev.run ${cells.us.evaluator.toFixed(1)} us beside wasm ${cells.us.wasm.toFixed(1)} us (${cells.rounds.wasm} rounds), ev.run ${cells.us.evaluatorCpu.toFixed(1)} us beside cpu ${cells.us.cpu.toFixed(1)} us (${cells.rounds.cpu} rounds)` : ""}`,
          );
        }
      } finally {
        await ev.release();
        await raw1.release();
        await rawDefault.release();
        await rawSmallModel?.release();
      }
    }
  } finally {
    await floor.release();
  }
  return { machine: latencyMachine(tfjs?.line), date: new Date().toISOString().slice(0, 10), quick: o.quick ?? false, rows };
}

export const fmtUs = (us: number): string => (us >= 100 ? us.toFixed(0) : us.toFixed(1));

/** The latency table in Markdown, with the targets' ratios: ev.run over the floor and over the best raw session. */
export function latencyTable(r: LatencyResult): string {
  const head = `| loss | N x C | ${LATENCY_COLUMNS.map((c) => `${c.label} (us)`).join(" | ")} | ev.run / floor | ev.run / best raw |`;
  const rule = `|${"---|".repeat(LATENCY_COLUMNS.length + 4)}`;
  const lines = r.rows.map((row) => {
    const best = bestRaw(row);
    return `| ${row.loss} | ${row.N} x ${row.C} | ${LATENCY_COLUMNS.map((c) => fmtUs(row.us[c.key])).join(" | ")} | ${(row.us.evaluator / row.us.floor).toFixed(2)}x | ${(row.us.evaluator / best).toFixed(2)}x |`;
  });
  return [head, rule, ...lines].join("\n");
}

/** A relative difference, as the tables print it. */
export const fmtRel = (a: number, b: number): string => (Math.abs(a - b) / Math.abs(a)).toExponential(1);

/**
 * TensorFlow.js against ev.run, for the rows that have it: each backend's median and ev.run's in their own
 * rounds (so these ev.run columns can differ from {@link latencyTable}'s, which is also given), the ratios (over 1: TensorFlow.js is slower) and how far its values were from ev.run's.
 */
export function tfjsLatencyTable(r: LatencyResult): string {
  const head =
    "| loss | TensorFlow.js | N x C | tfjs wasm (us) | ev.run beside it (us) | tfjs wasm / ev.run | tfjs cpu (us) | ev.run beside it (us) | tfjs cpu / ev.run | ev.run in the table above (us) | value: rel. diff. wasm, cpu |";
  const rule = `|${"---|".repeat(11)}`;
  const lines = r.rows
    .filter((row) => row.tfjs)
    .map((row) => {
      const t = row.tfjs!;
      return `| ${row.loss} | ${t.fn} | ${row.N} x ${row.C} | ${fmtUs(t.us.wasm)} | ${fmtUs(t.us.evaluator)} | ${(t.us.wasm / t.us.evaluator).toFixed(2)}x | ${fmtUs(t.us.cpu)} | ${fmtUs(t.us.evaluatorCpu)} | ${(t.us.cpu / t.us.evaluatorCpu).toFixed(2)}x | ${fmtUs(row.us.evaluator)} | ${fmtRel(t.values.ours, t.values.wasm)}, ${fmtRel(t.values.ours, t.values.cpu)} |`;
    });
  return [head, rule, ...lines].join("\n");
}

/** Where TensorFlow.js is faster than ev.run, one line a row (or one line saying nowhere). */
export function tfjsWins(r: LatencyResult): string[] {
  const lines: string[] = [];
  for (const row of r.rows) {
    if (!row.tfjs) continue;
    for (const b of ["wasm", "cpu"] as const) {
      const ratio = row.tfjs.us[b] / (b === "wasm" ? row.tfjs.us.evaluator : row.tfjs.us.evaluatorCpu);
      if (ratio < 1) lines.push(`- ${row.tfjs.fn} on ${b}, ${row.N} x ${row.C}: ${ratio.toFixed(2)}x ev.run's time (${row.loss})`);
    }
  }
  if (lines.length === 0 && r.rows.some((row) => row.tfjs)) lines.push("- nowhere: ev.run is faster in every row");
  return lines;
}

/** The fastest raw session of a row: the model as written (1 or default threads) or the graph ev.run runs (1 thread). */
function bestRaw(row: LatencyRow): number {
  return Math.min(row.us.raw1, row.us.rawDefault, row.us.rawSmall ?? Number.POSITIVE_INFINITY);
}

/** The issue's small-batch targets against a latency run: ev.run within 1.5x of the floor at 64 x 10, within 1.2x of the best raw session everywhere. */
export function latencyTargets(r: LatencyResult): string[] {
  const lines: string[] = [];
  for (const row of r.rows) {
    const best = bestRaw(row);
    const vsRaw = row.us.evaluator / best;
    if (row.N === 64 && row.C === 10) {
      const vsFloor = row.us.evaluator / row.us.floor;
      lines.push(`- ${row.loss} 64 x 10: ev.run ${vsFloor.toFixed(2)}x the floor (target 1.5x): ${vsFloor <= 1.5 ? "met" : "missed"}`);
    }
    if (vsRaw > 1.2)
      lines.push(`- ${row.loss} ${row.N} x ${row.C}: ev.run ${vsRaw.toFixed(2)}x the best raw session (target 1.2x): missed`);
  }
  const within = r.rows.filter((row) => row.us.evaluator / bestRaw(row) <= 1.2).length;
  lines.push(`- ev.run within 1.2x of the best raw session: ${within} of ${r.rows.length} rows`);
  return lines;
}
