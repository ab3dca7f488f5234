/**
 * The Evaluator: one interface, implemented over any onnxruntime JS package (onnxruntime-node in
 * node.ts, onnxruntime-web in the browser entry), which share onnxruntime-common's API. Everything but
 * the module and the provider probe is written once, here.
 */
import type { ModelInfo, TensorInfo } from "../builder/reader.js";
import { decodeModel, encodeModel } from "../onnx/codec.js";
import { SMALL_BATCH_ELEMENTS, smallBatchModel } from "../losses/index.js";
import { OnnxRuntimeError, OptionError, UserError } from "../errors.js";
import { listOptionsOfLength } from "../util/names.js";
import {
  booleanField,
  checkFields,
  describeValue,
  type Field,
  type FieldsOf,
  field,
  integerField,
  listField,
  textField,
} from "../util/schema.js";
import type { InputCheck, LossContract } from "../model/contract.js";
import { planProviders, ProviderError, sessionOptionsFor, type ExecutionProvider, type ProviderStatus } from "./providers.js";
import { dtypeOfArray, type TensorData, type TensorDType, type TensorInput, type TensorOf } from "../tensor/tensor.js";
import type { FloatDType } from "../onnx/dtypes.js";
import type { LossGraph, OutputMode } from "../losses/index.js";
import type { AttachedLoss } from "../losses/attach.js";
import {
  type AttachedShapes,
  checkAttachedShapes,
  checkFeedsObject,
  checkOutputs,
  compileFeedPlan,
  type FeedPlan,
  InputError,
  splitChecks,
  validateFeeds,
} from "./validate.js";

/** The part of an onnxruntime JS module (onnxruntime-node, onnxruntime-web) the evaluator uses. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => OrtTensor;
}
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>, options?: { logSeverityLevel?: number }): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/** A provider's name as an option takes it (which providers there are is the entry's to say: planProviders). */
const providerField: Field<ExecutionProvider> = field(
  "an execution provider's name",
  (v) => typeof v === "string" && /^[a-z][a-z0-9_-]{0,31}$/.test(v),
);

/** The fields of {@link EvaluatorOptions}: the one declaration of its keys, values and docs. */
export const EVALUATOR_FIELDS = {
  /** Execution provider (default `cpu` in Node, `wasm` in the browser). */
  ep: providerField,
  /** Providers to try, in order, when `ep` is unavailable or fails to start. Empty by default: no silent fallback. */
  fallback: listField(providerField, "a list of execution provider names"),
  /** Intra-op threads (default: onnxruntime's, one per physical core: see DEFAULT_THREADS_TEXT; one for small runs of a model of up to 1 MiB, see ONE_THREAD_BELOW). Node only: the browser entry refuses it (its wasm threads are set by configureWasm). */
  threads: integerField(1),
  /** Let intra-op threads spin after a run (default false: they would steal the cores from what runs next). Node only, as `threads`. */
  spinning: booleanField,
  /** Skip input validation (for benchmarks of trusted inputs). */
  skipValidation: booleanField,
  /** Names the model in errors (a file name). */
  what: field<string>(
    "a name for the model in errors (one line, at most 4096 characters)",
    (v) => typeof v === "string" && v.length > 0 && v.length <= 4096 && !/[\r\n]/.test(v),
  ),
  /**
   * Node only: run onnxruntime in a `node:worker_threads` Worker, so that a long run does not block this
   * thread's event loop (onnxruntime-node computes on the thread that calls session.run). Default false.
   * Validation still runs on this thread before anything is sent, and errors are the same classes with
   * the same messages. The feeds are copied to the worker before `run()` returns its promise (the
   * in-thread evaluator does not copy them); outputs come back without a copy. `release()` ends the
   * worker. The browser entry refuses it: run the evaluator in the page's own Web Worker instead.
   */
  worker: booleanField,
  /**
   * The folder a model given as bytes resolves its external data against (the folder of its .onnx
   * file). Node only; createEvaluator of a path sets it. A model with external data is refused without
   * it: its data would otherwise be looked up in the working directory.
   */
  externalDataDir: textField("a folder path"),
} as const;

/** Options of an evaluator. */
export type EvaluatorOptions = FieldsOf<typeof EVALUATOR_FIELDS>;

