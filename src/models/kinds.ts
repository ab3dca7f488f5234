/**
 * The kinds of model onnx-losses writes, one entry each: how verification rebuilds and checks it, what
 * `inspect` says of it, and whether streaming must probe its rows. Reading a model is decoding its
 * contract (model/contract.ts, which gives the kind) and a lookup in this table.
 * docs/adding-a-model-kind.md says what a new kind adds.
 *
 * Verification trusts nothing: the loss exists, its options parse under the loss's schema (already
 * resolved, as buildLoss writes them), and what the contract builds is what the graph holds, with the
 * same input checks. So the checks the evaluator runs are the ones the loss needs, and metadata edited
 * by hand (a changed reduction, emptied checks) is refused instead of believed.
 */
import { readModel, type ModelInfo } from "../builder/reader.js";
import { CONTRACT_KINDS, decodeContract, type ContractKind, type LossContract } from "../model/contract.js";
import { isTrustedBuild } from "../model/trusted.js";
import { attachedKind } from "./attached.js";
import { verifier, verifyCommon, type ModelKind } from "./common.js";
import { lossKind } from "./loss.js";
import { stepKind } from "./step.js";

export type { ModelKind, Verifier } from "./common.js";

/** Every kind, keyed by its name: a kind of the contract without an entry (or the reverse) does not compile. */
export const MODEL_KINDS: { readonly [K in ContractKind]: ModelKind<K> } = Object.freeze({
  loss: lossKind,
  step: stepKind,
  attached: attachedKind,
});

/** The kinds in the contract's order. */
export const MODEL_KIND_NAMES: readonly ContractKind[] = CONTRACT_KINDS;

/** The table's entry for a contract's kind. */
export function modelKind(contract: LossContract): ModelKind<ContractKind> {
  return MODEL_KINDS[contract.kind] as ModelKind<ContractKind>;
}

/** A decoded model: what the reader sees and, for a model built by onnx-losses, its verified contract. */
export interface LossModel {
  info: ModelInfo;
  contract?: LossContract;
}

/**
 * Decode model bytes and their contract, verified against the catalogue (bytes that buildLoss or
 * linearHeadStep returned in this process, unchanged, are trusted: model/trusted.ts). `what` names the
 * model in errors. Throws ModelDecodeError or ModelContractError.
 */
export function readLossModel(bytes: Uint8Array, what?: string): LossModel {
  const info = readModel(bytes, what);
  // bytes a builder of this process returned, unchanged since: their contract is what the build wrote
  // (options resolved, checks made for this graph), so the rebuild that verifies a file is skipped
  if (isTrustedBuild(bytes)) return { info, contract: decodeContract(info, what) };
  return checkLossModel(info, what);
}

/** {@link readLossModel} of an already decoded model. */
export function checkLossModel(info: ModelInfo, what?: string): LossModel {
  const decoded = decodeContract(info, what);
  return { info, contract: decoded && verifyContract(decoded, info, what) };
}

/**
 * Check a decoded contract against the catalogue and the graph, by its kind's entry; returns it with the
 * options resolved (and what the kind's verification adds). Throws ModelContractError naming `what`.
 */
export function verifyContract(contract: LossContract, info: ModelInfo, what = "model"): LossContract {
  const v = verifier(what);
  const common = verifyCommon(contract, info, v);
  return modelKind(common).verify(common, info, v);
}

/** Streaming: must the rows of a model with this contract be probed (no contract: always)? */
export function mustProbeRows(contract: LossContract | undefined): boolean {
  return contract === undefined || modelKind(contract).probeRows;
}

/** The lines `inspect` prints for a contract of any kind. */
export function inspectLines(contract: LossContract): string[] {
  return modelKind(contract).inspect(contract);
}
