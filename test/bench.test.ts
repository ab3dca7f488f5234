/**
 * The benchmark (bench/src, run by `npm run bench`) on tiny shapes (--quick): every workload, loss and
 * variant runs and is reported, and its command line parses the flags and writes where it says. No
 * timing is asserted here: speed is measured by `npm run bench`, not by unit tests.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { DEFAULT_OUT, runBenchCli } from "../bench/src/program.js";
import { benchRows, machineLine, markdownTable, targetChecks } from "../bench/src/report.js";
import { runBench, type BenchResult } from "../bench/src/run.js";
import { naiveSoftmaxLoss, oneNodeLoss } from "../bench/src/variants.js";
import { MLP_QUICK, MODEL_PROCESSES, type ModelsResult, measureModel, modelsTable, modelsTargets, runModels } from "../bench/src/models.js";
import {
  LATENCY_COLUMNS,
  LATENCY_SIZES,
  type LatencyResult,
  latencyTable,
  latencyTargets,
  runLatency,
  tfjsLatencyTable,
  tfjsWins,
} from "../bench/src/latency.js";
import { type BrowserLatencyResult, browserTable, browserTfjsWins, CHROMIUM, runBrowserLatency } from "../bench/src/browser.js";
import { BROWSER_COLUMNS } from "../bench/src/page_types.js";
import { readmeBlocks, withBlocks } from "../bench/src/readme.js";
import { TFJS_LOSSES, TFJS_MEAN_TOLERANCE } from "../bench/src/tfjs.js";
import { LOSS_NAMES } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { exactly, ROOT } from "./helpers.js";

async function bench(cwd: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runBenchCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd });
  return { code, out, err };
}

describe("bench --quick", () => {
  test("times every variant of every workload and loss, and reports them", async () => {
    const r = await runBench({ quick: true, torch: false, web: true, budgetMs: 50 });
    expect(r.quick).toBe(true);
    expect(r.groups.map((g) => `${g.workload}/${g.loss}`)).toHaveLength(18);
    for (const g of r.groups) {
      const keys = g.variants.map((v) => v.key);
      expect(keys).toEqual(expect.arrayContaining(["ours", "ours-f32", "floor", "ort-web"]));
      for (const v of g.variants) expect(v.ms === null || v.ms > 0).toBe(true);
      expect(g.reductionAB!.rounds).toBeGreaterThanOrEqual(5);
    }
    const ce = r.groups.find((g) => g.workload === "classification" && g.loss === "cross_entropy")!;
    expect(ce.variants.map((v) => v.key)).toEqual(expect.arrayContaining(["one-node", "naive", "tfjs-wasm", "tfjs-cpu"]));
    // TensorFlow.js's peer rows: the losses it has, on the rank-2 workloads (its classes are the last axis)
    for (const g of r.groups) {
      const has = g.variants.filter((v) => v.key.startsWith("tfjs-")).map((v) => v.key);
      const rank2 = !["segmentation"].includes(g.workload);
      expect(has).toEqual(TFJS_LOSSES[g.loss] && rank2 ? ["tfjs-wasm", "tfjs-cpu"] : []);
    }
    expect(r.tfjs).toMatch(/^TensorFlow\.js 4\.22\.0 \(wasm SIMD, 1 thread; cpu\), prod mode$/);
    expect(benchRows(r).length).toBeGreaterThan(18 * 4);
    expect(markdownTable(r)).toMatch(/^\| workload \| loss \| graph or peer \| median ms \| vs this project \|/);
    expect(machineLine(r)).toMatch(
      /cores, \d+ GiB, .*onnxruntime-node 1\.30\.0 \(cpu\) with \d+ intra-op threads and spinning off; onnxruntime-web wasm with \d+ threads?; no PyTorch/,
    );
    expect(r.ep).toBe("cpu");
    expect(r.dtype).toBe("float32");
    expect(targetChecks(r).join("\n")).toContain("classification cross_entropy vs PyTorch eager: not measured");
    for (const g of r.groups.filter((x) => x.loss === "softmax_focal_loss")) expect(g.focalAB!.rounds).toBeGreaterThanOrEqual(5);
    expect(targetChecks(r).join("\n")).toMatch(/classification: softmax_focal_loss vs cross_entropy \(paired, \d+ rounds\): [\d.]+x/);
    const sf = r.groups.find((g) => g.workload === "detection" && g.loss === "sigmoid_focal_loss")!;
    expect(sf.stability!.scale).toBe(100);
    expect(Number.isFinite(Number(sf.stability!.values[0].value))).toBe(true); // this project's graph at |x| up to 400
  }, 120000);

  test("the comparison graphs compute the same cross-entropy as the project's", async () => {
    const x = new Float32Array([1, 2, 3, 0.5, -1, 2]);
    const t = new BigInt64Array([2n, 0n]);
    const values = [];
    for (const model of [oneNodeLoss("cross_entropy", 2), naiveSoftmaxLoss(2, false)]) {
      const ev = await createEvaluator(model);
      values.push(Number((await ev.run({ input: { data: x, dims: [2, 3] }, target: { data: t, dims: [2] } }))[ev.outputs[0].name].data[0]));
      await ev.release();
    }
    expect(values[0]).toBeCloseTo(values[1], 6);
    expect(values[0]).toBeCloseTo(
      (-(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3))) - (0.5 - Math.log(Math.exp(0.5) + Math.exp(-1) + Math.exp(2)))) / 2,
      6,
    );
  });
});

describe("bench --dtype float16", () => {
  test("times this project's float16 graphs on float16 data and skips the float32-only rows with a note", async () => {
    const r = await runBench({
      quick: true,
      torch: false,
      web: true,
      budgetMs: 30,
      dtype: "float16",
      only: ["classification", "detection"],
    });
    expect(r.dtype).toBe("float16");
    expect(machineLine(r)).toContain("; inputs float16;");
    for (const g of r.groups) {
      const byKey = new Map(g.variants.map((v) => [v.key, v]));
      for (const key of ["ours", "ours-f32", "ours-grad", "floor"]) expect(byKey.get(key)!.ms).toBeGreaterThan(0);
      expect(byKey.get("ort-web")).toMatchObject({ ms: null, note: "float32 only: skipped with --dtype float16" });
      if (TFJS_LOSSES[g.loss])
        expect(byKey.get("tfjs-wasm")).toMatchObject({ ms: null, note: "float32 only: skipped with --dtype float16" });
      expect(g.stability).toBeUndefined();
    }
    const ce = r.groups.find((g) => g.loss === "cross_entropy")!;
    expect(ce.variants.find((v) => v.key === "one-node")).toMatchObject({ ms: null, note: "float32 only: skipped with --dtype float16" });
  }, 120000);
});

describe("bench/README.md", () => {
  test("its table of the latest run is the tracked bench/results.json, and its machine line that run's", () => {
    const r = JSON.parse(readFileSync(join(ROOT, "bench", "results.json"), "utf8")) as BenchResult;
    const doc = readFileSync(join(ROOT, "bench", "README.md"), "utf8");
    expect(doc).toContain(`\n${markdownTable(r)}\n`);
    expect(doc).toContain(`Machine: ${machineLine(r)}.`);
  });
});

describe("npm run bench -- [flags]", () => {
  test("--help lists every flag; the default --out is gitignored, not the tracked bench/results.json", async () => {
    const r = await bench(ROOT, "--help");
    expect(r.code).toBe(0);
    for (const flag of [
      "--quick",
      "--only",
      "--threads",
      "--budget",
      "--ep",
      "--dtype",
      "--no-torch",
      "--no-web",
      "--markdown",
      "--out",
      "--latency",
      "--models",
      "--runs",
      "--browser",
      "--no-tfjs",
      "--readme",
    ])
      expect(r.out).toContain(flag);
    expect(r.out).toMatch(/^Usage: npm run bench -- \[options\]/);
    expect(DEFAULT_OUT).toBe("bench/tmp/results.json");
    expect(r.out.replace(/\s+/g, " ")).toContain(`default ${DEFAULT_OUT}`);
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n")).toContain("bench/tmp/");
  });

  test("bad flags exit 2 with one line", async () => {
    const only = await bench(ROOT, "--only", "nope");
    expect(only).toMatchObject({
      code: 2,
      err: 'bench: --only: unknown workload "nope"; workloads are classification, segmentation, detection, large-c, large-n, large-n-sigmoid\n',
    });
    const threads = await bench(ROOT, "--threads", "0");
    expect(threads).toMatchObject({ code: 2, err: "bench: --threads: expected an integer >= 1, received 0\n" });
    expect((await bench(ROOT, "--frobnicate")).err).toBe("bench: unknown option '--frobnicate'\n");
    expect(await bench(ROOT, "--ep", "tpu")).toMatchObject({ code: 2, err: 'bench: --ep: expected cpu | cuda | dml, received "tpu"\n' });
    const cuda = await bench(ROOT, "--ep", "cuda", "--quick");
    if (cuda.code !== 0)
      expect(cuda).toMatchObject({ code: 2, err: expect.stringMatching(/^bench: --ep cuda: not available here \(.+\)\n$/) });
    expect(await bench(ROOT, "--dtype", "bfloat16")).toMatchObject({
      code: 2,
      err: 'bench: --dtype: expected float32 | float16, received "bfloat16"\n',
    });
  });

  test("--quick writes bench/tmp/results.json under the working directory by default, --out elsewhere", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "onnx-losses-bench-"));
    const r = await bench(cwd, "--quick", "--no-torch", "--no-web", "--only", "classification", "--budget", "20");
    expect(r.code).toBe(0);
    expect(r.out).toContain("this project's graph (onnxruntime-node CPU)");
    expect(r.out.trimEnd().endsWith(`wrote ${DEFAULT_OUT}`)).toBe(true);
    const written = JSON.parse(readFileSync(join(cwd, DEFAULT_OUT), "utf8")) as BenchResult;
    expect(written.quick).toBe(true);
    expect(written.groups.map((g) => g.loss)).toEqual(["cross_entropy", "nll_loss", "softmax_focal_loss"]);
    expect(existsSync(join(cwd, "bench", "results.json"))).toBe(false);
    const md = await bench(
      cwd,
      "--quick",
      "--no-torch",
      "--no-web",
      "--only",
      "detection",
      "--budget",
      "20",
      "--markdown",
      "--out",
      "elsewhere/r.json",
    );
    expect(md.code).toBe(0);
    expect(md.out).toMatch(/^\| workload \| loss \| graph or peer \| median ms \| vs this project \|/);
    expect(JSON.parse(readFileSync(join(cwd, "elsewhere", "r.json"), "utf8")).groups).toHaveLength(3);
  }, 60000);
});

describe("bench --latency", () => {
  test("times ev.run, raw sessions and the floor for every loss at the small sizes, and reports the targets", async () => {
    const r = await runLatency({ quick: true, rounds: 3 });
    expect(r.quick).toBe(true);
    expect(r.rows.map((row) => `${row.loss} ${row.N}x${row.C}`)).toEqual(
      LOSS_NAMES.flatMap((loss) => LATENCY_SIZES.slice(0, 2).map(([N, C]) => `${loss} ${N}x${C}`)),
    );
    for (const row of r.rows) for (const c of LATENCY_COLUMNS) expect(row.us[c.key]).toBeGreaterThan(0);
    const table = latencyTable(r).split("\n");
    expect(table[0]).toBe(
      "| loss | N x C | ev.run (default threads) (us) | raw session, 1 thread (us) | raw session, default threads (us) | raw session of the graph ev.run runs, 1 thread (us) | floor: one ReduceMax, 1 thread (us) | ev.run / floor | ev.run / best raw |",
    );
    expect(table).toHaveLength(2 + r.rows.length);
    const targets = latencyTargets(r);
    expect(targets.filter((l) => / 64 x 10: ev\.run [\d.]+x the floor \(target 1\.5x\): (met|missed)$/.test(l))).toHaveLength(
      LOSS_NAMES.length,
    );
    expect(targets.at(-1)).toMatch(new RegExp(`^- ev\\.run within 1\\.2x of the best raw session: \\d+ of ${r.rows.length} rows$`));
    // TensorFlow.js in the same rounds, for the three losses it has, its value checked first
    expect(r.machine).toMatch(/; TensorFlow\.js 4\.22\.0 \(wasm SIMD, \d+ threads?; cpu\), prod mode$/);
    const withTfjs = r.rows.filter((row) => row.tfjs);
    expect([...new Set(withTfjs.map((row) => row.loss))].sort()).toEqual(Object.keys(TFJS_LOSSES).sort());
    for (const row of withTfjs) {
      const t = row.tfjs!;
      expect(t.fn).toBe(TFJS_LOSSES[row.loss]);
      expect(t.us.evaluator).toBeGreaterThan(0);
      expect(t.us.evaluatorCpu).toBeGreaterThan(0);
      expect(t.rounds.wasm).toBeGreaterThan(0);
      expect(t.rounds.cpu).toBeGreaterThan(0);
      expect(t.us.wasm).toBeGreaterThan(0);
      expect(t.us.cpu).toBeGreaterThan(0);
      for (const v of [t.values.wasm, t.values.cpu])
        expect(Math.abs(v - t.values.ours) / t.values.ours).toBeLessThanOrEqual(TFJS_MEAN_TOLERANCE);
      expect(t.epsilonShift === undefined).toBe(row.loss !== "binary_cross_entropy");
    }
    const tf = tfjsLatencyTable(r).split("\n");
    expect(tf[0]).toBe(
      "| loss | TensorFlow.js | N x C | tfjs wasm (us) | ev.run beside it (us) | tfjs wasm / ev.run | tfjs cpu (us) | ev.run beside it (us) | tfjs cpu / ev.run | ev.run in the table above (us) | value: rel. diff. wasm, cpu |",
    );
    expect(tf).toHaveLength(2 + withTfjs.length);
    for (const line of tfjsWins(r))
      expect(line).toMatch(/^- (tf\.losses\.\w+ on (wasm|cpu), \d+ x \d+: [\d.]+x ev\.run's time \(\w+\)|nowhere: .*)$/);
  });

  test("--no-tfjs leaves TensorFlow.js out", async () => {
    const r = await runLatency({ quick: true, rounds: 2, tfjs: false });
    expect(r.rows.some((row) => row.tfjs)).toBe(false);
    expect(r.machine).not.toContain("TensorFlow.js");
    expect(tfjsWins(r)).toEqual([]);
  });

  test("--browser is only taken with --latency", async () => {
    expect(await bench(ROOT, "--browser")).toMatchObject({
      code: 2,
      err: "bench: --browser: only with --latency (npm run bench -- --latency --browser)\n",
    });
  });

  test("--latency takes no workload, thread, provider or dtype flag", async () => {
    expect(await bench(ROOT, "--latency", "--only", "classification")).toMatchObject({
      code: 2,
      err: "bench: --only: not taken with --latency (every loss at 1 x 2 to 1024 x 1000, on the cpu provider, float32)\n",
    });
  });
});

describe("bench/README.md's latency table", () => {
  test("is the tracked bench/latency.json, with its machine line and targets", () => {
    const r = JSON.parse(readFileSync(join(ROOT, "bench", "latency.json"), "utf8")) as LatencyResult;
    const doc = readFileSync(join(ROOT, "bench", "README.md"), "utf8");
    expect(r.quick).toBe(false);
    expect(r.rows).toHaveLength(LOSS_NAMES.length * LATENCY_SIZES.length);
    expect(doc).toContain(`\n${latencyTable(r)}\n`);
    expect(doc).toContain(`Machine: ${r.machine}; ${r.date}.`);
    expect(doc).toContain(`\n${latencyTargets(r).join("\n")}\n`);
  });
});

describe("bench --models", () => {
  test("measures the plain script, attach, eval and the API's eval of a tiny inline and external-data MLP, and reports the targets", async () => {
    const r = await runModels({ quick: true, runs: 1 });
    expect(r).toMatchObject({ quick: true, runs: 1 });
    expect(r.models.map((c) => [c.key, c.external])).toEqual([
      ["quick-inline", false],
      ["quick-external", true],
    ]);
    for (const c of r.models) {
      for (const { key } of MODEL_PROCESSES) {
        expect(c.processes[key].s).toBeGreaterThan(0);
        expect(c.processes[key].mb).toBeGreaterThan(10);
        expect(c.processes[key].runs).toHaveLength(1);
      }
      expect(c.dataBytes > 0).toBe(c.external);
      expect(Math.abs(c.loss.eval - c.loss.want)).toBeLessThanOrEqual(1e-5 * c.loss.want);
    }
    const table = modelsTable(r).split("\n");
    expect(table[0]).toBe("| model | process | wall s | peak RSS MB | wall vs plain | RSS vs plain |");
    expect(table).toHaveLength(2 + 2 * MODEL_PROCESSES.length);
    const targets = modelsTargets(r);
    expect(targets.filter((l) => / wall time \/ plain's: [\d.]+x \(target 3x\): (met|MISSED)$/.test(l))).toHaveLength(6);
    expect(targets.filter((l) => /: attach peak RSS, reading no weights: \d+ MB \(target 150 MB\): (met|MISSED)$/.test(l))).toHaveLength(1);
  }, 120000);

  test("--models takes no workload, thread, provider or dtype flag, and --runs only with --models", async () => {
    expect(await bench(ROOT, "--models", "--only", "classification")).toMatchObject({
      code: 2,
      err: "bench: --only: not taken with --models (a 97 MiB and a 1 GB MLP, cross_entropy, on the cpu provider, float32)\n",
    });
    expect(await bench(ROOT, "--models", "--runs", "0")).toMatchObject({
      code: 2,
      err: "bench: --runs: expected an integer >= 1, received 0\n",
    });
    expect(await bench(ROOT, "--runs", "2")).toMatchObject({ code: 2, err: "bench: --runs: taken with --models only\n" });

    // it runs the built CLI: without a build it says so
    await expect(measureModel({ key: "x", layers: MLP_QUICK, external: false, cli: join(ROOT, "dist", "nope.js") })).rejects.toThrow(
      exactly("--models runs the built CLI and library: dist/nope.js is missing (npm run build first)"),
    );
  });
});

describe("bench/README.md's model-size table", () => {
  test("is the tracked bench/models.json, with its machine line and targets", () => {
    const r = JSON.parse(readFileSync(join(ROOT, "bench", "models.json"), "utf8")) as ModelsResult;
    const doc = readFileSync(join(ROOT, "bench", "README.md"), "utf8");
    expect(r.quick).toBe(false);
    expect(r.models.map((c) => c.key)).toEqual(["97mb-inline", "1gb-external"]);
    expect(doc).toContain(`\n${modelsTable(r)}\n`);
    expect(doc).toContain(`Machine: ${r.machine}; ${r.date}; the fastest of ${r.runs} runs of each process.`);
    expect(doc).toContain(`\n${modelsTargets(r).join("\n")}\n`);
  });
});

describe("bench --latency --browser", () => {
  // Debian's chromium, as the page tests use it; CI (ONNX_LOSSES_REQUIRE_BROWSER=1) fails rather than skips without it
  const here = existsSync(CHROMIUM) || process.env.ONNX_LOSSES_REQUIRE_BROWSER === "1";
  (here ? test : test.skip)(
    "builds the page, and times ev.run, a raw session, the floor and TensorFlow.js in headless Chromium",
    async () => {
      const r = await runBrowserLatency({ quick: true, rounds: 3 });
      expect(r.quick).toBe(true);
      expect(r.rows.map((row) => `${row.loss} ${row.N}x${row.C}`)).toEqual(
        LOSS_NAMES.flatMap((loss) => LATENCY_SIZES.slice(0, 2).map(([N, C]) => `${loss} ${N}x${C}`)),
      );
      expect(r.setup.crossOriginIsolated).toBe(true);
      expect(r.machine).toMatch(
        /; Chromium [\d.]+ headless, no GPU, cross-origin isolated, performance\.now\(\) step [\d.]+ us; onnxruntime-web 1\.30\.0 wasm \(SIMD, threaded build, \d+ threads?\); TensorFlow\.js 4\.22\.0 wasm \(SIMD, 1 thread\), prod mode$/,
      );
      for (const row of r.rows) {
        for (const k of ["evaluator", "raw", "floor"] as const) expect(row.us[k]).toBeGreaterThan(0);
        expect(row.tfjs === undefined).toBe(!TFJS_LOSSES[row.loss]);
        if (row.tfjs) {
          expect(row.tfjs.us.wasm).toBeGreaterThan(0);
          expect(row.tfjs.us.evaluator).toBeGreaterThan(0);
          expect(Math.abs(row.tfjs.values.wasm - row.tfjs.values.ours) / row.tfjs.values.ours).toBeLessThanOrEqual(TFJS_MEAN_TOLERANCE);
        }
      }
      const table = browserTable(r).split("\n");
      expect(table[0]).toBe(
        `| loss | N x C | ${BROWSER_COLUMNS.map((c) => `${c.label} (us)`).join(" | ")} | ev.run / raw | ev.run / floor | TensorFlow.js wasm (us) | ev.run beside it (us) | tfjs wasm / ev.run | tfjs value: rel. diff. |`,
      );
      expect(table).toHaveLength(2 + r.rows.length);
      expect(browserTfjsWins(r).length).toBeGreaterThan(0);
    },
    180000,
  );
});

describe("bench/README.md's TensorFlow.js and browser tables", () => {
  test("the TensorFlow.js table is the tracked bench/latency.json's", () => {
    const r = JSON.parse(readFileSync(join(ROOT, "bench", "latency.json"), "utf8")) as LatencyResult;
    const doc = readFileSync(join(ROOT, "bench", "README.md"), "utf8");
    expect(r.rows.filter((row) => row.tfjs)).toHaveLength(Object.keys(TFJS_LOSSES).length * LATENCY_SIZES.length);
    expect(doc).toContain(`\n${tfjsLatencyTable(r)}\n`);
    expect(doc).toContain(`\n${tfjsWins(r).join("\n")}\n`);
  });

  test("the browser table is the tracked bench/latency-browser.json, with its machine and browser line", () => {
    const r = JSON.parse(readFileSync(join(ROOT, "bench", "latency-browser.json"), "utf8")) as BrowserLatencyResult;
    const doc = readFileSync(join(ROOT, "bench", "README.md"), "utf8");
    expect(r.quick).toBe(false);
    expect(r.rows).toHaveLength(LOSS_NAMES.length * LATENCY_SIZES.length);
    expect(doc).toContain(`\n${browserTable(r)}\n`);
    expect(doc).toContain(`Machine: ${r.machine}; ${r.date}.`);
    expect(doc).toContain(`\n${browserTfjsWins(r).join("\n")}\n`);
  });

  test("every generated block is what `npm run bench -- --readme` writes from the tracked JSON", () => {
    const latency = JSON.parse(readFileSync(join(ROOT, "bench", "latency.json"), "utf8")) as LatencyResult;
    const browser = JSON.parse(readFileSync(join(ROOT, "bench", "latency-browser.json"), "utf8")) as BrowserLatencyResult;
    const doc = readFileSync(join(ROOT, "bench", "README.md"), "utf8");
    expect(withBlocks(doc, readmeBlocks(latency, browser))).toBe(doc);
  });
});
