/**
 * The jobs both WebGPU suites run (test/webgpu/run_jobs.mjs evaluates them) and what each must give:
 * every PyTorch fixture case, as the forward graph and as the graph with input_grad, default and
 * lowered; then the comparison at the parity tolerance (1e-5, as on every provider).
 */
import { buildLoss } from "../../src/losses/index.js";
import { linearHeadStep } from "../../src/losses/linear_head.js";
import { expectedGrad, loadGradFixtures } from "../grad_fixtures.js";
import { firstMismatch, fixtureFiles, loadFixtures, num, type FixtureTensor } from "../helpers.js";

/** What run_jobs.mjs evaluates. */
export interface Job {
  id: string;
  /** base64 of the .onnx bytes */
  model: string;
  feeds: Record<string, FixtureTensor>;
}

/** What run_jobs.mjs returns for a job. */
export interface JobResult {
  id: string;
  provider?: string;
  outputs?: Record<string, { dims: number[]; data: (number | string)[] }>;
  error?: string;
}

/** The values a job's outputs must have, by output name. */
export type Expected = Record<string, { dims: number[]; data: number[] }>;

export interface JobSet {
  jobs: Job[];
  expected: Map<string, Expected>;
}

export const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");

/**
 * Every case of every fixture file but float16.json (float16 on WebGPU needs the shader-f16 feature,
 * which the software adapter lacks), for each lowering asked for, forward and with input_grad (where the file
 * has gradient fixtures: onnx_conformance.json has none). Jobs of one graph are adjacent, so that they
 * share a session.
 */
export function fixtureJobs(
  files = fixtureFiles().filter((f) => f !== "float16.json"),
  lowerings: readonly ("none" | "webgpu")[] = ["none", "webgpu"],
): JobSet {
  const jobs: Job[] = [];
  const expected = new Map<string, Expected>();
  for (const file of files) {
    const cases = loadFixtures(file);
    const grads = file === "onnx_conformance.json" ? undefined : loadGradFixtures(file.replace(/\.json$/, ""));
    for (const lowering of lowerings) {
      for (const gradient of grads ? [false, true] : [false]) {
        const group: Job[] = [];
        cases.forEach((c, k) => {
          const id = `${file} #${k} ${c.id} [${lowering === "webgpu" ? "lowered" : "default"}${gradient ? ", input_grad" : ""}]`;
          const model = buildLoss(c.loss, { ...c.options, ...(gradient ? { gradient: true } : {}) }, { lowering }).model;
          group.push({ id, model: base64(model), feeds: c.inputs });
          const want: Expected = { loss: { dims: c.expected.dims, data: c.expected.data.map(num) } };
          if (gradient && grads) want.input_grad = { dims: c.inputs.input.dims, data: expectedGrad(cases, grads, k).want };
          expected.set(id, want);
        });
        const order = new Map<string, number>();
        for (const j of group) if (!order.has(j.model)) order.set(j.model, order.size);
        jobs.push(...group.sort((a, b) => order.get(a.model)! - order.get(b.model)!));
      }
    }
  }
  return { jobs, expected };
}

/** One line per job whose outputs are not the expected ones (at 1e-5 relative, NaN matching NaN), or that failed. */
export function mismatches(set: JobSet, results: readonly JobResult[], provider: string): string[] {
  const failures: string[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    seen.add(r.id);
    const want = set.expected.get(r.id);
    if (!want) {
      failures.push(`${r.id}: not a job`);
      continue;
    }
    if (r.error !== undefined || !r.outputs) {
      failures.push(`${r.id}: ${r.error}`);
      continue;
    }
    if (r.provider !== provider) failures.push(`${r.id}: ran on ${r.provider}, not ${provider}`);
    for (const [name, w] of Object.entries(want)) {
      const got = r.outputs[name];
      if (!got) {
        failures.push(`${r.id}: no output ${name}`);
        continue;
      }
      const values = got.data.map(num);
      const i = firstMismatch(values, w.data);
      if (i >= 0 || got.dims.join() !== w.dims.join())
        failures.push(`${r.id}: ${name}[${i}] = ${values[i]}, PyTorch ${w.data[i]} (dims ${got.dims} vs ${w.dims})`);
    }
  }
  for (const id of set.expected.keys()) if (!seen.has(id)) failures.push(`${id}: no result`);
  return failures;
}

/** The node placements in onnxruntime's verbose log of one session: provider -> op (node) lines; "all" when one line says every node went to one provider. */
export function placements(log: string): Map<string, string[]> {
  const byProvider = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of log.split("\n")) {
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (all) {
      byProvider.set(all[1], [`all ${all[2]} nodes`]);
      current = undefined;
      continue;
    }
    const some = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: \d+/.exec(line);
    if (some) {
      current = [];
      byProvider.set(some[1], current);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s+(\S+ \(.*\))\s*$/.exec(line);
    if (node && current) current.push(node[1]);
    else if (!/VerifyEachNodeIsAssignedToAnEp/.test(line)) current = undefined;
  }
  return byProvider;
}

/** Every distinct lowered graph of the fixtures' options (forward and with input_grad) and the lowered step graphs, as jobs without feeds. */
export function loweredGraphJobs(): Job[] {
  const models = new Map<string, string>();
  for (const file of fixtureFiles().filter((f) => f !== "float16.json")) {
    for (const c of loadFixtures(file)) {
      for (const gradient of [false, true]) {
        const options = { ...c.options, ...(gradient ? { gradient: true } : {}) };
        models.set(`${c.loss} ${JSON.stringify(options)}`, base64(buildLoss(c.loss, options, { lowering: "webgpu" }).model));
      }
    }
  }
  for (const loss of ["cross_entropy", "softmax_focal_loss", "binary_cross_entropy_with_logits"]) {
    models.set(`linearHeadStep ${loss}`, base64(linearHeadStep(loss, {}, { lr: 0.5 }, { lowering: "webgpu" }).model));
  }
  return [...models].map(([id, model]) => ({ id, model, feeds: {} }));
}

/**
 * The jobs whose sessions placed a node off `provider`, from a log of "@@ <id>" lines, each followed by
 * that session's verbose onnxruntime log, and a last "@@ end"; a missing block is a failure too.
 */
export function placementFailures(log: string, jobs: readonly Job[], provider: string): string[] {
  const blocks = log.split(/^@@ /m).slice(1);
  if (blocks.length !== jobs.length + 1)
    return [`expected ${jobs.length} sessions and an end marker in the log, found ${blocks.length} blocks`];
  const off: string[] = [];
  for (const block of blocks.slice(0, -1)) {
    const placed = placements(block);
    if (placed.size !== 1 || !placed.has(provider))
      off.push(`${block.slice(0, block.indexOf("\n"))}: ${JSON.stringify(Object.fromEntries(placed))}`);
  }
  return off;
}
