/**
 * Citations of repository files must point at files that exist. Scans README.md, README.zh-CN.md,
 * bench/README.md, docs/*.md, src/**\/*.ts, scripts/*, test/**\/*.ts and web/*.ts for:
 *  - relative links in Markdown (`[text](docs/design.md#graph-principles)`), resolved from the Markdown
 *    file, and their #anchors, which must name a heading of the linked (or the same) Markdown file;
 *  - path mentions that start at a top-level folder (`docs/design.md`, `scripts/make_fixtures.py`,
 *    `test/reference.ts`), resolved from the repository root;
 *  - bare Markdown names in capitals (`README.md`, `CHANGELOG.md`), resolved from the citing file's folder
 *    or the root;
 *  - a parent-relative path to a `shared` folder beside the checkout, which is outside the repository
 *    and never a citation.
 * Paths with a glob (`test/fixtures/*.json`) and built outputs (dist/, web/dist/) are not citations of a
 * committed file and are skipped. This file is not scanned: its examples are bad on purpose.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "@jest/globals";
import { ROOT } from "./helpers.js";

const SELF = fileURLToPath(import.meta.url);

/** Top-level folders a path mention starts with. */
const TOP = ["docs", "scripts", "test", "src", "web", "bench", "graphs"];
const EXT = "md|ts|mts|cts|js|mjs|cjs|py|json|proto|html|css|onnx|npy|sh|txt";
const PATH_MENTION = new RegExp(`(?<![\\w./-])((?:${TOP.join("|")})/[\\w.-]+(?:/[\\w.-]+)*\\.(?:${EXT}))(?![\\w/*-])`, "g");
const BARE_MD = /(?<![\w./-])([A-Z][A-Z0-9_-]*\.md)\b/g;
const MD_LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const OUTSIDE = /(?:\.\.\/)+shared\b[\w./-]*/g;
const IS_OUTSIDE = /^(?:\.\.\/)+shared\b/;
/** Built or ignored outputs: cited as places things are written, not as committed files. */
const GENERATED = /(^|\/)(dist|artifacts|tmp|node_modules)\//;

function walk(dir: string, keep: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "generated" || e.name === "fixtures" ? [] : walk(p, keep);
    return keep(p) ? [p] : [];
  });
}

/** The files whose citations are checked. */
function citingFiles(root: string): string[] {
  const top = (name: string) => (existsSync(join(root, name)) ? [join(root, name)] : []);
  const flat = (dir: string, keep: (f: string) => boolean) =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .map((f) => join(root, dir, f))
          .filter((f) => statSync(f).isFile() && keep(f))
      : [];
  return [
    ...top("README.md"),
    ...top("README.zh-CN.md"),
    ...top("bench/README.md"),
    ...flat("docs", (f) => f.endsWith(".md")),
    ...walk(join(root, "src"), (f) => f.endsWith(".ts")),
    ...flat("scripts", () => true),
    ...walk(join(root, "test"), (f) => f.endsWith(".ts")),
    ...flat("web", (f) => f.endsWith(".ts")),
  ].filter((f) => f !== SELF);
}

interface Citation {
  /** The citing file, relative to the root, and the line. */
  from: string;
  line: number;
  cited: string;
  problem: "missing" | "outside the repository" | "no such heading";
}

/** Every citation in `file` that does not name an existing file inside `root`. */
function badCitations(root: string, file: string, text = readFileSync(file, "utf8")): Citation[] {
  const out: Citation[] = [];
  const from = relative(root, file).split(sep).join("/");
  const lineOf = (index: number) => text.slice(0, index).split("\n").length;
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  const check = (cited: string, index: number, candidates: string[]) => {
    if (candidates.some((p) => !inside(p))) out.push({ from, line: lineOf(index), cited, problem: "outside the repository" });
    else if (!candidates.some((p) => existsSync(p))) out.push({ from, line: lineOf(index), cited, problem: "missing" });
  };
  for (const m of text.matchAll(OUTSIDE)) out.push({ from, line: lineOf(m.index!), cited: m[0], problem: "outside the repository" });
  for (const m of text.matchAll(PATH_MENTION)) {
    if (!GENERATED.test(m[1])) check(m[1], m.index!, [join(root, m[1])]);
  }
  for (const m of text.matchAll(BARE_MD)) check(m[1], m.index!, [join(dirname(file), m[1]), join(root, m[1])]);
  if (file.endsWith(".md")) {
    for (const m of text.matchAll(MD_LINK)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("/")) continue;
      const [path, anchor] = [decodeURIComponent(target.replace(/[#?].*$/, "")), /#(.*)$/.exec(target)?.[1]];
      if (path && IS_OUTSIDE.test(path)) continue; // reported above
      const p = path ? resolve(dirname(file), path) : file;
      const before = out.length;
      if (path) check(target, m.index!, [p]);
      if (out.length > before || anchor === undefined || !p.endsWith(".md")) continue;
      if (!headingAnchors(path ? readFileSync(p, "utf8") : text).has(decodeURIComponent(anchor))) {
        out.push({ from, line: lineOf(m.index!), cited: target, problem: "no such heading" });
      }
    }
  }
  return out;
}

/** The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces to hyphens, -1.. for repeats. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const h = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const slug = h[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n ? `${slug}-${n}` : slug);
  }
  return anchors;
}

describe("cited repository files exist", () => {
  test("the scan covers the README, docs, sources, scripts and tests", () => {
    const files = citingFiles(ROOT).map((f) => relative(ROOT, f).split(sep).join("/"));
    for (const f of [
      "README.md",
      "README.zh-CN.md",
      "bench/README.md",
      "docs/design.md",
      "docs/maintaining.md",
      "src/cli/program.ts",
      "scripts/make_fixtures.py",
      "test/reference.ts",
      "test/browser/page.test.ts",
      "web/generate.ts",
    ]) {
      expect(files).toContain(f);
    }
  });

  test("every citation names a file in the repository", () => {
    const bad = citingFiles(ROOT).flatMap((f) => badCitations(ROOT, f));
    expect(bad).toEqual([]);
  });

  test("the scanner finds each kind of bad citation (and passes good ones)", () => {
    const md = join(ROOT, "docs", "example.md");
    const up = "..";
    const text = [
      "See [the design](design.md#graph-principles), [the README](../README.md) and [a site](https://onnx.ai/).",
      "Missing: [gone](missing.md), docs/nothere.md, scripts/nothere.py, test/nothere.ts and HISTORY.md.",
      `Outside: ${up}/shared/seed and [up](${up}/${up}/elsewhere.md).`,
      "Skipped: test/fixtures/*.json, web/dist/index.html, `test/reference.ts`.",
      "## A heading: (with) `code`",
      "Anchors: [here](#a-heading-with-code), [gone](#nowhere), [there](design.md#no-such-part).",
    ].join("\n");
    expect(badCitations(ROOT, md, text).map((c) => [c.line, c.cited, c.problem])).toEqual([
      [3, `${up}/shared/seed`, "outside the repository"],
      [2, "docs/nothere.md", "missing"],
      [2, "scripts/nothere.py", "missing"],
      [2, "test/nothere.ts", "missing"],
      [2, "HISTORY.md", "missing"],
      [2, "missing.md", "missing"],
      [3, `${up}/${up}/elsewhere.md`, "outside the repository"],
      [6, "#nowhere", "no such heading"],
      [6, "design.md#no-such-part", "no such heading"],
    ]);
  });
});
