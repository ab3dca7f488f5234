/**
 * The PyTorch autograd gradients (scripts/make_grad_fixtures.py, test/fixtures/grad/) that the loss
 * gradients of the graphs will be held to: one per forward fixture case, and equal to the slopes of
 * this project's own forward graphs, measured by central differences through float64 graphs under
 * onnxruntime. So the fixtures and the graphs describe the same functions before any gradient graph
 * exists.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { FIXTURES, loadFixtures, num, type FixtureCase } from "./helpers.js";

const LOSSES = [
  "cross_entropy",
  "nll_loss",
  "binary_cross_entropy",
  "binary_cross_entropy_with_logits",
  "softmax_focal_loss",
  "sigmoid_focal_loss",
];

interface GradCase {
  id: string;
  input_grad: { dims: number[]; data: (number | string)[] };
}
const loadGrads = (loss: string) =>
  (JSON.parse(readFileSync(join(FIXTURES, "grad", `${loss}.json`), "utf8")) as { cases: GradCase[] }).cases;

describe.each(LOSSES)("%s", (loss) => {
  const cases = loadFixtures(`${loss}.json`);
  const grads = loadGrads(loss);

  test("one gradient per forward case, shaped like its input", () => {
    expect(grads.map((g) => g.id)).toEqual(cases.map((c) => c.id));
    grads.forEach((g, i) => {
      expect(g.input_grad.dims).toEqual(cases[i].inputs.input.dims);
      expect(g.input_grad.data).toHaveLength(cases[i].inputs.input.data.length);
    });
  });

  test("equal to the slopes of this project's float64 graphs (central differences at a few elements)", async () => {
    const failures: string[] = [];
    // every third case, a few elements each: the whole file would take minutes
    for (let k = 0; k < cases.length; k += 3) {
      const c: FixtureCase = cases[k];
      const g = grads[k].input_grad.data.map(num);
      const x = Float64Array.from(c.inputs.input.data, num);
      const t = c.inputs.target;
      const target =
        t.dtype === "int64"
          ? { data: BigInt64Array.from(t.data, (v) => BigInt(v)), dims: t.dims }
          : { data: Float64Array.from(t.data, num), dims: t.dims };
      const options = { ...c.options, reduction: c.options.reduction === "none" ? "sum" : c.options.reduction };
      let ev;
      try {
        ev = await createEvaluator(buildLoss(loss, options, { dtype: "float64" }));
      } catch (e) {
        failures.push(`${c.id}: ${(e as Error).message}`);
        continue;
      }
      const at = async (v: Float64Array) => Number((await ev.run({ input: { data: v, dims: c.inputs.input.dims }, target })).loss.data[0]);
      const picks = [0, Math.floor(x.length / 3), Math.floor((2 * x.length) / 3), x.length - 1].filter(
        (i, j, a) => i >= 0 && a.indexOf(i) === j,
      );
      for (const i of picks) {
        if (!Number.isFinite(g[i])) continue; // autograd's NaN where the closed form has a limit
        const h = 1e-6 * Math.max(1, Math.abs(x[i]));
        if (loss === "binary_cross_entropy" && (x[i] - h < 0 || x[i] + h > 1)) continue; // probabilities stay in [0, 1]
        const up = Float64Array.from(x);
        const down = Float64Array.from(x);
        up[i] += h;
        down[i] -= h;
        const fd = ((await at(up)) - (await at(down))) / (up[i] - down[i]);
        if (!Number.isFinite(fd)) continue; // a mean over no items
        if (!(Math.abs(fd - g[i]) <= 1e-5 * Math.max(1, Math.abs(g[i])))) failures.push(`${c.id} [${i}]: autograd ${g[i]}, slope ${fd}`);
      }
      await ev.release();
    }
    expect(failures).toEqual([]);
  }, 120000);
});
