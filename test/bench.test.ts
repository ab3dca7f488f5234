/**
 * The benchmark's machinery on tiny shapes (--quick): every workload, loss and variant runs and is
 * reported. No timing is asserted here: speed is measured by `npm run bench`, not by unit tests.
 */
import { describe, expect, test } from "@jest/globals";
import { benchRows, machineLine, markdownTable, targetChecks } from "../src/bench/report.js";
import { runBench } from "../src/bench/run.js";
import { naiveSoftmaxLoss, oneNodeLoss } from "../src/bench/variants.js";
import { createEvaluator } from "../src/runtime/node.js";

describe("bench --quick", () => {
  test("times every variant of every workload and loss, and reports them", async () => {
    const r = await runBench({ quick: true, torch: false, web: true, budgetMs: 50 });
    expect(r.quick).toBe(true);
    expect(r.groups.map((g) => `${g.workload}/${g.loss}`)).toHaveLength(18);
    for (const g of r.groups) {
      const keys = g.variants.map((v) => v.key);
      expect(keys).toEqual(expect.arrayContaining(["ours", "ours-f32", "floor", "ort-web"]));
      for (const v of g.variants) expect(v.ms === null || v.ms > 0).toBe(true);
      expect(g.reductionAB!.rounds).toBeGreaterThanOrEqual(5);
    }
    const ce = r.groups.find((g) => g.workload === "classification" && g.loss === "cross_entropy")!;
    expect(ce.variants.map((v) => v.key)).toEqual(expect.arrayContaining(["one-node", "naive"]));
    expect(benchRows(r).length).toBeGreaterThan(18 * 4);
    expect(markdownTable(r)).toMatch(/^\| workload \| loss \| graph or peer \| median ms \| vs this project \|/);
    expect(machineLine(r)).toMatch(/cores, \d+ GiB, .*onnxruntime-node 1\.30\.0 with \d+ intra-op threads and spinning off; no PyTorch/);
    expect(targetChecks(r).join("\n")).toContain("classification cross_entropy vs PyTorch eager: not measured");
    const sf = r.groups.find((g) => g.workload === "detection" && g.loss === "sigmoid_focal_loss")!;
    expect(sf.stability!.scale).toBe(100);
    expect(Number.isFinite(Number(sf.stability!.values[0].value))).toBe(true); // this project's graph at |x| up to 400
  }, 120000);

  test("the comparison graphs compute the same cross-entropy as the project's", async () => {
    const x = new Float32Array([1, 2, 3, 0.5, -1, 2]);
    const t = new BigInt64Array([2n, 0n]);
    const values = [];
    for (const model of [oneNodeLoss("cross_entropy", 2), naiveSoftmaxLoss(2, false)]) {
      const ev = await createEvaluator(model);
      values.push(Number((await ev.run({ input: { data: x, dims: [2, 3] }, target: { data: t, dims: [2] } }))[ev.outputs[0].name].data[0]));
      await ev.release();
    }
    expect(values[0]).toBeCloseTo(values[1], 6);
    expect(values[0]).toBeCloseTo((-(3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3))) - (0.5 - Math.log(Math.exp(0.5) + Math.exp(-1) + Math.exp(2)))) / 2, 6);
  });
});
