/**
 * Models with external data (onnx.save(..., save_as_external_data=True), the form torch.onnx.export
 * uses past 2 GB; fixtures from scripts/make_external_fixtures.py): the data is resolved against the
 * model's folder, never the working directory, and a location that would leave that folder, a missing
 * file or a range past its end is refused with one line.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { encodeNpy } from "../src/io/npy.js";
import { decodeModel, encodeModel, type onnx } from "../src/onnx/codec.js";
import { readModel } from "../src/builder/reader.js";
import { createEvaluator } from "../src/runtime/node.js";
import { FIXTURES, ROOT, runCliIn, type CliRun, exactly } from "./helpers.js";

const EXT = join(FIXTURES, "external");
const CLI = join(ROOT, "dist", "cli", "main.js");
const dir = mkdtempSync(join(tmpdir(), "onnx-losses-external-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** x = [[1, 0, 0, 0], [0, 1, 0, 0]]: A's logits are W's first two rows plus b, B's their negation. */
const X = new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]);
const A_LOGITS = [0.5, 3.5, 9, 1.5, 4.5, 10];
const B_LOGITS = A_LOGITS.map((v) => -v);

beforeAll(() => {
  writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [2, 4], data: X }));
  writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [2], data: BigInt64Array.from([2n, 0n]) }));
});

const cli = (cwd: string, ...argv: string[]): Promise<CliRun> => runCliIn(cwd, argv);

/** A copy of A/ (or B/) in a fresh folder under the test's temp dir. */
function copyOf(which: "A" | "B", name: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const f of ["m.onnx", "m.data", ...(which === "A" ? ["t.onnx", "t.data"] : [])]) copyFileSync(join(EXT, which, f), join(d, f));
  return d;
}

/** A/m.onnx with W's external_data entries replaced (undefined deletes a key). */
function withW(edit: Record<string, string | undefined>): Uint8Array {
  const m = decodeModel(readFileSync(join(EXT, "A", "m.onnx")));
  const w = (m.graph as onnx.GraphProto).initializer.find((t) => t.name === "W") as onnx.TensorProto;
  const entries = new Map(w.externalData.map((e) => [e.key, e.value]));
  for (const [k, v] of Object.entries(edit)) {
    if (v === undefined) entries.delete(k);
    else entries.set(k, v);
  }
  w.externalData = [...entries].map(([key, value]) => ({ key, value }) as onnx.StringStringEntryProto);
  return encodeModel(m);
}

const logits = (out: string) => /logits float32 \[2, 3\]: \[([^\]]*)\]/.exec(out)?.[1].split(", ").map(Number);

