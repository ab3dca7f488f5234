/**
 * Issue 16, the API rows: what an evaluator makes of the feeds it is given (plain arrays are values in
 * every dtype, never bit patterns; malformed feeds are one InputError naming the input), release()
 * while a run is in flight, the browser entry's thread option and failed fetches, and onnxruntime's
 * process-wide log lines (kept off the CLI's stderr, and a worker's level following the caller's).
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { attachLoss } from "../src/losses/attach.js";
import { encodeModel } from "../src/onnx/codec.js";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import type { Evaluator } from "../src/runtime/evaluator.js";
import { tensorNumbers, type TensorInput } from "../src/tensor/tensor.js";
import { toFloat16Bits } from "../src/onnx/float16.js";
import { createEvaluator as createWebEvaluator } from "../src/web.js";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { encodeNpy } from "../src/io/npy.js";
import { FIXTURES, ROOT, runCliIn, exactly } from "./helpers.js";

const LOGITS = [1, 2, 0.5, 0.1, 0.3, 2];
// F.cross_entropy(torch.tensor([[1, 2, 0.5], [0.1, 0.3, 2]]), torch.tensor([1, 2])), float32
const CE = 0.3756198287010193;

let ev: Evaluator;
let ev16: Evaluator;
beforeAll(async () => {
  ev = await createEvaluator(buildLoss("cross_entropy"));
  ev16 = await createEvaluator(buildLoss("cross_entropy", {}, { dtype: "float16" }));
});
afterAll(async () => {
  await ev.release();
  await ev16.release();
});

const target = { data: new BigInt64Array([1n, 2n]), dims: [2] };
const loss = async (e: Evaluator, feeds: unknown): Promise<number> =>
  tensorNumbers((await e.run(feeds as Record<string, TensorInput>)).loss)[0];
const message = async (e: Evaluator, feeds: unknown): Promise<string> => {
  try {
    await e.run(feeds as Record<string, TensorInput>);
  } catch (err) {
    expect((err as Error).name).toBe("InputError");
    return (err as Error).message;
  }
  throw new Error("expected the run to fail");
};

describe("plain arrays are values in every dtype", () => {
  test.each(["float32", "float64", undefined] as const)("a plain input array stated as %s gives the float32 value", async (dtype) => {
    expect(await loss(ev, { input: { data: LOGITS, dims: [2, 3], dtype }, target })).toBeCloseTo(CE, 6);
  });

  test("a plain input array stated as float16 gives the value of its float16 tensor (not bits)", async () => {
    const bits = await loss(ev, { input: { data: Uint16Array.from(LOGITS, toFloat16Bits), dims: [2, 3] }, target });
    expect(await loss(ev, { input: { data: LOGITS, dims: [2, 3], dtype: "float16" }, target })).toBe(bits);
    expect(bits).toBeCloseTo(CE, 4);
  });

  test("a float16 graph takes plain values (converted to float16), not bits", async () => {
    const want = await loss(ev16, { input: { data: Uint16Array.from(LOGITS, toFloat16Bits), dims: [2, 3] }, target });
    expect(await loss(ev16, { input: { data: LOGITS, dims: [2, 3] }, target })).toBe(want);
    expect(await loss(ev16, { input: { data: LOGITS, dims: [2, 3], dtype: "float32" }, target })).toBe(want);
    expect(want).toBeCloseTo(CE, 2);
  });

  test("plain class indices stated as int32 or int64, as numbers or bigints", async () => {
    const input = { data: LOGITS, dims: [2, 3] };
    for (const t of [{ data: [1, 2], dtype: "int32" }, { data: [1, 2], dtype: "int64" }, { data: [1n, 2n] }, { data: [1, 2] }]) {
      expect(await loss(ev, { input, target: { ...t, dims: [2] } })).toBeCloseTo(CE, 6);
    }
  });

  test("property: a plain array stated as a float dtype equals the typed array of that dtype", async () => {
    const f32 = fc.float({ min: -50, max: 50, noNaN: true, noDefaultInfinity: true });
    await fc.assert(
      fc.asyncProperty(
        fc.array(f32, { minLength: 6, maxLength: 6 }),
        fc.constantFrom("float16", "float32", "float64", undefined),
        async (values, dtype) => {
          const data =
            dtype === "float16"
              ? Uint16Array.from(values, toFloat16Bits)
              : dtype === "float64"
                ? Float64Array.from(values)
                : Float32Array.from(values);
          const typed = await loss(ev, { input: { data, dims: [2, 3] }, target });
          expect(await loss(ev, { input: { data: values, dims: [2, 3], dtype }, target })).toBe(typed);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("found by the second attack", () => {
  test("a hole in a sparse plain array is refused, in floats and in integers", async () => {
    const holes = [1, 2, 3, 4, 5];
    holes.length = 6;
    expect(await message(ev, { input: { data: holes, dims: [2, 3] }, target })).toBe(
      "input: expected numbers (float32), received undefined at index 5",
    );
    const t = [1];
    t.length = 2;
    expect(await message(ev, { input: { data: LOGITS, dims: [2, 3] }, target: { data: t, dims: [2] } })).toBe(
      "target: expected integers (int64), received undefined at index 1",
    );
  });

  test("plain values stated as float16 are float16 values: rounded to it first (1e6 is inf)", async () => {
    const big = [1e6, 2, 0.5, 0.1, 0.3, 2];
    const viaBits = await loss(ev, { input: { data: Uint16Array.from(big, toFloat16Bits), dims: [2, 3] }, target });
    expect(await loss(ev, { input: { data: big, dims: [2, 3], dtype: "float16" }, target })).toBe(viaBits);
    expect(viaBits).toBe(Number.NaN); // inf - inf in the log-softmax, as PyTorch on a float16 inf
  });
});

describe("negative declared dims and paths that are not loss names (second attack)", () => {
  // dim_value -1, which some exporters wrote for a dynamic dim (ONNX forbids it; onnxruntime runs it)
  const info = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "neg",
      node: [{ opType: "Neg", input: ["x"], output: ["logits"] }],
      input: [info("x", [-1, 3])],
      output: [info("logits", [-1, 3])],
    },
  });

  test("evaluation takes a declared -1 as an unknown dim, never asks for a dim of -1", async () => {
    const e = await createEvaluator(model);
    const r = await e.run({ x: { data: Float32Array.from(LOGITS), dims: [2, 3] } });
    await e.release();
    expect(Array.from(r.logits.data as Float32Array)).toEqual(Array.from(Float32Array.from(LOGITS, (v) => -v)));
  });

  test("attach refuses it, naming the input and the dim", () => {
    expect(() => attachLoss(model, { output: "logits", loss: "cross_entropy" }, "m.onnx")).toThrow(
      exactly("m.onnx: input x: expected dims >= 0 in its declared shape, received dim 0 = -1 in [-1, 3]"),
    );
  });

  test("eval of a path that is not a .onnx name is read as a file, not taken as a loss name", async () => {
    const r = await runCliIn(ROOT, ["eval", "/dev/zero", "--input", "input=x.npy"]);
    expect([r.code, r.err]).toEqual([
      2,
      "onnx-losses: /dev/zero: a character device, expected a .onnx model (a regular file: onnx-losses reads no devices, pipes or sockets)\n",
    ]);
  });
});

describe("malformed feeds are one line naming the input", () => {
  const input = { data: LOGITS, dims: [2, 3] };
  test.each([
    ["run(null)", null, "feeds: expected an object of input name to { data, dims }, received null"],
    ["run()", undefined, "feeds: expected an object of input name to { data, dims }, received undefined"],
    ["an array of feeds", [input, target], "feeds: expected an object of input name to { data, dims }, received an array of 2"],
    ["a feed of null", { input: null, target }, "input: expected { data, dims }, received null"],
    [
      "a feed without dims",
      { input: { data: new Float32Array(6) }, target },
      "input: expected dims, an array of non-negative integers such as [2, 3], received undefined",
    ],
    [
      "dims as a string",
      { input: { data: new Float32Array(6), dims: "2,3" }, target },
      'input: expected dims, an array of non-negative integers such as [2, 3], received the string "2,3"',
    ],
    [
      "a fractional dim",
      { input: { data: new Float32Array(6), dims: [2, 3.5] }, target },
      "input: expected non-negative integer dims, received [2, 3.5]",
    ],
    [
      "data of null",
      { input: { data: null, dims: [2, 3] }, target },
      "input: expected data, a typed array or an array of numbers, received null",
    ],
    [
      "an Int8Array",
      { input: { data: new Int8Array(6), dims: [2, 3] }, target },
      "input: expected data as Float32Array, Float64Array, Uint16Array (float16 bits), Int32Array, BigInt64Array or Uint8Array (bool), received a Int8Array",
    ],
    [
      "an unknown dtype",
      { input: { ...input, dtype: "float8" }, target },
      'input: expected dtype one of float32, int32, int64, bool, float16, float64, received "float8"',
    ],
    [
      "a typed array with another dtype",
      { input: { data: new Float32Array(6), dims: [2, 3], dtype: "float16" }, target },
      "input: dtype float16 disagrees with its data, a Float32Array (float32); give a Uint16Array or leave dtype out",
    ],
    [
      "a string among the numbers",
      { input: { data: [1, "2", 3, 4, 5, 6], dims: [2, 3] }, target },
      'input: expected numbers (float32), received the string "2" at index 1',
    ],
    [
      "int32 class indices with a fraction",
      { input, target: { data: [0, 1.5], dims: [2], dtype: "int32" } },
      "target: expected integers (int32), received 1.5 at index 1",
    ],
    [
      "int32 class indices out of range",
      { input, target: { data: [0, 2 ** 31], dims: [2], dtype: "int32" } },
      "target: expected integers in the range of int32, received 2147483648 at index 1",
    ],
    [
      "float class indices",
      { input, target: { data: [0, 1], dims: [2], dtype: "float32" } },
      'target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch); or, for class probabilities shaped like input, build cross_entropy with targetType "probs"',
    ],
  ])("%s", async (_, feeds, want) => {
    expect(await message(ev, feeds)).toBe(want);
  });
});

describe("release()", () => {
  test.each([false, true])("waits for the runs in flight (worker %s); later runs are refused in one line", async (worker) => {
    // the worker's script is the compiled one (dist/)
    const lib = (await import(join(ROOT, "dist", "index.js"))) as typeof import("../src/index.js");
    const e = await lib.createEvaluator(lib.buildLoss("cross_entropy"), { worker });
    const N = 100000;
    const run = e.run({ input: { data: new Float32Array(N * 10), dims: [N, 10] }, target: { data: new BigInt64Array(N), dims: [N] } });
    const released = e.release();
    expect(Number((await run).loss.data[0])).toBeCloseTo(Math.log(10), 5);
    await released;
    await expect(e.run({ input, target })).rejects.toThrow(exactly("model: this evaluator was released; create another one to run again"));
    await e.release(); // a second release is a no-op
  });
  const input = { data: LOGITS, dims: [2, 3] };
});

describe("the browser entry", () => {
  test.each([{ threads: 1 }, { threads: 2 }, { spinning: true }])("refuses %j, naming configureWasm", async (options) => {
    await expect(createWebEvaluator(buildLoss("cross_entropy"), options)).rejects.toThrow(
      /is Node only \(onnxruntime-node's intra-op threads\): in the browser entry the wasm thread count is set once per page with configureWasm\(\{ numThreads \}\)/,
    );
  });

  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end("no");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test("a failed fetch names the URL and the cause", async () => {
    await expect(createWebEvaluator(`${base}/m.onnx`)).rejects.toThrow(
      exactly(`${base}/m.onnx: could not fetch the model (HTTP 404 Not Found)`),
    );
    await expect(createWebEvaluator("http://127.0.0.1:9/m.onnx")).rejects.toThrow(
      /^http:\/\/127\.0\.0\.1:9\/m\.onnx: could not fetch the model \(fetch failed: .+\)$/,
    );
    await expect(createWebEvaluator("not a url")).rejects.toThrow(/^not a url: could not fetch the model \(.*Invalid URL.*\)$/);
  });
});

test("attach: a name over 4096 characters is named as too long", () => {
  const model = readFileSync(join(FIXTURES, "attach", "mlp.onnx"));
  expect(() => attachLoss(model, { output: "x".repeat(5000), loss: "cross_entropy" })).toThrow(
    exactly('output: expected a name of at most 4096 characters, received one of 5000 ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)'),
  );
  expect(() => attachLoss(model, { output: "", loss: "cross_entropy" })).toThrow(exactly('output: expected a non-empty name, received ""'));
});

describe("onnxruntime's process-wide log", () => {
  // a preload that asks onnxruntime for every log line it has (its device discovery prints at the first session)
  const verbose = `data:text/javascript,${encodeURIComponent(`import { createRequire } from "node:module"; createRequire(${JSON.stringify(join(ROOT, "package.json"))})("onnxruntime-node").env.logLevel = "verbose";`)}`;
  const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", timeout: 60000 });

  test("is verbose when asked (the preload works)", () => {
    const script = `import { buildLoss, createEvaluator } from "./dist/index.js"; const e = await createEvaluator(buildLoss("cross_entropy")); await e.release();`;
    const r = node(["--import", verbose, "--input-type=module", "-e", script]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/onnxruntime/);
  });

  test("stays off the CLI's stderr", () => {
    // the session is made, then the run is refused (no target): one line
    const dir = mkdtempSync(join(tmpdir(), "onnx-losses-log-"));
    writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [2, 3], data: Float32Array.from(LOGITS) }));
    const r = node([
      "--import",
      verbose,
      join(ROOT, "dist", "cli", "main.js"),
      "eval",
      "cross_entropy",
      "--input",
      `input=${join(dir, "x.npy")}`,
    ]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toMatch(/^onnx-losses: target: missing input/);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    const ok = node(["--import", verbose, join(ROOT, "dist", "cli", "main.js"), "demo"]);
    expect(ok.status).toBe(0);
    expect(ok.stderr).not.toMatch(/onnxruntime|\u001b\[/);
  });

  test("a worker's sessions follow the calling thread's level", () => {
    const script = (level: string) =>
      `import { createRequire } from "node:module"; createRequire(${JSON.stringify(join(ROOT, "package.json"))})("onnxruntime-node").env.logLevel = "${level}";` +
      `const { buildLoss, createEvaluator } = await import("./dist/index.js"); const e = await createEvaluator(buildLoss("cross_entropy"), { worker: true });` +
      `await e.run({ input: { data: [1, 2, 3, 4, 5, 6], dims: [2, 3] }, target: { data: [1, 2], dims: [2] } }); await e.release();`;
    const loud = node(["--input-type=module", "-e", script("verbose")]);
    expect(loud.status).toBe(0);
    expect(loud.stderr).toMatch(/onnxruntime/);
    const quiet = node(["--input-type=module", "-e", script("fatal")]);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe("");
  });
});
