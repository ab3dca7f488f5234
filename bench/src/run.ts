/**
 * The benchmark (`npm run bench`; a dev tool, not part of the package): this project's graphs against
 * the alternatives, timed as medians of interleaved runs in one process (onnxruntime-node sessions with the same thread settings, spinning off), plus
 * PyTorch eager and torch.onnx.export graphs through scripts/bench_torch.py where python3-torch is
 * installed. Timings are session.run (or the PyTorch call) alone: no input validation, no copies.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { encodeNpy } from "../../src/io/npy.js";
import { buildLoss } from "../../src/losses/index.js";
import { toFloat16Bits } from "../../src/onnx/float16.js";
import { nodeProviderStatuses } from "../../src/runtime/node.js";
import { sessionOptionsFor, type ExecutionProvider } from "../../src/runtime/providers.js";
import type { TensorData } from "../../src/tensor/tensor.js";
import { loadTfjsNode } from "./latency.js";
import { checkTfjs, TFJS_LOSSES, tfjsCall, type TfModule } from "./tfjs.js";
import { floorGraph, naiveSigmoidLoss, naiveSoftmaxLoss, oneNodeLoss } from "./variants.js";
import { QUICK_WORKLOADS, WORKLOADS, workloadData, type Workload } from "./workloads.js";
import { repoRoot } from "./root.js";

const ROOT = repoRoot();

/** Options of a benchmark run. */
export interface BenchOptions {
  /** Tiny shapes: checks the machinery, measures nothing. */
  quick?: boolean;
  /** Workload names to run (default all). */
  only?: string[];
  /** Intra-op threads for onnxruntime and PyTorch (default: every logical CPU, os.cpus().length). */
  threads?: number;
  /** Time budget per (workload, loss) group in ms, which sets the number of rounds (default 4000). */
  budgetMs?: number;
  /** Run the PyTorch columns (default: when python3 can import torch). */
  torch?: boolean;
  /** Run onnxruntime-web (wasm) in Node (default true). */
  web?: boolean;
  /** Run TensorFlow.js (wasm and cpu backends, in Node) for the losses it has, on the rank-2 workloads (default true). */
  tfjs?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Scratch folder for .npy inputs and exported graphs (default bench/tmp). */
  tmpDir?: string;
  /** onnxruntime-node execution provider for every session (default cpu); PyTorch runs on cuda with cuda. */
  ep?: BenchProvider;
  /** Float type of the inputs and of this project's graphs (default float32); see {@link BENCH_DTYPES}. */
  dtype?: BenchDType;
}

/** The providers the benchmark can time onnxruntime-node sessions on. */
export const BENCH_PROVIDERS = ["cpu", "cuda", "dml"] as const;
export type BenchProvider = (typeof BENCH_PROVIDERS)[number];
/**
 * Input float types: float32, or float16 (this project's graphs built with dtype float16 and fed float16
 * data; the float32-only peers, the one-node, naive, exported and onnxruntime-web rows, are skipped with a
 * note; PyTorch runs in half precision, which its CPU kernels mostly lack: those rows say so).
 */
export const BENCH_DTYPES = ["float32", "float16"] as const;
export type BenchDType = (typeof BENCH_DTYPES)[number];

/** One timed variant of a (workload, loss) group. */
export interface VariantResult {
  key: string;
  label: string;
  ms: number | null;
  runs: number;
  /** Why there is no time (skipped, failed to export, failed to run). */
  note?: string;
}

export interface BenchResult {
  machine: { cpu: string; cores: number; memoryGiB: number; platform: string; node: string; onnxruntime: string; torch: string | null };
  threads: number;
  /** The onnxruntime-node provider every session ran on. */
  ep: BenchProvider;
  /** The inputs' float type. */
  dtype: BenchDType;
  /** onnxruntime-web's wasm threads (the rows "on onnxruntime-web"). */
  webThreads: number;
  /** TensorFlow.js and its backends, where its rows ran (bench/src/tfjs.ts). */
  tfjs?: string;
  spinning: false;
  date: string;
  quick: boolean;
  groups: {
    workload: string;
    title: string;
    loss: string;
    variants: VariantResult[];
    /** Paired A/B of this project's graph with a float64 vs a float32 final reduction (medians, ms). */
    reductionAB?: { float64: number; float32: number; rounds: number };
    /** For softmax_focal_loss: paired A/B of its graph against cross_entropy's on the same batch (medians, ms). */
    focalAB?: { focal: number; crossEntropy: number; rounds: number };
    /** The loss on the same logits times STABILITY_SCALE (|x| up to 400), as text ("inf", "NaN" kept). */
    stability?: { scale: number; values: { label: string; value: string }[] };
  }[];
}

