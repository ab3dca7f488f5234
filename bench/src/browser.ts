/**
 * `npm run bench -- --latency --browser`: the latency table in headless Chromium. Builds the benchmark's
 * page (bench/web, with Vite, into the gitignored bench/tmp/web), serves it with the COOP/COEP headers
 * (test/browser/server.ts), opens it in Debian's chromium through playwright-core (headless, no sandbox,
 * no GPU: wasm only) and asks it, one (loss, size) at a time, for the medians of interleaved calls of
 * ev.run (onnx-losses/web), a raw onnxruntime-web session of the same graph, the one-node floor graph raw
 * and TensorFlow.js's wasm backend for the losses it has (bench/web/main.ts).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { LOSS_NAMES } from "../../src/losses/index.js";
import { serveStatic } from "../../test/browser/server.js";
import { fmtRel, fmtUs } from "./latency.js";
import { BROWSER_COLUMNS, type BenchPage, type BrowserRow, type PageSetup } from "./page_types.js";
import { LATENCY_ROUNDS, LATENCY_SIZES, LATENCY_WARMUP_MS } from "./small.js";
import { repoRoot } from "./root.js";

export interface BrowserLatencyResult {
  machine: string;
  date: string;
  quick: boolean;
  setup: PageSetup;
  rows: BrowserRow[];
}

/** How long a full browser run first runs the floor graph (the browser compiles onnxruntime's wasm in the background meanwhile). */
export const BROWSER_WARMUP_MS = 5000;

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The machine and browser line of a browser run. */
export function browserMachine(s: PageSetup, browserVersion: string): string {
  const cpu = (cpus()[0]?.model ?? "unknown CPU").trim();
  const plural = (n: number) => `${n} thread${n === 1 ? "" : "s"}`;
  return `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}/${process.arch}; Chromium ${browserVersion} headless, no GPU, ${s.crossOriginIsolated ? "cross-origin isolated" : "not cross-origin isolated"}, performance.now() step ${s.timerStepUs} us; onnxruntime-web ${s.ortVersion} wasm (SIMD, threaded build, ${plural(s.ortThreads)}); TensorFlow.js ${s.tfjsVersion} wasm (${s.tfjsSimd ? "SIMD" : "no SIMD"}, ${plural(s.tfjsThreads)}), prod mode`;
}

/** Build the page, open it in Chromium, and time every loss at every size there. */
export async function runBrowserLatency(o: {
  quick?: boolean;
  rounds?: number;
  log?: (line: string) => void;
}): Promise<BrowserLatencyResult> {
  const rounds = o.rounds ?? (o.quick ? 20 : LATENCY_ROUNDS);
  const sizes = o.quick ? LATENCY_SIZES.slice(0, 2) : LATENCY_SIZES;
  if (!existsSync(CHROMIUM))
    throw new Error(`bench: --browser needs Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  const root = repoRoot();
  const out = join(root, "bench", "tmp", "web");
  o.log?.("browser: building the page (bench/web)");
  // in a child process: Vite's bundler refuses options objects made in another realm (a jest test's)
  const vite = spawnSync(
    process.execPath,
    [
      join(root, "node_modules", "vite", "bin", "vite.js"),
      "build",
      "--config",
      join(root, "bench", "web", "vite.config.ts"),
      "--logLevel",
      "warn",
    ],
    { cwd: root, encoding: "utf8" },
  );
  if (vite.status !== 0 || !existsSync(join(out, "index.html")))
    throw new Error(
      `bench: building the browser page failed: ${(vite.stderr || vite.error?.message || "").trim().split("\n").slice(-3).join(" ")}`,
    );
  const { chromium } = await import("playwright-core");
  const server = await serveStatic(out);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await (await browser.newContext()).newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    const setup = await page.evaluate(
      (w) => (globalThis as unknown as { benchPage: BenchPage }).benchPage.setup(w),
      o.quick ? 0 : BROWSER_WARMUP_MS,
    );
    const rows: BrowserRow[] = [];
    for (const loss of LOSS_NAMES) {
      for (const [N, C] of sizes) {
        const args: [string, number, number, number, number] = [loss, N, C, rounds, o.quick ? 0 : LATENCY_WARMUP_MS];
        const row = await page.evaluate(
          ([l, n, c, r, w]) => (globalThis as unknown as { benchPage: BenchPage }).benchPage.row(l, n, c, r, w),
          args,
        );
        rows.push(row);
        o.log?.(
          `browser ${loss} ${N} x ${C}: ${Object.entries(row.us)
            .map(([k, v]) => `${k} ${v.toFixed(1)} us`)
            .join(
              ", ",
            )} (${row.rounds} rounds)${row.tfjs ? `; TensorFlow.js rounds: ev.run ${row.tfjs.us.evaluator.toFixed(1)} us, wasm ${row.tfjs.us.wasm.toFixed(1)} us (${row.tfjs.rounds} rounds)` : ""}`,
        );
      }
    }
    if (errors.length) throw new Error(`bench: the browser page logged errors: ${errors.join("; ")}`);
    return {
      machine: browserMachine(setup, browser.version()),
      date: new Date().toISOString().slice(0, 10),
      quick: o.quick ?? false,
      setup,
      rows,
    };
  } finally {
    await browser.close();
    await server.close();
  }
}

/**
 * The browser table in Markdown: the medians, ev.run over the raw session and the floor; for the losses
 * TensorFlow.js has, its wasm backend's median and ev.run's in their own rounds, and the ratio of the two.
 */
export function browserTable(r: BrowserLatencyResult): string {
  const head = `| loss | N x C | ${BROWSER_COLUMNS.map((c) => `${c.label} (us)`).join(" | ")} | ev.run / raw | ev.run / floor | TensorFlow.js wasm (us) | ev.run beside it (us) | tfjs wasm / ev.run | tfjs value: rel. diff. |`;
  const rule = `|${"---|".repeat(BROWSER_COLUMNS.length + 8)}`;
  const lines = r.rows.map((row) => {
    const cells = BROWSER_COLUMNS.map((c) => fmtUs(row.us[c.key]));
    const t = row.tfjs;
    const tf = t
      ? [fmtUs(t.us.wasm), fmtUs(t.us.evaluator), `${(t.us.wasm / t.us.evaluator).toFixed(2)}x`, fmtRel(t.values.ours, t.values.wasm)]
      : ["-", "-", "-", "-"];
    return `| ${row.loss} | ${row.N} x ${row.C} | ${cells.join(" | ")} | ${(row.us.evaluator / row.us.raw).toFixed(2)}x | ${(row.us.evaluator / row.us.floor).toFixed(2)}x | ${tf.join(" | ")} |`;
  });
  return [head, rule, ...lines].join("\n");
}

/** Where TensorFlow.js's wasm backend is faster than ev.run (in their own rounds) in the browser, a line a row. */
export function browserTfjsWins(r: BrowserLatencyResult): string[] {
  const lines = r.rows
    .filter((row) => row.tfjs && row.tfjs.us.wasm < row.tfjs.us.evaluator)
    .map(
      (row) =>
        `- ${row.tfjs!.fn}, ${row.N} x ${row.C}: ${(row.tfjs!.us.wasm / row.tfjs!.us.evaluator).toFixed(2)}x ev.run's time (${row.loss})`,
    );
  if (lines.length === 0) lines.push("- nowhere: ev.run is faster in every row");
  return lines;
}
