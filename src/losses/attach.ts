/**
 * Attach a catalogue loss to a model: the model's graph with the loss appended to one of its outputs,
 * a new graph input for the target, the loss output (and with the gradient option d loss / d output),
 * the model's own outputs, initializers, metadata and opset imports kept.
 *
 * The loss is built by buildLoss at the model's ai.onnx opset, for the output's rank and float type,
 * then renamed: its `input` becomes the model's output, `target`, `loss` and `input_grad` the names
 * the caller chose, and every other name (values, nodes, constants, value_info) gets a prefix no name
 * of the model starts with. The same renaming, from the contract's record of it, is what
 * models/attached.ts rebuilds to check an attached model's graph against its metadata.
 */
import { describeModel, type ModelInfo, negativeDimAxis, type TensorInfo } from "../builder/reader.js";
import { listOptionsOfLength } from "../util/names.js";
import { booleanField, checkFields, type Field, type FieldsOf, objectField, required } from "../util/schema.js";
import type { Dim } from "../builder/graph.js";
import { decodeModel, encodeModel, onnx } from "../onnx/codec.js";
import { isFloatDType, onnxDataType, type DType, type FloatDType } from "../onnx/dtypes.js";
import { irVersionForOpset, MAX_OPSET, MIN_OPSET, SUPPORTED_OPSETS } from "../onnx/versions.js";
import { canonicalJson, encodeContract, hasContract, type AttachedTo, type InputCheck } from "../model/contract.js";
import { OptionError, type UserError, WordedError } from "../errors.js";
import { getLoss } from "./catalogue.js";
import { buildLoss } from "./index.js";
import type { LossGraph } from "./types.js";

/** What {@link attachLoss} attaches, and where. */
export type AttachOptions = FieldsOf<typeof ATTACH_FIELDS>;

/** A model with a loss attached; `Out` is the name of the output the loss was attached to. */
export interface AttachedLoss<Out extends string = string> {
  /** ONNX ModelProto bytes. */
  model: Uint8Array;
  /** The catalogue loss and its resolved options. */
  loss: string;
  options: Record<string, unknown>;
  /** The model's ai.onnx opset, at which the loss was built. */
  opset: number;
  /** The float type of the attached output, and so of the loss. */
  dtype: FloatDType;
  /** Where: the output, the target input, the loss and gradient outputs, the prefix of the loss's names. */
  attached: AttachedTo & { output: Out };
  /** The target input as the graph declares it. */
  target: TensorInfo;
  /** The weight tensor inputs (options "input") as the graph declares them, in graph order; empty where the loss takes none. */
  weights: TensorInfo[];
  /** The input checks the evaluator runs (they may read the attached output). */
  checks: InputCheck[];
}

/** Said of the model's inputs in the attached contract's input docs. */
export const MODEL_INPUT_DOC = "an input of the model";

/** The loss graph renamed into a model: what attaching appends, and what verifying expects to find. */
export interface AttachmentParts {
  built: LossGraph;
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  valueInfo: onnx.IValueInfoProto[];
  target: onnx.IValueInfoProto;
  /** The weight tensor inputs (the loss's inputs other than input and target), renamed, with their docs. */
  weights: { proto: onnx.IValueInfoProto; doc: string }[];
  /** The loss output, then the gradient output when there is one. */
  outputs: onnx.IValueInfoProto[];
  checks: InputCheck[];
  targetDoc: string;
}

/**
 * Build `loss` with `options` (already containing rank and gradient) for the model output `out` at
 * `opset`, and rename it as `names` says. Throws OptionError for options the loss refuses, and a
 * UserError naming the output when the loss's input does not fit it.
 */
