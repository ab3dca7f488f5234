import type { Dim } from "../builder/graph.js";
import type { DType } from "../onnx/dtypes.js";
import type { OptionSpec } from "./options.js";

/** A graph input or output: name, element type, shape (symbolic dims by name) and meaning. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: Dim[];
  doc: string;
}

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
  | { kind: "minDim"; tensor: string; axis: number; min: number; why: string };

/** A built loss: the model bytes and what a caller needs to feed it. */
export interface LossGraph {
  /** Catalogue name, e.g. `cross_entropy`. */
  name: string;
  /** The resolved options (defaults filled in). */
  options: Record<string, unknown>;
  opset: number;
  lowering: import("../builder/graph.js").Lowering;
  dtype: "float32" | "float16" | "float64";
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  checks: InputCheck[];
  /** ONNX ModelProto bytes. */
  model: Uint8Array;
}

/** What a loss file exports: its option schema, docs, and graph function. */
export interface LossDefinition {
  name: string;
  /** One line: what it computes. */
  summary: string;
  /** The PyTorch call it matches. */
  pytorch: string;
  /** The per-item formula, plain text. */
  formula: string;
  options: readonly OptionSpec[];
  /** Cross-option checks after each option passed on its own; throw OptionError. */
  check?: (o: Record<string, unknown>) => void;
  /** Append the loss to a fresh builder graph context. */
  build: (o: Record<string, unknown>, ctx: BuildContext) => BuiltParts;
}

/** Passed to a loss's build: the Graph options. */
export interface BuildContext {
  opset: number;
  lowering: import("../builder/graph.js").Lowering;
  accumulate: "float64" | "float32";
  /** "loss" (the default), or "parts": `loss_sum` and `weight_sum` for combining over chunks. */
  outputs: "loss" | "parts";
  /** The float type of float inputs and the output. */
  dtype: "float32" | "float16" | "float64";
}

/** What a loss's build returns; buildLoss wraps it into a LossGraph. */
export interface BuiltParts {
  graph: import("../builder/graph.js").Graph;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  checks: InputCheck[];
  doc: string;
}
