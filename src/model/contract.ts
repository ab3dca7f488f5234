/**
 * The model contract: what a model built by onnx-losses says about itself in its metadata, and the one
 * place that writes and reads it. Keys, a version, typed encode and decode of the loss name, its
 * options and the input checks the evaluator runs before onnxruntime.
 *
 * Decoding trusts nothing: malformed JSON, an unknown version or key, a check that names a tensor the
 * graph does not have, or a float type the graph's inputs do not have is a ModelContractError naming the
 * file (the CLI exits 2 on it). A model without any `onnx_losses.*` key is not an onnx-losses model and
 * decodes to undefined: it is evaluated as any ONNX model. Checking the options against the loss's
 * schema needs the catalogue, which sits above this layer: see models/kinds.ts.
 */
import type { Lowering } from "../builder/graph.js";
import type { ModelInfo, TensorInfo } from "../builder/reader.js";
import { UserError } from "../errors.js";
import { FLOAT_DTYPES, isFloatDType, type FloatDType } from "../onnx/dtypes.js";
import { preview as show, preview as short } from "../util/preview.js";
import { isPlainObject } from "../util/schema.js";

/** The contract version of a loss graph (buildLoss, export), which this release writes and reads. */
export const CONTRACT_VERSION = 1;
/**
 * The contract version of a model with a loss attached (attachLoss, `onnx-losses attach`): version 1's
 * keys plus `onnx_losses.attached`. A release that knows only version 1 refuses such a model instead of
 * running it without the loss's input checks.
 */
export const ATTACHED_CONTRACT_VERSION = 2;

/** The metadata keys of the contract. */
export const META = Object.freeze({
  version: "onnx_losses.version",
  loss: "onnx_losses.loss",
  options: "onnx_losses.options",
  checks: "onnx_losses.checks",
  inputs: "onnx_losses.inputs",
  lowering: "onnx_losses.lowering",
  dtype: "onnx_losses.dtype",
  accumulate: "onnx_losses.accumulate",
  outputs: "onnx_losses.outputs",
  step: "onnx_losses.step",
  attached: "onnx_losses.attached",
});

const KNOWN_KEYS: readonly string[] = Object.values(META);
/** The longest metadata value read (a weight list of 10^5 classes is about 2 MB of JSON). */
export const MAX_META_BYTES = 16 * 2 ** 20;
/** The most input checks a model may carry. */
const MAX_CHECKS = 64;

/**
 * A check on input values that the graph cannot make itself, run by the evaluator before onnxruntime.
 * They travel in the model's metadata (`onnx_losses.checks`), so a saved .onnx keeps them.
 */
export type InputCheck =
  /** Integer class indices in [0, C) (C = dim `axis` of `classesOf`), or equal to `ignoreIndex`. */
  | { kind: "classIndex"; tensor: string; classesOf: string; axis: number; ignoreIndex: number | null }
  /** Every value within [min, max]. */
  | { kind: "range"; tensor: string; min: number; max: number }
  /** Dim `axis` of `tensor` at least `min` (why says which option needs it). */
  | { kind: "minDim"; tensor: string; axis: number; min: number; why: string }
  /** `tensor` broadcasts to `to` by PyTorch's rules: of `to`'s rank (fewer dims are read as leading 1s), each dim equal to `to`'s or 1. */
  | { kind: "broadcast"; tensor: string; to: string };

/**
 * A training step built around the loss (written only for such a model): `linear_head`, one
 * gradient-descent step of a linear classifier head with learning rate `lr` (losses/linear_head.ts).
 */
export interface StepContract {
  kind: "linear_head";
  lr: number;
}

/**
 * Where a loss was attached to a model: the loss's `input` is the model's output `output`, its `target`
 * the new graph input `target`, its `loss` the output `loss`, its `input_grad` the output `gradient`
 * (null without the gradient option); every other name of the loss graph carries `prefix`.
 */
export interface AttachedTo {
  output: string;
  target: string;
  loss: string;
  gradient: string | null;
  prefix: string;
  /**
   * The loss's weight tensor inputs (`weight`, `pos_weight`: options "input") as the new graph inputs
   * they became, loss input name -> graph input name; absent where the loss takes none.
   */
  weights?: Record<string, string>;
}

