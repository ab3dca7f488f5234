import { realpath } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { decodeModel } from "../../onnx/codec.js";
import { externalRefs } from "../../onnx/external.js";
import { checkExternalFiles, MAX_MODEL_BYTES } from "../../io/read.js";
import { type AttachedLoss, attachLoss } from "../../losses/attach.js";
import { canonicalJson } from "../../model/contract.js";
import { WordedError } from "../../errors.js";
import { UsageError } from "../errors.js";
import { readBytes, type CliIo } from "../io.js";
import { writeNamedFile } from "../../io/files.js";
import { readOptionsFlag } from "../parse.js";
import { withGradientFlag } from "./export.js";
import { Command, Option } from "@commander-js/extra-typings";
import { type CliContext, renamedFlag } from "../command.js";
import { LOSS_NAMES } from "../../losses/index.js";
import { MAX_OPSET, MIN_OPSET } from "../../onnx/versions.js";

/** What attachCommand takes: the flags, the renamed ones resolved. */
export interface AttachFlags {
  modelOutput?: string;
  loss?: string;
  options?: string;
  gradient?: boolean;
  targetInput?: string;
  lossOutput?: string;
  weightInput?: string;
  posWeightInput?: string;
  out?: string;
}

/** The API's names of attach options, as the command line spells them. */
const FLAG_OF: Readonly<Record<string, string>> = {
  targetInput: "--target-input",
  lossOutput: "--loss-output",
  weightInput: "--weight-input",
  posWeightInput: "--pos-weight-input",
  output: "--model-output",
  loss: "--loss",
};

/**
 * `onnx-losses attach MODEL.onnx --model-output NAME --loss L [--options JSON] [--gradient] [--target-input T]
 * [--loss-output L] -o OUT.onnx`: the model with the loss appended to its output NAME (losses/attach.ts).
 */
export async function attachCommand(io: CliIo, file: string, flags: AttachFlags): Promise<void> {
  if (!flags.modelOutput) throw new UsageError("attach: expected --model-output NAME (the model output the loss reads)");
  if (!flags.loss) throw new UsageError("attach: expected --loss NAME (see onnx-losses list)");
  if (!flags.out) throw new UsageError("attach: expected -o FILE.onnx (where the model with the loss is written)");
  const options = withGradientFlag((await readOptionsFlag(flags.options, io.cwd)) ?? {}, flags.gradient);
  const path = resolve(io.cwd, file);
  const bytes = await readBytes(path, { limit: MAX_MODEL_BYTES, what: "a .onnx model" });
  // external data stays where it is: the written model references the same files, by the same
  // locations, so it must be written into the model's folder (where they resolve)
  const refs = externalRefs(decodeModel(bytes, file), file);
  if (refs.length > 0) {
    await checkExternalFiles(refs, dirname(path), file);
    const outDir = dirname(resolve(io.cwd, flags.out));
    const real = async (d: string) => realpath(d).catch(() => resolve(d));
    if ((await real(outDir)) !== (await real(dirname(path)))) {
      throw new UsageError(
        `attach: ${file} keeps ${refs[0].tensor} in external data (${JSON.stringify(refs[0].location)}), which the written model references by the same location: write -o into the model's folder (${dirname(file)}), or save the model without external data first`,
      );
    }
  }
  let a: AttachedLoss;
  try {
    a = attachLoss(
      bytes,
      {
        output: flags.modelOutput,
        loss: flags.loss,
        options,
        targetInput: flags.targetInput,
        lossOutput: flags.lossOutput,
        weightInput: flags.weightInput,
        posWeightInput: flags.posWeightInput,
      },
      file,
    );
  } catch (e) {
    // a message about attach options, worded with their flags (targetInput's -> --target-input's)
    if (e instanceof WordedError && e.wording) throw new UsageError(e.wording((key) => FLAG_OF[key] ?? key));
    throw e;
  }
  await writeNamedFile(resolve(io.cwd, flags.out), a.model);
  const outs = [a.attached.loss, ...(a.attached.gradient ? [a.attached.gradient] : [])].join(", ");
  const inputs = [a.target, ...a.weights].map((t) => `${t.name}: ${t.dtype} [${t.shape.join(", ")}]`).join(", ");
  io.out(
    `wrote ${flags.out} (${a.loss} on output ${a.attached.output}, opset ${a.opset}, ${a.dtype}, ${a.model.length} bytes) input${a.weights.length ? "s" : ""} ${inputs}, outputs + ${outs}; options ${canonicalJson(a.options)}`,
  );
}

function attachDefinition() {
  return (
    new Command("attach")
      .description("append a loss to an output of a .onnx model: a target input, the loss output (with --gradient d loss / d output)")
      .argument("<model>", `a .onnx model (ai.onnx opset ${MIN_OPSET} to ${MAX_OPSET})`)
      .option("--model-output <name>", "the model output the loss reads (logits, log-probabilities or probabilities)")
      .addOption(new Option("--output <name>", "the old spelling of --model-output").hideHelp())
      .option("--loss <name>", `one of ${LOSS_NAMES.join(", ")}`)
      .option(
        "--options <json>",
        "loss options as JSON, or @FILE to read them from FILE (see list; a number list may name a .npy file); rank defaults to the output's",
      )
      .option("--gradient", "also output NAME_grad, d loss / d output")
      .option("--target-input <name>", "the new graph input for the target", "target")
      .option("--loss-output <name>", "the loss output", "loss")
      // documented with the README's CLI reference once it is regenerated (hidden until then)
      .addOption(new Option("--weight-input <name>", 'the new graph input for a weight tensor (option weight "input"; default weight)'))
      .addOption(
        new Option(
          "--pos-weight-input <name>",
          'the new graph input for a pos_weight tensor (option posWeight "input"; default pos_weight)',
        ),
      )
      .option("-o, --out <file>", "the .onnx file to write")
  );
}

export const ATTACH = (ctx: CliContext) =>
  attachDefinition().action((model, o) => {
    const modelOutput = renamedFlag(ctx, "attach", { old: "--output", now: "--model-output" }, o.output, o.modelOutput);
    return attachCommand(ctx.io, model, { ...o, modelOutput });
  });
