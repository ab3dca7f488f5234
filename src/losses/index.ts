/** Build catalogue losses as ONNX graphs. */
import type { Lowering } from "../builder/graph.js";
import { FLOAT_DTYPES, type FloatDType } from "../onnx/dtypes.js";
import { canonicalJson, encodeContract } from "../model/contract.js";
import { trustBuilt } from "../model/trusted.js";
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from "../onnx/versions.js";
import { checkFields, type FieldsOf, integerField, oneOfField } from "../util/schema.js";
import { getLoss, type LossName, type LossOptions } from "./catalogue.js";
import { OptionError, resolveOptions } from "./options.js";
import type { InferOptions, OptionSchema } from "./options.js";
import type { LossDefinition, LossGraph } from "./types.js";
import { LossBuilder } from "./parts/host.js";
import { MIN_CHUNK_ELEMENTS } from "./parts/reductions.js";

export { CATALOGUE, LOSS_NAMES, getLoss, type LossName, type LossOptions, type LossOptionsMap } from "./catalogue.js";
export { OptionError, type InferOptions, type NamedOptionSpec, type OptionSchema, type OptionSpec, type Reduction } from "./options.js";
export { type FinishOptions, LossBuilder } from "./parts/host.js";
export {
  defineLoss,
  type BuildContext,
  type BuiltParts,
  INPUT_KINDS,
  type InputCheck,
  type InputKind,
  type LossDefinition,
  type LossGraph,
  type OptionsOf,
  type TensorSpec,
} from "./types.js";

/**
 * The options a call may pass: for a known loss name, any subset of its options (so TypeScript
 * catches a misspelt option or a wrong value type); for any other string, anything (checked at run
 * time, like JSON from the CLI).
 */
export type LossOptionsFor<K extends string> = K extends LossName ? Partial<LossOptions<K>> : unknown;

/** The resolved options {@link buildLoss} returns for a name: typed for catalogue names. */
export type ResolvedOptionsFor<K extends string> = K extends LossName ? LossOptions<K> : Record<string, unknown>;

/** The fields of {@link BuildOptions}: the one declaration of its keys, values and docs. */
export const BUILD_FIELDS = {
  /** ai.onnx opset, 13 to 23 (default 17). */
  opset: integerField(MIN_OPSET, MAX_OPSET),
  /**
   * `"webgpu"`: every node on onnxruntime's WebGPU provider, as onnxruntime-web's WebGPU backend needs
   * (decomposed LogSoftmax and Softplus, no Max, Min or shape arithmetic, int32 class indices, float32
   * reductions); PyTorch's values at 1e-5 like the default. Default `"none"`.
   */
  lowering: oneOfField<Lowering>(["none", "webgpu"]),
  /**
   * The type the final mean/sum accumulates in: "float64" (default, within 1e-6 of a float64 reference
   * at 1e7 items) or "float32". Ignored under the WebGPU lowering, which always uses float32.
   */
  accumulate: oneOfField(["float64", "float32"]),
  /**
   * `"loss"` (default): the output `loss`. `"parts"`: for evaluating in chunks, the outputs
   * `loss_sum` (the sum of the weighted per-item losses) and `weight_sum` (what "mean" divides by: the
   * sum of class weights over non-ignored items, or the item count), both float64 scalars, so that
   * mean = sum of loss_sum / sum of weight_sum over every chunk, exactly as one pass would weigh them.
   * Needs reduction "mean" or "sum".
   */
  outputs: oneOfField(["loss", "parts"]),
  /**
   * The float type of the float inputs and of `loss`: "float32" (default); "float16" (inputs and output
   * float16, the math in float32 inside the graph); "float64" (the math in float64 too; onnxruntime's CPU
   * provider has float64 kernels for every op the catalogue uses).
   */
  dtype: oneOfField<FloatDType>(FLOAT_DTYPES),
} as const;

/** The build option `outputs`: what a loss graph outputs (see BuildOptions.outputs). */
export type OutputMode = "loss" | "parts";

/** Options of {@link buildLoss} that are about the model, not the loss. */
export type BuildOptions = FieldsOf<typeof BUILD_FIELDS>;

/**
 * Validate options (defaults filled in) for a catalogue loss without building it.
 * @example resolveLossOptions("softmax_focal_loss", { gamma: 1 }).alpha // null
 */
export function resolveLossOptions<K extends string>(name: K, options: LossOptionsFor<K> = {} as LossOptionsFor<K>): ResolvedOptionsFor<K> {
  const def = getLoss(name);
  const resolved = resolveOptions(def.name, def.optionList, options);
  def.check?.(resolved);
  return resolved as ResolvedOptionsFor<K>;
}

/**
 * Build a catalogue loss as an ONNX model. The graph has inputs `input` and `target` and output
 * `loss`, with symbolic dims (`N`, `C`, `d1`..), so one model serves every batch size.
 *
 * @example
 * const ce = buildLoss("cross_entropy", { labelSmoothing: 0.1 });
 * fs.writeFileSync("ce.onnx", ce.model);
 */
