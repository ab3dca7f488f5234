/**
 * The browser evaluator: onnxruntime-web (wasm, WebGPU). No Node-only import may be reachable from
 * here (test/web_entry.test.ts walks the module graph). In Node, onnxruntime-web resolves to its wasm
 * build, which is how the tests run it.
 */
import * as ort from "onnxruntime-web";
import { OptionError, UserError } from "../errors.js";
import type { LossGraph } from "../losses/types.js";
import type { AttachedLoss } from "../losses/attach.js";
import { readLossModel } from "../models/kinds.js";
import {
  checkEvaluatorOptions,
  evaluatorSource,
  createOrtEvaluator,
  messageOf,
  type Evaluator,
  type CreateEvaluator,
  type EvaluatorOptions,
  type OrtModule,
} from "./evaluator.js";
import type { ExecutionProvider, ProviderStatus } from "./providers.js";
import { privateBytes } from "../model/trusted.js";

/** Providers onnxruntime-web can be asked for. */
export const WEB_PROVIDERS: readonly ExecutionProvider[] = ["wasm", "webgpu"];

/** The part of `navigator` the WebGPU probe reads. */
export interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown> };
}

/**
 * Which providers this page has: wasm always; webgpu when the browser exposes `navigator.gpu` and hands
 * out an adapter.
 */
export async function webProviderStatuses(
  nav: GpuNavigator | undefined = globalThis.navigator as GpuNavigator | undefined,
): Promise<ProviderStatus[]> {
  return [{ name: "wasm", available: true }, await webgpuStatus(nav)];
}

/**
 * The adapter probe, once per navigator: a browser without an adapter logs a line ("No available
 * adapters.") for every requestAdapter() call, which would fill the console of a page that evaluates
 * often. A page gets a GPU or not for its lifetime; reload it after enabling one.
 */
const probes = new WeakMap<object, Promise<ProviderStatus>>();

function webgpuStatus(nav: GpuNavigator | undefined): Promise<ProviderStatus> {
  const gpu = nav?.gpu;
  if (!gpu) {
    return Promise.resolve({
      name: "webgpu",
      available: false,
      reason: "this browser has no WebGPU (navigator.gpu is undefined; it needs a secure context and a browser with WebGPU)",
    });
  }
  let probe = probes.get(gpu);
  if (!probe) {
    probe = (async (): Promise<ProviderStatus> => {
      let adapter: unknown = null;
      try {
        adapter = await gpu.requestAdapter();
      } catch {
        adapter = null;
      }
      return adapter
        ? { name: "webgpu", available: true }
        : {
            name: "webgpu",
            available: false,
            reason: "navigator.gpu.requestAdapter() gave no adapter (no usable GPU, or WebGPU is disabled)",
          };
    })();
    probes.set(gpu, probe);
  }
  return probe;
}

/**
 * How many wasm threads `numThreads: "all"` gives: every logical core the browser reports
 * (navigator.hardwareConcurrency, at most 16) where the page is cross-origin isolated, which threads
 * need (SharedArrayBuffer); 1 elsewhere. onnxruntime-web's own default is half the cores, at most 4.
 */
export function allWasmThreads(
  scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } } = globalThis as never,
): number {
  if (!scope.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(16, Math.floor(scope.navigator?.hardwareConcurrency ?? 1)));
}

/**
 * Where the onnxruntime-web .wasm files are served from and how many threads to use. Bundlers do not
 * copy the .wasm files by themselves: serve them (see docs/browser.md) and point `wasmPaths`
 * at them. More than one thread needs cross-origin isolation (COOP/COEP headers); `numThreads: "all"`
 * takes every core there and 1 elsewhere (see {@link allWasmThreads}). Returns the thread count set
 * (onnxruntime-web's default where none is given: 0).
 */
