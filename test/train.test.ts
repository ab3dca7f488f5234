/**
 * linearHeadStep: one gradient-descent step of a linear head as one graph. Its loss, W_next and b_next
 * equal a float64 step written by hand here (softmax cross-entropy and softmax focal gradients, checked
 * against central differences of test/reference.ts's float64 losses); 50 steps on the page's
 * imbalanced set make both losses fall; bad options are refused; the bytes are deterministic; the input
 * checks travel in the model's verified contract.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { runCli } from "../src/cli/program.js";
import { OptionError } from "../src/errors.js";
import { encodeNpy } from "../src/io/npy.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { buildLoss } from "../src/losses/index.js";
import { readLossModel } from "../src/models/kinds.js";
import { encodeModel, decodeModel } from "../src/onnx/codec.js";
import { META, ModelContractError } from "../src/model/contract.js";
import { createEvaluator } from "../src/runtime/node.js";
import { createEvaluator as createWebEvaluator } from "../src/runtime/web.js";
import { seededRandom } from "../src/util/random.js";
import { imbalancedSet, recalls, train } from "../web/train.js";
import { crossEntropy, softmaxFocalLoss } from "./reference.js";
import { exactly } from "./helpers.js";

type Loss = "cross_entropy" | "softmax_focal_loss";

/** d loss / d logits in float64, by hand: CE (p - onehot); focal G (p - onehot), G = (1-pt)^g - g pt (1-pt)^(g-1) log pt. */
function referenceGrad(
  loss: Loss,
  z: Float64Array,
  t: number[],
  C: number,
  o: { gamma?: number; reduction?: "mean" | "sum" },
): Float64Array {
  const N = t.length;
  const g = new Float64Array(N * C);
  const gamma = o.gamma ?? 2;
  for (let i = 0; i < N; i++) {
    const row = z.subarray(i * C, (i + 1) * C);
    const m = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => v / s);
    const pt = p[t[i]];
    const logPt = Math.log(pt);
    const G = loss === "cross_entropy" ? 1 : (1 - pt) ** gamma - gamma * pt * (1 - pt) ** (gamma - 1) * logPt;
    for (let j = 0; j < C; j++) g[i * C + j] = (G * (p[j] - (j === t[i] ? 1 : 0))) / ((o.reduction ?? "mean") === "mean" ? N : 1);
  }
  return g;
}

function referenceLoss(loss: Loss, z: Float64Array, t: number[], C: number, o: { gamma?: number; reduction?: "mean" | "sum" }): number {
  const x = { dims: [t.length, C], data: z };
  const tt = { dims: [t.length], data: t };
  return loss === "cross_entropy" ? crossEntropy(x, tt, o)[0] : softmaxFocalLoss(x, tt, o)[0];
}

