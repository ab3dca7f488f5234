/**
 * How a model's outputs over row chunks combine into what one pass over every row gives, decided from
 * the model's graph alone (never from what its metadata claims):
 *
 * - "rows": every output has the streamed dim first (a per-item loss, reduction "none"): chunks are
 *   concatenated.
 * - "sums": the outputs are scalar sums, `loss_sum` and optionally `weight_sum` (a "parts" model):
 *   chunks are added.
 * - "ratio": one scalar output, and the graph names the total it came from, `loss_sum`, and for a mean
 *   what it divided by, `weight_sum`, in its value_info (every mean and sum onnx-losses builds does).
 *   Both are fetched from the same graph with the output; each chunk's output must equal
 *   loss_sum / weight_sum (or loss_sum), else the model is refused; the result is
 *   sum(loss_sum) / sum(weight_sum), as one pass weighs items.
 *
 * Any other model cannot be combined exactly and is refused with the reason.
 */
import type { ModelInfo, TensorInfo } from "../builder/reader.js";
import { fromFloat16Bits, type TensorData } from "../tensor/tensor.js";
import { InputError } from "../runtime/validate.js";

/** A model whose outputs cannot be combined over chunks exactly; `reason` says why. */
export class StreamRefusedError extends InputError {
  override name = "StreamRefusedError";
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`${what}: cannot be evaluated in chunks: ${reason}; evaluate it in one pass (without --stream)`);
  }
}

export type StreamPlan =
  | { kind: "rows"; dim: string; outputs: string[] }
  | { kind: "sums"; dim: string; outputs: string[] }
  | { kind: "ratio"; dim: string; output: string; sum: TensorInfo; weight?: TensorInfo };

const isScalar = (t: TensorInfo) => t.shape.length === 0;

/**
 * An attached loss's target, whose dim 0 is named after the model output's dim 0 (torch.onnx.export
 * names an output's dims after the output, `logits_dynamic_axes_1`): the model computes that dim from
 * its inputs' rows, and the evaluator binds the target to the computed output after each run.
 */
export interface AttachedRows {
  target: string;
  output: string;
}

/**
 * The plan for streaming `streamed` inputs (their dim 0) through the model. `what` names the model in
 * the refusal. With `attached`, the target's dim 0 may be the attached output's dim 0 instead of the
 * other inputs' (chunks feed it the same rows; the output's rows per chunk are checked as every
 * per-item output's are). `weights` are streamed inputs whose dim 0 is their own (a weight tensor [N, 1]
 * of dims weight_d0, ..). Throws InputError when the outputs cannot be combined exactly.
 */
export function planStream(
  info: ModelInfo,
  streamed: readonly string[],
  what = "model",
  attached?: AttachedRows,
  /** Streamed weight tensors (broadcast to the input, their dim 0 its rows): their dim 0 is a name of their own (weight_d0). */
  weights: readonly string[] = [],
): StreamPlan {
  const refuse = (why: string): never => {
    throw new StreamRefusedError(what, why);
  };
  const dims = new Set<string>();
  /** The target's dim 0 where it is the attached output's (and not an input's). */
  let outputDim: string | undefined;
  const outputDim0 = attached && info.outputs.find((o) => o.name === attached.output)?.shape[0];
  for (const name of streamed) {
    const t = info.inputs.find((i) => i.name === name);
    if (!t) continue; // an unknown input: validation names it on the first chunk
    if (weights.includes(name)) continue; // fed the same rows; the broadcast check binds them
    const d = t.shape[0];
    if (attached && name === attached.target && d === "?")
      refuse(
        `the model's output ${attached.output} has no name for its dim 0, so neither has the target input attach made from it: name that dim in the model (torch.onnx.export's dynamic_axes) and attach again`,
      );
    if (typeof d !== "string" || d === "?")
      refuse(`input ${name} has dim 0 = ${JSON.stringify(d ?? null)}, not a named (symbolic) dim to split rows along`);
    if (attached && name === attached.target && d === outputDim0) outputDim = d as string;
    else dims.add(d as string);
  }
  if (dims.size === 0 && outputDim !== undefined) dims.add(outputDim);
  if (dims.size !== 1) refuse(`the streamed inputs do not share one symbolic dim 0 (${[...dims].join(", ") || "none"})`);
  const [dim] = dims;
  const outs = info.outputs;
  const perItem = (o: TensorInfo) => o.shape[0] === dim || (outputDim !== undefined && o.shape[0] === outputDim);
  if (outs.length > 0 && outs.every(perItem)) return { kind: "rows", dim, outputs: outs.map((o) => o.name) };
  const names = outs.map((o) => o.name).sort();
  if (outs.every(isScalar) && (names.join() === "loss_sum" || names.join() === "loss_sum,weight_sum")) {
    // floats add up, integers add up modulo their type; nothing else is a sum over chunks
    const other = outs.find((o) => !o.dtype.startsWith("float") && !(o.dtype in INTEGER_BITS));
    if (other) refuse(`its output ${other.name} is ${other.dtype}, which chunks' values do not add up to`);
    return { kind: "sums", dim, outputs: outs.map((o) => o.name) };
  }
  if (outs.length === 1 && isScalar(outs[0])) {
    // a value_info entry counts only when a node computes that value
    const computed = (name: string) => info.nodes.some((n) => n.outputs.includes(name));
    const sum = info.valueInfo.find((v) => v.name === "loss_sum" && isScalar(v) && computed(v.name));
    const weight = info.valueInfo.find((v) => v.name === "weight_sum" && isScalar(v) && computed(v.name));
    if (sum) return { kind: "ratio", dim, output: outs[0].name, sum, weight };
    refuse(`its output ${outs[0].name} is a scalar, and the graph names no loss_sum (and weight_sum) it was computed from`);
  }
  const shapes = outs.map((o) => `${o.name} [${o.shape.join(", ")}]`).join(", ");
  return refuse(`its outputs (${shapes}) are neither per item along ${dim} nor the sums loss_sum and weight_sum`);
}

/** Do two values agree within `relTol` (NaN agrees with NaN, an infinity only with itself)? */
export function agrees(a: number, b: number, relTol: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= relTol * Math.max(Math.abs(a), Math.abs(b));
}

/** Value i of a tensor as a number (float16 decoded). */
export function at(t: TensorData, i: number): number {
  return t.dtype === "float16" ? fromFloat16Bits((t.data as Uint16Array)[i]) : Number(t.data[i]);
}

/** Integer types by their bits and signedness: a value of the type is a sum taken modulo 2^bits. */
const INTEGER_BITS: Readonly<Record<string, [number, boolean]>> = {
  int8: [8, true],
  uint8: [8, false],
  int16: [16, true],
  uint16: [16, false],
  int32: [32, true],
  uint32: [32, false],
  int64: [64, true],
  uint64: [64, false],
};

/** `v` as an integer of `dtype` holds it (wrapped); `v` itself for a type that is not an integer. */
export function wrapInteger(dtype: string, v: bigint): bigint {
  const t = INTEGER_BITS[dtype];
  if (!t) return v;
  return t[1] ? BigInt.asIntN(t[0], v) : BigInt.asUintN(t[0], v);
}
