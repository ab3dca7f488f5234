/**
 * The checks that a model onnx-losses did not verify keeps rows apart before its outputs are combined
 * over chunks: a probe of rows spread over the file, evaluated together and one at a time, and a
 * chunk's halves evaluated apart. Both compare through checkRowsCombine: floats within rounding,
 * integers and booleans exactly.
 */
import type { TensorFile } from "../io/tensor_files.js";
import { type DType, typedArrayOf } from "../onnx/dtypes.js";
import { InputError, OutputShapeError } from "../runtime/validate.js";
import type { TensorData } from "../tensor/tensor.js";
import { agrees, at, type StreamPlan, StreamRefusedError, wrapInteger } from "./plan.js";

/** A streamed input: a tensor file open for row reads, and the graph input it feeds. */
export type StreamInput = TensorFile & { readonly name: string };

/** What the checks run: the evaluator's run. */
type Runner = { run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> };

/**
 * Rows of `feeds` (a batch of `rows`) evaluated in the groups `parts` (ranges of rows) must give what the
 * whole batch gave (`whole`): per-item outputs row for row, sums as the sum of the groups'. `because`
 * ends the refusal (which rows were evaluated how). Throws StreamRefusedError.
 */
export async function checkRowsCombine(
  evaluator: Runner,
  feeds: Record<string, TensorData>,
  whole: Record<string, TensorData>,
  plan: StreamPlan,
  rows: number,
  parts: readonly [number, number][],
  because: string,
  what: string,
  /** Feeds that are not rows (a weight tensor without the batch dim): given whole to every part. */
  fixedNames?: ReadonlySet<string>,
): Promise<void> {
  const part = (from: number, to: number) => {
    const rowsOf: Record<string, TensorData> = Object.create(null) as Record<string, TensorData>;
    for (const [name, t] of Object.entries(feeds)) {
      if (fixedNames?.has(name)) {
        rowsOf[name] = t;
        continue;
      }
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
        // the parts' sum wrapped as the type wraps (a uint8 sum of 300 is 44 in one pass too)
        const sum = wrapInteger(
          w.dtype,
          got.reduce((a, g) => a + BigInt(g[name].data[0] as number | bigint), 0n),
        );
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

/** How many rows the probe of a model without a verified contract evaluates together and one at a time. */
export const PROBE_ROWS = 8;
/** How many rows spread over the file the probe reads at most to find PROBE_ROWS different ones. */
export const PROBE_CANDIDATES = 64;

/**
 * Before streaming a model onnx-losses did not verify: up to `k` rows spread over the file (the first,
 * the last and evenly between) evaluated together and one at a time must give the same outputs. Rows
 * equal in some input to a row already taken (a zero-padded file) are passed over for the next of up to
 * PROBE_CANDIDATES spread rows (candidates of at most `budget` bytes, read at most three times): equal
 * rows hide a batch statistic. Catches a model that mixes rows (a batch mean, a normalisation over the
 * batch, a cumulative sum) whatever the chunk size; a model that mixes rows only in some batches (larger
 * than it is probed with, or holding values the probed rows do not) cannot be caught this way, which is
 * why docs/streaming.md says that streaming such a model takes its rows to be independent.
 */
export async function probeRowsApart(
  evaluator: Runner,
  opened: readonly StreamInput[],
  N: number,
  k: number,
  budget: number,
  plan: StreamPlan,
  what: string,
  /** Inputs fed whole to every chunk (a weight tensor without the batch dim). */
  fixed: Readonly<Record<string, TensorData>> = {},
): Promise<void> {
  const rowBytes = opened.reduce((a, o) => a + o.rowBytes, 0);
  const m = Math.max(k, Math.min(N, PROBE_CANDIDATES, Math.floor(budget / Math.max(1, rowBytes))));
  const spread = (n: number) => [...new Set(Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.round((i * (N - 1)) / (n - 1)))))];
  // the k rows first as before (first, last, evenly between), then the other candidates in spread order
  const first = spread(k);
  const candidates = [...first, ...spread(m).filter((r) => !first.includes(r))];
  const taken: { row: number; bytes: Uint8Array[] }[] = [];
  const read = async (row: number) => {
    const bytes: Uint8Array[] = [];
    for (const o of opened) {
      const b = new Uint8Array(o.rowBytes);
      await o.readRows(b, row);
      bytes.push(b);
    }
    return bytes;
  };
  /** For each input: is this row of it unlike that input's row in every row taken? */
  const newIn = (bytes: Uint8Array[]) => bytes.map((b, j) => taken.every((t) => !Buffer.from(t.bytes[j]).equals(b)));
  // rows new in every input first, then rows new in some input (a row of the same x but another
  // target would not show a statistic over x), then equal rows to fill up (a model that reads the
  // batch size still shows): each pass reads the candidates again rather than holding them
  const passes: ((fresh: boolean[]) => boolean)[] = [(f) => f.every(Boolean), (f) => f.some(Boolean), () => true];
  for (const take of passes) {
    for (const row of candidates) {
      if (taken.length === k) break;
      if (taken.some((t) => t.row === row)) continue;
      const bytes = await read(row);
      if (take(newIn(bytes))) taken.push({ row, bytes });
    }
  }
  taken.sort((a, b) => a.row - b.row);
  const index = taken.map((t) => t.row);
  const feeds: Record<string, TensorData> = Object.assign(Object.create(null) as Record<string, TensorData>, fixed);
  for (const [j, o] of opened.entries()) {
    const buffer = new ArrayBuffer(k * o.rowBytes);
    for (const [i, t] of taken.entries()) new Uint8Array(buffer, i * o.rowBytes, o.rowBytes).set(t.bytes[j]);
    feeds[o.name] = {
      dtype: o.dtype,
      dims: [k, ...o.dims.slice(1)],
      data: typedArrayOf(o.dtype, buffer, k * o.rowElems),
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
    new Set(Object.keys(fixed)),
  );
}

/** An InputError or OutputShapeError of the same class (and `at`) with another message. */
export function withSameClass(e: InputError | OutputShapeError, message: string): InputError | OutputShapeError {
  return e instanceof InputError ? new InputError(message, e.at, e.fixedDim) : new OutputShapeError(message);
}

/**
 * For each input: do the first `rows` rows of its chunk hold two different rows? One compare each: the
 * rows are all equal exactly when the rows after the first equal the rows before the last.
 */
export function inputsWithDifferentRows(opened: readonly StreamInput[], buffers: readonly ArrayBuffer[], rows: number): boolean[] {
  return opened.map((o, i) => {
    if (rows < 2) return false;
    const all = Buffer.from(buffers[i], 0, rows * o.rowBytes);
    return !all.subarray(o.rowBytes).equals(all.subarray(0, (rows - 1) * o.rowBytes));
  });
}