/** One float64 step: loss at (W, b), and W - lr X^T g, b - lr sum_n g. */
function referenceStep(
  loss: Loss,
  X: ArrayLike<number>,
  t: number[],
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  D: number,
  C: number,
  lr: number,
  o: { gamma?: number; reduction?: "mean" | "sum" },
) {
  const N = t.length;
  const z = new Float64Array(N * C);
  for (let i = 0; i < N; i++)
    for (let k = 0; k < C; k++) {
      let v = b[k];
      for (let d = 0; d < D; d++) v += X[i * D + d] * W[d * C + k];
      z[i * C + k] = v;
    }
  const g = referenceGrad(loss, z, t, C, o);
  const W1 = Float64Array.from(W);
  const b1 = Float64Array.from(b);
  for (let i = 0; i < N; i++)
    for (let k = 0; k < C; k++) {
      b1[k] -= lr * g[i * C + k];
      for (let d = 0; d < D; d++) W1[d * C + k] -= lr * X[i * D + d] * g[i * C + k];
    }
  return { loss: referenceLoss(loss, z, t, C, o), W: W1, b: b1, z, g };
}

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i]))))
      throw new Error(`index ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
  }
}

function randomCase(seed: number, N: number, D: number, C: number) {
  const r = seededRandom(seed);
  const X = Float32Array.from({ length: N * D }, () => 4 * r() - 2);
  const W = Float32Array.from({ length: D * C }, () => 2 * r() - 1);
  const b = Float32Array.from({ length: C }, () => r() - 0.5);
  const t = Array.from({ length: N }, () => Math.floor(r() * C));
  return { X, W, b, t };
}

const CASES: { loss: Loss; options: { gamma?: number; reduction?: "mean" | "sum" } }[] = [
  { loss: "cross_entropy", options: {} },
  { loss: "cross_entropy", options: { reduction: "sum" } },
  { loss: "softmax_focal_loss", options: {} },
  { loss: "softmax_focal_loss", options: { gamma: 0.5, reduction: "sum" } },
];

describe("linearHeadStep", () => {
  test("the hand-written float64 gradients equal central differences of the float64 reference losses", () => {
    const { W, b, X, t } = randomCase(7, 5, 3, 4);
    for (const { loss, options } of CASES) {
      const { z, g } = referenceStep(loss, X, t, W, b, 3, 4, 0.1, options);
      const h = 1e-6;
      const fd = Float64Array.from(z, (_, j) => {
        const up = Float64Array.from(z),
          dn = Float64Array.from(z);
        up[j] += h;
        dn[j] -= h;
        return (referenceLoss(loss, up, t, 4, options) - referenceLoss(loss, dn, t, 4, options)) / (2 * h);
      });
      close(g, fd, 1e-6);
    }
  });

  test.each(CASES)("one step of $loss $options: loss, W_next and b_next equal the float64 step within 1e-5", async ({ loss, options }) => {
    const N = 40,
      D = 3,
      C = 4,
      lr = 0.7;
    const { X, W, b, t } = randomCase(11, N, D, C);
    const step = linearHeadStep(loss, options, { lr });
    const ev = await createEvaluator(step);
    try {
      const out = await ev.run({
        X: { data: X, dims: [N, D] },
        target: { data: BigInt64Array.from(t, BigInt), dims: [N] },
        W: { data: W, dims: [D, C] },
        b: { data: b, dims: [C] },
      });
      const want = referenceStep(loss, X, t, W, b, D, C, lr, options);
      expect(Object.keys(out).sort()).toEqual(["W_next", "b_next", "loss"]);
      expect(out.W_next.dims).toEqual([D, C]);
      expect(out.b_next.dims).toEqual([C]);
      close([Number(out.loss.data[0])], [want.loss]);
      close(out.W_next.data as Float32Array, want.W);
      close(out.b_next.data as Float32Array, want.b);
    } finally {
      await ev.release();
    }
  });

  test("the WebGPU lowering gives the same step (run on wasm), with int32 targets", async () => {
    const N = 30,
      D = 2,
      C = 3,
      lr = 0.5;
    const { X, W, b, t } = randomCase(3, N, D, C);
    for (const loss of ["cross_entropy", "softmax_focal_loss"] as const) {
      const step = linearHeadStep(loss, {}, { lr }, { lowering: "webgpu" });
      expect(step.inputs.find((i) => i.name === "target")?.dtype).toBe("int32");
      const ev = await createWebEvaluator(step, { ep: "wasm" });
      const out = await ev.run({
        X: { data: X, dims: [N, D] },
        target: { data: BigInt64Array.from(t, BigInt), dims: [N] },
        W: { data: W, dims: [D, C] },
        b: { data: b, dims: [C] },
      });
      await ev.release();
      const want = referenceStep(loss, X, t, W, b, D, C, lr, {});
      close([Number(out.loss.data[0])], [want.loss]);
      close(out.W_next.data as Float32Array, want.W);
      close(out.b_next.data as Float32Array, want.b);
    }
  });

  test("50 steps on the page's imbalanced 12:40:300 set: both losses fall, every step equals the float64 step", async () => {
    const set = imbalancedSet();
    expect([0, 1, 2].map((k) => set.y.filter((v) => v === BigInt(k)).length)).toEqual([12, 40, 300]);
    const t = Array.from(set.y, Number);
    for (const loss of ["cross_entropy", "softmax_focal_loss"] as const) {
      const ev = await createEvaluator(linearHeadStep(loss, {}, { lr: 1 }));
      let W: ArrayLike<number> = new Float64Array(6),
        b: ArrayLike<number> = new Float64Array(3);
      const run = await train(ev, set, 50, (s, value, W1, b1) => {
        // each step from the graph's own previous W, b (float32), against float64
        const want = referenceStep(loss, set.X, t, W, b, 2, 3, 1, {});
        close([value], [want.loss]);
        close(W1, want.W);
        close(b1, want.b);
        W = W1;
        b = b1;
        void s;
      });
      await ev.release();
      expect(run.losses).toHaveLength(50);
      expect(run.losses[49]).toBeLessThan(0.6 * run.losses[0]);
      for (let s = 1; s < 50; s++) expect(run.losses[s]).toBeLessThanOrEqual(run.losses[s - 1]);
      const rec = recalls(set, run.W, run.b);
      expect(rec[2]).toBeGreaterThan(0.8);
    }
  });

  test("refuses bad options, naming them", () => {
    const cases: [() => unknown, string][] = [
      [() => linearHeadStep("cross_entropy", {}, { lr: 0 }), "linear_head_step: step option lr: expected a finite number > 0, received 0"],
      [
        () => linearHeadStep("cross_entropy", {}, { lr: -1 }),
        "linear_head_step: step option lr: expected a finite number > 0, received -1",
      ],
      [
        () => linearHeadStep("cross_entropy", {}, { lr: Infinity }),
        "linear_head_step: step option lr: expected a finite number > 0, received Infinity",
      ],
      [
        () => linearHeadStep("cross_entropy", {}, { lr: "0.1" as unknown as number }),
        'linear_head_step: step option lr: expected a finite number > 0, received "0.1"',
      ],
      [
        () => linearHeadStep("cross_entropy", {}, undefined as unknown as { lr: number }),
        "linear_head_step: step options: expected an object { lr }, received undefined",
      ],
      [
        () => linearHeadStep("cross_entropy", {}, { lr: 1, momentum: 0.9 } as { lr: number }),
        'linear_head_step: step options: unknown option "momentum"; options are lr',
      ],
      [
        () => linearHeadStep("cross_entropy", {}, { Lr: 1 } as unknown as { lr: number }),
        'linear_head_step: step options: unknown option "Lr" (did you mean lr?); options are lr',
      ],
      [
        () => linearHeadStep("cross_entropy", { reduction: "none" }, { lr: 1 }),
        'linear_head_step: option reduction: expected "mean" or "sum" (a step descends one scalar loss), received "none"',
      ],
      [
        () => linearHeadStep("cross_entropy", { gradient: false }, { lr: 1 }),
        "linear_head_step: option gradient: expected true or nothing (a step needs the loss's gradient), received false",
      ],
      [
        () => linearHeadStep("nll_loss", {}, { lr: 1 }),
        "linear_head_step: loss nll_loss: expected a loss of logits [N, C] (the head computes logits), received one of log-probabilities [N, C]",
      ],
      [
        () => linearHeadStep("binary_cross_entropy", {}, { lr: 1 }),
        "linear_head_step: loss binary_cross_entropy: expected a loss of logits [N, C] (the head computes logits), received one of probabilities in [0, 1] [N, C]",
      ],
      [
        () => linearHeadStep("cross_entropy", { rank: 3 }, { lr: 1 }),
        "linear_head_step: loss cross_entropy: expected a loss of logits [N, C] (the head computes logits), received one of logits [N, C, d1]",
      ],
      [
        () => linearHeadStep("cross_entropy", {}, { lr: 1 }, { outputs: "parts" } as object),
        'linear_head_step: build option outputs: expected "loss" or nothing (a step outputs loss, W_next and b_next), received "parts"',
      ],
      [
        () => linearHeadStep("cross_entropy", { gamma: 2 } as object, { lr: 1 }),
        'cross_entropy: unknown option "gamma"; options are rank, targetType, weight, ignoreIndex, reduction, labelSmoothing, gradient',
      ],
      [() => linearHeadStep("cross_entropy", {}, { lr: 1 }, { opset: 12 }), "opset: expected an integer from 13 to 23, received 12"],
    ];
    for (const [f, message] of cases) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OptionError);
      expect((err as Error).message).toBe(message);
    }
  });

  test("deterministic bytes; a fixed C (weight) fixes W and b", () => {
    const a = linearHeadStep("softmax_focal_loss", { gamma: 1.5, alpha: [0.5, 0.3, 0.2] }, { lr: 0.25 });
    const b = linearHeadStep("softmax_focal_loss", { gamma: 1.5, alpha: [0.5, 0.3, 0.2] }, { lr: 0.25 });
    expect(Buffer.from(a.model).equals(Buffer.from(b.model))).toBe(true);
    expect(
      Buffer.from(linearHeadStep("cross_entropy", {}, { lr: 0.5 }).model).equals(
        Buffer.from(linearHeadStep("cross_entropy", {}, { lr: 0.25 }).model),
      ),
    ).toBe(false);
    const m = readModel(a.model);
    expect(m.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(", ")}]`)).toEqual([
      "X float32 [N, D]",
      "target int64 [N]",
      "W float32 [D, 3]",
      "b float32 [3]",
    ]);
    expect(m.outputs.map((o) => `${o.name} [${o.shape.join(", ")}]`)).toEqual(["loss []", "W_next [D, 3]", "b_next [3]"]);
    expect(m.metadata[META.step]).toBe('{"kind":"linear_head","lr":0.25}');
    // the loss alone is unchanged by being buildable into a step
    expect(readModel(buildLoss("cross_entropy").model).metadata[META.step]).toBeUndefined();
  });

  test("the target checks run before each step: negative or out-of-range indices are refused, never wrapped", async () => {
    const ev = await createEvaluator(linearHeadStep("cross_entropy", {}, { lr: 1 }));
    const feeds = (t: bigint[]) => ({
      X: { data: new Float32Array(6), dims: [3, 2] },
      target: { data: BigInt64Array.from(t), dims: [3] },
      W: { data: new Float32Array(6), dims: [2, 3] },
      b: { data: new Float32Array(3), dims: [3] },
    });
    await expect(ev.run(feeds([0n, -1n, 2n]))).rejects.toThrow(
      exactly("target: expected class indices in [0, 3) or ignoreIndex -100 (C = W dim 1), received -1 at flat index 1"),
    );
    await expect(ev.run(feeds([0n, 3n, 2n]))).rejects.toThrow(
      exactly("target: expected class indices in [0, 3) or ignoreIndex -100 (C = W dim 1), received 3 at flat index 1"),
    );
    await expect(ev.run({ ...feeds([0n, 1n, 2n]), W: { data: new Float32Array(4), dims: [2, 2] } })).rejects.toThrow(
      exactly("b: expected dim 0 (C) = 2 as in W dim 1, received [3]"),
    );
    // ignored items contribute nothing and pass the check
    const out = await ev.run(feeds([0n, -100n, 2n]));
    expect(Number.isFinite(Number(out.loss.data[0]))).toBe(true);
    await ev.release();
    const focal = await createEvaluator(linearHeadStep("softmax_focal_loss", { alpha: 0.25, balanceIndex: 2 }, { lr: 1 }));
    await expect(
      focal.run({ ...feeds([0n, 1n, 1n]), W: { data: new Float32Array(4), dims: [2, 2] }, b: { data: new Float32Array(2), dims: [2] } }),
    ).rejects.toThrow(exactly("W: expected dim 1 >= 3 (balanceIndex 2 must be a class), received [2, 2]"));
    await focal.release();
  });

  test("the step's contract is verified: edited metadata or an edited graph is refused", () => {
    const step = linearHeadStep("cross_entropy", {}, { lr: 0.5 });
    expect(readLossModel(step.model).contract?.step).toEqual({ kind: "linear_head", lr: 0.5 });
    const edit = (f: (m: ReturnType<typeof decodeModel>) => void) => {
      const m = decodeModel(step.model);
      f(m);
      return encodeModel(m);
    };
    const setMeta = (key: string, value: string) =>
      edit((m) => {
        for (const p of m.metadataProps ?? []) if (p.key === key) p.value = value;
      });
    expect(() => readLossModel(setMeta(META.step, '{"kind":"linear_head","lr":0.25}'), "step.onnx")).toThrow(ModelContractError);
    expect(() => readLossModel(setMeta(META.step, '{"kind":"linear_head","lr":0.25}'), "step.onnx")).toThrow(
      /^step\.onnx: metadata onnx_losses\.options: the graph is not what cross_entropy with options .* in a linear-head step with lr 0\.25 builds/,
    );
    expect(() => readLossModel(setMeta(META.step, '{"kind":"linear_head","lr":-1}'), "step.onnx")).toThrow(
      exactly(
        `step.onnx: metadata onnx_losses.step: expected {"kind": "linear_head", "lr": a finite number > 0}, received ${JSON.stringify('{"kind":"linear_head","lr":-1}')}`,
      ),
    );
    expect(() => readLossModel(setMeta(META.checks, "[]"), "step.onnx")).toThrow(
      /^step\.onnx: metadata onnx_losses\.checks: expected \[\{"axis":1,"classesOf":"W"/,
    );
    // without the step key the metadata claims a plain loss, whose inputs the graph does not have
    const noStep = edit((m) => {
      m.metadataProps = (m.metadataProps ?? []).filter((p) => p.key !== META.step);
    });
    expect(() => readLossModel(noStep, "step.onnx")).toThrow(
      /^step\.onnx: metadata onnx_losses\.options: cross_entropy with options .* takes inputs input: float32/,
    );
  });

  test("eval --stream refuses a step for what it is (W's dim 0 is D, not N), on one line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "onnx-losses-train-"));
    try {
      writeFileSync(join(dir, "step.onnx"), linearHeadStep("cross_entropy", {}, { lr: 0.5 }).model);
      const npy = (file: string, dtype: "float32" | "int64", dims: number[]) => {
        const n = dims.reduce((a, d) => a * d, 1);
        writeFileSync(join(dir, file), encodeNpy({ dtype, dims, data: dtype === "int64" ? new BigInt64Array(n) : new Float32Array(n) }));
      };
      npy("X.npy", "float32", [4, 2]);
      npy("t.npy", "int64", [4]);
      npy("W.npy", "float32", [2, 3]);
      npy("b.npy", "float32", [3]);
      let err = "";
      const argv = [
        "eval",
        "step.onnx",
        "--input",
        "X=X.npy",
        "--input",
        "target=t.npy",
        "--input",
        "W=W.npy",
        "--input",
        "b=b.npy",
        "--stream",
        "--out",
        "out",
      ];
      const code = await runCli(argv, { out: () => undefined, err: (t) => (err += `${t}\n`), cwd: dir });
      // was "W: expected dim 0 (N) = 4 as in X dim 0, received [2, 3] (W.npy)"
      expect([code, err]).toEqual([
        2,
        "onnx-losses: step.onnx: cannot be evaluated in chunks: the streamed inputs do not share one symbolic dim 0 (N, D, C); evaluate it in one pass (without --stream)\n",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