/**
 * The kinds of model onnx-losses writes, one contract each: a catalogue loss graph (buildLoss, export), a
 * training step built around a loss (linearHeadStep, key onnx_losses.step), a model with a loss attached
 * (attachLoss, contract version 2, key onnx_losses.attached). What each kind means to verification,
 * inspect and streaming is one entry of the table in models/kinds.ts.
 */
export const CONTRACT_KINDS = ["loss", "step", "attached"] as const;
export type ContractKind = (typeof CONTRACT_KINDS)[number];

/** What every kind of contract says. */
export interface ContractBase {
  version: number;
  /** The catalogue loss it computes. */
  loss: string;
  /** Its resolved options, as JSON values. */
  options: Record<string, unknown>;
  checks: InputCheck[];
  /** Each graph input's meaning, in graph order. */
  inputs: { name: string; doc: string }[];
  lowering: Lowering;
  dtype: FloatDType;
  /** The type the totals accumulate in, as the graph was built (float32 under the WebGPU lowering). */
  accumulate: "float32" | "float64";
  /** The outputs it was built with: `loss`, or `parts` (loss_sum and weight_sum). */
  outputs: "loss" | "parts";
}

/**
 * What a model built by onnx-losses says about itself: one of its kinds. The kind's own fields are
 * absent (typed never) on the other kinds, so `contract.attached` reads as undefined there; test
 * `contract.kind` to tell them apart.
 */
export type LossContract = ContractBase &
  (
    | {
        /** The loss graph alone. */
        kind: "loss";
        step?: never;
        attached?: never;
        lossInputShape?: never;
      }
    | {
        /** A training step around the loss, not the loss alone (key onnx_losses.step). */
        kind: "step";
        step: StepContract;
        attached?: never;
        lossInputShape?: never;
      }
    | {
        /** A model with a loss attached (contract version 2): where. Its checks may name the attached output. */
        kind: "attached";
        attached: AttachedTo;
        step?: never;
        /**
         * Set by verification (never written as metadata): the shape of the loss's input as the loss
         * builds it, whose numbers (a class count fixed by a weight list) the output the model computes
         * must have.
         */
        lossInputShape?: readonly (number | string)[];
      }
  );

/** The contract of one kind. */
export type ContractOf<K extends ContractKind> = Extract<LossContract, { kind: K }>;

/** What encodeContract writes: a contract of any kind, without the version (the kind decides it) or what verification adds. */
export type ContractFields = LossContract extends infer C
  ? C extends LossContract
    ? Omit<C, "version" | "lossInputShape">
    : never
  : never;

/** Metadata that a model cannot mean: malformed, of an unknown version, or inconsistent with its graph. */
export class ModelContractError extends UserError {
  override name = "ModelContractError";
}

/** JSON with object keys sorted: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/** The metadata entries of a contract (the builder sorts them by key). */
export function encodeContract(c: ContractFields): Record<string, string> {
  return {
    [META.version]: String(c.kind === "attached" ? ATTACHED_CONTRACT_VERSION : CONTRACT_VERSION),
    [META.loss]: c.loss,
    [META.options]: canonicalJson(c.options),
    [META.checks]: canonicalJson(c.checks),
    [META.inputs]: canonicalJson(c.inputs),
    [META.lowering]: c.lowering,
    [META.dtype]: c.dtype,
    [META.accumulate]: c.accumulate,
    [META.outputs]: c.outputs,
    ...(c.kind === "step" ? { [META.step]: canonicalJson(c.step) } : {}),
    ...(c.kind === "attached" ? { [META.attached]: canonicalJson(c.attached) } : {}),
  };
}

/**
 * Keys that are, or look like, onnx-losses keys: `Onnx_Losses.loss` or `onnx_losses_loss` is a renamed
 * key (which would switch the input checks off), not another tool's metadata, and is refused as unknown.
 */
const NEAR_PREFIX = /^onnx[-_ .]?losses/i;

/** Does the model carry any onnx-losses metadata (or keys that look like it)? */
export function hasContract(info: Pick<ModelInfo, "metadata">): boolean {
  return Object.keys(info.metadata).some((k) => NEAR_PREFIX.test(k));
}

/**
 * Read and check a model's contract; undefined for a model without onnx-losses metadata. `what` names
 * the model in errors (a file name). Throws ModelContractError.
 */
