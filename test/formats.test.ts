/**
 * The tensor-file seam (issue 17): every format of TENSOR_FORMATS through the same checks, the format
 * told by a file's first bytes, and no module outside src/io/ naming a format's codec (eval, streaming
 * and the page use the seam only), so that a new format is one file plus its registry line
 * (docs/adding-an-input-format.md).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { UserError } from "../src/errors.js";
import { type ByteSource, decodeTensorBytes, formatOf, OUTPUT_FORMAT, TENSOR_FORMATS } from "../src/io/formats.js";
import { openTensorFile } from "../src/io/tensor_files.js";
import { TensorFileWriter } from "../src/io/tensor_writer.js";
import { DTYPE_NAMES, typedArrayOf } from "../src/onnx/dtypes.js";
import type { TensorData } from "../src/tensor/tensor.js";
import { exactly, ROOT } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-formats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes in memory as a ByteSource, counting the bytes read. */
function memory(bytes: Uint8Array): ByteSource & { readBytes: number } {
  const src = {
    size: bytes.length,
    readBytes: 0,
    async read(view: Uint8Array, position: number) {
      const part = bytes.subarray(position, position + view.length);
      view.set(part);
      src.readBytes += part.length;
      return part.length;
    },
  };
  return src;
}

/** A [5, 3] tensor of `dtype` with distinct values. */
function tensor(dtype: (typeof DTYPE_NAMES)[number]): TensorData {
  const bytes = new Uint8Array(5 * 3 * typedArrayOf(dtype, new ArrayBuffer(0)).BYTES_PER_ELEMENT);
  for (let i = 0; i < bytes.length; i++) bytes[i] = dtype === "bool" ? i % 2 : (i * 37 + 11) % 251;
  return { dtype, dims: [5, 3], data: typedArrayOf(dtype, bytes.buffer) };
}

const raw = (t: TensorData) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

describe.each(TENSOR_FORMATS.map((f) => [f.name, f] as const))("format %s", (_name, format) => {
  test.each(DTYPE_NAMES)("%s: encode, decode and rows read by offset agree", async (dtype) => {
    const t = tensor(dtype);
    const bytes = format.encode(t);
    expect(format.matches(bytes.subarray(0, format.magicLength))).toBe(true);
    const back = format.decode(bytes, "t");
    expect([back.dtype, back.dims]).toEqual([dtype, [5, 3]]);
    expect(raw(back).equals(raw(t))).toBe(true);
    const src = memory(bytes);
    const opened = await format.open(src, "t");
    expect([opened.dtype, [...opened.dims]]).toEqual([dtype, [5, 3]]);
    // rows 2..3 by offset: the header and those rows read, not the file
    const rowBytes = raw(t).length / 5;
    src.readBytes = 0;
    const view = new Uint8Array(2 * rowBytes);
    await opened.readRows(view, 2);
    expect(Buffer.from(view).equals(raw(t).subarray(2 * rowBytes, 4 * rowBytes))).toBe(true);
    expect(src.readBytes).toBe(2 * rowBytes);
    // the header of a file written in chunks, then the rows: the same file as encode gives
    expect(Buffer.concat([format.header(dtype, [5, 3]), raw(t)]).equals(Buffer.from(bytes))).toBe(true);
  });

  test("a file shorter than its header says is refused in one line, at open and at decode", async () => {
    const bytes = format.encode(tensor("float32"));
    const short = bytes.subarray(0, bytes.length - 1);
    const open = await format.open(memory(short), "short.x").then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(open).toBeInstanceOf(UserError);
    expect(open?.message).toMatch(/^short\.x: [^\n]+$/);
    expect(() => format.decode(short, "short.x")).toThrow(UserError);
  });
});

