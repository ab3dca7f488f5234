import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../../errors.js";
import { createEvaluator } from "../../runtime/node.js";
import type { TensorInput } from "../../tensor/tensor.js";
import { UsageError } from "../errors.js";
import { fmtNum, table } from "../format.js";
import { readBytes, type CliIo } from "../io.js";
import type { ManifestEntry } from "./export.js";
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../command.js";

/** The largest --samples file read. */
const MAX_SAMPLES_BYTES = 256 * 2 ** 20;

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

interface Sample {
  loss: string;
  options: Record<string, unknown>;
  inputs: Record<string, { dtype: string; dims: number[]; data: (number | string)[] }>;
  expected: { dims: number[]; data: (number | string)[] };
}

/**
 * `onnx-losses demo`: evaluate every graph of graphs/manifest.json on the built-in sample batch and
 * print the value, PyTorch's golden value and their difference. Exit 1 if any differs by more than
 * 1e-5 relative.
 */
export async function demoCommand(io: CliIo, flags: { graphs?: string; samples?: string }): Promise<number> {
  const graphsDir = resolve(io.cwd, flags.graphs ?? join(PACKAGE_ROOT, "graphs"));
  const samplesFile = resolve(io.cwd, flags.samples ?? join(PACKAGE_ROOT, "test", "fixtures", "samples.json"));
  const manifestFile = join(graphsDir, "manifest.json");
  const manifest = (await readJson(manifestFile)) as { graphs?: unknown };
  if (!manifest || !Array.isArray(manifest.graphs))
    throw new UsageError(`demo: ${manifestFile}: expected {"graphs": [...]} as export --all writes it`);
  const parsed = (await readJson(samplesFile)) as { cases?: unknown };
  if (!parsed || !Array.isArray(parsed.cases))
    throw new UsageError(`demo: ${samplesFile}: expected {"cases": [...]} as test/fixtures/samples.json holds`);
  const samples = parsed.cases.map((c, i) => checkSample(c, `${samplesFile}: cases[${i}]`));
  const entries = manifest.graphs.map((g, i) => checkEntry(g, `${manifestFile}: graphs[${i}]`));
  const rows = [["graph", "onnxruntime", "PyTorch", "|diff|", "ok"]];
  let failures = 0;
  for (const g of entries) {
    const index = samples.findIndex((s) => s.loss === g.name);
    const sample = samples[index];
    if (!sample) throw new UsageError(`demo: no sample batch for ${g.name} in ${samplesFile}`);
    const ev = await createEvaluator(join(graphsDir, g.file));
    const feeds: Record<string, TensorInput> = {};
    for (const [name, t] of Object.entries(sample.inputs)) {
      feeds[name] = { dims: t.dims, data: t.data.map(Number), dtype: t.dtype as TensorInput["dtype"] };
    }
    let got: number;
    try {
      got = Number((await ev.run(feeds)).loss.data[0]);
    } catch (e) {
      // a sample's dims or dtype the graph refuses: the error names the input; say which case it is in
      if (e instanceof UserError) throw new UsageError(`demo: ${samplesFile}: cases[${index}] (${sample.loss}): ${e.message}`);
      throw e;
    } finally {
      await ev.release();
    }
    const want = Number(sample.expected.data[0]);
    const diff = Math.abs(got - want);
    const ok = diff <= 1e-5 * Math.max(1, Math.abs(want));
    if (!ok) failures++;
    rows.push([`${g.file}`, fmtNum(got), fmtNum(want), diff.toExponential(2), ok ? "yes" : "NO"]);
  }
  const first = samples[0];
  const n = first?.inputs.input?.dims.join(" x ") ?? "?";
  io.out(`Each graph in ${flags.graphs ?? "graphs"}/ on the sample batch (input ${n}), against PyTorch's value:\n`);
  io.out(table(rows));
  io.out(
    failures
      ? `\n${failures} graph(s) differ from PyTorch by more than 1e-5 relative`
      : "\nevery graph equals PyTorch within 1e-5 relative",
  );
  return failures ? 1 : 0;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const shown = (v: unknown): string => (v === undefined ? "nothing" : (JSON.stringify(v)?.slice(0, 60) ?? String(v)));

/** One entry of a manifest.json: a graph's name and its file, a plain .onnx name in the folder. Throws UsageError naming `at`. */
function checkEntry(g: unknown, at: string): Pick<ManifestEntry, "name" | "file"> {
  if (!isObject(g) || typeof g.name !== "string")
    throw new UsageError(`demo: ${at}: expected {"name", "file", ...} as export --all writes it, received ${shown(g)}`);
  if (typeof g.file !== "string" || !/^[^/\\]+\.onnx$/i.test(g.file) || g.file.startsWith("..")) {
    throw new UsageError(`demo: ${at}.file: expected a .onnx file name in the folder, received ${shown(g.file)}`);
  }
  return { name: g.name, file: g.file };
}

/** One case of a samples file: a loss, its inputs as {dtype, dims, data} and PyTorch's value. Throws UsageError naming `at`. */
function checkSample(c: unknown, at: string): Sample {
  if (!isObject(c)) throw new UsageError(`demo: ${at}: expected {"loss", "inputs", "expected"}, received ${shown(c)}`);
  if (typeof c.loss !== "string") throw new UsageError(`demo: ${at}.loss: expected a loss name, received ${shown(c.loss)}`);
  if (!isObject(c.inputs))
    throw new UsageError(`demo: ${at}.inputs: expected an object of input name to {"dtype", "dims", "data"}, received ${shown(c.inputs)}`);
  const numbers = (v: unknown) =>
    Array.isArray(v) && v.every((x) => typeof x === "number" || (typeof x === "string" && x.trim() !== "" && !Number.isNaN(Number(x))));
  for (const [name, t] of Object.entries(c.inputs)) {
    const where = `${at}.inputs.${name}`;
    if (!isObject(t) || typeof t.dtype !== "string" || !Array.isArray(t.dims) || !numbers(t.data)) {
      throw new UsageError(`demo: ${where}: expected {"dtype": a dtype, "dims": [..], "data": [numbers]}, received ${shown(t)}`);
    }
  }
  if (!isObject(c.expected) || !numbers(c.expected.data) || (c.expected.data as unknown[]).length === 0) {
    throw new UsageError(`demo: ${at}.expected: expected {"dims": [..], "data": [PyTorch's value]}, received ${shown(c.expected)}`);
  }
  return c as unknown as Sample;
}

/** A JSON file the user may have named: text that is not JSON is one line naming the file. */
async function readJson(file: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readBytes(file, { limit: MAX_SAMPLES_BYTES, what: "a .json file" }));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`demo: ${file}: expected JSON, could not parse it: ${String((e as Error).message).split("\n")[0]}`);
  }
}

export const DEMO = (ctx: CliContext) =>
  new Command("demo")
    .description("evaluate each graph in graphs/ on a sample batch against PyTorch's golden value")
    .option("--graphs <dir>", "the graphs directory (default: the package's graphs/)")
    .option("--samples <file>", "sample batches with PyTorch values (default: test/fixtures/samples.json)")
    .action(async (o) => {
      ctx.setCode(await demoCommand(ctx.io, o));
    });