export function decodeContract(info: ModelInfo, what = "model"): LossContract | undefined {
  if (!hasContract(info)) return undefined;
  const fail = (key: string, expected: string, got: string): never => {
    throw new ModelContractError(`${what}: metadata ${key}: expected ${expected}, received ${got}`);
  };
  for (const key of Object.keys(info.metadata)) {
    if (NEAR_PREFIX.test(key) && !KNOWN_KEYS.includes(key)) fail(key, `one of the keys ${KNOWN_KEYS.join(", ")}`, "an unknown key");
  }
  const text = (key: string): string => {
    const v = info.metadata[key];
    if (v === undefined) return fail(key, "a value (every onnx_losses key is written together)", "none");
    if (v.length > MAX_META_BYTES) return fail(key, `at most ${MAX_META_BYTES} characters`, `${v.length}`);
    return v;
  };
  const json = (key: string): unknown => {
    const t = text(key);
    try {
      return JSON.parse(t);
    } catch (e) {
      return fail(key, "JSON", `text that does not parse (${(e as Error).message.split("\n")[0]})`);
    }
  };

  const version = info.metadata[META.version];
  if (version !== String(CONTRACT_VERSION) && version !== String(ATTACHED_CONTRACT_VERSION)) {
    const got = version === undefined ? "none" : short(version);
    fail(
      META.version,
      `${CONTRACT_VERSION} (a loss graph) or ${ATTACHED_CONTRACT_VERSION} (a model with a loss attached)`,
      `${got} (written by another release of onnx-losses: export the model again with this one)`,
    );
  }
  const attached = version === String(ATTACHED_CONTRACT_VERSION) ? decodeAttached(info, json(META.attached), fail) : undefined;
  if (!attached && info.metadata[META.attached] !== undefined) {
    fail(
      META.attached,
      `no value in a version ${CONTRACT_VERSION} contract (a loss graph; a model with a loss attached is version ${ATTACHED_CONTRACT_VERSION})`,
      short(info.metadata[META.attached]),
    );
  }
  const loss = text(META.loss);
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(loss)) fail(META.loss, "a loss name", short(loss));

  const options = json(META.options);
  if (!isPlainObject(options)) fail(META.options, "a JSON object", short(text(META.options)));
  for (const [k, v] of Object.entries(options as object)) {
    if (!isOptionValue(v))
      fail(META.options, "option values that are null, booleans, numbers, strings or lists of numbers", `${short(k)}: ${show(v)}`);
  }

  const lowering = text(META.lowering);
  if (lowering !== "none" && lowering !== "webgpu") fail(META.lowering, '"none" or "webgpu"', short(lowering));
  const dtype = text(META.dtype);
  if (!isFloatDType(dtype)) fail(META.dtype, FLOAT_DTYPES.join(" | "), short(dtype));
  if (attached) {
    // the attached output's float type decides the loss's (the model's own inputs may be of any type)
    const out = info.outputs.find((t) => t.name === attached.output) as TensorInfo;
    if (out.dtype !== dtype) fail(META.dtype, `the float type of the attached output (${out.name} is ${out.dtype})`, short(dtype));
  } else {
    const floatInputs = info.inputs.filter((t) => isFloatDType(t.dtype));
    const other = floatInputs.find((t) => t.dtype !== dtype);
    if (other) fail(META.dtype, `the float type of the graph's inputs (${other.name} is ${other.dtype})`, short(dtype));
  }

  // written since the contract records every build option verification needs; a model written before
  // says them through its graph (the type of loss_sum, a loss_sum output), as verification read them then
  const total = [...info.outputs, ...info.valueInfo].find((t) => t.name === "loss_sum");
  const accumulate = info.metadata[META.accumulate] ?? (total?.dtype === "float32" && dtype === "float32" ? "float32" : "float64");
  if (accumulate !== "float32" && accumulate !== "float64") fail(META.accumulate, '"float32" or "float64"', short(accumulate));
  const outputs = info.metadata[META.outputs] ?? (info.outputs.some((o) => o.name === "loss_sum") ? "parts" : "loss");
  if (outputs !== "loss" && outputs !== "parts") fail(META.outputs, '"loss" or "parts"', short(outputs));
  if (attached && outputs !== "loss") fail(META.outputs, '"loss" in a model with a loss attached', short(outputs));

  const inputs = json(META.inputs);
  const graphNames = info.inputs.map((t) => t.name);
  if (
    !Array.isArray(inputs) ||
    inputs.length !== graphNames.length ||
    !inputs.every((e, i) => isPlainObject(e) && e.name === graphNames[i] && typeof e.doc === "string" && Object.keys(e).length === 2)
  ) {
    fail(META.inputs, `one {name, doc} per graph input, in order (${graphNames.join(", ")})`, short(text(META.inputs)));
  }

  const checks = json(META.checks);
  if (!Array.isArray(checks) || checks.length > MAX_CHECKS)
    fail(META.checks, `a list of at most ${MAX_CHECKS} input checks`, short(text(META.checks)));
  // an attached loss's checks may also read the attached output (its class count, its value range):
  // the evaluator runs those on the output onnxruntime returns, or before the run where its dims are fixed
  const checkable = attached ? [...info.inputs, info.outputs.find((t) => t.name === attached.output) as TensorInfo] : info.inputs;
  const checkNames = checkable.map((t) => t.name).join(", ");
  (checks as unknown[]).forEach((c, i) => {
    const why = checkProblem(c, checkable);
    if (why)
      fail(
        META.checks,
        `input checks on the graph's inputs${attached ? " and the attached output" : ""} (${checkNames})`,
        `check ${i} ${why}`,
      );
  });

  let step: StepContract | undefined;
  if (info.metadata[META.step] !== undefined) {
    if (attached) {
      // a model is one kind: a loss graph, a training step around one, or a model with a loss attached
      fail(
        META.step,
        `no value in a model with a loss attached (${META.attached}): a model is a loss, a training step or an attached loss, not two`,
        short(info.metadata[META.step]),
      );
    }
    const s = json(META.step);
    const ok =
      isPlainObject(s) &&
      s.kind === "linear_head" &&
      typeof s.lr === "number" &&
      Number.isFinite(s.lr) &&
      s.lr > 0 &&
      Object.keys(s).length === 2;
    if (!ok) fail(META.step, '{"kind": "linear_head", "lr": a finite number > 0}', short(text(META.step)));
    step = s as unknown as StepContract;
  }

  const base: ContractBase = {
    version: attached ? ATTACHED_CONTRACT_VERSION : CONTRACT_VERSION,
    loss,
    options: options as Record<string, unknown>,
    checks: checks as InputCheck[],
    inputs: inputs as { name: string; doc: string }[],
    lowering: lowering as Lowering,
    dtype: dtype as FloatDType,
    accumulate: accumulate as "float32" | "float64",
    outputs: outputs as "loss" | "parts",
  };
  // one kind: a step and an attachment together were refused above
  if (attached) return { kind: "attached", ...base, attached };
  if (step) return { kind: "step", ...base, step };
  return { kind: "loss", ...base };
}

