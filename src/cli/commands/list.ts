import { CATALOGUE } from "../../losses/index.js";
import { table } from "../format.js";
import type { CliIo } from "../io.js";

/** `onnx-losses list [--json]`: every loss with its options and defaults. */
export function listCommand(io: CliIo, opts: { json?: boolean }): void {
  if (opts.json) {
    io.out(
      JSON.stringify(
        CATALOGUE.map((d) => ({
          name: d.name,
          summary: d.summary,
          pytorch: d.pytorch,
          formula: d.formula,
          options: d.options.map((o) => ({ name: o.name, default: o.default, allowed: o.allowed, doc: o.doc })),
        })),
        null,
        2,
      ),
    );
    return;
  }
  const blocks = CATALOGUE.map((d) => {
    const rows = [["  option", "default", "allowed"], ...d.options.map((o) => [`  ${o.name}`, JSON.stringify(o.default), o.allowed])];
    return `${d.name}: ${d.summary}\n  PyTorch: ${d.pytorch}\n  ${d.formula}\n${table(rows)}`;
  });
  io.out(`${blocks.join("\n\n")}\n\nOptions go in --options as JSON, e.g. --options '{"gamma": 1, "reduction": "sum"}'.`);
}
