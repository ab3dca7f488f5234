/**
 * The module graph of a built entry (test/entry.test.ts for dist/index.js, test/web_entry.test.ts for
 * dist/web.js): relative imports followed, bare specifiers (packages and node: builtins) collected.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Every module an entry imports, transitively: the files reached and the bare specifiers seen. */
export function moduleGraph(entry: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, ""); // code, not comments
    for (const m of src.matchAll(
      /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g,
    )) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  visit(entry);
  return { files: [...files], bare: [...bare].sort() };
}

/** Packages and builtins the Node entry must never load: the CLI's and the benchmark's. */
export const FRONT_END_ONLY = ["commander", "cli-progress", "child_process", "node:child_process"];

/**
 * What in a module graph belongs to a front end, not the library: a FRONT_END_ONLY specifier (or a
 * subpath of one), a file under a bench/ folder or named bench*, a file under dist/cli/.
 */
export function frontEndModules(graph: { files: string[]; bare: string[] }, root: string): string[] {
  const bad = graph.bare.filter((s) => FRONT_END_ONLY.some((f) => s === f || s.startsWith(`${f}/`)));
  for (const file of graph.files) {
    const rel = file.slice(root.length).replace(/\\/g, "/");
    if (/\/bench[^/]*(\/|$)/.test(rel) || rel.startsWith("/dist/cli/")) bad.push(rel);
  }
  return bad;
}
