/**
 * Evaluate a model on .npy files too large to load at once: read them in row chunks, run each chunk
 * through the model itself, and combine the outputs exactly as one pass would give them (see plan.ts:
 * per-item outputs are concatenated into .npy files; a mean or sum is combined from the loss_sum and
 * weight_sum the same graph computes, in float64). Node only.
 */
import { constants, type Stats } from "node:fs";
import { open, rmdir, stat, type FileHandle } from "node:fs/promises";
import { withOutputs } from "../builder/edit.js";
import { describeModel, type ModelInfo } from "../builder/reader.js";
import { checkWritableType, makeFolder, outputFiles } from "../io/files.js";
import { NpyError, npyHeaderBytes, parseNpyHeader, type NpyHeader } from "../io/npy.js";
import { buildLossForRank, type BuildOptions } from "../losses/index.js";
import { checkLossModel, mustProbeRows } from "../models/kinds.js";
import { decodeModel } from "../onnx/codec.js";
import { DTYPES, typedArrayOf, type DType, type FloatDType } from "../onnx/dtypes.js";
import { OptionError } from "../errors.js";
import { checkEvaluatorOptions, type EvaluatorOptions } from "../runtime/evaluator.js";
import { createDecodedEvaluator } from "../runtime/node.js";
import { fmtDims, fromFloat16Bits, sizeOf, toFloat16Bits, type TensorData } from "../runtime/tensor.js";
import { checkEmptyExtent, InputError, OutputShapeError } from "../runtime/validate.js";
import { unknownKeyProblem } from "../util/names.js";
import { NpyWriter } from "./npy_writer.js";
import { agrees, planStream, StreamRefusedError, type StreamPlan } from "./plan.js";

/** What to evaluate: a catalogue loss by name (built for the rank of the `input` file), or model bytes. */
export type StreamSource =
  | ({ loss: string; options?: Record<string, unknown> } & Pick<BuildOptions, "opset" | "lowering" | "dtype">)
  | Uint8Array;

export interface StreamOptions extends EvaluatorOptions {
  /** Bytes of input rows per chunk, all files together (default 64 MiB). */
  chunkBytes?: number;
  /** Called after each chunk with rows done and rows in all. */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
  /** For per-item outputs: the folder each output NAME streams into, as NAME.npy. */
  outDir?: string;
  /** For a model with one per-item output (reduction "none"): the .npy file it streams into. */
  noneOutput?: string;
  /** How errors name each input's file (input name -> the path as the user gave it); default the path. */
  shownAs?: Record<string, string>;
}

/** The keys StreamOptions adds to EvaluatorOptions (the compiler checks the list is complete). */
const STREAM_OPTION_KEYS = [
  "chunkBytes",
  "onProgress",
  "outDir",
  "noneOutput",
  "shownAs",
] as const satisfies readonly (keyof StreamOptions)[];
type MissingStreamKeys = Exclude<keyof StreamOptions, (typeof STREAM_OPTION_KEYS)[number] | keyof EvaluatorOptions>;
const streamKeysComplete: [MissingStreamKeys] extends [never] ? true : MissingStreamKeys = true;
void streamKeysComplete;

/** The keys of a StreamSource that names a catalogue loss (the compiler checks the list is complete). */
const SOURCE_KEYS = ["loss", "options", "opset", "lowering", "dtype"] as const satisfies readonly (keyof Exclude<
  StreamSource,
  Uint8Array
>)[];
type MissingSourceKeys = Exclude<keyof Exclude<StreamSource, Uint8Array>, (typeof SOURCE_KEYS)[number]>;
const sourceKeysComplete: [MissingSourceKeys] extends [never] ? true : MissingSourceKeys = true;
void sourceKeysComplete;

