/**
 * The CLI's help and messages derive from the facts they state: the providers, the streaming
 * threshold, the registered commands, and onnxruntime's default thread count (which the README states
 * in the same words).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { STREAM_ABOVE_BYTES } from "../src/cli/commands/eval.js";
import { DEFAULT_THREADS_TEXT } from "../src/cli/program.js";
import { NODE_PROVIDERS } from "../src/runtime/node.js";
import { ROOT, runCliIn, type CliRun } from "./helpers.js";

const cli = (...argv: string[]): Promise<CliRun> => runCliIn(ROOT, argv);

describe("CLI help and messages", () => {
  test("eval --help: --ep lists NODE_PROVIDERS, --stream names STREAM_ABOVE_BYTES, --threads the default", async () => {
    const r = await cli("eval", "--help");
    expect(r.code).toBe(0);
    const help = r.out.replace(/\s+/g, " ");
    expect(help).toContain(`(choices: ${NODE_PROVIDERS.map((p) => `"${p}"`).join(", ")}, default: "cpu")`);
    expect(help).toContain(`automatic above ${STREAM_ABOVE_BYTES / 2 ** 20} MiB`);
    expect(help).toContain(`intra-op threads (default: ${DEFAULT_THREADS_TEXT})`);
  });

  test("the README states the same --threads default as the help", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8").replace(/\s+/g, " ");
    expect(readme).toContain(`the default is ${DEFAULT_THREADS_TEXT}`);
  });

  test("no command: the message names every registered command, and bench is not one", async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    const commands = [...r.out.matchAll(/^ {2}(\w+)\b/gm)].map((m) => m[1]).filter((c) => c !== "help");
    expect(commands).toEqual(["list", "export", "attach", "eval", "inspect", "demo"]);
    expect(r.err).toBe(`onnx-losses: expected a command (${commands.join(", ")})\n`);
    const bench = await cli("bench");
    expect(bench.code).toBe(2);
    expect(bench.err).toMatch(/^onnx-losses: unknown command 'bench'/);
  });
});
