/**
 * Input validation before onnxruntime runs: names, dtypes (int32 targets widened to int64, float64
 * narrowed to float32), ranks, dims (symbolic dims bound consistently across inputs), and the
 * model's value checks (class indices in [0, C) or ignoreIndex, probabilities in [0, 1]). onnxruntime
 * would otherwise fail with an opaque message or, for a negative class index, silently wrap around.
 */
import type { TensorInfo } from "../builder/reader.js";
import { listOptionsOfLength } from "../util/names.js";
import { UserError } from "../errors.js";
import type { InputCheck } from "../losses/types.js";
import { DTYPE_NAMES, DTYPES, isDType } from "../onnx/dtypes.js";
import {
  dtypeOfArray,
  fmtDims,
  fromFloat16Bits,
  sizeOf,
  toFloat16Bits,
  type TensorData,
  type TensorDType,
  type TensorInput,
  type TypedData,
} from "../tensor/tensor.js";

/** Bad input to an evaluator: the message names the tensor, what was expected and what was received. */
export class InputError extends UserError {
  override name = "InputError";
  constructor(
    message: string,
    /** For a bad value: the tensor and the flat index it is at (streaming turns it into the file's index). */
    readonly at?: { tensor: string; flatIndex: number },
    /** For a dim the model fixes: which (the evaluator names the option that fixed it). */
    readonly fixedDim?: { tensor: string; axis: number; size: number },
    /** For a dtype the input does not take: the input, its dtype and the one given (the evaluator adds a loss's own hint). */
    readonly dtype?: { tensor: string; want: string; given: string },
  ) {
    super(message);
  }
}

/**
 * The most that the other dims of a tensor with no elements may hold together (their product). A graph
 * allocates by them (a sum over an empty class axis is N values), so a 128-byte file declaring
 * [10^9, 0] would take gigabytes; no loss needs more than this many items without data.
 */
export const MAX_EMPTY_EXTENT = 2 ** 24;

/** Refuse a tensor without elements whose other dims would make a graph allocate more than MAX_EMPTY_EXTENT. */
export function checkEmptyExtent(name: string, dims: readonly number[]): void {
  if (!dims.includes(0)) return;
  const extent = dims.reduce((a, d) => a * Math.max(d, 1), 1);
  if (extent > MAX_EMPTY_EXTENT) {
    throw new InputError(
      `${name}: expected a tensor without elements to have at most ${MAX_EMPTY_EXTENT} in its other dims together (a graph allocates by them), received ${fmtDims(dims)}`,
    );
  }
}

/**
 * Check feeds against the model's declared inputs and checks; return them converted to the declared
 * dtypes. A check of a loss attached to a model may read one of the model's `outputs`: a class count
 * the output's declared shape fixes is checked here; the rest is left to {@link checkOutputs} (see
 * {@link splitChecks}). Throws InputError.
 */
export function validateFeeds(
  declared: readonly TensorInfo[],
  checks: readonly InputCheck[],
  feeds: Readonly<Record<string, TensorInput>>,
  outputs: readonly TensorInfo[] = [],
): Record<string, TensorData> {
  checkFeedsObject(feeds);
  const names = declared.map((d) => d.name);
  for (const name of Object.keys(feeds)) {
    if (!names.includes(name)) {
      throw new InputError(`${name}: unknown input; the model's inputs are ${names.join(", ")}`);
    }
  }
  const out: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
  const bound = new Map<string, { size: number; from: string; axis: number }>();
  // tensors broadcast to another (a weight tensor): fewer dims are leading 1s, as PyTorch reads them
  const broadcast = new Set(checks.filter((c) => c.kind === "broadcast").map((c) => c.tensor));
  for (const d of declared) {
    const feed = Object.hasOwn(feeds, d.name) ? feeds[d.name] : undefined;
    if (feed === undefined) throw new InputError(`${d.name}: missing input; expected ${d.dtype} ${fmtDims(d.shape)}`);
    const t = convert(d, feed);
    if (broadcast.has(d.name) && t.dims.length < d.shape.length) t.dims = [...new Array(d.shape.length - t.dims.length).fill(1), ...t.dims];
    if (t.dims.length !== d.shape.length) {
      throw new InputError(
        `${d.name}: expected rank ${d.shape.length} ${fmtDims(d.shape)}, received rank ${t.dims.length} ${fmtDims(t.dims)}`,
      );
    }
    t.dims.forEach((size, axis) => {
      const want = d.shape[axis];
      if (!Number.isInteger(size) || size < 0) {
        throw new InputError(`${d.name}: expected non-negative integer dims, received ${fmtDims(t.dims)}`);
      }
      if (typeof want === "number") {
        if (size !== want) {
          throw new InputError(
            `${d.name}: expected dim ${axis} = ${want} (shape ${fmtDims(d.shape)}), received ${fmtDims(t.dims)}`,
            undefined,
            { tensor: d.name, axis, size: want },
          );
        }
      } else if (want !== "?") {
        const b = bound.get(want);
        if (b && b.size !== size) {
          throw new InputError(
            `${d.name}: expected dim ${axis} (${want}) = ${b.size} as in ${b.from} dim ${b.axis}, received ${fmtDims(t.dims)}`,
          );
        }
        if (!b) bound.set(want, { size, from: d.name, axis });
      }
    });
    if (t.data.length !== sizeOf(t.dims)) {
      throw new InputError(`${d.name}: expected ${sizeOf(t.dims)} values for dims ${fmtDims(t.dims)}, received ${t.data.length}`);
    }
    checkEmptyExtent(d.name, t.dims);
    out[d.name] = t;
  }
  for (const c of checks) runCheck(c, out, outputs);
  return out;
}

