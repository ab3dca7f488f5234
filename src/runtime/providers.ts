/**
 * Execution-provider selection, as pure logic so it is testable without the hardware: which provider
 * to try, in what order, and the error when none is available. No silent fallback: a fallback list is
 * opt-in.
 */
import { UserError } from "../errors.js";

/**
 * What `--threads` defaults to when it is not given (the evaluator then leaves onnxruntime's
 * intraOpNumThreads unset): onnxruntime's own default, one intra-op thread per physical core of the
 * machine (its CPU's topology; a taskset CPU list does not lower it). The `eval` help and the evaluator's
 * docs print this text and docs/runtimes.md states it (test/cli_help.test.ts checks both).
 */
export const DEFAULT_THREADS_TEXT = "onnxruntime's, one per physical core";

/** The execution providers a caller can ask for. */
export type ExecutionProvider = "cpu" | "cuda" | "dml" | "webgpu" | "wasm";

export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ["cpu", "cuda", "dml", "webgpu", "wasm"];

/** What a runtime knows about one provider on this machine. */
export interface ProviderStatus {
  name: ExecutionProvider;
  available: boolean;
  /** Why it is not available, and how to get it. */
  reason?: string;
}

/** An execution provider that cannot be used; the CLI reports it on one line and exits 2. */
export class ProviderError extends UserError {
  override name = "ProviderError";
}

/** Parse a provider name (e.g. from `--ep`). */
export function parseProvider(name: string, allowed: readonly ExecutionProvider[]): ExecutionProvider {
  const n = name.trim().toLowerCase() === "directml" ? "dml" : name.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(n)) return n as ExecutionProvider;
  throw new ProviderError(`execution provider: expected one of ${allowed.join(", ")}, received ${JSON.stringify(name)}`);
}

/**
 * The providers to try, in order: the requested one, then the opt-in fallbacks, keeping only those
 * available. Throws ProviderError naming every unavailable provider and why when none is left.
 */
export function planProviders(
  requested: ExecutionProvider,
  fallback: readonly ExecutionProvider[],
  statuses: readonly ProviderStatus[],
): ExecutionProvider[] {
  const order = [requested, ...fallback.filter((f) => f !== requested)];
  const usable: ExecutionProvider[] = [];
  const reasons: string[] = [];
  for (const p of order) {
    const s = statuses.find((x) => x.name === p);
    if (s?.available) usable.push(p);
    else reasons.push(`${p}: ${s?.reason ?? "not supported by this runtime"}`);
  }
  if (usable.length === 0) {
    const avail = statuses.filter((s) => s.available).map((s) => s.name);
    const tail = fallback.length ? "" : `; pass a fallback list (e.g. --fallback ${avail[0] ?? "cpu"}) to run elsewhere`;
    throw new ProviderError(
      `execution provider ${requested}: not available (${reasons.join("; ")}); available here: ${avail.join(", ") || "none"}${tail}`,
    );
  }
  return usable;
}

/** onnxruntime session options for a provider (DirectML wants no memory pattern and sequential execution). */
export function sessionOptionsFor(
  ep: ExecutionProvider,
  threads?: number,
  spinning = false,
  externalDataDir?: string,
): Record<string, unknown> {
  // a model given as bytes has no path: onnxruntime resolves its external data against this folder
  // (without it, against the working directory, and some optimizers fail with model_path.empty())
  const folder = externalDataDir === undefined ? {} : { model_external_initializers_file_folder_path: externalDataDir };
  const opts: Record<string, unknown> = {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    // onnxruntime's own log would add lines to stderr around an error the caller already gets as one
    logSeverityLevel: 4,
    extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" }, ...folder } },
  };
  if (threads !== undefined) opts.intraOpNumThreads = threads;
  if (ep === "dml") {
    opts.enableMemPattern = false;
    opts.executionMode = "sequential";
  }
  return opts;
}
