/**
 * `createEvaluator(source, { worker: true })`: onnxruntime in a worker thread. The event loop runs on
 * during a long evaluation (where the in-thread evaluator blocks it), errors are the in-thread
 * evaluator's (same classes, same messages; validation before anything is sent), release() ends the
 * worker, streaming takes the option too. Reads the build, as the worker needs its compiled script
 * (`npm test` builds first).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import type { Evaluator, TensorInput } from "../src/index.js";
import { ROOT } from "./helpers.js";

// the build, typed as the sources (a path TypeScript does not follow, so typechecking needs no build)
const lib = (await import(join(ROOT, "dist", "index.js"))) as typeof import("../src/index.js");
const {
  buildLoss,
  createEvaluator,
  evaluateNpyFiles,
  encodeNpy,
  Graph,
  InputError,
  OnnxRuntimeError,
  OptionError,
  ProviderError,
  nodeProviderStatuses,
} = lib;

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-worker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a promise settles to: its value, or its error's class and message. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => ({ value: v }),
    (e: unknown) => ({ error: (e as Error).constructor.name, message: (e as Error).message }),
  );
}

/** The outcome of the same thing done with an in-thread evaluator and with worker: true. */
async function both(model: Uint8Array, options: object, feeds?: Record<string, TensorInput>): Promise<[unknown, unknown]> {
  const results: unknown[] = [];
  for (const worker of [false, true]) {
    results.push(
      await outcome(
        (async () => {
          const ev = await createEvaluator(model, { ...options, worker });
          try {
            return feeds ? await ev.run(feeds) : ev.provider;
          } finally {
            await ev.release();
          }
        })(),
      ),
    );
  }
  return results as [unknown, unknown];
}

const ce = buildLoss("cross_entropy").model;
const small = (targets: bigint[]): Record<string, TensorInput> => ({
  input: { data: Float32Array.from({ length: targets.length * 3 }, (_, i) => Math.sin(i)), dims: [targets.length, 3] },
  target: { data: BigInt64Array.from(targets), dims: [targets.length] },
});

/** x [N] expanded to [7, 5]: onnxruntime fails inside the run unless N is 1 or 5 (as in test/hostile.test.ts). */
function expandModel(): Uint8Array {
  const g = new Graph("expand");
  g.output(g.node("Expand", [g.input("x", "float32", ["N"]), g.constant([7, 5], "int64")]), "y", ["?", "?"]);
  return g.toModel();
}

describe("worker: true keeps the event loop running", () => {
  test("timers fire during a long evaluation with worker: true, not with the in-thread evaluator", async () => {
    // cross_entropy on [4e6, 10] float32 (160 MB), one intra-op thread: ~250 ms of onnxruntime on 2 cores
    const N = 4_000_000;
    const C = 10;
    const x = new Float32Array(N * C);
    for (let i = 0; i < x.length; i++) x[i] = (i % 7) * 0.25;
    const t = new BigInt64Array(N);
    for (let i = 0; i < N; i++) t[i] = BigInt(i % C);
    const feeds = { input: { data: x, dims: [N, C] }, target: { data: t, dims: [N] } };
    const ticks: Record<string, number> = {};
    const losses: Record<string, number> = {};
    for (const worker of [false, true]) {
      const ev = await createEvaluator(buildLoss("cross_entropy"), { worker, threads: 1 });
      await ev.run(small([0n, 1n])); // a warm session
      let n = 0;
      const timer = setInterval(() => n++, 5);
      const { loss } = await ev.run(feeds);
      clearInterval(timer);
      ticks[String(worker)] = n;
      losses[String(worker)] = loss.data[0] as number;
      await ev.release();
    }
    expect(losses.true).toBe(losses.false);
    expect(ticks.true).toBeGreaterThanOrEqual(5);
    expect(ticks.false).toBeLessThan(ticks.true);
  });
});