/**
 * Split a model's checks into those that can run on the feeds (`before` onnxruntime) and those that
 * read an output's values or a dim its declared shape leaves open (`after` the run, on the outputs
 * onnxruntime returns, before the caller sees them): the checks of a loss attached to a model's output.
 */
export function splitChecks(
  checks: readonly InputCheck[],
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
): { before: InputCheck[]; after: InputCheck[] } {
  const isInput = (n: string) => inputs.some((t) => t.name === n);
  const fixed = (n: string, axis: number) => typeof outputs.find((t) => t.name === n)?.shape[axis] === "number";
  const before: InputCheck[] = [];
  const after: InputCheck[] = [];
  for (const c of checks) {
    const ready = isInput(c.tensor) && (c.kind !== "classIndex" || isInput(c.classesOf) || fixed(c.classesOf, c.axis));
    // a weight broadcast to the attached output: checked on the output's computed dims, and before the
    // run too, where validateFeeds reads its fewer dims as leading 1s (it checks nothing there)
    if (c.kind === "broadcast" && ready && !isInput(c.to)) after.push(c);
    (ready ? before : after).push(c);
  }
  return { before, after };
}

/** Run checks that read outputs (see {@link splitChecks}) on the feeds and the outputs of a run. Throws InputError. */
export function checkOutputs(
  checks: readonly InputCheck[],
  feeds: Readonly<Record<string, TensorData>>,
  outputs: Readonly<Record<string, TensorData>>,
): void {
  const all: Record<string, TensorData> = Object.assign(Object.create(null) as Record<string, TensorData>, feeds, outputs);
  for (const c of checks) runCheck(c, all, []);
}

/** How a value is named in an error: its type, or null, or an array's length. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  return typeof v === "string" ? `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}` : typeof v;
}

/** The feeds object itself: an object of input name to tensor. Throws InputError. */
export function checkFeedsObject(feeds: unknown): asserts feeds is Readonly<Record<string, TensorInput>> {
  if (feeds === null || typeof feeds !== "object" || Array.isArray(feeds) || ArrayBuffer.isView(feeds)) {
    throw new InputError(`feeds: expected an object of input name to { data, dims }, received ${describe(feeds)}`);
  }
}

