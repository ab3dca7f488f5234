/**
 * What an entry of the model-kind table (kinds.ts) provides, and the checks the kinds share: the
 * contract's loss and options against the catalogue, the model's opsets, and the comparison of a graph
 * with the one its contract rebuilds.
 */
import { readModel, type InitializerInfo, type ModelInfo, type TensorInfo } from "../builder/reader.js";
import { OptionError } from "../errors.js";
import { canonicalJson, META, ModelContractError, type ContractKind, type ContractOf, type LossContract } from "../model/contract.js";
import { MAX_OPSET, MIN_OPSET, SUPPORTED_OPSETS } from "../onnx/versions.js";
import { PRODUCER_NAME, PRODUCER_VERSION } from "../version.js";
import { getLoss } from "../losses/catalogue.js";
import { resolveLossOptions } from "../losses/index.js";
import { refuseDuplicateOpsets } from "../losses/attach.js";

/** How a kind's verification fails: a ModelContractError naming the model and the metadata key. */
export interface Verifier {
  /** The model in errors (a file name). */
  what: string;
  fail(key: string, message: string): never;
  /** `f()`, its OptionError (a rebuild the options refuse) turned into a failure of `key`. */
  user<T>(key: string, f: () => T): T;
}

/**
 * One kind of model onnx-losses writes (docs/adding-a-model-kind.md): one entry of MODEL_KINDS.
 */
export interface ModelKind<K extends ContractKind> {
  /** The kind, as the contract's `kind` says it. */
  readonly kind: K;
  /** What a model of this kind is, in a few words. */
  readonly summary: string;
  /**
   * Check the contract against the graph, which must be what the contract rebuilds; the contract's loss
   * and options are already checked against the catalogue (options resolved) and the opsets against
   * the supported ones. Returns the verified contract. Fails through `v`.
   */
  verify(contract: ContractOf<K>, info: ModelInfo, v: Verifier): ContractOf<K>;
  /** The lines `inspect` prints for the contract, after the model's versions and before the input checks. */
  inspect(contract: ContractOf<K>): string[];
  /**
   * Streaming (`eval --stream`): must the rows be probed (evaluated together and apart, before the
   * stream) because the contract verifies only part of the graph? True for a loss attached to a model,
   * which may mix rows before the loss.
   */
  readonly probeRows: boolean;
}

export function verifier(what: string): Verifier {
  const fail = (key: string, message: string): never => {
    throw new ModelContractError(`${what}: metadata ${key}: ${message}`);
  };
  return {
    what,
    fail,
    user<T>(key: string, f: () => T): T {
      try {
        return f();
      } catch (e) {
        if (e instanceof OptionError) return fail(key, e.message);
        throw e;
      }
    },
  };
}

/**
 * What every kind checks first: the loss is in the catalogue, its options are resolved as onnx-losses
 * writes them, the model imports each opset domain once and its ai.onnx opset is one onnx-losses builds.
 * Returns the contract with the options resolved.
 */
export function verifyCommon<C extends LossContract>(contract: C, info: ModelInfo, v: Verifier): C {
  const def = v.user(META.loss, () => getLoss(contract.loss));
  const resolved = v.user(META.options, () => resolveLossOptions(def.name, contract.options) as Record<string, unknown>);
  if (canonicalJson(resolved) !== canonicalJson(contract.options)) {
    v.fail(
      META.options,
      `expected every option of ${def.name} resolved (as onnx-losses writes them), received ${clip(canonicalJson(contract.options))}`,
    );
  }
  refuseDuplicateOpsets(info, v.what, ModelContractError);
  if (!SUPPORTED_OPSETS.includes(info.opset)) {
    throw new ModelContractError(
      `${v.what}: opset ${info.opset}: expected an ai.onnx opset from ${MIN_OPSET} to ${MAX_OPSET}, the ones onnx-losses builds`,
    );
  }
  return { ...contract, options: resolved };
}