describe("worker: true gives the in-thread evaluator's errors", () => {
  test("a bad input: the same InputError, raised on the calling thread before anything is sent", async () => {
    const feeds = small([0n, -1n]);
    const [inThread, inWorker] = await both(ce, {}, feeds);
    expect(inWorker).toEqual(inThread);
    expect(inWorker).toEqual({
      error: "InputError",
      message: "target: expected class indices in [0, 3) or ignoreIndex -100 (C = input dim 1), received -1 at flat index 1",
    });
    const ev = await createEvaluator(ce, { worker: true });
    await expect(ev.run(feeds)).rejects.toThrow(InputError);
    // after release() every run is refused in one line, as in-thread, and a second release is a no-op
    await ev.release();
    const inThreadEv = await createEvaluator(ce);
    await inThreadEv.release();
    const good = small([0n, 1n]);
    for (const f of [feeds, good]) {
      expect(await outcome(ev.run(f))).toEqual(await outcome(inThreadEv.run(f)));
      expect(await outcome(ev.run(f))).toEqual({
        error: "UserError",
        message: "model: this evaluator was released; create another one to run again",
      });
    }
    expect(await outcome(ev.release())).toEqual(await outcome(inThreadEv.release()));
  });

  test("onnxruntime failing inside the worker: the same OnnxRuntimeError (an Expand to an impossible shape)", async () => {
    const [inThread, inWorker] = await both(expandModel(), { what: "expand.onnx" }, { x: { data: new Float32Array(3), dims: [3] } });
    expect(inWorker).toEqual(inThread);
    expect(inWorker).toMatchObject({
      error: "OnnxRuntimeError",
      message: expect.stringMatching(/^expand\.onnx: onnxruntime failed to run the model: .*invalid expand shape/),
    });
    // and the worker runs on after it
    const ev = await createEvaluator(expandModel(), { worker: true });
    await expect(ev.run({ x: { data: new Float32Array(3), dims: [3] } })).rejects.toThrow(OnnxRuntimeError);
    expect((await ev.run({ x: { data: new Float32Array(5), dims: [5] } })).y.dims).toEqual([7, 5]);
    await ev.release();
  });

  test("a model onnxruntime cannot load: the same OnnxRuntimeError", async () => {
    const g = new Graph("bad");
    g.output(g.node("NoSuchOp", [g.input("x", "float32", ["N"])]), "y", ["N"]);
    const [inThread, inWorker] = await both(g.toModel(), {});
    expect(inWorker).toEqual(inThread);
    expect(inWorker).toMatchObject({
      error: "OnnxRuntimeError",
      message: expect.stringMatching(/^model: onnxruntime cannot load the model \(cpu: .*NoSuchOp/),
    });
  });

  test("a provider this install lacks, bad threads, a tensor onnxruntime refuses: the same errors", async () => {
    const missing = nodeProviderStatuses().find((s) => !s.available);
    if (missing) {
      const [inThread, inWorker] = await both(ce, { ep: missing.name });
      expect(inWorker).toEqual(inThread);
      expect(inWorker).toMatchObject({
        error: "ProviderError",
        message: expect.stringMatching(new RegExp(`^execution provider ${missing.name}: not available`)),
      });
      await expect(createEvaluator(ce, { ep: missing.name, worker: true })).rejects.toThrow(ProviderError);
    }
    const [t1, t2] = await both(ce, { threads: 0 });
    expect(t2).toEqual(t1);
    expect(t2).toMatchObject({ error: "OptionError", message: expect.stringMatching(/^threads: expected an integer/) });
    const refused = {
      input: { data: new Int32Array(6), dims: [2, 3], dtype: "float32" as const },
      target: { data: new BigInt64Array(2), dims: [2] },
    };
    const [r1, r2] = await both(ce, { skipValidation: true }, refused);
    expect(r2).toEqual(r1);
    expect(r2).toMatchObject({
      error: "InputError",
      message: expect.stringMatching(/^input: onnxruntime refused the tensor float32 \[2, 3\]: /),
    });
  });

  test("worker must be a boolean", async () => {
    await expect(createEvaluator(ce, { worker: "yes" as never })).rejects.toThrow(
      new OptionError('worker: expected true or false, received "yes"'),
    );
  });
});

describe("worker: true, the rest of the interface", () => {
  test("the same provider, inputs, outputs, loss and contract as in-thread; feeds may change once run() returns", async () => {
    const built = buildLoss("softmax_focal_loss", { gamma: 2 });
    const a: Evaluator = await createEvaluator(built);
    const b: Evaluator = await createEvaluator(built, { worker: true });
    const face = (e: Evaluator) => ({ provider: e.provider, inputs: e.inputs, outputs: e.outputs, loss: e.loss, contract: e.contract });
    expect(face(b)).toEqual(face(a));
    expect(b.loss?.name).toBe("softmax_focal_loss");
    const feeds = small([2n, 0n]);
    const want = (await a.run(feeds)).loss.data[0];
    const pending = b.run(feeds);
    (feeds.input.data as Float32Array).fill(100); // copied already: the run does not see this
    expect((await pending).loss.data[0]).toBe(want);
    await a.release();
    await b.release();
  });

  test("streaming .npy files takes worker: true and gives the same value", async () => {
    const N = 1000;
    const C = 4;
    writeFileSync(
      join(dir, "x.npy"),
      encodeNpy({ dtype: "float32", dims: [N, C], data: Float32Array.from({ length: N * C }, (_, i) => Math.cos(i)) }),
    );
    writeFileSync(
      join(dir, "t.npy"),
      encodeNpy({ dtype: "int64", dims: [N], data: BigInt64Array.from({ length: N }, (_, i) => BigInt(i % C)) }),
    );
    const files = { input: join(dir, "x.npy"), target: join(dir, "t.npy") };
    const inThread = await evaluateNpyFiles({ loss: "cross_entropy" }, files, { chunkBytes: 4000 });
    const inWorker = await evaluateNpyFiles({ loss: "cross_entropy" }, files, { chunkBytes: 4000, worker: true });
    expect(inWorker.chunks).toBeGreaterThan(1);
    expect(inWorker.value).toBe(inThread.value);
  });

  test("release() ends the worker: the process ends on its own, with fewer threads after release()", () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, "test", "soak", "release-child.mjs"), "release"], {
      encoding: "utf8",
      timeout: 30000,
    });
    const ms = performance.now() - t0;
    expect(r.stderr).toBe("");
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(ms).toBeLessThan(15000);
    const res = JSON.parse(r.stdout) as { loss: number; threads: { start: number | null; ran: number | null; released: number | null } };
    expect(Number.isFinite(res.loss)).toBe(true);
    if (res.threads.start !== null) {
      // the worker's thread (and its onnxruntime threads) were started, then joined
      expect(res.threads.ran!).toBeGreaterThan(res.threads.start);
      expect(res.threads.released!).toBeLessThan(res.threads.ran!);
    }
  });

  test("an unreleased worker evaluator holds the process open only while a run is in flight", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "test", "soak", "release-child.mjs"), "unreleased"], {
      encoding: "utf8",
      timeout: 30000,
    });
    expect(r.stderr).toBe("");
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(Number.isFinite((JSON.parse(r.stdout) as { loss: number }).loss)).toBe(true); // the run finished first
  });
});
