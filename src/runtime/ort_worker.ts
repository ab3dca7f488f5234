/**
 * The script of the evaluator's worker (`createEvaluator(source, { worker: true })`, Node only): one
 * onnxruntime-node session in a `node:worker_threads` Worker, so that session.run, which computes on the
 * thread that calls it, does not block the caller's event loop. worker_client.ts starts it and speaks to
 * it; everything else (validation, provider planning, error messages) stays on the calling thread, in
 * evaluator.ts. Requests are handled one at a time, in the order they arrive; each reply carries its
 * request's id. It imports onnxruntime-node and node:worker_threads only (test/entry.test.ts checks).
 */
import { parentPort } from "node:worker_threads";
import ort from "onnxruntime-node";

/** A tensor as it crosses the thread boundary. */
export interface WireTensor {
  type: string;
  dims: number[];
  data: unknown;
}

export type WorkerRequest =
  | {
      id: number;
      op: "create";
      model: Uint8Array;
      options: object /** the calling thread's onnxruntime env.logLevel: the process-wide log is set by the first session made */;
      logLevel?: string;
    }
  | { id: number; op: "run"; feeds: Record<string, WireTensor>; options: object }
  | { id: number; op: "release" };

export type WorkerReply =
  | { id: number; ok: true; inputNames?: string[]; outputNames?: string[]; outputs?: Record<string, WireTensor> }
  | { id: number; ok: false; message: string };

interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, unknown>, options?: object): Promise<Record<string, WireTensor>>;
  release(): Promise<void>;
}

const port = parentPort;
if (!port) throw new Error("ort_worker.js runs in a node:worker_threads Worker (see createEvaluator's worker option)");

let session: Session | undefined;
let queue: Promise<void> = Promise.resolve();

port.on("message", (request: WorkerRequest) => {
  queue = queue.then(() => handle(request));
});

async function handle(request: WorkerRequest): Promise<void> {
  try {
    if (request.op === "create") {
      if (request.logLevel !== undefined) ort.env.logLevel = request.logLevel as typeof ort.env.logLevel;
      session = (await ort.InferenceSession.create(request.model, request.options)) as unknown as Session;
      reply({ id: request.id, ok: true, inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
    } else if (request.op === "run") {
      if (!session) throw new Error("no session (create failed or was not asked for)");
      const feeds: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(request.feeds)) feeds[name] = new ort.Tensor(t.type as never, t.data as never, t.dims);
      const result = await session.run(feeds, request.options);
      const outputs: Record<string, WireTensor> = {};
      for (const name of session.outputNames) {
        const t = result[name];
        outputs[name] = { type: t.type, dims: [...t.dims], data: t.data };
      }
      reply({ id: request.id, ok: true, outputs });
    } else {
      const s = session;
      session = undefined;
      await s?.release();
      reply({ id: request.id, ok: true });
    }
  } catch (e) {
    const message = typeof e === "object" && e !== null ? (e as { message?: unknown }).message : undefined;
    reply({ id: request.id, ok: false, message: typeof message === "string" ? message : String(e) });
  }
}

/** Post a reply, handing over the outputs' buffers (copying them where one cannot be handed over). */
function reply(message: WorkerReply): void {
  const buffers = new Set<ArrayBuffer>();
  if (message.ok && message.outputs) {
    for (const t of Object.values(message.outputs)) {
      if (ArrayBuffer.isView(t.data) && t.data.buffer instanceof ArrayBuffer) buffers.add(t.data.buffer);
    }
  }
  try {
    port!.postMessage(message, [...buffers]);
  } catch {
    port!.postMessage(message);
  }
}