/** One feed's form: an object with data (typed or plain array), dims (non-negative integers) and an optional known dtype. Throws InputError. */
export function checkFeedForm(name: string, feed: unknown): asserts feed is TensorInput {
  if (feed === null || typeof feed !== "object" || Array.isArray(feed) || ArrayBuffer.isView(feed)) {
    throw new InputError(`${name}: expected { data, dims }, received ${describe(feed)}`);
  }
  const f = feed as { data?: unknown; dims?: unknown; dtype?: unknown };
  if (!ArrayBuffer.isView(f.data) && !Array.isArray(f.data)) {
    throw new InputError(`${name}: expected data, a typed array or an array of numbers, received ${describe(f.data)}`);
  }
  if (ArrayBuffer.isView(f.data) && dtypeOfArray(f.data) === undefined) {
    throw new InputError(
      `${name}: expected data as Float32Array, Float64Array, Uint16Array (float16 bits), Int32Array, BigInt64Array or Uint8Array (bool), received ${describe(f.data)}`,
    );
  }
  if (!Array.isArray(f.dims)) {
    throw new InputError(`${name}: expected dims, an array of non-negative integers such as [2, 3], received ${describe(f.dims)}`);
  }
  const dims = f.dims as unknown[];
  if (dims.length > 64 || dims.some((v) => typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)) {
    throw new InputError(
      `${name}: expected non-negative integer dims, received [${dims
        .slice(0, 8)
        .map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v)))
        .join(", ")}${dims.length > 8 ? ", ..." : ""}]`,
    );
  }
  if (f.dtype !== undefined && !isDType(f.dtype)) {
    throw new InputError(
      `${name}: expected dtype one of ${DTYPE_NAMES.join(", ")}, received ${typeof f.dtype === "string" ? JSON.stringify(f.dtype) : describe(f.dtype)}`,
    );
  }
}

const isFloat = (d: TensorDType | undefined): boolean => d === "float32" || d === "float64" || d === "float16";
const isInt = (d: TensorDType | undefined): boolean => d === "int32" || d === "int64";

/** Can a tensor of dtype `given` be fed to an input of dtype `want`? (int32 and int64 either way, any float to any float.) */
function accepts(want: TensorDType, given: TensorDType): boolean {
  return given === want || (isInt(want) && isInt(given)) || (isFloat(want) && isFloat(given));
}

/** The conversion a user makes for class indices saved as floats (np.save of a float array, a torch float tensor). */
export const FLOAT_INDICES_HINT = "class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch)";

function refuseDType(name: string, want: TensorDType, given: string): never {
  const hint =
    want === "int64" ? " (int32 accepted)" : want === "int32" ? " (int64 accepted)" : isFloat(want) ? " (any float type accepted)" : "";
  const floats = isInt(want) && isFloat(given as TensorDType) ? `; ${FLOAT_INDICES_HINT}` : "";
  throw new InputError(`${name}: expected dtype ${want}${hint}, received ${given}${floats}`, undefined, undefined, {
    tensor: name,
    want,
    given,
  });
}

function convert(d: TensorInfo, feed: TensorInput): TensorData {
  checkFeedForm(d.name, feed);
  const want = d.dtype as TensorDType;
  const dims = [...feed.dims];
  if (Array.isArray(feed.data)) {
    // a plain array holds values, never bit patterns: a stated dtype says what the values are (and
    // must be one the input accepts), and they are converted to the input's dtype
    const values = feed.data as readonly unknown[];
    const given = feed.dtype ?? (values.length > 0 && typeof values[0] === "bigint" ? "int64" : undefined);
    if (given !== undefined && !accepts(want, given)) refuseDType(d.name, want, given);
    return { dtype: want, dims, data: fromValues(d.name, want, given ?? want, values) };
  }
  // onnxruntime refuses views of a SharedArrayBuffer: such an input is copied into a buffer of its own
  const typed = feed.data as TypedData;
  const raw = typeof SharedArrayBuffer !== "undefined" && typed.buffer instanceof SharedArrayBuffer ? typed.slice() : typed;
  const given = dtypeOfArray(raw) as TensorDType;
  if (feed.dtype !== undefined && feed.dtype !== given) {
    throw new InputError(
      `${d.name}: dtype ${feed.dtype} disagrees with its data, a ${raw.constructor.name} (${given}); give a ${DTYPES[feed.dtype].array.name} or leave dtype out`,
    );
  }
  if (given === want) return { dtype: want, dims, data: raw };
  if (!accepts(want, given)) refuseDType(d.name, want, given);
  if (want === "int64") {
    return { dtype: want, dims, data: BigInt64Array.from(raw as Int32Array, (v) => BigInt(v)) };
  }
  if (want === "int32") {
    // graphs lowered for WebGPU take int32 class indices
    const out = new Int32Array((raw as BigInt64Array).length);
    (raw as BigInt64Array).forEach((v, i) => {
      if (v < -2147483648n || v > 2147483647n) {
        throw new InputError(`${d.name}: expected int32 values (this graph takes int32), received ${v} at flat index ${i}`, {
          tensor: d.name,
          flatIndex: i,
        });
      }
      out[i] = Number(v);
    });
    return { dtype: want, dims, data: out };
  }
  // floats convert to the graph's float type: float64 narrowed, float16 widened or rounded
  const values = given === "float16" ? Float64Array.from(raw as Uint16Array, fromFloat16Bits) : (raw as Float32Array | Float64Array);
  const data =
    want === "float32"
      ? Float32Array.from(values)
      : want === "float64"
        ? Float64Array.from(values)
        : Uint16Array.from(values, toFloat16Bits);
  return { dtype: want, dims, data };
}

