// Runs one evaluator RUNS times in a row and reports how much the process's RSS grew, measured after a
// warm-up and after a full GC (run with --expose-gc; test/soak.test.ts spawns it). Reads the build.
// Usage: node --expose-gc test/soak/rss-child.mjs in-thread|worker RUNS
import { buildLoss, createEvaluator, seededRandom } from "../../dist/index.js";

const [mode = "in-thread", runsArg = "5000"] = process.argv.slice(2);
const runs = Number(runsArg);
const N = 256;
const C = 10;
const rand = seededRandom(7);
// fresh arrays each run, as a caller's batches would be
const feeds = () => ({
  input: { data: Float32Array.from({ length: N * C }, () => rand() * 8 - 4), dims: [N, C] },
  target: { data: BigInt64Array.from({ length: N }, () => BigInt(Math.floor(rand() * C))), dims: [N] },
});
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().rss;
};

const ev = await createEvaluator(buildLoss("cross_entropy", { reduction: "none" }), { worker: mode === "worker" });
for (let i = 0; i < 500; i++) await ev.run(feeds()); // warm-up: arenas, JIT, caches
const before = await settle();
const t0 = performance.now();
let check = 0;
for (let i = 0; i < runs; i++) check += (await ev.run(feeds())).loss.data[0];
const ms = performance.now() - t0;
const after = await settle();
await ev.release();
process.stdout.write(
  JSON.stringify({
    mode,
    runs,
    gc: typeof globalThis.gc === "function",
    growthMiB: (after - before) / 2 ** 20,
    beforeMiB: before / 2 ** 20,
    ms,
    finite: Number.isFinite(check),
  }),
);
