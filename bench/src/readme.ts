/**
 * `npm run bench -- --readme`: rewrite bench/README.md's generated latency blocks from the tracked
 * bench/latency.json and bench/latency-browser.json (test/bench.test.ts fails when they differ). Each block
 * sits between a `<!-- generated: NAME ... -->` line and `<!-- end: NAME -->`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BrowserLatencyResult, browserTable, browserTfjsWins } from "./browser.js";
import { type LatencyResult, latencyTable, latencyTargets, tfjsLatencyTable, tfjsWins } from "./latency.js";

/** Each generated block's name, the command whose JSON it comes from, and its text. */
export function readmeBlocks(latency: LatencyResult, browser: BrowserLatencyResult): { name: string; from: string; text: string }[] {
  return [
    {
      name: "latency",
      from: "bench/latency.json (`npm run bench -- --latency --out bench/latency.json`)",
      text: [
        `Machine: ${latency.machine}; ${latency.date}.`,
        latencyTable(latency),
        "Against the small-batch targets (ev.run within 1.5x of the floor at 64 x 10, within 1.2x of the best raw\nsession at every size):",
        latencyTargets(latency).join("\n"),
      ].join("\n\n"),
    },
    {
      name: "latency-tfjs",
      from: "bench/latency.json (`npm run bench -- --latency --out bench/latency.json`)",
      text: [tfjsLatencyTable(latency), "Where TensorFlow.js is faster than ev.run in that run:", tfjsWins(latency).join("\n")].join(
        "\n\n",
      ),
    },
    {
      name: "latency-browser",
      from: "bench/latency-browser.json (`npm run bench -- --latency --browser --out bench/latency-browser.json`)",
      text: [
        `Machine: ${browser.machine}; ${browser.date}.`,
        browserTable(browser),
        "Where TensorFlow.js's wasm backend is faster than ev.run in that run:",
        browserTfjsWins(browser).join("\n"),
      ].join("\n\n"),
    },
  ];
}

export const blockBegin = (name: string, from: string) =>
  `<!-- generated: ${name}, from ${from} by \`npm run bench -- --readme\`; do not edit -->`;
export const blockEnd = (name: string) => `<!-- end: ${name} -->`;

/** The README with its generated blocks replaced; throws where a block's markers are missing. */
export function withBlocks(doc: string, blocks: { name: string; from: string; text: string }[]): string {
  let out = doc;
  for (const b of blocks) {
    const start = out.indexOf(`<!-- generated: ${b.name}, `);
    const end = out.indexOf(blockEnd(b.name));
    if (start < 0 || end < start) throw new Error(`bench/README.md: no generated block ${b.name} (its begin and end markers)`);
    out = `${out.slice(0, start)}${blockBegin(b.name, b.from)}\n\n${b.text}\n\n${out.slice(end)}`;
  }
  return out;
}

/** Rewrite bench/README.md under `root` from the tracked JSON; returns whether it changed. */
export function updateBenchReadme(root: string): boolean {
  const latency = JSON.parse(readFileSync(join(root, "bench", "latency.json"), "utf8")) as LatencyResult;
  const browser = JSON.parse(readFileSync(join(root, "bench", "latency-browser.json"), "utf8")) as BrowserLatencyResult;
  const file = join(root, "bench", "README.md");
  const doc = readFileSync(file, "utf8");
  const next = withBlocks(doc, readmeBlocks(latency, browser));
  if (next !== doc) writeFileSync(file, next);
  return next !== doc;
}