/** A value frozen all the way down (plain data: a contract). */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/**
 * What createEvaluator takes, checked: a path, model bytes (a Uint8Array, of any realm), or a built
 * LossGraph (its `model`). Throws OptionError naming what it received.
 */
export function evaluatorSource(source: unknown): string | Uint8Array {
  const bytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array || Object.prototype.toString.call(v) === "[object Uint8Array]";
  if (typeof source === "string" && source.length > 0) return source;
  if (bytes(source)) return source;
  if (source !== null && typeof source === "object" && bytes((source as { model?: unknown }).model))
    return (source as { model: Uint8Array }).model;
  const hint = source instanceof ArrayBuffer ? " (pass new Uint8Array(buffer))" : "";
  throw new OptionError(
    `createEvaluator source: expected a built loss (LossGraph), model bytes (Uint8Array) or a .onnx path, received ${typeof source === "string" ? "an empty path" : describeValue(source)}${hint}`,
  );
}

/** Check evaluator options (`subject` names them in errors); returns them with their values checked. Throws OptionError. */
export function checkEvaluatorOptions(options: unknown, subject = "createEvaluator options"): EvaluatorOptions {
  return checkFields({ subject }, EVALUATOR_FIELDS, options);
}

/**
 * What a built loss outputs (`loss`, with `gradient: true` also `input_grad`; with outputs "parts"
 * `loss_sum` and `weight_sum`), typed by its float type: a float32 loss's data is a Float32Array, a
 * float64 one's a Float64Array. Parts accumulate in float64 (float32 under the WebGPU lowering).
 */
export type LossOutputs<D extends FloatDType = FloatDType, M extends OutputMode = OutputMode> = Record<
  string,
  TensorOf<M extends "parts" ? "float64" | "float32" : D>
>;

/**
 * What a model with a loss attached to output `Out` outputs: its own outputs (any dtype), and `Out`,
 * `loss` and `${Out}_grad` (with the gradient on), floats of the attached output's type.
 */
export type AttachedOutputs<Out extends string = string> = Record<string, TensorOf> & {
  [K in Out | "loss" | `${Out}_grad`]: TensorOf<FloatDType>;
};

/**
 * createEvaluator's signatures, the same in both entries (node.ts, web.ts): a built loss's outputs typed by
 * its dtype, an attached loss's by its output, any other source's by dtype.
 */
export interface CreateEvaluator {
  <D extends FloatDType, M extends OutputMode>(
    source: LossGraph<unknown, D, M>,
    options?: EvaluatorOptions,
  ): Promise<Evaluator<LossOutputs<D, M>>>;
  <Out extends string>(source: AttachedLoss<Out>, options?: EvaluatorOptions): Promise<Evaluator<AttachedOutputs<Out>>>;
  (source: LossGraph<unknown> | AttachedLoss | Uint8Array | string, options?: EvaluatorOptions): Promise<Evaluator>;
}

/** Evaluates one ONNX model on plain tensors; `Out` types what run() returns (every output, by name). */
export interface Evaluator<Out extends Record<string, TensorData> = Record<string, TensorOf>> {
  /** The provider the session runs on. */
  readonly provider: ExecutionProvider;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Catalogue loss name and options when the model was built by onnx-losses. */
  readonly loss?: { name: string; options: Record<string, unknown> };
  /** The model's verified contract when it was built by onnx-losses (its checks run before each run). */
  readonly contract?: LossContract;
  /**
   * Validate the feeds, run, and return every output. The feeds' typed arrays are not copied: onnxruntime
   * reads them while the run is in flight, so leave them unchanged until the promise settles (a change
   * before then can change the result). With `worker: true` they are copied before run() returns, and
   * may be changed from then on. Concurrent runs on one evaluator are safe.
   */
  run(feeds: Readonly<Record<string, TensorInput>>): Promise<Out>;
  release(): Promise<void>;
}

/**
 * Create an evaluator over an onnxruntime module. `statuses` says which providers the module has here;
 * `decoded` is the model as read and checked by the caller (the entries use models/kinds.ts's
 * readLossModel): its inputs, and its contract, whose checks run before every run.
 */
