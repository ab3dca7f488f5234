import { realpath } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { decodeModel } from "../../onnx/codec.js";
import { externalRefs } from "../../onnx/external.js";
import { checkExternalFiles, MAX_MODEL_BYTES } from "../../io/read.js";
import { AttachError, type AttachedLoss, attachLoss } from "../../losses/attach.js";
import { canonicalJson } from "../../model/contract.js";
import { OptionError } from "../../errors.js";
import { UsageError } from "../errors.js";
import { readBytes, type CliIo } from "../io.js";
import { writeNamedFile } from "../../io/files.js";
import { readOptionsFlag } from "../parse.js";
import { withGradientFlag } from "./export.js";

export interface AttachFlags {
  output?: string;
  loss?: string;
  options?: string;
  gradient?: boolean;
  targetInput?: string;
  lossOutput?: string;
  o?: string;
}

/** The API's names of what a message is about, as the command line spells them. */
const FLAG_OF: Readonly<Record<string, string>> = {
  targetInput: "--target-input",
  lossOutput: "--loss-output",
  output: "--output",
  loss: "--loss",
};

/**
 * `onnx-losses attach MODEL.onnx --output NAME --loss L [--options JSON] [--gradient] [--target-input T]
 * [--loss-output L] -o OUT.onnx`: the model with the loss appended to its output NAME (losses/attach.ts).
 */
export async function attachCommand(io: CliIo, file: string, flags: AttachFlags): Promise<void> {
  if (!flags.output) throw new UsageError("attach: expected --output NAME (the model output the loss reads)");
  if (!flags.loss) throw new UsageError("attach: expected --loss NAME (see onnx-losses list)");
  if (!flags.o) throw new UsageError("attach: expected -o FILE.onnx (where the model with the loss is written)");
  const options = withGradientFlag((await readOptionsFlag(flags.options, io.cwd)) ?? {}, flags.gradient);
  const path = resolve(io.cwd, file);
  const bytes = await readBytes(path, { limit: MAX_MODEL_BYTES, what: "a .onnx model" });
  // external data stays where it is: the written model references the same files, by the same
  // locations, so it must be written into the model's folder (where they resolve)
  const refs = externalRefs(decodeModel(bytes, file), file);
  if (refs.length > 0) {
    await checkExternalFiles(refs, dirname(path), file);
    const outDir = dirname(resolve(io.cwd, flags.o));
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
      { output: flags.output, loss: flags.loss, options, targetInput: flags.targetInput, lossOutput: flags.lossOutput },
      file,
    );
  } catch (e) {
    if (e instanceof AttachError || e instanceof OptionError) {
      // the API's names of the options, wherever the message says them, as flags (targetInput's -> --target-input's)
      const named = e.message
        .replace(/^(\w+):/, (m, key: string) => (FLAG_OF[key] ? `${FLAG_OF[key]}:` : m))
        .replace(/\b(targetInput|lossOutput)'s\b/g, (_m, key: string) => `${FLAG_OF[key]}'s`);
      if (named !== e.message) throw new UsageError(named);
    }
    throw e;
  }
  await writeNamedFile(resolve(io.cwd, flags.o), a.model);
  const outs = [a.attached.loss, ...(a.attached.gradient ? [a.attached.gradient] : [])].join(", ");
  io.out(
    `wrote ${flags.o} (${a.loss} on output ${a.attached.output}, opset ${a.opset}, ${a.dtype}, ${a.model.length} bytes) input ${a.target.name}: ${a.target.dtype} [${a.target.shape.join(", ")}], outputs + ${outs}; options ${canonicalJson(a.options)}`,
  );
}
