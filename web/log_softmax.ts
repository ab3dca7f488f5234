/**
 * Float64 log-softmax of one item over its C classes, in plain loops (no ONNX, no imports):
 * `log p_c = x_c - lse`, `lse = m + log(sum_k exp(x_k - m))` with m the item's largest logit, so no
 * exp overflows. The one implementation shared by the page's batch generator (generate.ts) and the
 * tests' float64 reference (test/reference.ts re-exports it): it lives here, with the page, so that
 * the page bundle never pulls in test code.
 *
 * @param x the logits, flat
 * @param C the number of classes
 * @param at the flat index of class c of this item (for [N, C] rows: `(c) => n * C + c`)
 * @example
 * logSoftmaxAt([1, 2, 3], 3, (c) => c); // [-2.4076, -1.4076, -0.4076]
 */
export function logSoftmaxAt(x: ArrayLike<number>, C: number, at: (c: number) => number): number[] {
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, x[at(c)]);
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp(x[at(c)] - m);
  const lse = m + Math.log(s);
  return Array.from({ length: C }, (_, c) => x[at(c)] - lse);
}

/** {@link logSoftmaxAt} of a contiguous row: the C values from `offset` on. */
export function logSoftmaxRow(x: ArrayLike<number>, offset: number, C: number): number[] {
  return logSoftmaxAt(x, C, (c) => offset + c);
}
