/**
 * The benchmark's command line (`npm run bench -- [flags]`): parse the flags, run the benchmark, print
 * the table, write the results JSON. A dev tool beside the library, never loaded by its entry.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { isUserError, oneLine, UsageError } from "../../src/cli/errors.js";
import { table } from "../../src/cli/format.js";
import type { CliIo } from "../../src/cli/io.js";
import { parseIntFlag } from "../../src/cli/parse.js";
import { benchRows, machineLine, markdownTable, stabilityLines, targetChecks } from "./report.js";
import { nodeProviderStatuses } from "../../src/runtime/node.js";
import { BENCH_DTYPES, BENCH_PROVIDERS, runBench, type BenchDType, type BenchProvider } from "./run.js";
import { WORKLOADS } from "./workloads.js";
import { modelsTable, modelsTargets, runModels } from "./models.js";
import { updateBenchReadme } from "./readme.js";
import { browserTable, browserTfjsWins, runBrowserLatency } from "./browser.js";
import { latencyTable, latencyTargets, runLatency, tfjsLatencyTable, tfjsWins } from "./latency.js";

/**
 * Where a run writes its results unless --out says otherwise: bench/tmp/ is gitignored, so a run
 * (a --quick one included) never rewrites the tracked bench/results.json; pass --out bench/results.json
 * to update it.
 */
export const DEFAULT_OUT = "bench/tmp/results.json";
/** Where a --latency run writes unless --out says otherwise (--out bench/latency.json updates the tracked one). */
export const DEFAULT_LATENCY_OUT = "bench/tmp/latency.json";
/** Where a --models run writes unless --out says otherwise (--out bench/models.json updates the tracked one). */
export const DEFAULT_MODELS_OUT = "bench/tmp/models.json";
/** Where a --latency --browser run writes unless --out says otherwise (--out bench/latency-browser.json updates the tracked one). */
export const DEFAULT_BROWSER_OUT = "bench/tmp/latency-browser.json";

export interface BenchFlags {
  quick?: boolean;
  only?: string;
  threads?: string;
  budget?: string;
  torch?: boolean;
  web?: boolean;
  out?: string;
  markdown?: boolean;
  ep?: string;
  dtype?: string;
  latency?: boolean;
  models?: boolean;
  runs?: string;
  tfjs?: boolean;
  browser?: boolean;
  readme?: boolean;
}

/** Write a mode's result as JSON to `name` (relative to the working folder, folders made); returns the name. */
async function writeResult(io: CliIo, name: string, result: unknown): Promise<string> {
  const out = resolve(io.cwd, name);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  return name;
}

