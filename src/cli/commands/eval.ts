import cliProgress from "cli-progress";
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { checkWritableType, makeFolder, outputFiles, writeOutputFile } from "../../io/files.js";
import { inflateBudget } from "../../io/archives.js";
import { decodeTensorBytes, OUTPUT_FORMAT } from "../../io/formats.js";
import { archiveFileKeys, StreamFileError, tensorFileHeader } from "../../io/tensor_files.js";
import { buildLossForRank, CATALOGUE, getLoss } from "../../losses/index.js";
import { OptionError } from "../../errors.js";
import { FLOAT_INDICES_HINT, InputError } from "../../runtime/validate.js";
import { fmtDims } from "../../tensor/tensor.js";
import { evaluateNpyFiles, type StreamResult } from "../../stream/evaluate_files.js";
import { StreamRefusedError } from "../../stream/plan.js";
import { createEvaluatorOwning, NODE_PROVIDERS } from "../../runtime/node.js";
import { statPath } from "../../io/read.js";
import { parseProvider, ProviderError } from "../../runtime/providers.js";
import type { TensorData } from "../../tensor/tensor.js";
import { UsageError } from "../errors.js";
import { withGradientFlag } from "./export.js";
import { describeTensor, MAX_JSON_VALUES, outputsJson } from "../format.js";
import { readBytes, readModelArg, type CliIo } from "../io.js";
import { parseIntFlag, parseNamedFile, readOptionsFlag } from "../parse.js";
import { Command, Option } from "@commander-js/extra-typings";
import type { CliContext } from "../command.js";
import { DTYPE_NAMES, type DType, isFloatDType } from "../../onnx/dtypes.js";
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from "../../onnx/versions.js";
import { DEFAULT_THREADS_TEXT } from "../../runtime/providers.js";
import { collect } from "../parse.js";

export type EvalFlags = ReturnType<ReturnType<typeof evalDefinition>["opts"]>;

/** Inputs larger than this (all files together) are evaluated in chunks. */
export const STREAM_ABOVE_BYTES = 256 * 2 ** 20;

/**
 * The model `eval` runs: a .onnx file's bytes, or a catalogue loss built for the rank of the `input`
 * file (read from its header). One pass and --stream both evaluate these bytes.
 */
async function resolveModel(
  io: CliIo,
  target: string,
  flags: EvalFlags,
  files: Record<string, string>,
  given: Record<string, string>,
  keys: Record<string, string>,
): Promise<{
  model: Uint8Array;
  what?: string;
  externalDataDir?: string;
  inputs: readonly string[];
  /** Options eval set itself from the files (a float target as probabilities), and its note for stderr. */
  inferred?: { options: Record<string, unknown>; note: string };
}> {
  // a file by its extension in any case (X.ONNX is a file, not a loss name), or by a path separator
  // (/dev/fd/63, ./model: no loss name has one)
  if (isLossName(target)) {
    const options = withGradientFlag((await readOptionsFlag(flags.options, io.cwd)) ?? {}, flags.gradient);
    if (!files.input) {
      const held =
        flags.inputs === undefined ? undefined : await archiveFileKeys(resolve(io.cwd, flags.inputs), flags.inputs).catch(() => undefined);
      const holds = held?.length ? `it holds ${held.map((k) => JSON.stringify(k)).join(", ")}; ` : "";
      throw new UsageError(
        `eval ${target}: expected --input input=FILE.npy (the loss's input)${flags.inputs === undefined ? "" : `; --inputs ${flags.inputs} has no array "input" (${holds}--input input=${flags.inputs}:KEY picks one)`}`,
      );
    }
    // inputs are regular files (a pipe cannot be read twice: its header here, its data later)
    let input: { dtype: DType; dims: readonly number[] };
    try {
      input = await tensorFileHeader(files.input, given.input, pickOf("input", keys));
    } catch (e) {
      // in one pass, the bounded reader's line for a file that is not regular, as for every other input
      if (e instanceof StreamFileError && flags.stream !== true && flags.chunkMb === undefined) await readBytes(files.input);
      throw e;
    }
    // the target's header, where it can be read (a file it cannot is refused when it is read, as ever)
    const targetFile = Object.hasOwn(files, "target")
      ? await tensorFileHeader(files.target, given.target, pickOf("target", keys)).catch(() => undefined)
      : undefined;
    const resolved = { ...options };
    // a weight tensor file turns the loss's weight (pos_weight) option to a tensor input, as passing
    // weight= (pos_weight=) to the PyTorch function does
    for (const [file, option] of [
      ["weight", "weight"],
      ["pos_weight", "posWeight"],
    ] as const) {
      if (Object.hasOwn(files, file) && resolved[option] === undefined && takesTensor(target, option)) resolved[option] = "input";
    }
    const inferred = targetsAsPyTorchReadsThem(target, resolved, input, targetFile, given);
    if (inferred) Object.assign(resolved, inferred.options);
    const build = { opset: parseIntFlag("--opset", flags.opset), lowering: flags.lowering, dtype: flags.dtype };
    let graph: ReturnType<typeof buildLossForRank>;
    try {
      graph = buildLossForRank(target, resolved, input.dims.length, build);
    } catch (e) {
      // the rank is the input file's, never an option the user set: the file is what is wrong
      if (e instanceof OptionError && e.problem?.path[0] === "rank" && options.rank === undefined) {
        throw new InputError(
          `input: expected ${e.problem.expected.replace(/^an integer/, "a rank")} (${target}'s input [N, C, d1, ...]), received ${input.dtype} ${fmtDims(input.dims)} from ${given.input}${swapHint(input, targetFile)}`,
        );
      }
      throw e;
    }
    return { model: graph.model, what: target, inputs: graph.inputs.map((i) => i.name), inferred };
  }
  for (const [flag, value] of [
    ["--options", flags.options],
    ["--opset", flags.opset],
    ["--lowering", flags.lowering],
    ["--dtype", flags.dtype],
    ["--gradient", flags.gradient],
  ]) {
    if (value !== undefined) throw new UsageError(`eval: ${flag} applies to a loss name; a .onnx file carries its own`);
  }
  const file = await readModelArg(resolve(io.cwd, target), target);
  return { model: file.bytes, what: target, externalDataDir: file.dir, inputs: file.info.inputs.map((i) => i.name) };
}

