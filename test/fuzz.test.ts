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
import { readLossModel } from "../src/losses/verify.js";
import { META } from "../src/model/contract.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";

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
    const token = fc.constantFrom("{", "}", "(", ")", ",", ":", " ", "'descr'", "'shape'", "'fortran_order'", "'<f4'", "'<i8'", "True", "False", "3", "0", "99999999999999999999", "'", '"', "L");
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (tokens) => {
        userErrorOr(() => decodeNpy(headerOf(tokens.join("")), "fuzz.npy"));
      }),
      { numRuns: 3000 },
    );
  });

  test("any mutation of a valid file: the same tensor, another valid one, or an NpyError", () => {
    const valid = encodeNpy({ dtype: "float32", dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(valid.length), (edits, cut) => {
        const bytes = valid.slice(0, Math.max(cut, 0) || valid.length);
        for (const [i, v] of edits) if (i < bytes.length) bytes[i] = v;
        const r = userErrorOr(() => decodeNpy(bytes, "fuzz.npy"));
        if (!(r instanceof UserError)) expect(r.data.length).toBe(r.dims.reduce((a, b) => a * b, 1));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("models", () => {
  const models = CATALOGUE.map((d) => buildLoss(d.name).model);
  const keys = Object.values(META);
  const jsonish = fc.oneof(
    fc.json(),
    fc.constantFrom("", "[]", "{}", "[null]", "null", '{"reduction":"sum","rank":2}', "1", '"x"', "[[[[[[[[[[]]]]]]]]]]", "2", "none", "webgpu", "float64", "cross_entropy"),
  );

  test("any metadata edit: a verified contract or a ModelContractError, never anything else", () => {
    fc.assert(
      fc.property(fc.nat(models.length - 1), fc.array(fc.tuple(fc.constantFrom(...keys, "onnx_losses.x"), fc.option(jsonish)), { minLength: 1, maxLength: 3 }), (k, edits) => {
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
      }),
      { numRuns: 1500 },
    );
  });

  test("any byte mutation of a model: decoded, or a user error naming the file", () => {
    fc.assert(
      fc.property(fc.nat(models.length - 1), fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (k, edits) => {
        const bytes = models[k].slice();
        for (const [i, v] of edits) bytes[i % bytes.length] = v;
        const r = userErrorOr(() => readLossModel(bytes, "fuzz.onnx"));
        if (r instanceof UserError) expect(r.message.startsWith("fuzz.onnx: ")).toBe(true);
        else expect(readModel(bytes).inputs.length).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 1500 },
    );
  });
});