/** The source and files arguments of evaluateNpyFiles, as a caller without types may pass them. Throws OptionError. */
function checkSourceAndFiles(source: unknown, files: unknown): void {
  const what = "evaluateNpyFiles source";
  const form = "a model's bytes (Uint8Array) or { loss, options?, opset?, lowering?, dtype? }";
  if (source instanceof Uint8Array) {
    // fall through to the files
  } else if (source === null || typeof source !== "object" || Array.isArray(source) || ArrayBuffer.isView(source)) {
    throw new OptionError(`${what}: expected ${form}, received ${describeValue(source)}`);
  } else {
    const s = source as Record<string, unknown>;
    if ("model" in s && s.model instanceof Uint8Array)
      throw new OptionError(`${what}: unknown option "model"; pass a model's bytes as the source itself, not as { model }`);
    const problem = unknownKeyProblem(what, s, SOURCE_KEYS);
    if (problem) throw new OptionError(problem);
    if (typeof s.loss !== "string")
      throw new OptionError(`${what}: loss: expected a catalogue loss name, received ${describeValue(s.loss)}`);
    if (s.options !== undefined && (s.options === null || typeof s.options !== "object" || Array.isArray(s.options)))
      throw new OptionError(`${what}: options: expected an object of loss options, received ${describeValue(s.options)}`);
  }
  if (files === null || typeof files !== "object" || Array.isArray(files))
    throw new OptionError(`evaluateNpyFiles files: expected an object of input name to .npy path, received ${describeValue(files)}`);
  for (const [name, file] of Object.entries(files))
    if (typeof file !== "string")
      throw new OptionError(`evaluateNpyFiles files: ${name}: expected a path, received ${describeValue(file)}`);
}

/** How a value is named in an error. */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === "string" ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : typeof v;
}

export interface StreamResult {
  /** The combined outputs (for a mean or sum, `loss` as a float64 scalar); empty when they went to files. */
  outputs: Record<string, TensorData>;
  /** The exact combination of a mean or sum, in float64. */
  value?: number;
  chunks: number;
  rows: number;
  /** For per-item outputs: where the first one went and its dims. */
  written?: { file: string; dims: number[] };
  /** Every per-item output's file, dtype and dims. */
  files?: Record<string, { file: string; dtype: string; dims: number[] }>;
}

interface OpenNpy {
  name: string;
  file: string;
  handle: FileHandle;
  header: NpyHeader;
  rowElems: number;
  rowBytes: number;
}

/**
 * What a file that is not a regular file (nor a folder, which fails as EISDIR) is, for the refusal; undefined
 * for a regular file.
 */
function notRegular(st: Stats): string | undefined {
  if (st.isFile() || st.isDirectory()) return undefined;
  if (st.isFIFO()) return "a FIFO or pipe";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * A streamed input that is not a regular file: streaming reads each chunk by its offset in the file
 * (ESPIPE on a pipe), so a pipe, a FIFO or a device is refused, by a stat that never blocks (opening a
 * FIFO without a writer blocks).
 */
export class StreamFileError extends InputError {
  override name = "StreamFileError";
  constructor(
    readonly file: string,
    readonly kind: string,
  ) {
    super(
      `${file}: expected a regular file to stream, received ${kind}: streamed evaluation reads files by offset; copy it to a regular file`,
    );
  }
}

/** Refuse a path that is not a regular file before anything opens it (stat does not block on a FIFO). */
export async function checkStreamable(path: string, file = path): Promise<void> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch {
    return; // a missing file fails in open, with its path, as before
  }
  const kind = notRegular(st);
  if (kind) throw new StreamFileError(file, kind);
}

async function openNpy(name: string, path: string, file = path): Promise<OpenNpy> {
  await checkStreamable(path, file);
  // O_NONBLOCK: a file swapped for a FIFO after the stat opens at once and is refused below, never waits
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    const kind = notRegular(st);
    if (kind) throw new StreamFileError(file, kind);
    // the preamble says how long the header is (at most MAX_NPY_HEADER_BYTES): read exactly that much
    const pre = new Uint8Array(12);
    const { bytesRead: preRead } = await handle.read(pre, 0, 12, 0);
    const head = new Uint8Array(npyHeaderBytes(pre.subarray(0, preRead)));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const header = parseNpyHeader(head.subarray(0, bytesRead), file);
    if (header.dims.length === 0) throw new InputError(`${name}: expected at least one dim to stream over, received a scalar (${file})`);
    checkEmptyExtent(name, header.dims);
    const rowElems = sizeOf(header.dims.slice(1));
    const { bytes } = DTYPES[header.dtype];
    const need = header.dataOffset + sizeOf(header.dims) * bytes;
    if (st.size < need)
      throw new NpyError(`${file}: expected ${need} bytes for ${header.dtype} ${fmtDims(header.dims)}, the file has ${st.size}`);
    return { name, file, handle, header, rowElems, rowBytes: rowElems * bytes };
  } catch (e) {
    await handle.close().catch(() => undefined); // the first error is the one to report
    // reading a folder fails with EISDIR but no path: name the file, as for a missing one
    if (typeof e === "object" && e !== null && (e as { code?: unknown }).code !== undefined && (e as { path?: unknown }).path === undefined)
      Object.assign(e, { path: file });
    throw e;
  }
}