/** The array an input reads of an archive: the key given (`--input NAME=FILE:KEY`), else the input's name. */
function pickOf(name: string, keys: Record<string, string>) {
  return { key: keys[name] ?? name, explicit: Object.hasOwn(keys, name) };
}

/**
 * `FILE[:KEY]` of `--input NAME=FILE:KEY`: a path that exists is the file, whatever colons it has; else
 * the text after the last colon is the array's key when the text before it is a file.
 */
async function splitKey(spec: string, cwd: string): Promise<{ file: string; key?: string }> {
  const exists = async (p: string) =>
    stat(resolve(cwd, p)).then(
      () => true,
      () => false,
    );
  const i = spec.lastIndexOf(":");
  if (i <= 0 || i === spec.length - 1 || (await exists(spec))) return { file: spec };
  const file = spec.slice(0, i);
  return (await exists(file)) ? { file, key: spec.slice(i + 1) } : { file: spec };
}

/**
 * `onnx-losses eval <loss | FILE.onnx> --input NAME=FILE.npy ...`: read .npy inputs, build the loss for
 * their rank (or load the file), run it and print or write the outputs.
 */
export async function evalCommand(io: CliIo, target: string, flags: EvalFlags): Promise<void> {
  const requested = parseProvider(flags.ep ?? "cpu", NODE_PROVIDERS);
  let ep = requested;
  let fallback = (flags.fallback ?? "")
    .split(",")
    .filter((s) => s.trim())
    .map((s) => parseProvider(s, NODE_PROVIDERS));
  // WebGPU's native layers (Dawn, Vulkan) print to stderr when no adapter is found, before onnxruntime
  // reports it: probe in a child process, so the user sees one line, not five
  if (ep === "webgpu") {
    const why = webgpuUnavailable();
    if (why !== undefined) {
      const rest = [ep, ...fallback].filter((p) => p !== "webgpu");
      if (ep === "webgpu" && fallback.length === 0)
        throw new ProviderError(
          `execution provider webgpu: not available (${why}); pass a fallback list (e.g. --fallback cpu) to run elsewhere`,
        );
      if (rest.length === 0) throw new ProviderError(`execution provider webgpu: not available (${why})`);
      [ep, ...fallback] = rest;
    }
  }
  const threads = parseIntFlag("--threads", flags.threads);
  const cores = availableParallelism();
  if (threads !== undefined && (threads < 1 || threads > cores)) {
    throw new UsageError(`--threads: expected an integer from 1 to ${cores} (the cores this machine offers), received ${flags.threads}`);
  }
  // null-prototype maps: an input may be named __proto__ or constructor like any other
  const files: Record<string, string> = Object.create(null) as Record<string, string>;
  const given: Record<string, string> = Object.create(null) as Record<string, string>;
  const keys: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const spec of flags.input ?? []) {
    const { name, file: text } = parseNamedFile("--input", spec);
    if (Object.hasOwn(files, name)) throw new UsageError(`--input: ${name} given twice`);
    const { file, key } = await splitKey(text, io.cwd);
    files[name] = resolve(io.cwd, file);
    given[name] = file;
    if (key !== undefined) keys[name] = key;
  }
  // --inputs ARCHIVE: its arrays by name; the loss's rank from its `input`, the rest once the graph is known
  let archive: { file: string; shown: string; keys: string[] } | undefined;
  if (flags.inputs !== undefined) {
    const file = resolve(io.cwd, flags.inputs);
    const names = await archiveFileKeys(file, flags.inputs);
    if (names === undefined)
      throw new UsageError(
        `--inputs ${flags.inputs}: expected a .npz or .safetensors archive of named arrays; a .npy file is one input (--input NAME=FILE)`,
      );
    archive = { file, shown: flags.inputs, keys: names };
    // a loss name's inputs the archive holds, known before the loss is built: its input (the rank),
    // its target (read as PyTorch reads it) and a weight tensor it takes (which turns the option on)
    const early = isLossName(target)
      ? [
          "input",
          "target",
          ...(["weight", "pos_weight"] as const).filter((n) => takesTensor(target, n === "weight" ? "weight" : "posWeight")),
        ]
      : ["input"];
    for (const n of early) {
      if (!Object.hasOwn(files, n) && names.includes(n)) {
        files[n] = file;
        given[n] = flags.inputs;
      }
    }
  }
  if (Object.keys(files).length === 0 && !archive)
    throw new UsageError("eval: expected at least one --input NAME=FILE.npy, or --inputs FILE.npz");
  const chunkMb = parseIntFlag("--chunk-mb", flags.chunkMb);
  if (chunkMb !== undefined && chunkMb < 1) throw new UsageError(`--chunk-mb: expected an integer >= 1, received ${chunkMb}`);
  const { model, what, externalDataDir, inputs, inferred } = await resolveModel(io, target, flags, files, given, keys);
  if (inferred) io.err(inferred.note);
  if (archive) {
    const missing = inputs.filter((n) => !Object.hasOwn(files, n) && !archive.keys.includes(n));
    if (missing.length > 0)
      throw new UsageError(
        `--inputs ${archive.shown}: no array for the input${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${what} (it holds ${archive.keys.join(", ") || "none"}; give ${missing.length > 1 ? "them" : "it"} with --input NAME=FILE[:KEY])`,
      );
    for (const n of inputs)
      if (!Object.hasOwn(files, n)) {
        files[n] = archive.file;
        given[n] = archive.shown;
      }
    const ignored = archive.keys.filter((k) => !inputs.includes(k) || files[k] !== archive.file);
    if (ignored.length > 0)
      io.err(
        `note: ${archive.shown}: ignored ${ignored.join(", ")} (not inputs of ${what}${ignored.some((k) => inputs.includes(k)) ? ", or given by --input" : ""})`,
      );
  }
  let total = 0;
  for (const f of new Set(Object.values(files))) total += (await statPath(f)).size;
  if (flags.stream === false && chunkMb !== undefined) throw new UsageError("eval: --no-stream and --chunk-mb contradict each other");
  const auto = flags.stream === undefined && chunkMb === undefined && total > STREAM_ABOVE_BYTES;
  if (flags.stream === true || chunkMb !== undefined || auto) {
    try {
      return await streamEval(io, model, what, files, given, flags, {
        inferred: inferred?.options,
        keys,
        ep,
        fallback,
        threads,
        externalDataDir,
        chunkBytes: chunkMb === undefined ? undefined : chunkMb * 2 ** 20,
      });
    } catch (e) {
      if (auto && e instanceof StreamRefusedError) {
        throw new UsageError(
          `${e.what}: cannot be evaluated in chunks, which inputs over ${STREAM_ABOVE_BYTES / 2 ** 20} MiB together are by default: ${e.reason}; --no-stream loads them whole`,
        );
      }
      throw e;
    }
  }
  const feeds: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
  // an archive that feeds several inputs is read once, and its deflated members inflate to
  // MAX_INFLATED_BYTES together (as np.load of every array would), not each
  const read = new Map<string, Uint8Array>();
  const budget = inflateBudget();
  for (const [name, file] of Object.entries(files)) {
    let bytes = read.get(file);
    if (!bytes) {
      bytes = await readBytes(file);
      read.set(file, bytes);
    }
    feeds[name] = decodeTensorBytes(bytes, given[name], pickOf(name, keys), budget);
  }
  read.clear();

  // the bytes are the CLI's own read or build, never changed: not copied
  const evaluator = await createEvaluatorOwning(model, { ep, fallback, threads, what, externalDataDir });
  try {
    const dir = flags.out ? resolve(io.cwd, flags.out) : undefined;
    if (dir) {
      // every output's file name and declared type checked, and the folder made, before the run
      outputFiles(
        dir,
        evaluator.outputs.map((o) => o.name),
        what,
      );
      for (const o of evaluator.outputs)
        if (o.dtype !== "undefined" && !o.dtype.startsWith("dtype(")) checkWritableType(o.name, o.dtype, what);
      await makeFolder(dir);
    }
    const outputs = await evaluator.run(feeds).catch((e: unknown) => {
      throw withFileNamed(e, given);
    });
    if (dir) await writeOutputs(dir, outputs, what);
    if (flags.json) {
      // an output too large for one JSON text that --out has written names its file instead
      io.out(
        outputsJson(
          Object.entries(outputs).map(([name, t]) => [
            name,
            flags.out && t.data.length > MAX_JSON_VALUES
              ? { dims: t.dims, file: join(flags.out, `${name}${OUTPUT_FORMAT.extension}`) }
              : { dims: t.dims, data: t },
          ]),
          inferred?.options,
        ),
      );
    } else {
      for (const [name, t] of Object.entries(outputs)) io.out(describeTensor(name, t));
      if (flags.out)
        io.out(
          `wrote ${Object.keys(outputs)
            .map((n) => join(flags.out as string, `${n}${OUTPUT_FORMAT.extension}`))
            .join(", ")}`,
        );
    }
    // on stderr in --json mode too: stdout stays pure JSON, and a fallback is never silent
    if (evaluator.provider !== requested) io.err(`note: ran on ${evaluator.provider} (${requested} was not available)`);
  } finally {
    await evaluator.release();
  }
}

