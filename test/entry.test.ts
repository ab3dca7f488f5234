/**
 * The Node entry is the library alone: nothing reachable from dist/index.js loads the CLI (commander,
 * cli-progress), child_process or the benchmark, and dist/ holds no benchmark file. Reads the build
 * (`npm test` builds first), as test/web_entry.test.ts does for dist/web.js.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { ROOT } from "./helpers.js";
import { frontEndModules, moduleGraph } from "./module_graph.js";

/** Every file under a folder, as paths relative to it with forward slashes. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).replace(/\\/g, "/"));
}

describe("onnx-losses (the Node entry)", () => {
  test("loads no CLI, child_process or benchmark module anywhere in its module graph", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.exports["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
    expect(pkg.main).toBe("./dist/index.js");
    const graph = moduleGraph(join(ROOT, "dist", "index.js"));
    expect(graph.files.length).toBeGreaterThan(10);
    // onnxruntime-node is an optional peer: loaded on first evaluation (createRequire), never imported,
    // so the entry loads where it is not installed (test/consumer.test.ts installs it that way)
    expect(graph.bare).not.toContain("onnxruntime-node");
    expect(graph.bare).not.toContain("onnxruntime-web");
    expect(frontEndModules(graph, ROOT)).toEqual([]);
  });

  test("the worker of createEvaluator(source, { worker: true }) loads only onnxruntime-node and worker_threads", () => {
    // a Worker loads it by URL, not by import, so the walk above does not reach it
    expect(readFileSync(join(ROOT, "dist", "runtime", "worker_client.js"), "utf8")).toContain(
      'new URL("./ort_worker.js", import.meta.url)',
    );
    const graph = moduleGraph(join(ROOT, "dist", "runtime", "ort_worker.js"));
    expect(graph.files).toEqual([join(ROOT, "dist", "runtime", "ort_worker.js")]);
    expect(graph.bare).toEqual(["node:worker_threads", "onnxruntime-node"]);
    expect(frontEndModules(graph, ROOT)).toEqual([]);
  });

  test("dist/ holds no benchmark file, and the package ships no bench/ or src/", () => {
    const built = walk(join(ROOT, "dist"));
    expect(built).toContain("index.js");
    expect(built).toContain("cli/main.js"); // the CLI is still built, as its own bin
    expect(built.filter((f) => /(^|\/)bench/.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.bin).toEqual({ "onnx-losses": "dist/cli/main.js" });
    expect((pkg.files as string[]).filter((f) => /^(bench|src)(\/|$)/.test(f))).toEqual([]);
  });

  test("the check fails on a graph that reaches the CLI, child_process or the benchmark", () => {
    // a synthetic build shaped like the old one, where dist/index.js re-exported runCli
    const root = mkdtempSync(join(tmpdir(), "onnx-losses-entry-"));
    const files: Record<string, string> = {
      "dist/index.js": 'export * from "./shared.js";\nexport { runCli } from "./cli/program.js";\n// import "commander";\n',
      "dist/shared.js": 'import ort from "onnxruntime-node";\nexport const x = 1;\n',
      "dist/cli/program.js":
        'import { Command } from "commander";\nimport { runBench } from "../bench/run.js";\nconst p = await import("cli-progress");\n',
      "dist/bench/run.js": 'import { spawnSync } from "node:child_process";\nimport { execFile } from "child_process";\n',
    };
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      writeFileSync(join(root, f), text);
    }
    const graph = moduleGraph(join(root, "dist", "index.js"));
    expect(graph.bare).toEqual(["child_process", "cli-progress", "commander", "node:child_process", "onnxruntime-node"]);
    expect(frontEndModules(graph, root).sort()).toEqual([
      "/dist/bench/run.js",
      "/dist/cli/program.js",
      "child_process",
      "cli-progress",
      "commander",
      "node:child_process",
    ]);
    // the same tree without the re-export is clean
    writeFileSync(join(root, "dist/index.js"), 'export * from "./shared.js";\n');
    expect(frontEndModules(moduleGraph(join(root, "dist", "index.js")), root)).toEqual([]);
  });
});
