/**
 * onnxruntime-node's webgpu execution provider for real, on the software adapter (SwiftShader's Vulkan
 * driver, test/webgpu/env.ts): every PyTorch fixture, forward and with input_grad, default and lowered,
 * equals PyTorch at 1e-5; every node of every lowered graph is placed on the WebGPU provider (from
 * onnxruntime's verbose node-placement log); the linear-head step and a loss attached to a
 * torch.onnx.export model give on webgpu what they give on the CPU and PyTorch; `eval --ep webgpu` of
 * the real binary prints PyTorch's value and nothing else.
 *
 * The evaluation runs in child processes (test/webgpu/node_runner.mjs over the built dist/) with the
 * Vulkan variables set only there. Without an ICD file the suite is skipped, saying why, except where
 * ONNX_LOSSES_REQUIRE_WEBGPU=1 (CI): there it fails.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, expect, test } from "@jest/globals";
import { encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { FIXTURES, firstMismatch, fixtureFiles, loadFixtures, num, ROOT } from "./helpers.js";
import {
  base64,
  fixtureJobs,
  loweredGraphJobs,
  mismatches,
  placementFailures,
  type Expected,
  type Job,
  type JobResult,
  type JobSet,
} from "./webgpu/jobs.js";
import { describeIcd, nodeWebgpuSuite, swiftShaderIcd, webgpuChildEnv } from "./webgpu/env.js";

const RUNNER = join(ROOT, "test", "webgpu", "node_runner.mjs");
const dir = mkdtempSync(join(tmpdir(), "onnx-losses-webgpu-"));
let env: NodeJS.ProcessEnv;

/** Run the child runner on `jobs`; resolves with its stderr (and, in eval mode, its results). */
function runner(mode: "eval" | "placements", jobs: Job[], tag: string): Promise<{ results: JobResult[]; stderr: string }> {
  const jobsFile = join(dir, `${tag}.jobs.json`);
  const outFile = join(dir, `${tag}.out.json`);
  writeFileSync(jobsFile, JSON.stringify(jobs));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, mode, jobsFile, outFile], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`node_runner ${mode} exited ${code}: ${stderr.slice(-2000)}`));
      resolve({ results: mode === "eval" ? (JSON.parse(readFileSync(outFile, "utf8")) as JobResult[]) : [], stderr });
    });
  });
}

/** Evaluate a job set on webgpu in a few children at once (a first run compiles shaders: 0.1-0.3 s a graph on SwiftShader). */
async function evaluate(set: JobSet, tag: string): Promise<JobResult[]> {
  const shards = Math.max(1, Math.min(4, availableParallelism()));
  // split at graph boundaries so that jobs of one graph stay in one child
  const parts: Job[][] = Array.from({ length: shards }, () => []);
  const size = Math.ceil(set.jobs.length / shards);
  let k = 0;
  set.jobs.forEach((j, i) => {
    if (parts[k].length >= size && j.model !== set.jobs[i - 1].model && k < shards - 1) k++;
    parts[k].push(j);
  });
  const out = await Promise.all(parts.filter((p) => p.length).map((p, i) => runner("eval", p, `${tag}-${i}`)));
  return out.flatMap((o) => o.results);
}