/** The rank of the `input` .npy file (its header only), which a loss name is built for. `shown` names it in errors. */
export async function npyRank(file: string, shown = file): Promise<number> {
  const o = await openNpy("input", file, shown);
  await o.handle.close();
  return o.header.dims.length;
}

/** Bytes of input rows per chunk when the caller gives none (all files together). */
export const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

/** Relative agreement between a chunk's output and its parts: the output type's rounding, with room. */
const ROUNDING: Record<FloatDType, number> = { float16: 2e-3, float32: 1e-6, float64: 1e-12 };

/**
 * Evaluate `files` (input name -> .npy path, sharing their first dim) chunk by chunk, through the model
 * itself: `--stream` and one pass give the same value on the same file.
 * @example
 * const r = await evaluateNpyFiles({ loss: "cross_entropy" }, { input: "logits.npy", target: "labels.npy" });
 * r.value // the mean, combined in float64
 */
export async function evaluateNpyFiles(
  source: StreamSource,
  files: Record<string, string>,
  options: StreamOptions = {},
): Promise<StreamResult> {
  checkEvaluatorOptions(options, "evaluateNpyFiles options", STREAM_OPTION_KEYS);
  checkSourceAndFiles(source, files);
  const opened: OpenNpy[] = [];
  let done = false;
  try {
    for (const [name, file] of Object.entries(files)) opened.push(await openNpy(name, file, options.shownAs?.[name] ?? file));
    const input = opened.find((o) => o.name === "input");
    if (!input && !(source instanceof Uint8Array))
      throw new InputError(`input: missing input; expected --input input=FILE.npy (${source.loss} is built for its rank)`);
    const first = input ?? opened[0];
    if (!first) throw new InputError("streamed evaluation: expected at least one input file");
    const bytes =
      source instanceof Uint8Array
        ? source
        : buildLossForRank(source.loss, source.options ?? {}, first.header.dims.length, {
            opset: source.opset,
            lowering: source.lowering,
            dtype: source.dtype,
          }).model;
    const what = options.what ?? "model";
    const proto = decodeModel(bytes, what);
    const decoded = checkLossModel(describeModel(proto, what), what);
    // the plan first: it refuses inputs whose dim 0 is not one shared dim (a step's W [D, C]) for what they are
    const plan = planStream(
      decoded.info,
      opened.map((o) => o.name),
      what,
      decoded.contract?.kind === "attached" ? decoded.contract.attached : undefined,
    );
    const N = first.header.dims[0];
    for (const o of opened) {
      if (o.header.dims[0] !== N) {
        throw new InputError(
          `${o.name}: expected dim 0 (${plan.dim}) = ${N} as in ${first.name} dim 0, received ${fmtDims(o.header.dims)} (${o.file})`,
        );
      }
    }

    let model = bytes;
    let info: ModelInfo = decoded.info;
    if (plan.kind === "ratio") {
      const extra = [plan.sum, ...(plan.weight ? [plan.weight] : [])];
      model = withOutputs(
        proto,
        extra.map((v) => v.name),
        what,
      );
      info = { ...info, outputs: [...info.outputs, ...extra] };
    }
    const outputType = info.outputs[0]?.dtype;
    const tol = ROUNDING[(outputType as FloatDType) in ROUNDING ? (outputType as FloatDType) : "float32"];
    // a chunk is at least one row: a row larger than the chunk size would hold more than it in memory
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const rowBytes = opened.reduce((a, o) => a + o.rowBytes, 0);
    if (rowBytes > chunkBytes) {
      // whole MiB as such; otherwise the bytes, and the MiB rounded up (a row "above" never reads as equal)
      const mib = (b: number) =>
        b > 0 && b % 2 ** 20 === 0
          ? `${b / 2 ** 20} MiB`
          : b >= 2 ** 20
            ? `${b} bytes (${Math.ceil((b / 2 ** 20) * 10) / 10} MiB)`
            : `${b} bytes`;
      const names = opened.length > 1 ? ` (${opened.map((o) => o.name).join(", ")} together)` : "";
      throw new StreamRefusedError(
        what,
        `one row of its inputs${names} is ${mib(rowBytes)}, above the chunk size of ${mib(chunkBytes)}, and a chunk holds at least one row: raise --chunk-mb (chunkBytes) to ${Math.ceil(rowBytes / 2 ** 20)} or more`,
      );
    }
    const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / Math.max(1, rowBytes)));
    // the model kind's streaming rule: an attached loss's contract verifies the loss, not the model before
    // it (which may mix rows); a model without a contract is not verified at all
    const verified = !mustProbeRows(decoded.contract);
    // a model onnx-losses did not verify is checked on its first chunk, split in two: that chunk holds at
    // least two rows whatever the chunk size, so one-row chunks are checked too (2 rows <= 2 chunk sizes)
    const firstRows = verified ? rowsPerChunk : Math.max(2, rowsPerChunk);
    const buffers = opened.map((o) => new ArrayBuffer(Math.max(1, Math.min(firstRows, N) * o.rowBytes)));
    const evaluator = await createDecodedEvaluator(model, { info, contract: decoded.contract }, options);
    const totals = new Map<string, number>();
    /** Sums of integer outputs, exact; and each summed output's type and dims as one pass gives them. */
    const intTotals = new Map<string, bigint>();
    const shapes = new Map<string, { dtype: DType; dims: number[] }>();
    let chunks = 0;
    const writers = new Map<string, NpyWriter>();
    const writtenTypes = new Map<string, string>();
    // the output names as file names, checked before any work (io/files.ts: none leaves the folder)
    const outFiles = options.outDir && plan.kind === "rows" ? outputFiles(options.outDir, plan.outputs, what) : undefined;
    const fileOf = (name: string): string => {
      if (options.outDir) return outFiles?.get(name) ?? outputFiles(options.outDir, [name], what).get(name)!;
      if (options.noneOutput && info.outputs.length === 1) return options.noneOutput;
      throw new InputError(`${what}: per-item output ${name} over a streamed input: expected a folder for it (--out DIR)`);
    };
    if (plan.kind === "rows") for (const name of plan.outputs) fileOf(name); // refuse before any work
    let ran = false;
    /** The folders made for the outputs, removed again (when still empty) if the stream fails. */
    let made: string[] = [];
    /** Whether the rows check has run on a chunk of two different rows (a model without a verified contract). */
    let halvesChecked = false;
    try {
      // a model without a verified contract: rows spread over the file, together and one at a time
      // (before the output folder is made: a refused model leaves nothing behind)
      // (up to two chunks' worth of rows, as the first chunk's own check below)
      if (!verified && N >= 2)
        await probeRowsApart(evaluator, opened, N, Math.min(N, PROBE_ROWS, Math.max(2, 2 * rowsPerChunk)), 2 * chunkBytes, plan, what);
      if (plan.kind === "rows" && options.outDir) made = await makeFolder(options.outDir);
      // at least one chunk, so that N = 0 is validated as one pass validates it
      for (let r0 = 0, rows = 0; r0 < N || chunks === 0; r0 += rows) {
        rows = Math.min(chunks === 0 ? firstRows : rowsPerChunk, N - r0);
        const feeds: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
        for (let i = 0; i < opened.length; i++) {
          const o = opened[i];
          const size = rows * o.rowBytes;
          await readRows(o, new Uint8Array(buffers[i], 0, size), r0);
          feeds[o.name] = {
            dtype: o.header.dtype,
            dims: [rows, ...o.header.dims.slice(1)],
            data: typedArrayOf(o.header.dtype, buffers[i], rows * o.rowElems),
          };
        }
        let out: Record<string, TensorData>;
        try {
          out = await evaluator.run(feeds);
        } catch (e) {
          if ((e instanceof InputError || e instanceof OutputShapeError) && !(e instanceof StreamRefusedError) && N > 0) {
            // the index in the file, not in the chunk; the dims named are the chunk's
            const at = e instanceof InputError && e.at ? opened.find((o) => o.name === e.at!.tensor) : undefined;
            const message =
              at && e instanceof InputError && e.at
                ? e.message.replace(`at flat index ${e.at.flatIndex}`, `at flat index ${e.at.flatIndex + r0 * at.rowElems}`)
                : e.message;
            throw withSameClass(e, `${message} (in rows ${r0}..${r0 + rows - 1} of ${N})`);
          }
          throw e;
        }
        // the first chunk split in two; and while its rows were all equal (halves of equal rows hide a
        // batch statistic), the next chunk that holds two different rows
        if (!verified && !halvesChecked && rows >= 2 && (chunks === 0 || rowsDiffer(opened, buffers, rows))) {
          halvesChecked = chunks > 0 || rowsDiffer(opened, buffers, rows);
          const h = Math.floor(rows / 2);
          const shown = (a: number, b: number) => `${r0 + a}..${r0 + b - 1}`;
          const because = `rows ${shown(0, h)} and ${shown(h, rows)} evaluated apart do not combine into rows ${shown(0, rows)}`;
          await checkRowsCombine(
            evaluator,
            feeds,
            out,
            plan,
            rows,
            [
              [0, h],
              [h, rows],
            ],
            because,
            what,
          );
        }
        if (plan.kind === "rows") {
          for (const name of plan.outputs) {
            const t = out[name];
            if (t.dims[0] !== rows)
              throw new StreamRefusedError(
                what,
                `its output ${name} has ${t.dims[0] ?? "no"} rows for a chunk of ${rows}, so it is not per item along ${plan.dim}`,
              );
            let w = writers.get(name);
            if (!w) {
              checkWritableType(name, t.dtype, what);
              w = await NpyWriter.create(fileOf(name), t.dtype, [N, ...t.dims.slice(1)]);
              writers.set(name, w);
              writtenTypes.set(name, t.dtype);
            }
            await w.append(t.data);
          }
        } else if (plan.kind === "sums") {
          for (const name of plan.outputs) {
            const t = out[name];
            if (t.data.length !== 1)
              throw new StreamRefusedError(what, `its output ${name} has ${t.data.length} values [${t.dims.join(", ")}], not one sum`);
            if (!shapes.has(name)) shapes.set(name, { dtype: t.dtype, dims: [...t.dims] });
            if (t.dtype === "int64" || t.dtype === "int32")
              intTotals.set(name, (intTotals.get(name) ?? 0n) + BigInt(t.data[0] as number | bigint));
            else totals.set(name, (totals.get(name) ?? 0) + scalar(t));
          }
        } else {
          const sum = scalar(out[plan.sum.name]);
          const weight = plan.weight ? scalar(out[plan.weight.name]) : undefined;
          const got = scalar(out[plan.output]);
          // what the graph's own cast to its output type makes of loss_sum / weight_sum
          const want = roundTo(out[plan.output].dtype, weight === undefined ? sum : sum / weight);
          if (!agrees(got, want, tol)) {
            const formula = weight === undefined ? plan.sum.name : `${plan.sum.name} / ${plan.weight!.name}`;
            throw new StreamRefusedError(
              what,
              `its output ${plan.output} (${got}) is not ${formula} (${want}) of the same graph on rows ${r0}..${r0 + rows - 1}`,
            );
          }
          totals.set("sum", (totals.get("sum") ?? 0) + sum);
          if (weight !== undefined) totals.set("weight", (totals.get("weight") ?? 0) + weight);
        }
        chunks++;
        options.onProgress?.(r0 + rows, N);
      }
      if (plan.kind === "rows") {
        const written: Record<string, { file: string; dtype: string; dims: number[] }> = {};
        for (const [name, w] of writers) {
          const dims = w.dims;
          await w.close();
          written[name] = { file: fileOf(name), dtype: writtenTypes.get(name)!, dims };
        }
        writers.clear();
        const first = Object.values(written)[0];
        ran = done = true;
        return { outputs: {}, chunks, rows: N, written: { file: first.file, dims: first.dims }, files: written };
      }
      ran = true;
    } finally {
      // every handle closed and every partial file removed, whichever of them fails; an error already
      // under way is the one reported
      await settleAll([evaluator.release(), ...[...writers.values()].map((w) => w.abort())], ran);
      // a refused or failed stream leaves no folder it made behind (rmdir: only an empty one goes)
      if (!ran) for (const d of [...made].reverse()) await rmdir(d).catch(() => undefined);
    }
    // each output in the type one pass gives it (a float16 sum past 65504 is inf there, so here too)
    const typeOf = (name: string) => info.outputs.find((o) => o.name === name)!.dtype as DType;
    if (plan.kind === "sums") {
      const outputs: Record<string, TensorData> = {};
      for (const name of plan.outputs) {
        const { dtype, dims } = shapes.get(name) ?? { dtype: typeOf(name), dims: [] };
        const int = intTotals.get(name);
        outputs[name] =
          dtype === "int64"
            ? { dtype, dims, data: BigInt64Array.of(BigInt.asIntN(64, int ?? 0n)) }
            : dtype === "int32"
              ? { dtype, dims, data: Int32Array.of(Number(BigInt.asIntN(32, int ?? 0n))) }
              : { ...scalarTensor(dtype, totals.get(name) ?? 0), dims };
      }
      done = true;
      return { outputs, chunks, rows: N };
    }
    const sum = totals.get("sum") ?? 0;
    const value = plan.weight ? sum / (totals.get("weight") ?? 0) : sum;
    done = true;
    return { outputs: { [plan.output]: scalarTensor(typeOf(plan.output), value) }, value, chunks, rows: N };
  } finally {
    await settleAll(
      opened.map((o) => o.handle.close()),
      done,
    );
  }
}

