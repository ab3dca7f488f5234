/**
 * The gradient fixtures (test/fixtures/grad/, scripts/make_grad_fixtures.py: PyTorch autograd on each
 * forward fixture case, in the same order) and the float64 closed form of test/reference.ts on a case,
 * the value a graph must give where autograd is NaN (focal losses with 0 < gamma < 1 at p_t = 1).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, num, type FixtureCase } from "./helpers.js";
import { referenceGradFor } from "./reference.js";

/** PyTorch's input_grad for each case of `${loss}.json`, in its order. */
export function loadGradFixtures(loss: string): { id: string; input_grad: { data: (number | string)[] } }[] {
  return (
    JSON.parse(readFileSync(join(FIXTURES, "grad", `${loss}.json`), "utf8")) as {
      cases: { id: string; input_grad: { data: (number | string)[] } }[];
    }
  ).cases;
}

/**
 * The float64 closed form of test/reference.ts on a fixture case's float32 inputs, with the options
 * as the fixture script hands them to PyTorch: weights and alphas as float32 tensors (a softmax focal
 * alpha number as the float32 vector of alpha and 1 - alpha).
 */
export function closedFormGrad(c: FixtureCase): number[] {
  const loss = c.loss;
  const tensor = (name: string) => ({ dims: c.inputs[name].dims, data: c.inputs[name].data.map((v) => Math.fround(num(v))) });
  const o = { ...(c.options as Record<string, unknown>) };
  const f32 = (v: unknown) => (Array.isArray(v) ? v.map((e: number) => Math.fround(e)) : v);
  for (const key of ["weight", "posWeight"]) o[key] = f32(o[key]);
  if (loss === "softmax_focal_loss" && Array.isArray(o.alpha)) o.alpha = f32(o.alpha);
  if (loss === "softmax_focal_loss" && typeof o.alpha === "number") {
    const a = o.alpha;
    const C = c.inputs.input.dims[1];
    o.alpha = Array.from({ length: C }, (_, j) => Math.fround(j === ((o.balanceIndex as number | undefined) ?? 0) ? a : 1 - a));
  }
  return referenceGradFor(loss, tensor("input"), tensor("target"), o);
}

/** The input_grad a graph must give on case k of `${loss}.json`: autograd's, and the closed form's limit where autograd is NaN. */
export function expectedGrad(
  cases: readonly FixtureCase[],
  grads: ReturnType<typeof loadGradFixtures>,
  k: number,
): { want: number[]; limits: boolean[] } {
  const autograd = grads[k].input_grad.data.map(num);
  const limit = autograd.some(Number.isNaN) ? closedFormGrad(cases[k]) : undefined;
  return {
    want: autograd.map((w, i) => (Number.isNaN(w) && limit ? limit[i] : w)),
    limits: autograd.map((w) => Number.isNaN(w) && limit !== undefined),
  };
}
