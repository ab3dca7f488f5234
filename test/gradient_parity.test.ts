/**
 * Gradient parity: `gradient: true` adds the output input_grad, d loss / d input in closed form, which
 * must equal PyTorch autograd (test/fixtures/grad/, scripts/make_grad_fixtures.py) for every forward
 * fixture case at 1e-5, wherever autograd is finite (where it gives NaN, the graph's value must be
 * finite: the closed form's limit).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { feedsOf, FIXTURES, loadFixtures, num } from "./helpers.js";

/** Every catalogue loss that builds its gradient (all of them today; a new one may come without). */
const LOSSES = process.env.ONNX_LOSSES_GRAD_LOSSES?.split(",") ?? CATALOGUE.map((d) => d.name).filter((n) => {
  try {
    return buildLoss(n, { gradient: true }).outputs.some((o) => o.name === "input_grad");
  } catch {
    return false;
  }
});
test("every catalogue loss builds its gradient", () => expect(LOSSES).toEqual(CATALOGUE.map((d) => d.name)));

describe.each(LOSSES)("%s", (loss) => {
  const cases = loadFixtures(`${loss}.json`);
  const grads = (JSON.parse(readFileSync(join(FIXTURES, "grad", `${loss}.json`), "utf8")) as { cases: { id: string; input_grad: { data: (number | string)[] } }[] }).cases;
  test.each([
    ["opset 17", { opset: 17 }],
    ["opset 13", { opset: 13 }],
    ["opset 23", { opset: 23 }],
    ["the WebGPU lowering", { lowering: "webgpu" as const }],
    ["float64", { dtype: "float64" as const }],
  ])("input_grad equals PyTorch autograd, %s", async (_what, build) => {
    const failures: string[] = [];
    for (let k = 0; k < cases.length; k++) {
      const c = cases[k];
      const want = grads[k].input_grad.data.map(num);
      const ev = await createEvaluator(buildLoss(loss, { ...c.options, gradient: true }, build));
      const out = await ev.run(feedsOf(c));
      await ev.release();
      const got = out.input_grad.data as Float32Array | Float64Array;
      for (let i = 0; i < want.length; i++) {
        const ok = Number.isNaN(want[i]) ? Number.isFinite(got[i]) : Math.abs(got[i] - want[i]) <= 1e-5 * Math.max(1, Math.abs(want[i]));
        if (!ok) {
          failures.push(`${c.id} [${i}]: got ${got[i]}, autograd ${want[i]}`);
          break;
        }
      }
      if (failures.length > 8) break;
    }
    expect(failures).toEqual([]);
  }, 120000);
});