export function attachmentParts(
  out: TensorInfo,
  loss: string,
  options: Record<string, unknown>,
  build: { opset: number; dtype: FloatDType; lowering?: "none" | "webgpu" },
  names: AttachedTo,
  prebuilt?: LossGraph,
): AttachmentParts {
  const built = prebuilt ?? buildLoss(loss, options, { opset: build.opset, dtype: build.dtype, lowering: build.lowering });
  const lossInput = built.inputs.find((t) => t.name === "input");
  if (!lossInput) throw new Error(`${built.name}: expected an input named input`);
  const shown = `[${out.shape.join(", ")}]`;
  const negative = negativeDimAxis(out.shape);
  if (negative >= 0) {
    // a dim value the ONNX format forbids: the loss would be built for it (a class count of -5)
    throw new AttachError(
      `output ${out.name}: expected dims >= 0 in its declared shape, received dim ${negative} = ${String(out.shape[negative])} in ${shown}`,
    );
  }
  if (lossInput.shape.length !== out.shape.length) {
    throw new AttachError(
      `output ${out.name}: expected rank ${lossInput.shape.length} (${built.name}'s input [${lossInput.shape.join(", ")}] with options.rank ${String(built.options.rank)}), received rank ${out.shape.length} ${shown}`,
    );
  }
  // the loss's symbolic dims take the output's dims (N of the loss is the model's batch dim, ...)
  const dims = new Map<string, Dim>();
  lossInput.shape.forEach((d, axis) => {
    const have = out.shape[axis];
    if (typeof d === "number") {
      if (typeof have === "number" && have !== d) {
        const fixedBy = listOptionsOfLength(built.options, d).map((k) => `option ${k}`);
        const why = fixedBy.length ? `; ${d} is the length of ${fixedBy.join(" and ")}` : "";
        throw new AttachError(
          `output ${out.name}: expected dim ${axis} = ${d} (${built.name}'s input [${lossInput.shape.join(", ")}]${why}), received ${shown}`,
        );
      }
    } else if (!dims.has(d)) {
      dims.set(d, have);
    }
  });
  // the loss's weight tensor inputs (weight, pos_weight) become graph inputs under the names the record
  // gives, their own dims (weight_d0, ..) named after them
  const extra = lossWeightInputs(built);
  const weights = names.weights ?? {};
  const unnamed = extra.filter((n) => !Object.hasOwn(weights, n));
  const unused = Object.keys(weights).filter((n) => !extra.includes(n));
  if (unnamed.length > 0 || unused.length > 0) {
    throw new AttachError(
      `${built.name}: expected graph input names for its weight tensor inputs (${extra.join(", ") || "none"}), received names for ${Object.keys(weights).join(", ") || "none"}`,
    );
  }
  const mapDim = (d: Dim): Dim => {
    if (typeof d === "number") return d;
    if (dims.has(d)) return dims.get(d) as Dim;
    const own = /^(.*)_d(\d+)$/.exec(d);
    if (own && Object.hasOwn(weights, own[1])) return weightDim(weights[own[1]], Number(own[2]));
    return d;
  };
  const rename = (n: string | null | undefined): string => {
    if (!n) return "";
    if (n === "input") return out.name;
    if (n === "target") return names.target;
    if (Object.hasOwn(weights, n)) return weights[n];
    if (n === "loss") return names.loss;
    if (n === "input_grad") {
      if (names.gradient === null) throw new Error("attach: a gradient output without a gradient name");
      return names.gradient;
    }
    return `${names.prefix}${n}`;
  };
  const proto = decodeModel(built.model);
  const g = proto.graph as onnx.GraphProto;
  const retype = (v: onnx.IValueInfoProto, name: string): onnx.IValueInfoProto => {
    const t = v.type?.tensorType;
    const shape = (t?.shape?.dim ?? []).map((d) => mapDim(d.dimParam ? d.dimParam : Number(d.dimValue)));
    return valueInfo(name, t?.elemType ?? 0, shape);
  };
  // decoded messages keep the fields that were set as own properties: a spread copies them
  const nodes: onnx.INodeProto[] = g.node.map((n) => ({
    ...n,
    name: rename(n.name),
    input: (n.input ?? []).map(rename),
    output: (n.output ?? []).map(rename),
  }));
  const initializers: onnx.ITensorProto[] = g.initializer.map((t) => ({ ...t, name: rename(t.name) }));
  const valueInfos = g.valueInfo.map((v) => retype(v, rename(v.name)));
  const targetProto = g.input.find((v) => v.name === "target");
  if (!targetProto) throw new Error(`${built.name}: expected an input named target`);
  const outputs = g.output.map((v) => (v.name === "input_grad" ? valueInfoOf(out, rename(v.name)) : retype(v, rename(v.name))));
  const checks = built.checks.map((c) => {
    const r = { ...c, tensor: rename(c.tensor) };
    if (c.kind === "classIndex") return { ...r, classesOf: rename(c.classesOf) };
    return c.kind === "broadcast" ? { ...r, to: rename(c.to) } : r;
  }) as InputCheck[];
  const weightProtos = extra.map((n) => {
    const proto = g.input.find((v) => v.name === n) as onnx.IValueInfoProto;
    return { proto: retype(proto, weights[n]), doc: built.inputs.find((t) => t.name === n)?.doc ?? "" };
  });
  return {
    built,
    nodes,
    initializers,
    valueInfo: valueInfos,
    target: retype(targetProto, names.target),
    weights: weightProtos,
    outputs,
    checks,
    targetDoc: built.inputs.find((t) => t.name === "target")?.doc ?? "",
  };
}