/** Time the graphs against the alternatives, print the table, write the results JSON. */
export async function benchCommand(io: CliIo, flags: BenchFlags): Promise<void> {
  const only = flags.only
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const w of only ?? []) {
    if (!WORKLOADS.some((x) => x.name === w))
      throw new UsageError(`--only: unknown workload ${JSON.stringify(w)}; workloads are ${WORKLOADS.map((x) => x.name).join(", ")}`);
  }
  if (flags.models) return modelsCommand(io, flags);
  if (flags.runs !== undefined) throw new UsageError("--runs: taken with --models only");
  if (flags.readme) {
    const changed = updateBenchReadme(io.cwd);
    io.out(changed ? "rewrote bench/README.md's latency blocks" : "bench/README.md's latency blocks are up to date");
    return;
  }
  if (flags.browser && !flags.latency) throw new UsageError("--browser: only with --latency (npm run bench -- --latency --browser)");
  if (flags.latency) return latencyCommand(io, flags);
  const threads = parseIntFlag("--threads", flags.threads);
  if (threads !== undefined && threads < 1) throw new UsageError(`--threads: expected an integer >= 1, received ${threads}`);
  const budgetMs = parseIntFlag("--budget", flags.budget);
  const ep = flags.ep ?? "cpu";
  if (!(BENCH_PROVIDERS as readonly string[]).includes(ep))
    throw new UsageError(`--ep: expected ${BENCH_PROVIDERS.join(" | ")}, received ${JSON.stringify(ep)}`);
  const status = nodeProviderStatuses().find((p) => p.name === ep);
  if (!status?.available) throw new UsageError(`--ep ${ep}: not available here (${status?.reason ?? "unknown provider"})`);
  const dtype = flags.dtype ?? "float32";
  if (!(BENCH_DTYPES as readonly string[]).includes(dtype))
    throw new UsageError(`--dtype: expected ${BENCH_DTYPES.join(" | ")}, received ${JSON.stringify(dtype)}`);
  const result = await runBench({
    ep: ep as BenchProvider,
    dtype: dtype as BenchDType,
    quick: flags.quick,
    only,
    threads,
    budgetMs,
    torch: flags.torch === false ? false : undefined,
    web: flags.web,
    tfjs: flags.tfjs,
    log: (line) => io.err(line),
  });
  const outName = await writeResult(io, flags.out ?? DEFAULT_OUT, result);
  if (flags.markdown) io.out(markdownTable(result));
  else io.out(table([["workload", "loss", "graph or peer", "median ms", "vs this project"], ...benchRows(result)]));
  io.out(`\nmachine: ${machineLine(result)}`);
  io.out(`\ntargets:\n${targetChecks(result).join("\n")}`);
  const stability = stabilityLines(result);
  if (stability.length) io.out(`\nstability (the same logits times 100, |x| up to 400):\n${stability.join("\n")}`);
  io.out(`\nwrote ${outName}`);
}

/** `--latency`: per-call times at small sizes (bench/src/latency.ts), the table and the targets. */
async function latencyCommand(io: CliIo, flags: BenchFlags): Promise<void> {
  for (const [flag, given] of [
    ["--only", flags.only],
    ["--threads", flags.threads],
    ["--ep", flags.ep],
    ["--dtype", flags.dtype],
  ] as const) {
    if (given !== undefined)
      throw new UsageError(`${flag}: not taken with --latency (every loss at 1 x 2 to 1024 x 1000, on the cpu provider, float32)`);
  }
  if (flags.browser) return browserCommand(io, flags);
  const result = await runLatency({ quick: flags.quick, tfjs: flags.tfjs, log: (line) => io.err(line) });
  const outName = await writeResult(io, flags.out ?? DEFAULT_LATENCY_OUT, result);
  io.out(latencyTable(result));
  io.out(`\nmachine: ${result.machine}; ${result.date}`);
  io.out(`\ntargets:\n${latencyTargets(result).join("\n")}`);
  if (result.rows.some((row) => row.tfjs)) {
    io.out(`\nTensorFlow.js:\n${tfjsLatencyTable(result)}`);
    io.out(`\nwhere TensorFlow.js is faster:\n${tfjsWins(result).join("\n")}`);
  }
  io.out(`\nwrote ${outName}`);
}

/** `--latency --browser`: the latency table in headless Chromium (bench/src/browser.ts). */
async function browserCommand(io: CliIo, flags: BenchFlags): Promise<void> {
  if (flags.tfjs === false) throw new UsageError("--no-tfjs: not taken with --browser (its rows always have TensorFlow.js)");
  const result = await runBrowserLatency({ quick: flags.quick, log: (line) => io.err(line) });
  const outName = await writeResult(io, flags.out ?? DEFAULT_BROWSER_OUT, result);
  io.out(browserTable(result));
  io.out(`\nmachine: ${result.machine}; ${result.date}`);
  io.out(`\nwhere TensorFlow.js is faster:\n${browserTfjsWins(result).join("\n")}`);
  io.out(`\nwrote ${outName}`);
}

