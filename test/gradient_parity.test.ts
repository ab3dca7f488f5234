/**
 * Gradient parity: `gradient: true` adds the output input_grad, d loss / d input in closed form, which
 * must equal PyTorch autograd (test/fixtures/grad/, scripts/make_grad_fixtures.py) for every forward
 * fixture case at 1e-5, wherever autograd is finite. Where autograd gives NaN (focal losses with
 * 0 < gamma < 1 at p_t = 1), the graph's value must equal the limit that the float64 closed form of
 * test/reference.ts gives, which is itself checked against autograd on every finite case here.
 */
import { describe, expect, test } from "@jest/globals";
import { type BuildOptions, buildLoss, CATALOGUE } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { closedFormGrad, loadGradFixtures } from "./grad_fixtures.js";
import { feedsOf, loadFixtures, num, QUICK } from "./helpers.js";

/** Every catalogue loss that builds its gradient (all of them today; a new one may come without). */
const LOSSES =
  process.env.ONNX_LOSSES_GRAD_LOSSES?.split(",") ??
  CATALOGUE.map((d) => d.name).filter((n) => {
    try {
      return buildLoss(n, { gradient: true }).outputs.some((o) => o.name === "input_grad");
    } catch {
      return false;
    }
  });
test("every catalogue loss builds its gradient", () => expect(LOSSES).toEqual(CATALOGUE.map((d) => d.name)));

describe.each(LOSSES)("%s", (loss) => {
  const cases = loadFixtures(`${loss}.json`);
  const grads = loadGradFixtures(loss);
  const closedForm = (k: number): number[] => closedFormGrad(cases[k]);

  test("the float64 closed-form reference gradient equals autograd on every case", () => {
    const failures: string[] = [];
    let limits = 0;
    for (let k = 0; k < cases.length; k++) {
      const want = grads[k].input_grad.data.map(num);
      const ref = closedForm(k);
      for (let i = 0; i < want.length; i++) {
        if (Number.isNaN(want[i])) {
          limits++;
          if (!Number.isFinite(ref[i]))
            failures.push(`${cases[k].id} [${i}]: autograd NaN, closed form ${ref[i]} (expected its finite limit)`);
        } else if (!(Math.abs(ref[i] - want[i]) <= 1e-9 * Math.max(1, Math.abs(want[i])))) {
          failures.push(`${cases[k].id} [${i}]: closed form ${ref[i]}, autograd ${want[i]}`);
        }
        if (failures.length > 8) break;
      }
    }
    expect(failures).toEqual([]);
    // the focal losses' fixtures hold the gamma < 1 cases where autograd is NaN
    if (loss.endsWith("focal_loss")) expect(limits).toBeGreaterThan(0);
  });
  const builds: [string, BuildOptions][] = [
    ["opset 17", { opset: 17 }],
    ["the WebGPU lowering", { lowering: "webgpu" }],
    // the quick tier (npm run test:quick) stops here
    ["opset 13", { opset: 13 }],
    ["opset 23", { opset: 23 }],
    ["float64", { dtype: "float64" }],
  ];
  test.each(QUICK ? builds.slice(0, 2) : builds)(
    "input_grad equals PyTorch autograd, %s",
    async (_what, build) => {
      const failures: string[] = [];
      for (let k = 0; k < cases.length; k++) {
        const c = cases[k];
        const want = grads[k].input_grad.data.map(num);
        const limit = want.some(Number.isNaN) ? closedForm(k) : undefined;
        const ev = await createEvaluator(buildLoss(loss, { ...c.options, gradient: true }, build));
        const out = await ev.run(feedsOf(c));
        await ev.release();
        const got = out.input_grad.data as Float32Array | Float64Array;
        for (let i = 0; i < want.length; i++) {
          // where autograd is NaN: the float64 closed form's finite limit
          const w = Number.isNaN(want[i]) && limit ? limit[i] : want[i];
          const ok = Math.abs(got[i] - w) <= 1e-5 * Math.max(1, Math.abs(w));
          if (!ok) {
            failures.push(`${c.id} [${i}]: got ${got[i]}, ${w === want[i] ? "autograd" : "float64 limit"} ${w}`);
            break;
          }
        }
        if (failures.length > 8) break;
      }
      expect(failures).toEqual([]);
    },
    120000,
  );
});
