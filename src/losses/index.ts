/** Build catalogue losses as ONNX graphs. */
import type { Lowering } from "../builder/graph.js";
import { DEFAULT_OPSET, irVersionForOpset, MAX_OPSET, MIN_OPSET } from "../onnx/versions.js";
import { getLoss } from "./catalogue.js";
import { OptionError, resolveOptions } from "./options.js";
import type { LossGraph } from "./types.js";

export { CATALOGUE, LOSS_NAMES, getLoss } from "./catalogue.js";
export { OptionError, type OptionSpec, type Reduction } from "./options.js";
export type { InputCheck, LossDefinition, LossGraph, TensorSpec } from "./types.js";
import type { BinaryCrossEntropyOptions } from "./binary_cross_entropy.js";
import type { BinaryCrossEntropyWithLogitsOptions } from "./binary_cross_entropy_with_logits.js";
import type { CrossEntropyOptions } from "./cross_entropy.js";
import type { NllLossOptions } from "./nll_loss.js";
import type { SigmoidFocalLossOptions } from "./sigmoid_focal_loss.js";
import type { SoftmaxFocalLossOptions } from "./softmax_focal_loss.js";
export type {
  BinaryCrossEntropyOptions,
  BinaryCrossEntropyWithLogitsOptions,
  CrossEntropyOptions,
  NllLossOptions,
  SigmoidFocalLossOptions,
  SoftmaxFocalLossOptions,
};

/** Each catalogue loss's options, by name. */
export interface LossOptionsMap {
  cross_entropy: CrossEntropyOptions;
  nll_loss: NllLossOptions;
  binary_cross_entropy: BinaryCrossEntropyOptions;
  binary_cross_entropy_with_logits: BinaryCrossEntropyWithLogitsOptions;
  softmax_focal_loss: SoftmaxFocalLossOptions;
  sigmoid_focal_loss: SigmoidFocalLossOptions;
}

/** A catalogue loss name. */
export type LossName = keyof LossOptionsMap;

/**
 * The options a call may pass: for a known loss name, any subset of its options (so TypeScript
 * catches a misspelt option or a wrong value type); for any other string, anything (checked at run
 * time, like JSON from the CLI).
 */
export type LossOptionsFor<K extends string> = K extends LossName ? Partial<LossOptionsMap[K]> : unknown;

/** Metadata keys written into every loss model. */
export const META = Object.freeze({
  loss: "onnx_losses.loss",
  options: "onnx_losses.options",
  checks: "onnx_losses.checks",
  inputs: "onnx_losses.inputs",
  lowering: "onnx_losses.lowering",
  dtype: "onnx_losses.dtype",
});

/** Options of {@link buildLoss} that are about the model, not the loss. */
export interface BuildOptions {
  /** ai.onnx opset, 13 to 23 (default 17). */
  opset?: number;
  /**
   * `"webgpu"`: emit only ops onnxruntime-web's WebGPU backend runs on the GPU (decomposed LogSoftmax and
   * Softplus, int32 class indices, float32 reductions); same numbers. Default `"none"`.
   */
  lowering?: Lowering;
  /**
   * The type the final mean/sum accumulates in: "float64" (default, within 1e-6 of a float64 reference
   * at 1e7 items) or "float32". Ignored under the WebGPU lowering, which always uses float32.
   */
  accumulate?: "float64" | "float32";
  /**
   * `"loss"` (default): the output `loss`. `"parts"`: for evaluating in chunks, the outputs
   * `loss_sum` (the sum of the weighted per-item losses) and `weight_sum` (what "mean" divides by: the
   * sum of class weights over non-ignored items, or the item count), both float64 scalars, so that
   * mean = sum of loss_sum / sum of weight_sum over every chunk, exactly as one pass would weigh them.
   * Needs reduction "mean" or "sum".
   */
  outputs?: "loss" | "parts";
  /**
   * The float type of the float inputs and of `loss`: "float32" (default); "float16" (inputs and output
   * float16, the math in float32 inside the graph); "float64" (the math in float64 too; onnxruntime's CPU
   * provider has float64 kernels for every op the catalogue uses).
   */
  dtype?: "float32" | "float16" | "float64";
}

/**
 * Validate options (defaults filled in) for a catalogue loss without building it.
 * @example resolveLossOptions("softmax_focal_loss", { gamma: 1 }).alpha // null
 */
export function resolveLossOptions<K extends string>(name: K, options: LossOptionsFor<K> = {} as LossOptionsFor<K>): Record<string, unknown> {
  const def = getLoss(name);
  const resolved = resolveOptions(def.name, def.options, options);
  def.check?.(resolved);
  return resolved;
}

/**
 * Build a catalogue loss as an ONNX model. The graph has inputs `input` and `target` and output
 * `loss`, with symbolic dims (`N`, `C`, `d1`..), so one model serves every batch size.
 *
 * @example
 * const ce = buildLoss("cross_entropy", { labelSmoothing: 0.1 });
 * fs.writeFileSync("ce.onnx", ce.model);
 */
export function buildLoss<K extends string>(name: K, options: LossOptionsFor<K> = {} as LossOptionsFor<K>, build: BuildOptions = {}): LossGraph {
  const def = getLoss(name);
  const opset = build.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new OptionError(`opset: expected an integer from ${MIN_OPSET} to ${MAX_OPSET}, received ${JSON.stringify(opset)}`);
  }
  irVersionForOpset(opset);
  const lowering = build.lowering ?? "none";
  if (lowering !== "none" && lowering !== "webgpu") {
    throw new OptionError(`lowering: expected "none" | "webgpu", received ${JSON.stringify(lowering)}`);
  }
  const accumulate = build.accumulate ?? "float64";
  if (accumulate !== "float64" && accumulate !== "float32") {
    throw new OptionError(`accumulate: expected "float64" | "float32", received ${JSON.stringify(accumulate)}`);
  }
  const dtype = build.dtype ?? "float32";
  if (!["float32", "float16", "float64"].includes(dtype)) {
    throw new OptionError(`dtype: expected "float32" | "float16" | "float64", received ${JSON.stringify(dtype)}`);
  }
  if (dtype === "float64" && lowering === "webgpu") {
    throw new OptionError('dtype: expected "float32" or "float16" with the WebGPU lowering (GPUs have no float64), received "float64"');
  }
  const outputs = build.outputs ?? "loss";
  if (outputs !== "loss" && outputs !== "parts") throw new OptionError(`outputs: expected "loss" | "parts", received ${JSON.stringify(outputs)}`);
  const resolved = resolveLossOptions(def.name, options);
  if (outputs === "parts" && resolved.reduction === "none") {
    throw new OptionError(`outputs: "parts" needs reduction "mean" or "sum", received reduction "none"`);
  }
  const parts = def.build(resolved, { opset, lowering, accumulate, outputs, dtype });
  const model = parts.graph.toModel({
    docString: `${parts.doc}. Built by onnx-losses with options ${canonicalJson(resolved)}.`,
    metadata: {
      [META.loss]: def.name,
      [META.options]: canonicalJson(resolved),
      [META.checks]: canonicalJson(parts.checks),
      [META.inputs]: canonicalJson(parts.inputs.map((i) => ({ name: i.name, doc: i.doc }))),
      [META.lowering]: lowering,
      [META.dtype]: dtype,
    },
  });
  return { name: def.name, options: resolved, opset, lowering, dtype, inputs: parts.inputs, outputs: parts.outputs, checks: parts.checks, model };
}

/** JSON with object keys sorted: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}
