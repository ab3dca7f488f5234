import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { decodeNpy, encodeNpy } from "../../io/npy.js";
import { buildLoss } from "../../losses/index.js";
import { createEvaluator, NODE_PROVIDERS } from "../../runtime/node.js";
import { parseProvider } from "../../runtime/providers.js";
import type { TensorData } from "../../runtime/tensor.js";
import { UsageError } from "../errors.js";
import { describeTensor, jsonNumbers } from "../format.js";
import type { CliIo } from "../io.js";
import { parseIntFlag, parseNamedFile, parseOptionsJson } from "../parse.js";

export interface EvalFlags {
  input?: string[];
  options?: string;
  opset?: string;
  lowering?: "none" | "webgpu";
  ep?: string;
  fallback?: string;
  threads?: string;
  json?: boolean;
  out?: string;
}

/**
 * `onnx-losses eval <loss | FILE.onnx> --input NAME=FILE.npy ...`: read .npy inputs, build the loss for
 * their rank (or load the file), run it and print or write the outputs.
 */
export async function evalCommand(io: CliIo, target: string, flags: EvalFlags): Promise<void> {
  const ep = parseProvider(flags.ep ?? "cpu", NODE_PROVIDERS);
  const fallback = (flags.fallback ?? "")
    .split(",")
    .filter((s) => s.trim())
    .map((s) => parseProvider(s, NODE_PROVIDERS));
  const threads = parseIntFlag("--threads", flags.threads);
  if (threads !== undefined && threads < 1) throw new UsageError(`--threads: expected an integer >= 1, received ${threads}`);
  const feeds: Record<string, TensorData> = {};
  for (const spec of flags.input ?? []) {
    const { name, file } = parseNamedFile("--input", spec);
    if (feeds[name]) throw new UsageError(`--input: ${name} given twice`);
    feeds[name] = decodeNpy(new Uint8Array(await readFile(resolve(io.cwd, file))), file);
  }
  if (Object.keys(feeds).length === 0) throw new UsageError("eval: expected at least one --input NAME=FILE.npy");

  let model: Uint8Array;
  if (target.endsWith(".onnx")) {
    if (flags.options !== undefined) throw new UsageError("eval: --options applies to a loss name; a .onnx file carries its own");
    if (flags.opset !== undefined) throw new UsageError("eval: --opset applies to a loss name; a .onnx file has its own");
    if (flags.lowering !== undefined) throw new UsageError("eval: --lowering applies to a loss name; a .onnx file has its own");
    model = new Uint8Array(await readFile(resolve(io.cwd, target)));
  } else {
    const options = parseOptionsJson(flags.options) ?? {};
    const input = feeds.input;
    if (!input) throw new UsageError(`eval ${target}: expected --input input=FILE.npy (the loss's input)`);
    if (options.rank === undefined) options.rank = input.dims.length;
    model = buildLoss(target, options, { opset: parseIntFlag("--opset", flags.opset), lowering: flags.lowering }).model;
  }

  const evaluator = await createEvaluator(model, { ep, fallback, threads });
  try {
    const outputs = await evaluator.run(feeds);
    if (flags.out) {
      const dir = resolve(io.cwd, flags.out);
      await mkdir(dir, { recursive: true });
      for (const [name, t] of Object.entries(outputs)) await writeFile(join(dir, `${name}.npy`), encodeNpy(t));
    }
    if (flags.json) {
      const json: Record<string, { dims: number[]; data: (number | null)[] }> = {};
      for (const [name, t] of Object.entries(outputs)) json[name] = { dims: t.dims, data: jsonNumbers(t) };
      io.out(JSON.stringify({ outputs: json }));
    } else {
      for (const [name, t] of Object.entries(outputs)) io.out(describeTensor(name, t));
      if (flags.out) io.out(`wrote ${Object.keys(outputs).map((n) => join(flags.out as string, `${n}.npy`)).join(", ")}`);
      if (evaluator.provider !== ep) io.err(`note: ran on ${evaluator.provider} (${ep} was not available)`);
    }
  } finally {
    await evaluator.release();
  }
}