describe("external data resolves against the model's folder", () => {
  test("A/m.onnx evaluated from inside B/ (which has its own m.data) runs with A's weights", () => {
    // a child process: onnxruntime looked external data up in the process's working directory
    const r = spawnSync(process.execPath, [CLI, "eval", join(EXT, "A", "m.onnx"), "--input", `x=${join(dir, "x.npy")}`], {
      cwd: join(EXT, "B"),
      encoding: "utf8",
      timeout: 60000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(logits(r.stdout)).toEqual(A_LOGITS);
    const b = spawnSync(process.execPath, [CLI, "eval", "m.onnx", "--input", `x=${join(dir, "x.npy")}`], {
      cwd: join(EXT, "B"),
      encoding: "utf8",
      timeout: 60000,
    });
    expect(logits(b.stdout)).toEqual(B_LOGITS);
  });

  test("a Gemm(transB) graph (onnxruntime's optimizers read its external data) evaluates, from any folder", async () => {
    const r = await cli(dir, "eval", join(EXT, "A", "t.onnx"), "--input", "x=x.npy");
    expect(r.err).toBe("");
    expect(logits(r.out)).toEqual(A_LOGITS);
  });

  test("the API: a path resolves against its folder; bytes need the folder named, and are refused without it", async () => {
    for (const ev of [
      await createEvaluator(join(EXT, "A", "t.onnx")),
      await createEvaluator(readFileSync(join(EXT, "A", "t.onnx")), { externalDataDir: join(EXT, "A") }),
    ]) {
      const out = await ev.run({ x: { data: X, dims: [2, 4] } });
      await ev.release();
      expect(Array.from(out.logits.data as Float32Array)).toEqual(A_LOGITS);
    }
    await expect(createEvaluator(readFileSync(join(EXT, "A", "m.onnx")))).rejects.toThrow(
      exactly(
        'model: initializer "W" is stored in external data ("m.data"), which is resolved against the model\'s folder: pass the .onnx file\'s path, or its folder as externalDataDir',
      ),
    );
  });

  test("inspect shows where each external initializer is, not its (absent) values", async () => {
    const r = await cli(EXT, "inspect", "A/m.onnx");
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "    W: float32 [4, 3] external m.data offset 0 length 48\n    b: float32 [3] external m.data offset 48 length 12\n",
    );
    const json = JSON.parse((await cli(EXT, "inspect", "A/m.onnx", "--json")).out) as {
      initializers: { name: string; external?: unknown; values?: unknown }[];
    };
    expect(json.initializers[0]).toEqual({
      name: "W",
      dtype: "float32",
      shape: [4, 3],
      count: 12,
      external: { location: "m.data", offset: 0, length: 48 },
    });
    expect(
      readModel(readFileSync(join(EXT, "A", "m.onnx"))).externalData.map((r) => `${r.tensor} ${r.location} ${r.offset} ${r.length}`),
    ).toEqual(['initializer "W" m.data 0 48', 'initializer "b" m.data 48 12']);
  });
});

describe("a location that leaves the folder, a missing file, a range past the end: refused with one line", () => {
  let d: string;
  beforeAll(() => {
    d = copyOf("A", "refuse/model");
    writeFileSync(join(dir, "refuse", "outside.data"), readFileSync(join(EXT, "B", "m.data")));
    symlinkSync(join(dir, "refuse", "outside.data"), join(d, "link.data"));
    symlinkSync("/dev/zero", join(d, "zero.data"));
  });
  const cases: [string, Record<string, string | undefined>, string][] = [
    [
      "a .. segment",
      { location: "../outside.data" },
      'initializer "W": external data location "../outside.data": expected a file in the model\'s folder, received a .. segment',
    ],
    [
      "an absolute path",
      { location: "/etc/passwd" },
      'initializer "W": external data location "/etc/passwd": expected a file in the model\'s folder, received an absolute path',
    ],
    [
      "a NUL",
      { location: "m.data\0x" },
      'initializer "W": external data location "m.data\\u0000x": expected a file in the model\'s folder, received a NUL character',
    ],
    [
      "an empty location",
      { location: "" },
      'initializer "W": external data location "": expected a file in the model\'s folder, received an empty location',
    ],
    ["no location", { location: undefined }, 'initializer "W": external data without a location'],
    ["a missing file", { location: "gone.data" }, `initializer "W": external data "gone.data" not found in the model's folder`],
    ["a symlink out of the folder", { location: "link.data" }, `initializer "W": external data "link.data" leaves the model's folder`],
    ["a symlink to a device", { location: "zero.data" }, `initializer "W": external data "zero.data" leaves the model's folder`],
    [
      "an offset past the end",
      { offset: "40" },
      'initializer "W": external data "m.data" offset 40 length 48: past the end of the file (60 bytes)',
    ],
    [
      "a length that is not the tensor's",
      { length: "4" },
      'initializer "W": external data length 4: expected 48 (the bytes of its type and dims [4, 3])',
    ],
    [
      "an offset that is not a number",
      { offset: "-1" },
      'initializer "W": external data offset "-1": expected a byte count (a non-negative integer)',
    ],
    [
      "an offset beyond 2^53",
      { offset: "99999999999999999999" },
      'initializer "W": external data offset "99999999999999999999": expected a byte count (a non-negative integer)',
    ],
  ];
  test.each(cases)("%s", async (_what, edit, message) => {
    writeFileSync(join(d, "bad.onnx"), withW(edit));
    for (const argv of [
      ["inspect", "bad.onnx"],
      ["eval", "bad.onnx", "--input", `x=${join(dir, "x.npy")}`],
      ["attach", "bad.onnx", "--model-output", "logits", "--loss", "cross_entropy", "-o", "out.onnx"],
    ]) {
      const r = await cli(d, ...argv);
      expect({ argv, code: r.code, out: r.out }).toEqual({ argv, code: 2, out: "" });
      expect(r.err.split("\n").filter((l) => l)).toHaveLength(1);
      expect(r.err).toContain(`onnx-losses: bad.onnx: ${message}`);
    }
  });
});

describe("attach keeps the references, written where they resolve", () => {
  test("-o into the model's folder: the output references the same data file and evaluates with it", async () => {
    const d = copyOf("A", "attach/same");
    const r = await cli(d, "attach", "m.onnx", "--model-output", "logits", "--loss", "cross_entropy", "-o", "m_loss.onnx");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const info = readModel(readFileSync(join(d, "m_loss.onnx")));
    expect(info.externalData.map((e) => e.location)).toEqual(["m.data", "m.data"]);
    const e = await cli(dir, "eval", join(d, "m_loss.onnx"), "--input", "x=x.npy", "--input", "target=t.npy");
    expect(e.err).toBe("");
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const want = (lse(A_LOGITS.slice(0, 3)) - 9 + lse(A_LOGITS.slice(3)) - 1.5) / 2;
    const got = Number(/loss float32 \[\]: (\S+)/.exec(e.out)?.[1]);
    expect(Math.abs(got - want)).toBeLessThan(1e-5 * want);
  });

  test("-o into another folder (where the references would not resolve) is refused", async () => {
    const d = copyOf("A", "attach/other");
    mkdirSync(join(d, "sub"));
    const r = await cli(d, "attach", "m.onnx", "--model-output", "logits", "--loss", "cross_entropy", "-o", "sub/m_loss.onnx");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'onnx-losses: attach: m.onnx keeps initializer "W" in external data ("m.data"), which the written model references by the same location: write -o into the model\'s folder (.), or save the model without external data first\n',
    );
  });
});