/** The chunked path: inputs read in row chunks, combined exactly; a progress bar on a terminal. */
async function streamEval(
  io: CliIo,
  model: Uint8Array,
  what: string | undefined,
  files: Record<string, string>,
  given: Record<string, string>,
  flags: EvalFlags,
  options: {
    ep: ReturnType<typeof parseProvider>;
    fallback: ReturnType<typeof parseProvider>[];
    threads?: number;
    chunkBytes?: number;
    externalDataDir?: string;
    inferred?: Record<string, unknown>;
    keys: Record<string, string>;
  },
): Promise<void> {
  const { inferred, ...opts } = options;
  const outDir = flags.out ? resolve(io.cwd, flags.out) : undefined;
  const bar = io.progress
    ? new cliProgress.SingleBar(
        { format: "{bar} {percentage}% | {value}/{total} rows | {duration_formatted}", stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  let result: StreamResult;
  try {
    result = await evaluateNpyFiles(model, files, {
      ...opts,
      what,
      shownAs: given,
      outDir,
      onProgress: (done, all) => {
        if (!bar) return;
        if (!started) bar.start(all, 0);
        started = true;
        bar.update(done);
      },
    });
  } finally {
    if (started) bar?.stop();
  }
  if (result.files) {
    const shown = (name: string) => join(flags.out as string, `${name}${OUTPUT_FORMAT.extension}`);
    if (flags.json) {
      const json = Object.fromEntries(Object.entries(result.files).map(([name, f]) => [name, { dims: f.dims, file: shown(name) }]));
      io.out(JSON.stringify(inferred ? { outputs: json, options: inferred } : { outputs: json }));
    } else {
      for (const [name, f] of Object.entries(result.files))
        io.out(`${name} ${f.dtype} [${f.dims.join(", ")}]: streamed to ${shown(name)} (${result.chunks} chunks)`);
    }
    return;
  }
  if (outDir) await writeOutputs(outDir, result.outputs, what);
  if (flags.json) {
    io.out(
      outputsJson(
        Object.entries(result.outputs).map(([name, t]) => [name, { dims: t.dims, data: t }]),
        inferred,
      ),
    );
  } else {
    for (const [name, t] of Object.entries(result.outputs)) io.out(describeTensor(name, t));
    const combined = result.value === undefined ? "summed in float64" : `float64 combination ${result.value}`;
    io.err(`streamed ${result.rows} rows in ${result.chunks} chunks; ${combined}`);
  }
}

/**
 * Write each output as DIR/NAME.npy: every name (outputFiles) and type checked before the first file is
 * written, each file written whole or not at all (writeOutputFile). `what` names the model.
 */
async function writeOutputs(dir: string, outputs: Record<string, TensorData>, what: string | undefined): Promise<void> {
  const files = outputFiles(dir, Object.keys(outputs), what);
  for (const [name, t] of Object.entries(outputs)) checkWritableType(name, t.dtype, what);
  await makeFolder(dir);
  for (const [name, t] of Object.entries(outputs)) await writeOutputFile(files.get(name)!, OUTPUT_FORMAT.encode(t));
}

/**
 * Why WebGPU cannot run here, or undefined when it can: a child process tries to start a WebGPU session
 * with its stderr captured (the native layers write to it directly). Only asked when --ep is webgpu.
 */
function webgpuUnavailable(): string | undefined {
  const entry = new URL("../../index.js", import.meta.url).href;
  const script = `import { buildLoss, createEvaluator } from ${JSON.stringify(entry)};
try { const ev = await createEvaluator(buildLoss("cross_entropy"), { ep: "webgpu" }); await ev.release(); }
catch (e) { console.log(String(e.message).replace(/^execution provider webgpu: /, "")); process.exit(3); }`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 120000 });
  if (r.status === 0) return undefined;
  const line = r.stdout.trim().split("\n").pop();
  return line || `the WebGPU probe failed (exit ${r.status ?? r.signal})`;
}

