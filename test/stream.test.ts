/**
 * Streaming evaluation: inputs read in row chunks and combined exactly. Small files with tiny chunks
 * check the combination against one pass; a large file (4 GB where the disk has room) checks the
 * memory bound and the float64 value.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededRandom as rng } from "../src/util/random.js";
import { afterAll, describe, expect, test } from "@jest/globals";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { ROOT, exactly } from "./helpers.js";
import * as ref from "./reference.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-stream-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("chunked evaluation equals one pass", () => {
  const N = 5000;
  const C = 7;
  const r = rng(11);
  const x = Float32Array.from({ length: N * C }, () => (r() * 2 - 1) * 4);
  const t = BigInt64Array.from({ length: N }, () => BigInt(r() < 0.2 ? -100 : Math.floor(r() * C)));
  const y = Float32Array.from({ length: N * C }, () => (r() < 0.3 ? 1 : 0));
  writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [N, C], data: x }));
  writeFileSync(join(dir, "x64.npy"), encodeNpy({ dtype: "float64", dims: [N, C], data: Float64Array.from(x) }));
  writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [N], data: t }));
  writeFileSync(join(dir, "t32.npy"), encodeNpy({ dtype: "int32", dims: [N], data: Int32Array.from(t, Number) }));
  writeFileSync(join(dir, "y.npy"), encodeNpy({ dtype: "float32", dims: [N, C], data: y }));

  async function onePass(loss: string, options: object, target: BigInt64Array | Float32Array, dims: number[]) {
    const ev = await createEvaluator(buildLoss(loss, options));
    const out = await ev.run({ input: { data: x, dims: [N, C] }, target: { data: target, dims } });
    await ev.release();
    return out.loss;
  }

  test.each([
    ["cross_entropy", { weight: [1, 2, 0.5, 3, 1, 1, 0.25] }],
    ["cross_entropy", { reduction: "sum", labelSmoothing: 0.1 }],
    ["softmax_focal_loss", { alpha: 0.25, gamma: 2 }],
    ["nll_loss", { ignoreIndex: -100 }],
  ])("%s %j with class weights and ignored rows, in chunks of ~40 rows", async (loss, options) => {
    const want = (await onePass(loss, options, t, [N])).data[0] as number;
    const got = await evaluateNpyFiles(
      { loss, options },
      { input: join(dir, "x.npy"), target: join(dir, "t.npy") },
      { chunkBytes: 40 * (C * 4 + 8) },
    );
    expect(got.chunks).toBe(Math.ceil(N / 40));
    expect(Math.abs(got.value! - want) / Math.abs(want)).toBeLessThan(1e-6);
  });

  test("elementwise losses (mean over elements) and converted dtypes (float64 input, int32 target)", async () => {
    const want = (await onePass("sigmoid_focal_loss", {}, y, [N, C])).data[0] as number;
    const got = await evaluateNpyFiles(
      { loss: "sigmoid_focal_loss" },
      { input: join(dir, "x64.npy"), target: join(dir, "y.npy") },
      { chunkBytes: 3000 },
    );
    expect(Math.abs(got.value! - want) / want).toBeLessThan(1e-6);
    const ce = (await onePass("cross_entropy", {}, t, [N])).data[0] as number;
    const got32 = await evaluateNpyFiles(
      { loss: "cross_entropy" },
      { input: join(dir, "x.npy"), target: join(dir, "t32.npy") },
      { chunkBytes: 5000 },
    );
    expect(Math.abs(got32.value! - ce) / ce).toBeLessThan(1e-6);
  });

  test('reduction "none" streams into an .npy file equal to one pass', async () => {
    const want = await onePass("cross_entropy", { reduction: "none" }, t, [N]);
    const file = join(dir, "none.npy");
    const got = await evaluateNpyFiles(
      { loss: "cross_entropy", options: { reduction: "none" } },
      { input: join(dir, "x.npy"), target: join(dir, "t.npy") },
      { chunkBytes: 7000, noneOutput: file },
    );
    expect(got.written).toEqual({ file, dims: [N] });
    const back = decodeNpy(readFileSync(file));
    expect(back.dims).toEqual([N]);
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(want.data as Float32Array));
  });

  test("a model built by onnx-losses streams by its metadata; a bad index names its rows", async () => {
    const model = buildLoss("cross_entropy", { labelSmoothing: 0.2 }).model;
    const want = (await onePass("cross_entropy", { labelSmoothing: 0.2 }, t, [N])).data[0] as number;
    const got = await evaluateNpyFiles(model, { input: join(dir, "x.npy"), target: join(dir, "t.npy") }, { chunkBytes: 10000 });
    expect(Math.abs(got.value! - want) / want).toBeLessThan(1e-6);
    const bad = BigInt64Array.from(t);
    bad[4321] = -3n;
    writeFileSync(join(dir, "bad.npy"), encodeNpy({ dtype: "int64", dims: [N], data: bad }));
    await expect(
      evaluateNpyFiles({ loss: "cross_entropy" }, { input: join(dir, "x.npy"), target: join(dir, "bad.npy") }, { chunkBytes: 10000 }),
    ).rejects.toThrow(
      /^target: expected class indices in \[0, 7\) or ignoreIndex -100 \(C = input dim 1\), received -3 at flat index \d+ \(in rows \d+\.\.\d+ of 5000\)$/,
    );
    writeFileSync(join(dir, "short.npy"), encodeNpy({ dtype: "int64", dims: [N - 1], data: t.subarray(0, N - 1) }));
    await expect(
      evaluateNpyFiles({ loss: "cross_entropy" }, { input: join(dir, "x.npy"), target: join(dir, "short.npy") }),
    ).rejects.toThrow(exactly(`target: expected dim 0 (N) = 5000 as in input dim 0, received [4999] (${join(dir, "short.npy")})`));
  });
});

describe("a large input: bounded memory, float64 value", () => {
  // 4 GB of logits where the disk has room for them (and the 0.8 GB of targets); 1 GB otherwise.
  const free = statfsSync(tmpdir()).bavail * statfsSync(tmpdir()).bsize;
  const gb = Number(process.env.ONNX_LOSSES_STREAM_TEST_GB ?? (free > 12 * 2 ** 30 ? 4 : 1));
  if (gb < 4) console.warn(`stream.test.ts: ${(free / 2 ** 30).toFixed(1)} GiB free in ${tmpdir()}: streaming ${gb} GB instead of 4 GB`);

  test(`${gb} GB of logits with peak RSS under 600 MB, within 1e-6 of float64`, () => {
    const C = 10;
    const P = 65536; // rows repeat with this period, so the float64 reference is one period times N / P
    const N = Math.round((gb * 1e9) / (C * 4) / P) * P;
    const r = rng(12);
    const block = Float32Array.from({ length: P * C }, () => (r() * 2 - 1) * 5);
    const labels = BigInt64Array.from({ length: P }, (_, i) => BigInt(i % 17 === 0 ? -100 : Math.floor(r() * C)));
    const w = [1, 2, 0.5, 1, 1, 3, 1, 0.25, 1, 1];
    // float64 reference over one period: the weighted mean of N / P repeats is the period's
    const [want] = ref.crossEntropy({ dims: [P, C], data: block }, { dims: [P], data: Array.from(labels, Number) }, { weight: w });
    const xFile = join(dir, "big_x.npy");
    const tFile = join(dir, "big_t.npy");
    const writeRepeated = (file: string, header: Uint8Array, chunk: Uint8Array, times: number) => {
      const fd = openSync(file, "w");
      writeSync(fd, header);
      for (let i = 0; i < times; i++) writeSync(fd, chunk);
      closeSync(fd);
    };
    const headerOf = (dtype: "float32" | "int64", dims: number[]) =>
      encodeNpy({ dtype, dims, data: dtype === "int64" ? new BigInt64Array(0) : new Float32Array(0) } as never);
    writeRepeated(xFile, headerOf("float32", [N, C]), new Uint8Array(block.buffer), N / P);
    writeRepeated(tFile, headerOf("int64", [N]), new Uint8Array(labels.buffer), N / P);
    try {
      const r2 = spawnSync(
        process.execPath,
        [
          join(ROOT, "test", "stream", "rss-child.mjs"),
          "eval",
          "cross_entropy",
          "--input",
          `input=${xFile}`,
          "--input",
          `target=${tFile}`,
          "--options",
          JSON.stringify({ weight: w }),
          "--json",
        ],
        { encoding: "utf8", maxBuffer: 1 << 20 },
      );
      expect(r2.status).toBe(0);
      const res = JSON.parse(r2.stdout) as { code: number; out: string; maxRssMiB: number };
      expect(res.code).toBe(0);
      const got = JSON.parse(res.out).outputs.loss.data[0] as number;
      expect(Math.abs(got - want) / want).toBeLessThan(1e-6);
      expect(res.maxRssMiB).toBeLessThan(600);
      console.log(
        `streamed ${N} x ${C} float32 (${((N * C * 4) / 1e9).toFixed(2)} GB): peak RSS ${res.maxRssMiB.toFixed(0)} MiB, value ${got} vs float64 ${want}`,
      );
    } finally {
      rmSync(xFile, { force: true });
      rmSync(tFile, { force: true });
    }
  }, 600000);
});
