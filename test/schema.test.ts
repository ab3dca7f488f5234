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
      exactly("demo options: expected an object, received a Opts"),
    );
    expect(buildLoss("cross_entropy", runInNewContext("({ labelSmoothing: 0.1 })")).options.labelSmoothing).toBe(0.1);
  });
});
