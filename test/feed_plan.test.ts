/**
 * The evaluator's plan of its feed checks (issue 18, small batches): compileFeedPlan decides the common
 * case once per evaluator, and whatever it is given it either returns what validateFeeds returns or
 * leaves the feeds to validateFeeds (undefined): it never accepts feeds validateFeeds refuses. Checked on
 * generated feeds (fast-check) for the catalogue's graphs (class indices with and without an ignore
 * index, probabilities, lowered int32 targets, float16, rank 3, a weight list fixing C, an attached
 * model), and on the evaluator itself: the tensors it keeps between runs see in-place changes.
 */
import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import type { TensorInfo } from "../src/builder/reader.js";
import { buildLoss } from "../src/losses/index.js";
import { readLossModel } from "../src/models/kinds.js";
import { createEvaluator } from "../src/runtime/node.js";
import { compileFeedPlan, splitChecks, validateFeeds } from "../src/runtime/validate.js";
import type { InputCheck } from "../src/model/contract.js";
import { exactly, identityLogitsModel } from "./helpers.js";

const FUZZ_RUNS = Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || 0;

interface Case {
  label: string;
  inputs: readonly TensorInfo[];
  outputs: readonly TensorInfo[];
  checks: readonly InputCheck[];
}

function caseOf(label: string, name: string, options: object = {}, build: object = {}): Case {
  const { info, contract } = readLossModel(buildLoss(name, options, build).model);
  const checks = contract?.checks ?? [];
  return { label, inputs: info.inputs, outputs: info.outputs, checks: splitChecks(checks, info.inputs, info.outputs).before };
}

const CASES: Case[] = [
  caseOf("cross_entropy", "cross_entropy"),
  caseOf("cross_entropy rank 3", "cross_entropy", { rank: 3 }),
  caseOf("cross_entropy weight [3], ignore index 1", "cross_entropy", { weight: [1, 2, 3], ignoreIndex: 1 }),
  caseOf("cross_entropy lowered (int32 targets)", "cross_entropy", {}, { lowering: "webgpu" }),
  caseOf("nll_loss float16", "nll_loss", {}, { dtype: "float16" }),
  caseOf("binary_cross_entropy (ranges)", "binary_cross_entropy"),
  caseOf("sigmoid_focal_loss", "sigmoid_focal_loss", { alpha: 0.25, gamma: 2 }),
  caseOf("cross_entropy probs", "cross_entropy", { targetType: "probs" }),
  caseOf("softmax_focal_loss balanceIndex 3 (a least C)", "softmax_focal_loss", { alpha: 0.25, gamma: 2, balanceIndex: 3 }),
];

const ARRAYS = [Float32Array, Float64Array, Uint16Array, Int32Array, BigInt64Array, Uint8Array] as const;

/** An array of the class of `data` (a typed array, else a plain one) of n zeros. */
function sized(data: unknown, n: number): unknown {
  if (!ArrayBuffer.isView(data)) return new Array(n).fill(0);
  return new (data.constructor as Float32ArrayConstructor)(n);
}