/** A name the caller chose that the model already uses, an output it lacks, a model it cannot take. */
export class AttachError extends WordedError {
  override name = "AttachError";
}

/** The longest name attachLoss takes for an output, loss or input (a name also becomes file names and node names). */
export const MAX_NAME_LENGTH = 4096;

/** A name attachLoss takes: non-empty, at most MAX_NAME_LENGTH characters. */
const nameField: Field<string> = {
  allowed: "a non-empty name",
  parse: (v) => {
    if (typeof v !== "string" || v.length === 0) return { ok: false };
    if (v.length > MAX_NAME_LENGTH)
      return {
        ok: false,
        expected: `a name of at most ${MAX_NAME_LENGTH} characters`,
        received: `one of ${v.length} (${JSON.stringify(v.slice(0, 40))}...)`,
      };
    return { ok: true, value: v };
  },
};

/** The fields of {@link AttachOptions}: the one declaration of its keys, values and docs. */
export const ATTACH_FIELDS = {
  /** The model output the loss reads (its `input`: logits, log-probabilities or probabilities). */
  output: required(nameField),
  /** A catalogue loss name. */
  loss: required(nameField),
  /** The loss's options (`gradient: true` also outputs `<output>_grad`, d loss / d output); `rank` defaults to the output's rank. */
  options: objectField("an object of the loss's options"),
  /**
   * @deprecated The loss option: pass `options: { gradient: true }`. Until 0.2.0 this key is read as
   * that option (and refused where the option says otherwise).
   */
  gradient: booleanField,
  /** The name of the new graph input for the target (default `target`). */
  targetInput: nameField,
  /** The name of the loss output (default `loss`). */
  lossOutput: nameField,
  /** The name of the new graph input for the weight tensor (option weight "input"; default `weight`). */
  weightInput: nameField,
  /** The name of the new graph input for the positive-example weight tensor (option posWeight "input"; default `pos_weight`). */
  posWeightInput: nameField,
} as const;

/** The attach fields that name a weight tensor input of the loss, by that input's name in the loss graph. */
const WEIGHT_NAME_FIELDS = { weight: "weightInput", pos_weight: "posWeightInput" } as const;

/** A loss's weight tensor inputs (options "input"): its graph inputs other than input and target, in graph order. */
export function lossWeightInputs(built: LossGraph): string[] {
  return built.inputs.map((t) => t.name).filter((n) => n !== "input" && n !== "target");
}

/** Dim `axis` of the weight tensor input `name` of an attached model: its own, named after it (as the loss names weight_d0, ..). */
export function weightDim(name: string, axis: number): string {
  return `${name}_d${axis}`;
}

/**
 * Attach a catalogue loss to a model's output. `what` names the model in errors (a file name).
 * @example
 * const { model } = attachLoss(fs.readFileSync("mlp.onnx"), { output: "logits", loss: "cross_entropy", options: { gradient: true } });
 * // inputs: the model's, then target; outputs: the model's, then loss and logits_grad
 */
