/**
 * What the Chromium tests share: whether they can run here (Debian's chromium and the built page), and
 * the built demo page (web/dist) opened offline in a headless Chromium, with its requests and console
 * errors recorded.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe } from "@jest/globals";
import { chromium, type Browser, type BrowserContextOptions, type Page } from "playwright-core";
import { ROOT } from "../helpers.js";
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
  close(): Promise<void>;
}

/** Serve web/dist, launch Chromium headless and open the page until it says it is ready. */
export async function openDemoPage(context: BrowserContextOptions = {}): Promise<DemoPage> {
  const server = await serveStatic(DIST);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu"],
    });
    const page = await (await browser.newContext(context)).newPage();
    const requests: string[] = [];
    const consoleErrors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    const opened = browser;
    return {
      page,
      url: server.url,
      requests,
      consoleErrors,
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
