/**
 * What the Chromium tests share: whether they can run here (Debian's chromium and the built page), and
 * the built demo page (web/dist) opened offline in a headless Chromium, with its requests and console
 * errors recorded.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe } from "@jest/globals";
import { chromium, type Browser, type BrowserContextOptions, type Page } from "playwright-core";
import { loadFixtures, num, ROOT, type FixtureCase } from "../helpers.js";
import { serveStatic } from "./server.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const DIST = join(ROOT, "web", "dist");
const available = existsSync(CHROMIUM) && existsSync(join(DIST, "index.html"));
const required = process.env.ONNX_LOSSES_REQUIRE_BROWSER === "1";
/** `describe` where Chromium and web/dist are here (or ONNX_LOSSES_REQUIRE_BROWSER=1, as in CI), else `describe.skip`, saying why. */
export const browserSuite: (name: string, body: () => void) => void = available || required ? describe : describe.skip;
if (!available && !required) {
  console.warn(`browser tests skipped: need ${CHROMIUM} (apt-get install -y chromium) and web/dist (npm run web:build)`);
}

/** The demo page, open and ready, with what it requested and the errors it logged. */
export interface DemoPage {
  page: Page;
  /** The page's server, to tell its requests from others. */
  url: string;
  requests: string[];
  consoleErrors: string[];
  /** Every console message, as "type: text". */
  console: string[];
  close(): Promise<void>;
}

/**
 * Serve web/dist, launch Chromium headless and open the page until it says it is ready. By default
 * without a GPU (--disable-gpu: no WebGPU adapter); `webgpu: true` launches with
 * --enable-unsafe-webgpu, where headless Chromium hands out its software adapter (SwiftShader).
 */
export async function openDemoPage(context: BrowserContextOptions = {}, options: { webgpu?: boolean } = {}): Promise<DemoPage> {
  const server = await serveStatic(DIST);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        options.webgpu ? "--enable-unsafe-webgpu" : "--disable-gpu",
      ],
    });
    const page = await (await browser.newContext(context)).newPage();
    const requests: string[] = [];
    const consoleErrors: string[] = [];
    const messages: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      messages.push(`${m.type()}: ${m.text()}`);
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    const opened = browser;
    return {
      page,
      url: server.url,
      requests,
      consoleErrors,
      console: messages,
      close: async () => {
        await opened.close();
        await server.close();
      },
    };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}

/** One fixture per loss: rank 2, reduction mean, options beyond the defaults where there are some. */
export function caseFor(loss: string): FixtureCase {
  const cases = loadFixtures(`${loss}.json`).filter(
    (c) => c.inputs.input.dims.length === 2 && (c.options.reduction ?? "mean") === "mean" && Number.isFinite(num(c.expected.data[0])),
  );
  return cases.find((c) => Object.keys(c.options).filter((k) => k !== "rank" && k !== "reduction").length >= 2) ?? cases[0];
}

/** Click Evaluate and wait for the result: the value shown, the state and the error line. */
export async function evaluate(page: Page): Promise<{ value: string; state: string; error: string }> {
  const before = Number((await page.getAttribute("#result", "data-runs")) ?? 0);
  await page.click("#evaluate");
  await page.waitForFunction((n) => Number(document.getElementById("result")!.dataset.runs ?? 0) > n, before, { timeout: 60000 });
  return {
    value: (await page.textContent("#loss-value")) ?? "",
    state: (await page.getAttribute("#result", "data-state")) ?? "",
    error: (await page.isVisible("#error")) ? ((await page.textContent("#error")) ?? "") : "",
  };
}

/** Select a loss and fill its option fields from a fixture's options (defaults elsewhere). */
export async function setLoss(page: Page, loss: string, options: Record<string, unknown>): Promise<void> {
  await page.selectOption("#loss", loss);
  for (const [name, value] of Object.entries(options)) {
    if (name === "rank") continue;
    const sel = `#opt-${name}`;
    if ((await page.getAttribute(sel, "data-option")) === null) throw new Error(`no field for option ${name}`);
    if (await page.$eval(sel, (el) => el.tagName === "SELECT")) await page.selectOption(sel, String(value));
    else await page.fill(sel, JSON.stringify(value));
  }
}

/** Paste a fixture's inputs into the page's JSON field. */
export async function pasteInputs(page: Page, c: FixtureCase): Promise<void> {
  await page.check("#source-json");
  const json: Record<string, { dims: number[]; data: number[] }> = {};
  for (const [k, t] of Object.entries(c.inputs)) json[k] = { dims: t.dims, data: t.data.map(num) };
  await page.fill("#json-input", JSON.stringify(json));
}

/**
 * The elements whose box reaches past `width` (the viewport's), outside the horizontally scrolled
 * boxes (the graph picture): tag#id.class and how far right they reach.
 */
export async function overflowing(page: Page, width: number): Promise<string[]> {
  return page.evaluate((w) => {
    const out: string[] = [];
    for (const el of document.body.querySelectorAll("*")) {
      if (el.closest(".scroll")) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > w + 0.5)
        out.push(
          `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.classList.length ? `.${[...el.classList].join(".")}` : ""} ${Math.round(r.right)}`,
        );
    }
    return out;
  }, width);
}