/** The `onnx_losses.attached` record: well formed, and naming an output, an input and outputs the graph has. */
function decodeAttached(info: ModelInfo, value: unknown, fail: (key: string, expected: string, got: string) => never): AttachedTo {
  const expected =
    "{output, target, loss, gradient, prefix}: the attached output, the target input, the loss output, the gradient output (or null) and the prefix of the loss's names, and weights where the loss takes weight tensors ({loss input: graph input}, 1 to 8 names)";
  const name = (v: unknown) => typeof v === "string" && v.length > 0 && v.length <= 4096;
  const keys = isPlainObject(value) ? Object.keys(value).sort().join(",") : "";
  const weights = isPlainObject(value) ? value.weights : undefined;
  if (
    !isPlainObject(value) ||
    (keys !== "gradient,loss,output,prefix,target" && keys !== "gradient,loss,output,prefix,target,weights") ||
    !name(value.output) ||
    !name(value.target) ||
    !name(value.loss) ||
    !name(value.prefix) ||
    !(value.gradient === null || name(value.gradient)) ||
    (weights !== undefined &&
      (!isPlainObject(weights) ||
        Object.keys(weights).length === 0 ||
        Object.keys(weights).length > 8 ||
        !Object.entries(weights).every(([k, v]) => name(k) && name(v))))
  ) {
    return fail(META.attached, expected, short(info.metadata[META.attached]));
  }
  const a = value as unknown as AttachedTo;
  const isOutput = (n: string) => info.outputs.some((t) => t.name === n);
  if (!isOutput(a.output))
    fail(META.attached, `an output of the graph for output (${info.outputs.map((t) => t.name).join(", ")})`, show(a.output));
  const inputs = `(${info.inputs.map((t) => t.name).join(", ")})`;
  if (!info.inputs.some((t) => t.name === a.target)) fail(META.attached, `an input of the graph for target ${inputs}`, show(a.target));
  for (const [field, n] of [
    ["loss", a.loss],
    ["gradient", a.gradient],
  ] as const) {
    if (n !== null && (!isOutput(n) || n === a.output))
      fail(META.attached, `an output of the graph other than ${a.output} for ${field}`, show(n));
  }
  // each weight input a graph input of its own: not the target, not another weight's
  const seen = new Set([a.target]);
  for (const [k, n] of Object.entries(a.weights ?? {})) {
    if (!info.inputs.some((t) => t.name === n) || seen.has(n))
      fail(META.attached, `an input of the graph other than the target's and the other weights' for weights.${k} ${inputs}`, show(n));
    seen.add(n);
  }
  return {
    output: a.output,
    target: a.target,
    loss: a.loss,
    gradient: a.gradient,
    prefix: a.prefix,
    ...(a.weights ? { weights: { ...a.weights } } : {}),
  };
}

