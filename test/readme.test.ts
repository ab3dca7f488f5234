/**
 * Every code block of the user's pages runs, so they cannot rot: README.md, then the docs/ pages in
 * PAGES. The blocks run in document order, page after page, in one temporary folder (the walk-through's
 * files are there for every block after it):
 *  - `sh`: each command through the built CLI (`npx onnx-losses` and `onnx-losses` run
 *    `node dist/cli/main.js`), exit 0 unless the block is marked `<!-- exits N -->`;
 *  - `python`: with /usr/bin/python3 (or $PYTHON); a block that imports torch runs only where that Python
 *    can import torch, and the test says why it skips it otherwise;
 *  - `ts`: transpiled, `from "onnx-losses"` pointed at dist/index.js (`onnx-losses/web` at dist/web.js),
 *    run with Node.
 * An HTML comment right before a block says what else it is: `<!-- not run: REASON -->`,
 * `<!-- output -->` (what the block before prints; compared), `<!-- output of: onnx-losses ARGS -->`,
 * `<!-- output, not compared: REASON -->`, `<!-- help: onnx-losses ARGS -->` (the CLI reference, which
 * must equal the live help), `<!-- vite: FILE -->` (a file of a browser project, built with Vite here,
 * not run). docs/maintaining.md describes the comments. README.zh-CN.md has README.md's blocks up to
 * the loss table and its working-on-the-repository commands (code comments may be translated) and the
 * Chinese loss table that `npm run readme` writes. The CLI reference is docs/cli.md's; the limits table
 * docs/limits.md's.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, test } from "@jest/globals";
import ts from "typescript";
import { type Block, readBlocks } from "./blocks.js";
import { ROOT } from "./helpers.js";

// the block reader is test/blocks.ts (the consumer type-check reads the same blocks); exported here too
export { readBlocks };

/** The user's pages, run in this order in one folder (the docs' examples use the walk-through's files). */
export const PAGES = [
  "README.md",
  "docs/cli.md",
  "docs/api.md",
  "docs/browser.md",
  "docs/losses.md",
  "docs/runtimes.md",
  "docs/streaming.md",
  "docs/limits.md",
  "docs/maintaining.md",
];
const README = readBlocks("README.md");
/** Every block of every page, README.md's first. */
const ALL = PAGES.flatMap((page) => readBlocks(page));
const ZH = readBlocks("README.zh-CN.md");
const RUNNABLE = new Set(["sh", "python", "ts"]);

const PYTHON = process.env.PYTHON ?? "/usr/bin/python3";
const canImport = (mod: string) => spawnSync(PYTHON, ["-c", `import ${mod}`], { stdio: "ignore" }).status === 0;
const numpyHere = canImport("numpy");
const torchHere = numpyHere && canImport("torch");
if (!numpyHere)
  console.warn(`README blocks not run: ${PYTHON} cannot import numpy, which the walk-through needs (apt-get install -y python3-numpy)`);
if (numpyHere && !torchHere)
  console.warn(
    `README: the PyTorch blocks are skipped: ${PYTHON} cannot import torch (apt-get install -y python3-torch); the CLI's value is checked against NumPy in float64 instead`,
  );

const work = mkdtempSync(join(tmpdir(), "onnx-losses-readme-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const bin = join(work, ".bin");
mkdirSync(bin);
writeFileSync(join(bin, "onnx-losses"), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "dist", "cli", "main.js")}" "$@"\n`, {
  mode: 0o755,
});
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), PATH: `${bin}:${process.env.PATH}` };

/** Run a shell command in the work folder, stderr into stdout (in the order written). */
function sh(command: string): { status: number | null; out: string } {
  const r = spawnSync("bash", ["-c", `exec 2>&1\n${command}`], { cwd: work, env, encoding: "utf8", timeout: 120000 });
  return { status: r.status, out: r.stdout };
}

/** A block's commands: continuation lines joined, comments and blank lines dropped, the CLI on PATH. */
function commands(code: string): string[] {
  return code
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter(Boolean)
    .map((l) => l.replace(/\bnpx onnx-losses\b/g, "onnx-losses"));
}