export async function createOrtEvaluator(
  ort: OrtModule,
  model: Uint8Array,
  decoded: { info: ModelInfo; contract?: LossContract },
  statuses: readonly ProviderStatus[],
  options: EvaluatorOptions & {
    ep: ExecutionProvider;
    maxThreads?: number;
    /** The module the diagnostic session of an attached model's own part is made with (default `ort`; a worker's holds one session). */
    partOrt?: OrtModule;
  },
): Promise<Evaluator> {
  // the evaluator's own frozen copy: the checks it runs and the small-batch model it builds cannot be
  // changed through ev.contract or ev.loss, which hand it out
  const contract = decoded.contract && deepFreeze(structuredClone(decoded.contract));
  // a negative declared dim (-1, which some exporters wrote for a dynamic one; ONNX forbids it) is an
  // unknown dim to validation, as onnxruntime takes it: never a dim of -1 to ask the caller for
  const open = (t: TensorInfo): TensorInfo =>
    t.shape.some((d) => typeof d === "number" && d < 0)
      ? { ...t, shape: t.shape.map((d) => (typeof d === "number" && d < 0 ? "?" : d)) }
      : t;
  const info = { ...decoded.info, inputs: decoded.info.inputs.map(open), outputs: decoded.info.outputs.map(open) };
  const { threads, maxThreads } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= (maxThreads ?? Infinity))) {
    const range = maxThreads === undefined ? "an integer >= 1" : `an integer from 1 to ${maxThreads} (the cores this machine offers)`;
    throw new OptionError(`threads: expected ${range}, received ${JSON.stringify(threads)}`);
  }
  const checks = contract?.checks ?? [];
  const loss = contract ? { name: contract.loss, options: contract.options } : undefined;
  const plan = planProviders(options.ep, options.fallback ?? [], statuses);
  const failures: { ep: ExecutionProvider; message: string }[] = [];
  const what = options.what ?? "model";
  if (info.outputs.length === 0)
    throw new OnnxRuntimeError(`${what}: expected a model with at least one output, received a graph without outputs`);
  if (!(info.irVersion >= MIN_ORT_IR_VERSION && info.irVersion <= MAX_ORT_IR_VERSION)) {
    throw new OnnxRuntimeError(
      `${what}: ir_version ${info.irVersion}: expected ${MIN_ORT_IR_VERSION} to ${MAX_ORT_IR_VERSION} (the IR versions onnxruntime 1.30 reads)`,
    );
  }
  if (info.externalData.length > 0 && options.externalDataDir === undefined) {
    const r = info.externalData[0];
    throw new OptionError(
      `${what}: ${r.tensor} is stored in external data (${JSON.stringify(r.location)}), which is resolved against the model's folder: pass the .onnx file's path, or its folder as externalDataDir`,
    );
  }
  for (const ep of plan) {
    // small runs of a small model on one thread, when the caller did not choose the threads: waking a
    // second one costs more than it saves there (measured in ONE_THREAD_BELOW's note). The one-thread
    // session is made first (most runs of a loss graph are small, and a thread pool costs ~2 ms to
    // make); the session with onnxruntime's default threads on the first large run.
    const splitThreads =
      // (not in a worker, which holds one session)
      ep === "cpu" &&
      !options.worker &&
      options.threads === undefined &&
      (options.maxThreads ?? 1) > 1 &&
      model.length <= ONE_THREAD_MODEL_BYTES;
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(
        model,
        sessionOptionsFor(ep, splitThreads ? 1 : options.threads, options.spinning, options.externalDataDir),
      );
    } catch (e) {
      failures.push({ ep, message: firstLine(e) });
      continue;
    }
    const attached = contract?.kind === "attached" ? contract.attached : undefined;
    // made only after a run fails: the model without its attached loss, to say what shape it computed
    const modelPart = attached
      ? () =>
          (options.partOrt ?? ort).InferenceSession.create(
            withoutAttachedLoss(model, attached),
            sessionOptionsFor(ep, options.threads, options.spinning),
          )
      : undefined;
    const defaultThreads = splitThreads
      ? () => ort.InferenceSession.create(model, sessionOptionsFor(ep, undefined, options.spinning, options.externalDataDir))
      : undefined;
    // a catalogue loss graph whose elementwise sum runs in row chunks: small batches run the same loss
    // built without them (smallBatchModel), made on the first small run (not in a worker, which holds
    // one session)
    const small =
      contract?.kind === "loss" && !options.worker
        ? async (): Promise<OrtSession | undefined> => {
            const bytes = smallBatchModel(
              contract.loss,
              contract.options,
              {
                opset: info.opset,
                lowering: contract.lowering,
                dtype: contract.dtype,
                accumulate: contract.accumulate,
                outputs: contract.outputs,
              },
              model,
            );
            if (!bytes) return undefined;
            return ort.InferenceSession.create(bytes, sessionOptionsFor(ep, splitThreads ? 1 : options.threads, options.spinning));
          }
        : undefined;
    return new OrtEvaluator(
      ort,
      session,
      ep,
      info.inputs,
      info.outputs,
      checks,
      loss,
      contract,
      options.skipValidation ?? false,
      what,
      modelPart,
      defaultThreads,
      small,
    );
  }
  // The CPU providers run every standard op: a model they cannot load is the model's problem, not the provider's.
  const onCpu = failures.find((f) => f.ep === "cpu" || f.ep === "wasm");
  if (onCpu) throw new OnnxRuntimeError(`${what}: onnxruntime cannot load the model (${onCpu.ep}: ${onCpu.message})`);
  throw new ProviderError(
    `execution provider ${options.ep}: session creation failed (${failures.map((f) => `${f.ep}: ${f.message}`).join("; ")})`,
  );
}

