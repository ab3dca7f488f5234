/**
 * Generated hostile bytes (fast-check): a .npy header, a model's metadata and a model's bytes can be
 * anything, and the only outcomes are a value or one of the project's user errors, never a crash, a
 * hang or a silent misread. Each failure fast-check finds becomes a case in hostile.test.ts.
 */
import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { readModel } from "../src/builder/reader.js";
import { UserError } from "../src/errors.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import { readLossModel } from "../src/models/kinds.js";
import { META } from "../src/model/contract.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";
import { tensorNumbers } from "../src/tensor/tensor.js";
import { seededRandom as seeded } from "../src/util/random.js";
import { firstMismatch } from "./helpers.js";
import { referenceFor, referenceGradFor } from "./reference.js";

/** Cases per property: a few hundred in npm test; ONNX_LOSSES_FUZZ_RUNS (npm run test:fuzz: 10000) for more. */
const FUZZ_RUNS = Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || 0;
const runs = (n: number) => FUZZ_RUNS || n;

/** Run f; a UserError is an allowed outcome, anything else thrown fails the property. */
function userErrorOr<T>(f: () => T): T | UserError {
  try {
    return f();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
}

const headerOf = (dict: string) => {
  const text = `${dict}\n`;
  const head = new TextEncoder().encode(text);
  const out = new Uint8Array(10 + head.length + 64);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  return out;
};

describe(".npy", () => {
  test("any header text: a tensor or an NpyError", () => {
    const token = fc.constantFrom(
      "{",
      "}",
      "(",
      ")",
      ",",
      ":",
      " ",
      "'descr'",
      "'shape'",
      "'fortran_order'",
      "'<f4'",
      "'<i8'",
      "True",
      "False",
      "3",
      "0",
      "99999999999999999999",
      "'",
      '"',
      "L",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (tokens) => {
        userErrorOr(() => decodeNpy(headerOf(tokens.join("")), "fuzz.npy"));
      }),
      { numRuns: runs(3000) },
    );
  });

  test("any mutation of a valid file: the same tensor, another valid one, or an NpyError", () => {
    const valid = encodeNpy({ dtype: "float32", dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const bytes = valid.slice(0, Math.max(cut, 0) || valid.length);
          for (const [i, v] of edits) if (i < bytes.length) bytes[i] = v;
          const r = userErrorOr(() => decodeNpy(bytes, "fuzz.npy"));
          if (!(r instanceof UserError)) expect(r.data.length).toBe(r.dims.reduce((a, b) => a * b, 1));
        },
      ),
      { numRuns: runs(3000) },
    );
  });
});

