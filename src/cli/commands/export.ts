import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { readModel } from "../../builder/reader.js";
import { buildLoss, CATALOGUE } from "../../losses/index.js";
import { canonicalJson } from "../../model/contract.js";
import { UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { makeFolder, writeNamedFile } from "../../io/files.js";
import { parseIntFlag, readOptionsFlag } from "../parse.js";
import { Command, Option } from "@commander-js/extra-typings";
import { type CliContext, renamedFlag } from "../command.js";
import { LOSS_NAMES } from "../../losses/index.js";
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from "../../onnx/versions.js";

/** `--gradient` as the option gradient: true (a contradicting --options value is refused). */
export function withGradientFlag(options: Record<string, unknown>, flag: boolean | undefined): Record<string, unknown> {
  if (!flag) return options;
  if (options.gradient !== undefined && options.gradient !== true) {
    throw new UsageError(`--gradient and options.gradient ${JSON.stringify(options.gradient)} disagree`);
  }
  return { ...options, gradient: true };
}

export type ExportFlags = ReturnType<ReturnType<typeof exportDefinition>["opts"]>;

/** One manifest entry of `export --all`. */
export interface ManifestEntry {
  name: string;
  file: string;
  options: Record<string, unknown>;
  opset: number;
  irVersion: number;
  inputs: { name: string; dtype: string; shape: (number | string)[] }[];
  outputs: { name: string; dtype: string; shape: (number | string)[] }[];
  sha256: string;
}

/** `onnx-losses export <loss> [--options JSON] [--opset N] [--rank R] -o FILE` or `export --all -o DIR`. */
export async function exportCommand(io: CliIo, loss: string | undefined, flags: ExportFlags & { out?: string }): Promise<void> {
  if (!flags.out) throw new UsageError("export: expected -o FILE.onnx (or -o DIR with --all)");
  const opset = parseIntFlag("--opset", flags.opset);
  const rank = parseIntFlag("--rank", flags.rank);
  const out = resolve(io.cwd, flags.out);
  if (flags.all) {
    if (loss) throw new UsageError(`export --all: expected no loss name, received ${JSON.stringify(loss)}`);
    if (flags.options) throw new UsageError("export --all: --options applies to one loss; export --all writes the defaults");
    await makeFolder(out);
    const manifest: ManifestEntry[] = [];
    for (const def of CATALOGUE) {
      // each loss with its default options, and with --gradient also its gradient graph (NAME_grad.onnx)
      for (const gradient of flags.gradient ? [false, true] : [false]) {
        const options = { ...(rank === undefined ? {} : { rank }), ...(gradient ? { gradient } : {}) };
        const g = buildLoss(def.name, options, { opset, lowering: flags.lowering, dtype: flags.dtype });
        const file = `${def.name}${gradient ? "_grad" : ""}.onnx`;
        await writeNamedFile(join(out, file), g.model);
        manifest.push(entry(file, g.name, g.options, g.model));
        io.out(`wrote ${join(flags.out, file)} (${g.model.length} bytes)`);
      }
    }
    await writeNamedFile(
      join(out, "manifest.json"),
      `${JSON.stringify({ generator: "onnx-losses export --all", graphs: manifest }, null, 2)}\n`,
    );
    io.out(`wrote ${join(flags.out, "manifest.json")} (${manifest.length} graphs)`);
    return;
  }
  if (!loss) throw new UsageError("export: expected a loss name (see onnx-losses list) or --all");
  const options = withGradientFlag((await readOptionsFlag(flags.options, io.cwd)) ?? {}, flags.gradient);
  if (rank !== undefined) {
    if (options.rank !== undefined && options.rank !== rank) {
      throw new UsageError(`export: --rank ${rank} and options.rank ${JSON.stringify(options.rank)} disagree`);
    }
    options.rank = rank;
  }
  const g = buildLoss(loss, options, { opset, lowering: flags.lowering, dtype: flags.dtype });
  await writeNamedFile(out, g.model);
  const lowered = `${g.lowering === "none" ? "" : `, ${g.lowering} lowering`}${g.dtype === "float32" ? "" : `, ${g.dtype}`}`;
  io.out(`wrote ${flags.out} (${g.name}, opset ${g.opset}${lowered}, ${g.model.length} bytes) options ${canonicalJson(g.options)}`);
}

function entry(file: string, name: string, options: Record<string, unknown>, model: Uint8Array): ManifestEntry {
  const info = readModel(model);
  return {
    name,
    file,
    options,
    opset: info.opset,
    irVersion: info.irVersion,
    inputs: info.inputs.map(({ name: n, dtype, shape }) => ({ name: n, dtype, shape })),
    outputs: info.outputs.map(({ name: n, dtype, shape }) => ({ name: n, dtype, shape })),
    sha256: createHash("sha256").update(model).digest("hex"),
  };
}

function exportDefinition() {
  return new Command("export")
    .description("write a loss graph as .onnx (or the default catalogue with --all)")
    .argument("[loss]", `one of ${LOSS_NAMES.join(", ")}`)
    .option("--all", "every loss with default options, plus manifest.json, into the -o directory")
    .option("--options <json>", "loss options as JSON, or @FILE to read them from FILE (see list); a number list may name a .npy file")
    .option(
      "--gradient",
      "also output input_grad, d loss / d input (the option gradient: true); with --all, each loss's _grad graph as well",
    )
    .option("--opset <n>", `ai.onnx opset, ${MIN_OPSET} to ${MAX_OPSET}`, String(DEFAULT_OPSET))
    .option("--rank <r>", "rank of input: 2 for [N, C], R > 2 for [N, C, d1..]")
    .addOption(
      new Option("--lowering <form>", "webgpu: every node on the GPU, as onnxruntime-web's WebGPU backend needs")
        .choices(["none", "webgpu"] as const)
        .default("none" as const),
    )
    .addOption(
      new Option("--dtype <type>", "float type of the inputs and the loss (float16: math in float32 inside)")
        .choices(["float32", "float16", "float64"] as const)
        .default("float32" as const),
    )
    .option("-o, --out <path>", "the .onnx file (a directory with --all)")
    .addOption(new Option("--output <path>", "the old spelling of -o/--out").hideHelp());
}

export const EXPORT = (ctx: CliContext) =>
  exportDefinition().action((loss, o) => {
    const out = renamedFlag(ctx, "export", { old: "--output", now: "-o/--out" }, o.output, o.out);
    return exportCommand(ctx.io, loss, { ...o, out });
  });
