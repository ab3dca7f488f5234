/**
 * The .npy codec against numpy itself (generated arrays, fast-check): every dtype of the table, ranks 0
 * to 4, zero-size dims. numpy writes each array and this codec must read it exactly; this codec writes
 * each array and numpy must read it exactly. Needs Debian's python3 with numpy (python3-onnx, which
 * .ci/run installs, brings it); skipped with a message elsewhere.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { DTYPE_NAMES, DTYPES, type DType } from "../src/onnx/dtypes.js";
import type { TensorData } from "../src/tensor/tensor.js";

const PYTHON = process.env.PYTHON ?? "/usr/bin/python3";
const numpyHere = spawnSync(PYTHON, ["-c", "import numpy"], { stdio: "ignore" }).status === 0;
if (!numpyHere) console.warn(`numpy round trips skipped: ${PYTHON} cannot import numpy (apt-get install -y python3-numpy)`);
const RUNS = Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || 200;

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-npy-numpy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An array of a dtype: dims of rank 0-4 (sizes 0-4) and values that dtype holds (special floats included). */
const arrayOf = (dtype: DType) =>
  fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }).chain((dims) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const value: fc.Arbitrary<number | bigint> =
      dtype === "int64"
        ? fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
        : dtype === "int32"
          ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
          : dtype === "bool"
            ? fc.integer({ min: 0, max: 1 })
            : dtype === "float16"
              ? fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00 || (b & 0x3ff) === 0) // no NaN payloads
              : dtype === "float32"
                ? fc.float({ noNaN: true })
                : fc.double({ noNaN: true });
    return fc.array(value, { minLength: n, maxLength: n }).map((values) => ({ dtype, dims, values }));
  });

const PY = `
import base64, json, sys, numpy as np
spec = json.load(open(sys.argv[1]))
out = []
for i, a in enumerate(spec):
    descr = a["descr"]
    # the values travel as their bytes: JSON would lose -0, infinities and int64 beyond 2^53
    arr = np.frombuffer(base64.b64decode(a["bytes"]), dtype=np.dtype(descr)).reshape(a["dims"])
    np.save(f"{sys.argv[2]}/numpy_{i}.npy", arr)
    ours = np.load(f"{sys.argv[2]}/ours_{i}.npy")
    same = ours.dtype == np.dtype(descr) and list(ours.shape) == a["dims"] and ours.tobytes() == arr.tobytes()
    out.append(bool(same))
print(json.dumps(out))
`;

(numpyHere ? describe : describe.skip)(".npy files written by numpy and by this codec", () => {
  test("read exactly both ways, for every dtype", () => {
    const arrays = fc.sample(fc.constantFrom(...DTYPE_NAMES).chain(arrayOf), { numRuns: RUNS, seed: 11 });
    const spec = arrays.map((a, i) => {
      const data = a.dtype === "int64" ? BigInt64Array.from(a.values as bigint[]) : new DTYPES[a.dtype].array(a.values.length);
      if (a.dtype !== "int64") (data as Float64Array).set(a.values as number[]);
      const t: TensorData = { dtype: a.dtype, dims: a.dims, data };
      writeFileSync(join(dir, `ours_${i}.npy`), encodeNpy(t));
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
      return { dtype: a.dtype, descr: DTYPES[a.dtype].npy, dims: a.dims, bytes, t };
    });
    writeFileSync(join(dir, "spec.json"), JSON.stringify(spec.map(({ t: _t, ...rest }) => rest)));
    const r = spawnSync(PYTHON, ["-c", PY, join(dir, "spec.json"), dir], { encoding: "utf8", maxBuffer: 1 << 26 });
    expect(r.stderr).toBe("");
    const numpyReadsOurs = JSON.parse(r.stdout) as boolean[];
    expect(numpyReadsOurs.map((ok, i) => (ok ? "ok" : `${i} ${spec[i].dtype} [${spec[i].dims}]`)).filter((s) => s !== "ok")).toEqual([]);
    const misread = spec.flatMap((s, i) => {
      const back = decodeNpy(new Uint8Array(readFileSync(join(dir, `numpy_${i}.npy`))), `numpy_${i}.npy`);
      const same =
        back.dtype === s.dtype &&
        back.dims.join() === s.dims.join() &&
        Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(
          Buffer.from(s.t.data.buffer, s.t.data.byteOffset, s.t.data.byteLength),
        );
      return same ? [] : [`${i} ${s.dtype} [${s.dims}]`];
    });
    expect(misread).toEqual([]);
  }, 120000);
});
