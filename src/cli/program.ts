/** The `onnx-losses` command line: a thin layer over the library. */
import { Command, CommanderError, Option } from "commander";
import { LOSS_NAMES } from "../losses/index.js";
import { DTYPE_NAMES } from "../onnx/dtypes.js";
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from "../onnx/versions.js";
import { NODE_PROVIDERS } from "../runtime/node.js";
import { PRODUCER_VERSION } from "../version.js";
import { attachCommand } from "./commands/attach.js";
import { demoCommand } from "./commands/demo.js";
import { evalCommand, STREAM_ABOVE_BYTES } from "./commands/eval.js";
import { exportCommand } from "./commands/export.js";
import { inspectCommand } from "./commands/inspect.js";
import { listCommand } from "./commands/list.js";
import { isUserError, oneLine } from "./errors.js";
import { type CliIo, processIo } from "./io.js";
import { collect } from "./parse.js";
import { DEFAULT_THREADS_TEXT } from "../runtime/providers.js";

export { DEFAULT_THREADS_TEXT };

/**
 * Run the CLI with argv (without `node` and the script) and return the exit code: 0 on success, 2 on
 * bad usage, bad input or a bad option (one line on stderr), 1 on an unexpected failure.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code = 0;
  const program = new Command("onnx-losses")
    .description("Classification losses as small, stable ONNX graphs with PyTorch parity.")
    .version(PRODUCER_VERSION)
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: () => {}, // usage errors are reported once, as one line, below
    });

  program
    .command("list")
    .description("every loss with its options and defaults (one loss: each option explained)")
    .argument("[loss]", "show one loss in detail")
    .option("--json", "machine-readable")
    .option("--markdown", "the loss table as Markdown (the README's table is this output)")
    .action((loss, o) => listCommand(io, loss, o));

  program
    .command("export")
    .description("write a loss graph as .onnx (or the default catalogue with --all)")
    .argument("[loss]", `one of ${LOSS_NAMES.join(", ")}`)
    .option("--all", "every loss with default options, plus manifest.json, into the -o directory")
    .option("--options <json>", "loss options as JSON, or @FILE to read them from FILE (see list)")
    .option(
      "--gradient",
      "also output input_grad, d loss / d input (the option gradient: true); with --all, each loss's _grad graph as well",
    )
    .option("--opset <n>", `ai.onnx opset, ${MIN_OPSET} to ${MAX_OPSET}`, String(DEFAULT_OPSET))
    .option("--rank <r>", "rank of input: 2 for [N, C], R > 2 for [N, C, d1..]")
    .addOption(
      new Option("--lowering <form>", "webgpu: every node on the GPU, as onnxruntime-web's WebGPU backend needs")
        .choices(["none", "webgpu"])
        .default("none"),
    )
    .addOption(
      new Option("--dtype <type>", "float type of the inputs and the loss (float16: math in float32 inside)")
        .choices(["float32", "float16", "float64"])
        .default("float32"),
    )
    .option("-o, --output <path>", "the .onnx file (a directory with --all)")
    .action((loss, o) => exportCommand(io, loss, o));

  program
    .command("attach")
    .description("append a loss to an output of a .onnx model: a target input, the loss output (with --gradient d loss / d output)")
    .argument("<model>", "a .onnx model (ai.onnx opset 13 to 23)")
    .option("--output <name>", "the model output the loss reads (logits, log-probabilities or probabilities)")
    .option("--loss <name>", `one of ${LOSS_NAMES.join(", ")}`)
    .option("--options <json>", "loss options as JSON, or @FILE to read them from FILE (see list); rank defaults to the output's")
    .option("--gradient", "also output NAME_grad, d loss / d output")
    .option("--target-input <name>", "the new graph input for the target", "target")
    .option("--loss-output <name>", "the loss output", "loss")
    .option("-o <file>", "the .onnx file to write")
    .action((model, o) => attachCommand(io, model, o));

  program
    .command("eval")
    .description("evaluate a loss (built for the inputs' rank) or a .onnx file on .npy inputs")
    .argument("<loss-or-file>", "a loss name or a .onnx file")
    .option("--input <name=file>", `an input as .npy (${DTYPE_NAMES.join(", ")}; C order); repeat for each`, collect, [])
    .option("--options <json>", "loss options as JSON, or @FILE to read them from FILE (loss names only)")
    .option("--gradient", "also output input_grad, d loss / d input (loss names only; the option gradient: true)")
    .option("--opset <n>", `ai.onnx opset, ${MIN_OPSET} to ${MAX_OPSET} (loss names only; default ${DEFAULT_OPSET})`)
    .addOption(
      new Option("--lowering <form>", "webgpu: every node on the GPU, as onnxruntime-web's WebGPU backend needs (loss names only)").choices(
        ["none", "webgpu"],
      ),
    )
    .addOption(
      new Option("--dtype <type>", "float type of the graph (loss names only; inputs are converted to it)").choices([
        "float32",
        "float16",
        "float64",
      ]),
    )
    .addOption(
      new Option(
        "--ep <provider>",
        "execution provider (webgpu: the first run compiles the graph's shaders, about a second on a software adapter)",
      )
        .choices([...NODE_PROVIDERS])
        .default("cpu"),
    )
    .option("--fallback <list>", "comma-separated providers to try when --ep is unavailable (none by default)")
    .option("--threads <n>", `intra-op threads (default: ${DEFAULT_THREADS_TEXT})`)
    .option("--json", 'print {"outputs": {"loss": {"dims": [...], "data": [...]}}} (NaN and inf as null)')
    .option("--out <dir>", "write each output as DIR/NAME.npy")
    .option("--stream", `read the inputs in row chunks (automatic above ${STREAM_ABOVE_BYTES / 2 ** 20} MiB)`)
    .option("--no-stream", "load the inputs whole, however large")
    .option("--chunk-mb <n>", "MiB of input rows per chunk when streaming (default 64)")
    .action((target, o) => evalCommand(io, target, o));

  program
    .command("inspect")
    .description("opset, inputs and outputs with shapes, nodes of a .onnx file")
    .argument("<file>", "a .onnx file")
    .option("--dot", "print Graphviz DOT instead")
    .option("--json", "print the decoded model as JSON")
    .action((file, o) => inspectCommand(io, file, o));

  program
    .command("demo")
    .description("evaluate each graph in graphs/ on a sample batch against PyTorch's golden value")
    .option("--graphs <dir>", "the graphs directory (default: the package's graphs/)")
    .option("--samples <file>", "sample batches with PyTorch values (default: test/fixtures/samples.json)")
    .action(async (o) => {
      code = await demoCommand(io, o);
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      if (e.code === "commander.help") {
        // no command given: commander shows the help as an error
        io.out(program.helpInformation());
        io.err(`onnx-losses: expected a command (${program.commands.map((c) => c.name()).join(", ")})`);
        return 2;
      }
      io.err(`onnx-losses: ${e.message.replace(/^error: /, "")}`);
      return 2;
    }
    if (isUserError(e)) {
      io.err(`onnx-losses: ${oneLine(e)}`);
      return 2;
    }
    io.err(`onnx-losses: internal error: ${oneLine(e)}`);
    if (process.env.ONNX_LOSSES_DEBUG) io.err(String((e as Error)?.stack ?? e));
    return 1;
  }
}