const FOCAL = { alpha: 0.25, gamma: 2 };

function lossOptions(loss: string, rank: number): Record<string, unknown> {
  return loss === "softmax_focal_loss" || loss === "sigmoid_focal_loss" ? { ...FOCAL, rank } : { rank };
}

/** Which data a loss takes as its `input`. */
function inputFor(loss: string, d: ReturnType<typeof workloadData>): TensorData {
  if (loss === "nll_loss") return d.logProbs;
  if (loss === "binary_cross_entropy") return d.probs;
  return d.logits;
}

/** The python3 that can import torch (and torchvision), if any. */
export function findTorchPython(): string | undefined {
  for (const p of [process.env.PYTHON, "python3", "/usr/bin/python3"]) {
    if (p && spawnSync(p, ["-c", "import torch, torchvision"], { encoding: "utf8" }).status === 0) return p;
  }
  return undefined;
}

interface Runner {
  key: string;
  label: string;
  run: () => Promise<unknown>;
  release: () => Promise<void>;
}

async function nodeRunner(
  key: string,
  label: string,
  model: Uint8Array,
  feeds: Record<string, TensorData>,
  threads: number,
  ep: ExecutionProvider = "cpu",
): Promise<Runner> {
  const session = await ort.InferenceSession.create(model, sessionOptionsFor(ep, threads) as ort.InferenceSession.SessionOptions);
  const tensors: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const t = feeds[name];
    tensors[name] = new ort.Tensor(t.dtype as "float32", t.data as Float32Array, t.dims);
  }
  return { key, label, run: () => session.run(tensors), release: () => session.release() };
}

/** A float32 tensor as float16 (IEEE half bits, rounded to nearest even); other dtypes unchanged. */
function toHalf(t: TensorData): TensorData {
  if (t.dtype !== "float32") return t;
  return { dtype: "float16", dims: t.dims, data: Uint16Array.from(t.data as Float32Array, toFloat16Bits) } as TensorData;
}

let ortWeb: typeof import("onnxruntime-web") | undefined;
async function webRunner(label: string, model: Uint8Array, feeds: Record<string, TensorData>, threads: number): Promise<Runner> {
  ortWeb ??= await import("onnxruntime-web");
  const web = ortWeb;
  // the SIMD, threaded wasm build with a thread per onnxruntime-node thread, as the demo page runs it
  // (configureWasm({ numThreads: "all" }) on its cross-origin-isolated page); set before the first session
  web.env.wasm.numThreads = threads;
  const session = await web.InferenceSession.create(model);
  const tensors: Record<string, import("onnxruntime-web").Tensor> = {};
  for (const name of session.inputNames) {
    const t = feeds[name];
    tensors[name] = new web.Tensor(t.dtype as "float32", t.data as Float32Array, t.dims);
  }
  return { key: "ort-web", label, run: () => session.run(tensors), release: () => session.release() };
}

/**
 * TensorFlow.js's loss on one backend, as a user holding the arrays calls it: tensors made from them,
 * the loss (default reduction: the mean), dataSync() of the scalar (bench/src/tfjs.ts); the backend switch
 * before each call (well under a microsecond) is inside the timing. Checked against `ours` first.
 */
async function tfjsRunner(
  tf: TfModule,
  backend: "wasm" | "cpu",
  loss: string,
  feeds: { input: TensorData; target: TensorData },
  ours: number,
  title: string,
): Promise<Runner> {
  const call = tfjsCall(tf, loss, feeds);
  await tf.setBackend(backend);
  const rel = checkTfjs(`${title}: ${TFJS_LOSSES[loss]} on ${backend}`, tf, loss, feeds, ours, call());
  const what = backend === "wasm" ? "wasm SIMD, 1 thread" : "pure-JS cpu backend";
  return {
    key: `tfjs-${backend}`,
    label: `TensorFlow.js ${TFJS_LOSSES[loss]} (${what}, in Node; tensor creation and dataSync included; its float32 mean ${rel.toExponential(1)} off)`,
    run: async () => {
      await tf.setBackend(backend);
      return call();
    },
    release: async () => {},
  };
}