/**
 * Is eval's target a loss name? A file by a dot (X.ONNX, or logits.npy given in the model's place, which
 * is then refused as not a model, naming what it is) or by a path separator (/dev/fd/63, ./model): no
 * loss name has either.
 */
function isLossName(target: string): boolean {
  return !/[.\\/]/.test(target);
}

/** Does the catalogue loss `loss` take option `option` as "input" (a tensor input)? An unknown loss takes none. */
function takesTensor(loss: string, option: string): boolean {
  if (!CATALOGUE.some((d) => d.name === loss)) return false;
  const spec = getLoss(loss).optionList.find((o) => o.name === option);
  return spec?.parse("input").ok === true;
}

/** "; input and target look swapped": where the input is not a float tensor of rank >= 2 and the target is. */
function swapHint(input: { dtype: DType; dims: readonly number[] }, target: { dtype: DType; dims: readonly number[] } | undefined): string {
  const looksLikeInput = (t: { dtype: DType; dims: readonly number[] }) => isFloatDType(t.dtype) && t.dims.length >= 2;
  return target && !looksLikeInput(input) && looksLikeInput(target)
    ? "; input and target look swapped (--input input=LOGITS --input target=LABELS)"
    : "";
}

/**
 * The target as PyTorch's F.cross_entropy reads it, for a loss name evaluated on files: a float target
 * shaped like the input is class probabilities (targetType "probs", unless the options say otherwise); a
 * float target with the shape of class indices is refused with the conversion to make. An integer input
 * (class indices given as the input) is refused before any option.
 */
