/** The .npy reader and writer, against files written by NumPy. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { decodeNpy, encodeNpy, NpyError } from "../src/io/npy.js";
import { DTYPE_NAMES, DTYPES } from "../src/onnx/dtypes.js";
import { FIXTURES, loadFixtures, num } from "./helpers.js";

/** Every dtype of the table, as the .npy errors must list them (float16 included). */
const SUPPORTED = DTYPE_NAMES.map((d) => `${d} (${DTYPES[d].npy})`).join(", ");
test("the supported list is the whole dtype table", () => expect(SUPPORTED).toContain("float16 (<f2)"));

const npy = (f: string) => decodeNpy(new Uint8Array(readFileSync(join(FIXTURES, "npy", f))), f);
const sample = loadFixtures("samples.json").find((c) => c.loss === "cross_entropy")!;

describe(".npy", () => {
  test("reads NumPy's float32, float64, int64, int32, scalar and version 2 files", () => {
    const f32 = npy("logits_f32.npy");
    expect(f32.dtype).toBe("float32");
    expect(f32.dims).toEqual([8, 5]);
    expect(Array.from(f32.data as Float32Array)).toEqual(Array.from(Float32Array.from(sample.inputs.input.data, num)));
    expect(npy("logits_f64.npy")).toMatchObject({ dtype: "float64", dims: [8, 5] });
    expect(Array.from(npy("v2_f32.npy").data as Float32Array)).toEqual(Array.from(f32.data as Float32Array));
    const t = npy("target_i64.npy");
    expect(t.dtype).toBe("int64");
    expect(Array.from(t.data as BigInt64Array, Number)).toEqual(sample.inputs.target.data.map(num));
    expect(npy("target_i32.npy")).toMatchObject({ dtype: "int32", dims: [8] });
    expect(npy("scalar_f32.npy")).toMatchObject({ dims: [], data: new Float32Array([1.5]) });
  });

  test("writes files it (and NumPy's format) reads back", () => {
    for (const t of [npy("logits_f32.npy"), npy("target_i64.npy"), npy("scalar_f32.npy")]) {
      const back = decodeNpy(encodeNpy(t));
      expect(back.dims).toEqual(t.dims);
      expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
      // the header is padded so that data starts on a 64-byte boundary, as NumPy writes it
      expect(encodeNpy(t).indexOf(0x0a) % 64).toBe(63);
    }
  });

  test.each([
    ["fortran_f32.npy", "fortran_f32.npy: expected C order, received fortran_order True (save with np.ascontiguousarray)"],
    ["big_endian_f32.npy", `big_endian_f32.npy: expected a little-endian dtype of ${SUPPORTED}, received >f4`],
    ["uint8.npy", `uint8.npy: expected a little-endian dtype of ${SUPPORTED}, received |u1`],
  ])("refuses %s", (f, message) => {
    expect(() => npy(f)).toThrow(NpyError);
    expect(() => npy(f)).toThrow(message);
  });

  test("refuses other bytes and truncated data", () => {
    expect(() => decodeNpy(new TextEncoder().encode("hello world"), "x.npy")).toThrow("x.npy: expected a .npy file (magic \\x93NUMPY), received other bytes");
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, "npy", "logits_f32.npy")));
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 4), "cut.npy")).toThrow("cut.npy: expected 160 data bytes for float32 [8,5], received 156");
  });
});
