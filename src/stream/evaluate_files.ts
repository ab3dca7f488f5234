/**
 * Evaluate a loss on .npy files too large to load at once: read them in row chunks, run each chunk,
 * and combine exactly. "mean" and "sum" run the loss's "parts" graph (loss_sum, weight_sum per chunk,
 * float64) so that mean = total weighted loss / total weight, with ignoreIndex and class weights as
 * one pass would apply them; "none" streams each chunk's per-item losses into an .npy file. Node only.
 */
import { open, type FileHandle } from "node:fs/promises";
import { readModel } from "../builder/reader.js";
import { NpyError, parseNpyHeader, type NpyHeader } from "../io/npy.js";
import { buildLoss, META } from "../losses/index.js";
import type { Lowering } from "../builder/graph.js";
import type { EvaluatorOptions } from "../runtime/evaluator.js";
import { createEvaluator } from "../runtime/node.js";
import { fmtDims, sizeOf, typedArrayOf, type TensorData, type TensorDType } from "../runtime/tensor.js";
import { InputError } from "../runtime/validate.js";
import { NpyWriter } from "./npy_writer.js";

const BYTES: Record<TensorDType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, bool: 1, float16: 2 };

/** What to evaluate: a catalogue loss by name (built for the inputs' rank), or a model built by onnx-losses. */
export type StreamSource =
  | { loss: string; options?: Record<string, unknown>; opset?: number; lowering?: Lowering; dtype?: "float32" | "float16" | "float64" }
  | Uint8Array;

export interface StreamOptions extends EvaluatorOptions {
  /** Bytes of input rows per chunk, all files together (default 64 MiB). */
  chunkBytes?: number;
  /** Called after each chunk with rows done and rows in all. */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
  /** For reduction "none": the .npy file the per-item losses stream into (required then). */
  noneOutput?: string;
}

export interface StreamResult {
  /** `loss` as float32 [] (mean, sum), or, for "none", the dims and file it was written to. */
  outputs: Record<string, TensorData>;
  /** The exact combination, in float64 (mean and sum). */
  value?: number;
  chunks: number;
  rows: number;
  /** For "none": where the per-item losses went and their dims. */
  written?: { file: string; dims: number[] };
}

interface OpenNpy {
  name: string;
  file: string;
  handle: FileHandle;
  header: NpyHeader;
  rowElems: number;
  rowBytes: number;
}