export function configureWasm(options: { wasmPaths?: string; numThreads?: number | "all" }): number {
  if (options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = options.wasmPaths;
  const n = options.numThreads === "all" ? allWasmThreads() : options.numThreads;
  if (n !== undefined) {
    if (!Number.isInteger(n) || n < 0)
      throw new OptionError(`numThreads: expected an integer >= 0 or "all", received ${JSON.stringify(n)}`);
    ort.env.wasm.numThreads = n;
  }
  return ort.env.wasm.numThreads ?? 0;
}

/**
 * Create an evaluator with onnxruntime-web from a built loss, model bytes or a URL of a `.onnx` file.
 * @example
 * const ev = await createEvaluator(buildLoss("cross_entropy"), { ep: "wasm" });
 */
export const createEvaluator: CreateEvaluator = async function createEvaluator(
  source: LossGraph<unknown> | AttachedLoss | Uint8Array | string,
  options: EvaluatorOptions = {},
): Promise<Evaluator> {
  checkEvaluatorOptions(options);
  if (options.worker !== undefined && options.worker !== false) {
    throw new OptionError(
      `worker: expected false or nothing in the browser entry, received ${JSON.stringify(options.worker)} (worker: true is Node only; in the browser run the page's own Worker, one that imports onnx-losses/web)`,
    );
  }
  if (options.threads !== undefined || options.spinning === true) {
    const which = options.threads !== undefined ? `threads: ${JSON.stringify(options.threads)}` : "spinning: true";
    throw new OptionError(
      `${which} is Node only (onnxruntime-node's intra-op threads): in the browser entry the wasm thread count is set once per page with configureWasm({ numThreads }) (more than 1 needs a cross-origin isolated page)`,
    );
  }
  const given = evaluatorSource(source);
  // what is checked is what onnxruntime loads: the caller's bytes are copied first (privateBytes)
  const model = typeof given === "string" ? await fetchModel(given) : privateBytes(given);
  const what = options.what ?? (typeof source === "string" ? source : undefined);
  const decoded = readLossModel(model, what);
  const ep = options.ep ?? "wasm";
  let statuses = await webProviderStatuses();
  // a plain onnx-losses graph: webgpu is not available to it (see plainOnWebgpu); a fallback list still applies
  if (decoded.contract && decoded.contract.lowering !== "webgpu") {
    const reason = plainOnWebgpu(decoded.contract.kind === "attached");
    statuses = statuses.map((s) => (s.name === "webgpu" && s.available ? { name: "webgpu", available: false, reason } : s));
  }
  return createOrtEvaluator(ort as unknown as OrtModule, model, decoded, statuses, { ...options, what, ep });
} as CreateEvaluator;

/** The bytes of the model at `url`; a failed fetch or an HTTP error is one line naming the URL. */
async function fetchModel(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    // fetch's own message ("fetch failed") and its cause's (what failed: the address, the port, the scheme)
    const cause = typeof e === "object" && e !== null ? (e as { cause?: unknown }).cause : undefined;
    const why = [messageOf(e), cause === undefined ? undefined : messageOf(cause)].filter(Boolean).join(": ");
    throw new UserError(`${url}: could not fetch the model (${why})`);
  }
  if (!res.ok) throw new UserError(`${url}: could not fetch the model (HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""})`);
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new UserError(`${url}: the model's download failed (${messageOf(e)})`);
  }
}

/**
 * Why onnx-losses/web does not run a plain (not lowered) onnx-losses graph on webgpu. onnxruntime-web's
 * WebGPU backend places the nodes it has no kernel for (LogSoftmax, int64 Max, float64 sums) on its CPU,
 * and the upload of a CPU node's result into a GPU buffer can be overwritten by GPU work queued before
 * it: in Chromium, cross_entropy with probability targets, label smoothing 0.2 and input_grad gave
 * -0.296 for PyTorch's 4.718, every run (test/browser/webgpu.test.ts keeps that measured). The lowered
 * graph keeps every node on the GPU. onnxruntime-node's webgpu runs the plain graphs right.
 */
export function plainOnWebgpu(attached: boolean): string {
  const what = attached ? "an attached loss is always a plain graph" : 'this is a plain graph: build it with { lowering: "webgpu" }';
  return `onnx-losses/web runs only graphs built with the WebGPU lowering there, and ${what} (onnxruntime-web's WebGPU backend runs LogSoftmax, int64 and float64 nodes on the CPU and can give wrong values)`;
}
