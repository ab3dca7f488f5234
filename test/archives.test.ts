/**
 * Archives of named arrays (issue 19): .npz written by numpy (np.savez, np.savez_compressed) and
 * .safetensors (scripts/make_archive_fixtures.py), decoded whole and read by offset, at parity with the
 * same arrays as .npy files through eval; hostile archives (zip bombs, truncation, duplicate names,
 * directories and headers that lie) refused in one line naming the file, named cases and seeded
 * fast-check mutations; PyTorch pickles refused with what to save instead.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { deflateSync } from "fflate";
import { runCli } from "../src/cli/program.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { UserError } from "../src/errors.js";
import {
  archiveKind,
  decodeNpz,
  decodeSafetensors,
  MAX_INFLATED_BYTES,
  MAX_SAFETENSORS_HEADER_BYTES,
  openArchiveMember,
  readTensors,
} from "../src/io/archives.js";
import type { ByteSource } from "../src/io/formats.js";
import { decodeTensorBytes } from "../src/io/formats.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { DTYPES } from "../src/onnx/dtypes.js";
import { sizeOf, type TensorData } from "../src/tensor/tensor.js";
import { ROOT } from "./helpers.js";

const FIX = join(ROOT, "test", "fixtures", "archives");
const fixture = (f: string) => new Uint8Array(readFileSync(join(FIX, f)));
const dir = mkdtempSync(join(tmpdir(), "onnx-losses-archives-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FUZZ_RUNS = Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || 0;
const runs = (n: number) => FUZZ_RUNS || n;

const raw = (t: TensorData) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const same = (a: TensorData, b: TensorData) =>
  a.dtype === b.dtype && JSON.stringify(a.dims) === JSON.stringify(b.dims) && raw(a).equals(raw(b));

function memory(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(view, position) {
      const part = bytes.subarray(position, position + view.length);
      view.set(part);
      return part.length;
    },
  };
}

/** The one-line refusal of `f`, a UserError naming `shown`. */
function refusal(f: () => unknown, shown: string): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    const m = (e as Error).message;
    expect(m.startsWith(`${shown}: `)).toBe(true);
    expect(m).not.toContain("\n");
    return m;
  }
  throw new Error("expected a refusal");
}

// ---- a small zip writer for hostile cases: members as given, sizes and offsets overridable

interface Entry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  size?: number;
  csize?: number;
  offset?: number;
  crc?: number;
}

function crc32(b: Uint8Array): number {
  let c = -1;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ -1) >>> 0;
}

