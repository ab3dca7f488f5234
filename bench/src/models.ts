/**
 * Models of a user's size (issue 18; `npm run bench -- --models`, and test/big_model.test.ts): an MLP
 * as torch.onnx.export writes it (Gemm with transB and Relu, weights [out, in] as raw data, its batch
 * dim named as torch names it), inline or with every weight in a side file (as torch writes models
 * past 2 GB), and a batch of 32. Each process is a Node process of its own, measured for wall time
 * (start to exit) and peak RSS (VmHWM): a plain onnxruntime-node script that loads the model and runs
 * it once, `onnx-losses attach` of cross_entropy to it, `onnx-losses eval` of the attached model on the
 * batch, and the library's createEvaluator of the attached model in a script. After one unmeasured
 * run of the plain script and of attach, each is run a few times, the rounds interleaved and their
 * order rotating, and its fastest run counts (this VM's speed drifts 1.5x). The loss the two evals
 * give is checked against the catalogue loss on the logits the plain script gets.
 *
 * The issue's targets: attach and eval each within 3x the plain script's wall time and within 1.5x its
 * peak RSS plus 100 MB; with external data, attach reads no weights (its peak RSS stays under 150 MB).
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, relative } from "node:path";
import ort from "onnxruntime-node";
import { UsageError } from "../../src/cli/errors.js";
import { encodeNpy } from "../../src/io/npy.js";
import { buildLoss } from "../../src/losses/index.js";
import { encodeModel, type onnx } from "../../src/onnx/codec.js";
import { createEvaluator } from "../../src/runtime/node.js";
import type { TensorData } from "../../src/tensor/tensor.js";
import { seededRandom } from "../../src/util/random.js";
import { repoRoot } from "./root.js";

/** Layer sizes [fan in, fan out] of an MLP. */
export type Layers = readonly (readonly [number, number])[];

/** The issue's MLP: Linear 1024 -> 8192 -> 2048 -> 100, 97 MiB (102 MB) of float32 weights. */
export const MLP_97MB: Layers = [
  [1024, 8192],
  [8192, 2048],
  [2048, 100],
];

/** The same MLP widened to 1.01 GB (0.94 GiB): Linear 1024 -> 16384 -> 14336 -> 100. */
export const MLP_1GB: Layers = [
  [1024, 16384],
  [16384, 14336],
  [14336, 100],
];

/** Tiny layers for --quick: the machinery, in seconds. */
export const MLP_QUICK: Layers = [
  [1024, 64],
  [64, 100],
];

/** The batch size of every run. */
export const BATCH = 32;

/** The weights are drawn in pieces of this many floats, so a 1 GB model is never whole in memory. */
const PIECE = 1 << 22;

/**
 * Each initializer of the MLP in order (fc0.weight, fc0.bias, fc1.weight, ...), drawn from one seeded
 * stream (uniform in +-1/sqrt(fan in), as torch's Linear initialises), in pieces of at most PIECE floats.
 */
function* initializers(layers: Layers, seed: number): Generator<{ name: string; dims: number[]; pieces: () => Generator<Float32Array> }> {
  const r = seededRandom(seed);
  for (let i = 0; i < layers.length; i++) {
    const [fanIn, fanOut] = layers[i];
    const bound = 1 / Math.sqrt(fanIn);
    const draw = function* (count: number): Generator<Float32Array> {
      for (let done = 0; done < count; ) {
        const n = Math.min(PIECE, count - done);
        const a = new Float32Array(n);
        for (let k = 0; k < n; k++) a[k] = (r() * 2 - 1) * bound;
        done += n;
        yield a;
      }
    };
    // the pieces must be taken in order, each tensor's before the next one's (one stream)
    yield { name: `fc${i}.weight`, dims: [fanOut, fanIn], pieces: () => draw(fanIn * fanOut) };
    yield { name: `fc${i}.bias`, dims: [fanOut], pieces: () => draw(fanOut) };
  }
}

/** What writeMlp wrote: the .onnx file's bytes and the side file's (0 without one). */
export interface WrittenMlp {
  modelBytes: number;
  dataBytes: number;
}