/**
 * The values of a plain array as a typed array of `dtype`. `stated` is what the caller said the values
 * are (the input's dtype where it said nothing): integer dtypes take integers only, in their range
 * (bigints too), floats take numbers, bool takes booleans or 0 and 1. Throws InputError naming the index.
 */
function fromValues(name: string, dtype: TensorDType, stated: TensorDType, values: readonly unknown[]): TensorData["data"] {
  const bad = (v: unknown, i: number, what: string): never => {
    throw new InputError(
      `${name}: expected ${what}, received ${typeof v === "number" || typeof v === "bigint" ? String(v) : describe(v)} at index ${i}`,
      { tensor: name, flatIndex: i },
    );
  };
  if (isInt(stated)) {
    const [lo, hi] = stated === "int32" ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
    // Array.from, not map: a hole in a sparse array is undefined, refused like any other non-number
    const ints = Array.from(values, (v, i) => {
      const b = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : bad(v, i, `integers (${stated})`);
      if (b < lo || b > hi) bad(v, i, `integers in the range of ${stated}`);
      return b;
    });
    if (dtype === "int64") return BigInt64Array.from(ints);
    return Int32Array.from(ints, (b, i) =>
      b < -(2n ** 31n) || b > 2n ** 31n - 1n ? bad(values[i], i, "int32 values (this graph takes int32)") : Number(b),
    );
  }
  if (stated === "bool") {
    return Uint8Array.from(values, (v, i) => (v === true || v === 1 ? 1 : v === false || v === 0 ? 0 : bad(v, i, "booleans (or 0 and 1)")));
  }
  // values of the stated float type are that type's values: rounded to it first (1e6 stated as float16
  // is inf, as a float16 tensor of it is), then converted to the input's
  const round =
    stated === "float16" ? (v: number) => fromFloat16Bits(toFloat16Bits(v)) : stated === "float32" ? Math.fround : (v: number) => v;
  const nums = Array.from(values, (v, i) => (typeof v === "number" ? round(v) : bad(v, i, `numbers (${stated})`)));
  if (dtype === "float32") return Float32Array.from(nums);
  if (dtype === "float64") return Float64Array.from(nums);
  return Uint16Array.from(nums, toFloat16Bits);
}

