/**
 * One option mechanism (util/schema.ts) for every options object: loss options, build, evaluator,
 * attach, step and stream options and the stream source. Each refusal is an OptionError whose message
 * is exact and whose `problem` gives its parts (subject, path, expected, received), which the CLI words
 * with its flags.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { OptionError, type OptionProblem } from "../src/errors.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss } from "../src/losses/index.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { readLossModel } from "../src/models/kinds.js";
import { createEvaluator } from "../src/runtime/node.js";
import { evaluateNpyFiles } from "../src/stream/evaluate_files.js";
import { checkFields, integerField, required } from "../src/util/schema.js";
import { FIXTURES, runCliIn, exactly } from "./helpers.js";

/** The OptionError `f` throws (or rejects with). */
async function refusal(f: () => unknown): Promise<OptionError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof OptionError) return e;
    throw e;
  }
  throw new Error("expected an OptionError, none was thrown");
}

const mlp = readFileSync(join(FIXTURES, "attach", "mlp.onnx"));
const ce = buildLoss("cross_entropy");

describe("every options object refuses through one schema, with the refusal's parts", () => {
  const cases: [string, () => unknown, string, OptionProblem][] = [
    [
      "loss option value",
      () => buildLoss("softmax_focal_loss", { gamma: -1 }),
      "softmax_focal_loss: option gamma: expected a number >= 0, received -1",
      { subject: "softmax_focal_loss", path: ["gamma"], expected: "a number >= 0", received: "-1" },
    ],
    [
      "loss option key",
      () => buildLoss("softmax_focal_loss", { gama: 2 } as never),
      'softmax_focal_loss: unknown option "gama" (did you mean gamma?); options are rank, gamma, alpha, balanceIndex, ignoreIndex, labelSmoothing, oneHotClamp, reduction, gradient',
      {
        subject: "softmax_focal_loss",
        path: ["gama"],
        expected: "one of rank, gamma, alpha, balanceIndex, ignoreIndex, labelSmoothing, oneHotClamp, reduction, gradient",
        received: "an unknown key",
      },
    ],
    [
      "build option value",
      () => buildLoss("cross_entropy", {}, { opset: 12 }),
      "opset: expected an integer from 13 to 23, received 12",
      { subject: "cross_entropy: build options", path: ["opset"], expected: "an integer from 13 to 23", received: "12" },
    ],
    [
      "evaluator option that was never checked: skipValidation",
      () => createEvaluator(ce, { skipValidation: "yes" } as never),
      'skipValidation: expected true or false, received "yes"',
      { subject: "createEvaluator options", path: ["skipValidation"], expected: "true or false", received: '"yes"' },
    ],
    [
      "evaluator option that was never checked: spinning",
      () => createEvaluator(ce, { spinning: 1 } as never),
      "spinning: expected true or false, received 1",
      { subject: "createEvaluator options", path: ["spinning"], expected: "true or false", received: "1" },
    ],
    [
      "evaluator option that was never checked: fallback",
      () => createEvaluator(ce, { fallback: "cpu" } as never),
      'fallback: expected a list of execution provider names, received "cpu"',
      { subject: "createEvaluator options", path: ["fallback"], expected: "a list of execution provider names", received: '"cpu"' },
    ],
    [
      "evaluator threads",
      () => createEvaluator(ce, { threads: 0 }),
      "threads: expected an integer >= 1, received 0",
      { subject: "createEvaluator options", path: ["threads"], expected: "an integer >= 1", received: "0" },
    ],
    [
      "attach: a required key left out",
      () => attachLoss(mlp, { loss: "cross_entropy" } as never),
      "output: expected a non-empty name, received nothing",
      { subject: "attachLoss", path: ["output"], expected: "a non-empty name", received: "nothing" },
    ],
    [
      "attach: a name too long",
      () => attachLoss(mlp, { output: "logits", loss: "cross_entropy", lossOutput: "x".repeat(4097) }),
      `lossOutput: expected a name of at most 4096 characters, received one of 4097 (${JSON.stringify("x".repeat(40))}...)`,
      {
        subject: "attachLoss",
        path: ["lossOutput"],
        expected: "a name of at most 4096 characters",
        received: `one of 4097 (${JSON.stringify("x".repeat(40))}...)`,
      },
    ],
    [
      "step: lr",
      () => linearHeadStep("cross_entropy", {}, { lr: Number.NaN }),
      "linear_head_step: step option lr: expected a finite number > 0, received NaN",
      { subject: "linear_head_step: step options", path: ["lr"], expected: "a finite number > 0", received: "NaN" },
    ],
    [
      "step: not an object",
      () => linearHeadStep("cross_entropy", {}, undefined as never),
      "linear_head_step: step options: expected an object { lr }, received undefined",
      { subject: "linear_head_step: step options", path: [], expected: "an object { lr }", received: "undefined" },
    ],
    [
      "stream option",
      () => evaluateNpyFiles({ loss: "cross_entropy" }, {}, { chunkBytes: 0.5 }),
      "evaluateNpyFiles options: chunkBytes: expected an integer >= 1 (bytes of input rows per chunk), received 0.5",
      {
        subject: "evaluateNpyFiles options",
        path: ["chunkBytes"],
        expected: "an integer >= 1 (bytes of input rows per chunk)",
        received: "0.5",
      },
    ],
    [
      "stream source's build option",
      () => evaluateNpyFiles({ loss: "cross_entropy", lowering: "webgl" } as never, {}),
      'evaluateNpyFiles source: lowering: expected "none" | "webgpu", received "webgl"',
      { subject: "evaluateNpyFiles source", path: ["lowering"], expected: '"none" | "webgpu"', received: '"webgl"' },
    ],
  ];
  test.each(cases)("%s", async (_, f, message, problem) => {
    const e = await refusal(f);
    expect(e.message).toBe(message);
    expect(e.problem).toEqual(problem);
  });

  test("a refusal is worded again with other names for its keys, from its parts", async () => {
    const e = await refusal(() => attachLoss(mlp, { output: "logits", loss: "cross_entropy", targetInput: "" }));
    expect(e.wording?.((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)).toBe(
      '--target-input: expected a non-empty name, received ""',
    );
    const typo = await refusal(() => createEvaluator(ce, { thread: 2 } as never));
    expect(typo.wording?.((k) => `--${k}`)).toBe(
      'createEvaluator options: unknown option "thread" (did you mean --threads?); options are --ep, --fallback, --threads, --spinning, --skipValidation, --what, --worker, --externalDataDir',
    );
  });

  test("the CLI names its flag, not the API's key", async () => {
    const r = await runCliIn(process.cwd(), [
      "attach",
      join(FIXTURES, "attach", "mlp.onnx"),
      "--model-output",
      "logits",
      "--loss",
      "cross_entropy",
      "--target-input",
      "y".repeat(4097),
      "-o",
      "never-written.onnx",
    ]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      `onnx-losses: --target-input: expected a name of at most 4096 characters, received one of 4097 (${JSON.stringify("y".repeat(40))}...)`,
    );
  });

  test("checkFields: required keys, unknown keys, normalized values, keys left out stay out", () => {
    const schema = { n: required(integerField(1)), m: integerField(0) } as const;
    const words = { subject: "demo options" };
    expect(checkFields(words, schema, { n: 3 })).toEqual({ n: 3 });
    expect(() => checkFields(words, schema, { m: 1 })).toThrow(exactly("n: expected an integer >= 1, received nothing"));
    expect(() => checkFields(words, schema, { n: 1, zzz: 1 })).toThrow(exactly('demo options: unknown option "zzz"; options are n, m'));
    expect(() => checkFields(words, schema, new Map())).toThrow(exactly("demo options: expected an object, received a Map"));
  });
});

describe("gradient is a loss option", () => {
  test("attachLoss's top-level gradient (until 0.2.0) is read as options.gradient: the same bytes", () => {
    const old = attachLoss(mlp, { output: "logits", loss: "cross_entropy", gradient: true });
    const now = attachLoss(mlp, { output: "logits", loss: "cross_entropy", options: { gradient: true } });
    expect(Buffer.from(old.model).equals(Buffer.from(now.model))).toBe(true);
    expect(now.attached.gradient).toBe("logits_grad");
  });

  test("the two spellings disagreeing is refused", () => {
    expect(() => attachLoss(mlp, { output: "logits", loss: "cross_entropy", gradient: false, options: { gradient: true } })).toThrow(
      exactly("gradient false and options.gradient true disagree (gradient is the loss option: pass options.gradient alone)"),
    );
  });
});

describe("options objects of another realm", () => {
  test("an object literal made in a vm context is an options object; a Map or a class instance there is not", async () => {
    const { runInNewContext } = await import("node:vm");
    const words = { subject: "demo options" };
    const schema = { n: integerField(1) } as const;
    expect(checkFields(words, schema, runInNewContext("({ n: 2 })"))).toEqual({ n: 2 });
    expect(() => checkFields(words, schema, runInNewContext("new Map()"))).toThrow(
      exactly("demo options: expected an object, received a Map"),
    );
    expect(() => checkFields(words, schema, runInNewContext("new (class Opts {})()"))).toThrow(
      exactly("demo options: expected an object, received an Opts"),
    );
    expect(buildLoss("cross_entropy", runInNewContext("({ labelSmoothing: 0.1 })")).options.labelSmoothing).toBe(0.1);
  });
});

describe("found by the attack on the option schema and the trusted bytes", () => {
  const feeds = (N: number) => ({
    input: { data: Float32Array.from({ length: N }, (_, i) => 0.1 + (0.8 * ((i * 7) % 10)) / 10), dims: [N] },
    target: { data: Float32Array.from({ length: N }, (_, i) => i % 2), dims: [N] },
  });
  const value = async (ev: Awaited<ReturnType<typeof createEvaluator>>, N: number) => (await ev.run(feeds(N))).loss.data[0] as number;

  test("bytes changed right after createEvaluator is called never reach onnxruntime (trusted or not)", async () => {
    const options = { weight: [2], reduction: "sum" as const, rank: 1 };
    const ref = await createEvaluator(buildLoss("binary_cross_entropy", options));
    const want = [await value(ref, 4), await value(ref, 200000)];
    await ref.release();
    for (const trusted of [true, false]) {
      const g = buildLoss("binary_cross_entropy", options);
      const bytes = trusted ? g.model : new Uint8Array(g.model);
      const pending = createEvaluator(trusted ? g : bytes);
      bytes.fill(0); // after the call, before its promise settles
      const ev = await pending;
      try {
        expect([await value(ev, 4), await value(ev, 200000)]).toEqual(want);
      } finally {
        await ev.release();
      }
    }
  });

  test("the evaluator's contract is its own, frozen: editing ev.loss.options changes nothing it computes", async () => {
    const ev = await createEvaluator(buildLoss("binary_cross_entropy", { weight: [2], reduction: "sum", rank: 1 }));
    try {
      const before = await value(ev, 4);
      expect(() => {
        (ev.loss!.options as { weight: number[] }).weight = [1000];
      }).toThrow(TypeError);
      expect(Object.isFrozen(ev.contract!.checks[0])).toBe(true);
      expect(await value(ev, 4)).toBe(before);
    } finally {
      await ev.release();
    }
  });

  test("a list option is read once (a getter cannot show the check one value and the graph another); a hole is refused", () => {
    let reads = 0;
    const list = [1, 2];
    Object.defineProperty(list, 0, { get: () => (reads++ === 0 ? 1 : -5), enumerable: true });
    const g = buildLoss("binary_cross_entropy", { weight: list, reduction: "sum" });
    expect(g.options.weight).toEqual([1, 2]);
    expect(readLossModel(new Uint8Array(g.model), "copy.onnx").contract?.options.weight).toEqual([1, 2]);
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    expect(() => buildLoss("binary_cross_entropy", { weight: [1, , 2] } as never)).toThrow(
      exactly(
        'binary_cross_entropy: option weight: expected null or a non-empty list of numbers >= 0, or "input" (a tensor input weight, broadcast to input), received [1,null,2]',
      ),
    );
  });

  test("createEvaluator names a source it cannot take, in one line", async () => {
    const form = "expected a built loss (LossGraph), model bytes (Uint8Array) or a .onnx path";
    await expect(createEvaluator(new ArrayBuffer(8) as never)).rejects.toThrow(
      exactly(`createEvaluator source: ${form}, received an ArrayBuffer (pass new Uint8Array(buffer))`),
    );
    await expect(createEvaluator(null as never)).rejects.toThrow(exactly(`createEvaluator source: ${form}, received null`));
    await expect(createEvaluator({} as never)).rejects.toThrow(exactly(`createEvaluator source: ${form}, received {}`));
    await expect(createEvaluator("")).rejects.toThrow(exactly(`createEvaluator source: ${form}, received an empty path`));
  });

  test("options inherited from a bare prototype are refused, not dropped; a provider name is one word", async () => {
    const base = Object.create(null) as Record<string, unknown>;
    base.reduction = "sum";
    expect(() => buildLoss("binary_cross_entropy", Object.create(base))).toThrow(
      exactly("binary_cross_entropy: options: expected an object, received {}"),
    );
    await expect(createEvaluator(ce, { ep: "x\ny" as never })).rejects.toThrow(
      exactly('ep: expected an execution provider\'s name, received "x\\ny"'),
    );
  });
});