describe("the registry", () => {
  test("a file's format is told by its first bytes; bytes of no format: every format read, and what they look like", () => {
    for (const f of TENSOR_FORMATS) expect(formatOf(f.encode(tensor("int64")), "t")).toBe(f);
    expect(() => decodeTensorBytes(new TextEncoder().encode("a text file, not a tensor"), "notes.txt")).toThrow(
      exactly('notes.txt: expected a .npy, .npz or .safetensors file, received text ("a text file, not"...), not a binary tensor file'),
    );
    expect(() => decodeTensorBytes(Uint8Array.of(0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8), "noise.bin")).toThrow(
      exactly("noise.bin: expected a .npy, .npz or .safetensors file, received other bytes"),
    );
    // a ModelProto: ir_version 8, then producer_name
    const model = Uint8Array.of(0x08, 0x08, 0x12, 0x0b, ...new TextEncoder().encode("onnx-losses"));
    expect(() => decodeTensorBytes(model, "loss.onnx")).toThrow(
      exactly(
        "loss.onnx: expected a .npy, .npz or .safetensors file, received an ONNX model (a model is evaluated with eval MODEL.onnx, not fed as an input)",
      ),
    );
    const hdf5 = Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0);
    expect(() => decodeTensorBytes(hdf5, "w.h5")).toThrow(
      exactly(
        "w.h5: expected a .npy, .npz or .safetensors file, received an HDF5 file (a Keras .h5); save each tensor with numpy.save or numpy.savez (a torch tensor: t.detach().cpu().numpy()), or safetensors",
      ),
    );
    // a zip is an archive (io/archives.ts, test/archives.test.ts): its index is read, an array picked by key
    expect(() => decodeTensorBytes(new TextEncoder().encode("PK\u0003\u0004 a zip"), "batch.npz", { key: "input" })).toThrow(
      /^batch\.npz: not a readable \.npz \(zip\) archive: no end of central directory record/,
    );
    expect(TENSOR_FORMATS).toContain(OUTPUT_FORMAT);
  });

  test("openTensorFile and TensorFileWriter on disk: rows written in chunks read back by offset", async () => {
    const t = tensor("float64");
    const file = join(dir, `t${OUTPUT_FORMAT.extension}`);
    const w = await TensorFileWriter.create(file, t.dtype, t.dims);
    const rowElems = 3;
    for (let r = 0; r < 5; r += 2) await w.append((t.data as Float64Array).subarray(r * rowElems, Math.min(5, r + 2) * rowElems));
    await w.close();
    expect(readFileSync(file).equals(Buffer.from(OUTPUT_FORMAT.encode(t)))).toBe(true);
    const opened = await openTensorFile(file, "t.npy");
    try {
      expect([opened.dtype, opened.dims, opened.rowElems, opened.rowBytes]).toEqual(["float64", [5, 3], 3, 24]);
      const view = new Uint8Array(24);
      await opened.readRows(view, 4);
      expect(Array.from(new Float64Array(view.buffer))).toEqual(Array.from((t.data as Float64Array).subarray(12)));
    } finally {
      await opened.close();
    }
  });

  test("no module outside src/io/ names a format's codec: eval, streaming and the page use the seam", () => {
    const codecs = TENSOR_FORMATS.map((f) => `io/${f.name}.js`);
    const files = (d: string): string[] =>
      readdirSync(d).flatMap((f) => {
        const p = join(d, f);
        if (statSync(p).isDirectory()) return f === "generated" || f === "node_modules" || f === "dist" ? [] : files(p);
        return /\.(ts|mts)$/.test(f) ? [p] : [];
      });
    const offenders = [...files(join(ROOT, "src")), ...files(join(ROOT, "web"))]
      .filter((f) => !relative(ROOT, f).startsWith(`src${sep}io${sep}`))
      // the public API re-exports the .npy codec by name (decodeNpy, encodeNpy)
      .filter((f) => relative(ROOT, f) !== join("src", "shared.ts"))
      .filter((f) => codecs.some((c) => readFileSync(f, "utf8").includes(c)))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
    writeFileSync(join(dir, "probe.ts"), 'import { decodeNpy } from "../src/io/npy.js";');
    expect(codecs.some((c) => readFileSync(join(dir, "probe.ts"), "utf8").includes(c))).toBe(true); // the check sees one
  });
});
