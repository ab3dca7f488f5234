/**
 * End-to-end: the built demo page (web/dist, `npm run web:build`) in Debian's Chromium, driven by
 * playwright-core. Every catalogue loss is evaluated on a PyTorch fixture through the page's own form
 * and compared with the golden value at 1e-5.
 *
 * Skipped, saying so, where /usr/bin/chromium (or CHROMIUM_PATH) is missing; .ci/run installs Debian's
 * chromium and sets ONNX_LOSSES_REQUIRE_BROWSER=1 so that CI fails instead of skipping.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "@jest/globals";
import type { Page } from "playwright-core";
import { buildLoss, CATALOGUE } from "../../src/losses/index.js";
import { BAR_COLOR, COLORS } from "../../web/charts.js";
import { FIXTURES, loadFixtures, num, ROOT, type FixtureCase } from "../helpers.js";
import {
  browserSuite,
  caseFor,
  evaluate as evaluateOn,
  openDemoPage,
  pasteInputs as pasteInputsOn,
  setLoss as setLossOn,
  type DemoPage,
  overflowing,
} from "./chromium.js";

let demo: DemoPage;
let page: Page;
const evaluate = () => evaluateOn(page);
const setLoss = (loss: string, options: Record<string, unknown>) => setLossOn(page, loss, options);
const pasteInputs = (c: FixtureCase) => pasteInputsOn(page, c);

/**
 * Decode a PNG in the page and count its pixels: `ink`, those that differ from the top-left
 * (background) pixel; `near[k]`, those within 20 per channel of `colours[k]` ("#rrggbb").
 */
async function inkOf(png: Buffer, colours: string[]): Promise<{ width: number; height: number; ink: number; near: number[] }> {
  return page.evaluate(
    async ({ b64, colours }) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
      const ctx = new OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d")!;
      ctx.drawImage(bitmap, 0, 0);
      const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
      const rgb = colours.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
      const near = rgb.map(() => 0);
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (Math.abs(data[i] - data[0]) + Math.abs(data[i + 1] - data[1]) + Math.abs(data[i + 2] - data[2]) > 60) ink++;
        rgb.forEach((c, k) => {
          if (Math.abs(data[i] - c[0]) <= 20 && Math.abs(data[i + 1] - c[1]) <= 20 && Math.abs(data[i + 2] - c[2]) <= 20) near[k]++;
        });
      }
      return { width: bitmap.width, height: bitmap.height, ink, near };
    },
    { b64: png.toString("base64"), colours },
  );
}

