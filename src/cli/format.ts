/** Text output helpers of the CLI. */
import { fromFloat16Bits, tensorNumbers, type TensorData } from "../tensor/tensor.js";
import { preview } from "../util/preview.js";
import { UsageError } from "./errors.js";

/** A number with full float32 precision for people: 9 significant digits. */
export function fmtNum(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return Number(v.toPrecision(9)).toString();
}

/** The most values `--json` prints for one output (more would not fit in one JSON string): --out writes any size. */
export const MAX_JSON_VALUES = 2 ** 22;
/** The most characters of string values `--json` prints for one output. */
export const MAX_JSON_STRING_CHARS = 2 ** 26;

/**
 * An output's data as onnxruntime returns it: a typed array of numbers, bigints for int64 and uint64,
 * or a plain array of strings (a string output); its dtype may be any of onnxruntime's (uint8, ...).
 */
type AnyData = ArrayLike<number | bigint | string> & { length: number };
const dataOf = (t: TensorData): AnyData => t.data as unknown as AnyData;
const dtypeOf = (t: TensorData): string => t.dtype as string;

/** JSON-safe numbers: NaN and infinities become null (JSON has no literal for them). */
export function jsonNumbers(t: TensorData, name = "output"): (number | null)[] {
  checkJsonSize(t, name);
  return tensorNumbers(t).map((n) => (Number.isFinite(n) ? n : null));
}

function checkJsonSize(t: TensorData, name: string): void {
  if (t.data.length > MAX_JSON_VALUES) {
    throw new UsageError(
      `--json: ${name} has ${t.data.length} values, more than the ${MAX_JSON_VALUES} --json prints; --out DIR writes it as DIR/${name}.npy`,
    );
  }
}

/**
 * An output's data as JSON text: numbers (NaN and infinities as null), int64 and uint64 as exact
 * integers (no rounding to a double), strings as JSON strings.
 */
export function jsonData(t: TensorData, name = "output"): string {
  checkJsonSize(t, name);
  const data = dataOf(t);
  if (Array.isArray(data)) {
    let chars = 0;
    for (const s of data as string[]) chars += String(s).length;
    if (chars > MAX_JSON_STRING_CHARS)
      throw new UsageError(`--json: ${name} holds ${chars} characters of strings, more than the ${MAX_JSON_STRING_CHARS} --json prints`);
    return JSON.stringify(Array.from(data as string[], String));
  }
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return `[${Array.from(data, String).join(",")}]`;
  return JSON.stringify(jsonNumbers(t, name));
}

/** `{"outputs": {NAME: {"dims": [...], "data": [...]} | {"dims": [...], "file": PATH}}}` as one line of JSON. */
export function outputsJson(
  entries: readonly [string, { dims: readonly number[]; data?: TensorData; file?: string }][],
  /** Options `eval` set itself from the files (a float target shaped like input: targetType "probs"), printed as "options". */
  inferred?: Record<string, unknown>,
): string {
  const parts = entries.map(([name, o]) => {
    const body = o.data ? `"data":${jsonData(o.data, name)}` : `"file":${JSON.stringify(o.file)}`;
    return `${JSON.stringify(name)}:{"dims":${JSON.stringify(o.dims)},${body}}`;
  });
  const options = inferred ? `,"options":${JSON.stringify(inferred)}` : "";
  return `{"outputs":{${parts.join(",")}}${options}}`;
}

/** The first `limit` values of a tensor as text: numbers as fmtNum, integers exact, strings quoted. */
function shownValues(t: TensorData, limit: number): string[] {
  const data = dataOf(t);
  const n = Math.min(data.length, limit);
  const out: string[] = [];
  const dtype = dtypeOf(t);
  const integer = /^u?int\d+$|^bool$/.test(dtype);
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (typeof v === "string") out.push(preview(v));
    else if (typeof v === "bigint" || integer) out.push(String(v));
    else out.push(fmtNum(dtype === "float16" ? fromFloat16Bits(v) : v));
  }
  return out;
}

/** `loss float32 []: 0.123` or the first values of a larger tensor (only those are read). */
export function describeTensor(name: string, t: TensorData, limit = 20): string {
  const n = t.data.length;
  const head = shownValues(t, limit).join(", ");
  const dims = `[${t.dims.join(", ")}]`;
  if (t.dims.length === 0) return `${name} ${t.dtype} ${dims}: ${head}`;
  const more = n > limit ? `, ... (${n - limit} more; --json or --out for all)` : "";
  return `${name} ${t.dtype} ${dims}: [${head}${more}]`;
}

/** Left-aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
