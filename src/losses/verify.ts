/**
 * The model contract checked against the catalogue: the loss exists, its options parse under the loss's
 * schema (already resolved, as buildLoss writes them), and what those options build has the file's
 * inputs, outputs and input checks. So the checks the evaluator runs are the ones the loss needs, and
 * metadata edited by hand (a changed reduction, emptied checks) is refused instead of believed.
 */
import { readModel, type InitializerInfo, type ModelInfo, type TensorInfo } from "../builder/reader.js";
import { OptionError, UserError } from "../errors.js";
import { canonicalJson, decodeContract, META, ModelContractError, type AttachedTo, type LossContract } from "../model/contract.js";
import { PRODUCER_NAME, PRODUCER_VERSION } from "../version.js";
import { MAX_OPSET, MIN_OPSET, SUPPORTED_OPSETS } from "../onnx/versions.js";
import { getLoss } from "./catalogue.js";
import { buildLoss, resolveLossOptions } from "./index.js";
import { linearHeadStep } from "./linear_head.js";
import { attachmentParts, describeParts, MODEL_INPUT_DOC, refuseDuplicateOpsets } from "./attach.js";

/** A decoded model: what the reader sees and, for a model built by onnx-losses, its verified contract. */
export interface LossModel {
  info: ModelInfo;
  contract?: LossContract;
}

/**
 * Decode model bytes and their contract, verified against the catalogue. `what` names the model in
 * errors. Throws ModelDecodeError or ModelContractError.
 */
export function readLossModel(bytes: Uint8Array, what?: string): LossModel {
  return checkLossModel(readModel(bytes, what), what);
}

/** {@link readLossModel} of an already decoded model. */
export function checkLossModel(info: ModelInfo, what?: string): LossModel {
  const decoded = decodeContract(info, what);
  return { info, contract: decoded && verifyContract(decoded, info, what) };
}

/**
 * Check a decoded contract against the catalogue and the graph; returns it with the options resolved.
 * Throws ModelContractError naming `what`.
 */
export function verifyContract(contract: LossContract, info: ModelInfo, what = "model"): LossContract {
  const fail = (key: string, message: string): never => {
    throw new ModelContractError(`${what}: metadata ${key}: ${message}`);
  };
  const user = <T>(key: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof OptionError) return fail(key, e.message);
      throw e;
    }
  };
  const def = user(META.loss, () => getLoss(contract.loss));
  const resolved = user(META.options, () => resolveLossOptions(def.name, contract.options) as Record<string, unknown>);
  if (canonicalJson(resolved) !== canonicalJson(contract.options)) {
    fail(
      META.options,
      `expected every option of ${def.name} resolved (as onnx-losses writes them), received ${clip(canonicalJson(contract.options))}`,
    );
  }
  refuseDuplicateOpsets(info, what, ModelContractError);
  if (!SUPPORTED_OPSETS.includes(info.opset)) {
    throw new ModelContractError(
      `${what}: opset ${info.opset}: expected an ai.onnx opset from ${MIN_OPSET} to ${MAX_OPSET}, the ones onnx-losses builds`,
    );
  }
  if (contract.attached) return verifyAttached({ ...contract, options: resolved, attached: contract.attached }, info, what);
  const outputs = info.outputs.some((o) => o.name === "loss_sum") ? "parts" : "loss";
  // the type the totals accumulate in (a build option the graph shows: the type of loss_sum)
  const total = [...info.outputs, ...info.valueInfo].find((t) => t.name === "loss_sum");
  const accumulate = total?.dtype === "float32" && contract.dtype === "float32" ? "float32" : "float64";
  const step = contract.step;
  const built = step
    ? user(META.step, () =>
        linearHeadStep(
          def.name,
          resolved,
          { lr: step.lr },
          { opset: info.opset, lowering: contract.lowering, dtype: contract.dtype, accumulate },
        ),
      )
    : user(META.options, () =>
        buildLoss(def.name, resolved, { opset: info.opset, lowering: contract.lowering, dtype: contract.dtype, outputs, accumulate }),
      );
  const expected = readModel(built.model);
  const sig = (ts: readonly TensorInfo[], withType: boolean) =>
    ts.map((t) => `${t.name}: ${withType ? `${t.dtype} ` : ""}[${t.shape.join(", ")}]`).join("; ");
  const these = `${def.name} with options ${clip(canonicalJson(resolved))}${step ? ` in a linear-head step with lr ${step.lr}` : ""}`;
  if (sig(expected.inputs, true) !== sig(info.inputs, true)) {
    fail(META.options, `${these} takes inputs ${sig(expected.inputs, true)}; the graph has ${sig(info.inputs, true)}`);
  }
  if (sig(expected.outputs, false) !== sig(info.outputs, false)) {
    fail(META.options, `${these} gives outputs ${sig(expected.outputs, false)}; the graph has ${sig(info.outputs, false)}`);
  }
  if (canonicalJson(built.checks) !== canonicalJson(contract.checks)) {
    fail(
      META.checks,
      `expected ${clip(canonicalJson(built.checks))} (what ${these} needs), received ${clip(canonicalJson(contract.checks))}`,
    );
  }
  const docs = (ts: readonly { name: string; doc: string }[]) => canonicalJson(ts.map((t) => ({ name: t.name, doc: t.doc })));
  if (docs(built.inputs) !== docs(contract.inputs)) {
    fail(META.inputs, `expected ${clip(docs(built.inputs))} (what ${these} takes), received ${clip(docs(contract.inputs))}`);
  }
  // The graph must be exactly what its options build: the checks the evaluator runs are only as good as
  // the graph they were made for (a graph whose ignoreIndex differs from its metadata's would take a
  // negative target as a class). A model from another release whose graph differs is refused too: its
  // contract cannot be checked against this release's builders.
  if (!sameGraph(expected, info)) {
    const other =
      info.producerName === PRODUCER_NAME && info.producerVersion !== PRODUCER_VERSION
        ? `, and it was written by onnx-losses ${info.producerVersion}: export it again with ${PRODUCER_VERSION}`
        : "";
    fail(
      META.options,
      `the graph is not what ${these} builds at opset ${info.opset}${other} (was it edited after export? a model without onnx_losses metadata is evaluated as any ONNX model, without input checks)`,
    );
  }
  return { ...contract, options: resolved };
}