browserSuite("the demo page in Chromium", () => {
  beforeAll(async () => {
    demo = await openDemoPage({ acceptDownloads: true });
    page = demo.page;
  }, 120000);

  afterAll(async () => {
    await demo?.close();
  });

  test("loads offline: every request goes to the page's own server, and it is cross-origin isolated", async () => {
    expect(demo.requests.length).toBeGreaterThan(3);
    expect(demo.requests.filter((u) => !u.startsWith(demo.url) && !u.startsWith("data:") && !u.startsWith("blob:"))).toEqual([]);
    expect(demo.requests.some((u) => u.endsWith("ort/ort-wasm-simd-threaded.jsep.wasm"))).toBe(true);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(demo.consoleErrors).toEqual([]);
  });

  test("runs onnxruntime-web with a thread per core (it is cross-origin isolated) and says so", async () => {
    await page.click("#source-generate");
    const runs = Number((await page.getAttribute("#result", "data-runs")) ?? 0);
    await page.click("#evaluate");
    await page.waitForFunction((n) => Number(document.querySelector("#result")?.getAttribute("data-runs")) > n, runs);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await page.getAttribute("#ran-on", "data-threads")).toBe(String(Math.min(16, cores)));
    expect(await page.textContent("#ran-on")).toContain(`wasm, ${Math.min(16, cores)} thread`);
  }, 60000);

  test("the form covers the catalogue: one entry per loss, and a field per option but rank (taken from the input)", async () => {
    expect(await page.$$eval("#loss option", (os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(CATALOGUE.map((d) => d.name));
    for (const d of CATALOGUE) {
      await page.selectOption("#loss", d.name);
      const fields = await page.$$eval("#options [data-option]", (els) => els.map((e) => (e as HTMLElement).dataset.option));
      expect([d.name, ...fields]).toEqual([d.name, ...d.optionList.map((o) => o.name).filter((n) => n !== "rank")]);
    }
  });

  test("the focal-loss plot has a curve per gamma, computed by the graphs", async () => {
    expect(await page.locator("#focal-plot svg path").count()).toBe(5);
    expect(await page.textContent("#focal-plot")).toContain("gamma 5");
  });

  test.each(CATALOGUE.map((d) => d.name))("%s on a PyTorch fixture equals the golden value (wasm, both lowerings)", async (loss) => {
    const c = caseFor(loss);
    await setLoss(loss, c.options);
    await pasteInputs(c);
    const want = num(c.expected.data[0]);
    for (const lowered of [false, true]) {
      await page.setChecked("#lowering", lowered);
      const r = await evaluate();
      expect({ id: c.id, error: r.error, state: r.state }).toEqual({ id: c.id, error: "", state: "done" });
      const got = Number(r.value);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
    }
    await page.setChecked("#lowering", false);
    expect(await page.locator("#histogram svg rect").count()).toBeGreaterThan(0);
    expect(await page.textContent("#graph-summary")).toMatch(/\d+ nodes, opset 17/);
  });

  test("changing an option changes the value; invalid values get the CLI's message", async () => {
    const c = caseFor("softmax_focal_loss");
    await setLoss("softmax_focal_loss", {});
    await pasteInputs(c);
    await page.fill("#opt-gamma", "2");
    const g2 = Number((await evaluate()).value);
    await page.fill("#opt-gamma", "0");
    const g0 = Number((await evaluate()).value);
    expect(Number.isFinite(g2) && Number.isFinite(g0)).toBe(true);
    expect(g0).not.toBe(g2);
    expect(g0).toBeGreaterThan(g2); // the focal factor only shrinks the loss
    await page.fill("#opt-gamma", "-1");
    const bad = await evaluate();
    expect(bad.state).toBe("error");
    expect(bad.error).toBe("softmax_focal_loss: option gamma: expected a number >= 0, received -1");
    await page.fill("#opt-gamma", "2");
    await page.fill("#opt-alpha", "1.5");
    expect((await evaluate()).error).toBe(
      "softmax_focal_loss: option alpha: expected null, a number in [0, 1], or a non-empty list of numbers >= 0, received 1.5",
    );
    await page.fill("#opt-alpha", "null");
  });

  test("the graph picture follows the options and the lowering", async () => {
    await setLoss("cross_entropy", {});
    await page.setChecked("#lowering", false);
    expect(await page.textContent("#graph-view")).toContain("LogSoftmax");
    await page.setChecked("#lowering", true);
    expect(await page.textContent("#graph-view")).not.toContain("LogSoftmax");
    expect(await page.textContent("#graph-summary")).toContain("target int32 [N]");
    await page.setChecked("#lowering", false);
    await page.fill("#opt-labelSmoothing", "2");
    await page.press("#opt-labelSmoothing", "Tab");
    expect(await page.textContent("#error")).toBe("cross_entropy: option labelSmoothing: expected a number in [0, 1], received 2");
    await page.fill("#opt-labelSmoothing", "0");
    await page.press("#opt-labelSmoothing", "Tab");
    expect(await page.isVisible("#error")).toBe(false);
  });

  test("webgpu without an adapter is a clear error; the adapter is asked for once; the lowering follows the provider", async () => {
    // count the page's adapter requests from here on (the page asked once already: every evaluator
    // probes, and the tests above evaluated on wasm)
    const hasGpu = await page.evaluate(() => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(...a: unknown[]): Promise<unknown> } }).gpu;
      if (!gpu) return false;
      const ask = gpu.requestAdapter.bind(gpu);
      (globalThis as unknown as { asked: number }).asked = 0;
      gpu.requestAdapter = (...a: unknown[]) => ((globalThis as unknown as { asked: number }).asked++, ask(...a));
      return true;
    });
    await page.selectOption("#ep", "webgpu");
    expect(await page.isChecked("#lowering")).toBe(true);
    for (let i = 0; i < 3; i++) {
      const r = await evaluate();
      expect(r.state).toBe("error");
      expect(r.error).toMatch(/^execution provider webgpu: not available \(webgpu: /);
    }
    // Chromium logs "No available adapters." for each requestAdapter() that finds none: not asked again
    if (hasGpu) expect(await page.evaluate(() => (globalThis as unknown as { asked: number }).asked)).toBe(0);
    expect(demo.console.filter((m) => /no available adapters/i.test(m)).length).toBeLessThanOrEqual(1);
    await page.selectOption("#ep", "wasm");
    expect(await page.isChecked("#lowering")).toBe(false);
    // the user's own choice is kept per provider: ticked on wasm, it is ticked again on coming back
    // from webgpu, and unticked on webgpu it stays so there; Download gives the graph the box says
    await setLoss("cross_entropy", {});
    await page.setChecked("#lowering", true);
    await page.selectOption("#ep", "webgpu");
    expect(await page.isChecked("#lowering")).toBe(true);
    await page.setChecked("#lowering", false);
    await page.selectOption("#ep", "wasm");
    expect(await page.isChecked("#lowering")).toBe(true);
    await page.selectOption("#ep", "webgpu");
    expect(await page.isChecked("#lowering")).toBe(false);
    expect(await page.textContent("#graph-view")).toContain("LogSoftmax");
    const [plain] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(readFileSync((await plain.path())!).equals(Buffer.from(buildLoss("cross_entropy", { rank: 2 }).model))).toBe(true);
    await page.selectOption("#ep", "wasm");
    expect(await page.textContent("#graph-view")).not.toContain("LogSoftmax");
    const [lowered] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(
      readFileSync((await lowered.path())!).equals(Buffer.from(buildLoss("cross_entropy", { rank: 2 }, { lowering: "webgpu" }).model)),
    ).toBe(true);
    await page.setChecked("#lowering", false);
    await page.selectOption("#ep", "webgpu");
    await page.setChecked("#lowering", true);
    await page.selectOption("#ep", "wasm");
    expect(await page.isChecked("#lowering")).toBe(false);
  });

  test("boolean options are checkboxes, read as true and false", async () => {
    for (const d of CATALOGUE) {
      await page.selectOption("#loss", d.name);
      for (const o of d.optionList.filter((o) => typeof o.default === "boolean")) {
        expect({ loss: d.name, option: o.name, type: await page.getAttribute(`#opt-${o.name}`, "type") }).toEqual({
          loss: d.name,
          option: o.name,
          type: "checkbox",
        });
        expect(await page.isChecked(`#opt-${o.name}`)).toBe(o.default);
      }
    }
    const c = caseFor("cross_entropy");
    await setLoss("cross_entropy", c.options);
    await pasteInputs(c);
    await page.check("#opt-gradient");
    const r = await evaluate();
    expect({ state: r.state, error: r.error }).toEqual({ state: "done", error: "" });
    expect(await page.textContent("#graph-summary")).toMatch(/\d+ nodes/);
    expect(await page.textContent("#graph-view")).toContain("input_grad");
    await page.uncheck("#opt-gradient");
    expect(await page.textContent("#graph-view")).not.toContain("input_grad");
  });

  test("the time shown says the first run includes the warm-up, and gives a second run; an error clears the previous result", async () => {
    const c = caseFor("cross_entropy");
    await setLoss("cross_entropy", c.options);
    await pasteInputs(c);
    const ok = await evaluate();
    expect(ok.state).toBe("done");
    expect(await page.textContent("#time")).toMatch(
      /^session created in [\d.]+ ms; first run [\d.]+ ms \(includes warm-up\), second run [\d.]+ ms$/,
    );
    expect(await page.locator("#histogram svg").count()).toBe(1);
    await page.fill("#json-input", "{not json");
    const bad = await evaluate();
    expect(bad.state).toBe("error");
    expect(bad.value).toBe("–");
    expect(await page.textContent("#time")).toBe("");
    expect(await page.textContent("#ran-on")).toBe("");
    expect(await page.locator("#histogram svg").count()).toBe(0);
  });

  test('weight "input" without a weight tensor is refused in one line naming it; with one in the JSON it runs', async () => {
    await setLoss("binary_cross_entropy_with_logits", { weight: "input" });
    await page.check("#source-generate");
    const gen = await evaluate();
    expect(gen.error).toBe(
      'weight: the graph takes a weight tensor (option weight "input"): a generated batch has none; paste it in the JSON or upload its file, or set the option to null',
    );
    await page.check("#source-json");
    const feeds = { input: { dims: [2, 2], data: [0.5, -1, 2, 0] }, target: { dims: [2, 2], data: [1, 0, 1, 1] } };
    await page.fill("#json-input", JSON.stringify(feeds));
    expect((await evaluate()).error).toBe(
      'weight: the graph takes a weight tensor (option weight "input"): add "weight": {"dims": [...], "data": [...]} to the JSON',
    );
    await page.fill("#json-input", JSON.stringify({ ...feeds, weight: { dims: [2], data: [1, 3] } }));
    const r = await evaluate();
    expect({ state: r.state, error: r.error }).toEqual({ state: "done", error: "" });
    // PyTorch's mean of w * (softplus(x) - x t), w broadcast per class
    const x = feeds.input.data,
      t = feeds.target.data,
      w = [1, 3, 1, 3];
    const want = x.reduce((a, v, i) => a + w[i] * (Math.log1p(Math.exp(v)) - v * t[i]), 0) / 4;
    expect(Math.abs(Number(r.value) - want)).toBeLessThanOrEqual(1e-5 * want);
    await page.check("#source-npy");
    await page.setInputFiles("#npy-input", join(FIXTURES, "npy", "logits_f32.npy"));
    await page.setInputFiles("#npy-target", join(FIXTURES, "npy", "target_i64.npy"));
    expect((await evaluate()).error).toBe('weight: the graph takes a weight tensor (option weight "input"): choose its file (weight)');
    await setLoss("cross_entropy", {});
  });

  test("a generated batch and uploaded .npy files evaluate", async () => {
    await setLoss("cross_entropy", {});
    await page.check("#source-generate");
    await page.fill("#gen-n", "512");
    await page.fill("#gen-c", "20");
    const gen = await evaluate();
    expect({ state: gen.state, error: gen.error }).toEqual({ state: "done", error: "" });
    expect(Number(gen.value)).toBeGreaterThan(0);
    expect(await page.textContent("#time")).toMatch(/ms/);

    const sample = loadFixtures("samples.json").find((s) => s.loss === "cross_entropy")!;
    await page.check("#source-npy");
    await page.setInputFiles("#npy-input", join(FIXTURES, "npy", "logits_f32.npy"));
    await page.setInputFiles("#npy-target", join(FIXTURES, "npy", "target_i64.npy"));
    const up = await evaluate();
    expect(Math.abs(Number(up.value) - num(sample.expected.data[0]))).toBeLessThanOrEqual(1e-5 * Math.max(1, num(sample.expected.data[0])));
  });

  test("uploaded .npz (plain and compressed) and .safetensors files evaluate: the arrays named input and target, as the same .npy files give", async () => {
    await setLoss("cross_entropy", {});
    await page.check("#source-npy");
    const archives = join(FIXTURES, "archives");
    await page.setInputFiles("#npy-input", join(archives, "input.npy"));
    await page.setInputFiles("#npy-target", join(archives, "target.npy"));
    const npy = await evaluate();
    expect({ state: npy.state, error: npy.error }).toEqual({ state: "done", error: "" });
    for (const file of ["batch.npz", "batch_compressed.npz", "batch.safetensors"]) {
      await page.setInputFiles("#npy-input", join(archives, file));
      await page.setInputFiles("#npy-target", join(archives, file));
      const r = await evaluate();
      expect({ file, state: r.state, error: r.error, value: r.value }).toEqual({ file, state: "done", error: "", value: npy.value });
    }
    // an archive without the array is one line naming the key
    await page.setInputFiles("#npy-target", join(archives, "named.npz"));
    const missing = await evaluate();
    expect(missing.state).toBe("error");
    expect(missing.error).toMatch(/^named\.npz: .*target/);
    expect(await page.textContent("#time")).toBe("");
  });

  test("downloads the .onnx of the current loss: the same bytes Node builds", async () => {
    await setLoss("softmax_focal_loss", { alpha: 0.25, gamma: 1 });
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(download.suggestedFilename()).toBe("softmax_focal_loss.onnx");
    const bytes = readFileSync((await download.path())!);
    expect(bytes.equals(Buffer.from(buildLoss("softmax_focal_loss", { alpha: 0.25, gamma: 1, rank: 2 }).model))).toBe(true);
  });

  test("what a person sees: the PyTorch value in the result box, the histogram and the focal plot drawn; the screenshot kept in test/artifacts", async () => {
    const c = caseFor("softmax_focal_loss");
    await page.selectOption("#ep", "wasm");
    await page.setChecked("#lowering", false);
    await setLoss("softmax_focal_loss", c.options);
    await pasteInputs(c);
    const r = await evaluate();
    expect({ state: r.state, error: r.error }).toEqual({ state: "done", error: "" });
    // the number as rendered (innerText: the text as laid out on the screen)
    await page.locator("#loss-value").scrollIntoViewIfNeeded();
    expect(await page.isVisible("#loss-value")).toBe(true);
    const shown = await page.locator("#loss-value").textContent();
    const want = num(c.expected.data[0]);
    expect({ shown, close: Math.abs(Number(shown) - want) <= 1e-5 * Math.max(1, Math.abs(want)) }).toEqual({ shown, close: true });
    expect(await page.locator("#histogram").textContent()).toContain(
      `${c.inputs.target.dims.reduce((a, b) => a * b, 1)} items, max count `,
    );

    // pixels, as drawn: the number itself, the histogram's bars, and each of the focal plot's five
    // curves in its own colour (measured in Chromium: without the curves each colour covers at most 30
    // pixels, the legend and the axes; with them 160 to 310)
    expect((await inkOf(await page.locator("#loss-value").screenshot(), [])).ink).toBeGreaterThan(50);
    const hist = await inkOf(await page.locator("#histogram svg").screenshot(), [BAR_COLOR]);
    expect(hist.near[0]).toBeGreaterThan(300);
    const plot = await inkOf(await page.locator("#focal-plot svg").screenshot(), COLORS.slice(0, 5)); // gamma 0, 0.5, 1, 2, 5
    for (const [k, count] of plot.near.entries()) expect({ curve: k, drawn: count > 100 }).toEqual({ curve: k, drawn: true });

    // the artifact: the whole page, at its full size, not blank
    mkdirSync(join(ROOT, "test", "artifacts"), { recursive: true });
    const png = await page.screenshot({ path: join(ROOT, "test", "artifacts", "page.png"), fullPage: true });
    const full = await inkOf(png, []);
    const [w, h, dpr] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.scrollHeight,
      devicePixelRatio,
    ]);
    expect({ width: full.width, height: full.height }).toEqual({ width: Math.round(w * dpr), height: Math.round(h * dpr) });
    expect(full.ink).toBeGreaterThan(0.01 * full.width * full.height);
    expect(demo.consoleErrors).toEqual([]);
  });

  test.each([1280, 390])(
    "at %i px wide: the evaluate panel after a run, kept in test/artifacts; nothing overflows the page's width",
    async (width) => {
      await page.setViewportSize({ width, height: 900 });
      try {
        const c = caseFor("softmax_focal_loss");
        await setLoss("softmax_focal_loss", c.options);
        await pasteInputs(c);
        const r = await evaluate();
        expect({ state: r.state, error: r.error }).toEqual({ state: "done", error: "" });
        expect(await overflowing(page, width)).toEqual([]);
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
        // every card and the result's chart within the viewport's width
        for (const sel of ["#setup", "#data", "#result", "#histogram svg", "#options"]) {
          const box = (await page.locator(sel).boundingBox())!;
          expect({ sel, right: Math.round(box.x + box.width) <= width }).toEqual({ sel, right: true });
        }
        mkdirSync(join(ROOT, "test", "artifacts"), { recursive: true });
        // the evaluate panel: the loss, input and result cards together
        // (in page coordinates: a full-page screenshot's clip is measured from the page's top)
        const boxes = await page.evaluate(() =>
          ["#setup", "#data", "#result"].map((sel) => {
            const r = document.querySelector(sel)!.getBoundingClientRect();
            return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height };
          }),
        );
        const x = Math.min(...boxes.map((b) => b.x)),
          y = Math.min(...boxes.map((b) => b.y));
        const clip = {
          x,
          y,
          width: Math.max(...boxes.map((b) => b.x + b.width)) - x,
          height: Math.max(...boxes.map((b) => b.y + b.height)) - y,
        };
        await page.screenshot({ path: join(ROOT, "test", "artifacts", `evaluate-${width}.png`), fullPage: true, clip });
      } finally {
        await page.setViewportSize({ width: 1280, height: 720 });
      }
    },
  );
});
