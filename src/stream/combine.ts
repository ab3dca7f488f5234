/**
 * How each plan kind (plan.ts) combines chunks' outputs into what one pass gives: per-item outputs
 * appended to their files, sums added (integers exactly), a mean or sum taken from the loss_sum and
 * weight_sum the same graph computes, each chunk's output checked against them. The loop
 * (evaluate_files.ts) feeds every chunk to one combiner and asks it for the result at the end.
 */
import type { ModelInfo } from "../builder/reader.js";
import { checkWritableType, outputFiles } from "../io/files.js";
import { OUTPUT_FORMAT } from "../io/formats.js";
import { TensorFileWriter } from "../io/tensor_writer.js";
import type { DType, FloatDType } from "../onnx/dtypes.js";
import { InputError } from "../runtime/validate.js";
import { fromFloat16Bits, type TensorData, type TensorOf, toFloat16Bits } from "../tensor/tensor.js";
import { agrees, at, type StreamPlan, StreamRefusedError, wrapInteger } from "./plan.js";

export interface StreamResult {
  /**
   * The combined outputs (for a mean or sum, `loss` as a float64 scalar); empty when they went to files.
   * Each is typed by its dtype: `if (t.dtype === "float64") t.data` is a Float64Array.
   */
  outputs: Record<string, TensorOf>;
  /** The exact combination of a mean or sum, in float64. */
  value?: number;
  chunks: number;
  rows: number;
  /** For per-item outputs: where the first one went and its dims. */
  written?: { file: string; dims: number[] };
  /** Every per-item output's file, dtype and dims. */
  files?: Record<string, { file: string; dtype: string; dims: number[] }>;
}

/** Takes each chunk's outputs in order, then gives the result; `abort` after a failure. */
export interface Combiner {
  /** The outputs of rows r0..r0+rows-1. Throws StreamRefusedError for outputs that do not combine. */
  add(out: Record<string, TensorData>, r0: number, rows: number): Promise<void>;
  /** After the last chunk (`chunks` of them, over N rows). */
  finish(chunks: number): Promise<StreamResult>;
  /** Remove what was written (a partial file); never throws. */
  abort(): Promise<void>;
}

/** Where per-item outputs go: a folder for every output, or one file for a model's single output. */
export interface RowsTarget {
  outDir?: string;
  noneOutput?: string;
}

/** Relative agreement between a chunk's output and loss_sum / weight_sum: the output type's rounding, with room. */
const ROUNDING: Record<FloatDType, number> = { float16: 2e-3, float32: 1e-6, float64: 1e-12 };

/**
 * The combiner for `plan`. For per-item outputs, every output's file is named (and refused: a name that
 * would leave the folder, no folder given) here, before any work.
 */
export function combinerFor(plan: StreamPlan, info: ModelInfo, N: number, target: RowsTarget, what: string): Combiner {
  if (plan.kind === "rows") return rowsCombiner(plan, info, N, target, what);
  if (plan.kind === "sums") return sumsCombiner(plan, info, N, what);
  return ratioCombiner(plan, info, N, what);
}

/** Per-item outputs: each appended to its own file (written as FILE.partial, renamed when complete). */
function rowsCombiner(plan: Extract<StreamPlan, { kind: "rows" }>, info: ModelInfo, N: number, target: RowsTarget, what: string): Combiner {
  // the output names as file names, checked before any work (io/files.ts: none leaves the folder)
  const outFiles = target.outDir ? outputFiles(target.outDir, plan.outputs, what) : undefined;
  const fileOf = (name: string): string => {
    const f = outFiles?.get(name);
    if (f) return f;
    if (target.noneOutput && info.outputs.length === 1) return target.noneOutput;
    throw new InputError(`${what}: per-item output ${name} over a streamed input: expected a folder for it (--out DIR)`);
  };
  for (const name of plan.outputs) fileOf(name);
  const writers = new Map<string, TensorFileWriter>();
  const types = new Map<string, string>();
  /** Each output's dims after the first, as the first chunk gave them. */
  const inners = new Map<string, string>();
  return {
    async add(out, r0, rows) {
      for (const name of plan.outputs) {
        const t = out[name];
        if (t.dims[0] !== rows)
          throw new StreamRefusedError(
            what,
            `its output ${name} has ${t.dims[0] ?? "no"} rows for a chunk of ${rows}, so it is not per item along ${plan.dim}`,
          );
        // every chunk's rows of one shape: an output whose inner dims change between chunks would
        // fill the file with rows of another length, each later row shifted
        const inner = inners.get(name);
        if (inner !== undefined && inner !== t.dims.slice(1).join()) {
          throw new StreamRefusedError(
            what,
            `its output ${name} has rows of [${t.dims.slice(1).join(", ")}] in rows ${r0}..${r0 + rows - 1} and of [${inner.split(",").join(", ")}] before, so it is not per item along ${plan.dim}`,
          );
        }
        let w = writers.get(name);
        if (!w) {
          inners.set(name, t.dims.slice(1).join());
          checkWritableType(name, t.dtype, what);
          w = await TensorFileWriter.create(fileOf(name), t.dtype, [N, ...t.dims.slice(1)], OUTPUT_FORMAT);
          writers.set(name, w);
          types.set(name, t.dtype);
        }
        await w.append(t.data);
      }
    },
    async finish(chunks) {
      const written: Record<string, { file: string; dtype: string; dims: number[] }> = {};
      // every file complete before any is renamed into place: the outputs appear together or not at all
      for (const [name, w] of writers) {
        await w.finish();
        written[name] = { file: fileOf(name), dtype: types.get(name)!, dims: w.dims };
      }
      for (const w of writers.values()) await w.commit();
      writers.clear();
      const first = Object.values(written)[0];
      return { outputs: {}, chunks, rows: N, written: { file: first.file, dims: first.dims }, files: written };
    },
    async abort() {
      await Promise.allSettled([...writers.values()].map((w) => w.abort()));
      writers.clear();
    },
  };
}