/** `--models`: attach and eval of a 97 MiB and a 1 GB model, each a process (bench/src/models.ts), the table and the targets. */
async function modelsCommand(io: CliIo, flags: BenchFlags): Promise<void> {
  for (const [flag, given] of [
    ["--latency", flags.latency],
    ["--only", flags.only],
    ["--threads", flags.threads],
    ["--budget", flags.budget],
    ["--ep", flags.ep],
    ["--dtype", flags.dtype],
  ] as const) {
    if (given !== undefined)
      throw new UsageError(`${flag}: not taken with --models (a 97 MiB and a 1 GB MLP, cross_entropy, on the cpu provider, float32)`);
  }
  const runs = parseIntFlag("--runs", flags.runs);
  if (runs !== undefined && runs < 1) throw new UsageError(`--runs: expected an integer >= 1, received ${runs}`);
  const result = await runModels({ quick: flags.quick, runs, log: (line) => io.err(line) });
  const outName = await writeResult(io, flags.out ?? DEFAULT_MODELS_OUT, result);
  io.out(modelsTable(result));
  io.out(`\nmachine: ${result.machine}; ${result.date}`);
  io.out(`\ntargets:\n${modelsTargets(result).join("\n")}`);
  io.out(`\nwrote ${outName}`);
}

/**
 * Run the benchmark's command line with argv (the flags alone) and return the exit code: 0 on success,
 * 2 on a bad flag (one line on stderr), 1 on an unexpected failure.
 */
export async function runBenchCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command("npm run bench --")
    .description("time the graphs against one-node, naive, exported and PyTorch alternatives (medians of interleaved runs)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: () => {}, // usage errors are reported once, as one line, below
    })
    .option("--quick", "tiny shapes: check the machinery, measure nothing")
    .option("--only <workloads>", `comma-separated: ${WORKLOADS.map((w) => w.name).join(", ")}`)
    .option("--threads <n>", "intra-op threads for onnxruntime and PyTorch (default: every logical CPU, os.cpus().length)")
    .option("--budget <ms>", "time per (workload, loss) group, which sets the rounds (default 4000)")
    .option(
      "--ep <provider>",
      `onnxruntime-node execution provider: ${BENCH_PROVIDERS.join(", ")} (default cpu; PyTorch runs on cuda with cuda, and is skipped with dml)`,
    )
    .option(
      "--dtype <type>",
      `input float type: ${BENCH_DTYPES.join(", ")} (default float32; float16 builds this project's graphs with dtype float16 and skips the float32-only rows)`,
    )
    .option("--no-torch", "skip the PyTorch columns")
    .option("--no-web", "skip onnxruntime-web (wasm)")
    .option("--no-tfjs", "skip the TensorFlow.js rows and columns (wasm and cpu backends)")
    .option("--markdown", "print the table as Markdown")
    .option(
      "--latency",
      "per-call latency instead: every loss at 1 x 2, 64 x 10, 256 x 100, 1024 x 1000, ev.run against raw sessions and the floor",
    )
    .option(
      "--models",
      "model size instead: attach and eval of a 97 MiB inline and a 1 GB external-data MLP, each a process, against a plain onnxruntime-node script (npm run build first)",
    )
    .option("--runs <n>", "with --models: runs of each process, the fastest counts (default 3)")
    .option(
      "--browser",
      "with --latency: the same sizes in headless Chromium (/usr/bin/chromium or CHROMIUM_PATH): ev.run of onnx-losses/web, a raw onnxruntime-web session, the floor and TensorFlow.js wasm",
    )
    .option(
      "--readme",
      "rewrite bench/README.md's latency blocks from the tracked bench/latency.json and bench/latency-browser.json, and run nothing",
    )
    .option("--out <file>", `results JSON (default ${DEFAULT_OUT}, gitignored; --out bench/results.json updates the tracked one)`)
    .action((o: BenchFlags) => benchCommand(io, o));
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help
      io.err(`bench: ${e.message.replace(/^error: /, "")}`);
      return 2;
    }
    if (isUserError(e)) {
      io.err(`bench: ${oneLine(e)}`);
      return 2;
    }
    io.err(`bench: internal error: ${oneLine(e)}`);
    if (process.env.ONNX_LOSSES_DEBUG) io.err(String((e as Error)?.stack ?? e));
    return 1;
  }
}
