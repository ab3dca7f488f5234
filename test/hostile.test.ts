/**
 * Inputs nobody vouches for: each case once crashed, hung or was silently wrong (see the notes of the
 * issue "untrusted input"); each is now refused with one line naming the thing, or evaluated correctly.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Graph } from "../src/builder/graph.js";
import { OnnxRuntimeError } from "../src/errors.js";
import { encodeNpy } from "../src/io/npy.js";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { InputError } from "../src/runtime/validate.js";
import { runCliIn, type CliRun, exactly } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the files the tests below share (each test may run alone)
beforeAll(() => {
  writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [2, 3], data: new Float32Array(6) }));
  writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [2], data: new BigInt64Array(2) }));
  writeFileSync(join(dir, "x1.npy"), encodeNpy({ dtype: "float32", dims: [3], data: new Float32Array(3) }));
  const g = new Graph("expand");
  g.output(g.node("Expand", [g.input("x", "float32", ["N"]), g.constant([7, 5], "int64")]), "y", ["?", "?"]);
  writeFileSync(join(dir, "expand.onnx"), g.toModel());
});

const cli = (...argv: string[]): Promise<CliRun> => runCliIn(dir, argv);

const zeros = (n: number, c: number) => ({ data: new Float32Array(n * c), dims: [n, c] });

describe("class indices meet ignoreIndex and C exactly, as int64", () => {
  test.each([
    ["-2^53 - 1 next to ignoreIndex -(2^53 - 1)", { ignoreIndex: -(2 ** 53 - 1) }, -(2n ** 53n) - 1n],
    ["2^53 next to ignoreIndex 2^53 - 1", { ignoreIndex: 2 ** 53 - 1 }, 2n ** 53n],
    ["2^62", {}, 2n ** 62n],
    ["-2^63", {}, -(2n ** 63n)],
    ["2^32 + 1 (its low word is 1)", {}, 2n ** 32n + 1n],
  ])("%s is refused", async (_what, options, bad) => {
    const ev = await createEvaluator(buildLoss("cross_entropy", options));
    await expect(ev.run({ input: zeros(2, 3), target: { data: BigInt64Array.from([bad, 0n]), dims: [2] } })).rejects.toThrow(
      new InputError(
        `target: expected class indices in [0, 3) or ignoreIndex ${(options as { ignoreIndex?: number }).ignoreIndex ?? -100} (C = input dim 1), received ${bad} at flat index 0`,
      ),
    );
    await ev.release();
  });

  test("ignoreIndex beyond 2^53 - 1 is refused as an option (a number there is not an exact integer)", () => {
    expect(() => buildLoss("cross_entropy", { ignoreIndex: 2 ** 63 })).toThrow(
      exactly("cross_entropy: option ignoreIndex: expected an integer of at most 2^53 - 1 in size, received 9223372036854776000"),
    );
  });

  test("under the WebGPU lowering (int32 indices) an ignoreIndex beyond int32 is refused, not wrapped to a class", () => {
    expect(() => buildLoss("cross_entropy", { ignoreIndex: 2 ** 32 }, { lowering: "webgpu" })).toThrow(
      exactly(
        "cross_entropy: option ignoreIndex: expected an integer in [-2^31, 2^31 - 1] with the WebGPU lowering (its class indices are int32), received 4294967296",
      ),
    );
    expect(buildLoss("cross_entropy", { ignoreIndex: -(2 ** 31) }, { lowering: "webgpu" }).checks[0]).toMatchObject({
      ignoreIndex: -(2 ** 31),
    });
  });

  test("ignored targets and a positive ignoreIndex still evaluate", async () => {
    const ev = await createEvaluator(buildLoss("cross_entropy", { ignoreIndex: 5 }));
    const { loss } = await ev.run({ input: zeros(2, 3), target: { data: BigInt64Array.from([5n, 2n]), dims: [2] } });
    expect(Number(loss.data[0])).toBeCloseTo(Math.log(3), 6);
    await ev.release();
  });

  test("C = 0 with every target ignored is refused before the gather", async () => {
    const ev = await createEvaluator(buildLoss("cross_entropy"));
    await expect(ev.run({ input: zeros(3, 0), target: { data: BigInt64Array.from([-100n, -100n, -100n]), dims: [3] } })).rejects.toThrow(
      exactly("input: expected dim 1 (C) >= 1 for target's class indices, received [3, 0]"),
    );
    await ev.release();
  });
});

describe("flags and options", () => {
  test("--threads is bounded by the machine", async () => {
    writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [2, 3], data: new Float32Array(6) }));
    writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [2], data: new BigInt64Array(2) }));
    const r = await cli("eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy", "--threads", "100000");
    expect([r.code, r.err]).toEqual([
      2,
      `onnx-losses: --threads: expected an integer from 1 to ${availableParallelism()} (the cores this machine offers), received 100000\n`,
    ]);
    await expect(createEvaluator(buildLoss("cross_entropy"), { threads: 100000 })).rejects.toThrow(
      exactly(`threads: expected an integer from 1 to ${availableParallelism()} (the cores this machine offers), received 100000`),
    );
  });

  test("option JSON nested 10000 deep is refused, not a stack overflow", async () => {
    const deep = `{"weight": ${"[".repeat(10000)}${"]".repeat(10000)}}`;
    const r = await cli("export", "cross_entropy", "--options", deep, "-o", "x.onnx");
    expect([r.code, r.err]).toEqual([2, "onnx-losses: --options: expected JSON at most 8 levels deep, received deeper\n"]);
    expect(() => buildLoss("cross_entropy", { weight: JSON.parse(deep).weight })).toThrow(
      exactly(
        'cross_entropy: option weight: expected null or a non-empty list of numbers >= 0, or "input" (a tensor input weight, [C], C the classes of input), received a list nested over 32 deep',
      ),
    );
  });

  test("--input __proto__ is an input name like any other", async () => {
    const r = await cli("eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy", "--input", "__proto__=x.npy");
    expect([r.code, r.err]).toEqual([2, "onnx-losses: __proto__: unknown input; the model's inputs are input, target\n"]);
  });
});

describe("onnxruntime's own failures are the model's, on one line", () => {
  test("a model onnxruntime cannot load (an op it lacks)", async () => {
    const g = new Graph("bad");
    g.output(g.node("NoSuchOp", [g.input("x", "float32", ["N"])]), "y", ["N"]);
    writeFileSync(join(dir, "badop.onnx"), g.toModel());
    writeFileSync(join(dir, "x1.npy"), encodeNpy({ dtype: "float32", dims: [3], data: new Float32Array(3) }));
    await expect(createEvaluator(g.toModel(), { what: "badop.onnx" })).rejects.toThrow(OnnxRuntimeError);
    const r = await cli("eval", "badop.onnx", "--input", "x=x1.npy");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^onnx-losses: badop\.onnx: onnxruntime cannot load the model \(cpu: .*NoSuchOp.*\)\n$/);
  });

  test("a model onnxruntime fails to run (an Expand to an impossible shape)", async () => {
    const g = new Graph("expand");
    g.output(g.node("Expand", [g.input("x", "float32", ["N"]), g.constant([7, 5], "int64")]), "y", ["?", "?"]);
    writeFileSync(join(dir, "expand.onnx"), g.toModel());
    const r = await cli("eval", "expand.onnx", "--input", "x=x1.npy");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^onnx-losses: expand\.onnx: onnxruntime failed to run the model: .*Expand.*\n$/);
  });
});

describe("reductions over equal values, where float32 rounding errors add up", () => {
  test("the mean of 10^6 equal items is within 3e-7 of float64, in one pass and streamed", async () => {
    const N = 1_000_000;
    const C = 10;
    const input = { data: new Float32Array(N * C), dims: [N, C] };
    const target = { data: new BigInt64Array(N), dims: [N] };
    const ev = await createEvaluator(buildLoss("cross_entropy"));
    const { loss } = await ev.run({ input, target });
    await ev.release();
    expect(Math.abs(Number(loss.data[0]) - Math.log(C)) / Math.log(C)).toBeLessThan(3e-7);
    writeFileSync(join(dir, "zeros.npy"), encodeNpy({ dtype: "float32", ...input }));
    writeFileSync(join(dir, "zeros_t.npy"), encodeNpy({ dtype: "int64", ...target }));
    const { evaluateNpyFiles } = await import("../src/stream/evaluate_files.js");
    const s = await evaluateNpyFiles(
      { loss: "cross_entropy" },
      { input: join(dir, "zeros.npy"), target: join(dir, "zeros_t.npy") },
      { chunkBytes: 8 * 2 ** 20 },
    );
    expect(s.chunks).toBeGreaterThan(3);
    expect(Math.abs(s.value! - Math.log(C)) / Math.log(C)).toBeLessThan(3e-7);
  });
});

describe("automatic streaming of large inputs", () => {
  test("a model that cannot be streamed says so and names --no-stream, which evaluates it whole", async () => {
    const { closeSync, openSync, ftruncateSync, writeSync } = await import("node:fs");
    const { STREAM_ABOVE_BYTES } = await import("../src/cli/commands/eval.js");
    const C = 16;
    const N = Math.ceil((STREAM_ABOVE_BYTES + 2 ** 20) / (4 * C));
    // a sparse file: the header, then zeros up to the size the header promises
    const header = encodeNpy({ dtype: "float32", dims: [N, C], data: new Float32Array(0) });
    const fd = openSync(join(dir, "big.npy"), "w");
    writeSync(fd, header);
    ftruncateSync(fd, header.length + N * C * 4);
    closeSync(fd);
    const g = new Graph("foreign_mean");
    g.output(g.node("ReduceMean", [g.input("x", "float32", ["N", C])], { keepdims: 0 }), "mean", []);
    writeFileSync(join(dir, "mean.onnx"), g.toModel());
    const auto = await cli("eval", "mean.onnx", "--input", "x=big.npy");
    expect([auto.code, auto.err]).toEqual([
      2,
      `onnx-losses: mean.onnx: cannot be evaluated in chunks, which inputs over ${STREAM_ABOVE_BYTES / 2 ** 20} MiB together are by default: its output mean is a scalar, and the graph names no loss_sum (and weight_sum) it was computed from; --no-stream loads them whole\n`,
    ]);
    const whole = await cli("eval", "mean.onnx", "--input", "x=big.npy", "--no-stream", "--json");
    expect([whole.code, JSON.parse(whole.out).outputs.mean.data]).toEqual([0, [0]]);
    rmSync(join(dir, "big.npy"));
  }, 120000);
});

describe("files that lie about their own sizes", () => {
  test("an initializer whose raw_data is not a whole number of elements is the model's error, exit 2", async () => {
    const { decodeModel, encodeModel } = await import("../src/onnx/codec.js");
    const m = decodeModel(buildLoss("cross_entropy").model);
    m.graph!.initializer![0].rawData = new Uint8Array(3); // an int64 constant of 3 bytes
    writeFileSync(join(dir, "raw3.onnx"), encodeModel(m));
    for (const argv of [
      ["inspect", "raw3.onnx"],
      ["eval", "raw3.onnx", "--input", "input=x.npy", "--input", "target=t.npy"],
    ]) {
      const r = await cli(...argv);
      expect([r.code, r.err]).toEqual([
        2,
        'onnx-losses: raw3.onnx: initializer "const_0": expected raw_data of a multiple of 8 bytes for int64, received 3\n',
      ]);
    }
  });

  test("a streamed .npy whose header is over 64 KiB is read as one pass reads it", async () => {
    const { evaluateNpyFiles } = await import("../src/stream/evaluate_files.js");
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    let header = dict + " ".repeat(100 * 1024);
    header += `${" ".repeat((64 - ((12 + header.length + 1) % 64)) % 64)}\n`;
    const head = new TextEncoder().encode(header);
    const data = new Uint8Array(Float32Array.from([1, 2, 3, 0, 0, 0]).buffer);
    const bytes = new Uint8Array(12 + head.length + data.length);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 0);
    new DataView(bytes.buffer).setUint32(8, head.length, true);
    bytes.set(head, 12);
    bytes.set(data, 12 + head.length);
    writeFileSync(join(dir, "long.npy"), bytes);
    const s = await evaluateNpyFiles({ loss: "cross_entropy" }, { input: join(dir, "long.npy"), target: join(dir, "t.npy") });
    const r = await cli("eval", "cross_entropy", "--input", "input=long.npy", "--input", "target=t.npy", "--json");
    expect(Math.abs(s.value! - JSON.parse(r.out).outputs.loss.data[0])).toBeLessThan(1e-6);
  });
});

describe("the real binary: a failure inside onnxruntime is one line on stderr", () => {
  test("onnxruntime's own log does not reach stderr", async () => {
    const { spawnSync } = await import("node:child_process");
    const { ROOT } = await import("./helpers.js");
    const r = spawnSync(process.execPath, [join(ROOT, "dist", "cli", "main.js"), "eval", "expand.onnx", "--input", "x=x1.npy"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^onnx-losses: expand\.onnx: onnxruntime failed to run the model: /);
  });
});

describe("found by the generated-input tests (test/fuzz.test.ts), each now equal to the float64 reference", () => {
  const ref = async (
    loss: string,
    options: Record<string, unknown>,
    input: { data: Float32Array; dims: number[] },
    target: { data: Float32Array | BigInt64Array; dims: number[] },
  ) => {
    const { referenceFor } = await import("./reference.js");
    const ev = await createEvaluator(buildLoss(loss, options));
    const { loss: got } = await ev.run({ input, target });
    await ev.release();
    const want = referenceFor(
      loss,
      input,
      { dims: target.dims, data: Array.from(target.data as ArrayLike<number | bigint>, Number) },
      options,
    );
    return { got: Number(got.data[0]), want: want[0] };
  };

  test("oneHotClamp below float32's range with a logit 1e4 below the others: finite (log space), not inf", async () => {
    const x = Float32Array.from([-1e4, 0, 0, 0]);
    const { got, want } = await ref(
      "softmax_focal_loss",
      { oneHotClamp: 1e-300 },
      { data: x, dims: [1, 4] },
      { data: BigInt64Array.from([0n]), dims: [1] },
    );
    expect(Math.abs(got - want) / want).toBeLessThan(1e-5);
  });

  test("a posWeight of 2e-9 weighs positives 2e-9, not 0 (1 + (pw - 1) y cancelled in float32)", async () => {
    const { got, want } = await ref(
      "binary_cross_entropy_with_logits",
      { posWeight: [2e-9], reduction: "sum", rank: 1 },
      { data: Float32Array.from([-3]), dims: [1] },
      { data: Float32Array.from([1]), dims: [1] },
    );
    expect(want).toBeGreaterThan(0);
    expect(Math.abs(got - want) / want).toBeLessThan(1e-5);
  });

  test("a number alpha with label smoothing and a far logit: no cancellation", async () => {
    const x = Float32Array.from([3, -1e4, 0.5, 1, 2, -2, 0, 4, 1, 1]);
    const options = { alpha: 0, labelSmoothing: 0.1047 };
    const { got, want } = await ref(
      "softmax_focal_loss",
      options,
      { data: x, dims: [2, 5] },
      { data: BigInt64Array.from([1n, 3n]), dims: [2] },
    );
    expect(Math.abs(got - want) / want).toBeLessThan(1e-6);
  });
});

describe("sizes a file declares but does not hold", () => {
  /** A .npy of float32 with this shape and no data (what a hostile 128-byte file declares). */
  const declare = (file: string, shape: string) => {
    let h = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
    h += `${" ".repeat((64 - ((10 + h.length + 1) % 64)) % 64)}\n`;
    const head = new TextEncoder().encode(h);
    const out = new Uint8Array(10 + head.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
    new DataView(out.buffer).setUint16(8, head.length, true);
    out.set(head, 10);
    writeFileSync(join(dir, file), out);
  };

  test.each([
    ["(1000000000, 0)", "[1000000000, 0]"],
    ["(1000000000000000, 0)", "[1000000000000000, 0]"],
    ["(1000000000000, 5, 0)", "[1000000000000, 5, 0]"],
  ])("%s is refused before anything is allocated, in one pass and streamed", async (shape, dims) => {
    declare("empty.npy", shape);
    for (const extra of [[], ["--stream"]]) {
      const r = await cli("eval", "binary_cross_entropy", "--input", "input=empty.npy", "--input", "target=empty.npy", ...extra);
      expect([r.code, r.err]).toEqual([
        2,
        `onnx-losses: input: expected a tensor without elements to have at most 16777216 in its other dims together (a graph allocates by them), received ${dims}\n`,
      ]);
    }
  });

  test("(0, 10^20) is refused as a dim no number holds exactly", async () => {
    declare("huge.npy", "(0, 100000000000000000000)");
    for (const extra of [[], ["--stream"]]) {
      const r = await cli("eval", "binary_cross_entropy", "--input", "input=huge.npy", "--input", "target=huge.npy", ...extra);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /^onnx-losses: huge\.npy: expected a \.npy header dict with descr, fortran_order and shape \(a dim below 2\^53 \(100000000000000000000\) at character \d+\)/,
      );
    }
  });

  test("a model with no outputs is refused, named, exit 2", async () => {
    const { decodeModel, encodeModel } = await import("../src/onnx/codec.js");
    const g = new Graph("none");
    g.output(g.node("Neg", [g.input("x", "float32", ["N"])]), "y", ["N"]);
    const m = decodeModel(g.toModel());
    m.graph!.output = [];
    writeFileSync(join(dir, "nooutputs.onnx"), encodeModel(m));
    const r = await cli("eval", "nooutputs.onnx", "--input", "x=x1.npy");
    expect([r.code, r.err]).toEqual([
      2,
      "onnx-losses: nooutputs.onnx: expected a model with at least one output, received a graph without outputs\n",
    ]);
  });

  test.each(["__proto__", "constructor", "toString"])("--input %s=... is an input name like any other", async (name) => {
    const r = await cli("eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy", "--input", `${name}=x.npy`);
    expect([r.code, r.err]).toEqual([2, `onnx-losses: ${name}: unknown input; the model's inputs are input, target\n`]);
  });
});