/** What is wrong with one input check, or undefined when it is well formed and names real inputs. */
function checkProblem(c: unknown, inputs: readonly TensorInfo[]): string | undefined {
  if (!isPlainObject(c)) return `${show(c)} is not an object`;
  const tensorOf = (key: string) => inputs.find((t) => t.name === c[key]);
  const keys = (...names: string[]) => {
    const extra = Object.keys(c).filter((k) => !["kind", ...names].includes(k));
    return extra.length ? `has unknown fields ${extra.join(", ")}` : undefined;
  };
  const isInt = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);
  const t = tensorOf("tensor");
  if (!t) return `names tensor ${show(c.tensor)}, which is not a graph input`;
  const rank = t.shape.length;
  switch (c.kind) {
    case "classIndex": {
      const of = tensorOf("classesOf");
      if (!of) return `names classesOf ${show(c.classesOf)}, which is not a graph input`;
      if (t.dtype !== "int64" && t.dtype !== "int32") return `checks class indices of ${t.name}, which is ${t.dtype}, not an integer input`;
      if (!isInt(c.axis) || (c.axis as number) < 0 || (c.axis as number) >= of.shape.length)
        return `has axis ${show(c.axis)}, not a dim of ${of.name}`;
      if (c.ignoreIndex !== null && !isInt(c.ignoreIndex)) return `has ignoreIndex ${show(c.ignoreIndex)}, not null or a safe integer`;
      return keys("tensor", "classesOf", "axis", "ignoreIndex");
    }
    case "range":
      if (!isFloatDType(t.dtype)) return `checks the range of ${t.name}, which is ${t.dtype}, not a float input`;
      if (typeof c.min !== "number" || typeof c.max !== "number" || !Number.isFinite(c.min) || !Number.isFinite(c.max) || c.min > c.max) {
        return "has no finite min <= max";
      }
      return keys("tensor", "min", "max");
    case "minDim":
      if (!isInt(c.axis) || (c.axis as number) < 0 || (c.axis as number) >= rank) return `has axis ${show(c.axis)}, not a dim of ${t.name}`;
      if (!isInt(c.min) || (c.min as number) < 0) return `has min ${show(c.min)}, not a non-negative integer`;
      if (typeof c.why !== "string") return "has no why";
      return keys("tensor", "axis", "min", "why");
    case "broadcast": {
      const to = tensorOf("to");
      if (!to || to === t) return `names to ${show(c.to)}, which is not another graph input`;
      if (to.shape.length !== rank) return `broadcasts ${t.name} (rank ${rank}) to ${to.name} (rank ${to.shape.length})`;
      return keys("tensor", "to");
    }
    default:
      return `has kind ${show(c.kind)}, not classIndex, range, minDim or broadcast`;
  }
}

function isOptionValue(v: unknown): boolean {
  if (v === null || typeof v === "boolean" || typeof v === "string") return true;
  if (typeof v === "number") return Number.isFinite(v);
  return Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x));
}