function runCheck(c: InputCheck, feeds: Record<string, TensorData>, outputs: readonly TensorInfo[]): void {
  const t = feeds[c.tensor];
  if (!t) return;
  if (c.kind === "classIndex") {
    // the class count from a fed tensor, or from the declared shape of an output that fixes it
    const declaredC = outputs.find((o) => o.name === c.classesOf)?.shape[c.axis];
    const of =
      feeds[c.classesOf] ?? (typeof declaredC === "number" ? { dims: Object.assign([], { [c.axis]: declaredC }) as number[] } : undefined);
    if (!of) return;
    const C = of.dims[c.axis];
    const ignore = c.ignoreIndex;
    const ign = ignore === null ? "" : ` or ignoreIndex ${ignore}`;
    const bad = (v: bigint | number, i: number) =>
      new InputError(
        `${c.tensor}: expected class indices in [0, ${C})${ign} (C = ${c.classesOf} dim ${c.axis}), received ${v} at flat index ${i}`,
        { tensor: c.tensor, flatIndex: i },
      );
    if (t.data instanceof BigInt64Array) {
      // Compared as exact int64, as the graph compares them (a Number rounds beyond 2^53), on the two
      // 32-bit words of each value (little-endian), which is as fast as comparing numbers:
      // v in [0, C) iff its high word is 0 and its low word, unsigned, is below C.
      const big = t.data;
      const words = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
      let ignLo = NaN;
      let ignHi = NaN;
      if (ignore !== null) {
        const u = BigInt.asUintN(64, BigInt(ignore));
        ignLo = Number(u & 0xffffffffn) | 0;
        ignHi = Number(u >> 32n) | 0;
      }
      for (let i = 0; i < big.length; i++) {
        const lo = words[2 * i];
        const hi = words[2 * i + 1];
        if (hi === 0 && lo >>> 0 < C) continue;
        if (hi === ignHi && lo === ignLo) continue;
        throw bad(big[i], i);
      }
    } else {
      const data = t.data as Int32Array;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if ((v < 0 || v >= C) && v !== ignore) throw bad(v, i);
      }
    }
    if (C === 0 && t.data.length > 0) {
      // every target is ignoreIndex, but a gather from zero classes cannot run even for ignored items
      throw new InputError(`${c.classesOf}: expected dim ${c.axis} (C) >= 1 for ${c.tensor}'s class indices, received ${fmtDims(of.dims)}`);
    }
  } else if (c.kind === "range") {
    const data = t.dtype === "float16" ? Float64Array.from(t.data as Uint16Array, fromFloat16Bits) : (t.data as Float32Array);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!(v >= c.min && v <= c.max)) {
        throw new InputError(`${c.tensor}: expected values in [${c.min}, ${c.max}], received ${v} at flat index ${i}`, {
          tensor: c.tensor,
          flatIndex: i,
        });
      }
    }
  } else if (c.kind === "broadcast") {
    const to = feeds[c.to];
    if (!to) return;
    if (t.dims.length !== to.dims.length || t.dims.some((d, i) => d !== 1 && d !== to.dims[i])) {
      throw new InputError(
        `${c.tensor}: expected dims that broadcast to ${c.to} ${fmtDims(to.dims)} (each dim ${c.to}'s or 1, as PyTorch broadcasts them; fewer dims are leading 1s), received ${fmtDims(t.dims)}`,
      );
    }
  } else if (c.kind === "minDim") {
    const size = t.dims[c.axis];
    if (size < c.min) {
      throw new InputError(`${c.tensor}: expected dim ${c.axis} >= ${c.min} (${c.why}), received ${fmtDims(t.dims)}`);
    }
  }
}

/**
 * The output of a model that a loss is attached to, as the model computed it, did not have the shape
 * the model declares for it (a model may compute another shape than it declares, and onnxruntime runs
 * it): the loss was built for the declared one, so the run's result is refused.
 */
export class OutputShapeError extends UserError {
  override name = "OutputShapeError";
}

/** Where a loss is attached: the model output it reads and the target input (names from the contract). */
export interface AttachedShapes {
  output: string;
  target: string;
  /** The loss's weight tensor inputs (not the model's inputs). */
  weights?: readonly string[];
  /** The loss's input shape as it was built (contract.lossInputShape): its numbers bind the computed output too. */
  lossInput?: readonly (number | string)[];
  /** The loss and its options, to name the option that fixed a dim. */
  loss?: { name: string; options: Record<string, unknown> };
}

/**
 * After a run of a model with an attached loss: the attached output as the model computed it must have
 * the dims it declares (fixed dims equal, the rank the same), and the target's dims must be the ones
 * the loss's semantics bind to that output: equal shapes where the target has the output's rank
 * (binary losses, probability targets), the output's dims without its class dim 1 where it has one dim
 * fewer (class indices: target [N, d1..] for [N, C, d1..]). A symbolic dim of the model's output is not
 * bound to anything before the run (torch.onnx.export names it after the output), so without this
 * check a target of other dims broadcasts or gathers silently. Throws OutputShapeError for the model's
 * output, InputError for the target; each names both shapes and the model's inputs as fed.
 */