export function attachLoss<Out extends string = string>(
  modelBytes: Uint8Array,
  spec: AttachOptions & { output: Out },
  what = "model",
): AttachedLoss<Out> {
  const given = checkFields({ subject: "attachLoss", form: "options {output, loss, ...}", required: true }, ATTACH_FIELDS, spec);
  const output = given.output;
  const lossName = given.loss;
  getLoss(lossName); // an unknown loss is named before anything else
  const target = given.targetInput ?? "target";
  const lossOutput = given.lossOutput ?? "loss";
  let options = given.options ?? {};
  if (given.gradient !== undefined) {
    // the old spelling of the loss option (until 0.2.0)
    if (options.gradient !== undefined && options.gradient !== given.gradient)
      throw new OptionError(
        `gradient ${given.gradient} and options.gradient ${JSON.stringify(options.gradient)} disagree (gradient is the loss option: pass options.gradient alone)`,
      );
    options = { ...options, gradient: given.gradient };
  }
  const gradient = options.gradient === true;

  const proto = decodeModel(modelBytes, what);
  const info = describeModel(proto, what);
  if (hasContract(info)) {
    throw new AttachError(
      `${what}: expected a model without onnx_losses metadata, received one that has it (${info.metadata["onnx_losses.loss"] ?? `keys ${Object.keys(info.metadata).join(", ")}`}): attach to the model the loss is not in yet`,
    );
  }
  refuseDuplicateOpsets(info, what, AttachError);
  if (!SUPPORTED_OPSETS.includes(info.opset)) {
    throw new AttachError(
      `${what}: expected a model of ai.onnx opset ${MIN_OPSET} to ${MAX_OPSET} (the loss is built at the model's opset), received ${info.opset === 0 ? "a model without an ai.onnx opset" : `opset ${info.opset}`}${info.opset > 0 && info.opset < MIN_OPSET ? ": convert the model to a newer opset first (onnx.version_converter)" : ""}`,
    );
  }
  // a dim value the ONNX format forbids in a declared input (evaluation would then ask for a dim of -5)
  for (const t of info.inputs) {
    const negative = negativeDimAxis(t.shape);
    if (negative >= 0) {
      throw new AttachError(
        `${what}: input ${t.name}: expected dims >= 0 in its declared shape, received dim ${negative} = ${String(t.shape[negative])} in [${t.shape.join(", ")}]`,
      );
    }
  }
  const out = info.outputs.find((t) => t.name === output);
  if (!out)
    throw AttachError.worded(
      (name) =>
        `${name("output")}: expected one of the model's outputs (${info.outputs.map((t) => t.name).join(", ")}), received ${JSON.stringify(output)}`,
    );
  const outProto = proto.graph?.output?.find((v) => v.name === output);
  if (!outProto?.type?.tensorType?.shape)
    throw new AttachError(
      `output ${output}: expected a tensor of known rank (the loss is built for it), received an output without a shape`,
    );
  if (!isFloatDType(out.dtype))
    throw new AttachError(`output ${output}: expected float16, float32 or float64 (the loss's input), received ${out.dtype}`);
  const dtype = out.dtype as FloatDType;

  const rank = out.shape.length;
  // options.gradient as given (the loss refuses one that is not a boolean), else the gradient flag
  const lossOptions = { rank, ...options, ...(options.gradient === undefined ? { gradient } : {}) };
  let built: LossGraph;
  try {
    built = buildLoss(lossName, lossOptions, { opset: info.opset, dtype });
  } catch (e) {
    if (e instanceof OptionError && options.rank === undefined && e.problem?.path[0] === "rank") {
      throw new AttachError(`output ${output}: ${lossName} cannot take its rank ${rank} [${out.shape.join(", ")}]: ${e.message}`);
    }
    throw e;
  }
  // the loss's weight tensor inputs (options "input") become new graph inputs too, named as chosen
  const extra = lossWeightInputs(built);
  const weights: Record<string, string> = {};
  const weightChosen: [string, string][] = [];
  for (const n of extra) {
    const field = WEIGHT_NAME_FIELDS[n as keyof typeof WEIGHT_NAME_FIELDS] as "weightInput" | "posWeightInput" | undefined;
    weights[n] = (field && given[field]) || n;
    weightChosen.push([field ?? `weight input ${n}`, weights[n]]);
  }
  for (const [n, field] of Object.entries(WEIGHT_NAME_FIELDS)) {
    if (given[field] !== undefined && !extra.includes(n))
      throw AttachError.worded(
        (name) =>
          `${name(field)}: expected a loss that takes a weight tensor input ${n} (its option ${n === "weight" ? "weight" : "posWeight"} "input"), received ${lossName} with options ${canonicalJson(built.options)}`,
      );
  }

  // every name in the model, subgraphs included: the names the loss brings must all be new
  const taken = modelNames(proto.graph as onnx.GraphProto);
  const gradName = gradient ? `${output}_grad` : null;
  const chosen: [string, string][] = [
    ["targetInput", target],
    ["lossOutput", lossOutput],
    ...(gradName ? ([["gradient output", gradName]] as [string, string][]) : []),
    ...weightChosen,
  ];
  // the gradient output's name is not chosen but made from the output's: a message about it says how
  const made = ` (the gradient of ${output} is always named ${output}_grad: rename that value of the model, or attach without the gradient)`;
  for (const [key, n] of chosen) {
    if (taken.has(n))
      throw AttachError.worded(
        (name) =>
          `${name(key)}: expected a name the model does not use, received ${JSON.stringify(n)}, which the model already has${n === gradName ? made : ""}`,
      );
  }
  for (let i = 0; i < chosen.length; i++) {
    for (let j = i + 1; j < chosen.length; j++) {
      // name the one the caller chose (targetInput, lossOutput), not the gradient output
      const [a, b] = chosen[j][1] === gradName ? [chosen[j], chosen[i]] : [chosen[i], chosen[j]];
      if (a[1] === b[1])
        throw AttachError.worded(
          (name) =>
            `${name(b[0])}: expected a name other than ${a[1] === gradName ? `the gradient output's (${output}_grad)` : `${name(a[0])}'s`}, received ${JSON.stringify(b[1])} for both`,
        );
    }
  }
  const all = [...taken, ...chosen.map(([, n]) => n)];
  let prefix = "onnx_losses/";
  for (let k = 1; all.some((n) => n.startsWith(prefix)); k++) prefix = `onnx_losses_${k}/`;
  const names: AttachedTo = { output, target, loss: lossOutput, gradient: gradName, prefix, ...(extra.length ? { weights } : {}) };
  // a weight input's own dims (weight_d0, ..) must be new dim names: the evaluator binds dims of one
  // name across the inputs, and a model dim of that name would tie the weight's dim to it
  const dimNames = modelDimNames(proto.graph as onnx.GraphProto);
  for (const [i, n] of extra.entries()) {
    const [field, chosenName] = weightChosen[i];
    const weightRank = built.inputs.find((t) => t.name === n)?.shape.length ?? 0;
    for (let axis = 0; axis < weightRank; axis++) {
      const d = weightDim(chosenName, axis);
      if (dimNames.has(d))
        throw AttachError.worded(
          (name) =>
            `${name(field)}: expected a name whose dims (${weightDim(chosenName, 0)}, ..) the model does not use, received ${JSON.stringify(chosenName)}, and the model has a dim named ${d}`,
        );
    }
  }

  const parts = attachmentParts(out, lossName, lossOptions, { opset: info.opset, dtype }, names, built);
  const graph = proto.graph as onnx.GraphProto;
  const contract = encodeContract({
    kind: "attached",
    loss: built.name,
    options: built.options,
    checks: parts.checks,
    inputs: [
      ...info.inputs.map((t) => ({ name: t.name, doc: MODEL_INPUT_DOC })),
      { name: target, doc: parts.targetDoc },
      ...parts.weights.map((w) => ({ name: w.proto.name as string, doc: w.doc })),
    ],
    lowering: "none",
    dtype,
    accumulate: built.accumulate,
    outputs: "loss",
    attached: names,
  });
  const metadata = [
    ...proto.metadataProps.map((p) => ({ key: p.key, value: p.value })),
    ...Object.keys(contract)
      .sort()
      .map((key) => ({ key, value: contract[key] })),
  ];
  const model: onnx.IModelProto = {
    ...proto,
    irVersion: Math.max(info.irVersion, irVersionForOpset(info.opset)),
    metadataProps: metadata,
    graph: {
      ...graph,
      node: [...graph.node, ...parts.nodes],
      initializer: [...graph.initializer, ...parts.initializers],
      input: [...graph.input, parts.target, ...parts.weights.map((w) => w.proto)],
      output: [...graph.output, ...parts.outputs],
      valueInfo: [...graph.valueInfo, ...parts.valueInfo],
    },
  };
  const bytes = encodeModel(model);
  const written = describeModel(decodeModel(bytes)).inputs;
  const targetInfo = written.find((t) => t.name === target) as TensorInfo;
  const weightInfos = parts.weights.map((w) => written.find((t) => t.name === w.proto.name) as TensorInfo);
  return {
    model: bytes,
    loss: built.name,
    options: built.options,
    opset: info.opset,
    dtype,
    attached: names as AttachedTo & { output: Out },
    target: targetInfo,
    weights: weightInfos,
    checks: parts.checks,
  };
}

