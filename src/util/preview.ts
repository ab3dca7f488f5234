/** Values shown in error messages: JSON, at most 60 characters, safe for any value (deep, cyclic, bigint). */

/** A given value for an error message: JSON, at most 60 characters, whatever the value (deep, cyclic). */
export function preview(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === undefined) return "undefined";
  if (typeof v === "bigint") return `${v}n`;
  // JSON would say null for these: say what was received
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (typeof v === "object" && v !== null && depthAbove(v, 32))
    return Array.isArray(v) ? "a list nested over 32 deep" : "an object nested over 32 deep";
  try {
    const s = jsonWithNonFinite(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return Array.isArray(v) ? "a list that is not JSON" : `a value that is not JSON (${typeof v})`;
  }
}

/** Is a JSON-like value nested deeper than `limit`? Iterative, so any depth is safe to ask about. */
export function depthAbove(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<object>();
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    if (d >= limit) return true;
    seen.add(v);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/** JSON text of a value, with NaN and the infinities inside lists and objects written as NaN, Infinity, -Infinity (not null). */
function jsonWithNonFinite(v: unknown): string {
  let found = false;
  const mark = `\u0001nonfinite${Math.random().toString(36).slice(2)}:`;
  const s =
    JSON.stringify(v, (_k, x: unknown) => {
      if (typeof x === "number" && !Number.isFinite(x)) {
        found = true;
        return `${mark}${x}`;
      }
      return x;
    }) ?? String(v);
  if (!found) return s;
  const quoted = JSON.stringify(mark).slice(1, -1);
  return s.replace(new RegExp(`"${quoted.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}(NaN|Infinity|-Infinity)"`, "g"), "$1");
}