export function checkAttachedShapes(
  at: AttachedShapes,
  declared: { output: TensorInfo; target: TensorInfo },
  feeds: Readonly<Record<string, TensorData>>,
  outputs: Readonly<Record<string, TensorData>>,
): void {
  const out = outputs[at.output];
  const target = feeds[at.target];
  if (!out || !target) return;
  const fed = Object.entries(feeds)
    .filter(([n]) => n !== at.target && !at.weights?.includes(n))
    .map(([n, t]) => `${n} ${fmtDims(t.dims)}`)
    .join(", ");
  const from = fed ? ` from ${fed}` : "";
  const want = declared.output.shape;
  const got = out.dims;
  const wrongAxis = got.length !== want.length ? -1 : want.findIndex((d, i) => typeof d === "number" && d !== got[i]);
  if (got.length !== want.length || wrongAxis >= 0) {
    const which =
      wrongAxis >= 0 ? ` (dim ${wrongAxis}: ${got[wrongAxis]} for ${String(want[wrongAxis])})` : ` (rank ${got.length} for ${want.length})`;
    throw new OutputShapeError(
      `output ${at.output}: the model declares ${fmtDims(want)} and computed ${fmtDims(got)}${which}${from}; the attached loss is built for the declared shape`,
    );
  }
  // a dim the loss fixes (C by a weight or alpha list) that the model's declared shape leaves open
  const fixedAxis = at.lossInput ? at.lossInput.findIndex((d, i) => typeof d === "number" && d !== got[i]) : -1;
  if (at.lossInput && fixedAxis >= 0) {
    const d = at.lossInput[fixedAxis] as number;
    const by = at.loss ? listOptionsOfLength(at.loss.options, d) : [];
    const why = by.length ? ` (${d} is the length of option ${by.join(" and ")} of ${at.loss?.name})` : "";
    throw new OutputShapeError(
      `output ${at.output}: the attached loss takes dim ${fixedAxis} = ${d}${why}, and the model computed ${fmtDims(got)}${from}`,
    );
  }
  const rank = target.dims.length;
  const expected = rank === got.length ? [...got] : rank === got.length - 1 ? [got[0], ...got.slice(2)] : undefined;
  if (expected === undefined) throw new Error(`attached loss: target rank ${rank} for output rank ${got.length}`);
  if (expected.some((d, i) => d !== target.dims[i])) {
    const how = rank === got.length ? `the shape of ${at.output}` : `the dims of ${at.output} but its class dim 1`;
    throw new InputError(
      `${at.target}: expected dims ${fmtDims(expected)} (${how}, which the model computed as ${fmtDims(got)}${from}), received ${fmtDims(target.dims)}`,
    );
  }
}

/**
 * Feeds checked by a plan made once per evaluator (see {@link compileFeedPlan}): the tensors as
 * validateFeeds returns them, or undefined where the feeds need more than the plan does (a conversion,
 * a zero dim, a value or dim it refuses), so that validateFeeds converts them or throws its message.
 */
export type FeedPlan = (feeds: Readonly<Record<string, TensorInput>>) => Record<string, TensorData> | undefined;

/**
 * The common case of {@link validateFeeds}, decided once for the declared inputs and checks instead of
 * on every run: feeds of exactly the declared names, each a typed array of its input's dtype (no
 * conversion), dims of the declared rank that fit the declared ones, no dim of 0, and values the checks
 * accept. Whatever else the plan meets, it returns undefined and validateFeeds decides, so the plan
 * never accepts what validateFeeds refuses, and every refusal keeps its one message. (At 64 x 10 the
 * general path took 10 to 15 us a run of cross_entropy, the raw session ~50.)
 */
