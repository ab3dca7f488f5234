/**
 * The CLI's help and messages derive from the facts they state: the providers, the streaming
 * threshold, the registered commands, and onnxruntime's default thread count (which docs/runtimes.md states
 * in the same words).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { COMMANDS } from "../src/cli/commands/index.js";
import { STREAM_ABOVE_BYTES } from "../src/cli/commands/eval.js";
import { NEXT_RELEASE } from "../src/cli/command.js";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
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

  test("docs/runtimes.md states the same --threads default as the help", () => {
    const readme = readFileSync(join(ROOT, "docs", "runtimes.md"), "utf8").replace(/\s+/g, " ");
    expect(readme).toContain(`the default is ${DEFAULT_THREADS_TEXT}`);
  });

  test("no command: the message names every registered command, and bench is not one", async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    const commands = [...r.out.matchAll(/^ {2}(\w+)\b/gm)].map((m) => m[1]).filter((c) => c !== "help");
    // the registry's commands, in its order (a new command is its file and its line in COMMANDS)
    const ctx = { io: { out: () => {}, err: () => {}, cwd: ROOT }, setCode: () => {} } as never;
    expect(commands).toEqual(COMMANDS.map((define) => define(ctx).name()));
    expect(commands).toEqual(["list", "export", "attach", "eval", "inspect", "demo"]);
    expect(r.err).toBe(`onnx-losses: expected a command (${commands.join(", ")})\n`);
    const bench = await cli("bench");
    expect(bench.code).toBe(2);
    expect(bench.err).toMatch(/^onnx-losses: unknown command 'bench'/);
  });

  test("one meaning per flag: -o/--out is what a command writes; attach's model output is --model-output; the old spellings work for one release, with a note", async () => {
    const dir = mkdtempSync(join(tmpdir(), "onnx-losses-flags-"));
    try {
      const run = (...argv: string[]) => runCliIn(dir, argv);
      const model = join(ROOT, "test", "fixtures", "attach", "mlp.onnx");
      for (const [argv, file] of [
        [["export", "cross_entropy", "-o", "a.onnx"], "a.onnx"],
        [["export", "cross_entropy", "--out", "b.onnx"], "b.onnx"],
        [["attach", model, "--model-output", "logits", "--loss", "cross_entropy", "--out", "c.onnx"], "c.onnx"],
      ] as const) {
        const r = await run(...argv);
        expect([r.code, r.err]).toEqual([0, ""]);
        expect(existsSync(join(dir, file))).toBe(true);
      }
      const e = await run("eval", "c.onnx", "--input", "x=x.npy", "-o", "outs");
      expect(e.err).toMatch(/^onnx-losses: .*x\.npy/); // -o is eval's --out (here the input is missing)
      const old = await run("export", "cross_entropy", "--output", "d.onnx");
      expect([old.code, old.err]).toEqual([0, `note: export --output is now -o/--out; --output stops working in ${NEXT_RELEASE}\n`]);
      expect(existsSync(join(dir, "d.onnx"))).toBe(true);
      const oldAttach = await run("attach", model, "--output", "logits", "--loss", "cross_entropy", "-o", "e.onnx");
      expect([oldAttach.code, oldAttach.err]).toEqual([
        0,
        `note: attach --output is now --model-output; --output stops working in ${NEXT_RELEASE}\n`,
      ]);
      const both = await run("attach", model, "--output", "logits", "--model-output", "logits", "--loss", "cross_entropy", "-o", "f.onnx");
      expect([both.code, both.err]).toEqual([
        2,
        "onnx-losses: attach: --output is the old spelling of --model-output; give --model-output only\n",
      ]);
      const help = await run("attach", "--help");
      expect(help.out).not.toMatch(/^\s+--output/m); // the old spelling is not offered
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