/** The type one pass gives output `name`. */
const typeOf = (info: ModelInfo, name: string) => info.outputs.find((o) => o.name === name)!.dtype as DType;

/** Scalar sums (loss_sum, weight_sum): added, integers exactly, each in the type one pass gives it. */
function sumsCombiner(plan: Extract<StreamPlan, { kind: "sums" }>, info: ModelInfo, N: number, what: string): Combiner {
  const totals = new Map<string, number>();
  const intTotals = new Map<string, bigint>();
  const shapes = new Map<string, { dtype: DType; dims: number[] }>();
  return {
    async add(out) {
      for (const name of plan.outputs) {
        const t = out[name];
        if (t.data.length !== 1)
          throw new StreamRefusedError(what, `its output ${name} has ${t.data.length} values [${t.dims.join(", ")}], not one sum`);
        if (!shapes.has(name)) shapes.set(name, { dtype: t.dtype, dims: [...t.dims] });
        if (t.dtype in INTEGER_ARRAYS) intTotals.set(name, (intTotals.get(name) ?? 0n) + BigInt(t.data[0] as number | bigint));
        else if (t.dtype.startsWith("float")) totals.set(name, (totals.get(name) ?? 0) + at(t, 0));
        else throw new StreamRefusedError(what, `its output ${name} is ${t.dtype}, which chunks' values do not add up to`);
      }
    },
    async finish(chunks) {
      // each output in the type one pass gives it (a float16 sum past 65504 is inf there, so here too)
      // each is made by its dtype's own typed array (integerScalar, scalarTensor), which TensorOf states
      const outputs: Record<string, TensorOf> = {};
      for (const name of plan.outputs) {
        const { dtype, dims } = shapes.get(name) ?? { dtype: typeOf(info, name), dims: [] };
        outputs[name] =
          dtype in INTEGER_ARRAYS
            ? ({ dtype, dims, data: integerScalar(dtype, intTotals.get(name) ?? 0n) } as TensorOf)
            : { ...scalarTensor(dtype, totals.get(name) ?? 0), dims };
      }
      return { outputs, chunks, rows: N };
    },
    async abort() {},
  };
}

/** A mean or sum: each chunk's output must be loss_sum / weight_sum (or loss_sum) of the same graph; those are added. */
function ratioCombiner(plan: Extract<StreamPlan, { kind: "ratio" }>, info: ModelInfo, N: number, what: string): Combiner {
  const outputType = info.outputs[0]?.dtype;
  const tol = ROUNDING[(outputType as FloatDType) in ROUNDING ? (outputType as FloatDType) : "float32"];
  let sum = 0;
  let weight = 0;
  return {
    async add(out, r0, rows) {
      const s = at(out[plan.sum.name], 0);
      const w = plan.weight ? at(out[plan.weight.name], 0) : undefined;
      const got = at(out[plan.output], 0);
      // what the graph's own cast to its output type makes of loss_sum / weight_sum
      const want = roundTo(out[plan.output].dtype, w === undefined ? s : s / w);
      if (!agrees(got, want, tol)) {
        const formula = w === undefined ? plan.sum.name : `${plan.sum.name} / ${plan.weight!.name}`;
        throw new StreamRefusedError(
          what,
          `its output ${plan.output} (${got}) is not ${formula} (${want}) of the same graph on rows ${r0}..${r0 + rows - 1}`,
        );
      }
      sum += s;
      if (w !== undefined) weight += w;
    },
    async finish(chunks) {
      const value = plan.weight ? sum / weight : sum;
      return { outputs: { [plan.output]: scalarTensor(typeOf(info, plan.output), value) }, value, chunks, rows: N };
    },
    async abort() {},
  };
}

/**
 * The integer types a sum may have, each as the array that holds its one value: the value is wrapped as
 * the type wraps (wrapInteger), since one pass sums (or casts its sum) in the type, so the sum of the
 * chunks' values taken modulo the type is the same.
 */
const INTEGER_ARRAYS: Partial<Record<string, { of(v: number | bigint): ArrayLike<number | bigint> }>> = {
  int64: BigInt64Array as never,
  uint64: BigUint64Array as never,
  int32: Int32Array as never,
  uint32: Uint32Array as never,
  int16: Int16Array as never,
  uint16: Uint16Array as never,
  int8: Int8Array as never,
  uint8: Uint8Array as never,
};

/** The one-value array of integer type `dtype` holding `v` wrapped as the type wraps. */
function integerScalar(dtype: string, v: bigint): TensorData["data"] {
  const wrapped = wrapInteger(dtype, v);
  const array = INTEGER_ARRAYS[dtype]!;
  return array.of(dtype.endsWith("64") ? wrapped : Number(wrapped)) as unknown as TensorData["data"];
}

/** A scalar of a float type (other types as float64). */
function scalarTensor(dtype: DType, v: number): TensorOf<"float32" | "float16" | "float64"> {
  if (dtype === "float32") return { dtype, dims: [], data: Float32Array.of(v) };
  if (dtype === "float16") return { dtype, dims: [], data: Uint16Array.of(toFloat16Bits(v)) };
  return { dtype: "float64", dims: [], data: Float64Array.of(v) };
}

/** A number as a tensor of `dtype` holds it. */
function roundTo(dtype: DType, v: number): number {
  if (dtype === "float32") return Math.fround(v);
  if (dtype === "float16") return fromFloat16Bits(toFloat16Bits(v));
  return v;
}
