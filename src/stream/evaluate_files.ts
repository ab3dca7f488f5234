/**
 * Evaluate a model on tensor files too large to load at once: read them in row chunks, run each chunk
 * through the model itself, and combine the outputs exactly as one pass would give them: plan.ts
 * decides how from the graph, combine.ts combines per plan kind, probe.ts checks that a model
 * onnx-losses did not verify keeps rows apart; this file is the loop. Files are read through the
 * tensor-file seam (io/tensor_files.ts), in any format it knows. Node only.
 */
import { rmdir } from "node:fs/promises";
import { withOutputs } from "../builder/edit.js";
import { describeModel, type ModelInfo } from "../builder/reader.js";
import { OptionError } from "../errors.js";
import { makeFolder } from "../io/files.js";
import { openTensorFile } from "../io/tensor_files.js";
import { buildLossForRank, type BuildOptions } from "../losses/index.js";
import { checkLossModel, mustProbeRows } from "../models/kinds.js";
import { decodeModel } from "../onnx/codec.js";
import { typedArrayOf } from "../onnx/dtypes.js";
import { checkEvaluatorOptions, type EvaluatorOptions } from "../runtime/evaluator.js";
import { createDecodedEvaluator } from "../runtime/node.js";
import { checkEmptyExtent, InputError, OutputShapeError } from "../runtime/validate.js";
import { fmtDims, type TensorData } from "../tensor/tensor.js";
import { unknownKeyProblem } from "../util/names.js";
import { type Combiner, combinerFor, type StreamResult } from "./combine.js";
import { planStream, StreamRefusedError } from "./plan.js";
import { checkRowsCombine, inputsWithDifferentRows, PROBE_ROWS, probeRowsApart, type StreamInput, withSameClass } from "./probe.js";

export type { StreamResult } from "./combine.js";
export { PROBE_CANDIDATES, PROBE_ROWS } from "./probe.js";

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
function checkSourceAndFiles(source: unknown, files: unknown, options: StreamOptions): void {
  const what = "evaluateNpyFiles source";
  const form = "a model's bytes (Uint8Array) or { loss, options?, opset?, lowering?, dtype? }";
  if (source instanceof Uint8Array) {
    // fall through to the files
  } else if (source instanceof ArrayBuffer) {
    throw new OptionError(`${what}: expected ${form}, received an ArrayBuffer (pass new Uint8Array(buffer))`);
  } else if (!isPlainObject(source)) {
    throw new OptionError(`${what}: expected ${form}, received ${describeValue(source)}`);
  } else {
    const s = source as Record<string, unknown>;
    if ("model" in s && s.model instanceof Uint8Array)
      throw new OptionError(`${what}: unknown option "model"; pass a model's bytes as the source itself, not as { model }`);
    const problem = unknownKeyProblem(what, s, SOURCE_KEYS);
    if (problem) throw new OptionError(problem);
    if (typeof s.loss !== "string")
      throw new OptionError(`${what}: loss: expected a catalogue loss name, received ${describeValue(s.loss)}`);
    if (s.options !== undefined && !isPlainObject(s.options))
      throw new OptionError(`${what}: options: expected an object of loss options, received ${describeValue(s.options)}`);
  }
  if (!isPlainObject(files))
    throw new OptionError(`evaluateNpyFiles files: expected an object of input name to .npy path, received ${describeValue(files)}`);
  for (const [name, file] of Object.entries(files))
    if (typeof file !== "string")
      throw new OptionError(`evaluateNpyFiles files: ${name}: expected a path, received ${describeValue(file)}`);
  const o = "evaluateNpyFiles options";
  const { chunkBytes, onProgress, outDir, noneOutput, shownAs } = options;
  if (chunkBytes !== undefined && !(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1))
    throw new OptionError(
      `${o}: chunkBytes: expected an integer >= 1 (bytes of input rows per chunk), received ${describeValue(chunkBytes)}`,
    );
  if (onProgress !== undefined && typeof onProgress !== "function")
    throw new OptionError(`${o}: onProgress: expected a function (rowsDone, rowsTotal), received ${describeValue(onProgress)}`);
  for (const [key, v] of [
    ["outDir", outDir],
    ["noneOutput", noneOutput],
  ] as const)
    if (v !== undefined && (typeof v !== "string" || v.length === 0))
      throw new OptionError(`${o}: ${key}: expected a path, received ${describeValue(v)}`);
  if (shownAs !== undefined && (!isPlainObject(shownAs) || Object.values(shownAs).some((v) => typeof v !== "string")))
    throw new OptionError(
      `${o}: shownAs: expected an object of input name to the name errors give its file, received ${describeValue(shownAs)}`,
    );
}

/** An object literal (or one without a prototype): not an array, a Map, a Date or a typed array. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** How a value is named in an error. */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "number") return String(v);
  if (typeof v === "object" && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null)
    return `a ${(v as object).constructor?.name ?? "object"}`;
  return typeof v === "string" ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : typeof v;
}

