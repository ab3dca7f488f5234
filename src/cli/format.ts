/** Text output helpers of the CLI. */
import { tensorNumbers, type TensorData } from "../runtime/tensor.js";

/** A number with full float32 precision for people: 9 significant digits. */
export function fmtNum(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return Number(v.toPrecision(9)).toString();
}

/** JSON-safe numbers: NaN and infinities become null (JSON has no literal for them). */
export function jsonNumbers(t: TensorData): (number | null)[] {
  return tensorNumbers(t).map((n) => (Number.isFinite(n) ? n : null));
}

/** `loss float32 []: 0.123` or the first values of a larger tensor. */
export function describeTensor(name: string, t: TensorData, limit = 20): string {
  const values = tensorNumbers(t).map(fmtNum);
  const head = values.slice(0, limit).join(", ");
  const dims = `[${t.dims.join(", ")}]`;
  if (t.dims.length === 0) return `${name} ${t.dtype} ${dims}: ${head}`;
  const more = values.length > limit ? `, ... (${values.length - limit} more; --json or --out for all)` : "";
  return `${name} ${t.dtype} ${dims}: [${head}${more}]`;
}

/** Left-aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}
