/**
 * onnx-losses: classification losses as small, stable ONNX graphs with PyTorch parity, evaluated with
 * onnxruntime. This is the Node entry; it only re-exports: the shared API plus what needs Node. It is
 * the library alone: the CLI (src/cli, bin dist/cli/main.js) and the benchmark (bench/) are front ends
 * it never loads (test/entry.test.ts walks its import graph).
 *
 * @example
 * import { buildLoss, createEvaluator } from "onnx-losses";
 * const focal = buildLoss("softmax_focal_loss", { gamma: 2, alpha: 0.25 });
 * const ev = await createEvaluator(focal);
 * const { loss } = await ev.run({ input: { data: logits, dims: [N, C] }, target: { data: labels, dims: [N] } });
 */
export * from "./shared.js";
export { createEvaluator, nodeProviderStatuses, NODE_PROVIDERS } from "./runtime/node.js";
export { evaluateNpyFiles, type StreamOptions, type StreamResult, type StreamSource } from "./stream/evaluate_files.js";
