/**
 * The pieces a loss is written with, in one import (docs/adding-a-loss.md): each lives in its module
 * under parts/ (dims.ts: input shapes and the class dim; targets.ts: hard targets and class
 * log-probabilities; reductions.ts: reductions and accurate sums; host.ts: LossBuilder, what a build appends
 * to: the loss's graph, its inputs and finish).
 */
export { classCount, classIndices, classInputDims, elementwiseDims, itemDims, perClass } from "./parts/dims.js";
export {
  accurateSum,
  CHUNKS,
  chunkedSum,
  LOG_GROUP,
  MIN_CHUNK_ELEMENTS,
  reduceItems,
  sumOfLogs,
  sumsInChunks,
} from "./parts/reductions.js";
export { declareInput, type FinishOptions, LossBuilder } from "./parts/host.js";
export { ClassLogProbs, classValueAt, gatherAtTarget, hardTargets, oneHotOf, perClassTensor, subtractAtTarget } from "./parts/targets.js";