/** A ts block as an ES module that imports the built package. */
function moduleOf(code: string): string {
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const dist = (f: string) => JSON.stringify(pathToFileURL(join(ROOT, "dist", f)).href);
  return js.replace(/from "onnx-losses"/g, `from ${dist("index.js")}`).replace(/from "onnx-losses\/web"/g, `from ${dist("web.js")}`);
}

const NUMBER = /(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)/i;
/** One printed line against the README's: numbers within 1e-6 relative, the rest exact; a trailing "..." matches any rest. */
function lineMatches(want: string, got: string): boolean {
  const prefix = want.endsWith("...");
  const w = (prefix ? want.slice(0, -3) : want).split(NUMBER);
  const g = got.split(NUMBER);
  if (prefix ? g.length < w.length : g.length !== w.length) return false;
  return w.every((part, i) => {
    if (i % 2) return Math.abs(Number(part) - Number(g[i])) <= 1e-6 * Math.max(1, Math.abs(Number(part)));
    return prefix && i === w.length - 1 ? g[i].startsWith(part) : g[i] === part;
  });
}
/** Printed output against the README's: line by line, a line "..." standing for any lines. */
export function outputMatches(want: string, got: string): boolean {
  const lines = (t: string) =>
    t
      .replace(/\s+$/, "")
      .split("\n")
      .map((l) => l.trimEnd());
  const w = lines(want);
  const g = lines(got);
  const match = (i: number, j: number): boolean => {
    if (i === w.length) return j === g.length;
    if (w[i] === "...") return Array.from({ length: g.length - j + 1 }, (_, k) => j + k).some((k) => match(i + 1, k));
    return j < g.length && lineMatches(w[i], g[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/** What each run block printed (by its index in README), for the output blocks after it. */
const printed = new Map<number, string>();

/** Run one block; undefined when it was skipped (the reason is logged). */
function runBlock(b: Block, index: number): string | undefined {
  const where = `${b.file}:${b.line}`;
  if (b.lang === "sh") {
    let out = "";
    for (const c of commands(b.code)) {
      const r = sh(c);
      expect([where, c, r.status]).toEqual([where, c, b.kind === "exits" ? Number(b.arg) : 0]);
      out += r.out;
    }
    return out;
  }
  if (b.lang === "python") {
    if (/^\s*import torch\b|^\s*from torch\b/m.test(b.code) && !torchHere) {
      console.warn(`${where}: skipped: ${PYTHON} cannot import torch`);
      return undefined;
    }
    const r = spawnSync(PYTHON, ["-c", b.code], { cwd: work, env, encoding: "utf8" });
    expect([where, r.status, r.stderr]).toEqual([where, 0, ""]);
    return r.stdout;
  }
  const file = join(work, `block-${index}.mjs`);
  writeFileSync(file, moduleOf(b.code));
  const r = sh(`"${process.execPath}" "${file}"`);
  expect([where, r.status, r.status ? r.out : ""]).toEqual([where, 0, ""]);
  return r.out;
}

describe("the pages' blocks (README.md, then docs/)", () => {
  test("every block is runnable or marked, and every marked block says why or what", () => {
    for (const b of ALL) {
      const where = `${b.file}:${b.line}`;
      if (b.kind === "run" || b.kind === "exits") expect([where, b.lang, RUNNABLE.has(b.lang)]).toEqual([where, b.lang, true]);
      if (b.kind !== "run" && b.kind !== "output") expect([where, b.kind, b.arg.length > 0]).toEqual([where, b.kind, true]);
      if (b.kind === "output" || b.kind === "output, not compared") {
        const i = ALL.indexOf(b);
        const before = ALL[i - 1];
        expect([where, i > 0 && before.file === b.file && ["run", "exits"].includes(before.kind)]).toEqual([where, true]);
      }
    }
    const notRun = ALL.filter((b) => b.kind === "not run" || b.kind === "output, not compared").map(
      (b) => `${b.file}:${b.line}: ${b.kind}: ${b.arg}`,
    );
    console.log(`blocks not run or not compared:\n${notRun.join("\n")}`);
    expect(notRun.length).toBeLessThan(ALL.length / 3);
  });

  test("README.md is at most 400 lines", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(401);
  });

  const runnable = numpyHere ? test : test.skip;
  ALL.forEach((b, index) => {
    const where = `${b.file}:${b.line}`;
    const name = `${where} (${b.lang || "text"}, ${b.kind}${b.arg ? `: ${b.arg}` : ""})`;
    if (b.kind === "run" || b.kind === "exits") {
      runnable(
        name,
        () => {
          const out = runBlock(b, index);
          if (out !== undefined) printed.set(index, out);
        },
        180000,
      );
    } else if (b.kind === "output") {
      runnable(name, () => {
        const out = printed.get(index - 1);
        if (out === undefined) return console.warn(`${where}: not compared: the block before it did not run here`);
        if (!outputMatches(b.code, out)) throw new Error(`${where}: the page shows\n${b.code}\nbut the block printed\n${out}`);
      });
    } else if (b.kind === "output of") {
      runnable(name, () => {
        const r = sh(b.arg);
        expect(r.status).toBe(0);
        if (!outputMatches(b.code, r.out)) throw new Error(`${where}: the page shows\n${b.code}\nbut ${b.arg} printed\n${r.out}`);
      });
    }
  });

  runnable("the walk-through: the CLI prints PyTorch's cross-entropy (NumPy's float64 value where torch is missing)", () => {
    const cli = ALL.findIndex(
      (b) =>
        b.file === "README.md" &&
        b.lang === "sh" &&
        b.code.includes("eval cross_entropy --input input=logits.npy --input target=labels.npy --json"),
    );
    const torch = ALL.findIndex((b) => b.file === "README.md" && b.lang === "python" && b.code.includes("F.cross_entropy(logits, labels)"));
    expect([cli, torch].every((i) => i > 0)).toBe(true);
    const got = (JSON.parse(printed.get(cli)!) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0];
    const numpy = spawnSync(
      PYTHON,
      [
        "-c",
        [
          "import numpy as np",
          "x = np.load('logits.npy').astype(np.float64); t = np.load('labels.npy')",
          "m = x.max(1, keepdims=True); lse = (m + np.log(np.exp(x - m).sum(1, keepdims=True)))[:, 0]",
          "print(repr(float(np.mean(lse - x[np.arange(len(t)), t]))))",
        ].join("\n"),
      ],
      { cwd: work, encoding: "utf8" },
    );
    const want = torchHere ? Number(printed.get(torch)) : Number(numpy.stdout);
    expect(Number.isFinite(want)).toBe(true);
    expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));
    expect(Math.abs(got - Number(numpy.stdout))).toBeLessThanOrEqual(1e-6 * Math.abs(got));
  });
});

describe("the pages' generated parts", () => {
  test("the CLI reference is the CLI's own --help, for every command", () => {
    const help = (args: string) =>
      spawnSync(process.execPath, [join(ROOT, "dist", "cli", "main.js"), ...args.split(" ").filter(Boolean)], {
        encoding: "utf8",
      }).stdout.trimEnd();
    const blocks = ALL.filter((b) => b.kind === "help");
    expect(blocks.every((b) => b.file === "docs/cli.md")).toBe(true);
    const top = help("--help");
    const commands = [...top.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]).filter((c) => c !== "help");
    expect(blocks.map((b) => b.arg)).toEqual(["onnx-losses --help", ...commands.map((c) => `onnx-losses ${c} --help`)]);
    for (const b of blocks) expect([b.arg, b.code]).toEqual([b.arg, help(b.arg.replace(/^onnx-losses ?/, ""))]);
  });

  test("README.zh-CN.md's loss table is the catalogue's, in Chinese (npm run readme rewrites it)", () => {
    const script = pathToFileURL(join(ROOT, "scripts", "readme-table.mjs")).href;
    const list = pathToFileURL(join(ROOT, "dist", "cli", "commands", "list.js")).href;
    const index = pathToFileURL(join(ROOT, "dist", "index.js")).href;
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { zhTable } from ${JSON.stringify(script)}; import { markdownTable } from ${JSON.stringify(list)}; import { CATALOGUE } from ${JSON.stringify(index)}; process.stdout.write(zhTable(markdownTable(CATALOGUE)));`,
      ],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    const zh = readFileSync(join(ROOT, "README.zh-CN.md"), "utf8");
    const begin = zh.indexOf("<!-- loss table (zh-CN): generated");
    expect(begin).toBeGreaterThan(0);
    expect(zh.slice(zh.indexOf("\n", begin) + 1, zh.indexOf("<!-- end of loss table -->", begin)).trim()).toBe(r.stdout);
  });
});

describe("README.zh-CN.md", () => {
  /** A block's code without its comments (which may be translated) and blank lines. */
  const bare = (b: Block) => {
    const comment = b.lang === "ts" ? /(^|\s)\/\/.*$/ : b.lang === "sh" || b.lang === "python" ? /(^|\s)#.*$/ : null;
    return b.code
      .split("\n")
      .map((l) => (comment ? l.replace(comment, "") : l).trimEnd())
      .filter(Boolean)
      .join("\n");
  };
  const same = (a: Block, b: Block) =>
    a.lang === b.lang &&
    a.kind === b.kind &&
    bare(a) === bare(b) &&
    (["not run", "output, not compared"].includes(a.kind) || a.arg === b.arg);

  test("is linked from the top of the README, and links back", () => {
    const head = readFileSync(join(ROOT, "README.md"), "utf8").split("\n").slice(0, 5).join("\n");
    expect(head).toContain("](README.zh-CN.md)");
    expect(readFileSync(join(ROOT, "README.zh-CN.md"), "utf8")).toContain("](README.md)");
  });

  test("has the README's commands: every block is one of the README's, in the README's order, with the same marker", () => {
    let from = 0;
    for (const b of ZH) {
      const i = README.findIndex((r, k) => k >= from && same(r, b));
      expect([`README.zh-CN.md:${b.line}`, i >= 0]).toEqual([`README.zh-CN.md:${b.line}`, true]);
      if (b.kind === "not run") expect(b.arg.length).toBeGreaterThan(0);
      from = i + 1;
    }
    // install, the walk-through and "Your data" (every README block before "## The losses"), and the
    // commands of "## Working on this repository"
    const lines = readFileSync(join(ROOT, "README.md"), "utf8").split("\n");
    const at = (heading: string) => lines.indexOf(heading) + 1;
    const [losses, working] = [at("## The losses"), at("## Working on this repository")];
    const next = lines.findIndex((l, i) => i >= working && l.startsWith("## ")) + 1;
    expect(0 < losses && losses < working && working < next).toBe(true);
    const needed = README.filter((r) => r.line < losses || (working < r.line && r.line < next));
    expect(needed.length).toBeGreaterThan(10);
    for (const r of needed) expect([`README.md:${r.line}`, ZH.some((b) => same(r, b))]).toEqual([`README.md:${r.line}`, true]);
  });
});

describe("the Vite config (docs/browser.md) and the page script (README.md)", () => {
  const vite = ALL.filter((b) => b.kind === "vite");

  test("build with Vite into a page that serves onnxruntime-web's .wasm itself", () => {
    expect(vite.map((b) => b.arg).sort()).toEqual(["main.ts", "vite.config.ts"]);
    const app = join(work, "vite-app");
    mkdirSync(join(app, "node_modules"), { recursive: true });
    for (const b of vite) writeFileSync(join(app, b.arg), `${b.code}\n`);
    writeFileSync(join(app, "index.html"), '<!doctype html>\n<html><body><script type="module" src="./main.ts"></script></body></html>\n');
    symlinkSync(ROOT, join(app, "node_modules", "onnx-losses"), "dir");
    for (const dep of ["vite", "onnxruntime-web"]) symlinkSync(join(ROOT, "node_modules", dep), join(app, "node_modules", dep), "dir");
    const r = spawnSync(process.execPath, [join(ROOT, "node_modules", "vite", "bin", "vite.js"), "build", "--logLevel", "error"], {
      cwd: app,
      env,
      encoding: "utf8",
      timeout: 170000,
    });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    const dist = join(app, "dist");
    for (const f of ["ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs"])
      expect(existsSync(join(dist, "ort", f))).toBe(true);
    const assets = readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js"));
    const js = assets.map((f) => readFileSync(join(dist, "assets", f), "utf8")).join("\n");
    expect(js).toContain("softmax_focal_loss");
    // the extern-wasm build: no second copy of the .wasm in the bundle
    expect(readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".wasm"))).toEqual([]);
    expect(assets.reduce((n, f) => n + statSync(join(dist, "assets", f)).size, 0)).toBeLessThan(5 * 2 ** 20);
  }, 180000);
});

describe("docs/limits.md's table", () => {
  // each number the table states is the constant that enforces it
  const table = (() => {
    return readFileSync(join(ROOT, "docs", "limits.md"), "utf8");
  })();
  const row = (what: string): string => {
    const line = table.split("\n").find((l) => l.startsWith(`| ${what}`));
    if (!line) throw new Error(`docs/limits.md's table has no row "${what}"`);
    return line;
  };
  const MiB = 2 ** 20;
  test("states the enforcing constants' values", async () => {
    const { MAX_NPY_HEADER_BYTES } = await import("../src/io/npy.js");
    const { MAX_EMPTY_EXTENT } = await import("../src/runtime/validate.js");
    const { MAX_MODEL_BYTES } = await import("../src/io/read.js");
    const { MAX_ORT_IR_VERSION, MIN_ORT_IR_VERSION } = await import("../src/runtime/evaluator.js");
    const { MAX_OUTPUT_NAME_BYTES } = await import("../src/io/files.js");
    const { MAX_NAME_LENGTH } = await import("../src/losses/attach.js");
    const { MAX_OPTIONS_JSON, MAX_OPTIONS_DEPTH } = await import("../src/cli/parse.js");
    const { MAX_META_BYTES } = await import("../src/model/contract.js");
    const { DEFAULT_CHUNK_BYTES } = await import("../src/stream/evaluate_files.js");
    const { STREAM_ABOVE_BYTES } = await import("../src/cli/commands/eval.js");
    expect(row("a `.npy` header")).toContain(`${MAX_NPY_HEADER_BYTES / MiB} MiB (\`MAX_NPY_HEADER_BYTES\``);
    const archives = await import("../src/io/archives.js");
    expect(row("a `.npz` archive")).toContain(`at most ${archives.MAX_ARCHIVE_MEMBERS} members (\`MAX_ARCHIVE_MEMBERS\`)`);
    expect(row("a `.npz` archive")).toContain(`a ${archives.MAX_CENTRAL_DIRECTORY_BYTES / MiB} MiB central directory`);
    expect(row("a deflated `.npz` member")).toContain(`at most ${archives.MAX_INFLATED_BYTES / 2 ** 30} GiB for one read`);
    expect(row("a `.safetensors` header")).toContain(`${archives.MAX_SAFETENSORS_HEADER_BYTES / 1e6} MB (\`MAX_SAFETENSORS_HEADER_BYTES\``);
    expect(row("a tensor without elements")).toContain(`2^${Math.log2(MAX_EMPTY_EXTENT)} in its other dims`);
    expect(row("what one pass loads")).toContain(`above ${STREAM_ABOVE_BYTES / MiB} MiB together`);
    expect(row("memory a stream uses")).toContain(`(${DEFAULT_CHUNK_BYTES / MiB} MiB by default)`);
    expect(row("`--options` JSON")).toContain(`${MAX_OPTIONS_JSON / MiB} MiB, ${MAX_OPTIONS_DEPTH} levels deep`);
    expect(row("`--options @FILE`")).toContain(`the ${MAX_OPTIONS_JSON / MiB} MiB limit`);
    expect(row("model metadata values")).toContain(`${MAX_META_BYTES / MiB} MiB each`);
    expect(row("a model |")).toContain(`${MAX_MODEL_BYTES / 2 ** 30} GiB (\`MAX_MODEL_BYTES\``);
    expect(row("a model |")).toContain(`\`ir_version\` ${MIN_ORT_IR_VERSION} to ${MAX_ORT_IR_VERSION}`);
    expect(row("a model's output names as files")).toContain(`at most ${MAX_OUTPUT_NAME_BYTES} UTF-8 bytes`);
    expect(row("names given to `attachLoss`")).toContain(`1 to ${MAX_NAME_LENGTH} characters (\`MAX_NAME_LENGTH\`)`);
  });
});
