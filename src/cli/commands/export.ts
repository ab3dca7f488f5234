import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { readModel } from "../../builder/reader.js";
import { buildLoss, CATALOGUE } from "../../losses/index.js";
import { canonicalJson } from "../../model/contract.js";
import { UsageError } from "../errors.js";
import type { FloatDType } from "../../onnx/dtypes.js";
import type { CliIo } from "../io.js";
import { makeFolder, writeNamedFile } from "../../io/files.js";
import { parseIntFlag, readOptionsFlag } from "../parse.js";

/** `--gradient` as the option gradient: true (a contradicting --options value is refused). */
export function withGradientFlag(options: Record<string, unknown>, flag: boolean | undefined): Record<string, unknown> {
  if (!flag) return options;
  if (options.gradient !== undefined && options.gradient !== true) {
    throw new UsageError(`--gradient and options.gradient ${JSON.stringify(options.gradient)} disagree`);
  }
  return { ...options, gradient: true };
}

export interface ExportFlags {
  gradient?: boolean;
  all?: boolean;
  options?: string;
  opset?: string;
  rank?: string;
  lowering?: "none" | "webgpu";
  dtype?: FloatDType;
  output?: string;
}

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
export async function exportCommand(io: CliIo, loss: string | undefined, flags: ExportFlags): Promise<void> {
  if (!flags.output) throw new UsageError("export: expected -o FILE.onnx (or -o DIR with --all)");
  const opset = parseIntFlag("--opset", flags.opset);
  const rank = parseIntFlag("--rank", flags.rank);
  const out = resolve(io.cwd, flags.output);
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
        io.out(`wrote ${join(flags.output, file)} (${g.model.length} bytes)`);
      }
    }
    await writeNamedFile(
      join(out, "manifest.json"),
      `${JSON.stringify({ generator: "onnx-losses export --all", graphs: manifest }, null, 2)}\n`,
    );
    io.out(`wrote ${join(flags.output, "manifest.json")} (${manifest.length} graphs)`);
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
  io.out(`wrote ${flags.output} (${g.name}, opset ${g.opset}${lowered}, ${g.model.length} bytes) options ${canonicalJson(g.options)}`);
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