export function buildLoss<K extends string, D extends FloatDType = "float32", M extends OutputMode = "loss">(
  name: K,
  options: LossOptionsFor<K> = {} as LossOptionsFor<K>,
  build: BuildOptions & { dtype?: D; outputs?: M } = {},
): LossGraph<ResolvedOptionsFor<K>, D, M> {
  const g = buildDefinition(getLoss(name), options as Record<string, unknown>, build) as LossGraph<ResolvedOptionsFor<K>, D, M>;
  // a catalogue loss's bytes, read back in this process, are not verified again (model/trusted.ts); a
  // definition outside the catalogue (buildDefinition) is verified as a file is, and refused
  trustBuilt(g.model);
  return g;
}

/**
 * Build a loss from its definition, in the catalogue or not (a loss being written, see
 * docs/adding-a-loss.md). Options are checked against the definition's schema as buildLoss checks them.
 * @example buildDefinition(crossEntropy, { labelSmoothing: 0.1 }).options.labelSmoothing // 0.1
 */
export function buildDefinition<N extends string, S extends OptionSchema>(
  def: LossDefinition<N, S>,
  options: Partial<InferOptions<S>> | Record<string, unknown> = {},
  build: BuildOptions = {},
): LossGraph<InferOptions<S>> {
  return buildWith(def, options, build, true);
}

/**
 * The model a small batch of a catalogue loss runs fastest: the same loss, options and build options,
 * without the row chunks of an elementwise sum (at most {@link SMALL_BATCH_ELEMENTS} input elements a
 * chunked graph's sum is one piece) and without the blocks of a long sum (one float64 sum instead of
 * float32 rows of 256: 8 nodes fewer), so the two give one value up to float rounding; undefined where
 * the graph has neither (reduction none, the WebGPU lowering or float32 accumulation without chunks), and where
 * `asWritten` (the model the caller runs) is not exactly what the loss builds (a model given extra
 * outputs, as streaming does): the variant would lack them. For the evaluator, which runs it beside the
 * model; never written to a file.
 */
export function smallBatchModel(
  name: string,
  options: Record<string, unknown>,
  build: BuildOptions,
  asWritten?: Uint8Array,
): Uint8Array | undefined {
  const def = getLoss(name);
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  const chunked = buildWith(def, options, build, true).model;
  if (asWritten && !same(asWritten, chunked)) return undefined;
  const unchunked = buildWith(def, options, build, false).model;
  return same(unchunked, chunked) ? undefined : unchunked;
}

/** Runs whose feeds hold at most this many elements (all together) use {@link smallBatchModel}: two tensors of one chunk each. */
export const SMALL_BATCH_ELEMENTS = 2 * MIN_CHUNK_ELEMENTS;

function buildWith<N extends string, S extends OptionSchema>(
  def: LossDefinition<N, S>,
  options: Partial<InferOptions<S>> | Record<string, unknown>,
  build: BuildOptions,
  chunks: boolean,
): LossGraph<InferOptions<S>> {
  const given = checkFields({ subject: `${def.name}: build options` }, BUILD_FIELDS, build);
  const opset = given.opset ?? DEFAULT_OPSET;
  const lowering = given.lowering ?? "none";
  const accumulate = given.accumulate ?? "float64";
  const dtype = given.dtype ?? "float32";
  if (dtype === "float64" && lowering === "webgpu") {
    throw new OptionError('dtype: expected "float32" or "float16" with the WebGPU lowering (GPUs have no float64), received "float64"');
  }
  const outputs = given.outputs ?? "loss";
  const resolved = resolveOptions(def.name, def.optionList, options) as InferOptions<S>;
  def.check?.(resolved);
  if (outputs === "parts" && resolved.reduction === "none") {
    throw new OptionError(`outputs: "parts" needs reduction "mean" or "sum", received reduction "none"`);
  }
  const parts = def.build(resolved, new LossBuilder(def.name, { opset, lowering, accumulate, outputs, dtype, chunks }));
  // what the graph accumulates in (the lowering and float64 graphs decide it), as the contract records it
  const built = parts.graph.accumulateType as "float32" | "float64";
  if ((resolved as { gradient?: boolean }).gradient && !parts.outputs.some((o) => o.name === "input_grad")) {
    // a loss whose build does not compute its gradient yet (see docs/adding-a-loss.md): never a silent omission
    throw new OptionError(`${def.name}: option gradient: expected false, this loss does not build its gradient yet; received true`);
  }
  const model = parts.graph.toModel({
    docString: `${parts.doc}. Built by onnx-losses with options ${canonicalJson(resolved)}.`,
    metadata: encodeContract({
      kind: "loss",
      loss: def.name,
      options: resolved as Record<string, unknown>,
      checks: parts.checks,
      inputs: parts.inputs.map((i) => ({ name: i.name, doc: i.doc })),
      lowering,
      dtype,
      accumulate: built,
      outputs,
    }),
  });
  return {
    name: def.name,
    options: resolved,
    opset,
    lowering,
    dtype,
    accumulate: built,
    outputMode: outputs,
    inputs: parts.inputs,
    outputs: parts.outputs,
    checks: parts.checks,
    model,
  };
}

/**
 * Build a catalogue loss for an `input` of rank `rank`: the rank option defaults to it (an explicit
 * `rank` option wins, and validation then names the mismatch). What `eval` and streaming use for a loss
 * name given with data.
 * @example buildLossForRank("cross_entropy", {}, 4).options.rank // 4
 */
export function buildLossForRank(name: string, options: Record<string, unknown>, rank: number, build: BuildOptions = {}): LossGraph {
  return buildLoss(name, { rank, ...options }, build);
}