nodeWebgpuSuite("onnxruntime-node, --ep webgpu on a real adapter", () => {
  beforeAll(() => {
    const { icd, why } = swiftShaderIcd();
    if (!icd) throw new Error(`WebGPU is required here (ONNX_LOSSES_REQUIRE_WEBGPU=1) but ${why}`);
    env = webgpuChildEnv(icd);
    console.log(`onnxruntime-node webgpu: ${describeIcd(icd)}`);
  });

  test("the adapter is there: a session starts on webgpu", async () => {
    const { results } = await runner(
      "eval",
      [
        {
          id: "probe",
          model: base64(buildLoss("cross_entropy").model),
          feeds: { input: { dtype: "float32", dims: [1, 2], data: [0, 0] }, target: { dtype: "int64", dims: [1], data: [0] } },
        },
      ],
      "probe",
    );
    expect(results[0].error).toBeUndefined();
    expect(results[0].provider).toBe("webgpu");
    expect(num(results[0].outputs!.loss.data[0])).toBeCloseTo(Math.log(2), 6);
  }, 60000);

  test.each(fixtureFiles().filter((f) => f !== "float16.json"))(
    "%s: every case, forward and input_grad, default and lowered, equals PyTorch",
    async (file) => {
      const set = fixtureJobs([file]);
      expect(set.jobs.length).toBeGreaterThan(40);
      expect(mismatches(set, await evaluate(set, file), "webgpu")).toEqual([]);
    },
    1200000,
  );

  test("every node of every lowered graph (each fixture's options, forward and input_grad, and the step graphs) is placed on the WebGPU provider", async () => {
    const jobs = loweredGraphJobs();
    expect(jobs.length).toBeGreaterThan(500);
    const { stderr } = await runner("placements", jobs, "placements");
    expect(placementFailures(stderr, jobs, "WebGpuExecutionProvider")).toEqual([]);
  }, 600000);

  test("the linear-head step, default and lowered: loss, W_next and b_next on webgpu equal the CPU's", async () => {
    const N = 64,
      D = 3,
      C = 4;
    let s = 7;
    const r = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const X = Array.from({ length: N * D }, r),
      W = Array.from({ length: D * C }, r),
      b = Array.from({ length: C }, r);
    const t = Array.from({ length: N }, (_, i) => (i * 7) % C);
    const feeds = {
      X: { dtype: "float32" as const, dims: [N, D], data: X },
      target: { dtype: "int64" as const, dims: [N], data: t },
      W: { dtype: "float32" as const, dims: [D, C], data: W },
      b: { dtype: "float32" as const, dims: [C], data: b },
    };
    const set: JobSet = { jobs: [], expected: new Map() };
    for (const loss of ["cross_entropy", "softmax_focal_loss", "sigmoid_focal_loss"]) {
      for (const lowering of ["none", "webgpu"] as const) {
        const step = linearHeadStep(loss, loss === "sigmoid_focal_loss" ? {} : { reduction: "sum" }, { lr: 0.5 }, { lowering });
        const id = `${loss} [${lowering}]`;
        set.jobs.push({
          id,
          model: base64(step.model),
          feeds:
            loss === "sigmoid_focal_loss"
              ? {
                  ...feeds,
                  target: { dtype: "float32", dims: [N, C], data: Array.from({ length: N * C }, (_, i) => (i % 3 === 0 ? 1 : 0)) },
                }
              : feeds,
        });
        const cpu = await createEvaluator(step);
        const f = set.jobs[set.jobs.length - 1].feeds;
        const out = await cpu.run(
          Object.fromEntries(
            Object.entries(f).map(([k, v]) => [
              k,
              { dims: v.dims, data: v.dtype === "int64" ? BigInt64Array.from(v.data, (x) => BigInt(x)) : Float32Array.from(v.data, num) },
            ]),
          ),
        );
        await cpu.release();
        const want: Expected = {};
        for (const [name, o] of Object.entries(out)) want[name] = { dims: o.dims, data: Array.from(o.data as Float32Array) };
        set.expected.set(id, want);
      }
    }
    expect(mismatches(set, await evaluate(set, "step"), "webgpu")).toEqual([]);
  }, 300000);

  test("a loss attached to torch.onnx.export models (MLP, segmenter, shared logits): loss and d loss / d logits on webgpu equal PyTorch", async () => {
    type AttachCase = {
      id: string;
      model: string;
      output: string;
      loss: string;
      options: Record<string, unknown>;
      inputs: Record<string, { dtype: "float32" | "int64"; dims: number[]; data: number[] }>;
      loss_value: { data: (number | string)[] };
      grad: { dims: number[]; data: (number | string)[] };
    };
    const cases = (JSON.parse(readFileSync(join(FIXTURES, "attach", "cases.json"), "utf8")) as { cases: AttachCase[] }).cases;
    const set: JobSet = { jobs: [], expected: new Map() };
    for (const c of cases) {
      const a = attachLoss(readFileSync(join(FIXTURES, "attach", c.model)), {
        output: c.output,
        loss: c.loss,
        options: c.options,
        gradient: true,
      });
      set.jobs.push({ id: c.id, model: base64(a.model), feeds: { x: c.inputs.x, target: c.inputs.target } });
      set.expected.set(c.id, {
        loss: { dims: [], data: c.loss_value.data.map(num) },
        [`${c.output}_grad`]: { dims: c.grad.dims, data: c.grad.data.map(num) },
      });
    }
    expect(set.jobs.length).toBeGreaterThanOrEqual(8);
    const results = await evaluate(set, "attach");
    // reduction "none" losses have the item dims; compare values, whatever their dims
    for (const r of results)
      for (const [name, w] of Object.entries(set.expected.get(r.id)!)) if (r.outputs?.[name]) w.dims = r.outputs[name].dims;
    expect(mismatches(set, results, "webgpu")).toEqual([]);
  }, 300000);

  test("the real binary: eval --ep webgpu prints PyTorch's value, and stderr stays empty", () => {
    const sample = loadFixtures("samples.json").find((s) => s.loss === "cross_entropy")!;
    const x = sample.inputs.input,
      t = sample.inputs.target;
    writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: x.dims, data: Float32Array.from(x.data, num) }));
    writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: t.dims, data: BigInt64Array.from(t.data, (v) => BigInt(v)) }));
    for (const lowering of [[], ["--lowering", "webgpu"]]) {
      const r = spawnSync(
        process.execPath,
        [
          join(ROOT, "dist", "cli", "main.js"),
          "eval",
          "cross_entropy",
          "--input",
          "input=x.npy",
          "--input",
          "target=t.npy",
          "--ep",
          "webgpu",
          "--json",
          ...lowering,
        ],
        { cwd: dir, env, encoding: "utf8" },
      );
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
      const got = (JSON.parse(r.stdout) as { outputs: { loss: { data: number[] } } }).outputs.loss.data;
      expect(firstMismatch(got, sample.expected.data.map(num))).toBe(-1);
    }
  }, 120000);
});
