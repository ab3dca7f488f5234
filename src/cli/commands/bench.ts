import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { runBench } from "../../bench/run.js";
import { benchRows, machineLine, markdownTable, stabilityLines, targetChecks } from "../../bench/report.js";
import { WORKLOADS } from "../../bench/workloads.js";
import { UsageError } from "../errors.js";
import { table } from "../format.js";
import type { CliIo } from "../io.js";
import { parseIntFlag } from "../parse.js";

export interface BenchFlags {
  quick?: boolean;
  only?: string;
  threads?: string;
  budget?: string;
  torch?: boolean;
  web?: boolean;
  out?: string;
  markdown?: boolean;
}

/** `onnx-losses bench`: time the graphs against the alternatives, print the table, write results JSON. */
export async function benchCommand(io: CliIo, flags: BenchFlags): Promise<void> {
  const only = flags.only?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const w of only ?? []) {
    if (!WORKLOADS.some((x) => x.name === w)) throw new UsageError(`--only: unknown workload ${JSON.stringify(w)}; workloads are ${WORKLOADS.map((x) => x.name).join(", ")}`);
  }
  const threads = parseIntFlag("--threads", flags.threads);
  if (threads !== undefined && threads < 1) throw new UsageError(`--threads: expected an integer >= 1, received ${threads}`);
  const budgetMs = parseIntFlag("--budget", flags.budget);
  const result = await runBench({
    quick: flags.quick,
    only,
    threads,
    budgetMs,
    torch: flags.torch === false ? false : undefined,
    web: flags.web,
    log: (line) => io.err(line),
  });
  const out = resolve(io.cwd, flags.out ?? "bench/results.json");
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  if (flags.markdown) io.out(markdownTable(result));
  else io.out(table([["workload", "loss", "graph or peer", "median ms", "vs this project"], ...benchRows(result)]));
  io.out(`\nmachine: ${machineLine(result)}`);
  io.out(`\ntargets:\n${targetChecks(result).join("\n")}`);
  const stability = stabilityLines(result);
  if (stability.length) io.out(`\nstability (the same logits times 100, |x| up to 400):\n${stability.join("\n")}`);
  io.out(`\nwrote ${flags.out ?? "bench/results.json"}`);
}
