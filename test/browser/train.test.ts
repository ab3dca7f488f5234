/**
 * The demo page's train panel in Chromium (web/dist, `npm run web:build`): 50 full-batch steps of a
 * softmax-regression head with cross_entropy and with softmax_focal_loss, each step one onnxruntime-web
 * run of linearHeadStep's graph. The loss falls; every step's loss and the trained W, b equal the same
 * step graph run in Node (onnxruntime-node, same data, same init) within 1e-5; the minority class's
 * recall is shown for both; also with the WebGPU lowering (run on wasm here: no GPU in CI).
 *
 * Skipped, saying so, as page.test.ts is, where Chromium or web/dist is missing.
 */
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { Page } from "playwright-core";
import { linearHeadStep } from "../../src/losses/linear_head.js";
import { createEvaluator } from "../../src/runtime/node.js";
import { imbalancedSet, recalls, train } from "../../web/train.js";
import { browserSuite, openDemoPage, type DemoPage } from "./chromium.js";

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

/** The same 50 steps in Node: the page's defaults (lr 1, focal gamma 2), the same set and init. */
async function nodeRun(loss: (typeof LOSSES)[number], lowering: "none" | "webgpu") {
  const step = linearHeadStep(loss, loss === "softmax_focal_loss" ? { gamma: 2 } : {}, { lr: 1 }, { lowering });
  const ev = await createEvaluator(step);
  try {
    return await train(ev, imbalancedSet(1), 50);
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
        close(got.recalls, recalls(imbalancedSet(1), want.W, want.b), `${loss} recalls`);
        const shown = (await page.textContent(`#train-recall-${loss}`)) ?? "";
        expect(shown).toContain(`minority class 0: ${(100 * got.recalls[0]).toFixed(0)}%`);
        expect(JSON.parse((await page.getAttribute(`#train-recall-${loss}`, "data-recalls"))!)).toEqual(got.recalls);
      }
      expect(await page.textContent("#train-curves")).toContain(
        lowering === "webgpu" ? "on wasm, WebGPU lowering" : "on wasm, plain graph",
      );
      expect(await page.locator("#train-curves svg path").count()).toBe(2);
    }, 180000);
  }

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
    await page.fill("#train-steps", "50");
    expect(demo.consoleErrors).toEqual([]);
    expect(demo.requests.filter((u) => !u.startsWith(demo.url) && !u.startsWith("data:") && !u.startsWith("blob:"))).toEqual([]);
  });
});