async function openNpy(name: string, file: string): Promise<OpenNpy> {
  const handle = await open(file, "r");
  try {
    const head = new Uint8Array(65536 + 16);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const header = parseNpyHeader(head.subarray(0, bytesRead), file);
    if (header.dims.length === 0) throw new InputError(`${name}: expected at least one dim to stream over, received a scalar (${file})`);
    const rowElems = sizeOf(header.dims.slice(1));
    const st = await handle.stat();
    const need = header.dataOffset + sizeOf(header.dims) * BYTES[header.dtype];
    if (st.size < need) throw new NpyError(`${file}: expected ${need} bytes for ${header.dtype} ${fmtDims(header.dims)}, the file has ${st.size}`);
    return { name, file, handle, header, rowElems, rowBytes: rowElems * BYTES[header.dtype] };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** The catalogue loss, options, opset and lowering a source stands for. */
type Described = { loss: string; options: Record<string, unknown>; opset?: number; lowering?: Lowering; dtype?: "float32" | "float16" | "float64" };

function describeSource(source: StreamSource, rank: number): Described {
  if (!(source instanceof Uint8Array)) {
    const options = { ...(source.options ?? {}) };
    if (options.rank === undefined) options.rank = rank;
    return { loss: source.loss, options, opset: source.opset, lowering: source.lowering, dtype: source.dtype };
  }
  const info = readModel(source);
  const loss = info.metadata[META.loss];
  if (!loss) {
    throw new InputError("streamed evaluation: expected a catalogue loss or a model built by onnx-losses (its metadata names the loss), received a model without onnx_losses metadata");
  }
  return {
    loss,
    options: JSON.parse(info.metadata[META.options] ?? "{}") as Record<string, unknown>,
    opset: info.opset,
    lowering: (info.metadata[META.lowering] as Lowering | undefined) ?? "none",
    dtype: (info.metadata[META.dtype] as Described["dtype"]) ?? "float32",
  };
}

/**
 * Evaluate `files` (input name -> .npy path, sharing their first dim) chunk by chunk.
 * @example
 * const r = await evaluateNpyFiles({ loss: "cross_entropy" }, { input: "logits.npy", target: "labels.npy" });
 * r.value // the mean, combined in float64
 */
export async function evaluateNpyFiles(source: StreamSource, files: Record<string, string>, options: StreamOptions = {}): Promise<StreamResult> {
  const opened: OpenNpy[] = [];
  try {
    for (const [name, file] of Object.entries(files)) opened.push(await openNpy(name, file));
    const input = opened.find((o) => o.name === "input");
    if (!input) throw new InputError("input: missing input; expected --input input=FILE.npy");
    const N = input.header.dims[0];
    for (const o of opened) {
      if (o.header.dims[0] !== N) {
        throw new InputError(`${o.name}: expected dim 0 (N) = ${N} as in input dim 0, received ${fmtDims(o.header.dims)} (${o.file})`);
      }
    }
    const src = describeSource(source, input.header.dims.length);
    const reduction = (src.options.reduction as string | undefined) ?? "mean";
    const none = reduction === "none";
    if (none && !options.noneOutput) throw new InputError('reduction "none" over a streamed input: expected an output file for the per-item losses (--out DIR)');
    const graph = buildLoss(src.loss, src.options, { opset: src.opset, lowering: src.lowering, dtype: src.dtype, outputs: none ? "loss" : "parts" });
    const evaluator = await createEvaluator(graph, options);
    const rowBytes = opened.reduce((a, o) => a + o.rowBytes, 0);
    const rowsPerChunk = Math.max(1, Math.floor((options.chunkBytes ?? 64 * 2 ** 20) / Math.max(1, rowBytes)));
    const buffers = opened.map((o) => new ArrayBuffer(Math.max(1, Math.min(rowsPerChunk, N) * o.rowBytes)));
    let lossSum = 0;
    let weightSum = 0;
    let chunks = 0;
    let writer: NpyWriter | undefined;
    try {
      for (let r0 = 0; r0 < N; r0 += rowsPerChunk) {
        const rows = Math.min(rowsPerChunk, N - r0);
        const feeds: Record<string, TensorData> = {};
        for (let i = 0; i < opened.length; i++) {
          const o = opened[i];
          const bytes = rows * o.rowBytes;
          const view = new Uint8Array(buffers[i], 0, bytes);
          let got = 0;
          while (got < bytes) {
            const { bytesRead } = await o.handle.read(view, got, bytes - got, o.header.dataOffset + r0 * o.rowBytes + got);
            if (bytesRead === 0) throw new NpyError(`${o.file}: ended early at row ${r0}`);
            got += bytesRead;
          }
          feeds[o.name] = { dtype: o.header.dtype, dims: [rows, ...o.header.dims.slice(1)], data: typedArrayOf(o.header.dtype, buffers[i], rows * o.rowElems) };
        }
        let out: Record<string, TensorData>;
        try {
          out = await evaluator.run(feeds);
        } catch (e) {
          if (e instanceof InputError) throw new InputError(`${e.message} (in rows ${r0}..${r0 + rows - 1} of ${N})`);
          throw e;
        }
        if (none) {
          const t = out.loss;
          writer ??= await NpyWriter.create(options.noneOutput!, t.dtype, [N, ...t.dims.slice(1)]);
          await writer.append(t.data);
        } else {
          lossSum += Number(out.loss_sum.data[0]);
          weightSum += Number(out.weight_sum.data[0]);
        }
        chunks++;
        options.onProgress?.(r0 + rows, N);
      }
      if (none) {
        if (!writer) writer = await NpyWriter.create(options.noneOutput!, "float32", [0]);
        const dims = writer.dims;
        await writer.close();
        return { outputs: {}, chunks, rows: N, written: { file: options.noneOutput!, dims } };
      }
    } finally {
      await evaluator.release();
      await writer?.abort();
    }
    const value = reduction === "sum" ? lossSum : lossSum / weightSum;
    return { outputs: { loss: { dtype: "float64", dims: [], data: new Float64Array([value]) } }, value, chunks, rows: N };
  } finally {
    for (const o of opened) await o.handle.close();
  }
}