/** Medians of interleaved runs: each round runs every runner once, the order rotating by round. */
async function interleaved(runners: Runner[], budgetMs: number): Promise<Map<string, { ms: number; runs: number }>> {
  const warm: number[] = [];
  for (const r of runners) {
    await r.run();
    const t0 = performance.now();
    await r.run();
    warm.push(performance.now() - t0);
  }
  const perRound = warm.reduce((a, b) => a + b, 0);
  const rounds = Math.max(5, Math.min(runners.length <= 2 ? 60 : 25, Math.floor(budgetMs / Math.max(perRound, 1e-3))));
  const times = runners.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (j + round) % runners.length;
      const t0 = performance.now();
      await runners[i].run();
      times[i].push(performance.now() - t0);
    }
  }
  const out = new Map<string, { ms: number; runs: number }>();
  runners.forEach((r, i) => {
    out.set(r.key, { ms: median(times[i]), runs: times[i].length });
  });
  return out;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** How far the logits are scaled for the stability check (the workloads' logits lie in [-4, 4]). */
export const STABILITY_SCALE = 100;

/** The loss of this project's graph and of each exported graph on the same logits, scaled. */
async function stabilityCheck(
  ours: Uint8Array,
  exported: { label: string; model: Uint8Array }[],
  d: ReturnType<typeof workloadData>,
  threads: number,
  ep: ExecutionProvider,
): Promise<NonNullable<BenchResult["groups"][number]["stability"]>> {
  const scaled: TensorData = { ...d.logits, data: (d.logits.data as Float32Array).map((v) => v * STABILITY_SCALE) };
  const values: { label: string; value: string }[] = [];
  const one = async (label: string, model: Uint8Array, feeds: Record<string, TensorData>) => {
    const r = await nodeRunner("check", label, model, feeds, threads, ep);
    const out = (await r.run()) as Record<string, { data: ArrayLike<number> }>;
    await r.release();
    values.push({ label, value: String(Number(Object.values(out)[0].data[0])) });
  };
  await one("this project's graph", ours, { input: scaled, target: d.target });
  for (const e of exported) await one(e.label, e.model, { x: scaled, t: d.target });
  return { scale: STABILITY_SCALE, values };
}

/** Run the benchmark. */
export async function runBench(opts: BenchOptions = {}): Promise<BenchResult> {
  const log = opts.log ?? (() => {});
  const threads = opts.threads ?? cpus().length;
  const budgetMs = opts.budgetMs ?? 4000;
  const ep: BenchProvider = opts.ep ?? "cpu";
  const dtype: BenchDType = opts.dtype ?? "float32";
  if (!BENCH_PROVIDERS.includes(ep))
    throw new Error(`bench: --ep: expected ${BENCH_PROVIDERS.join(" | ")}, received ${JSON.stringify(ep)}`);
  if (!BENCH_DTYPES.includes(dtype))
    throw new Error(`bench: --dtype: expected ${BENCH_DTYPES.join(" | ")}, received ${JSON.stringify(dtype)}`);
  const status = nodeProviderStatuses().find((p) => p.name === ep);
  if (!status?.available) throw new Error(`bench: --ep ${ep}: not available here (${status?.reason ?? "unknown provider"})`);
  const half = dtype === "float16";
  const float32Only = (key: string, label: string): VariantResult => ({
    key,
    label,
    ms: null,
    runs: 0,
    note: "float32 only: skipped with --dtype float16",
  });
  // PyTorch runs where onnxruntime does: on the GPU with cuda; it has no DirectML
  const torchDevice = ep === "cuda" ? "cuda" : "cpu";
  const python = opts.torch === false || ep === "dml" ? undefined : findTorchPython();
  if (ep === "dml" && opts.torch !== false) log("PyTorch columns skipped: PyTorch has no DirectML device");
  if (opts.torch === undefined && !python)
    log("PyTorch columns skipped: no python3 here can import torch and torchvision (apt-get install -y python3-torch python3-torchvision)");
  if (opts.torch === true && !python) throw new Error("bench: --torch needs a python3 that can import torch and torchvision");
  const tmp = opts.tmpDir ?? join(ROOT, "bench", "tmp");
  const all = opts.quick ? QUICK_WORKLOADS : WORKLOADS;
  const workloads = opts.only?.length ? all.filter((w) => opts.only!.includes(w.name)) : all;
  let torchVersion: string | null = null;
  const groups: BenchResult["groups"] = [];
  // TensorFlow.js's losses take the classes on the last axis: the rank-2 workloads
  const tfjsWanted = opts.tfjs !== false && workloads.some((w) => w.dims.length === 2 && w.losses.some((l) => TFJS_LOSSES[l]));
  const tfjs = tfjsWanted && !half ? await loadTfjsNode() : undefined;

  for (const w of workloads) {
    log(`${w.title}: generating data`);
    const d = workloadData(w);
    const rank = w.dims.length;
    const torchRes = python ? runTorch(python, w, d, tmp, threads, opts.quick ? 3 : 9, log, { device: torchDevice, dtype }) : undefined;
    if (torchRes) torchVersion = torchRes.torch;
    for (const loss of w.losses) {
      const feeds32 = { input: inputFor(loss, d), target: d.target };
      const feeds = half ? { input: toHalf(feeds32.input), target: toHalf(feeds32.target) } : feeds32;
      const runners: Runner[] = [];
      const notes: VariantResult[] = [];
      const on = ep === "cpu" ? "onnxruntime-node CPU" : `onnxruntime-node ${ep}`;
      const built = (o: Record<string, unknown>, b: Parameters<typeof buildLoss>[2] = {}) => buildLoss(loss, o, { ...b, dtype }).model;
      const ours = built(lossOptions(loss, rank));
      runners.push(await nodeRunner("ours", `this project's graph (${on}${half ? ", float16" : ""})`, ours, feeds, threads, ep));
      runners.push(
        await nodeRunner(
          "ours-f32",
          "the same graph, float32 final reduction",
          built(lossOptions(loss, rank), { accumulate: "float32" }),
          feeds,
          threads,
          ep,
        ),
      );
      // the loss and its gradient input_grad in one graph (gradient: true): the bound is ~2x the forward
      runners.push(
        await nodeRunner(
          "ours-grad",
          "the same loss with input_grad (gradient: true)",
          built({ ...lossOptions(loss, rank), gradient: true }),
          feeds,
          threads,
          ep,
        ),
      );
      if (loss === "cross_entropy" || loss === "nll_loss") {
        const op = loss === "cross_entropy" ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss";
        if (half) notes.push(float32Only("one-node", `one ${op} node`));
        else runners.push(await nodeRunner("one-node", `one ${op} node`, oneNodeLoss(loss, rank), feeds, threads, ep));
      }
      if (loss === "cross_entropy" || loss === "softmax_focal_loss") {
        const label = "naive Softmax -> Log -> one-hot graph";
        if (half) notes.push(float32Only("naive", label));
        else runners.push(await nodeRunner("naive", label, naiveSoftmaxLoss(rank, loss === "softmax_focal_loss"), feeds, threads, ep));
      }
      if (loss === "binary_cross_entropy_with_logits" || loss === "sigmoid_focal_loss") {
        const label = "naive Log(Sigmoid) graph";
        if (half) notes.push(float32Only("naive", label));
        else runners.push(await nodeRunner("naive", label, naiveSigmoidLoss(rank), feeds, threads, ep));
      }
      const exportedModels: { label: string; model: Uint8Array }[] = [];
      for (const [key, e] of Object.entries(torchRes?.workloads[w.name]?.[loss]?.exported ?? {})) {
        if (e.error || !e.path) {
          notes.push({
            key,
            label: e.label,
            ms: null,
            runs: 0,
            note: e.error === FLOAT32_ONLY ? "float32 only: skipped with --dtype float16" : `export failed: ${e.error}`,
          });
          continue;
        }
        try {
          const model = new Uint8Array(readFileSync(e.path));
          const exportedFeeds = { x: inputFor(loss, d), t: d.target };
          runners.push(await nodeRunner(key, `${e.label}, under ${on}`, model, exportedFeeds, threads, ep));
          exportedModels.push({ label: e.label, model });
        } catch (err) {
          notes.push({
            key,
            label: e.label,
            ms: null,
            runs: 0,
            note: `onnxruntime could not run it: ${String((err as Error).message).split("\n")[0]}`,
          });
        }
      }
      runners.push(
        await nodeRunner(
          "floor",
          "one read of the input (one ReduceMax node)",
          floorGraph(rank, half ? "float16" : "float32"),
          feeds,
          threads,
          ep,
        ),
      );
      if (opts.web !== false) {
        const label = `this project's graph on onnxruntime-web (wasm SIMD, ${threads} thread${threads === 1 ? "" : "s"}, in Node)`;
        if (half) notes.push(float32Only("ort-web", label));
        else {
          try {
            runners.push(await webRunner(label, ours, feeds, threads));
          } catch (err) {
            notes.push({
              key: "ort-web",
              label: "onnxruntime-web (wasm)",
              ms: null,
              runs: 0,
              note: String((err as Error).message).split("\n")[0],
            });
          }
        }
      }
      if (tfjsWanted && TFJS_LOSSES[loss] && rank === 2) {
        const fn = TFJS_LOSSES[loss];
        if (half || !tfjs) {
          for (const b of ["wasm", "cpu"]) notes.push(float32Only(`tfjs-${b}`, `TensorFlow.js ${fn} (${b})`));
        } else {
          // the same number first: this project's graph's value against TensorFlow.js's on each backend
          const out = (await runners[0].run()) as Record<string, { data: ArrayLike<number> }>;
          const value = Number(Object.values(out)[0].data[0]);
          for (const b of ["wasm", "cpu"] as const) runners.push(await tfjsRunner(tfjs.tf, b, loss, feeds32, value, w.title));
        }
      }
      log(`${w.title}: ${loss}: timing ${runners.length} variants`);
      const timed = await interleaved(runners, budgetMs);
      // the float64 reduction's cost is a few percent at most: measure it paired, alone, so that the
      // other variants' cache effects do not swamp it
      const [f64, f32] = [runners[0], runners[1]];
      const ab = await interleaved([f64, f32], budgetMs / 2);
      // focal against cross-entropy, paired alone as well: the bound (focal <= 1.05x CE) is a few
      // percent, which the drift between a big group's rounds can swamp
      let focalAB: BenchResult["groups"][number]["focalAB"];
      if (loss === "softmax_focal_loss") {
        const ce = await nodeRunner("ce", "cross_entropy", built({ rank }), feeds, threads, ep);
        const pair = await interleaved([f64, ce], budgetMs / 2);
        await ce.release();
        focalAB = { focal: pair.get("ours")!.ms, crossEntropy: pair.get("ce")!.ms, rounds: pair.get("ours")!.runs };
      }
      for (const r of runners) await r.release();
      const stability = inputFor(loss, d) === d.logits && !half ? await stabilityCheck(ours, exportedModels, d, threads, ep) : undefined;
      const variants: VariantResult[] = runners.map((r) => ({ key: r.key, label: r.label, ...timed.get(r.key)! }));
      for (const [key, e] of Object.entries(torchRes?.workloads[w.name]?.[loss]?.eager ?? {})) {
        const label = `${e.label}${torchDevice === "cuda" ? " on cuda" : ""}${half ? ", half" : ""}`;
        if (e.error !== undefined) variants.push({ key, label, ms: null, runs: 0, note: `PyTorch could not run it: ${e.error}` });
        else variants.push({ key, label, ms: e.ms, runs: e.runs, note: "PyTorch process, its own interleaved rounds" });
      }
      groups.push({
        workload: w.name,
        title: w.title,
        loss,
        variants: [...variants, ...notes],
        reductionAB: { float64: ab.get("ours")!.ms, float32: ab.get("ours-f32")!.ms, rounds: ab.get("ours")!.runs },
        ...(focalAB ? { focalAB } : {}),
        stability,
      });
    }
  }
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return {
    machine: {
      cpu,
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      platform: `${process.platform}/${process.arch}`,
      node: process.version,
      onnxruntime: ort.env.versions.node ?? "?",
      torch: torchVersion,
    },
    threads,
    ep,
    dtype,
    webThreads: threads,
    ...(tfjs ? { tfjs: tfjs.line } : {}),
    spinning: false,
    date: new Date().toISOString().slice(0, 10),
    quick: !!opts.quick,
    groups,
  };
}

interface TorchResult {
  torch: string;
  workloads: Record<
    string,
    Record<
      string,
      {
        eager: Record<string, { label: string; ms: number; runs: number; error?: string }>;
        exported: Record<string, { label: string; path?: string; error?: string }>;
      }
    >
  >;
}

/** What bench_torch.py writes as an export's error when it does not export (half precision). */
const FLOAT32_ONLY = "float32 only";

function runTorch(
  python: string,
  w: Workload,
  d: ReturnType<typeof workloadData>,
  tmp: string,
  threads: number,
  rounds: number,
  log: (s: string) => void,
  where: { device: "cpu" | "cuda"; dtype: BenchDType },
): TorchResult | undefined {
  const folder = join(tmp, w.name);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "logits.npy"), encodeNpy(d.logits));
  writeFileSync(join(folder, "probs.npy"), encodeNpy(d.probs));
  writeFileSync(join(folder, "logprobs.npy"), encodeNpy(d.logProbs));
  writeFileSync(join(folder, "target.npy"), encodeNpy(d.target));
  const spec = join(folder, "spec.json");
  const out = join(folder, "torch.json");
  writeFileSync(
    spec,
    JSON.stringify({ threads, device: where.device, dtype: where.dtype, workloads: [{ name: w.name, folder, losses: w.losses, rounds }] }),
  );
  log(`${w.title}: PyTorch eager and torch.onnx.export`);
  const r = spawnSync(python, [join(ROOT, "scripts", "bench_torch.py"), spec, out], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    log(
      `PyTorch columns for ${w.name} skipped: bench_torch.py failed: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-1)[0]}`,
    );
    return undefined;
  }
  return JSON.parse(readFileSync(out, "utf8")) as TorchResult;
}