/** Wait for every cleanup; throw the first failure only when nothing else is being thrown (`ok`). */
async function settleAll(cleanups: Promise<unknown>[], ok: boolean): Promise<void> {
  const settled = await Promise.allSettled(cleanups);
  const failed = settled.find((p): p is PromiseRejectedResult => p.status === "rejected");
  if (failed && ok) throw failed.reason;
}

/** A scalar of a float type (other types as float64). */
function scalarTensor(dtype: DType, v: number): TensorData {
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

/**
 * Rows of `feeds` (a batch of `rows`) evaluated in the groups `parts` (ranges of rows) must give what the
 * whole batch gave (`whole`): per-item outputs row for row, sums as the sum of the groups'. `because`
 * ends the refusal (which rows were evaluated how). Throws StreamRefusedError.
 */
async function checkRowsCombine(
  evaluator: { run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> },
  feeds: Record<string, TensorData>,
  whole: Record<string, TensorData>,
  plan: StreamPlan,
  rows: number,
  parts: readonly [number, number][],
  because: string,
  what: string,
): Promise<void> {
  const part = (from: number, to: number) => {
    const rowsOf: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
    for (const [name, t] of Object.entries(feeds)) {
      const per = t.data.length / rows;
      rowsOf[name] = {
        dtype: t.dtype,
        dims: [to - from, ...t.dims.slice(1)],
        data: t.data.slice(from * per, to * per) as TensorData["data"],
      };
    }
    return evaluator.run(rowsOf);
  };
  const got: Record<string, TensorData>[] = [];
  for (const [from, to] of parts) got.push(await part(from, to));
  const names = plan.kind === "rows" || plan.kind === "sums" ? plan.outputs : [plan.sum.name, ...(plan.weight ? [plan.weight.name] : [])];
  const how = plan.kind === "rows" ? `per item along ${plan.dim}` : "a sum over items";
  const refuse = (name: string): never => {
    throw new StreamRefusedError(what, `its output ${name} is not ${how}: ${because}`);
  };
  for (const name of names) {
    const w = whole[name];
    const tol = COMBINE_TOLERANCE[w.dtype];
    if (tol === undefined) {
      // integers and booleans exactly (an int64 of 1e9 plus the batch size is no rounding)
      if (plan.kind === "rows") {
        if (!sameRowsExactly(w, got, name)) refuse(name);
      } else {
        if (w.data.length !== 1 || got.some((g) => g[name].data.length !== 1)) refuse(name);
        const sum = got.reduce((a, g) => a + BigInt(g[name].data[0] as number | bigint), 0n);
        if (BigInt(w.data[0] as number | bigint) !== sum) refuse(name);
      }
      continue;
    }
    const near = (u: number, v: number, scale: number) => agrees(u, v, tol) || Math.abs(u - v) <= tol * (1e-1 + scale);
    if (plan.kind === "rows") {
      // dims first (an output [N, N] has other dims in each part), then the values, read in place
      const inner = w.dims.slice(1).join();
      if (got.some((g) => g[name].dims.slice(1).join() !== inner) || got.reduce((a, g) => a + g[name].data.length, 0) !== w.data.length) {
        refuse(name);
      }
      let i = 0;
      for (const g of got) {
        const t = g[name];
        for (let j = 0; j < t.data.length; j++, i++) if (!near(at(w, i), at(t, j), 0)) refuse(name);
      }
    } else {
      if (w.data.length !== 1 || got.some((g) => g[name].data.length !== 1)) refuse(name);
      // the parts' own sizes bound the float32 rounding of their sum
      const values = got.map((g) => at(g[name], 0));
      const sum = values.reduce((a, b) => a + b, 0);
      if (
        !near(
          at(w, 0),
          sum,
          values.reduce((a, b) => a + Math.abs(b), 0),
        )
      )
        refuse(name);
    }
  }
}

/**
 * How far apart rows evaluated together and apart may be, relative, per float output type: rounding
 * of a kernel blocked otherwise for another batch size (a SIMD body and its scalar tail round
 * differently), and within the parity contract's 1e-5. A float64 output may hold float32 work (an
 * onnx-losses sum accumulates float32 losses in float64), so it gets float32's. Other types are
 * compared exactly.
 */
const COMBINE_TOLERANCE: Partial<Record<DType, number>> = { float16: 2e-3, float32: 1e-5, float64: 1e-5 };

/** Do the parts' rows of output `name`, one after the other, equal the whole's, dims and values, exactly? */
function sameRowsExactly(w: TensorData, got: readonly Record<string, TensorData>[], name: string): boolean {
  const inner = w.dims.slice(1).join();
  if (got.some((g) => g[name].dims.slice(1).join() !== inner) || got.reduce((a, g) => a + g[name].data.length, 0) !== w.data.length) {
    return false;
  }
  let i = 0;
  for (const g of got) {
    const t = g[name].data;
    for (let j = 0; j < t.length; j++, i++) if (t[j] !== w.data[i]) return false;
  }
  return true;
}

/** Fill `view` (whole rows) with the file's rows from row `from` on. Throws NpyError for a file that ends early. */
async function readRows(o: OpenNpy, view: Uint8Array, from: number): Promise<void> {
  let got = 0;
  while (got < view.length) {
    const { bytesRead } = await o.handle.read(view, got, view.length - got, o.header.dataOffset + from * o.rowBytes + got);
    if (bytesRead === 0) throw new NpyError(`${o.file}: ended early at row ${from}`);
    got += bytesRead;
  }
}

/** How many rows the probe of a model without a verified contract evaluates together and one at a time. */
export const PROBE_ROWS = 8;
/** How many rows spread over the file the probe reads at most to find PROBE_ROWS different ones. */
export const PROBE_CANDIDATES = 64;

/**
 * Before streaming a model onnx-losses did not verify: up to `k` rows spread over the file (the first,
 * the last and evenly between) evaluated together and one at a time must give the same outputs. Rows
 * equal to one already taken (a zero-padded file) are passed over for the next of up to
 * PROBE_CANDIDATES spread rows, reading at most `budget` bytes: equal rows hide a batch statistic.
 * Catches a model that mixes rows (a batch mean, a normalisation over the batch, a cumulative sum)
 * whatever the chunk size; a model made to behave otherwise only at batch sizes it is never probed
 * with cannot be caught this way, which is why the README says that streaming such a model takes its
 * rows to be independent.
 */
async function probeRowsApart(
  evaluator: { run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> },
  opened: readonly OpenNpy[],
  N: number,
  k: number,
  budget: number,
  plan: StreamPlan,
  what: string,
): Promise<void> {
  const rowBytes = opened.reduce((a, o) => a + o.rowBytes, 0);
  const m = Math.max(k, Math.min(N, PROBE_CANDIDATES, Math.floor(budget / Math.max(1, rowBytes))));
  const spread = (n: number) => [...new Set(Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.round((i * (N - 1)) / (n - 1)))))];
  // the k rows first as before (first, last, evenly between), then the other candidates in spread order
  const first = spread(k);
  const candidates = [...first, ...spread(m).filter((r) => !first.includes(r))];
  const taken: { row: number; bytes: Uint8Array[] }[] = [];
  const equalRows: { row: number; bytes: Uint8Array[] }[] = [];
  const same = (a: Uint8Array[], b: Uint8Array[]) => a.every((x, i) => Buffer.compare(x, b[i]) === 0);
  for (const row of candidates) {
    if (taken.length === k) break;
    const bytes: Uint8Array[] = [];
    for (const o of opened) {
      const b = new Uint8Array(o.rowBytes);
      await readRows(o, b, row);
      bytes.push(b);
    }
    if (taken.some((t) => same(t.bytes, bytes))) {
      if (equalRows.length < k) equalRows.push({ row, bytes });
    } else taken.push({ row, bytes });
  }
  // fewer different rows than k: equal ones fill up (a model that reads the batch size still shows)
  while (taken.length < k && equalRows.length) taken.push(equalRows.shift()!);
  taken.sort((a, b) => a.row - b.row);
  const index = taken.map((t) => t.row);
  const feeds: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
  for (const [j, o] of opened.entries()) {
    const buffer = new ArrayBuffer(k * o.rowBytes);
    for (const [i, t] of taken.entries()) new Uint8Array(buffer, i * o.rowBytes, o.rowBytes).set(t.bytes[j]);
    feeds[o.name] = {
      dtype: o.header.dtype,
      dims: [k, ...o.header.dims.slice(1)],
      data: typedArrayOf(o.header.dtype, buffer, k * o.rowElems),
    };
  }
  const rowsShown = `rows ${index.join(", ")} of ${N}`;
  let whole: Record<string, TensorData>;
  try {
    whole = await evaluator.run(feeds);
  } catch (e) {
    // an input error in one of these rows: the main loop would name it in its chunk; name it here,
    // with the index in the file (probe row i is file row index[i])
    if (e instanceof InputError || e instanceof OutputShapeError) {
      const o = e instanceof InputError && e.at ? opened.find((f) => f.name === e.at!.tensor) : undefined;
      const message =
        o && e instanceof InputError && e.at
          ? e.message.replace(
              `at flat index ${e.at.flatIndex}`,
              `at flat index ${index[Math.floor(e.at.flatIndex / o.rowElems)] * o.rowElems + (e.at.flatIndex % o.rowElems)}`,
            )
          : e.message;
      throw withSameClass(e, `${message} (in ${rowsShown}, evaluated together first to check that rows stay apart)`);
    }
    throw e;
  }
  const singles = index.map((_, i) => [i, i + 1] as [number, number]);
  await checkRowsCombine(
    evaluator,
    feeds,
    whole,
    plan,
    k,
    singles,
    `${rowsShown} evaluated one at a time differ from the same rows together`,
    what,
  );
}

/** An InputError or OutputShapeError of the same class (and `at`) with another message. */
function withSameClass(e: InputError | OutputShapeError, message: string): InputError | OutputShapeError {
  return e instanceof InputError ? new InputError(message, e.at, e.fixedDim) : new OutputShapeError(message);
}

/** Do the first `rows` rows of every input hold two different rows (row 0 against each other)? */
function rowsDiffer(opened: readonly OpenNpy[], buffers: readonly ArrayBuffer[], rows: number): boolean {
  return opened.some((o, i) => {
    const first = new Uint8Array(buffers[i], 0, o.rowBytes);
    for (let r = 1; r < rows; r++) if (Buffer.compare(first, new Uint8Array(buffers[i], r * o.rowBytes, o.rowBytes)) !== 0) return true;
    return false;
  });
}

/** Value i of a tensor as a number (float16 decoded). */
function at(t: TensorData, i: number): number {
  return t.dtype === "float16" ? fromFloat16Bits((t.data as Uint16Array)[i]) : Number(t.data[i]);
}

function scalar(t: TensorData): number {
  return at(t, 0);
}