/**
 * Write the MLP to dir/file, as torch.onnx.export writes it. With `external` (a file name in the same
 * folder), every initializer's bytes go to that side file instead, each 4096-aligned as onnx's save
 * writes them, streamed piece by piece (a 1 GB model is never whole in memory); inline, the weights
 * are in the .onnx itself (so that one is built in memory: keep it under 2 GB).
 */
export function writeMlp(dir: string, file: string, layers: Layers, o: { external?: string; seed?: number } = {}): WrittenMlp {
  const initializer: onnx.ITensorProto[] = [];
  let dataBytes = 0;
  const fd = o.external ? openSync(join(dir, o.external), "w") : undefined;
  try {
    for (const t of initializers(layers, o.seed ?? 7)) {
      if (fd === undefined) {
        const all = new Float32Array(t.dims.reduce((a, b) => a * b, 1));
        let at = 0;
        for (const p of t.pieces()) {
          all.set(p, at);
          at += p.length;
        }
        initializer.push({ name: t.name, dims: t.dims, dataType: 1, rawData: new Uint8Array(all.buffer, all.byteOffset, all.byteLength) });
        continue;
      }
      const pad = (4096 - (dataBytes % 4096)) % 4096;
      if (pad) writeSync(fd, new Uint8Array(pad), 0, pad, dataBytes);
      const offset = dataBytes + pad;
      let at = offset;
      for (const p of t.pieces()) {
        const bytes = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
        for (let w = 0; w < bytes.length; ) w += writeSync(fd, bytes, w, bytes.length - w, at + w);
        at += bytes.length;
      }
      initializer.push({
        name: t.name,
        dims: t.dims,
        dataType: 1,
        dataLocation: 1,
        externalData: [
          { key: "location", value: o.external },
          { key: "offset", value: String(offset) },
          { key: "length", value: String(at - offset) },
        ],
      });
      dataBytes = at;
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const node: onnx.INodeProto[] = [];
  let prev = "x";
  layers.forEach((_, i) => {
    const out = i === layers.length - 1 ? "logits" : `/fc${i}/Gemm_output_0`;
    node.push({
      name: `/fc${i}/Gemm`,
      opType: "Gemm",
      input: [prev, `fc${i}.weight`, `fc${i}.bias`],
      output: [out],
      attribute: [{ name: "transB", type: 2, i: 1 }],
    });
    if (i < layers.length - 1) {
      node.push({ name: `/Relu_${i}`, opType: "Relu", input: [out], output: [`/Relu_${i}_output_0`] });
      prev = `/Relu_${i}_output_0`;
    }
  });
  const io = (name: string, d0: string, d1: number): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: d0 }, { dimValue: d1 }] } } },
  });
  const model = encodeModel({
    irVersion: 8,
    producerName: "pytorch",
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "main_graph",
      node,
      initializer,
      input: [io("x", "x_dynamic_axes_1", layers[0][0])],
      output: [io("logits", "logits_dynamic_axes_1", layers[layers.length - 1][1])],
    },
  });
  writeFileSync(join(dir, file), model);
  return { modelBytes: model.length, dataBytes };
}

/** A measured process: wall time (s), peak RSS (MB), exit status and output. */
export interface Measured {
  s: number;
  mb: number;
  status: number | null;
  out: string;
  err: string;
}

/**
 * Run `node ARGS` in cwd and measure it: wall time from spawn to exit, and peak RSS as /proc's VmHWM
 * of the process's own memory, printed at exit by an --import hook (getrusage's maxrss would keep what
 * the forked copy of the parent had at exec, and a jest parent's is hundreds of MB). Linux only.
 */
export function measured(args: readonly string[], cwd: string, timeoutMs = 600000): Measured {
  const hook = `data:text/javascript,import{readFileSync}from"node:fs";process.on("exit",()=>process.stderr.write("\\nmaxrss "+/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status","utf8"))[1]+"\\n"))`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", hook, ...args], {
    cwd,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 2 ** 20,
  });
  const s = (performance.now() - t0) / 1000;
  const rss = /\nmaxrss (\d+)\n$/.exec(r.stderr ?? "");
  return {
    s,
    mb: rss ? Number(rss[1]) / 1024 : Number.NaN,
    status: r.status,
    out: r.stdout ?? "",
    err: (r.stderr ?? "").replace(/\nmaxrss \d+\n$/, ""),
  };
}

