/**
 * The calling thread's side of `createEvaluator(source, { worker: true })` (Node only): an OrtModule
 * whose sessions live in a `node:worker_threads` Worker running ort_worker.js, so that evaluator.ts's
 * OrtEvaluator (validation, tensor checks, provider planning, error messages) runs unchanged on the
 * calling thread and only session creation and session.run cross over. Feeds are copied (each typed
 * array's own bytes, as a fresh ArrayBuffer handed to the worker) before run() returns its promise;
 * outputs' buffers are handed back without a copy. Requests carry ids, so concurrent runs are answered
 * each with its own result. The worker holds the process open only while a request is in flight, as an
 * in-thread session never holds it; release() terminates it.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { messageOf, type OrtModule, type OrtSession, type OrtTensor } from "./evaluator.js";
import type { WireTensor, WorkerReply, WorkerRequest } from "./ort_worker.js";

/** The worker script: the compiled ort_worker.js next to this module. */
export const WORKER_SCRIPT = new URL("./ort_worker.js", import.meta.url);

/** What onnxruntime-node says of a session used after release(), which a worker session says too. */
const DISPOSED = "Session already disposed.";

type Body<R> = R extends unknown ? Omit<R, "id"> : never;

/** One worker and the requests in flight to it. */
class Channel {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: Error | undefined;
  private terminated = false;

  request(body: Body<WorkerRequest>, transfer: ArrayBuffer[] = []): Promise<WorkerReply & { ok: true }> {
    if (this.failure) return Promise.reject(this.failure);
    const worker = this.start();
    const id = this.nextId++;
    const reply = new Promise<WorkerReply & { ok: true }>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) worker.ref();
    // posted now, not after an await: the feeds are copied before the caller's run() returns
    worker.postMessage({ ...body, id } as WorkerRequest, transfer);
    return reply;
  }

  async terminate(): Promise<void> {
    this.terminated = true;
    this.fail(new Error("the evaluator's worker was terminated (release() was called)"));
    await this.worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // not the host's execArgv: flags such as --input-type (a host started with -e) are refused in a worker
    const worker = new Worker(WORKER_SCRIPT, { execArgv: [] });
    worker.unref();
    worker.on("message", (reply: WorkerReply) => this.settle(reply));
    worker.on("error", (e: unknown) => this.fail(new Error(`the evaluator's worker failed: ${messageOf(e)}`)));
    worker.on("messageerror", (e: unknown) =>
      this.fail(new Error(`the evaluator's worker sent a message that cannot be read: ${messageOf(e)}`)),
    );
    worker.on("exit", (code) => {
      if (!this.terminated) this.fail(new Error(`the evaluator's worker stopped (exit code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: WorkerReply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.ok) p.resolve(reply);
    else p.reject(new Error(reply.message));
  }

  /** Reject every request in flight and every later one. */
  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    this.worker?.unref();
  }
}

class WorkerSession implements OrtSession {
  private disposed = false;

  constructor(
    private readonly channel: Channel,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  run(feeds: Record<string, OrtTensor>, options: object = {}): Promise<Record<string, OrtTensor>> {
    if (this.disposed) return Promise.reject(new Error(DISPOSED));
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      let data = t.data;
      if (ArrayBuffer.isView(data)) {
        // the view's own bytes, in a fresh ArrayBuffer (not the whole buffer it may be a view of, nor a
        // SharedArrayBuffer the caller could still write to), handed to the worker
        data = (data as unknown as { slice(): ArrayBufferView }).slice();
        transfer.push((data as ArrayBufferView).buffer as ArrayBuffer);
      }
      wire[name] = { type: t.type, dims: [...t.dims], data };
    }
    return this.channel.request({ op: "run", feeds: wire, options }, transfer).then((r) => r.outputs ?? {});
  }

  async release(): Promise<void> {
    if (this.disposed) throw new Error(DISPOSED);
    this.disposed = true;
    try {
      await this.channel.request({ op: "release" });
    } finally {
      await this.channel.terminate();
    }
  }
}

/**
 * An OrtModule over a worker, started at the first session creation. `Tensor` is the calling thread's
 * onnxruntime Tensor, so a tensor onnxruntime refuses is refused before anything is sent. `terminate`
 * ends the worker when no evaluator came of it (every session creation failed).
 */
export function workerOrt(Tensor: OrtModule["Tensor"], logLevel?: string): { ort: OrtModule; terminate(): Promise<void> } {
  const script = fileURLToPath(WORKER_SCRIPT);
  if (!existsSync(script)) {
    throw new Error(
      `worker: the evaluator's worker script ${script} is missing (npm run build compiles it from src/runtime/ort_worker.ts)`,
    );
  }
  const channel = new Channel();
  const ort: OrtModule = {
    InferenceSession: {
      async create(model: Uint8Array, options: object = {}): Promise<OrtSession> {
        // its own bytes, handed over (a copy even of a Buffer, whose slice() is a view: transferring that would detach the caller's bytes)
        const bytes = new Uint8Array(model);
        const r = await channel.request({ op: "create", model: bytes, options, logLevel }, [bytes.buffer]);
        return new WorkerSession(channel, r.inputNames ?? [], r.outputNames ?? []);
      },
    },
    Tensor,
  };
  return { ort, terminate: () => channel.terminate() };
}