/**
 * An attached loss checked against the graph: the loss rebuilt from the contract's loss and options at
 * the model's opset for the attached output, renamed as the contract's `attached` record says, must be
 * the graph's last nodes, with its constants, value_info, target input and outputs; the contract's
 * checks and input docs must be the ones that rebuilt loss gives. So metadata that says less (emptied
 * checks) or something else (another ignoreIndex, another output) than the graph computes is refused.
 */
function verifyAttached(contract: LossContract & { attached: AttachedTo }, info: ModelInfo, what: string): LossContract {
  const a = contract.attached;
  const fail = (key: string, message: string): never => {
    throw new ModelContractError(`${what}: metadata ${key}: ${message}`);
  };
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
  const docs = info.inputs.map((t) => ({ name: t.name, doc: t.name === a.target ? parts.targetDoc : MODEL_INPUT_DOC }));
  if (key(docs) !== key(contract.inputs)) fail(META.inputs, `expected ${clip(key(docs))}, received ${clip(key(contract.inputs))}`);
  const lossInput = parts.built.inputs.find((t) => t.name === "input");
  return lossInput ? { ...contract, lossInputShape: [...lossInput.shape] } : contract;
}

/**
 * Two graphs' content, comparable across encoders: nodes, constants (sparse ones too), inputs, outputs
 * and value_info. Constants are compared by name, type, dims and location first, then by their bytes
 * (a byte comparison, never a serialization of the values).
 */
function sameGraph(a: ModelInfo, b: ModelInfo): boolean {
  if (a.initializers.length !== b.initializers.length) return false;
  const shape = (m: ModelInfo) =>
    canonicalJson({
      nodes: m.nodes,
      initializers: m.initializers,
      sparseInitializers: m.sparseInitializers,
      inputs: m.inputs,
      outputs: m.outputs,
      valueInfo: m.valueInfo,
    });
  return shape(a) === shape(b) && a.initializers.every((t, i) => sameInitializer(t, b.initializers[i]));
}

/** The same constant: name, type, dims, external location and bytes. */
function sameInitializer(a: InitializerInfo, b: InitializerInfo): boolean {
  if (
    a.name !== b.name ||
    a.dtype !== b.dtype ||
    canonicalJson(a.shape) !== canonicalJson(b.shape) ||
    canonicalJson(a.external ?? null) !== canonicalJson(b.external ?? null)
  )
    return false;
  const x = a.bytes;
  const y = b.bytes;
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
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

function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}
