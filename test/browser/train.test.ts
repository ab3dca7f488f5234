/**
 * The demo page's train panel in Chromium (web/dist, `npm run web:build`): 50 full-batch steps of a
 * softmax-regression head with cross_entropy and with softmax_focal_loss, each step one onnxruntime-web
 * run of linearHeadStep's graph. The loss falls; every step's loss and the trained W, b equal the same
 * step graph run in Node (onnxruntime-node, same data, same init) within 1e-5; the minority class's
 * recall is shown for both; also with the WebGPU lowering (run on wasm here: no GPU in CI).
 *
 * Skipped, saying so, as page.test.ts is, where Chromium or web/dist is missing.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { Page } from "playwright-core";
import { linearHeadStep } from "../../src/losses/linear_head.js";
import { createEvaluator } from "../../src/runtime/node.js";
import { CLASS_SIZES, focalWeights, imbalancedSet, recalls, train } from "../../web/train.js";
import { ROOT } from "../helpers.js";
import { browserSuite, openDemoPage, overflowing, type DemoPage } from "./chromium.js";

const LOSSES = ["cross_entropy", "softmax_focal_loss"] as const;
type PanelResult = Record<(typeof LOSSES)[number], { losses: number[]; recalls: number[]; W: number[]; b: number[] }>;

let demo: DemoPage;
let page: Page;

async function runPanel(): Promise<PanelResult> {
  const before = Number((await page.getAttribute("#train", "data-runs")) ?? 0);
  await page.click("#train-run");
  await page.waitForFunction((n) => Number(document.getElementById("train")!.dataset.runs ?? 0) > n, before, { timeout: 120000 });
  const state = await page.getAttribute("#train", "data-state");
  if (state !== "done") throw new Error(`train panel: ${state}: ${await page.textContent("#train-error")}`);
  return JSON.parse((await page.getAttribute("#train", "data-result"))!) as PanelResult;
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= 1e-5 * Math.max(1, Math.abs(want[i]))))
      throw new Error(`${what} [${i}]: page ${got[i]}, Node ${want[i]}`);
  }
}

/** The same steps in Node (50 unless told): the page's defaults (lr 1, focal gamma 2), the same set and init. */
async function nodeRun(loss: (typeof LOSSES)[number], lowering: "none" | "webgpu", steps = 50) {
  const step = linearHeadStep(loss, loss === "softmax_focal_loss" ? { gamma: 2 } : {}, { lr: 1 }, { lowering });
  const ev = await createEvaluator(step);
  try {
    return await train(ev, imbalancedSet(), steps);
  } finally {
    await ev.release();
  }
}

