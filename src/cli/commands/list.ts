import { CATALOGUE, getLoss, type LossDefinition } from "../../losses/index.js";
import { table } from "../format.js";
import type { CliIo } from "../io.js";
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../command.js";

/** `onnx-losses list [loss] [--json]`: every loss (or one, with each option explained) and its defaults. */
export function listCommand(io: CliIo, loss: string | undefined, opts: { json?: boolean; markdown?: boolean }): void {
  const defs = loss ? [getLoss(loss)] : CATALOGUE;
  if (opts.markdown) {
    io.out(markdownTable(defs));
    return;
  }
  if (opts.json) {
    io.out(
      JSON.stringify(
        defs.map((d) => ({
          name: d.name,
          summary: d.summary,
          pytorch: d.pytorch,
          formula: d.formula,
          options: d.optionList.map((o) => ({ name: o.name, default: o.default, allowed: o.allowed, doc: o.doc })),
        })),
        null,
        2,
      ),
    );
    return;
  }
  if (loss) {
    const d = defs[0];
    const lines = [`${d.name}: ${d.summary}`, `  PyTorch: ${d.pytorch}`, `  ${d.formula}`, "  options:"];
    for (const o of d.optionList)
      lines.push(`    ${o.name} (default ${JSON.stringify(o.default)}): ${o.doc}`, `      allowed: ${o.allowed}`);
    io.out(lines.join("\n"));
    return;
  }
  const blocks = defs.map((d) => {
    const rows = [["  option", "default", "allowed"], ...d.optionList.map((o) => [`  ${o.name}`, JSON.stringify(o.default), o.allowed])];
    return `${d.name}: ${d.summary}\n  PyTorch: ${d.pytorch}\n  ${d.formula}\n${table(rows)}`;
  });
  io.out(
    `${blocks.join("\n\n")}\n\nOptions go in --options as JSON, e.g. --options '{"gamma": 1, "reduction": "sum"}'; onnx-losses list <loss> explains each.`,
  );
}

/** The options every loss takes, which the table states once above it rather than in every row. */
const COMMON = ["rank", "reduction"];

/**
 * The loss table as Markdown: loss, PyTorch call, per-item formula, options with defaults. The README's
 * table is this output (test/catalogue.test.ts compares them), so it cannot fall behind the catalogue.
 */
export function markdownTable(defs: readonly LossDefinition[]): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const rows = defs.map((d) => {
    const options = d.optionList.filter((o) => !COMMON.includes(o.name)).map((o) => `\`${o.name}\` (${cell(JSON.stringify(o.default))})`);
    return `| \`${d.name}\` | ${cell(d.pytorch)} | \`${cell(d.formula)}\` | ${options.join(", ") || "none"} |`;
  });
  return ["| loss | PyTorch | per item (x logits, p probabilities, y/t targets) | options (defaults) |", "|---|---|---|---|", ...rows].join(
    "\n",
  );
}

export const LIST = (ctx: CliContext) =>
  new Command("list")
    .description("every loss with its options and defaults (one loss: each option explained)")
    .argument("[loss]", "show one loss in detail")
    .option("--json", "machine-readable")
    .option("--markdown", "the loss table as Markdown (the README's table is this output)")
    .action((loss, o) => listCommand(ctx.io, loss, o));
