/**
 * One mechanism for every options object the library takes (loss options, build, evaluator, attach,
 * step and stream options): a schema of fields, each with the values it allows (as text, for help and
 * errors) and a check. An object is checked in one call: unknown keys are refused with the nearest
 * known one, values by their field, and every refusal is an OptionError with `problem` set (`subject`,
 * `path`, `expected`, `received`), so a caller with other names for the keys (the CLI's flags) words it
 * again from its parts, never by reading the message. Types come from the schema (`FieldsOf`), so a key
 * has one declaration.
 */
import { OptionError, type OptionProblem } from "../errors.js";
import { nearest } from "./names.js";
import { preview } from "./preview.js";

/** A check's verdict: the value (normalized), or a refusal (with the allowed values when they depend on the value, and how to show what was received). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; expected?: string; received?: string };

/** One field of an options object: the values it allows, as errors and help say them, and its check. */
export interface Field<T> {
  /** The allowed values, as the help and the errors say them. */
  readonly allowed: string;
  /** Check a value (never undefined), returning it normalized, or not ok. */
  readonly parse: (value: unknown) => Parsed<T>;
  /** Must the key be given? (default: no, undefined means the default). */
  readonly required?: boolean;
}

/** A schema: key -> field, in the order help and errors list them. */
// biome-ignore lint/suspicious/noExplicitAny: a schema holds fields of every value type; unknown would make Field<number> not assignable (parse returns T)
export type Fields = Readonly<Record<string, Field<any>>>;

type ValueOf<F> = F extends Field<infer T> ? T : never;
type RequiredKeys<S extends Fields> = { [K in keyof S]: S[K] extends { required: true } ? K : never }[keyof S];

/**
 * The options object a schema describes, as callers write it: optional keys may be left out (or
 * undefined), required ones not. Homomorphic over the schema, so each field's doc comment is the key's.
 */
export type FieldsOf<S extends Fields> = { -readonly [K in Exclude<keyof S, RequiredKeys<S>>]?: ValueOf<S[K]> } & {
  -readonly [K in RequiredKeys<S>]: ValueOf<S[K]>;
};

/** How a schema's refusals read: `${prefix}${key}: expected ..., received ...` (prefix e.g. "cross_entropy: option "). */
export interface SchemaWords {
  /** The object's name in errors about the object itself ("createEvaluator options"). */
  readonly subject: string;
  /** What a field's refusal starts with, before its key (default ""). */
  readonly prefix?: string;
  /** What the object must be, for a value that is not one (default "an object"). */
  readonly form?: string;
  /** Is the object itself required (undefined refused)? Default: undefined is `{}`. */
  readonly required?: boolean;
}

/** A refusal of `path` of an options object, with its parts. */
export function optionProblem(words: SchemaWords, path: readonly string[], expected: string, received: string): OptionError {
  const problem: OptionProblem = { subject: words.subject, path, expected, received };
  const prefix = words.prefix ?? "";
  return OptionError.worded(
    (name) =>
      path.length === 0
        ? `${words.subject}: expected ${expected}, received ${received}`
        : `${prefix}${name(path.join("."))}: expected ${expected}, received ${received}`,
    problem,
  );
}

/**
 * An object literal (or one without a prototype), of this realm or another (a vm context's, an
 * iframe's): not an array, a Map, a Date, a typed array or a class instance.
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  if (proto === null || proto === Object.prototype) return true;
  // another realm's Object.prototype: itself without a prototype, with that realm's Object as its
  // constructor (not a bare Object.create(null) under v, whose keys would be inherited), v tagged Object
  if (Object.getPrototypeOf(proto) !== null || !Object.hasOwn(proto, "constructor")) return false;
  const ctor = (proto as { constructor?: unknown }).constructor;
  return typeof ctor === "function" && ctor.name === "Object" && Object.prototype.toString.call(v) === "[object Object]";
}

/** How a value that is not an options object is named in an error. */
export function describeValue(v: unknown): string {
  const an = (name: string) => `${/^[aeiou]/i.test(name) ? "an" : "a"} ${name}`;
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "an array";
  if (ArrayBuffer.isView(v)) return an(v.constructor.name);
  if (typeof v === "function") return "a function";
  if (typeof v === "object" && Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null)
    return an((v as object).constructor?.name ?? "object");
  return preview(v);
}

/**
 * Refuse keys of `given` that the schema lacks (after `extra`, keys a wider schema checks), naming the
 * nearest known key.
 */
