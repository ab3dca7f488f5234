/**
 * The benchmark's browser page (`npm run bench -- --latency --browser` builds it into bench/tmp/web and
 * opens it in headless Chromium; bench/src/browser.ts). Like the demo page's config (web/vite.config.ts):
 * onnxruntime-web's .wasm and loader are emitted into `ort/`, and TensorFlow.js's wasm backend's .wasm
 * files into `tfjs/`, so the page runs offline; the server sends the COOP/COEP headers.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ortDist = dirname(require.resolve("onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm"));
const tfjsDist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"));
const FILES: [string, string, string][] = [
  ["ort", ortDist, "ort-wasm-simd-threaded.jsep.wasm"],
  ["ort", ortDist, "ort-wasm-simd-threaded.jsep.mjs"],
  ["tfjs", tfjsDist, "tfjs-backend-wasm.wasm"],
  ["tfjs", tfjsDist, "tfjs-backend-wasm-simd.wasm"],
  ["tfjs", tfjsDist, "tfjs-backend-wasm-threaded-simd.wasm"],
];

/** Where the built page goes: gitignored, beside the benchmark's other scratch files. */
export const BENCH_WEB_OUT = join(here, "..", "tmp", "web");

function wasmFiles(): Plugin {
  return {
    name: "onnx-losses:bench-wasm",
    generateBundle() {
      for (const [folder, dir, file] of FILES)
        this.emitFile({ type: "asset", fileName: `${folder}/${file}`, source: readFileSync(join(dir, file)) });
    },
  };
}

export default defineConfig({
  root: here,
  base: "./",
  logLevel: "warn",
  plugins: [wasmFiles()],
  resolve: { conditions: ["onnxruntime-web-use-extern-wasm", "module", "browser", "development|production"] },
  build: { outDir: BENCH_WEB_OUT, emptyOutDir: true, chunkSizeWarningLimit: 8192, target: "es2022" },
});
