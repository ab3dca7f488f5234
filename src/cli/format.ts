/** Text output helpers of the CLI. */
import { tensorNumbers, type TensorData } from "../runtime/tensor.js";
import { UsageError } from "./errors.js";

/** A number with full float32 precision for people: 9 significant digits. */
export function fmtNum(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return Number(v.toPrecision(9)).toString();
}

/** The most values `--json` prints for one output (more would not fit in one JSON string): --out writes any size. */
export const MAX_JSON_VALUES = 2 ** 22;

/** JSON-safe numbers: NaN and infinities become null (JSON has no literal for them). */
export function jsonNumbers(t: TensorData, name = "output"): (number | null)[] {
  if (t.data.length > MAX_JSON_VALUES) {
    throw new UsageError(`--json: ${name} has ${t.data.length} values, more than the ${MAX_JSON_VALUES} --json prints; --out DIR writes it as DIR/${name}.npy`);
  }
  return tensorNumbers(t).map((n) => (Number.isFinite(n) ? n : null));
}

/** `loss float32 []: 0.123` or the first values of a larger tensor (only those are read). */
export function describeTensor(name: string, t: TensorData, limit = 20): string {
  const n = t.data.length;
  const first = { ...t, dims: [Math.min(n, limit)], data: t.data.subarray(0, limit) as TensorData["data"] };
  const head = tensorNumbers(first).map(fmtNum).join(", ");
  const dims = `[${t.dims.join(", ")}]`;
  if (t.dims.length === 0) return `${name} ${t.dtype} ${dims}: ${head}`;
  const more = n > limit ? `, ... (${n - limit} more; --json or --out for all)` : "";
  return `${name} ${t.dtype} ${dims}: [${head}${more}]`;
}

/** Left-aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}