/** Bytes of input rows per chunk when the caller gives none (all files together). */
export const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

/** A streamed input opened: at least one dim to stream over, no empty extent. */
async function openInput(name: string, path: string, shown: string): Promise<StreamInput> {
  const t = await openTensorFile(path, shown);
  try {
    if (t.dims.length === 0) throw new InputError(`${name}: expected at least one dim to stream over, received a scalar (${shown})`);
    checkEmptyExtent(name, t.dims);
  } catch (e) {
    await t.close();
    throw e;
  }
  return Object.assign(t, { name });
}

/**
 * Evaluate `files` (input name -> tensor file path (io/formats.ts), sharing their first dim) chunk by chunk, through the model
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
  checkSourceAndFiles(source, files, options);
  const opened: StreamInput[] = [];
  let done = false;
  try {
    for (const [name, file] of Object.entries(files)) opened.push(await openInput(name, file, options.shownAs?.[name] ?? file));
    const input = opened.find((o) => o.name === "input");
    if (!input && !(source instanceof Uint8Array))
      throw new InputError(`input: missing input; expected --input input=FILE.npy (${source.loss} is built for its rank)`);
    const first = input ?? opened[0];
    if (!first) throw new InputError("streamed evaluation: expected at least one input file");
    const bytes =
      source instanceof Uint8Array
        ? source
        : buildLossForRank(source.loss, source.options ?? {}, first.dims.length, {
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
    const N = first.dims[0];
    for (const o of opened) {
      if (o.dims[0] !== N) {
        throw new InputError(
          `${o.name}: expected dim 0 (${plan.dim}) = ${N} as in ${first.name} dim 0, received ${fmtDims(o.dims)} (${o.file})`,
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
    let chunks = 0;
    let combiner: Combiner | undefined;
    let ran = false;
    /** The folders made for the outputs, removed again (when still empty) if the stream fails. */
    let made: string[] = [];
    /** For each input: has the rows check run on a chunk where two of its rows differ (a model without a verified contract)? */
    const differed = opened.map(() => false);
    try {
      // per-item outputs' files named and refused before any work
      combiner = combinerFor(plan, info, N, { outDir: options.outDir, noneOutput: options.noneOutput }, what);
      // a model without a verified contract: rows spread over the file, together and one at a time
      // (before the output folder is made: a refused model leaves nothing behind), up to two chunks'
      // worth of rows, as the first chunk's own check below
      if (!verified && N >= 2)
        await probeRowsApart(evaluator, opened, N, Math.min(N, PROBE_ROWS, Math.max(2, 2 * rowsPerChunk)), 2 * chunkBytes, plan, what);
      if (plan.kind === "rows" && options.outDir) made = await makeFolder(options.outDir);
      // at least one chunk, so that N = 0 is validated as one pass validates it
      for (let r0 = 0, rows = 0; r0 < N || chunks === 0; r0 += rows) {
        rows = Math.min(chunks === 0 ? firstRows : rowsPerChunk, N - r0);
        const feeds: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
        for (let i = 0; i < opened.length; i++) {
          const o = opened[i];
          await o.readRows(new Uint8Array(buffers[i], 0, rows * o.rowBytes), r0);
          feeds[o.name] = { dtype: o.dtype, dims: [rows, ...o.dims.slice(1)], data: typedArrayOf(o.dtype, buffers[i], rows * o.rowElems) };
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
        // the first chunk split in two; and while an input's rows were all equal in the chunks checked
        // (halves of equal rows hide a batch statistic over it), the next chunk where two of them differ
        const differ =
          !verified && rows >= 2 && (chunks === 0 || !differed.every(Boolean)) ? inputsWithDifferentRows(opened, buffers, rows) : undefined;
        if (differ && (chunks === 0 || differ.some((d, i) => d && !differed[i]))) {
          for (const [i, d] of differ.entries()) if (d) differed[i] = true;
          const h = Math.floor(rows / 2);
          const shown = (a: number, b: number) => `${r0 + a}..${r0 + b - 1}`;
          const because = `rows ${shown(0, h)} and ${shown(h, rows)} evaluated apart do not combine into rows ${shown(0, rows)}`;
          const halves: [number, number][] = [
            [0, h],
            [h, rows],
          ];
          await checkRowsCombine(evaluator, feeds, out, plan, rows, halves, because, what);
        }
        await combiner.add(out, r0, rows);
        chunks++;
        options.onProgress?.(r0 + rows, N);
      }
      const result = await combiner.finish(chunks);
      ran = done = true;
      return result;
    } finally {
      // every handle closed and every partial file removed, whichever of them fails; an error already
      // under way is the one reported
      await settleAll([evaluator.release(), ...(ran || !combiner ? [] : [combiner.abort()])], ran);
      // a refused or failed stream leaves no folder it made behind (rmdir: only an empty one goes)
      if (!ran) for (const d of [...made].reverse()) await rmdir(d).catch(() => undefined);
    }
  } finally {
    await settleAll(
      opened.map((o) => o.close()),
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