/** A process that failed: its arguments, status and what it printed on stderr. */
export class ProcessFailed extends Error {
  constructor(
    readonly args: readonly string[],
    readonly run: Measured,
  ) {
    super(`node ${args.join(" ")}: exit ${run.status}${run.err ? `: ${run.err.trim().slice(0, 400)}` : ""}`);
  }
}

/** measured, and thrown as ProcessFailed unless it exits 0 with nothing on stderr. */
export function measuredOk(args: readonly string[], cwd: string, timeoutMs?: number): Measured {
  const r = measured(args, cwd, timeoutMs);
  if (r.status !== 0 || r.err !== "") throw new ProcessFailed(args, r);
  return r;
}

/** The processes of a model's row, in the table's order. */
export const MODEL_PROCESSES = [
  { key: "plain", label: "plain onnxruntime-node script: load, run once" },
  { key: "attach", label: "onnx-losses attach (cross_entropy)" },
  { key: "eval", label: "onnx-losses eval of the attached model" },
  { key: "api", label: "createEvaluator of the attached model, one run" },
] as const;
export type ProcessKey = (typeof MODEL_PROCESSES)[number]["key"];

/** One process's fastest run, and every run's time and RSS. */
export interface ProcessResult {
  s: number;
  mb: number;
  runs: { s: number; mb: number }[];
}

/** A model's measurement. */
export interface ModelCase {
  key: string;
  layers: [number, number][];
  external: boolean;
  modelBytes: number;
  dataBytes: number;
  batch: number;
  processes: Record<ProcessKey, ProcessResult>;
  /** The catalogue loss on the plain script's logits, and what the CLI's eval and the API gave. */
  loss: { want: number; eval: number; api: number };
}

export interface ModelCaseOptions {
  key: string;
  layers: Layers;
  external: boolean;
  /** Runs of each process (the fastest counts); default 3. */
  runs?: number;
  /** The CLI's entry (default dist/cli/main.js of the repository: `npm run build` first). */
  cli?: string;
  log?: (line: string) => void;
}

/**
 * Write the model (inline or external) and the batch into a new temporary folder, measure its four
 * processes (rounds interleaved, the order rotating), check the losses, remove the folder.
 * Throws ProcessFailed if a run fails, and an Error if a loss is off the catalogue loss's by more
 * than 1e-5 relative.
 */
