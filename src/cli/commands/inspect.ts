import { resolve } from "node:path";
import type { InitializerInfo, ModelInfo, TensorInfo } from "../../builder/reader.js";
import type { LossContract } from "../../model/contract.js";
import { inspectLines } from "../../models/kinds.js";
import { splitChecks } from "../../runtime/validate.js";
import { readModelArg, type CliIo } from "../io.js";
import { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../command.js";

/**
 * `onnx-losses inspect FILE.onnx [--dot] [--json]`: opset, inputs and outputs with shapes, nodes, and
 * for a model built by onnx-losses its contract (loss, options, input checks), verified.
 */
export async function inspectCommand(io: CliIo, file: string, flags: { dot?: boolean; json?: boolean }): Promise<void> {
  const { info, contract } = await readModelArg(resolve(io.cwd, file), file);
  if (flags.dot) io.out(toDot(info));
  else if (flags.json)
    io.out(JSON.stringify({ ...info, initializers: info.initializers.map(jsonInitializer), contract: contract ?? null }, null, 2));
  else io.out(describe(file, info, contract));
}

/** The most values of one initializer `inspect --json` prints (a larger one gives its count only). */
export const MAX_JSON_INITIALIZER_VALUES = 65536;

function jsonInitializer(t: InitializerInfo): Record<string, unknown> {
  return { ...t, ...(t.external || t.count > MAX_JSON_INITIALIZER_VALUES ? {} : { values: t.values }) };
}

/** An initializer's data as `inspect` shows it: up to 8 values, else their count; external data's place. */
function describeData(t: InitializerInfo): string {
  if (t.external)
    return ` external ${t.external.location} offset ${t.external.offset}${Number.isFinite(t.external.length) ? ` length ${t.external.length}` : ""}`;
  return t.count <= 8 ? ` = [${t.values.join(", ")}]` : ` (${t.count} values)`;
}

const sig = (t: TensorInfo) => `${t.name}: ${t.dtype} [${t.shape.join(", ")}]`;

function describe(file: string, m: ModelInfo, contract: LossContract | undefined): string {
  const lines = [
    `${file}`,
    `  ir_version ${m.irVersion}, opset ${m.opsetImports.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ")}, producer ${m.producerName} ${m.producerVersion}`,
  ];
  if (contract) {
    // the loss, and what the model's kind adds to it (models/kinds.ts)
    lines.push(...inspectLines(contract));
    // an attached loss's checks on the model's output run on the run's outputs, after it
    const { before, after } = splitChecks(contract.checks, m.inputs, m.outputs);
    lines.push(`  checks before each run: ${before.length ? before.map(describeCheck).join("; ") : "none"}`);
    if (after.length)
      lines.push(`  checks of each run's outputs (its results are refused when one fails): ${after.map(describeCheck).join("; ")}`);
  }
  lines.push("  inputs:", ...m.inputs.map((t) => `    ${sig(t)}`));
  lines.push("  outputs:", ...m.outputs.map((t) => `    ${sig(t)}`));
  lines.push(`  initializers (${m.initializers.length}):`);
  for (const t of m.initializers) {
    lines.push(`    ${t.name}: ${t.dtype} [${t.shape.join(", ")}]${describeData(t)}`);
  }
  lines.push(`  nodes (${m.nodes.length}):`);
  for (const n of m.nodes) {
    const attrs = Object.entries(n.attributes)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(" ");
    lines.push(`    ${n.outputs.join(", ")} = ${n.opType}(${n.inputs.join(", ")})${attrs ? ` ${attrs}` : ""}`);
  }
  return lines.join("\n");
}

function describeCheck(c: LossContract["checks"][number]): string {
  switch (c.kind) {
    case "classIndex":
      return `${c.tensor} in [0, ${c.classesOf} dim ${c.axis})${c.ignoreIndex === null ? "" : ` or ${c.ignoreIndex}`}`;
    case "range":
      return `${c.tensor} in [${c.min}, ${c.max}]`;
    case "minDim":
      return `${c.tensor} dim ${c.axis} >= ${c.min} (${c.why})`;
    case "broadcast":
      return `${c.tensor} broadcasts to ${c.to} (each dim ${c.to}'s or 1)`;
  }
}

/** Graphviz DOT: inputs and outputs as ellipses, ops as boxes, constants folded into edge labels. */
export function toDot(m: ModelInfo): string {
  const q = (s: string) => JSON.stringify(s);
  const consts = new Map(m.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, string>();
  m.nodes.forEach((n, i) => {
    for (const o of n.outputs) producer.set(o, `n${i}`);
  });
  const lines = [`digraph ${q(m.graphName || "graph")} {`, "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];'];
  for (const t of m.inputs) {
    lines.push(`  ${q(`in:${t.name}`)} [shape=ellipse, label=${q(`${t.name}\n${t.dtype} [${t.shape.join(", ")}]`)}];`);
    producer.set(t.name, `in:${t.name}`);
  }
  m.nodes.forEach((n, i) => {
    const attrs = Object.entries(n.attributes).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    const constArgs = n.inputs
      .filter((x) => consts.has(x))
      .map((x) => {
        const c = consts.get(x)!;
        return !c.external && c.count <= 4 ? `${x}=[${c.values.join(",")}]` : x;
      });
    const label = [n.opType, ...attrs, ...constArgs].join("\n");
    lines.push(`  n${i} [shape=box, style=rounded, label=${q(label)}];`);
  });
  m.nodes.forEach((n, i) => {
    for (const x of n.inputs) {
      const from = producer.get(x);
      if (from) lines.push(`  ${q(from)} -> n${i};`);
    }
  });
  for (const t of m.outputs) {
    lines.push(`  ${q(`out:${t.name}`)} [shape=ellipse, style=bold, label=${q(`${t.name}\n${t.dtype} [${t.shape.join(", ")}]`)}];`);
    const from = producer.get(t.name);
    if (from) lines.push(`  ${q(from)} -> ${q(`out:${t.name}`)};`);
  }
  lines.push("}");
  return lines.join("\n");
}

export const INSPECT = (ctx: CliContext) =>
  new Command("inspect")
    .description("opset, inputs and outputs with shapes, nodes of a .onnx file")
    .argument("<file>", "a .onnx file")
    .option("--dot", "print Graphviz DOT instead")
    .option("--json", "print the decoded model as JSON")
    .action((file, o) => inspectCommand(ctx.io, file, o));
