/**
 * onnx-losses: classification losses as small, stable ONNX graphs with PyTorch parity, evaluated with
 * onnxruntime. This is the Node entry; it only re-exports.
 *
 * @example
 * import { buildLoss, createEvaluator } from "onnx-losses";
 * const focal = buildLoss("softmax_focal_loss", { gamma: 2, alpha: 0.25 });
 * const ev = await createEvaluator(focal);
 * const { loss } = await ev.run({ input: { data: logits, dims: [N, C] }, target: { data: labels, dims: [N] } });
 */
export { buildLoss, resolveLossOptions, canonicalJson, getLoss, CATALOGUE, LOSS_NAMES, META, OptionError } from "./losses/index.js";
export type { BuildOptions, InputCheck, LossDefinition, LossGraph, TensorSpec, OptionSpec, Reduction } from "./losses/index.js";
export type { LossName, LossOptionsFor, LossOptionsMap } from "./losses/index.js";
export type {
  BinaryCrossEntropyOptions,
  BinaryCrossEntropyWithLogitsOptions,
  CrossEntropyOptions,
  NllLossOptions,
  SigmoidFocalLossOptions,
  SoftmaxFocalLossOptions,
} from "./losses/index.js";
export { Graph, Value, float, ops, readModel } from "./builder/index.js";
export type { AttrValue, Dim, ModelInfo, NodeInfo, TensorInfo } from "./builder/index.js";
export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, SUPPORTED_OPSETS, irVersionForOpset } from "./onnx/versions.js";
export { createEvaluator, nodeProviderStatuses, NODE_PROVIDERS } from "./runtime/node.js";
export type { Evaluator, EvaluatorOptions } from "./runtime/evaluator.js";
export { planProviders, ProviderError, type ExecutionProvider, type ProviderStatus } from "./runtime/providers.js";
export { InputError, validateFeeds } from "./runtime/validate.js";
export type { TensorData, TensorDType, TensorInput } from "./runtime/tensor.js";
export { fromFloat16Bits, toFloat16Bits, tensorNumbers } from "./runtime/tensor.js";
export { seededRandom } from "./util/random.js";
export { decodeNpy, encodeNpy, parseNpyHeader, NpyError } from "./io/npy.js";
export { evaluateNpyFiles, type StreamOptions, type StreamResult, type StreamSource } from "./stream/evaluate_files.js";
export { runCli } from "./cli/program.js";
