/**
 * The fenced code blocks of the project's Markdown, with the marker comment right before each: read by
 * test/readme.test.ts (which runs them) and test/consumer_types.test.ts (which type-checks the ts ones
 * in a user's project). docs/maintaining.md describes the markers.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./helpers.js";

export type Kind = "run" | "not run" | "output" | "output of" | "output, not compared" | "exits" | "help" | "vite";
export interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  kind: Kind;
  /** The marker's text after the kind: a reason, a command, an exit code or a file name. */
  arg: string;
}

export const MARKER = /^<!-- (not run|output of|output, not compared|output|exits|help|vite)(?::? ?(.*?))? -->$/;

/** The fenced blocks of a Markdown file, each with the marker comment on the line right before it. */
export function readBlocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.indexOf("```", i + 1);
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that is never closed`);
    const before = i > 0 ? lines[i - 1] : "";
    const m = MARKER.exec(before);
    if (!m && before.startsWith("<!--")) throw new Error(`${file}:${i}: unknown marker ${before}`);
    blocks.push({
      file,
      line: i + 1,
      lang: open[1],
      code: lines.slice(i + 1, end).join("\n"),
      kind: (m?.[1] as Kind) ?? "run",
      arg: m?.[2]?.trim() ?? "",
    });
    i = end;
  }
  return blocks;
}
