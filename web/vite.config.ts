/**
 * The demo page (`npm run web` serves it, `npm run web:build` writes web/dist). Everything is served
 * by the page itself: onnxruntime-web's .wasm and its loader are copied from node_modules into `ort/`
 * (the page points `env.wasm.wasmPaths` there), so it works offline and needs no CDN. COOP/COEP headers make the page
 * cross-origin isolated, which lets onnxruntime-web run multi-threaded wasm.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = dirname(fileURLToPath(import.meta.url));
const ortDist = dirname(createRequire(import.meta.url).resolve("onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm"));
/** The files the default onnxruntime-web build (wasm + WebGPU through JSEP) loads at run time. */
const ORT_FILES = ["ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs"];

export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

function ortWasm(): Plugin {
  return {
    name: "onnx-losses:ort-wasm",
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = /^\/ort\/([\w.-]+)$/.exec(req.url?.split("?")[0] ?? "")?.[1];
        if (!file || !ORT_FILES.includes(file)) return next();
        res.setHeader("Content-Type", file.endsWith(".wasm") ? "application/wasm" : "text/javascript");
        for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
        res.end(readFileSync(join(ortDist, file)));
      });
    },
    generateBundle() {
      for (const file of ORT_FILES) this.emitFile({ type: "asset", fileName: `ort/${file}`, source: readFileSync(join(ortDist, file)) });
    },
  };
}

export default defineConfig({
  root: here,
  base: "./",
  plugins: [ortWasm()],
  // onnxruntime-web's "use extern wasm" build loads the .wasm and its loader from env.wasm.wasmPaths
  // (served by the plugin above) instead of letting the bundler copy a second 28 MB .wasm.
  resolve: { conditions: ["onnxruntime-web-use-extern-wasm", "module", "browser", "development|production"] },
  optimizeDeps: { exclude: ["onnxruntime-web"] },
  server: { headers: ISOLATION_HEADERS, port: 5173 },
  preview: { headers: ISOLATION_HEADERS, port: 4173 },
  build: { outDir: join(here, "dist"), emptyOutDir: true, chunkSizeWarningLimit: 2048, target: "es2022" },
});