/** Feeds for a case: mostly right (so the plan's own path is taken), with one of many things wrong now and then. */
function feedsFor(c: Case) {
  return fc
    .record({
      sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 8, maxLength: 8 }),
      faults: fc.array(
        fc.record({
          input: fc.nat(3),
          kind: fc.constantFrom(
            "none",
            "none",
            "none",
            "none",
            "array",
            "dims-value",
            "dims-rank",
            "dims-string",
            "length",
            "dtype-field",
            "plain",
            "extra-key",
            "missing",
            "value",
            "value",
            "value",
            "zero-dim",
            "shared",
            "resize",
            "resize",
          ),
          axis: fc.nat(3),
          pick: fc.nat(1000),
          // near the class counts drawn (1 to 5) and the ignore indices (-100, 1), and anything
          value: fc.oneof(
            fc.integer({ min: -3, max: 8 }),
            fc.integer({ min: -200, max: 200 }),
            fc.double({ noNaN: false }),
            fc.constant(-100),
          ),
        }),
        { maxLength: 2 },
      ),
      values: fc.array(fc.double({ min: -0.5, max: 1.5, noNaN: false }), { minLength: 64, maxLength: 64 }),
    })
    .map(({ sizes, faults, values }) => {
      // symbolic dims bound once (N, C, d1 ...), fixed ones as declared
      const bound = new Map<string, number>();
      let k = 0;
      const dimsOf = (t: TensorInfo) =>
        t.shape.map((d) => {
          if (typeof d === "number") return d;
          if (!bound.has(d)) bound.set(d, sizes[k++ % sizes.length]);
          return bound.get(d) as number;
        });
      const feeds: Record<string, { data: unknown; dims: unknown; dtype?: unknown }> = {};
      const classes = (() => {
        const input = c.inputs.find((t) => t.name === "input");
        return input ? dimsOf(input)[1] : 2;
      })();
      for (const t of c.inputs) {
        const dims = dimsOf(t);
        const n = dims.reduce((a, b) => a * b, 1);
        const at = (i: number) => values[i % values.length];
        const index = (i: number) => (Number.isFinite(at(i)) ? Math.floor(Math.abs(at(i)) * 7) % classes : 0);
        let data: unknown;
        if (t.dtype === "int64") data = BigInt64Array.from({ length: n }, (_, i) => BigInt(index(i)));
        else if (t.dtype === "int32") data = Int32Array.from({ length: n }, (_, i) => index(i));
        else if (t.dtype === "float16") data = Uint16Array.from({ length: n }, (_, i) => 0x3800 + (i % 64));
        else if (t.dtype === "float64") data = Float64Array.from({ length: n }, (_, i) => Math.min(1, Math.max(0, at(i))));
        else data = Float32Array.from({ length: n }, (_, i) => Math.min(1, Math.max(0, at(i))));
        feeds[t.name] = { data, dims };
      }
      const names = Object.keys(feeds);
      for (const f of faults) {
        const name = names[f.input % names.length];
        const feed = feeds[name];
        if (!feed) continue;
        const dims = feed.dims as number[];
        switch (f.kind) {
          case "array":
            feed.data = new ARRAYS[f.pick % ARRAYS.length]((feed.data as { length: number }).length);
            break;
          case "dims-value":
            if (dims.length > 0) dims[f.axis % dims.length] = f.value;
            break;
          case "dims-rank":
            feed.dims = f.pick % 2 ? [...dims, 1] : dims.slice(1);
            break;
          case "dims-string":
            if (dims.length > 0) (dims as unknown[])[f.axis % dims.length] = String(dims[f.axis % dims.length]);
            break;
          case "length": {
            // one or two values fewer, or one more, than the dims hold
            const d = feed.data as Float32Array;
            if (!ArrayBuffer.isView(d)) break;
            if (f.pick % 3 === 0) {
              const longer = new (d.constructor as Float32ArrayConstructor)(d.length + 1);
              longer.set(d);
              feed.data = longer;
            } else feed.data = d.slice(0, Math.max(0, d.length - 1 - (f.pick % 2)));
            break;
          }
          case "dtype-field":
            feed.dtype = ["float32", "float64", "int64", "int32", "float16", "bool", "uint8"][f.pick % 7];
            break;
          case "plain":
            feed.data = Array.from(feed.data as ArrayLike<number | bigint>);
            break;
          case "extra-key":
            feeds[`extra${f.pick % 3}`] = { data: new Float32Array(1), dims: [1] };
            break;
          case "missing":
            delete feeds[name];
            break;
          case "value": {
            const d = feed.data as Float32Array | BigInt64Array | Int32Array;
            if (d.length === 0) break;
            const i = f.pick % d.length;
            // an index at the edges of [0, C) and the ignore indices, or any value
            const edge = [classes, classes, classes - 1, classes + 1, -1, -100, -101, 1, 2 ** 31, f.value][f.pick % 10];
            const int = Number.isFinite(edge) ? Math.trunc(edge) : -1;
            if (d instanceof BigInt64Array) d[i] = BigInt(int);
            else if (d instanceof Int32Array) d[i] = int;
            else d[i] = [f.value, 1, 0, 1 + 2 ** -20, -(2 ** -30), Number.NaN][f.pick % 6];
            break;
          }
          case "zero-dim":
            if (dims.length > 0) {
              dims[f.axis % dims.length] = 0;
              feed.data = sized(feed.data, 0);
            }
            break;
          case "resize": {
            // one dim of one input other than the others bind it to (or than fixed), its data as long
            if (dims.length === 0) break;
            dims[f.axis % dims.length] += 1 + (f.pick % 2);
            const n = dims.reduce((a, b) => a * b, 1);
            if (Number.isSafeInteger(n) && n >= 0 && n < 10000) feed.data = sized(feed.data, n);
            break;
          }
          case "shared": {
            const d = feed.data as Float32Array;
            const shared = new (d.constructor as Float32ArrayConstructor)(new SharedArrayBuffer(d.byteLength));
            shared.set(d);
            feed.data = shared;
            break;
          }
        }
      }
      return feeds;
    });
}

