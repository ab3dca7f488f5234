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
import { openTensorFile, tensorFileDims } from "../io/tensor_files.js";
import { privateBytes } from "../model/trusted.js";
import { BUILD_FIELDS, buildLossForRank, INPUT_KINDS } from "../losses/index.js";
import { checkLossModel, mustProbeRows } from "../models/kinds.js";
import { decodeModel } from "../onnx/codec.js";
import { DTYPES, typedArrayOf } from "../onnx/dtypes.js";
import { EVALUATOR_FIELDS } from "../runtime/evaluator.js";
import { createDecodedEvaluator } from "../runtime/node.js";
import { checkEmptyExtent, InputError, OutputShapeError } from "../runtime/validate.js";
import { fmtDims, sizeOf, type TensorData } from "../tensor/tensor.js";
import {
  checkFields,
  describeValue,
  type FieldsOf,
  field,
  functionField,
  integerField,
  isPlainObject,
  objectField,
  required,
  stringRecordField,
  textField,
} from "../util/schema.js";
import { type Combiner, combinerFor, type StreamResult } from "./combine.js";
import { planStream, StreamRefusedError } from "./plan.js";
import { checkRowsCombine, inputsWithDifferentRows, PROBE_ROWS, probeRowsApart, type StreamInput, withSameClass } from "./probe.js";

export type { StreamResult } from "./combine.js";
export { PROBE_CANDIDATES, PROBE_ROWS } from "./probe.js";

/** The fields of a StreamSource that names a catalogue loss. */
export const SOURCE_FIELDS = {
  /** A catalogue loss name. */
  loss: required(field<string>("a catalogue loss name", (v) => typeof v === "string")),
  /** The loss's options. */
  options: objectField("an object of loss options"),
  opset: BUILD_FIELDS.opset,
  lowering: BUILD_FIELDS.lowering,
  dtype: BUILD_FIELDS.dtype,
} as const;

/** What to evaluate: a catalogue loss by name (built for the rank of the `input` file), or model bytes. */
export type StreamSource = FieldsOf<typeof SOURCE_FIELDS> | Uint8Array;

/** The fields StreamOptions adds to EvaluatorOptions. */
export const STREAM_FIELDS = {
  ...EVALUATOR_FIELDS,
  /** Bytes of input rows per chunk, all files together (default 64 MiB). */
  chunkBytes: integerField(1, Number.MAX_SAFE_INTEGER, "an integer >= 1 (bytes of input rows per chunk)"),
  /** Called after each chunk with rows done and rows in all. */
  onProgress: functionField<(rowsDone: number, rowsTotal: number) => void>("a function (rowsDone, rowsTotal)"),
  /** For per-item outputs: the folder each output NAME streams into, as NAME.npy. */
  outDir: textField("a path"),
  /** For a model with one per-item output (reduction "none"): the .npy file it streams into. */
  noneOutput: textField("a path"),
  /** How errors name each input's file (input name -> the path as the user gave it); default the path. */
  shownAs: stringRecordField("an object of input name to the name errors give its file"),
  /** For a file that is an archive (.npz, .safetensors): input name -> the array it reads; default the input's name. */
  keys: stringRecordField("an object of input name to the name of the array it reads in its archive"),
} as const;

/** Options of evaluateNpyFiles: the evaluator's, and how to chunk and where to write. */
export type StreamOptions = FieldsOf<typeof STREAM_FIELDS>;