export async function measureModel(o: ModelCaseOptions): Promise<ModelCase> {
  const root = repoRoot();
  const cli = o.cli ?? join(root, "dist", "cli", "main.js");
  const api = join(root, "dist", "index.js");
  for (const f of [cli, api])
    if (!existsSync(f))
      throw new UsageError(`--models runs the built CLI and library: ${relative(root, f)} is missing (npm run build first)`);
  const ortEntry = join(root, "node_modules", "onnxruntime-node", "dist", "index.js");
  const dir = mkdtempSync(join(tmpdir(), "onnx-losses-models-"));
  try {
    const width = o.layers[0][0];
    const classes = o.layers[o.layers.length - 1][1];
    const written = writeMlp(dir, "m.onnx", o.layers, { external: o.external ? "m.onnx.data" : undefined });
    o.log?.(
      `models ${o.key}: wrote m.onnx (${written.modelBytes} bytes)${o.external ? ` and m.onnx.data (${written.dataBytes} bytes)` : ""}`,
    );
    const r = seededRandom(3);
    const x = Float32Array.from({ length: BATCH * width }, () => r() * 2 - 1);
    const t = BigInt64Array.from({ length: BATCH }, (_, i) => BigInt((i * 37) % classes));
    writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [BATCH, width], data: x }));
    writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [BATCH], data: t }));
    // the plain script: onnxruntime-node alone, the batch read from x.npy (a version 1 header), the logits printed
    writeFileSync(
      join(dir, "plain.mjs"),
      `import { readFileSync } from "node:fs";
import ort from ${JSON.stringify(ortEntry)};
const b = readFileSync("x.npy");
const x = new Float32Array(b.buffer.slice(b.byteOffset + 10 + b.readUInt16LE(8), b.byteOffset + b.length));
const s = await ort.InferenceSession.create("m.onnx");
const out = await s.run({ x: new ort.Tensor("float32", x, [${BATCH}, ${width}]) });
process.stdout.write(JSON.stringify(Array.from(out.logits.data)));`,
    );
    writeFileSync(
      join(dir, "api.mjs"),
      `import { readFileSync } from "node:fs";
import { createEvaluator, decodeNpy } from ${JSON.stringify(api)};
const ev = await createEvaluator("a.onnx");
const out = await ev.run({ x: decodeNpy(readFileSync("x.npy")), target: decodeNpy(readFileSync("t.npy")) });
await ev.release();
process.stdout.write(JSON.stringify(Number(out.loss.data[0])));`,
    );
    const args: Record<ProcessKey, string[]> = {
      plain: ["plain.mjs"],
      attach: [cli, "attach", "m.onnx", "--model-output", "logits", "--loss", "cross_entropy", "-o", "a.onnx"],
      eval: [cli, "eval", "a.onnx", "--input", "x=x.npy", "--input", "target=t.npy", "--json"],
      api: ["api.mjs"],
    };
    // unmeasured first runs: the model's files read once into the page cache (as right after they are
    // written, which would leave the first measured process flushing them), and a.onnx made for eval
    measuredOk(args.plain, dir);
    measuredOk(args.attach, dir);
    const runs: Record<ProcessKey, Measured[]> = { plain: [], attach: [], eval: [], api: [] };
    const keys = MODEL_PROCESSES.map((p) => p.key);
    for (let round = 0; round < (o.runs ?? 3); round++) {
      // the order rotates each round, so that no process is always the first after a write or the last
      for (let j = 0; j < keys.length; j++) {
        const key = keys[(round + j) % keys.length];
        const m = measuredOk(args[key], dir);
        runs[key].push(m);
        o.log?.(`models ${o.key} round ${round + 1}: ${key} ${m.s.toFixed(2)} s, ${m.mb.toFixed(0)} MB`);
      }
    }
    const processes = Object.fromEntries(
      MODEL_PROCESSES.map(({ key }) => {
        const best = [...runs[key]].sort((a, b) => a.s - b.s)[0];
        return [key, { s: best.s, mb: best.mb, runs: runs[key].map((m) => ({ s: m.s, mb: m.mb })) }];
      }),
    ) as Record<ProcessKey, ProcessResult>;
    // the value: the catalogue loss on the logits onnxruntime gave the plain script
    const logits: TensorData = {
      dtype: "float32",
      dims: [BATCH, classes],
      data: Float32Array.from(JSON.parse(runs.plain[0].out) as number[]),
    };
    const ev = await createEvaluator(buildLoss("cross_entropy"));
    let want: number;
    try {
      want = Number((await ev.run({ input: logits, target: { dtype: "int64", dims: [BATCH], data: t } })).loss.data[0]);
    } finally {
      await ev.release();
    }
    const loss = {
      want,
      eval: (JSON.parse(runs.eval[0].out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0],
      api: JSON.parse(runs.api[0].out) as number,
    };
    for (const k of ["eval", "api"] as const) {
      if (!(Math.abs(loss[k] - want) <= 1e-5 * Math.abs(want)))
        throw new Error(`models ${o.key}: ${k} gave loss ${loss[k]}, the catalogue loss on onnxruntime's logits is ${want}`);
    }
    const modelBytes = statSync(join(dir, "m.onnx")).size;
    return {
      key: o.key,
      layers: o.layers.map(([a, b]) => [a, b]),
      external: o.external,
      modelBytes,
      dataBytes: written.dataBytes,
      batch: BATCH,
      processes,
      loss,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One target against a model's row: what, the measured value, the limit, met or not. */
export interface ModelTarget {
  what: string;
  value: number;
  limit: number;
  met: boolean;
}

/** A byte count in kB, MB or GB, for titles. */
export function sizeOf(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(0)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

/** A model's title: its size and where its weights are. */
export function modelTitle(c: ModelCase): string {
  return c.external
    ? `${sizeOf(c.modelBytes + c.dataBytes)} MLP, external data (${sizeOf(c.dataBytes)} side file)`
    : `${sizeOf(c.modelBytes)} MLP, inline weights`;
}

/**
 * The issue's targets for one model: attach, eval and the API's eval within 3x the plain script's wall
 * time and 1.5x its peak RSS + 100 MB; with external data, attach's peak RSS under 150 MB (it reads no
 * weights).
 */
export function modelTargets(c: ModelCase): ModelTarget[] {
  const plain = c.processes.plain;
  const out: ModelTarget[] = [];
  for (const key of ["attach", "eval", "api"] as const) {
    const p = c.processes[key];
    out.push({ what: `${key} wall time / plain's`, value: p.s / plain.s, limit: 3, met: p.s <= 3 * plain.s });
    const rssLimit = 1.5 * plain.mb + 100;
    out.push({ what: `${key} peak RSS (MB) vs 1.5 x plain's + 100 MB`, value: p.mb, limit: rssLimit, met: p.mb <= rssLimit });
  }
  if (c.external) {
    const a = c.processes.attach;
    out.push({ what: "attach peak RSS (MB), reading no weights", value: a.mb, limit: 150, met: a.mb < 150 });
  }
  return out;
}

/** The --models result: the machine, the date, the runs per process, and each model's row. */
export interface ModelsResult {
  machine: string;
  date: string;
  quick: boolean;
  runs: number;
  models: ModelCase[];
}

/** The machine a --models run ran on, in one line. */
export function modelsMachine(): string {
  const cpu = (cpus()[0]?.model ?? "unknown CPU").trim();
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}/${process.arch}; Node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? "?"} (cpu, default threads)`;
}

/** `--models`: the 97 MiB inline and the 1 GB external-data MLP (with `quick`, two tiny ones). */
export async function runModels(o: { quick?: boolean; runs?: number; log?: (line: string) => void } = {}): Promise<ModelsResult> {
  const runs = o.runs ?? (o.quick ? 1 : 3);
  const cases = o.quick
    ? [
        { key: "quick-inline", layers: MLP_QUICK, external: false },
        { key: "quick-external", layers: MLP_QUICK, external: true },
      ]
    : [
        { key: "97mb-inline", layers: MLP_97MB, external: false },
        { key: "1gb-external", layers: MLP_1GB, external: true },
      ];
  const models: ModelCase[] = [];
  for (const c of cases) models.push(await measureModel({ ...c, runs, log: o.log }));
  return { machine: modelsMachine(), date: new Date().toISOString().slice(0, 10), quick: o.quick ?? false, runs, models };
}

const ratio = (v: number): string => `${v.toFixed(2)}x`;

/** The --models table in Markdown: per model and process, the fastest run's wall time and peak RSS, and their ratios to the plain script's. */
export function modelsTable(r: ModelsResult): string {
  const lines = ["| model | process | wall s | peak RSS MB | wall vs plain | RSS vs plain |", "|---|---|---|---|---|---|"];
  for (const c of r.models) {
    const plain = c.processes.plain;
    MODEL_PROCESSES.forEach(({ key, label }, i) => {
      const p = c.processes[key];
      lines.push(
        `| ${i === 0 ? modelTitle(c) : ""} | ${label} | ${p.s.toFixed(2)} | ${p.mb.toFixed(0)} | ${ratio(p.s / plain.s)} | ${ratio(p.mb / plain.mb)} |`,
      );
    });
  }
  return lines.join("\n");
}

/** Every model's targets, one line each, met or missed, and its loss check. */
export function modelsTargets(r: ModelsResult): string[] {
  const lines: string[] = [];
  for (const c of r.models) {
    const title = modelTitle(c);
    for (const t of modelTargets(c)) {
      const shown = t.what.includes("(MB)")
        ? `${t.value.toFixed(0)} MB (target ${t.limit.toFixed(0)} MB)`
        : `${ratio(t.value)} (target ${t.limit}x)`;
      lines.push(`- ${title}: ${t.what.replace(" (MB)", "")}: ${shown}: ${t.met ? "met" : "MISSED"}`);
    }
    lines.push(
      `- ${title}: loss ${c.loss.eval.toPrecision(8)} (eval), ${c.loss.api.toPrecision(8)} (API), the catalogue loss on onnxruntime's logits ${c.loss.want.toPrecision(8)}`,
    );
  }
  return lines;
}