/**
 * A whole graph checked against the one its contract rebuilds (`built`, described as `these` in errors):
 * the same inputs, outputs, input checks, input docs and graph. So the checks the evaluator runs are the
 * ones the graph needs, and metadata edited by hand is refused instead of believed.
 */
export function checkRebuilt(
  contract: LossContract,
  info: ModelInfo,
  v: Verifier,
  built: { model: Uint8Array; checks: unknown; inputs: readonly { name: string; doc: string }[] },
  these: string,
): void {
  const { fail } = v;
  const expected = readModel(built.model);
  const sig = (ts: readonly TensorInfo[], withType: boolean) =>
    ts.map((t) => `${t.name}: ${withType ? `${t.dtype} ` : ""}[${t.shape.join(", ")}]`).join("; ");
  if (sig(expected.inputs, true) !== sig(info.inputs, true)) {
    fail(META.options, `${these} takes inputs ${sig(expected.inputs, true)}; the graph has ${sig(info.inputs, true)}`);
  }
  if (sig(expected.outputs, false) !== sig(info.outputs, false)) {
    fail(META.options, `${these} gives outputs ${sig(expected.outputs, false)}; the graph has ${sig(info.outputs, false)}`);
  }
  if (canonicalJson(built.checks) !== canonicalJson(contract.checks)) {
    fail(
      META.checks,
      `expected ${clip(canonicalJson(built.checks))} (what ${these} needs), received ${clip(canonicalJson(contract.checks))}`,
    );
  }
  const docs = (ts: readonly { name: string; doc: string }[]) => canonicalJson(ts.map((t) => ({ name: t.name, doc: t.doc })));
  if (docs(built.inputs) !== docs(contract.inputs)) {
    fail(META.inputs, `expected ${clip(docs(built.inputs))} (what ${these} takes), received ${clip(docs(contract.inputs))}`);
  }
  // The graph must be exactly what its options build: the checks the evaluator runs are only as good as
  // the graph they were made for (a graph whose ignoreIndex differs from its metadata's would take a
  // negative target as a class). A model from another release whose graph differs is refused too: its
  // contract cannot be checked against this release's builders.
  if (!sameGraph(expected, info)) {
    const other =
      info.producerName === PRODUCER_NAME && info.producerVersion !== PRODUCER_VERSION
        ? `, and it was written by onnx-losses ${info.producerVersion}: export it again with ${PRODUCER_VERSION}`
        : "";
    fail(
      META.options,
      `the graph is not what ${these} builds at opset ${info.opset}${other} (was it edited after export? a model without onnx_losses metadata is evaluated as any ONNX model, without input checks)`,
    );
  }
}

/** The line every kind's inspect starts with: the loss and its options. */
export function lossLine(contract: LossContract): string {
  return `  loss ${contract.loss} ${canonicalJson(contract.options)}`;
}

/**
 * Two graphs' content, comparable across encoders: nodes, constants (sparse ones too), inputs, outputs
 * and value_info. Constants are compared by name, type, dims and location first, then by their bytes
 * (a byte comparison, never a serialization of the values).
 */
function sameGraph(a: ModelInfo, b: ModelInfo): boolean {
  if (a.initializers.length !== b.initializers.length) return false;
  const shape = (m: ModelInfo) =>
    canonicalJson({
      nodes: m.nodes,
      initializers: m.initializers,
      sparseInitializers: m.sparseInitializers,
      inputs: m.inputs,
      outputs: m.outputs,
      valueInfo: m.valueInfo,
    });
  return shape(a) === shape(b) && a.initializers.every((t, i) => sameInitializer(t, b.initializers[i]));
}

/** The same constant: name, type, dims, external location and bytes. */
export function sameInitializer(a: InitializerInfo, b: InitializerInfo): boolean {
  if (
    a.name !== b.name ||
    a.dtype !== b.dtype ||
    canonicalJson(a.shape) !== canonicalJson(b.shape) ||
    canonicalJson(a.external ?? null) !== canonicalJson(b.external ?? null)
  )
    return false;
  const x = a.bytes;
  const y = b.bytes;
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function clip(s: string): string {
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}