describe("messages that name their cause", () => {
  test("a C that disagrees with a weight list names the option", async () => {
    const ev = await createEvaluator(buildLoss("cross_entropy", { weight: [1, 2, 3] }));
    await expect(ev.run({ input: zeros(4, 10), target: { data: new BigInt64Array(4), dims: [4] } })).rejects.toThrow(
      exactly("input: expected dim 1 = 3 (shape [N, 3]), received [4, 10]; 3 is the length of option weight of cross_entropy"),
    );
    await ev.release();
  });

  test("a fallback to another provider is said on stderr in --json mode too", async () => {
    const { nodeProviderStatuses } = await import("../src/runtime/node.js");
    // a provider this install lacks (DirectML off Windows, CUDA without its libraries): there is always one
    const absent = nodeProviderStatuses().find((s) => !s.available)!.name;
    const r = await cli(
      "eval",
      "cross_entropy",
      "--input",
      "input=x.npy",
      "--input",
      "target=t.npy",
      "--ep",
      absent,
      "--fallback",
      "cpu",
      "--json",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).outputs.loss.dims).toEqual([]);
    expect(r.err).toBe(`note: ran on cpu (${absent} was not available)\n`);
  });
});

describe("found by the second adversarial run", () => {
  test("--json refuses an output too large for one JSON text, naming --out", async () => {
    const { jsonNumbers, MAX_JSON_VALUES } = await import("../src/cli/format.js");
    expect(() =>
      jsonNumbers({ dtype: "float32", dims: [MAX_JSON_VALUES + 1], data: new Float32Array(MAX_JSON_VALUES + 1) }, "loss"),
    ).toThrow(
      exactly(
        `--json: loss has ${MAX_JSON_VALUES + 1} values, more than the ${MAX_JSON_VALUES} --json prints; --out DIR writes it as DIR/loss.npy`,
      ),
    );
  });

  test("streamed integer sums keep their dtype, exactly, and their dims", async () => {
    const { evaluateNpyFiles } = await import("../src/stream/evaluate_files.js");
    const g = new Graph("int_sums");
    const t = g.input("t", "int64", ["N"]);
    g.output(g.node("ReduceSum", [t], { keepdims: 1 }), "loss_sum", []);
    const N = 5000;
    const data = BigInt64Array.from({ length: N }, (_, i) => 2n ** 40n + BigInt(i)); // sums below 2^53: onnxruntime's int64 ReduceSum is exact there
    writeFileSync(join(dir, "big_ints.npy"), encodeNpy({ dtype: "int64", dims: [N], data }));
    const ev = await createEvaluator(g.toModel());
    const one = (await ev.run({ t: { data, dims: [N] } })).loss_sum;
    await ev.release();
    const s = await evaluateNpyFiles(g.toModel(), { t: join(dir, "big_ints.npy") }, { chunkBytes: 8 * 700 });
    expect(s.chunks).toBeGreaterThan(5);
    expect([s.outputs.loss_sum.dtype, s.outputs.loss_sum.dims, s.outputs.loss_sum.data[0]]).toEqual([one.dtype, one.dims, one.data[0]]);
  });

  test("a worker evaluator starts in a host run with --input-type=module", async () => {
    const { spawnSync } = await import("node:child_process");
    const { ROOT } = await import("./helpers.js");
    const url = new URL(`file://${join(ROOT, "dist", "index.js")}`).href;
    const code = `import { buildLoss, createEvaluator } from ${JSON.stringify(url)};
      const ev = await createEvaluator(buildLoss("cross_entropy"), { worker: true });
      const { loss } = await ev.run({ input: { data: new Float32Array(6), dims: [2, 3] }, target: { data: [0, 1], dims: [2] } });
      await ev.release(); await ev.release();
      console.log(loss.data[0]);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
    expect([r.stderr, Number(r.stdout)]).toEqual(["", expect.closeTo(Math.log(3), 6)]);
  });

  test("a SharedArrayBuffer input evaluates (copied), and release twice is fine", async () => {
    const ev = await createEvaluator(buildLoss("cross_entropy"));
    const shared = new Float32Array(new SharedArrayBuffer(24));
    const { loss } = await ev.run({ input: { data: shared, dims: [2, 3] }, target: { data: [0, 1], dims: [2] } });
    expect(Number(loss.data[0])).toBeCloseTo(Math.log(3), 6);
    await ev.release();
    await ev.release();
  });

  test("a streamed run refused midway keeps the earlier output file, and outDir is created", async () => {
    const { evaluateNpyFiles } = await import("../src/stream/evaluate_files.js");
    const { readFileSync } = await import("node:fs");
    const N = 400;
    const x = { dtype: "float32" as const, dims: [N, 3], data: new Float32Array(N * 3) };
    const t = BigInt64Array.from({ length: N }, () => 1n);
    writeFileSync(join(dir, "sx.npy"), encodeNpy(x));
    writeFileSync(join(dir, "st.npy"), encodeNpy({ dtype: "int64", dims: [N], data: t }));
    const outDir = join(dir, "new", "out");
    const files = { input: join(dir, "sx.npy"), target: join(dir, "st.npy") };
    await evaluateNpyFiles({ loss: "cross_entropy", options: { reduction: "none" } }, files, { outDir, chunkBytes: 20 * 20 });
    const before = readFileSync(join(outDir, "loss.npy"));
    t[350] = -3n;
    writeFileSync(join(dir, "st.npy"), encodeNpy({ dtype: "int64", dims: [N], data: t }));
    await expect(
      evaluateNpyFiles({ loss: "cross_entropy", options: { reduction: "none" } }, files, { outDir, chunkBytes: 20 * 20 }),
    ).rejects.toThrow(
      exactly(
        "target: expected class indices in [0, 3) or ignoreIndex -100 (C = input dim 1), received -3 at flat index 350 (in rows 340..359 of 400)",
      ),
    );
    expect(readFileSync(join(outDir, "loss.npy")).equals(before)).toBe(true);
  });
});

describe("the real binary with --ep webgpu", () => {
  test("where there is no adapter: one stderr line, not the native layers' noise; where there is one: the CPU's value", async () => {
    const { spawnSync } = await import("node:child_process");
    const { ROOT } = await import("./helpers.js");
    const run = (...ep: string[]) =>
      spawnSync(
        process.execPath,
        [
          join(ROOT, "dist", "cli", "main.js"),
          "eval",
          "cross_entropy",
          "--input",
          "input=x.npy",
          "--input",
          "target=t.npy",
          "--json",
          ...ep,
        ],
        { cwd: dir, encoding: "utf8" },
      );
    const cpu = run();
    const gpu = run("--ep", "webgpu");
    if (gpu.status === 0) {
      expect(JSON.parse(gpu.stdout).outputs.loss.data[0]).toBeCloseTo(JSON.parse(cpu.stdout).outputs.loss.data[0], 5);
      return;
    }
    expect(gpu.status).toBe(2);
    expect(gpu.stderr.trim().split("\n")).toHaveLength(1);
    expect(gpu.stderr).toMatch(
      /^onnx-losses: execution provider webgpu: not available \(.+\); pass a fallback list \(e\.g\. --fallback cpu\) to run elsewhere\n$/,
    );
    const fallback = run("--ep", "webgpu", "--fallback", "cpu");
    expect([fallback.status, fallback.stderr]).toEqual([0, "note: ran on cpu (webgpu was not available)\n"]);
    expect(JSON.parse(fallback.stdout)).toEqual(JSON.parse(cpu.stdout));
  }, 120000);
});

describe("a .npy header past the limit", () => {
  test("is refused naming the limit, in one pass and streamed alike", async () => {
    const { MAX_NPY_HEADER_BYTES } = await import("../src/io/npy.js");
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }${" ".repeat(MAX_NPY_HEADER_BYTES)}`;
    header += `${" ".repeat((64 - ((12 + header.length + 1) % 64)) % 64)}\n`;
    const head = new TextEncoder().encode(header);
    const bytes = new Uint8Array(12 + head.length + 24);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0], 0);
    new DataView(bytes.buffer).setUint32(8, head.length, true);
    bytes.set(head, 12);
    writeFileSync(join(dir, "huge_header.npy"), bytes);
    const message = `onnx-losses: huge_header.npy: expected a .npy header of at most ${MAX_NPY_HEADER_BYTES} bytes, received one of ${head.length}\n`;
    for (const extra of [[], ["--stream"]]) {
      const r = await cli("eval", "cross_entropy", "--input", "input=huge_header.npy", "--input", "target=t.npy", ...extra);
      expect([r.code, r.err]).toEqual([2, message]);
    }
  });
});

