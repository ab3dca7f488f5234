/** Values shown in error messages: JSON, at most 60 characters, safe for any value (deep, cyclic, bigint). */

/** A given value for an error message: JSON, at most 60 characters, whatever the value (deep, cyclic). */
export function preview(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === undefined) return "undefined";
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "object" && v !== null && depthAbove(v, 32)) return Array.isArray(v) ? "a list nested over 32 deep" : "an object nested over 32 deep";
  try {
    const s = JSON.stringify(v) ?? String(v);
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