/**
 * Runs whose inputs hold fewer elements than this (all together) go to a one-thread session when the
 * caller left `threads` to onnxruntime, per loss (a model of no catalogue loss: cross_entropy's).
 * Measured on a 2-core AMD EPYC VM with the evaluator's session options (threads do not spin), one
 * thread against two, interleaved medians in us: cross_entropy 64 x 10 55/82, 512 x 200 109/144,
 * 1024 x 500 326/270; softmax focal 512 x 200 126/165, 1024 x 500 359/319; BCE with logits 1024 x 500
 * (input and target) 1579/1996, 4096 x 1000 13788/12152; sigmoid focal 1024 x 1000 7120/7055; nll_loss
 * one thread at every size to 4096 x 1000 (123/192).
 */
export const ONE_THREAD_BELOW: Readonly<Record<string, number>> = {
  cross_entropy: 2 ** 18,
  softmax_focal_loss: 2 ** 18,
  nll_loss: 2 ** 23,
  binary_cross_entropy: 2 ** 21,
  binary_cross_entropy_with_logits: 2 ** 21,
  sigmoid_focal_loss: 2 ** 21,
};
/** Models up to this size get the one-thread session too (a loss graph; an attached model's weights would be held twice). */
export const ONE_THREAD_MODEL_BYTES = 2 ** 20;

/**
 * The IR versions onnxruntime 1.30 loads (measured: 0 to 13; a model outside them failed in session
 * creation with a C++ signature as its message's first line).
 */
export const MIN_ORT_IR_VERSION = 0;
export const MAX_ORT_IR_VERSION = 13;

class OrtEvaluator implements Evaluator {
  constructor(
    private readonly ort: OrtModule,
    private readonly session: OrtSession,
    readonly provider: ExecutionProvider,
    readonly inputs: readonly TensorInfo[],
    readonly outputs: readonly TensorInfo[],
    checks: readonly InputCheck[],
    readonly loss: { name: string; options: Record<string, unknown> } | undefined,
    readonly contract: LossContract | undefined,
    private readonly skipValidation: boolean,
    private readonly what: string,
    private readonly modelPart?: () => Promise<OrtSession>,
    /**
     * Where `session` is a one-thread session (a small model, threads left to onnxruntime): the session
     * with onnxruntime's default threads, made on the first large run (see ONE_THREAD_BELOW).
     */
    private defaultThreads?: () => Promise<OrtSession>,
    /** The session of the loss built without row chunks, for small batches (see smallBatchModel); undefined where it has none. */
    private smallBatch?: () => Promise<OrtSession | undefined>,
  ) {
    this.split = splitChecks(checks, inputs, outputs);
    this.plan = compileFeedPlan(inputs, this.split.before, outputs);
    const c = contract?.kind === "attached" ? contract : undefined;
    const at = c?.attached;
    const output = at && outputs.find((t) => t.name === at.output);
    const target = at && inputs.find((t) => t.name === at.target);
    this.attached =
      at && output && target
        ? {
            at: {
              output: at.output,
              target: at.target,
              weights: Object.values(at.weights ?? {}),
              lossInput: c.lossInputShape,
              loss: this.loss,
            },
            output,
            target,
          }
        : undefined;
  }