describe("found by the review of attach and linearHeadStep", () => {
  test("a folder given for a file is named (Node's EISDIR has no path): the model of attach, inspect and eval, and an .npy", async () => {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(join(dir, "folder.onnx"), { recursive: true });
    const folder = join(dir, "folder.onnx");
    // a model by its path, as a missing one; an .npy as the command line gave it, as its other errors
    for (const [argv, shown] of [
      [["attach", "folder.onnx", "--model-output", "logits", "--loss", "cross_entropy", "-o", "o.onnx"], folder],
      [["inspect", "folder.onnx"], folder],
      [["eval", "folder.onnx", "--input", "x=x.npy"], folder],
      [["eval", "cross_entropy", "--input", "input=folder.onnx", "--input", "target=t.npy"], "folder.onnx"],
      [["eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=folder.onnx", "--stream"], "folder.onnx"],
    ] as const) {
      const r = await cli(...argv);
      // was "EISDIR: illegal operation on a directory, read"
      expect([r.code, r.out, r.err]).toEqual([2, "", `onnx-losses: ${shown}: is a directory, expected a file\n`]);
    }
  });

  test("a loss graph with a sparse initializer that redefines its ignoreIndex constant is refused, not run with it", async () => {
    const { decodeModel, encodeModel } = await import("../src/onnx/codec.js");
    const { readLossModel } = await import("../src/models/kinds.js");
    const { ModelContractError } = await import("../src/model/contract.js");
    const m = decodeModel(buildLoss("cross_entropy").model);
    // const_0 is the -100 the graph compares targets with: as 7, an ignored -100 was counted as class 0
    expect((m.graph?.node ?? [])[0]).toMatchObject({ opType: "Equal", input: ["target", "const_0"] });
    (m.graph?.sparseInitializer ?? []).push({
      values: { name: "const_0", dataType: 7, dims: [1], rawData: new Uint8Array(BigInt64Array.of(7n).buffer) },
      indices: { dataType: 7, dims: [1], int64Data: [0] },
      dims: [],
    } as never);
    const bytes = encodeModel(m);
    expect(() => readLossModel(bytes, "sparse.onnx")).toThrow(ModelContractError);
    expect(() => readLossModel(bytes, "sparse.onnx")).toThrow(
      /^sparse\.onnx: metadata onnx_losses\.options: the graph is not what cross_entropy with options .* builds at opset 17/,
    );
    writeFileSync(join(dir, "sparse.onnx"), bytes);
    const r = await cli("eval", "sparse.onnx", "--input", "input=x.npy", "--input", "target=t.npy");
    expect([r.code, r.out]).toEqual([2, ""]);
    expect(r.err.split("\n")).toHaveLength(2);
  });
});

describe("found by the third attack on issue 16", () => {
  test("a node with an attribute given twice is refused when read (verification read the last, onnxruntime refuses the node)", async () => {
    const { decodeModel, encodeModel } = await import("../src/onnx/codec.js");
    const { readLossModel } = await import("../src/models/kinds.js");
    const m = decodeModel(buildLoss("cross_entropy").model);
    const node = m.graph!.node!.find((n) => n.opType === "LogSoftmax")!;
    node.attribute = [{ name: "axis", type: 2, i: 0 }, ...(node.attribute ?? [])];
    const bytes = encodeModel(m);
    expect(() => readLossModel(bytes, "dup.onnx")).toThrow(
      exactly(
        `dup.onnx: node ${JSON.stringify(node.name ?? "")} (LogSoftmax): attribute "axis" appears twice; ONNX gives each attribute once`,
      ),
    );
    writeFileSync(join(dir, "dup.onnx"), bytes);
    const r = await cli("inspect", "dup.onnx");
    expect([r.code, r.err]).toEqual([
      2,
      `onnx-losses: dup.onnx: node ${JSON.stringify(node.name ?? "")} (LogSoftmax): attribute "axis" appears twice; ONNX gives each attribute once\n`,
    ]);
  });
});
