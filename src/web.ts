/**
 * onnx-losses in the browser (`import ... from "onnx-losses/web"`): the same graph builder, catalogue
 * and evaluator as the Node entry, over onnxruntime-web. Nothing here imports a Node module.
 *
 * @example
 * import { buildLoss, configureWasm, createEvaluator } from "onnx-losses/web";
 * configureWasm({ wasmPaths: "/ort/" });
 * const ev = await createEvaluator(buildLoss("softmax_focal_loss", { gamma: 2 }));
 */
export * from "./shared.js";
export { allWasmThreads, configureWasm, createEvaluator, webProviderStatuses, WEB_PROVIDERS } from "./runtime/web.js";