/** The arguments of evaluateNpyFiles, as a caller without types may pass them, checked. Throws OptionError. */
function checkArguments(
  source: unknown,
  files: unknown,
  options: unknown,
): { source: StreamSource; files: Record<string, string>; options: StreamOptions } {
  const checked = checkFields({ subject: "evaluateNpyFiles options", prefix: "evaluateNpyFiles options: " }, STREAM_FIELDS, options);
  const what = "evaluateNpyFiles source";
  const form = "a model's bytes (Uint8Array) or { loss, options?, opset?, lowering?, dtype? }";
  let src: StreamSource;
  if (source instanceof Uint8Array) {
    // what is checked is what onnxruntime loads, after the awaits of opening the files: a private copy
    src = privateBytes(source);
  } else if (source instanceof ArrayBuffer) {
    throw new OptionError(`${what}: expected ${form}, received an ArrayBuffer (pass new Uint8Array(buffer))`);
  } else {
    if (isPlainObject(source) && "model" in source && source.model instanceof Uint8Array)
      throw new OptionError(`${what}: unknown option "model"; pass a model's bytes as the source itself, not as { model }`);
    src = checkFields({ subject: what, prefix: `${what}: `, form, required: true }, SOURCE_FIELDS, source);
  }
  if (!isPlainObject(files))
    throw new OptionError(`evaluateNpyFiles files: expected an object of input name to .npy path, received ${describeValue(files)}`);
  for (const [name, file] of Object.entries(files))
    if (typeof file !== "string")
      throw new OptionError(`evaluateNpyFiles files: ${name}: expected a path, received ${describeValue(file)}`);
  return { source: src, files: files as Record<string, string>, options: checked };
}

