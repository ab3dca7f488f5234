import type { Dim, Graph, Lowering, Value } from "../builder/graph.js";
import type { DType, FloatDType } from "../onnx/dtypes.js";
import type { InputCheck } from "../model/contract.js";
import type { InferOptions, NamedOptionSpec, OptionSchema, OptionSpec } from "./options.js";
import type { LossBuilder } from "./parts/host.js";

export type { InputCheck };

/** A graph input or output: name, element type, shape (symbolic dims by name) and meaning. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: Dim[];
  doc: string;
  /** What a loss's input or target holds, typed (the doc is its words): what callers dispatch on, never the doc. */
  kind?: InputKind;
}

/** What a loss's inputs hold, and the doc each kind's input carries (the contract's input docs). */
export const INPUT_KINDS = {
  logits: "logits",
  "log-probabilities": "log-probabilities",
  probabilities: "probabilities in [0, 1]",
  "class-indices": "class indices in [0, C) or ignoreIndex",
  "class-probabilities": "class probabilities, shaped like input",
  "binary-targets": "targets in [0, 1], shaped like input",
  weights: "weights broadcast to input (each dim equal to input's or 1; fewer dims are leading 1s)",
  "class-weights": "per-class weights [C], C the classes of input",
} as const;
export type InputKind = keyof typeof INPUT_KINDS;

/** A built loss: the model bytes and what a caller needs to feed it. */
export interface LossGraph<O = Record<string, unknown>, D extends FloatDType = FloatDType, M extends "loss" | "parts" = "loss" | "parts"> {
  /** Catalogue name, e.g. `cross_entropy`. */
  name: string;
  /** The resolved options (defaults filled in). */
  options: O;
  opset: number;
  lowering: Lowering;
  /** The float type of its float inputs and outputs (the build option dtype; a literal type where the option is one). */
  dtype: D;
  /** The type the totals accumulate in, as built (float32 under the WebGPU lowering, float64 for float64 graphs). */
  accumulate: "float32" | "float64";
  /** The build option `outputs` it was built with: `loss`, or `parts` (loss_sum and weight_sum, see BuildOptions.outputs). */
  outputMode: M;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  checks: InputCheck[];
  /** ONNX ModelProto bytes. */
  model: Uint8Array;
}

/** Passed to a loss's build: the Graph options. */
export interface BuildContext {
  opset: number;
  lowering: Lowering;
  accumulate: "float64" | "float32";
  /** "loss" (the default), or "parts": `loss_sum` and `weight_sum` for combining over chunks. */
  outputs: "loss" | "parts";
  /** The float type of float inputs and the output. */
  dtype: FloatDType;
  /**
   * Sum elementwise losses in row chunks, and long sums in blocks, where they would be (default true).
   * False builds the graph a small batch runs fastest, without the slicing and the blocks: the
   * evaluator's small-batch variant ({@link smallBatchModel}), never written to a file.
   */
  chunks?: boolean;
}

/** What a loss's build returns; buildLoss wraps it into a LossGraph. */
export interface BuiltParts {
  graph: Graph;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  checks: InputCheck[];
  doc: string;
  /** Built into a host graph (a LossBuilder over one): the loss value, and d loss / d input (float type) with gradient: true. */
  values?: { loss: Value; inputGrad?: Value };
}

/**
 * One loss: its docs, its option schema and its graph. The type of the options that `check` and `build`
 * receive is inferred from the schema, so a loss file writes each option once. Made by {@link defineLoss}.
 */
export interface LossDefinition<N extends string = string, S extends OptionSchema = OptionSchema> {
  /** The catalogue name, e.g. `cross_entropy`. */
  readonly name: N;
  /** One line: what it computes. */
  readonly summary: string;
  /** The PyTorch call it matches. */
  readonly pytorch: string;
  /** The per-item formula, plain text. */
  readonly formula: string;
  /** The option schema: name -> spec, in the order help texts list them. */
  readonly options: S;
  /** The same options as a list with their names (derived from `options`). */
  readonly optionList: readonly NamedOptionSpec[];
  /** Cross-option checks after each option passed on its own; throws OptionError. */
  check?(options: InferOptions<S>): void;
  /** Append the loss to `b.graph` (a fresh graph made with the build options, or a host's), through `b`. */
  build(options: InferOptions<S>, b: LossBuilder): BuiltParts;
}

/** The resolved options of a loss definition. */
export type OptionsOf<D> = D extends LossDefinition<string, infer S> ? InferOptions<S> : never;

/**
 * Define a loss. The options type comes from the schema: no cast and no interface written beside it.
 *
 * @example
 * export const myLoss = defineLoss({
 *   name: "my_loss",
 *   summary: "...", pytorch: "...", formula: "...",
 *   options: { reduction: reductionOption, gamma: numberIn("Focusing exponent.", 2, 0) },
 *   build(o, b) { ... o.gamma is a number, o.reduction "mean" | "sum" | "none"; b.input, b.finish ... },
 * });
 */
export function defineLoss<const N extends string, S extends OptionSchema>(
  definition: Omit<LossDefinition<N, S & GradientSchema>, "optionList" | "options"> & { options: S },
): LossDefinition<N, S & GradientSchema> {
  const options = { ...definition.options, gradient: gradientOption } as S & GradientSchema;
  const optionList = Object.freeze(Object.entries(options).map(([name, spec]) => Object.freeze({ ...spec, name })));
  return Object.freeze({ ...definition, options, optionList });
}

/** The option every loss takes last: also output `input_grad`, d loss / d input, in closed form in the same graph. */
export const gradientOption: OptionSpec<boolean> = {
  doc: "Also output input_grad: d loss / d input, in closed form in the same graph (for reduction none, of the sum of the items).",
  allowed: "true | false",
  default: false,
  parse: (v) => (typeof v === "boolean" ? { ok: true, value: v } : { ok: false }),
};

/** The schema part every loss shares (added by defineLoss). */
export type GradientSchema = { gradient: OptionSpec<boolean> };
