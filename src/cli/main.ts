#!/usr/bin/env node
import { quietOnnxRuntimeLog } from "../runtime/node.js";
import { oneLine } from "./errors.js";
import { runCli } from "./program.js";

// onnxruntime's process-wide log lines (ANSI coloured) would come around an error's one line
quietOnnxRuntimeLog();

// A reader that closes early (`onnx-losses list | head -1`) ends the command quietly with status 0:
// nothing is left to say to it (Node ignores SIGPIPE, so a write fails with EPIPE instead).
// Any other failure to write stdout (a full disk: `> /dev/full`, EIO) is one line on stderr, exit 2.
// A stderr that cannot be written (closed: `2>&1 | head -1`, or full: `2> /dev/full`) is ignored:
// there is nowhere left to say so, and the status is the command's own (2 for a user error).
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") process.exit(0);
  process.stderr.write(`onnx-losses: ${oneLine(Object.assign(e, { path: "stdout" }))}\n`);
  process.exit(2);
});
process.stderr.on("error", () => undefined);

process.exitCode = await runCli(process.argv.slice(2));