export function compileFeedPlan(
  declared: readonly TensorInfo[],
  checks: readonly InputCheck[],
  outputs: readonly TensorInfo[] = [],
): FeedPlan {
  if (declared.some((d) => d.name === "__proto__")) return () => undefined;
  const index = new Map(declared.map((d, i) => [d.name, i]));
  const slots = new Map<string, number>();
  // per input: its typed-array class, and per axis its fixed size (>= 0), -1 for any, or -2 - slot
  const inputs = declared.map((d) => ({
    name: d.name,
    dtype: d.dtype as TensorDType,
    array: isDType(d.dtype) ? DTYPES[d.dtype].array : undefined,
    axes: d.shape.map((want) => {
      if (typeof want === "number") return want;
      if (want === "?") return -1;
      if (!slots.has(want)) slots.set(want, slots.size);
      return -2 - (slots.get(want) as number);
    }),
  }));
  const bound = new Float64Array(slots.size);
  const at = (name: string) => index.get(name) ?? -1;
  type Step = (t: (TensorData | undefined)[]) => boolean;
  const steps: Step[] = [];
  for (const c of checks) {
    const i = at(c.tensor);
    if (i < 0) return () => undefined; // a check of something not fed: validateFeeds knows what to do
    if (c.kind === "classIndex") {
      const j = at(c.classesOf);
      const declaredC = outputs.find((o) => o.name === c.classesOf)?.shape[c.axis];
      if (j < 0 && typeof declaredC !== "number") continue; // as runCheck: nothing to compare with
      const ignore = c.ignoreIndex;
      // an int64 index is compared on its two 32-bit words (see runCheck); the ignore index's words once
      let ignLo = Number.NaN;
      let ignHi = Number.NaN;
      if (ignore !== null) {
        const u = BigInt.asUintN(64, BigInt(ignore));
        ignLo = Number(u & 0xffffffffn) | 0;
        ignHi = Number(u >> 32n) | 0;
      }
      steps.push((t) => {
        const C = j >= 0 ? (t[j] as TensorData).dims[c.axis] : (declaredC as number);
        const data = (t[i] as TensorData).data;
        if (C === undefined || C === 0) return false;
        if (data instanceof BigInt64Array) {
          const words = new Int32Array(data.buffer, data.byteOffset, data.length * 2);
          for (let k = 0; k < data.length; k++) {
            const lo = words[2 * k];
            const hi = words[2 * k + 1];
            if (!((hi === 0 && lo >>> 0 < C) || (hi === ignHi && lo === ignLo))) return false;
          }
          return true;
        }
        if (!(data instanceof Int32Array)) return false;
        for (let k = 0; k < data.length; k++) {
          const v = data[k];
          if ((v < 0 || v >= C) && v !== ignore) return false;
        }
        return true;
      });
    } else if (c.kind === "range") {
      const { min, max } = c;
      steps.push((t) => {
        const data = (t[i] as TensorData).data;
        if (!(data instanceof Float32Array || data instanceof Float64Array)) return false;
        for (let k = 0; k < data.length; k++) {
          const v = data[k];
          if (!(v >= min && v <= max)) return false;
        }
        return true;
      });
    } else if (c.kind === "minDim") {
      const { axis, min } = c;
      steps.push((t) => (t[i] as TensorData).dims[axis] >= min);
    } else if (c.kind === "broadcast") {
      const j = at(c.to);
      if (j < 0) continue;
      steps.push((t) => {
        const a = (t[i] as TensorData).dims;
        const b = (t[j] as TensorData).dims;
        for (let k = 0; k < a.length; k++) if (a[k] !== 1 && a[k] !== b[k]) return false;
        return a.length === b.length;
      });
    }
  }
  const got: (TensorData | undefined)[] = new Array(inputs.length);
  return (feeds) => {
    if (feeds === null || typeof feeds !== "object" || Array.isArray(feeds) || ArrayBuffer.isView(feeds)) return undefined;
    const keys = Object.keys(feeds);
    if (keys.length !== inputs.length) return undefined;
    got.fill(undefined);
    bound.fill(-1);
    for (const key of keys) {
      const i = index.get(key);
      if (i === undefined) return undefined;
      const d = inputs[i];
      const feed = feeds[key] as unknown;
      if (feed === null || typeof feed !== "object") return undefined;
      const { data, dims, dtype } = feed as { data?: unknown; dims?: unknown; dtype?: unknown };
      if (d.array === undefined || (data as object | undefined)?.constructor !== d.array || !Array.isArray(dims)) return undefined;
      if ((dtype !== undefined && dtype !== d.dtype) || dims.length !== d.axes.length) return undefined;
      const typed = data as TypedData;
      if (typeof SharedArrayBuffer !== "undefined" && typed.buffer instanceof SharedArrayBuffer) return undefined;
      const copy: number[] = new Array(dims.length);
      let size = 1;
      for (let a = 0; a < dims.length; a++) {
        const n = dims[a] as unknown;
        if (typeof n !== "number" || !Number.isSafeInteger(n) || n <= 0) return undefined;
        const want = d.axes[a];
        if (want >= 0) {
          if (n !== want) return undefined;
        } else if (want <= -2) {
          const slot = -2 - want;
          if (bound[slot] < 0) bound[slot] = n;
          else if (bound[slot] !== n) return undefined;
        }
        copy[a] = n;
        size *= n;
      }
      if (typed.length !== size) return undefined;
      got[i] = { dtype: d.dtype, dims: copy, data: typed };
    }
    for (const step of steps) if (!step(got)) return undefined;
    // a plain object (its keys are the declared names, none __proto__): one of null prototype is a
    // dictionary to V8, slower to make and to read at this size
    const out: Record<string, TensorData> = {};
    for (let i = 0; i < inputs.length; i++) out[inputs[i].name] = got[i] as TensorData;
    return out;
  };
}