describe("models", () => {
  const models = CATALOGUE.map((d) => buildLoss(d.name).model);
  const keys = Object.values(META);
  const jsonish = fc.oneof(
    fc.json(),
    fc.constantFrom(
      "",
      "[]",
      "{}",
      "[null]",
      "null",
      '{"reduction":"sum","rank":2}',
      "1",
      '"x"',
      "[[[[[[[[[[]]]]]]]]]]",
      "2",
      "none",
      "webgpu",
      "float64",
      "cross_entropy",
    ),
  );

  test("any metadata edit: a verified contract or a ModelContractError, never anything else", () => {
    fc.assert(
      fc.property(
        fc.nat(models.length - 1),
        fc.array(fc.tuple(fc.constantFrom(...keys, "onnx_losses.x"), fc.option(jsonish)), { minLength: 1, maxLength: 3 }),
        (k, edits) => {
          const m = decodeModel(models[k]);
          const meta = new Map(m.metadataProps.map((p) => [p.key ?? "", p.value ?? ""]));
          for (const [key, value] of edits) {
            if (value === null) meta.delete(key);
            else meta.set(key, value);
          }
          const bytes = encodeModel({ ...m, metadataProps: [...meta].map(([key, value]) => ({ key, value })) });
          const r = userErrorOr(() => readLossModel(bytes, "fuzz.onnx"));
          if (!(r instanceof UserError) && r.contract) {
            // what passed must be exactly what the catalogue builds from it
            expect(r.contract.checks).toEqual(buildLoss(r.contract.loss, r.contract.options).checks);
          }
        },
      ),
      { numRuns: runs(1500) },
    );
  });

  test("any byte mutation of a model: decoded, or a user error naming the file", () => {
    fc.assert(
      fc.property(
        fc.nat(models.length - 1),
        fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (k, edits) => {
          const bytes = models[k].slice();
          for (const [i, v] of edits) bytes[i % bytes.length] = v;
          const r = userErrorOr(() => readLossModel(bytes, "fuzz.onnx"));
          if (r instanceof UserError) expect(r.message.startsWith("fuzz.onnx: ")).toBe(true);
          else expect(readModel(bytes).inputs.length).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: runs(1500) },
    );
  });
});

/**
 * Options and shapes: any options (mostly plausible values, sometimes any JSON value or an unknown
 * key) are either refused naming the option, or accepted; accepted ones are evaluated on generated
 * data of ranks 1 to 5, zero-size dims and extreme logits and equal the float64 reference.
 */
describe("options and shapes against the float64 reference", () => {
  const CLASS_LOSSES = new Set(["cross_entropy", "nll_loss", "softmax_focal_loss"]);
  const list = (min: number, max: number) => fc.array(fc.double({ min, max, noNaN: true }), { minLength: 1, maxLength: 5 });
  /** A plausible value for each option name, and now and then any JSON value. */
  const optionValue = (loss: string, name: string): fc.Arbitrary<unknown> => {
    const plausible: Record<string, fc.Arbitrary<unknown>> = {
      reduction: fc.constantFrom("mean", "sum", "none"),
      weight: fc.option(list(0, 4), { nil: null }),
      posWeight: fc.option(list(0, 4), { nil: null }),
      ignoreIndex: fc.constantFrom(-100, -1, 0, 1, 2, 7),
      labelSmoothing: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
      targetType: fc.constantFrom("index", "probs"),
      gamma: fc.constantFrom(0, 0.5, 1, 2, 3.5),
      alpha:
        loss === "softmax_focal_loss"
          ? fc.oneof(fc.constant(null), fc.double({ min: 0, max: 1, noNaN: true }), list(0, 2))
          : fc.oneof(fc.constant(null), fc.double({ min: -1, max: 1, noNaN: true })),
      balanceIndex: fc.integer({ min: 0, max: 3 }),
      oneHotClamp: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.5, noNaN: true })),
      gradient: fc.boolean(),
    };
    return fc.oneof({ arbitrary: plausible[name] ?? fc.jsonValue(), weight: 9 }, { arbitrary: fc.jsonValue(), weight: 1 });
  };
  const optionsFor = (loss: string) => {
    const names = CATALOGUE.find((d) => d.name === loss)!
      .optionList.map((o) => o.name)
      .filter((n) => n !== "rank");
    return fc
      .record(Object.fromEntries(names.map((n) => [n, optionValue(loss, n)])), { requiredKeys: [] })
      .chain((o) =>
        fc.oneof(
          { arbitrary: fc.constant(o), weight: 19 },
          { arbitrary: fc.string({ minLength: 1, maxLength: 8 }).map((k) => ({ ...o, [k]: 1 })), weight: 1 },
        ),
      );
  };
  const logit = fc.oneof(
    { arbitrary: fc.double({ min: -10, max: 10, noNaN: true }), weight: 8 },
    { arbitrary: fc.constantFrom(-1e4, 1e4, -30, 30, 0), weight: 2 },
  );

  test.each(CATALOGUE.map((d) => d.name))(
    "%s",
    async (loss) => {
      await fc.assert(
        fc.asyncProperty(optionsFor(loss), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (options, seed) => {
          let graph: ReturnType<typeof buildLoss> | undefined;
          const dims = shapeFor(loss, options, seed);
          try {
            graph = buildLoss(loss, { ...options, rank: dims.length });
          } catch (e) {
            // refused: one line naming the loss and the option (or the unknown key)
            expect(e).toBeInstanceOf(UserError);
            expect((e as Error).message).toMatch(new RegExp(`^${loss}: (option |options |unknown option )`));
            return;
          }
          const o = graph.options as Record<string, unknown>;
          const r = seeded(seed);
          const size = dims.reduce((a, b) => a * b, 1);
          const draw = () => fc.sample(logit, { numRuns: 1, seed: Math.floor(r() * 2 ** 31) })[0];
          const x = Float32Array.from({ length: size }, () => (loss === "binary_cross_entropy" ? r() : draw()));
          if (loss === "binary_cross_entropy" && size > 0) x[0] = r() < 0.5 ? 0 : 1; // the clamp at log 0
          let target: { data: Float32Array | BigInt64Array; dims: number[] };
          if (CLASS_LOSSES.has(loss) && o.targetType !== "probs") {
            const C = dims[1];
            const items = [dims[0], ...dims.slice(2)];
            const n = items.reduce((a, b) => a * b, 1);
            target = {
              dims: items,
              data: BigInt64Array.from({ length: n }, () => BigInt(r() < 0.15 ? (o.ignoreIndex as number) : Math.floor(r() * C))),
            };
          } else {
            target = { dims, data: Float32Array.from({ length: size }, () => (r() < 0.5 ? Math.round(r()) : r())) };
          }
          const ev = await createEvaluator(graph);
          const outs = await ev.run({ input: { data: x, dims }, target });
          const got = outs.loss;
          await ev.release();
          // the graph holds float options as float32 constants (as PyTorch holds float32 weight tensors):
          // the reference takes the weights and eps rounded the same way (a weight of 5e-324 is 0 in both,
          // so a mean over it is 0 / 0)
          const f32 = (v: unknown): unknown => (typeof v === "number" ? Math.fround(v) : Array.isArray(v) ? v.map(f32) : v);
          const o32 = Object.fromEntries(
            Object.entries(o).map(([k, v]) => [
              k,
              ["weight", "posWeight", "labelSmoothing", "alpha"].includes(k) && !(typeof v === "number" && v < 0) ? f32(v) : v,
            ]),
          );
          const want = referenceFor(
            loss,
            { dims, data: x },
            { dims: target.dims, data: Array.from(target.data as ArrayLike<number | bigint>, Number) },
            o32,
          );
          // (1 - p_t)^gamma magnifies float32's rounding of 1 - p_t about gamma times: past gamma 50 (a value
          // only the any-JSON generator draws) float32 evaluation, ours or PyTorch's, parts from float64
          if (typeof o.gamma === "number" && o.gamma > 50) return;
          // a weight below float32's normal range (2^-126) is a subnormal constant, whose products keep a
          // bit or two: any float32 evaluation parts from float64 there
          const subnormal = (v: unknown) => Array.isArray(v) && v.some((w) => w !== 0 && Math.abs(Math.fround(w)) < 2 ** -126);
          if (subnormal(o.weight) || subnormal(o.posWeight) || subnormal(o.alpha)) return;
          // a weight near float32's largest value (3.4e38) overflows float32 sums, ours and PyTorch's alike
          const items = referenceFor(
            loss,
            { dims, data: x },
            { dims: target.dims, data: Array.from(target.data as ArrayLike<number | bigint>, Number) },
            { ...o32, reduction: "none" },
          );
          if (items.reduce((a, v) => a + Math.abs(v), 0) > 1e37) return;
          if (o.gradient === true) checkGradient(loss, o32, dims, x, target, outs.input_grad ? tensorNumbers(outs.input_grad) : undefined);
          // BCE on logits computes relu(x) - x y (as PyTorch does): for a soft y and |x| near 1e4 that
          // difference keeps float32's absolute precision of x, not of the result. Allow that much there.
          const gotN = tensorNumbers(got);
          if (["binary_cross_entropy_with_logits", "sigmoid_focal_loss"].includes(loss) && want.length > 0) {
            const ax = Array.from(x, Math.abs);
            const per =
              o.reduction === "none" ? ax : [ax.reduce((a, b) => a + b, 0) / (o.reduction === "mean" ? Math.max(1, ax.length) : 1)];
            const bad = want.findIndex(
              (w, k) =>
                !(Math.abs(gotN[k] - w) <= 2e-5 * Math.max(1, Math.abs(w)) + 2 ** -21 * per[k]) &&
                !(Number.isNaN(w) && Number.isNaN(gotN[k])),
            );
            if (bad >= 0) throw new Error(`${loss} ${JSON.stringify(o)} dims [${dims}]: at ${bad} got ${gotN[bad]}, want ${want[bad]}`);
            return;
          }
          const i = firstMismatch(gotN, want, 2e-5);
          if (i >= 0) throw new Error(`${loss} ${JSON.stringify(o)} dims [${dims}]: at ${i} got ${tensorNumbers(got)[i]}, want ${want[i]}`);
        }),
        { numRuns: runs(60), seed: Number(process.env.ONNX_LOSSES_FUZZ_SEED ?? 42) },
      );
    },
    600000,
  );
});