function zip(entries: Entry[], opts: { cdOffset?: number; count?: number; zip64?: boolean } = {}): Uint8Array {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let at = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.deflate ? Buffer.from(deflateSync(e.data)) : Buffer.from(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(e.crc ?? crc32(e.data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.deflate ? 8 : 0, 10);
    c.writeUInt32LE(e.crc ?? crc32(e.data), 16);
    c.writeUInt32LE(e.csize ?? body.length, 20);
    c.writeUInt32LE(e.size ?? e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(e.offset ?? at, 42);
    let extra = Buffer.alloc(0);
    if (opts.zip64) {
      // sizes and offset in the zip64 extra field, as zipfile writes them for members of 4 GiB or more
      extra = Buffer.alloc(28);
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.size ?? e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(e.csize ?? body.length), 12);
      extra.writeBigUInt64LE(BigInt(e.offset ?? at), 20);
      c.writeUInt32LE(0xffffffff, 20);
      c.writeUInt32LE(0xffffffff, 24);
      c.writeUInt32LE(0xffffffff, 42);
      c.writeUInt16LE(28, 30);
    }
    central.push(c, name, extra);
    parts.push(local, name, body);
    at += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeBigUInt64LE(BigInt(opts.count ?? entries.length), 24);
    rec.writeBigUInt64LE(BigInt(opts.count ?? entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(opts.cdOffset ?? at), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(at + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    end.writeUInt32LE(0xffffffff, 12);
    end.writeUInt32LE(0xffffffff, 16);
    return new Uint8Array(Buffer.concat([...parts, cd, rec, loc, end]));
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.count ?? entries.length, 8);
  end.writeUInt16LE(opts.count ?? entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(opts.cdOffset ?? at, 16);
  return new Uint8Array(Buffer.concat([...parts, cd, end]));
}

function safetensors(header: unknown, data: Uint8Array): Uint8Array {
  return safetensorsText(JSON.stringify(header), data);
}

/** A safetensors file of a header given as text (a key twice, which JSON.stringify cannot write). */
function safetensorsText(header: string, data: Uint8Array): Uint8Array {
  const text = Buffer.from(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return new Uint8Array(Buffer.concat([len, text, Buffer.from(data)]));
}

const f32 = (n: number) => encodeNpy({ dtype: "float32", dims: [n], data: Float32Array.from({ length: n }, (_, i) => i) });

describe("fixtures from numpy and the safetensors layout", () => {
  const input = decodeNpy(fixture("input.npy"));
  const target = decodeNpy(fixture("target.npy"));

  test.each(["batch.npz", "batch_compressed.npz", "batch.safetensors"])("%s: the arrays the .npy files hold", (f) => {
    const all = readTensors(fixture(f), f);
    expect(Object.keys(all).sort()).toEqual(["extra", "input", "target"]);
    expect(same(all.input, input)).toBe(true);
    expect(same(all.target, target)).toBe(true);
    expect(Array.from(all.extra.data as Float64Array)).toEqual([0, 1, 2]);
    // one array alone through the seam
    expect(same(decodeTensorBytes(fixture(f), f, { key: "target" }), target)).toBe(true);
  });

  test("decodeNpz and decodeSafetensors by name; the kind told by the first bytes", () => {
    expect(Object.keys(decodeNpz(fixture("named.npz")))).toEqual(["logits", "labels"]);
    expect(Object.keys(decodeSafetensors(fixture("batch.safetensors")))).toEqual(["input", "target", "extra"]);
    expect(archiveKind(fixture("batch.npz").subarray(0, 16), "x")).toBe("npz");
    expect(archiveKind(fixture("batch.safetensors").subarray(0, 16), "x")).toBe("safetensors");
    expect(archiveKind(fixture("input.npy").subarray(0, 16), "x")).toBeUndefined();
  });

  test("safetensors dtypes: BF16 widened to float32 exactly, U8 to int32, F16, I32, BOOL as they are; I16 refused by name", () => {
    const bytes = fixture("dtypes.safetensors");
    const pick = (key: string) => decodeTensorBytes(bytes, "dtypes.safetensors", { key });
    const bf = pick("bf16");
    expect([bf.dtype, bf.dims]).toEqual(["float32", [2, 4]]);
    expect(Array.from(bf.data as Float32Array)).toEqual([1, -2.5, 0.15625, 3, 0, -0, 1024, -7]);
    expect(Object.is((bf.data as Float32Array)[5], -0)).toBe(true);
    expect([pick("f16").dtype, Array.from(pick("f16").data as Uint16Array)]).toEqual(["float16", [0x3e00, 0xc000]]);
    expect([pick("i32").dtype, Array.from(pick("i32").data as Int32Array)]).toEqual(["int32", [1, 2, 3]]);
    expect([pick("u8").dtype, Array.from(pick("u8").data as Int32Array)]).toEqual(["int32", [0, 7, 255]]);
    expect([pick("bool").dtype, Array.from(pick("bool").data as Uint8Array)]).toEqual(["bool", [1, 0]]);
    expect(refusal(() => pick("i16"), "dtypes.safetensors")).toMatch(/tensor i16: dtype I16 is not read \(expected one of F32, .*BF16/);
    expect(refusal(() => readTensors(bytes, "dtypes.safetensors"), "dtypes.safetensors")).toMatch(/I16/);
  });

  test.each(["batch.npz", "batch_compressed.npz", "batch.safetensors", "dtypes.safetensors"])(
    "%s: rows read by offset equal the decoded rows, in order and after going back",
    async (f) => {
      const bytes = fixture(f);
      const keys = f === "dtypes.safetensors" ? ["bf16", "u8"] : ["input", "target"];
      for (const key of keys) {
        const whole = decodeTensorBytes(bytes, f, { key });
        const opened = await openArchiveMember(memory(bytes), archiveKind(bytes, f)!, f, key);
        expect([opened.dtype, [...opened.dims]]).toEqual([whole.dtype, whole.dims]);
        const rowBytes = raw(whole).length / whole.dims[0];
        for (const from of [0, 1, whole.dims[0] - 1, 0]) {
          const view = new Uint8Array(rowBytes);
          await opened.readRows(view, from);
          expect(Buffer.from(view).equals(raw(whole).subarray(from * rowBytes, (from + 1) * rowBytes))).toBe(true);
        }
      }
    },
  );
});

describe("zip64", () => {
  test("a zip64 end record and extra fields (as zipfile writes them past 4 GiB) read as the plain zip", async () => {
    const entries = [
      { name: "input.npy", data: f32(6) },
      { name: "target.npy", data: f32(3), deflate: true },
    ];
    const plain = readTensors(zip(entries), "p.npz");
    const z64 = zip(entries, { zip64: true });
    const wide = readTensors(z64, "w.npz");
    expect(Object.keys(wide)).toEqual(["input", "target"]);
    for (const k of ["input", "target"]) expect(same(wide[k], plain[k])).toBe(true);
    const t = await openArchiveMember(memory(z64), "npz", "w.npz", "input");
    const view = new Uint8Array(8);
    await t.readRows(view, 2);
    expect(Array.from(new Float32Array(view.buffer))).toEqual([2, 3]);
    // a zip64 count that lies
    expect(refusal(() => readTensors(zip(entries, { zip64: true, count: 5 }), "w.npz"), "w.npz")).toMatch(/central directory entry 2/);
  });
});

describe("refusals", () => {
  test("a PyTorch pickle, legacy or zip, in one line saying what to save instead", () => {
    const legacy = new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0, 0]);
    const pt = zip([
      { name: "archive/data.pkl", data: new Uint8Array([0x80, 2]) },
      { name: "archive/data/0", data: new Uint8Array(4) },
    ]);
    for (const [bytes, shown] of [
      [legacy, "model.pt"],
      [pt, "weights.pt"],
    ] as const) {
      const line = refusal(() => readTensors(bytes, shown), shown);
      expect(line).toMatch(/a PyTorch pickle \(torch\.save\).*numpy\.save or numpy\.savez.*safetensors\.torch\.save_file$/);
      expect(refusal(() => decodeTensorBytes(bytes, shown, { key: "input" }), shown)).toBe(line);
    }
  });

  test("an array the archive does not hold names those it does; a .npy is not an archive", () => {
    expect(refusal(() => decodeTensorBytes(fixture("batch.npz"), "b.npz", { key: "logits" }), "b.npz")).toBe(
      'b.npz: no array "logits" (it holds "input", "target", "extra")',
    );
    expect(refusal(() => readTensors(fixture("input.npy"), "i.npy"), "i.npy")).toMatch(/a \.npy file, which holds one array/);
    expect(refusal(() => decodeTensorBytes(fixture("input.npy"), "i.npy", { key: "x", explicit: true }), "i.npy")).toMatch(/drop :x/);
    // bytes of neither archive: what they look like, where that can be told
    expect(refusal(() => readTensors(new TextEncoder().encode("input,target\n0.5,1\n"), "b.csv"), "b.csv")).toBe(
      'b.csv: expected a .npz (zip) or .safetensors archive, received text ("input,target\\n0.5"...), not a binary tensor file',
    );
    expect(refusal(() => readTensors(Uint8Array.of(0xff, 0xfe, 0, 1), "b.bin"), "b.bin")).toBe(
      "b.bin: expected a .npz (zip) or .safetensors archive, received other bytes",
    );
  });
});

describe("hostile archives: one line naming the file (and member), memory bounded", () => {
  const member = f32(4);
  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      "a zip bomb: a member that inflates beyond its declared size",
      () => zip([{ name: "input.npy", data: new Uint8Array(1 << 22), deflate: true, size: 1000 }]),
      /member input\.npy: inflates beyond its declared 1000 bytes/,
    ],
    [
      "a member that declares more than a read inflates",
      () => zip([{ name: "input.npy", data: member, deflate: true, size: MAX_INFLATED_BYTES + 1 }]),
      /member input\.npy: inflates to 1073741825 bytes, more than the 1073741824/,
    ],
    [
      "a few deflated bytes that declare a large member (nothing of it allocated: they inflate to 20)",
      () =>
        zip([{ name: "input.npy", data: new TextEncoder().encode("a short, honest text"), deflate: true, size: MAX_INFLATED_BYTES - 1 }]),
      /member input\.npy: inflates to 20 bytes where the directory says 1073741823/,
    ],
    ["an archive cut short", () => zip([{ name: "input.npy", data: member }]).subarray(0, 60), /no end of central directory/],
    [
      "two members of one name",
      () =>
        zip([
          { name: "input.npy", data: member },
          { name: "input.npy", data: member },
        ]),
      /the member name "input\.npy" twice/,
    ],
    [
      "two members of one array",
      () =>
        zip([
          { name: "input.npy", data: member },
          { name: "input", data: member },
        ]),
      /two members for the array "input"/,
    ],
    [
      "a central directory past the end record",
      () => zip([{ name: "input.npy", data: member }], { cdOffset: 10 ** 6 }),
      /past its end record/,
    ],
    [
      "a member size that runs into the directory",
      () => zip([{ name: "input.npy", data: member, csize: 5000, size: 5000 }]),
      /run into the central directory/,
    ],
    ["a local header offset that lies", () => zip([{ name: "input.npy", data: member, offset: 7 }]), /no local header at offset 7/],
    [
      "members that overlap",
      () =>
        zip([
          { name: "input.npy", data: member },
          { name: "target.npy", data: member, offset: 0 },
        ]),
      /its local header names another member|overlap/,
    ],
    ["a CRC that lies", () => zip([{ name: "input.npy", data: member, crc: 1 }]), /member input\.npy: CRC-32/],
    [
      "a CRC that lies, deflated",
      () => zip([{ name: "input.npy", data: member, deflate: true, crc: 0xdeadbeef }]),
      /member input\.npy: CRC-32 [0-9a-f]+ where the directory says deadbeef/,
    ],
    [
      "safetensors BOOL bytes other than 0 and 1",
      () => safetensors({ a: { dtype: "BOOL", shape: [4], data_offsets: [0, 4] } }, Uint8Array.of(0, 1, 1, 2)),
      /^h\.bin: tensor a: BOOL element 3 is byte 2, expected 0 or 1$/,
    ],
    [
      "a safetensors header with a key twice (JSON.parse would keep the last)",
      () =>
        safetensorsText(
          '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":{"a":"x"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
          Uint8Array.of(7),
        ),
      /^h\.bin: not a readable \.safetensors file: the key "a" twice in its header \(JSON\.parse would keep the last\)$/,
    ],
    ["an entry count that lies", () => zip([{ name: "input.npy", data: member }], { count: 3 }), /central directory entry 1/],
    [
      "safetensors offsets that overlap",
      () =>
        safetensors(
          { a: { dtype: "U8", shape: [4], data_offsets: [0, 4] }, b: { dtype: "U8", shape: [4], data_offsets: [2, 6] } },
          new Uint8Array(6),
        ),
      /tensor "b" overlaps/,
    ],
    [
      "safetensors offsets that leave the file",
      () => safetensors({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)),
      /its tensors end at byte \d+, the file has/,
    ],
    [
      "safetensors data no tensor holds",
      () => safetensors({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /4 bytes before tensor "a" that no tensor holds/,
    ],
    [
      "safetensors data after the last tensor",
      () => safetensors({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)),
      /4 bytes after the last tensor/,
    ],
    [
      "a safetensors shape that lies about the size",
      () => safetensors({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /data_offsets \[0, 8\] hold 8 bytes, F32 \[3\] takes 12/,
    ],
    [
      "a safetensors header over its limit",
      () => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, BigInt(MAX_SAFETENSORS_HEADER_BYTES + 1), true);
        b[8] = 0x7b;
        return b;
      },
      /a header of 100000001 bytes, more than the 100000000 read/,
    ],
    [
      "a safetensors header longer than the file",
      () => safetensors({}, new Uint8Array(0)).subarray(0, 9),
      /a header of 2 bytes, the file has 9/,
    ],
    [
      "a safetensors dtype that is none",
      () => safetensors({ a: { dtype: "Q4", shape: [], data_offsets: [0, 0] } }, new Uint8Array(0)),
      /dtype "Q4" is not a safetensors dtype/,
    ],
  ];
  test.each(cases)("%s", async (_what, make, pattern) => {
    const bytes = make();
    expect(refusal(() => readTensors(bytes, "h.bin"), "h.bin")).toMatch(pattern);
    // the same through reads by offset, every row read (a CRC is checked when the reads reach the member's end)
    const kind = archiveKind(bytes, "h.bin")!;
    const opened = openArchiveMember(memory(bytes), kind, "h.bin", kind === "npz" ? "input" : "a").then(async (t) => {
      await t.readRows(new Uint8Array(sizeOf(t.dims) * DTYPES[t.dtype].bytes), 0);
    });
    await expect(opened).rejects.toThrow(pattern.source.startsWith("^") ? pattern : /^h\.bin: /);
  });

  test("the inflate limit is shared by the reads given one budget (an eval's inputs): a member past what is left is refused", () => {
    const a = f32(16);
    const bytes = zip([
      { name: "input.npy", data: a, deflate: true },
      { name: "target.npy", data: a, deflate: true },
    ]);
    const budget = { left: a.length + 58 };
    expect(same(decodeTensorBytes(bytes, "b.npz", { key: "input" }, budget), decodeNpy(a, "a"))).toBe(true);
    expect(budget.left).toBe(58);
    expect(refusal(() => decodeTensorBytes(bytes, "b.npz", { key: "target" }, budget), "b.npz")).toBe(
      `b.npz: member target.npy: inflates to ${a.length} bytes, more than the ${MAX_INFLATED_BYTES} bytes a read inflates (MAX_INFLATED_BYTES) (58 left after the members inflated before it); save with np.savez (uncompressed) and stream it`,
    );
    // a fresh budget (no budget given) reads it
    expect(same(decodeTensorBytes(bytes, "b.npz", { key: "target" }), decodeNpy(a, "a"))).toBe(true);
  });

  test.each([
    ["stored", false],
    ["deflated", true],
  ])(
    "a %s member with a byte of its data changed, streamed row by row: refused in one line (its CRC at the end), or its bytes unchanged",
    async (_what, deflate) => {
      const data = f32(64);
      const bytes = zip([{ name: "input.npy", data, deflate }]);
      const dataStart = 30 + "input.npy".length;
      const dataLength = deflate ? Buffer.from(deflateSync(data)).length : data.length;
      const want = decodeNpy(data, "want");
      await fc.assert(
        fc.asyncProperty(fc.nat(dataLength - 1), fc.integer({ min: 1, max: 255 }), async (i, flip) => {
          const m = bytes.slice();
          m[dataStart + i] ^= flip;
          try {
            const t = await openArchiveMember(memory(m), "npz", "m.bin", "input");
            const row = sizeOf(t.dims.slice(1)) * DTYPES[t.dtype].bytes;
            const out = new Uint8Array(sizeOf(t.dims) * DTYPES[t.dtype].bytes);
            for (let r = 0; r < (t.dims[0] ?? 0); r++) await t.readRows(out.subarray(r * row, (r + 1) * row), r);
            // read to the end without a refusal: only a deflated member's unused bits may change, and then the
            // bytes are the same (a stored member's CRC covers every byte)
            expect(deflate).toBe(true);
            expect(Buffer.from(out).equals(raw(want))).toBe(true);
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
            expect(e.message).toMatch(/^m\.bin: member input\.npy: [^\n]+$/);
          }
        }),
        { numRuns: runs(200), seed: 19 },
      );
    },
  );

  const fuzz = (name: string, bytes: Uint8Array) =>
    test(`${name}: mutated bytes and truncations decode, or are refused in one line naming the file`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
          fc.option(fc.nat(bytes.length - 1)),
          async (edits, cut) => {
            const m = bytes.slice(0, cut ?? bytes.length);
            for (const [i, v] of edits) if (i < m.length) m[i] = v;
            for (const f of [() => readTensors(m, "m.bin"), () => decodeTensorBytes(m, "m.bin", { key: "input" })]) {
              try {
                f();
              } catch (e) {
                if (!(e instanceof UserError)) throw e;
                expect(e.message.startsWith("m.bin: ")).toBe(true);
                expect(e.message).not.toContain("\n");
              }
            }
            try {
              const kind = archiveKind(m, "m.bin");
              if (!kind) return;
              const t = await openArchiveMember(memory(m), kind, "m.bin", "input");
              const rows = t.dims[0] ?? 0;
              const view = new Uint8Array(Math.min(1 << 16, rows === 0 ? 0 : 4 * (t.dims[1] ?? 1)));
              if (rows > 0 && view.length > 0) await t.readRows(view, 0);
            } catch (e) {
              if (!(e instanceof UserError)) throw e;
              expect(e.message.startsWith("m.bin: ")).toBe(true);
            }
          },
        ),
        { numRuns: runs(300), seed: 19 },
      );
    });
  test("generated safetensors headers (dtypes, shapes, offsets of any kind): decoded exactly as declared, or refused in one line", () => {
    const dtypes = ["F32", "F64", "F16", "BF16", "I32", "I64", "U8", "BOOL", "I16", "U64", "F8_E4M3", "X"];
    const size: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, BOOL: 1, I16: 2, U64: 8, F8_E4M3: 1 };
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dtype: fc.constantFrom(...dtypes),
            shape: fc.array(fc.nat(4), { maxLength: 3 }),
            offsets: fc.option(fc.tuple(fc.nat(64), fc.nat(64))),
          }),
          { maxLength: 4 },
        ),
        fc.nat(8),
        (tensors, slack) => {
          let at = 0;
          const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
          tensors.forEach((t, i) => {
            const len = t.shape.reduce((a, b) => a * b, 1) * (size[t.dtype] ?? 1);
            header[`t${i}`] = { dtype: t.dtype, shape: t.shape, data_offsets: t.offsets ?? [at, at + len] };
            at += len;
          });
          const bytes = safetensors(header, new Uint8Array(at + (slack % 2 === 0 ? 0 : slack)));
          try {
            const out = readTensors(bytes, "g.safetensors");
            // accepted: every tensor its declared dims, in a read dtype
            tensors.forEach((t, i) => {
              expect(out[`t${i}`].dims).toEqual(t.shape);
              expect(["F32", "F64", "F16", "BF16", "I32", "I64", "U8", "BOOL"]).toContain(t.dtype);
            });
          } catch (e) {
            if (!(e instanceof UserError)) throw e;
            expect(e.message).toMatch(/^g\.safetensors: [^\n]+$/);
          }
        },
      ),
      { numRuns: runs(300), seed: 19 },
    );
  });

  fuzz("batch.npz", fixture("batch.npz"));
  fuzz("batch_compressed.npz", fixture("batch_compressed.npz"));
  fuzz("batch.safetensors", fixture("batch.safetensors"));
  fuzz(
    "a zip64 archive",
    zip(
      [
        { name: "input.npy", data: f32(6) },
        { name: "target.npy", data: f32(3), deflate: true },
      ],
      { zip64: true },
    ),
  );
});