  /** An attached loss: its output and target, whose dims are compared after each run (checkAttachedShapes). */
  private readonly attached?: { at: AttachedShapes; output: TensorInfo; target: TensorInfo };

  /** validateFeeds's common case, decided once (undefined: validateFeeds converts the feeds or refuses them). */
  private readonly plan: FeedPlan;

  /** The checks run on the feeds, and those run on the feeds and outputs of a run (an attached loss's). */
  private readonly split: { before: InputCheck[]; after: InputCheck[] };

  async run(feeds: Readonly<Record<string, TensorInput>>): Promise<Record<string, TensorOf>> {
    if (this.released) throw new UserError(`${this.what}: this evaluator was released; create another one to run again`);
    // release() waits for the runs in flight (a session ended under a run would fail it): a count, and
    // one waiter when it falls to 0 (a promise per run cost ~10 us at small sizes)
    this.running++;
    try {
      // each output's data is the typed array onnxruntime made for its dtype (as TensorOf states)
      return (await this.runOnce(feeds)) as Record<string, TensorOf>;
    } finally {
      if (--this.running === 0 && this.idle) {
        this.idle();
        this.idle = undefined;
      }
    }
  }

  /**
   * The session for these feeds: the one-thread one for a small run, the default-threads one for a
   * large run (made on the first; if that fails, the one-thread one from then on), as a promise only
   * while it is being made.
   */
  private sessionFor(feeds: Record<string, TensorData>): OrtSession | Promise<OrtSession> {
    if (!this.defaultThreads && !this.smallBatch) return this.session;
    let elements = 0;
    for (const name in feeds) elements += feeds[name].data.length;
    if (this.smallBatch && elements <= SMALL_BATCH_ELEMENTS) {
      if (this.smallSession) return this.smallSession;
      this.small ??= this.smallBatch().then(
        (s) => {
          if (s) {
            this.smallSession = s;
            return s;
          }
          this.smallBatch = undefined; // a graph without chunks: the model itself is the small graph
          return this.session;
        },
        () => {
          this.smallBatch = undefined;
          return this.session;
        },
      );
      return this.small;
    }
    if (!this.defaultThreads) return this.session;
    if (elements < (ONE_THREAD_BELOW[this.loss?.name ?? ""] ?? ONE_THREAD_BELOW.cross_entropy)) return this.session;
    if (this.largeSession) return this.largeSession;
    this.large ??= this.defaultThreads().then(
      (s) => (this.largeSession = s),
      () => {
        this.defaultThreads = undefined;
        return this.session;
      },
    );
    return this.large;
  }

  private large?: Promise<OrtSession>;
  private largeSession?: OrtSession;
  private small?: Promise<OrtSession>;
  private smallSession?: OrtSession;

  /** Runs in flight, and what release() waits on while there are any. */
  private running = 0;
  private idle?: () => void;