/** Shapes consistent with the options: C from a weight or alpha list, the last dim from a BCE weight list. */
function shapeFor(loss: string, options: Record<string, unknown>, seed: number): number[] {
  const r = seeded(seed ^ 0x5bd1e995);
  const dim = (max: number) => Math.floor(r() * (max + 1));
  const len = (v: unknown) => (Array.isArray(v) && v.length > 1 ? v.length : undefined);
  if (["cross_entropy", "nll_loss", "softmax_focal_loss"].includes(loss)) {
    const rank = 2 + dim(3);
    const bi = typeof options.balanceIndex === "number" && options.balanceIndex >= 0 ? options.balanceIndex : 0;
    const listLength = (v: unknown) => (Array.isArray(v) ? v.length : undefined); // a class weight list fixes C, even of 1
    const C = listLength(options.weight) ?? listLength(options.alpha) ?? Math.max(1 + dim(4), bi + 1);
    return [dim(4), C, ...Array.from({ length: rank - 2 }, () => dim(2))];
  }
  const rank = 1 + dim(4);
  const dims = Array.from({ length: rank }, () => dim(3));
  const last = len(options.weight) ?? len(options.posWeight);
  if (last !== undefined) dims[rank - 1] = last;
  return dims;
}

/**
 * input_grad against the float64 closed-form gradient (test/reference.ts) at every element, and that
 * closed form against the slope of the float64 reference loss (central differences) at a few elements:
 * the graphs' closed forms checked by an independent derivation, which is itself checked by the loss.
 */