browserSuite("the train panel in Chromium", () => {
  beforeAll(async () => {
    demo = await openDemoPage();
    page = demo.page;
  }, 120000);

  afterAll(async () => {
    await demo?.close();
  });

  for (const lowering of ["none", "webgpu"] as const) {
    test(`50 steps of both losses (wasm, lowering ${lowering}): the loss falls and equals the Node run of the same step graph`, async () => {
      await page.selectOption("#ep", "wasm");
      await page.setChecked("#lowering", lowering === "webgpu");
      expect(await page.inputValue("#train-steps")).toBe("50");
      const result = await runPanel();
      for (const loss of LOSSES) {
        const got = result[loss];
        const want = await nodeRun(loss, lowering);
        expect(got.losses).toHaveLength(50);
        close(got.losses, want.losses, `${loss} losses`);
        close(got.W, want.W, `${loss} W`);
        close(got.b, want.b, `${loss} b`);
        expect(got.losses[49]).toBeLessThan(0.6 * got.losses[0]);
        // the recalls the page shows are those of the Node-trained head
        close(got.recalls, recalls(imbalancedSet(), want.W, want.b), `${loss} recalls`);
        const shown = (await page.textContent(`#train-recall-${loss}`)) ?? "";
        expect(shown).toContain(`minority class 0: ${(100 * got.recalls[0]).toFixed(0)}% (${Math.round(got.recalls[0] * 12)} of 12)`);
        expect(JSON.parse((await page.getAttribute(`#train-recall-${loss}`, "data-recalls"))!)).toEqual(got.recalls);
      }
      expect(await page.textContent("#train-curves")).toContain(
        lowering === "webgpu" ? "on wasm, WebGPU lowering" : "on wasm, plain graph",
      );
      expect(await page.locator("#train-curves svg path").count()).toBe(2);
      // what the panel's text claims: with the defaults, cross_entropy finds 2 of the minority's 12
      // points and the focal loss 5, the other classes' recall within a point or two of each other
      expect(CLASS_SIZES[0]).toBe(12);
      expect(result.cross_entropy.recalls[0] * 12).toBeCloseTo(2, 6);
      expect(result.softmax_focal_loss.recalls[0] * 12).toBeCloseTo(5, 6);
      expect(await page.textContent("#train")).toContain(
        "with the defaults (50 steps, lr 1, gamma 2) cross_entropy finds 2 of the minority's 12 points, softmax_focal_loss 5",
      );
      // and the weights that explain it: the minority's mean focal factor far above the majority's
      const weights = JSON.parse((await page.getAttribute("#train-weights", "data-weights"))!) as number[];
      close(weights, focalWeights(imbalancedSet(), result.softmax_focal_loss.W, result.softmax_focal_loss.b, 2), "focal weights");
      expect(weights[0]).toBeGreaterThan(5 * weights[2]);
    }, 180000);
  }

  test("the claim that trained long enough both losses find the same minority points (Node, 500 steps)", async () => {
    const ce = await nodeRun("cross_entropy", "none", 500);
    const focal = await nodeRun("softmax_focal_loss", "none", 500);
    const set = imbalancedSet();
    expect(recalls(set, ce.W, ce.b)[0] * 12).toBeCloseTo(5, 6);
    expect(recalls(set, focal.W, focal.b)[0] * 12).toBeCloseTo(5, 6);
  }, 60000);

  test.each([1280, 390])(
    "at %i px wide after a run: maps side by side, legend inside the chart, step numbers on the axis, nothing overflows; screenshot in test/artifacts",
    async (width) => {
      await page.setViewportSize({ width, height: 900 });
      try {
        await page.selectOption("#ep", "wasm");
        await page.setChecked("#lowering", false);
        await runPanel();
        expect(await overflowing(page, width)).toEqual([]);
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        const panel = (await page.locator("#train").boundingBox())!;
        expect(panel.x + panel.width).toBeLessThanOrEqual(width);
        // the two maps: the same row, not overlapping, each at least 120 px wide, inside the panel
        const a = (await page.locator("#train-map-cross_entropy").boundingBox())!;
        const b = (await page.locator("#train-map-softmax_focal_loss").boundingBox())!;
        expect(Math.abs(a.y - b.y)).toBeLessThan(1);
        expect(a.x + a.width).toBeLessThanOrEqual(b.x);
        expect(Math.min(a.width, b.width)).toBeGreaterThanOrEqual(120);
        expect(b.x + b.width).toBeLessThanOrEqual(panel.x + panel.width);
        // the chart: drawn at the size shown (its 11-12 px fonts stay so), within the panel
        const svg = (await page.locator("#train-curves svg").boundingBox())!;
        expect(svg.x + svg.width).toBeLessThanOrEqual(panel.x + panel.width);
        expect(Number(await page.getAttribute("#train-curves svg", "width"))).toBeCloseTo(svg.width, 0);
        // the legend's box inside the plot (the svg), each label inside the legend's box
        const legend = (await page.locator("#train-curves svg .legend rect").boundingBox())!;
        expect(legend.x).toBeGreaterThanOrEqual(svg.x);
        expect(legend.y).toBeGreaterThanOrEqual(svg.y);
        expect(legend.x + legend.width).toBeLessThanOrEqual(svg.x + svg.width);
        expect(legend.y + legend.height).toBeLessThanOrEqual(svg.y + svg.height);
        for (const t of await page.locator("#train-curves svg .legend text").all()) {
          const tb = (await t.boundingBox())!;
          expect(tb.x + tb.width).toBeLessThanOrEqual(legend.x + legend.width);
        }
        // the x axis: step numbers from 0 to the step count (50)
        const ticks = await page.locator("#train-curves svg .xtick").allTextContents();
        expect(ticks).toEqual(["0", "10", "20", "30", "40", "50"]);
        expect(await page.textContent("#train-curves")).toContain("step (on wasm, plain graph)");
        // no tick label overlaps the next
        const tickBoxes = await Promise.all(
          (await page.locator("#train-curves svg .xtick").all()).map(async (t) => (await t.boundingBox())!),
        );
        for (let i = 1; i < tickBoxes.length; i++) expect(tickBoxes[i - 1].x + tickBoxes[i - 1].width).toBeLessThan(tickBoxes[i].x);
        mkdirSync(join(ROOT, "test", "artifacts"), { recursive: true });
        await page.locator("#train").screenshot({ path: join(ROOT, "test", "artifacts", `train-${width}.png`) });
      } finally {
        await page.setViewportSize({ width: 1280, height: 720 });
      }
    },
    180000,
  );

  test("the decision regions are drawn: region and point colours on each canvas", async () => {
    const colours = await page.evaluate(() => {
      const out: number[] = [];
      for (const id of ["train-map-cross_entropy", "train-map-softmax_focal_loss"]) {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const { data } = c.getContext("2d")!.getImageData(0, 0, c.width, c.height);
        const seen = new Set<string>();
        for (let i = 0; i < data.length; i += 4) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
        out.push(seen.size);
      }
      return out;
    });
    // at least two region colours and the points' colours on each map
    for (const n of colours) expect(n).toBeGreaterThanOrEqual(4);
  });

  test("a bad step count is refused with its message; no console errors; every request stayed on the page's server", async () => {
    await page.fill("#train-steps", "0");
    const before = Number((await page.getAttribute("#train", "data-runs")) ?? 0);
    await page.click("#train-run");
    await page.waitForFunction((n) => Number(document.getElementById("train")!.dataset.runs ?? 0) > n, before);
    expect(await page.getAttribute("#train", "data-state")).toBe("error");
    expect(await page.textContent("#train-error")).toBe("steps: expected an integer from 1 to 1000, received 0");
    // the previous run's results are gone
    expect(await page.locator("#train-curves svg").count()).toBe(0);
    expect(await page.textContent("#train-recall-cross_entropy")).toBe("");
    expect(await page.textContent("#train-weights")).toBe("");
    expect(await page.getAttribute("#train", "data-result")).toBeNull();
    await page.fill("#train-steps", "50");
    expect(demo.consoleErrors).toEqual([]);
    expect(demo.requests.filter((u) => !u.startsWith(demo.url) && !u.startsWith("data:") && !u.startsWith("blob:"))).toEqual([]);
  });
});
