/**
 * A small option schema: each option knows its default, its allowed values (as text for help and
 * errors) and how to check a value. Errors read `<loss>: option <name>: expected <allowed>, received <value>`.
 */

import { OptionError } from "../errors.js";
import { nearest } from "../util/names.js";
import { checkKeys, isPlainObject, optionProblem } from "../util/schema.js";
import { depthAbove, preview as received } from "../util/preview.js";

export { nearest };

export { OptionError, depthAbove, received };

/** One option of a loss: its meaning, default, allowed values and parser. Its name is its key in the schema. */
export interface OptionSpec<T = unknown> {
  /** What the option means, one sentence. */
  readonly doc: string;
  /** The allowed values, as the help and the errors say them. */
  readonly allowed: string;
  readonly default: T;
  /** The allowed values when they are a short list of strings (forms show a select). */
  readonly choices?: readonly string[];
  /** Check a value (never undefined), returning it normalized, or not ok. */
  readonly parse: (value: unknown) => { ok: true; value: T } | { ok: false };
}

/** An option with its name, as lists, forms and errors iterate them (in schema order). */
export interface NamedOptionSpec<T = unknown> extends OptionSpec<T> {
  readonly name: string;
}

/** A loss's option schema: option name -> spec, in the order help texts list them. */
// biome-ignore lint/suspicious/noExplicitAny: a schema holds specs of every option type; unknown would make OptionSpec<number> not assignable (parse returns T)
export type OptionSchema = Readonly<Record<string, OptionSpec<any>>>;

/**
 * The resolved options a schema describes (every field set), inferred from the specs as zod's `z.infer`
 * does: `InferOptions<{ gamma: OptionSpec<number> }>` is `{ gamma: number }`.
 */
export type InferOptions<S extends OptionSchema> = { -readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

const ok = <T>(value: T) => ({ ok: true as const, value });
const bad = { ok: false as const };
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** A finite number in [min, max]. */
export function numberIn(doc: string, def: number, min: number, max = Infinity): OptionSpec<number> {
  const allowed = max === Infinity ? `a number >= ${min}` : `a number in [${min}, ${max}]`;
  return { doc, allowed, default: def, parse: (v) => (isNum(v) && v >= min && v <= max ? ok(v) : bad) };
}

/** An integer in [min, max] (safe integers only: beyond 2^53 a number is not an exact integer). */
export function integerIn(doc: string, def: number, min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): OptionSpec<number> {
  const lo = min > -Number.MAX_SAFE_INTEGER;
  const hi = max < Number.MAX_SAFE_INTEGER;
  const allowed = !lo && !hi ? "an integer of at most 2^53 - 1 in size" : !hi ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
  return { doc, allowed, default: def, parse: (v) => (isNum(v) && Number.isSafeInteger(v) && v >= min && v <= max ? ok(v) : bad) };
}

/** One of a fixed set of strings; the option's type is their union. */
export function oneOf<const T extends string>(doc: string, def: NoInfer<T>, values: readonly T[]): OptionSpec<T> {
  const allowed = values.map((v) => JSON.stringify(v)).join(" | ");
  return { doc, allowed, default: def, choices: values, parse: (v) => ((values as readonly unknown[]).includes(v) ? ok(v as T) : bad) };
}

/** null, or a non-empty list of finite numbers >= min (at most max). */
export function numberList(doc: string, min = -Infinity, max = Infinity): OptionSpec<number[] | null> {
  const range = min === -Infinity ? "finite numbers" : max === Infinity ? `numbers >= ${min}` : `numbers in [${min}, ${max}]`;
  return {
    doc,
    allowed: `null or a non-empty list of ${range}`,
    default: null,
    parse: (v) => {
      if (v === null) return ok(null);
      if (!Array.isArray(v)) return bad;
      // copied first, each element read once, then the copy checked: a getter or a Proxy cannot show the
      // check one value and the graph another, and a hole is refused (as undefined), not skipped
      const copy = Array.from(v as unknown[]);
      if (copy.length > 0 && copy.every((x) => isNum(x) && x >= min && x <= max)) return ok(copy as number[]);
      return bad;
    },
  };
}

/**
 * {@link numberList}, or "input": the weights are a tensor fed to the graph as the input `input` names
 * (`weight`, `pos_weight`), broadcast to the loss's input by PyTorch's rules, as the PyTorch function's
 * tensor argument is; `shape` says how it is shaped when not broadcast (cross_entropy's [C] class weights).
 */
export function numberListOrInput(
  doc: string,
  input: string,
  min = -Infinity,
  shape = "broadcast to input",
): OptionSpec<number[] | null | "input"> {
  const list = numberList(doc, min);
  return {
    doc,
    allowed: `${list.allowed}, or "input" (a tensor input ${input}, ${shape})`,
    default: null,
    parse: (v) => (v === "input" ? ok("input" as const) : list.parse(v)),
  };
}

/** How per-item losses combine. */
export type Reduction = "mean" | "sum" | "none";

/** The reduction every loss takes. */
export const reductionOption: OptionSpec<Reduction> = oneOf(
  "How per-item losses combine: their mean, their sum, or none (one loss per item).",
  "mean",
  ["mean", "sum", "none"],
);

/** The rank of `input` the graph is built for (at most 8). */
export function rankOption(min: number, doc: string): OptionSpec<number> {
  return integerIn(doc, 2, min, 8);
}

/**
 * Resolve raw options against a schema: reject unknown names (with a near-miss hint) and bad values,
 * fill defaults. Keys of the result follow the schema order.
 */
export function resolveOptions(loss: string, specs: readonly NamedOptionSpec[], raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) raw = {};
  if (!isPlainObject(raw)) throw optionProblem({ subject: `${loss}: options` }, [], "an object", received(raw));
  const given = raw;
  checkKeys(
    { subject: loss },
    given,
    specs.map((s) => s.name),
  );
  const words = { subject: loss, prefix: `${loss}: option ` };
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const value = Object.hasOwn(given, spec.name) ? given[spec.name] : undefined;
    if (value === undefined) {
      out[spec.name] = spec.default;
      continue;
    }
    const r = spec.parse(value);
    if (!r.ok) throw optionProblem(words, [spec.name], spec.allowed, received(value));
    out[spec.name] = r.value;
  }
  return out;
}