function targetsAsPyTorchReadsThem(
  loss: string,
  options: Record<string, unknown>,
  input: { dtype: DType; dims: readonly number[] },
  target: { dtype: DType; dims: readonly number[] } | undefined,
  given: Record<string, string>,
): { options: Record<string, unknown>; note: string } | undefined {
  const def = getLoss(loss); // an unknown name is refused as such first
  if (!isFloatDType(input.dtype)) {
    throw new InputError(
      `input: expected ${loss}'s float input (logits or probabilities, any float dtype), received ${input.dtype} ${fmtDims(input.dims)} from ${given.input}${swapHint(input, target)}`,
    );
  }
  if (!target || !isFloatDType(target.dtype) || !def.optionList.some((o) => o.name === "targetType")) return undefined;
  const sameShape = target.dims.length === input.dims.length && target.dims.every((d, i) => d === input.dims[i]);
  if (sameShape && options.targetType === undefined) {
    return {
      options: { targetType: "probs" },
      note: `note: target ${target.dtype} ${fmtDims(target.dims)} is shaped like input: read as class probabilities (targetType "probs"), as F.cross_entropy does; --options '{"targetType": "index"}' refuses it instead`,
    };
  }
  const indexShape = [input.dims[0], ...input.dims.slice(2)];
  if (
    !sameShape &&
    target.dims.length === indexShape.length &&
    target.dims.every((d, i) => d === indexShape[i]) &&
    options.targetType !== "probs"
  ) {
    throw new InputError(
      `target: expected class indices as int64 (int32 accepted), received ${target.dtype} ${fmtDims(target.dims)} from ${given.target}; ${FLOAT_INDICES_HINT}`,
    );
  }
  return undefined;
}

