import type { Value } from "../graph.js";

/** A Value, or a number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

/** Turn numbers into scalar constants in the graph of `like`, with its dtype. */
export function lift(x: Operand, like: Value): Value {
  return typeof x === "number" ? like.graph.constant(x, like.dtype) : x;
}

/** The Value among two operands (at least one must be a Value). */
export function pickValue(a: Operand, b: Operand, op: string): Value {
  if (typeof a !== "number") return a;
  if (typeof b !== "number") return b;
  throw new Error(`${op}: expected at least one Value operand, received two numbers`);
}
