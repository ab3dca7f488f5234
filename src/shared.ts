/**
 * The public API both entries share (index.ts for Node, web.ts for the browser): builder, catalogue,
 * validation, tensors, .npy. Isomorphic: nothing here imports a Node module or an onnxruntime package.
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
export type { AttrValue, Dim, GraphOptions, Lowering, ModelInfo, NodeInfo, TensorInfo } from "./builder/index.js";
export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, SUPPORTED_OPSETS, irVersionForOpset } from "./onnx/versions.js";
export type { Evaluator, EvaluatorOptions } from "./runtime/evaluator.js";
export { planProviders, ProviderError, parseProvider, type ExecutionProvider, type ProviderStatus } from "./runtime/providers.js";
export { InputError, validateFeeds } from "./runtime/validate.js";
export type { TensorData, TensorDType, TensorInput } from "./runtime/tensor.js";
export { fromFloat16Bits, toFloat16Bits, tensorNumbers } from "./runtime/tensor.js";
export { seededRandom } from "./util/random.js";
export { decodeNpy, encodeNpy, parseNpyHeader, NpyError } from "./io/npy.js";