/** Bytes of input rows per chunk when the caller gives none (all files together). */
export const DEFAULT_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * An input without rows read whole, to be fed to every chunk, and its file closed: bounded by the chunk
 * size (`why` starts the refusal's reason: "its weight tensor w [3] has no batch dim ..., so it is").
 */
async function readWhole(o: StreamInput, what: string, chunkBytes: number, why: string): Promise<TensorData> {
  const size = sizeOf(o.dims) * DTYPES[o.dtype].bytes;
  if (size > chunkBytes) {
    throw new StreamRefusedError(
      what,
      `${why} read whole and fed to every chunk, and its ${size} bytes are above the chunk size of ${chunkBytes}: raise --chunk-mb (chunkBytes) to ${Math.ceil(size / 2 ** 20)} or more`,
    );
  }
  const buffer = new ArrayBuffer(Math.max(1, size));
  await o.readRows(new Uint8Array(buffer, 0, size), 0);
  await o.close();
  return { dtype: o.dtype, dims: [...o.dims], data: typedArrayOf(o.dtype, buffer, sizeOf(o.dims)) };
}

/** A streamed input opened: at least one dim to stream over (a weight tensor may be a scalar, read whole), no empty extent. */
async function openInput(name: string, path: string, shown: string, key: string | undefined, weight = false): Promise<StreamInput> {
  const t = await openTensorFile(path, shown, { key: key ?? name, explicit: key !== undefined });
  try {
    if (t.dims.length === 0 && !weight)
      throw new InputError(`${name}: expected at least one dim to stream over, received a scalar (${shown})`);
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
  ({ source, files, options } = checkArguments(source, files, options));
  let opened: StreamInput[] = [];
  /** Weight tensors without the batch dim, read whole and fed to every chunk, their files closed. */
  const fixed: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
  let done = false;
  try {
    const input0 = Object.hasOwn(files, "input") ? files.input : undefined;
    if (input0 === undefined && !(source instanceof Uint8Array))
      throw new InputError(`input: missing input; expected --input input=FILE.npy (${source.loss} is built for its rank)`);
    let bytes = source instanceof Uint8Array ? source : undefined;
    if (!bytes && input0 !== undefined) {
      // a catalogue loss is built for the rank of its input file (read from its header)
      const src = source as Exclude<StreamSource, Uint8Array>;
      const rank = (await tensorFileDims(input0, options.shownAs?.input ?? input0, pickOf("input", options.keys))).length;
      if (rank === 0)
        throw new InputError(`input: expected at least one dim to stream over, received a scalar (${options.shownAs?.input ?? input0})`);
      bytes = buildLossForRank(src.loss, src.options ?? {}, rank, { opset: src.opset, lowering: src.lowering, dtype: src.dtype }).model;
    }
    const what = options.what ?? "model";
    const proto = bytes ? decodeModel(bytes, what) : undefined;
    const decoded = proto ? checkLossModel(describeModel(proto, what), what) : undefined;
    // weight tensors (the contract's broadcast checks): streamed with the rows where their dim 0 is the
    // batch's, else read whole once and fed to every chunk
    const broadcast = new Map(
      (decoded?.contract?.checks ?? []).flatMap((c) => (c.kind === "broadcast" ? [[c.tensor, c.to] as const] : [])),
    );
    // class weights [C] (cross_entropy's and nll_loss's weight "input"): no rows, read whole
    const classWeights = new Set(
      (decoded?.contract?.inputs ?? []).filter((i) => i.doc === INPUT_KINDS["class-weights"]).map((i) => i.name),
    );
    for (const [name, file] of Object.entries(files))
      opened.push(
        await openInput(name, file, options.shownAs?.[name] ?? file, options.keys?.[name], broadcast.has(name) || classWeights.has(name)),
      );
    const first = opened.find((o) => o.name === "input") ?? opened.find((o) => !broadcast.has(o.name)) ?? opened[0];
    if (!first || !bytes || !proto || !decoded) throw new InputError("streamed evaluation: expected at least one input file");
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const streamedWeights: string[] = [];
    for (const o of [...opened]) {
      if (classWeights.has(o.name) && o !== first) {
        // its dims are checked against the input's classes on the first chunk, as in one pass
        fixed[o.name] = await readWhole(o, what, chunkBytes, `its class weight tensor ${o.name} ${fmtDims(o.dims)} has no rows, so it is`);
        opened = opened.filter((p) => p !== o);
        continue;
      }
      if (!broadcast.has(o.name) || o === first) continue;
      const rank = decoded.info.inputs.find((t) => t.name === o.name)?.shape.length ?? o.dims.length;
      const N0 = first.dims[0];
      if (o.dims.length === rank && o.dims[0] === N0) {
        streamedWeights.push(o.name);
        continue;
      }
      if (o.dims.length === rank && o.dims[0] !== 1) {
        throw new InputError(
          `${o.name}: expected dim 0 = ${N0} (the rows of ${first.name}, streamed with them) or 1 (read whole), as it broadcasts to ${broadcast.get(o.name)}; received ${fmtDims(o.dims)} (${o.file})`,
        );
      }
      if (o.dims.length > rank) continue; // validation names the rank on the first chunk
      // no batch dim (per class [C], a single [1] or scalar, a leading 1): read whole, bounded
      fixed[o.name] = await readWhole(
        o,
        what,
        chunkBytes,
        `its weight tensor ${o.name} ${fmtDims(o.dims)} has no batch dim (dim 0 = ${N0}), so it is`,
      );
      opened = opened.filter((p) => p !== o);
    }
    // the plan first: it refuses inputs whose dim 0 is not one shared dim (a step's W [D, C]) for what they are
    const plan = planStream(
      decoded.info,
      opened.map((o) => o.name),
      what,
      decoded.contract?.kind === "attached" ? decoded.contract.attached : undefined,
      streamedWeights,
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
        await probeRowsApart(
          evaluator,
          opened,
          N,
          Math.min(N, PROBE_ROWS, Math.max(2, 2 * rowsPerChunk)),
          2 * chunkBytes,
          plan,
          what,
          fixed,
        );
      if (plan.kind === "rows" && options.outDir) made = await makeFolder(options.outDir);
      // at least one chunk, so that N = 0 is validated as one pass validates it
      for (let r0 = 0, rows = 0; r0 < N || chunks === 0; r0 += rows) {
        rows = Math.min(chunks === 0 ? firstRows : rowsPerChunk, N - r0);
        const feeds: Record<string, TensorData> = Object.assign(Object.create(null) as Record<string, TensorData>, fixed);
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
          await checkRowsCombine(evaluator, feeds, out, plan, rows, halves, because, what, new Set(Object.keys(fixed)));
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

/** The array input `name` reads of its archive: the key given, else its own name. */
function pickOf(name: string, keys: Record<string, string> | undefined) {
  const key = keys?.[name];
  return { key: key ?? name, explicit: key !== undefined };
}
