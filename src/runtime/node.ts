/**
 * The Node evaluator: onnxruntime-node, in this thread or (`worker: true`) in a worker thread
 * (worker_client.ts), with a probe of which providers this install has.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import type * as OrtNode from "onnxruntime-node";
import { MissingRuntimeError } from "../errors.js";
import type { LossGraph } from "../losses/types.js";
import type { AttachedLoss } from "../losses/attach.js";
import { readLossModel, type LossModel } from "../models/kinds.js";
import { checkExternalFiles, readModelFile } from "../io/read.js";
import { privateBytes } from "../model/trusted.js";
import {
  checkEvaluatorOptions,
  createOrtEvaluator,
  type Evaluator,
  type CreateEvaluator,
  type EvaluatorOptions,
  evaluatorSource,
  type OrtModule,
} from "./evaluator.js";
import type { ExecutionProvider, ProviderStatus } from "./providers.js";
import { workerOrt } from "./worker_client.js";

const require = createRequire(import.meta.url);
let loaded: typeof OrtNode | undefined;
let quietLog = false;

/**
 * Keep onnxruntime's process-wide log (the lines it prints, ANSI coloured, outside any session: device
 * discovery, provider registration) off stderr: the CLI calls it, so that an error stays its one line.
 * It takes effect where onnxruntime-node is not loaded yet or has made no session (its log level is
 * read at the first session); a library user sets `ort.env.logLevel` of onnxruntime-node themselves.
 * Sessions always log at "fatal" only (sessionOptionsFor); a worker's sessions follow this level too.
 */
export function quietOnnxRuntimeLog(): void {
  quietLog = true;
  if (loaded) loaded.env.logLevel = "fatal";
}

/**
 * onnxruntime-node, loaded on first use: it is an optional peer dependency, so `onnx-losses` builds,
 * exports and inspects graphs without it, and evaluating says what to install.
 */
function loadOnnxRuntimeNode(): typeof OrtNode {
  if (loaded) return loaded;
  try {
    loaded = require("onnxruntime-node") as typeof OrtNode;
    if (quietLog) loaded.env.logLevel = "fatal";
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === "MODULE_NOT_FOUND" && /onnxruntime-node/.test(String(err.message))) {
      throw new MissingRuntimeError(
        "evaluating in Node needs onnxruntime-node, which is not installed: npm install onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip before it skips its CUDA download)",
      );
    }
    throw e;
  }
  return loaded;
}

/** Providers onnxruntime-node can be asked for. */
export const NODE_PROVIDERS: readonly ExecutionProvider[] = ["cpu", "cuda", "dml", "webgpu"];

/** Shared libraries a non-bundled provider needs next to the binding (downloaded at install time). */
const PROVIDER_LIBS: Partial<Record<ExecutionProvider, string[]>> = {
  cuda: ["libonnxruntime_providers_cuda.so", "onnxruntime_providers_cuda.dll"],
};

/**
 * Which providers this onnxruntime-node install has. `cuda` needs its libraries, which the install
 * script downloads only with ONNXRUNTIME_NODE_INSTALL=cuda12 (this project skips that download by
 * default); `dml` ships with the Windows build only.
 */
export function nodeProviderStatuses(
  supported: readonly { name: string; bundled: boolean }[] = loadOnnxRuntimeNode().listSupportedBackends(),
  libExists: (file: string) => boolean = (f) => existsSync(join(bindingDir(), f)),
): ProviderStatus[] {
  return NODE_PROVIDERS.map((name) => {
    const s = supported.find((b) => b.name === name);
    if (!s) {
      const reason =
        name === "dml"
          ? "DirectML ships with onnxruntime-node on Windows only"
          : `not in this onnxruntime-node build (${process.platform}/${process.arch})`;
      return { name, available: false, reason };
    }
    if (s.bundled) return { name, available: true };
    const libs = PROVIDER_LIBS[name] ?? [];
    if (libs.some(libExists)) return { name, available: true };
    return {
      name,
      available: false,
      reason: `its libraries are not installed; reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci (or ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node in a project; needs the CUDA 12 runtime and cuDNN 9)`,
    };
  });
}

function bindingDir(): string {
  const pkg = dirname(require.resolve("onnxruntime-node/package.json"));
  return join(pkg, "bin", "napi-v6", process.platform, process.arch);
}

/**
 * Create an evaluator in Node from a built loss, model bytes, or a `.onnx` path.
 * @example
 * const ev = await createEvaluator(buildLoss("cross_entropy"));
 * const { loss } = await ev.run({ input: { data: logits, dims: [N, C] }, target: { data: labels, dims: [N] } });
 * // onnxruntime in a worker thread: this thread's event loop runs on while it computes
 * const background = await createEvaluator(buildLoss("cross_entropy"), { worker: true });
 */
export const createEvaluator: CreateEvaluator = async function createEvaluator(
  source: LossGraph<unknown> | AttachedLoss | Uint8Array | string,
  options: EvaluatorOptions = {},
): Promise<Evaluator> {
  return createFrom(source, options, false);
} as CreateEvaluator;

/**
 * @internal createEvaluator of bytes the caller hands over and never changes (the CLI's own read of a
 * file): not copied, where a caller's bytes are (a change made after the call would otherwise reach
 * onnxruntime unchecked).
 */
export async function createEvaluatorOwning(bytes: Uint8Array, options: EvaluatorOptions = {}): Promise<Evaluator> {
  return createFrom(bytes, options, true);
}

async function createFrom(
  source: LossGraph<unknown> | AttachedLoss | Uint8Array | string,
  options: EvaluatorOptions,
  owned: boolean,
): Promise<Evaluator> {
  options = checkEvaluatorOptions(options);
  const given = evaluatorSource(source);
  const file = typeof given === "string" ? await readModelFile(given) : undefined;
  // what is checked is what onnxruntime loads: the caller's bytes are copied first (privateBytes)
  const model = file ? file.bytes : owned ? (given as Uint8Array) : privateBytes(given as Uint8Array);
  const what = options.what ?? (typeof source === "string" ? source : undefined);
  // a file's external data resolves against the file's folder, bytes' against the folder the caller names
  const externalDataDir = file ? file.dir : options.externalDataDir === undefined ? undefined : resolve(options.externalDataDir);
  const decoded = readLossModel(model, what);
  if (externalDataDir !== undefined) await checkExternalFiles(decoded.info.externalData, externalDataDir, what);
  return createDecodedEvaluator(model, decoded, { ...options, what, externalDataDir });
}

/** @internal An evaluator over model bytes the caller has already decoded and verified (streaming). */
export async function createDecodedEvaluator(model: Uint8Array, decoded: LossModel, options: EvaluatorOptions = {}): Promise<Evaluator> {
  const { worker } = options;
  const settings = { ...options, ep: options.ep ?? "cpu", maxThreads: availableParallelism() };
  const ort = loadOnnxRuntimeNode();
  if (!worker) return createOrtEvaluator(ort as unknown as OrtModule, model, decoded, nodeProviderStatuses(), settings);
  // the same evaluator, over sessions that live in a worker (worker_client.ts)
  const remote = workerOrt((ort as unknown as OrtModule).Tensor, ort.env.logLevel);
  try {
    // the diagnostic session of an attached model's own part (made only after a failed run) stays on this thread: the worker holds one session
    return await createOrtEvaluator(remote.ort, model, decoded, nodeProviderStatuses(), {
      ...settings,
      partOrt: ort as unknown as OrtModule,
    });
  } catch (e) {
    await remote.terminate();
    throw e;
  }
}