function checkGradient(
  loss: string,
  o: Record<string, unknown>,
  dims: number[],
  x: Float32Array,
  target: { data: Float32Array | BigInt64Array; dims: number[] },
  grad: readonly number[] | undefined,
): void {
  if (!grad) throw new Error(`${loss} ${JSON.stringify(o)}: gradient: true but no input_grad`);
  const t = { dims: target.dims, data: Array.from(target.data as ArrayLike<number | bigint>, Number) };
  const ref = referenceGradFor(loss, { dims, data: x }, t, o);
  // float32 against float64: relative to each element (a gradient is a few more float32 steps than its
  // loss: 5e-5), plus float32's rounding of terms the size of the gradient at uniform probabilities
  // (p_j - [j = t] cancels where p_t is near 1, as in PyTorch's float32 backward), plus 1e-8 (the loss's
  // own check allows 2e-5 absolute)
  const middle = new Float64Array(x.length).fill(loss === "binary_cross_entropy" ? 0.5 : 0);
  const largest = (v: number[]) => v.reduce((a, e) => (Number.isFinite(e) ? Math.max(a, Math.abs(e)) : a), 0);
  const scale = Math.max(largest(ref), largest(referenceGradFor(loss, { dims, data: middle }, t, o)));
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i])) continue; // a mean over no items (0 / 0): the loss is NaN too
    if (!(Math.abs(grad[i] - ref[i]) <= 5e-5 * Math.abs(ref[i]) + 2e-6 * scale + 1e-8)) {
      throw new Error(`${loss} ${JSON.stringify(o)} dims [${dims}]: input_grad[${i}] = ${grad[i]}, float64 closed form ${ref[i]}`);
    }
  }
  const reduction = o.reduction === "none" ? "sum" : o.reduction;
  const total = (v: Float64Array) => referenceFor(loss, { dims, data: v }, t, { ...o, reduction })[0];
  const picks = [0, Math.floor(x.length / 2), x.length - 1].filter((i, j, a) => i >= 0 && i < x.length && a.indexOf(i) === j);
  for (const i of picks) {
    const h = 1e-6 * Math.max(1, Math.abs(x[i]));
    if (loss === "binary_cross_entropy" && (x[i] - h <= 0 || x[i] + h >= 1)) continue; // the clamped logs' edges
    const up = Float64Array.from(x);
    const down = Float64Array.from(x);
    up[i] += h;
    down[i] -= h;
    const fd = (total(up) - total(down)) / (up[i] - down[i]);
    if (!Number.isFinite(fd)) continue; // a mean over no items
    if (!(Math.abs(ref[i] - fd) <= 1e-4 * Math.max(1, Math.abs(fd))))
      throw new Error(
        `${loss} ${JSON.stringify(o)} dims [${dims}]: float64 closed form [${i}] = ${ref[i]}, slope of the reference loss ${fd}`,
      );
  }
}