  private async runOnce(feeds: Readonly<Record<string, TensorInput>>): Promise<Record<string, TensorData>> {
    let valid: Record<string, TensorData>;
    try {
      valid = this.skipValidation
        ? passThrough(feeds)
        : (this.plan(feeds) ?? validateFeeds(this.inputs, this.split.before, feeds, this.outputs));
    } catch (e) {
      throw this.withOption(e);
    }
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const name in valid) ortFeeds[name] = this.tensorOf(name, valid[name]);
    let result: Record<string, OrtTensor>;
    // no run options: the session's log severity (sessionOptionsFor) already keeps onnxruntime's log
    // off stderr, and run options cost ~10 us a run at small sizes (a native RunOptions each time).
    // The session is called before run() returns, as before there were two: a worker's copies the feeds
    // then, so its caller may change them once run() returns (only the default-threads and the small-batch
    // sessions, never in a worker, are ever waited for, while being made)
    const chosen = this.sessionFor(valid);
    try {
      result = await (chosen instanceof Promise ? chosen.then((c) => c.run(ortFeeds)) : chosen.run(ortFeeds));
    } catch (e) {
      const failed = new OnnxRuntimeError(`${this.what}: onnxruntime failed to run the model: ${firstLine(e)}`);
      // a target of other dims than the output's can also make the loss's nodes fail (a gradient's
      // broadcast): say so, naming both shapes, where the model's part alone runs
      if (!this.skipValidation && this.attached) await this.diagnose(ortFeeds, valid);
      throw failed;
    }
    const out: Record<string, TensorData> = {};
    for (const name of this.session.outputNames) {
      const t = result[name];
      out[name] = { dtype: t.type as TensorDType, dims: [...t.dims], data: t.data as TensorData["data"] };
    }
    if (!this.skipValidation && this.attached) {
      // nothing binds a symbolic dim of the model's output to the target before the run: the loss
      // would broadcast or gather a target of other dims silently (and a model may compute another
      // shape than it declares): the result is refused, not returned
      checkAttachedShapes(this.attached.at, this.attached, valid, out);
    }
    if (!this.skipValidation && this.split.after.length > 0) {
      // an attached loss's checks that need the model's output (a class count it does not fix, its
      // value range): the run's outputs are refused, not returned, when they fail
      try {
        checkOutputs(this.split.after, valid, out);
      } catch (e) {
        throw this.withOption(e);
      }
    }
    return out;
  }

  /**
   * The onnxruntime tensor of a feed: the last run's where it was the same small typed array with the
   * same dims (an onnxruntime tensor holds the array, never a copy, and is read when the session runs,
   * so a change made to the array in place between runs is seen), else a new one. A small run spent
   * ~1 us making each; a large array is never held after its run.
   */
  private tensorOf(name: string, t: TensorData): OrtTensor {
    const last = this.lastTensors.get(name);
    if (last && last.data === t.data && last.dtype === t.dtype && sameDims(last.dims, t.dims)) return last.tensor;
    let tensor: OrtTensor;
    try {
      tensor = new this.ort.Tensor(t.dtype, t.data, t.dims);
    } catch (e) {
      throw new InputError(`${name}: onnxruntime refused the tensor ${t.dtype} [${t.dims.join(", ")}]: ${firstLine(e)}`);
    }
    if (t.data.length <= SMALL_BATCH_ELEMENTS) this.lastTensors.set(name, { data: t.data, dtype: t.dtype, dims: [...t.dims], tensor });
    else this.lastTensors.delete(name);
    return tensor;
  }

  private readonly lastTensors = new Map<string, { data: TensorData["data"]; dtype: TensorDType; dims: number[]; tensor: OrtTensor }>();

  /**
   * After a failed run of a model with an attached loss: onnxruntime runs every node whatever the
   * fetches, so the model's part runs in a session of its own (made once, on the first failure), and
   * its output is checked against the target (throws what checkAttachedShapes throws).
   */
  private async diagnose(ortFeeds: Record<string, OrtTensor>, valid: Record<string, TensorData>): Promise<void> {
    const at = this.attached;
    if (!at || !this.modelPart) return;
    let t: OrtTensor | undefined;
    try {
      this.partSession ??= this.modelPart();
      const part = await this.partSession;
      const feeds = Object.fromEntries(Object.entries(ortFeeds).filter(([n]) => n !== at.at.target && !at.at.weights?.includes(n)));
      t = (await part.run(feeds, { logSeverityLevel: 4 }))[at.at.output];
    } catch {
      return; // the model's part fails too: onnxruntime's own message is the one to give
    }
    if (!t) return;
    const out = { [at.at.output]: { dtype: t.type as TensorDType, dims: [...t.dims], data: t.data as TensorData["data"] } };
    checkAttachedShapes(at.at, at, valid, out);
    // the checks that read the output (class indices against a C the model computes): a target out
    // of range made the loss's Gather fail, and its message named no input
    try {
      checkOutputs(this.split.after, valid, out);
    } catch (e) {
      throw this.withOption(e);
    }
  }

  private partSession?: Promise<OrtSession>;

  private released?: Promise<void>;

  /** End the session once the runs in flight have ended (later runs are refused); a second call is a no-op. */
  release(): Promise<void> {
    if (this.released) return this.released;
    const drained = this.running === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.idle = resolve));
    this.released = drained.then(() => {
      this.lastTensors.clear();
      const part = this.partSession;
      this.partSession = undefined;
      const large = this.large;
      this.large = undefined;
      this.largeSession = undefined;
      const small = this.small;
      this.small = undefined;
      this.smallSession = undefined;
      return Promise.all([
        this.session.release(),
        small?.then(
          (s) => (s === this.session ? undefined : s.release()),
          () => undefined,
        ),
        large?.then(
          (s) => (s === this.session ? undefined : s.release()),
          () => undefined,
        ),
        part?.then(
          (p) => p.release(),
          () => undefined,
        ),
      ]).then(() => undefined);
    });
    return this.released;
  }

  /** A dim fixed by a list option (weight, alpha, posWeight): the error names that option. */
  private withOption(e: unknown): unknown {
    if (e instanceof InputError && e.dtype && this.loss?.options.targetType === "index" && e.dtype.tensor === "target") {
      // cross_entropy's float target: probabilities shaped like the input are another build of the loss
      if (/^float/.test(e.dtype.given))
        return new InputError(
          `${e.message}; or, for class probabilities shaped like input, build ${this.loss.name} with targetType "probs"`,
        );
    }
    if (!(e instanceof InputError) || !e.fixedDim || !this.loss) return e;
    const { size } = e.fixedDim;
    const names = listOptionsOfLength(this.loss.options, size);
    if (names.length === 0) return e;
    return new InputError(`${e.message}; ${size} is the length of option ${names.join(" and ")} of ${this.loss.name}`, e.at, e.fixedDim);
  }
}

