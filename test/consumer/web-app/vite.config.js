/**
 * A Vite config to copy for a page that uses onnx-losses/web.
 *
 * onnxruntime-web runs a .wasm file (and loads it through a small .mjs) at run time. Vite does not copy
 * them by itself when onnxruntime-web is imported with the "use extern wasm" condition below, so this
 * config serves them from node_modules under /ort/ (dev server) and writes them to dist/ort/ (build);
 * the page then calls configureWasm({ wasmPaths: ".../ort/" }). Nothing is loaded from a CDN.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { defineConfig } from "vite";

// onnxruntime-web's files, wherever npm put the package
const ortDist = dirname(createRequire(import.meta.url).resolve("onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm"));
// what its default build (wasm, and WebGPU through JSEP) loads at run time
const ORT_FILES = ["ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs"];

// Cross-origin isolation: lets onnxruntime-web run multi-threaded wasm (SharedArrayBuffer). Your
// production server should send these headers too; without them the wasm runs on one thread.
const headers = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

/** Serve onnxruntime-web's .wasm/.mjs at /ort/ in dev, and emit them into dist/ort/ on build. */
function ortWasm() {
  return {
    name: "ort-wasm",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = req.url?.split("?")[0].match(/^\/ort\/([\w.-]+)$/)?.[1];
        if (!file || !ORT_FILES.includes(file)) return next();
        res.setHeader("Content-Type", file.endsWith(".wasm") ? "application/wasm" : "text/javascript");
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v); // server.headers skip this middleware
        res.end(readFileSync(join(ortDist, file)));
      });
    },
    generateBundle() {
      for (const file of ORT_FILES) this.emitFile({ type: "asset", fileName: `ort/${file}`, source: readFileSync(join(ortDist, file)) });
    },
  };
}

export default defineConfig({
  base: "./", // relative URLs: dist/ works from any path
  plugins: [ortWasm()],
  // "onnxruntime-web-use-extern-wasm": onnxruntime-web's build that loads its .wasm from wasmPaths,
  // instead of one that makes Vite copy the 28 MB .wasm a second time as a hashed asset
  resolve: { conditions: ["onnxruntime-web-use-extern-wasm", "module", "browser", "development|production"] },
  optimizeDeps: { exclude: ["onnxruntime-web"] }, // dev server: keep its import.meta.url-relative loader intact
  server: { headers },
  preview: { headers },
  build: { target: "es2022", chunkSizeWarningLimit: 1024 }, // onnxruntime-web's JS is ~400 kB
});
