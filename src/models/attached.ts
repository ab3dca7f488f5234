/**
 * The kind "attached": a model with a loss attached (attachLoss, `onnx-losses attach`; contract version 2,
 * key onnx_losses.attached). Verification checks the loss, not the model before it.
 */
import type { InitializerInfo, ModelInfo, TensorInfo } from "../builder/reader.js";
import { UserError } from "../errors.js";
import { canonicalJson, META, type ContractOf } from "../model/contract.js";
import { attachmentParts, describeParts, MODEL_INPUT_DOC } from "../losses/attach.js";
import { clip, lossLine, sameInitializer, type ModelKind, type Verifier } from "./common.js";

export const attachedKind: ModelKind<"attached"> = {
  kind: "attached",
  summary: "a model with a loss attached (attachLoss, contract version 2, key onnx_losses.attached)",
  verify: verifyAttached,
  inspect(contract) {
    const a = contract.attached;
    return [
      lossLine(contract),
      `  attached to output ${a.output}: target input ${a.target}${a.weights ? `, weight input${Object.keys(a.weights).length > 1 ? "s" : ""} ${Object.values(a.weights).join(", ")}` : ""}, outputs ${a.loss}${a.gradient ? `, ${a.gradient}` : ""}; the loss's other names start with ${a.prefix}`,
    ];
  },
  // the contract verifies the loss, not the model before it (which may mix rows)
  probeRows: true,
};

/**
 * An attached loss checked against the graph: the loss rebuilt from the contract's loss and options at
 * the model's opset for the attached output, renamed as the contract's `attached` record says, must be
 * the graph's last nodes, with its constants, value_info, target input and outputs; the contract's
 * checks and input docs must be the ones that rebuilt loss gives. So metadata that says less (emptied
 * checks) or something else (another ignoreIndex, another output) than the graph computes is refused.
 */
function verifyAttached(contract: ContractOf<"attached">, info: ModelInfo, v: Verifier): ContractOf<"attached"> {
  const a = contract.attached;
  const { fail } = v;
  const out = info.outputs.find((t) => t.name === a.output) as TensorInfo;
  const these = `${contract.loss} with options ${clip(canonicalJson(contract.options))} attached to output ${a.output}`;
  if ((a.gradient !== null) !== (contract.options.gradient === true)) {
    fail(
      META.attached,
      `gradient ${contract.options.gradient === true ? "an output name" : "null"} (options.gradient is ${String(contract.options.gradient)}), received ${JSON.stringify(a.gradient)}`,
    );
  }
  let parts: ReturnType<typeof attachmentParts>;
  try {
    parts = attachmentParts(
      out,
      contract.loss,
      contract.options,
      { opset: info.opset, dtype: contract.dtype, lowering: contract.lowering },
      a,
    );
  } catch (e) {
    if (e instanceof UserError) return fail(META.options, `${these}: ${e.message}`);
    throw e;
  }
  const expected = describeParts(parts);
  const key = (x: unknown) => canonicalJson(x);
  const tail = info.nodes.slice(info.nodes.length - expected.nodes.length);
  // the model's initializers by name: the loss's constants are found by name, then compared by bytes
  // (never serialized: a model's weights can be gigabytes)
  const byName = new Map<string, InitializerInfo[]>();
  for (const t of info.initializers) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
  const missing = [
    ...(info.nodes.length < expected.nodes.length || key(tail) !== key(expected.nodes)
      ? [`its ${expected.nodes.length} nodes as the graph's last`]
      : []),
    ...expected.initializers.filter((t) => !(byName.get(t.name) ?? []).some((u) => sameInitializer(u, t))).map((t) => `constant ${t.name}`),
    ...expected.valueInfo.filter((t) => !info.valueInfo.some((u) => key(u) === key(t))).map((t) => `value_info ${t.name}`),
    ...expected.inputs
      .filter((t) => !info.inputs.some((u) => key(u) === key(t)))
      .map((t) => `input ${t.name}: ${t.dtype} [${t.shape.join(", ")}]`),
    ...expected.outputs
      .filter((t) => !info.outputs.some((u) => key(u) === key(t)))
      .map((t) => `output ${t.name}: ${t.dtype} [${t.shape.join(", ")}]`),
  ];
  if (missing.length) {
    fail(
      META.options,
      `the graph does not hold what ${these} builds at opset ${info.opset} (missing ${clip(missing.join(", "))}; was it edited after attach?)`,
    );
  }
  // Found is not enough: a second definition of a name the loss reads (an initializer of the same name,
  // a sparse one, a Constant node before the loss) is the one onnxruntime may use, and the loss would
  // compute something else than the graph it was verified as (another ignoreIndex, another gradient).
  const lossNames = new Set([a.target, ...expected.initializers.map((t) => t.name), ...tail.flatMap((n) => [...n.inputs, ...n.outputs])]);
  lossNames.delete(a.output);
  lossNames.delete("");
  const twice = [...definitions(info)].find(([n, kinds]) => kinds.length > 1 && lossNames.has(n));
  if (twice) {
    fail(
      META.options,
      `the graph defines ${twice[0]} ${twice[1].length} times (${twice[1].join(", ")}), where ${these} defines it once (was it edited after attach?)`,
    );
  }
  if (key(parts.checks) !== key(contract.checks)) {
    fail(META.checks, `expected ${clip(key(parts.checks))} (what ${these} needs), received ${clip(key(contract.checks))}`);
  }
  const weightDocs = new Map(parts.weights.map((w) => [w.proto.name as string, w.doc]));
  const docs = info.inputs.map((t) => ({
    name: t.name,
    doc: t.name === a.target ? parts.targetDoc : (weightDocs.get(t.name) ?? MODEL_INPUT_DOC),
  }));
  if (key(docs) !== key(contract.inputs)) fail(META.inputs, `expected ${clip(key(docs))}, received ${clip(key(contract.inputs))}`);
  const lossInput = parts.built.inputs.find((t) => t.name === "input");
  return lossInput ? { ...contract, lossInputShape: [...lossInput.shape] } : contract;
}

/** Each name the graph defines, with what defines it: a graph input, an initializer, a sparse initializer, a node's output. */
function definitions(m: ModelInfo): Map<string, string[]> {
  const defs = new Map<string, string[]>();
  const add = (name: string, kind: string) => {
    if (name) defs.set(name, [...(defs.get(name) ?? []), kind]);
  };
  for (const t of m.inputs) add(t.name, "a graph input");
  for (const t of m.initializers) add(t.name, "an initializer");
  for (const t of m.sparseInitializers) add(t.name, "a sparse initializer");
  for (const n of m.nodes) for (const o of n.outputs) add(o, `the output of a ${n.opType} node`);
  return defs;
}
