/**
 * onnx-losses in other people's projects, the browser: a fresh Vite app (the template in
 * test/consumer/web-app/, copied into a temp dir) installs only the packed tarball, onnxruntime-web and
 * vite from the registry; its production build (`npx vite build`) bundles `onnx-losses/web` and serves
 * onnxruntime-web's .wasm itself (dist/ort/, no CDN). The built dist, served on 127.0.0.1 with COOP/COEP
 * headers, evaluates PyTorch samples (test/fixtures/samples.json) in Debian's Chromium and writes the
 * losses into the page; they must equal PyTorch's values to 1e-5 relative.
 *
 * Needs `npm run build` first (the tarball packs dist/). The browser part is skipped, saying so, where
 * /usr/bin/chromium (or CHROMIUM_PATH) is missing, and fails instead with ONNX_LOSSES_REQUIRE_BROWSER=1.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { chromium, type Browser } from "playwright-core";
import { loadFixtures, num, ROOT, RTOL } from "./helpers.js";
import { serveStatic } from "./browser/server.js";
import { packInto, USER_ENV } from "./pack.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
const required = process.env.ONNX_LOSSES_REQUIRE_BROWSER === "1";
const browserSuite = available || required ? describe : describe.skip;
if (!available && !required)
  console.warn(`consumer web test: the Chromium part is skipped: need ${CHROMIUM} (apt-get install -y chromium)`);

/** The samples the page evaluates: the cross_entropy one and the sigmoid_focal_loss one. */
const LOSSES = ["cross_entropy", "sigmoid_focal_loss"];
const samples = loadFixtures("samples.json").filter((c) => LOSSES.includes(c.loss));
/** The files onnxruntime-web loads at run time, which the app's vite.config.js writes to dist/ort/. */
const ORT_FILES = ["ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs"];

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-consumer-web-"));
const app = join(dir, "app");
const dist = join(app, "dist");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = USER_ENV;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "web.js")))
    throw new Error("dist/web.js is missing: run `npm run build` first (the tarball packs dist/)");
  const tarball = packInto(dir);
  cpSync(join(ROOT, "test", "consumer", "web-app"), app, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "web-app", private: true, type: "module" }));
  // what the page evaluates: PyTorch's inputs, not its expected values (this test keeps those)
  writeFileSync(join(app, "samples.json"), JSON.stringify(samples.map(({ loss, options, inputs }) => ({ loss, options, inputs }))));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, "onnxruntime-web@1.30.0", "vite@8.3.8"], {
    cwd: app,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  execFileSync("npx", ["--no-install", "vite", "build", "--logLevel", "warn"], { cwd: app, env, stdio: ["ignore", "ignore", "inherit"] });
}, 240000);

describe("a Vite app that installs the packed tarball and onnxruntime-web", () => {
  test("its node_modules has onnx-losses and onnxruntime-web, and no onnxruntime-node anywhere", () => {
    const nm = join(app, "node_modules");
    expect(existsSync(join(nm, "onnx-losses", "dist", "web.js"))).toBe(true);
    expect(existsSync(join(nm, "onnxruntime-web", "package.json"))).toBe(true);
    const found = (readdirSync(nm, { recursive: true }) as string[]).filter((p) => basename(p) === "onnxruntime-node");
    expect(found).toEqual([]);
  });

  test("its production build holds the page, its bundle, and onnxruntime-web's .wasm once, under ort/", () => {
    const files = (readdirSync(dist, { recursive: true }) as string[]).map((p) => p.split("\\").join("/")).sort();
    expect(files).toEqual(expect.arrayContaining(["index.html", ...ORT_FILES.map((f) => `ort/${f}`)]));
    expect(files.filter((f) => f.endsWith(".wasm"))).toEqual([`ort/${ORT_FILES[0]}`]);
    expect(files.filter((f) => /^assets\/.*\.js$/.test(f)).length).toBeGreaterThan(0);
  });
});

browserSuite("the built app in Chromium", () => {
  let browser: Browser | undefined;
  let server: { url: string; close: () => Promise<void> } | undefined;
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  test("evaluates the PyTorch samples to 1e-5 relative, offline, cross-origin isolated", async () => {
    server = await serveStatic(dist);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu"],
    });
    const context = await browser.newContext();
    const requests: string[] = [];
    const errors: string[] = [];
    context.on("request", (r) => requests.push(r.url())); // the page's and its workers'
    const page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(server.url);
    await page.waitForSelector("body[data-state]", { timeout: 60000 });
    expect([await page.getAttribute("body", "data-state"), errors]).toEqual(["done", []]);

    for (const c of samples) {
      const shown = (await page.textContent(`#loss-${c.loss}`)) ?? "";
      const want = num(c.expected.data[0]);
      const got = Number(shown);
      expect({ loss: c.loss, shown, close: Math.abs(got - want) <= RTOL * Math.abs(want) }).toEqual({ loss: c.loss, shown, close: true });
    }

    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(requests).toEqual(expect.arrayContaining(ORT_FILES.map((f) => `${server!.url}ort/${f}`)));
    expect(requests.filter((u) => !u.startsWith(server!.url) && !u.startsWith("data:") && !u.startsWith("blob:"))).toEqual([]);
  }, 120000);
});