export function checkKeys(words: SchemaWords, given: object, known: readonly string[]): void {
  const unknown = Object.keys(given).find((k) => !known.includes(k));
  if (unknown === undefined) return;
  const hint = nearest(unknown, known);
  const problem: OptionProblem = {
    subject: words.subject,
    path: [unknown],
    expected: `one of ${known.join(", ")}`,
    received: "an unknown key",
  };
  throw OptionError.worded(
    (name) =>
      `${words.subject}: unknown option ${preview(unknown)}${hint ? ` (did you mean ${name(hint)}?)` : ""}; options are ${known.map(name).join(", ")}`,
    problem,
  );
}

/**
 * Check an options object against a schema: an object (undefined is `{}` unless `words.required`), no unknown keys, each given
 * value allowed by its field. Returns the object with each given value normalized (keys left out stay
 * out). Throws OptionError with `problem` set.
 */
export function checkFields<S extends Fields>(words: SchemaWords, schema: S, raw: unknown): FieldsOf<S> {
  if (raw === undefined && !words.required) raw = {};
  if (!isPlainObject(raw)) throw optionProblem(words, [], words.form ?? "an object", describeValue(raw));
  checkKeys(words, raw, Object.keys(schema));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    const value = Object.hasOwn(raw, key) ? raw[key] : undefined;
    if (value === undefined) {
      if (field.required) throw optionProblem(words, [key], field.allowed, "nothing");
      continue;
    }
    const r = field.parse(value);
    if (!r.ok) throw optionProblem(words, [key], r.expected ?? field.allowed, r.received ?? preview(value));
    out[key] = r.value;
  }
  return out as FieldsOf<S>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad: Parsed<never> = { ok: false };

/** A field built from an allowed text and a test. */
export function field<T>(allowed: string, test: (v: unknown) => boolean, extra: { required?: boolean } = {}): Field<T> {
  return { allowed, parse: (v) => (test(v) ? ok(v as T) : bad), ...extra };
}

/** The same field, which must be given. */
export function required<T>(f: Field<T>): Field<T> & { required: true } {
  return { ...f, required: true };
}

/** true or false. */
export const booleanField: Field<boolean> = field("true or false", (v) => typeof v === "boolean");

/** An integer in [min, max] (safe integers only). */
export function integerField(min: number, max = Number.MAX_SAFE_INTEGER, allowed?: string): Field<number> {
  const text = allowed ?? (max >= Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
  return field(text, (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max);
}

/** One of a fixed set of strings; the field's type is their union. */
export function oneOfField<const T extends string>(values: readonly T[]): Field<T> & { readonly choices: readonly T[] } {
  return {
    ...field<T>(values.map((v) => JSON.stringify(v)).join(" | "), (v) => (values as readonly unknown[]).includes(v)),
    choices: values,
  };
}

/** A non-empty string (a path, a name), named `allowed` in errors. */
export function textField(allowed: string): Field<string> {
  return field(allowed, (v) => typeof v === "string" && v.length > 0);
}

/** A function, named `allowed` in errors. */
export function functionField<F>(allowed: string): Field<F> {
  return { allowed, parse: (v) => (typeof v === "function" ? ok(v as F) : { ok: false, received: describeValue(v) }) };
}

/** An object literal whose values are all strings (a name -> name map). */
export function stringRecordField(allowed: string): Field<Record<string, string>> {
  return {
    allowed,
    parse: (v) =>
      isPlainObject(v) && Object.values(v).every((x) => typeof x === "string")
        ? ok(v as Record<string, string>)
        : { ok: false, received: describeValue(v) },
  };
}

/** An object literal of any keys (checked further by whoever reads it: loss options). */
export function objectField(allowed: string): Field<Record<string, unknown>> {
  return { allowed, parse: (v) => (isPlainObject(v) ? ok(v) : { ok: false, received: describeValue(v) }) };
}

/** A list of values each allowed by `item`. */
export function listField<T>(item: Field<T>, allowed = `a list of ${item.allowed}`): Field<readonly T[]> {
  return {
    allowed,
    parse: (v) => {
      if (!Array.isArray(v)) return { ok: false, received: describeValue(v) };
      const out: T[] = [];
      for (const x of v) {
        const r = item.parse(x);
        if (!r.ok) return bad;
        out.push(r.value);
      }
      return ok(out);
    },
  };
}