/** Every symbolic dim name of a graph's inputs, outputs and value_info. */
function modelDimNames(g: onnx.IGraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])])
    for (const d of v.type?.tensorType?.shape?.dim ?? []) if (d.dimParam) names.add(d.dimParam);
  return names;
}

/**
 * Refuse a model that imports one domain twice ("" and "ai.onnx" are one domain): the reader and attach
 * take the first, onnxruntime the last, so a loss built (or verified) at one opset would run at another.
 */
export function refuseDuplicateOpsets(info: ModelInfo, what: string, Err: new (message: string) => UserError): void {
  const seen = new Map<string, number>();
  for (const o of info.opsetImports) {
    const domain = o.domain === "ai.onnx" ? "" : o.domain;
    const first = seen.get(domain);
    if (first !== undefined) {
      throw new Err(
        `${what}: expected one opset import per domain, received ${domain || "ai.onnx"} twice (versions ${first} and ${o.version}; onnxruntime would use the last, the loss is built at the first)`,
      );
    }
    seen.set(domain, o.version);
  }
}

/** Every value, node and initializer name of a graph and its subgraphs. */
export function modelNames(g: onnx.IGraphProto, into = new Set<string>()): Set<string> {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) if (v.name) into.add(v.name);
  for (const t of [...(g.initializer ?? []), ...(g.sparseInitializer ?? []).map((s) => s.values ?? {})]) if (t.name) into.add(t.name);
  for (const n of g.node ?? []) {
    if (n.name) into.add(n.name);
    for (const x of [...(n.input ?? []), ...(n.output ?? [])]) if (x) into.add(x);
    for (const a of n.attribute ?? []) {
      if (a.g) modelNames(a.g, into);
      for (const s of a.graphs ?? []) modelNames(s, into);
    }
  }
  return into;
}

/** A value_info with the given element type and dims ("?" for an unknown dim). */
function valueInfo(name: string, elemType: number, shape: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : d === "?" ? {} : { dimParam: d })) },
      },
    },
  };
}

function valueInfoOf(t: TensorInfo, name: string): onnx.IValueInfoProto {
  return valueInfo(name, onnxDataType(t.dtype as DType), t.shape);
}

/** @internal The parts of an attached model's info that verification compares (for messages). */
export function describeParts(parts: AttachmentParts): ModelInfo {
  return describeModel(
    new onnx.ModelProto({
      graph: {
        node: parts.nodes,
        initializer: parts.initializers,
        valueInfo: parts.valueInfo,
        input: [parts.target, ...parts.weights.map((w) => w.proto)],
        output: parts.outputs,
      },
    }),
  );
}
