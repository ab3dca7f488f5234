/**
 * Soak: one evaluator under many runs. 200 concurrent runs give exactly what 200 sequential runs give,
 * in-thread and with `worker: true`; 5000 runs in a row do not grow the process (measured in a child
 * Node process with --expose-gc, test/soak/rss-child.mjs). Reads the build, as the worker needs its
 * compiled script (`npm test` builds first).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import type { Evaluator, TensorInput } from "../src/index.js";
import { ROOT } from "./helpers.js";

// the build, typed as the sources (a path TypeScript does not follow, so typechecking needs no build)
const { buildLoss, createEvaluator, seededRandom } = (await import(join(ROOT, "dist", "index.js"))) as typeof import("../src/index.js");

const N = 64;
const C = 10;

/** Batch i: its own logits and targets, so a result handed to the wrong run would show. */
function batch(i: number): Record<string, TensorInput> {
  const rand = seededRandom(1000 + i);
  return {
    input: { data: Float32Array.from({ length: N * C }, () => rand() * 10 - 5), dims: [N, C] },
    target: { data: BigInt64Array.from({ length: N }, () => BigInt(Math.floor(rand() * C))), dims: [N] },
  };
}

async function values(ev: Evaluator, batches: Record<string, TensorInput>[], concurrent: boolean): Promise<number[][]> {
  const out = concurrent ? await Promise.all(batches.map((b) => ev.run(b))) : [];
  if (!concurrent) for (const b of batches) out.push(await ev.run(b));
  return out.map((r) => Array.from(r.loss.data as Float32Array));
}

describe("200 concurrent runs on one evaluator", () => {
  const batches = Array.from({ length: 200 }, (_, i) => batch(i));

  test.each<[string, boolean]>([
    ["in-thread", false],
    ["worker: true", true],
  ])("%s: exactly the values of 200 sequential runs", async (_what, worker) => {
    const ev = await createEvaluator(buildLoss("cross_entropy", { reduction: "none" }), { worker });
    try {
      const sequential = await values(ev, batches, false);
      const concurrent = await values(ev, batches, true);
      expect(concurrent).toEqual(sequential);
      expect(new Set(sequential.map((v) => v.join())).size).toBe(200); // 200 different answers
      // and the worker's answers are the in-thread evaluator's, to the bit
      if (worker) {
        const inThread = await createEvaluator(buildLoss("cross_entropy", { reduction: "none" }));
        expect(await values(inThread, batches, true)).toEqual(sequential);
        await inThread.release();
      }
    } finally {
      await ev.release();
    }
  });
});

describe("5000 runs in a row on one evaluator", () => {
  /** RSS growth over 5000 runs after a 500-run warm-up, each measured after a full GC, in a child process. */
  function rssGrowth(mode: "in-thread" | "worker"): { growthMiB: number; gc: boolean; runs: number; ms: number; finite: boolean } {
    const r = spawnSync(process.execPath, ["--expose-gc", join(ROOT, "test", "soak", "rss-child.mjs"), mode, "5000"], {
      encoding: "utf8",
      timeout: 50000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout);
  }

  test("in-thread: RSS grows by under 20 MB", () => {
    const res = rssGrowth("in-thread");
    expect(res).toMatchObject({ runs: 5000, gc: true, finite: true });
    expect(res.growthMiB * 2 ** 20).toBeLessThan(20e6);
  });

  test("worker: true: RSS (both threads) grows by under 20 MB too", () => {
    const res = rssGrowth("worker");
    expect(res).toMatchObject({ runs: 5000, gc: true, finite: true });
    expect(res.growthMiB * 2 ** 20).toBeLessThan(20e6);
  });
});