/** A model with a loss attached, without it: the loss's nodes, constants and value_info (its prefix), its target input and outputs removed. */
function withoutAttachedLoss(
  bytes: Uint8Array,
  at: { target: string; loss: string; gradient: string | null; prefix: string; weights?: Record<string, string> },
): Uint8Array {
  const m = decodeModel(bytes);
  const g = m.graph;
  if (!g) return bytes;
  const ours = (n: string | null | undefined) => (n ?? "").startsWith(at.prefix);
  g.node = (g.node ?? []).filter((n) => !ours(n.name));
  g.initializer = (g.initializer ?? []).filter((t) => !ours(t.name));
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !ours(v.name));
  const lossInputs = new Set([at.target, ...Object.values(at.weights ?? {})]);
  g.input = (g.input ?? []).filter((v) => !lossInputs.has(v.name ?? ""));
  g.output = (g.output ?? []).filter((v) => v.name !== at.loss && v.name !== at.gradient);
  m.metadataProps = [];
  return encodeModel(m);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function passThrough(feeds: Readonly<Record<string, TensorInput>>): Record<string, TensorData> {
  checkFeedsObject(feeds);
  const out: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
  for (const [k, v] of Object.entries(feeds)) {
    if (!ArrayBuffer.isView(v.data)) throw new InputError(`${k}: expected a typed array when validation is skipped`);
    out[k] = { dtype: v.dtype ?? dtypeOfArray(v.data) ?? "float32", dims: [...v.dims], data: v.data as TensorData["data"] };
  }
  return out;
}

/** The first line of an onnxruntime error, without its source location and failed-assertion prefix. */
export function firstLine(e: unknown): string {
  const line = messageOf(e).split("\n")[0];
  return line.replace(/^\S*onnxruntime\S*:\d+ .*? was false\.\s*/, "").replace(/^\S*onnxruntime\S*:\d+ \S+\s*/, "");
}

/**
 * An error's message. An Error made in another realm (onnxruntime-node's native errors as a vm context
 * such as jest's sees them) is no `instanceof Error` here, but has its message all the same.
 */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  const message = typeof e === "object" && e !== null ? (e as { message?: unknown }).message : undefined;
  return typeof message === "string" ? message : String(e);
}
