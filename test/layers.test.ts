/**
 * The layers of src/ import one way (docs/design.md, "Architecture: layers"): a module imports only from
 * its own layer or one listed before it. So the model contract, the codec and the builder never load the
 * loss builders, and nothing but the CLI loads the CLI.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { ROOT } from "./helpers.js";

/** Bottom to top. A top-level file (errors.ts, version.ts, index.ts ...) is its own layer. */
export const LAYERS = [
  "errors",
  "util",
  "version",
  "onnx",
  "tensor",
  "io",
  "builder",
  "model",
  "losses",
  "models",
  "runtime",
  "stream",
  "cli",
  "shared",
  "index",
  "web",
];

const SRC = join(ROOT, "src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === "generated" ? [] : sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const layerOf = (file: string) =>
  relative(SRC, file)
    .split(sep)[0]
    .replace(/\.(ts|js)$/, "");

/** Every relative import that goes up a layer, as "from -> to". */
export function upwardImports(files: readonly string[], read: (f: string) => string): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = LAYERS.indexOf(layerOf(f));
    for (const m of read(f).matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = normalize(join(dirname(f), m[1]));
      const to = LAYERS.indexOf(layerOf(target));
      if (from < 0 || to < 0 || to > from) bad.push(`${relative(ROOT, f)} -> ${relative(ROOT, target)}`);
    }
  }
  return bad;
}

describe("layers", () => {
  test("every module of src/ imports only its own layer or those below it", () => {
    expect(upwardImports(sources(SRC), (f) => readFileSync(f, "utf8"))).toEqual([]);
  });

  test("the check sees an upward import (the contract importing the catalogue)", () => {
    const fake = join(SRC, "model", "contract.ts");
    expect(upwardImports([fake], () => 'import { CATALOGUE } from "../losses/catalogue.js";')).toEqual([
      `${join("src", "model", "contract.ts")} -> ${join("src", "losses", "catalogue.js")}`,
    ]);
  });
});

describe("the losses build with typed ops", () => {
  /** Calls of Graph.node outside the builder: each op the losses use has a typed wrapper in builder/ops. */
  const rawNodeCalls = (files: readonly string[], read: (f: string) => string): string[] =>
    files.flatMap((f) =>
      read(f)
        .split("\n")
        .map((line, i) => [line, i] as const)
        .filter(([line]) => /\.node\(\s*"/.test(line))
        .map(([, i]) => `${relative(ROOT, f)}:${i + 1}`),
    );

  test("src/losses and src/models call no raw g.node(...)", () => {
    const files = sources(SRC).filter((f) => f.startsWith(join(SRC, "losses")) || f.startsWith(join(SRC, "models")));
    expect(files.length).toBeGreaterThan(10);
    expect(rawNodeCalls(files, (f) => readFileSync(f, "utf8"))).toEqual([]);
  });

  test("the check sees one", () => {
    expect(rawNodeCalls([join(SRC, "losses", "x.ts")], () => 'const y = g.node("Slice", [x]);')).toEqual([join("src", "losses", "x.ts:1")]);
  });
});

describe("tests assert whole messages", () => {
  /** jest's toThrow of a string passes on any message containing it: the suites wrap it, `toThrow(exactly(text))` (helpers.ts), or give an anchored pattern. */
  const partialMessageAsserts = (files: readonly string[], read: (f: string) => string): string[] =>
    files.filter((f) => /\.toThrow\(\s*["'`]/.test(read(f))).map((f) => relative(ROOT, f));

  test("no test file asserts an error by a part of its message", () => {
    const tests = readdirSync(join(ROOT, "test"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(ROOT, "test", f));
    expect(tests.length).toBeGreaterThan(30);
    expect(partialMessageAsserts(tests, (f) => readFileSync(f, "utf8"))).toEqual([]);
  });

  test("the check sees one", () => {
    expect(partialMessageAsserts([join(ROOT, "test", "x.test.ts")], () => 'expect(f).toThrow(\n  "part");')).toEqual([
      join("test", "x.test.ts"),
    ]);
  });
});
