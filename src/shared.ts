/**
 * The public API both entries share (index.ts for Node, web.ts for the browser): builder, catalogue,
 * model contract, validation, tensors, .npy. Isomorphic: nothing here imports a Node module or an
 * onnxruntime package.
 */
export { buildLoss, buildDefinition, resolveLossOptions, defineLoss, getLoss, CATALOGUE, LOSS_NAMES, OptionError } from "./losses/index.js";
export type {
  BuildContext,
  BuildOptions,
  OutputMode,
  BuiltParts,
  InferOptions,
  InputCheck,
  LossDefinition,
  LossGraph,
  LossName,
  LossOptions,
  LossOptionsFor,
  LossOptionsMap,
  NamedOptionSpec,
  OptionSchema,
  OptionSpec,
  OptionsOf,
  Reduction,
  ResolvedOptionsFor,
  TensorSpec,
  InputKind,
  LossBuilder,
  FinishOptions,
} from "./losses/index.js";
export { verifyContract } from "./models/kinds.js";
export { linearHeadStep, type LinearHeadStepGraph, type LinearHeadStepOptions } from "./losses/linear_head.js";
export { attachLoss, AttachError, type AttachOptions, type AttachedLoss } from "./losses/attach.js";
export {
  ATTACHED_CONTRACT_VERSION,
  CONTRACT_KINDS,
  CONTRACT_VERSION,
  META,
  ModelContractError,
  canonicalJson,
  decodeContract,
  encodeContract,
  hasContract,
  type AttachedTo,
  type ContractBase,
  type ContractFields,
  type ContractKind,
  type ContractOf,
  type LossContract,
  type StepContract,
} from "./model/contract.js";
export { MissingRuntimeError, OnnxRuntimeError, UserError } from "./errors.js";
export { Graph, Value, float, ops, readModel } from "./builder/index.js";
export type { AttrValue, Dim, GraphOptions, InitializerInfo, Lowering, ModelInfo, NodeInfo, TensorInfo } from "./builder/index.js";
export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, SUPPORTED_OPSETS, checkOpset, irVersionForOpset } from "./onnx/versions.js";
export { DTYPES, FLOAT_DTYPES, type DType, type FloatDType } from "./onnx/dtypes.js";
export { ModelDecodeError } from "./onnx/codec.js";
export type { AttachedOutputs, Evaluator, EvaluatorOptions, LossOutputs } from "./runtime/evaluator.js";
export { planProviders, ProviderError, parseProvider, type ExecutionProvider, type ProviderStatus } from "./runtime/providers.js";
export { InputError, validateFeeds } from "./runtime/validate.js";
export type { TensorData, TensorDType, TensorInput, TensorOf, TypedArrayOf, TypedData } from "./tensor/tensor.js";
export { fromFloat16Bits, toFloat16Bits, tensorNumbers } from "./tensor/tensor.js";
export { seededRandom } from "./util/random.js";
export { decodeNpy, encodeNpy, parseNpyHeader, NpyError, type NpyHeader } from "./io/npy.js";
export {
  decodeTensorBytes,
  TENSOR_FORMATS,
  type ArrayPick,
  type ByteSource,
  type OpenedTensor,
  type TensorFormat,
} from "./io/formats.js";
export {
  ArchiveError,
  decodeNpz,
  decodeSafetensors,
  MAX_INFLATED_BYTES,
  MAX_SAFETENSORS_HEADER_BYTES,
  openArchiveMember,
  readTensors,
} from "./io/archives.js";
