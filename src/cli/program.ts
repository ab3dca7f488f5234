/** The `onnx-losses` command line: a thin layer over the library. */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { PRODUCER_VERSION } from "../version.js";
import { COMMANDS } from "./commands/index.js";
import { isUserError, oneLine } from "./errors.js";
import { type CliIo, processIo } from "./io.js";
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

  const ctx = {
    io,
    setCode: (c: number) => {
      code = c;
    },
  };
  // each command as its file defines it, with the program's error and output handling
  for (const define of COMMANDS) program.addCommand(define(ctx).copyInheritedSettings(program));

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