describe("compileFeedPlan: validateFeeds's result or undefined, never an acceptance validateFeeds refuses", () => {
  test.each(CASES.map((c) => [c.label, c] as const))("%s", (_label, c) => {
    const plan = compileFeedPlan(c.inputs, c.checks, c.outputs);
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(feedsFor(c), (feeds) => {
        const planned = plan(feeds as never);
        let valid: unknown;
        let error: unknown;
        try {
          valid = validateFeeds(c.inputs, c.checks, feeds as never, c.outputs);
        } catch (e) {
          error = e;
        }
        if (error !== undefined) {
          refused++;
          expect(planned).toBeUndefined();
        } else if (planned !== undefined) {
          accepted++;
          expect({ ...planned }).toEqual({ ...(valid as object) });
          for (const name of Object.keys(planned)) expect(planned[name].data).toBe((valid as typeof planned)[name].data);
        }
      }),
      { numRuns: FUZZ_RUNS || 1000, seed: 18 },
    );
    // both sides of the property were exercised
    expect([accepted > 30, refused > 30]).toEqual([true, true]);
  });

  test("an attached model's plan: a class count the model's output fixes is checked before the run", async () => {
    const { attachLoss } = await import("../src/losses/attach.js");
    const model = identityLogitsModel();
    const attached = attachLoss(model, { loss: "cross_entropy", output: "logits" });
    const { info, contract } = readLossModel(attached.model);
    const checks = splitChecks(contract?.checks ?? [], info.inputs, info.outputs).before;
    const plan = compileFeedPlan(info.inputs, checks, info.outputs);
    const x = { data: new Float32Array(6), dims: [2, 3] };
    expect(plan({ x, target: { data: new BigInt64Array([0n, 2n]), dims: [2] } })).toBeDefined();
    expect(plan({ x, target: { data: new BigInt64Array([0n, 3n]), dims: [2] } })).toBeUndefined();
  });
});

describe("the evaluator's feeds between runs", () => {
  test("a typed array changed in place, or fed again with other dims, gives the new values' loss", async () => {
    const ev = await createEvaluator(buildLoss("cross_entropy", { reduction: "none" }));
    try {
      const input = new Float32Array([1, 2, 3, 4, 5, 6]);
      const target = new BigInt64Array([0n, 1n, 2n]);
      const dims = [2, 3];
      const a = Array.from(
        (await ev.run({ input: { data: input, dims }, target: { data: target.subarray(0, 2), dims: [2] } })).loss.data as Float32Array,
      );
      input[0] = 10; // in place, the same array and dims
      const b = Array.from(
        (await ev.run({ input: { data: input, dims }, target: { data: target.subarray(0, 2), dims: [2] } })).loss.data as Float32Array,
      );
      expect(b[0]).not.toBeCloseTo(a[0], 3);
      expect(b[1]).toBeCloseTo(a[1], 6);
      dims[0] = 3; // the caller's dims array edited: the same array read as 3 x 2
      dims[1] = 2;
      const c = (await ev.run({ input: { data: input, dims }, target: { data: new BigInt64Array([0n, 1n, 1n]), dims: [3] } })).loss;
      expect(c.dims).toEqual([3]);
      // C is 2 in that reading: the class index 2 is refused, not checked against the earlier C = 3
      await expect(ev.run({ input: { data: input, dims: [3, 2] }, target: { data: target, dims: [3] } })).rejects.toThrow(
        exactly("target: expected class indices in [0, 2) or ignoreIndex -100 (C = input dim 1), received 2 at flat index 2"),
      );
    } finally {
      await ev.release();
    }
  });
});