/** A dtype refusal of an input read from a file, with the file named after what it holds ("received float32 from labels.npy"). */
function withFileNamed(e: unknown, given: Record<string, string>): unknown {
  if (!(e instanceof InputError) || !e.dtype || !(e.dtype.tensor in given)) return e;
  const received = `received ${e.dtype.given}`;
  if (!e.message.includes(received)) return e;
  return new InputError(e.message.replace(received, `${received} from ${given[e.dtype.tensor]}`), e.at, e.fixedDim, e.dtype);
}

function evalDefinition() {
  return new Command("eval")
    .description("evaluate a loss (built for the inputs' rank) or a .onnx file on .npy, .npz or .safetensors inputs")
    .argument("<loss-or-file>", "a loss name or a .onnx file")
    .option(
      "--input <name=file>",
      `an input as .npy (${DTYPE_NAMES.join(", ")}; C order); NAME=FILE:KEY the array KEY (default NAME) of a .npz or .safetensors; repeat for each`,
      collect,
      [] as string[],
    )
    .option("--inputs <file>", "every input from the array of its name in a .npz or .safetensors (an --input overrides one)")
    .option(
      "--options <json>",
      "loss options as JSON, or @FILE to read them from FILE (loss names only); a number list may name a .npy file",
    )
    .option("--gradient", "also output input_grad, d loss / d input (loss names only; the option gradient: true)")
    .option("--opset <n>", `ai.onnx opset, ${MIN_OPSET} to ${MAX_OPSET} (loss names only; default ${DEFAULT_OPSET})`)
    .addOption(
      new Option("--lowering <form>", "webgpu: every node on the GPU, as onnxruntime-web's WebGPU backend needs (loss names only)").choices(
        ["none", "webgpu"] as const,
      ),
    )
    .addOption(
      new Option("--dtype <type>", "float type of the graph (loss names only; inputs are converted to it)").choices([
        "float32",
        "float16",
        "float64",
      ] as const),
    )
    .addOption(
      new Option(
        "--ep <provider>",
        "execution provider (webgpu: the first run compiles the graph's shaders, about a second on a software adapter)",
      )
        .choices([...NODE_PROVIDERS])
        .default("cpu"),
    )
    .option("--fallback <list>", "comma-separated providers to try when --ep is unavailable (none by default)")
    .option("--threads <n>", `intra-op threads (default: ${DEFAULT_THREADS_TEXT})`)
    .option("--json", 'print {"outputs": {"loss": {"dims": [...], "data": [...]}}} (NaN and inf as null)')
    .option("-o, --out <dir>", "write each output as DIR/NAME.npy")
    .option("--stream", `read the inputs in row chunks (automatic above ${STREAM_ABOVE_BYTES / 2 ** 20} MiB)`)
    .option("--no-stream", "load the inputs whole, however large")
    .option("--chunk-mb <n>", "MiB of input rows per chunk when streaming (default 64)");
}

export const EVAL = (ctx: CliContext) => evalDefinition().action((target, o) => evalCommand(ctx.io, target, o));
