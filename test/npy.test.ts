/** The .npy reader and writer, against files written by NumPy. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { decodeNpy, encodeNpy, MAX_NPY_HEADER_BYTES, NpyError } from "../src/io/npy.js";
import { DTYPE_NAMES, DTYPES } from "../src/onnx/dtypes.js";
import { FIXTURES, loadFixtures, num, exactly } from "./helpers.js";

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

  test("names what it received instead: a zip (.pt, .npz), a pickle, HDF5, safetensors, with how to save .npy; and an .npy given as a model", async () => {
    const save = "; save each tensor with numpy.save (a torch tensor: np.save(path, t.detach().cpu().numpy()))";
    const header = new TextEncoder().encode('{"x":{}}');
    const safetensors = new Uint8Array(8 + header.length);
    new DataView(safetensors.buffer).setBigUint64(0, BigInt(header.length), true);
    safetensors.set(header, 8);
    const cases: [Uint8Array, string][] = [
      [
        Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 0),
        "a zip archive (a PyTorch .pt or .pth from torch.save, or a NumPy .npz)",
      ],
      [Uint8Array.of(0x80, 0x02, 0x63, 0x5f, 0, 0, 0, 0, 0, 0, 0, 0), "a Python pickle (torch.save's legacy format, or pickle.dump)"],
      [Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0), "an HDF5 file (a Keras .h5)"],
      [safetensors, "a safetensors file"],
    ];
    for (const [bytes, what] of cases) {
      expect(() => decodeNpy(bytes, "batch")).toThrow(
        new NpyError(`batch: expected a .npy file (magic \\x93NUMPY), received ${what}${save}`),
      );
    }
    const { decodeModel } = await import("../src/onnx/codec.js");
    const npyBytes = new Uint8Array(readFileSync(join(FIXTURES, "npy", "logits_f32.npy")));
    expect(() => decodeModel(npyBytes, "logits.npy")).toThrow(
      exactly("logits.npy: expected an ONNX model (ModelProto bytes), received a .npy file"),
    );
  });

  test("refuses other bytes and truncated data", () => {
    expect(() => decodeNpy(new TextEncoder().encode("hello world"), "x.npy")).toThrow(
      exactly("x.npy: expected a .npy file (magic \\x93NUMPY), received other bytes"),
    );
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, "npy", "logits_f32.npy")));
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 4), "cut.npy")).toThrow(
      exactly("cut.npy: expected 160 data bytes for float32 [8,5], received 156"),
    );
  });
});

/** .npy bytes with a hand-written header dict (format 2.0, so any length), padded as numpy pads. */
function withHeader(dict: string, data: Uint8Array = new Uint8Array(0), pad = 0): Uint8Array {
  let header = dict + " ".repeat(pad);
  header += `${" ".repeat((64 - ((12 + header.length + 1) % 64)) % 64)}\n`;
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(12 + head.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 0);
  new DataView(out.buffer).setUint32(8, head.length, true);
  out.set(head, 12);
  out.set(data, 12 + head.length);
  return out;
}

describe(".npy headers from files nobody vouches for", () => {
  const two = new Uint8Array(Float32Array.from([1.5, -2]).buffer);

  test("a header numpy reads differently is refused: duplicated or unknown keys", () => {
    expect(() =>
      decodeNpy(withHeader("{'descr': '<f4', 'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", two), "dup.npy"),
    ).toThrow(
      /^dup\.npy: expected a \.npy header dict with descr, fortran_order and shape \(each key once, not "descr" twice at character \d+\), received /,
    );
    expect(() => decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", two), "extra.npy")).toThrow(
      exactly(
        `extra.npy: expected a .npy header dict with descr, fortran_order and shape (only the keys descr, fortran_order and shape, not "extra" at character 63), received "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '..."`,
      ),
    );
    expect(() => decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': False}", two), "short.npy")).toThrow(
      exactly(
        `short.npy: expected a .npy header dict with descr, fortran_order and shape (the key shape at character 40), received "{'descr': '<f4', 'fortran_order': False}"`,
      ),
    );
    expect(() =>
      decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999,), }", two), "big.npy"),
    ).toThrow(
      exactly(
        `big.npy: expected a .npy header dict with descr, fortran_order and shape (a dim below 2^53 (99999999999999999) at character 68), received "{'descr': '<f4', 'fortran_order': False, 'shape': (999999..."`,
      ),
    );
  });

  test("a long but valid header is read (numpy writes it too); one longer than the limit is refused, naming the limit", () => {
    const long = withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", two, 100 * 1024);
    expect(Array.from(decodeNpy(long, "long.npy").data as Float32Array)).toEqual([1.5, -2]);
    const tooLong = withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", two, MAX_NPY_HEADER_BYTES);
    expect(() => decodeNpy(tooLong, "huge.npy")).toThrow(
      exactly(`huge.npy: expected a .npy header of at most ${MAX_NPY_HEADER_BYTES} bytes, received one of ${MAX_NPY_HEADER_BYTES + 116}`),
    );
  });
});