describe("eval on archives", () => {
  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd: FIX });
    return { code, out, err };
  }

  test("cross_entropy on an .npz (plain, compressed), a .safetensors, by key: the value on the .npy files, one pass and streamed", async () => {
    const npy = await cli("eval", "cross_entropy", "--input", "input=input.npy", "--input", "target=target.npy", "--json");
    expect(npy.code).toBe(0);
    for (const args of [
      ["--inputs", "batch.npz"],
      ["--inputs", "batch_compressed.npz"],
      ["--inputs", "batch.safetensors"],
      ["--input", "input=named.npz:logits", "--input", "target=named.npz:labels"],
      ["--inputs", "named.npz", "--input", "input=named.npz:logits", "--input", "target=named.npz:labels"],
      ["--inputs", "batch.npz", "--input", "target=target.npy"],
    ]) {
      const r = await cli("eval", "cross_entropy", ...args, "--json");
      expect([r.code, r.out]).toEqual([0, npy.out]);
    }
    for (const f of ["batch.npz", "batch_compressed.npz", "batch.safetensors"]) {
      const s = await cli("eval", "cross_entropy", "--inputs", f, "--stream", "--options", '{"reduction":"sum"}');
      const one = await cli("eval", "cross_entropy", "--inputs", f, "--options", '{"reduction":"sum"}');
      expect([s.code, one.code]).toEqual([0, 0]);
      expect(s.err).toMatch(/streamed 6 rows/);
    }
  });

  test("streamed in chunks of one row (a deflated member inflated in order): the value on the .npy files", async () => {
    const npy = await evaluateNpyFiles(
      { loss: "cross_entropy" },
      { input: join(FIX, "input.npy"), target: join(FIX, "target.npy") },
      { chunkBytes: 24 },
    );
    for (const f of ["batch.npz", "batch_compressed.npz", "batch.safetensors"]) {
      const r = await evaluateNpyFiles({ loss: "cross_entropy" }, { input: join(FIX, f), target: join(FIX, f) }, { chunkBytes: 24 });
      expect([r.chunks, r.value]).toEqual([npy.chunks, npy.value]);
      expect(r.chunks).toBe(6);
    }
    const named = await evaluateNpyFiles(
      { loss: "cross_entropy" },
      { input: join(FIX, "named.npz"), target: join(FIX, "named.npz") },
      { chunkBytes: 24, keys: { input: "logits", target: "labels" } },
    );
    expect(named.value).toBe(npy.value);
  });

  test("NAME=FILE:KEY: a path that exists wins, colons and all; else the text after the last colon is the key", async () => {
    const odd = join(dir, "x:y.npy");
    writeFileSync(odd, fixture("input.npy"));
    const target = `target=${join(FIX, "target.npy")}`;
    const npy = await cli("eval", "cross_entropy", "--input", "input=input.npy", "--input", "target=target.npy", "--json");
    const r = await cli("eval", "cross_entropy", "--input", `input=${odd}`, "--input", target, "--json");
    expect([r.code, r.out]).toEqual([0, npy.out]);
    const k = await cli("eval", "cross_entropy", "--input", `input=${odd}:logits`, "--input", target);
    expect([k.code, k.err]).toEqual([
      2,
      `onnx-losses: ${odd}: holds one tensor, not an archive of arrays: drop :logits, which picks an array of a .npz or .safetensors\n`,
    ]);
  });

  test("weight tensors from one .npz: cross_entropy's probability target and [C] weight, BCE with logits' weight and pos_weight: PyTorch's value", async () => {
    const want = (JSON.parse(readFileSync(join(FIX, "weighted.json"), "utf8")) as { expected: Record<string, number> }).expected;
    const ce = await cli("eval", "cross_entropy", "--inputs", "weighted_probs.npz", "--json");
    expect(ce.code).toBe(0);
    // the float target shaped like input is read as probabilities, and weight turns the option to the input
    expect(ce.err).toContain('read as class probabilities (targetType "probs")');
    const ceOut = JSON.parse(ce.out) as { options: unknown; outputs: { loss: { data: number[] } } };
    expect(ceOut.options).toEqual({ targetType: "probs" });
    expect(Math.abs(ceOut.outputs.loss.data[0] - want["weighted_probs.npz"])).toBeLessThan(1e-5 * want["weighted_probs.npz"]);
    const bce = await cli("eval", "binary_cross_entropy_with_logits", "--inputs", "weighted_bce.npz", "--json");
    expect([bce.code, bce.err]).toEqual([0, ""]);
    const got = (JSON.parse(bce.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0];
    expect(Math.abs(got - want["weighted_bce.npz"])).toBeLessThan(1e-5 * want["weighted_bce.npz"]);
    // without the weights (the arrays picked by key) the value differs: the weights were used
    const plain = await cli(
      "eval",
      "binary_cross_entropy_with_logits",
      "--input",
      "input=weighted_bce.npz",
      "--input",
      "target=weighted_bce.npz",
      "--json",
    );
    expect(plain.code).toBe(0);
    const unweighted = (JSON.parse(plain.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0];
    expect(Math.abs(unweighted - want["weighted_bce.npz"])).toBeGreaterThan(1e-3);
  });

  test("--inputs says which arrays it ignored and which inputs are missing", async () => {
    const r = await cli("eval", "cross_entropy", "--inputs", "batch.npz", "--json");
    expect(r.err).toBe("note: batch.npz: ignored extra (not inputs of cross_entropy)\n");
    const noInput = await cli("eval", "cross_entropy", "--inputs", "named.npz");
    expect([noInput.code, noInput.err]).toEqual([
      2,
      'onnx-losses: eval cross_entropy: expected --input input=FILE.npy (the loss\'s input); --inputs named.npz has no array "input" (it holds "logits", "labels"; --input input=named.npz:KEY picks one)\n',
    ]);
    const m = await cli("eval", "cross_entropy", "--inputs", "named.npz", "--input", "input=input.npy");
    expect([m.code, m.err]).toEqual([
      2,
      "onnx-losses: --inputs named.npz: no array for the input target of cross_entropy (it holds logits, labels; give it with --input NAME=FILE[:KEY])\n",
    ]);
  });

  test("a hostile archive or a pickle: exit 2, one line naming the file", async () => {
    writeFileSync(join(dir, "bomb.npz"), zip([{ name: "input.npy", data: new Uint8Array(1 << 22), deflate: true, size: 1000 }]));
    writeFileSync(
      join(dir, "t.pt"),
      new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0, 0]),
    );
    for (const [args, pattern] of [
      [["--inputs", join(dir, "bomb.npz")], /bomb\.npz: member input\.npy: inflates beyond/],
      [["--input", `input=${join(dir, "bomb.npz")}`, "--stream"], /bomb\.npz: member input\.npy: inflates beyond/],
      [["--input", `input=${join(dir, "t.pt")}`], /t\.pt: a PyTorch pickle/],
    ] as const) {
      const r = await cli("eval", "cross_entropy", ...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^onnx-losses: [^\n]+\n$/);
      expect(r.err).toMatch(pattern);
    }
  });
});
