/**
 * The TypeScript examples compile where users paste them: `npm pack`, a fresh project that installs the
 * tarball, and every ```ts block of README.md and docs/*.md (read by test/blocks.ts, the reader
 * test/readme.test.ts runs them with) written into it as its own file and type-checked with `tsc
 * --noEmit` in strict mode, as a user's project would: module and moduleResolution "nodenext" with the
 * ES2022 library alone (the Node blocks) and with DOM (every block), then "bundler" resolution (every
 * block, as Vite's own template sets it). Markers do not exempt a block: `<!-- not run -->` and `<!--
 * vite: FILE -->` blocks are checked too. The one exception is a block that imports this repository's
 * sources by a relative path (`from "../builder/..."`, docs/adding-a-loss.md's files of src/losses/):
 * that is the repository's code, not a user's, and test/adding_a_loss.test.ts compiles it where it lives.
 *
 * Offline: TypeScript, @types/node, vite and the onnxruntime packages (their types) are linked from the
 * repository's node_modules; the tarball's own dependencies install from npm's cache as in
 * test/consumer.test.ts. Needs `npm run build` first (the tarball packs dist/).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type Block, readBlocks } from "./blocks.js";
import { ROOT } from "./helpers.js";
import { packInto, USER_ENV } from "./pack.js";

/** README.md and every docs/*.md, so blocks moved between them stay checked. */
const FILES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const ALL = FILES.flatMap(readBlocks).filter((b) => b.lang === "ts" || b.lang === "typescript");
/** A relative import: the repository's own sources (see the header), not a user's code. */
const REPOSITORY_CODE = /\bfrom\s+["']\.\.?\//;
const USER = ALL.filter((b) => !REPOSITORY_CODE.test(b.code));
/** A browser block: a Vite project's file, or one that imports the browser entry. */
const browser = (b: Block) => b.kind === "vite" || /from\s+["']onnx-losses\/web["']/.test(b.code);
/** Each block's file in the project: its source and line, so an error names the block. */
const fileOf = (b: Block) => `${b.file.replace(/[/.]/g, "_")}_${b.line}.ts`;
/** Linked from the repository's node_modules: the compiler and the types a user's project has. */
const LINKED = ["typescript", "@types/node", "vite", "onnxruntime-node", "onnxruntime-web", "onnxruntime-common"];

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-consumer-types-"));
const app = join(dir, "app");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = USER_ENV;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "index.d.ts")))
    throw new Error("dist/index.d.ts is missing: run `npm run build` first (the tarball packs dist/)");
  const tarball = packInto(dir);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "types-app", private: true, type: "module" }));
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], {
    cwd: app,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (const pkg of LINKED) {
    const to = join(app, "node_modules", pkg);
    mkdirSync(join(to, ".."), { recursive: true });
    if (!existsSync(to)) symlinkSync(join(ROOT, "node_modules", pkg), to, "dir");
  }
  // `export {}`: a block is a module (its top-level await and names its own) even without an import
  for (const b of USER) writeFileSync(join(app, fileOf(b)), `${b.code}\nexport {};\n`);
}, 180000);

/** tsc --noEmit over `blocks` with these compiler options; its diagnostics, each naming the block's Markdown line. */
function typeCheck(name: string, blocks: Block[], options: Record<string, unknown>): string {
  const config = `tsconfig.${name}.json`;
  const compilerOptions = { strict: true, noEmit: true, target: "ES2022", types: ["node"], ...options };
  writeFileSync(join(app, config), JSON.stringify({ compilerOptions, files: blocks.map(fileOf) }, null, 2));
  const r = spawnSync(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", config], {
    cwd: app,
    env,
    encoding: "utf8",
  });
  // b_README_md_243.ts(5,3): error ... -> README.md:247 (block at 243): error ...
  const where = new Map(blocks.map((b) => [fileOf(b), b]));
  const text = `${r.stdout}${r.stderr}`.replace(/^(\S+\.ts)\((\d+),(\d+)\)/gm, (all, f: string, l: string, c: string) => {
    const b = where.get(f);
    return b ? `${b.file}:${b.line + Number(l)}:${c} (the block at line ${b.line})` : all;
  });
  return r.status === 0 ? "" : text.trim() || `tsc exited ${r.status}`;
}

describe("the README's and docs' TypeScript blocks, in a user's strict project (from the packed tarball)", () => {
  test("there are blocks to check, Node and browser ones, and only repository code is left out", () => {
    expect(USER.some(browser)).toBe(true);
    expect(USER.some((b) => !browser(b))).toBe(true);
    for (const b of ALL.filter((x) => !USER.includes(x))) expect(b.file).toMatch(/^docs\//);
    console.log(
      `type-checked ${USER.length} ts blocks of ${FILES.join(", ")}; left out as repository code: ${
        ALL.filter((b) => !USER.includes(b))
          .map((b) => `${b.file}:${b.line}`)
          .join(", ") || "none"
      }`,
    );
  });

  test("nodenext, the ES2022 library without DOM: the Node blocks", () => {
    const node = USER.filter((b) => !browser(b));
    expect(typeCheck("node", node, { module: "nodenext", moduleResolution: "nodenext", lib: ["ES2022"] })).toBe("");
  }, 60000);

  test("nodenext with DOM: every block", () => {
    expect(typeCheck("dom", USER, { module: "nodenext", moduleResolution: "nodenext", lib: ["ES2022", "DOM", "DOM.Iterable"] })).toBe("");
  }, 60000);

  test("bundler resolution with DOM (a Vite project's): every block", () => {
    const options = { module: "ESNext", moduleResolution: "bundler", lib: ["ES2022", "DOM", "DOM.Iterable"] };
    expect(typeCheck("bundler", USER, options)).toBe("");
  }, 60000);
});
