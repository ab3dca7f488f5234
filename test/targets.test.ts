/**
 * Targets as PyTorch reads them (issue 19) and errors that name what is wrong (issue 20): `eval
 * cross_entropy` of a float target shaped like the input computes probability targets, as
 * F.cross_entropy does (equal to PyTorch's value on the fixtures) and says so (a note on stderr, the
 * options in --json); a float target with the shape of class indices, an integer input, inputs given
 * the wrong way round, each one line naming the file and what to do, before any option is blamed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { encodeNpy } from "../src/io/npy.js";
import { buildLoss } from "../src/losses/index.js";
import { createEvaluator } from "../src/runtime/node.js";
import { exactly, feedsOf, firstMismatch, loadFixtures, num, runCliIn } from "./helpers.js";
import type { TensorData } from "../src/tensor/tensor.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-targets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function save(name: string, t: TensorData): string {
  writeFileSync(join(dir, name), encodeNpy(t));
  return name;
}

const logits = save("logits.npy", { dtype: "float32", dims: [2, 3], data: new Float32Array([1, 2, 0.5, 0.1, 0.3, 2]) });
const labels = save("labels.npy", { dtype: "int64", dims: [2], data: new BigInt64Array([1n, 2n]) });
const floatLabels = save("labels_f32.npy", { dtype: "float32", dims: [2], data: new Float32Array([1, 2]) });
const floatLabels2d = save("labels_2d.npy", { dtype: "float32", dims: [2, 1], data: new Float32Array([1, 2]) });

describe("eval cross_entropy of a float target shaped like the input: class probabilities, as F.cross_entropy", () => {
  const cases = loadFixtures("cross_entropy.json").filter(
    (c) =>
      c.options.targetType === "probs" &&
      c.options.reduction !== "none" &&
      Object.keys(c.options).every((k) => ["rank", "targetType", "reduction", "labelSmoothing"].includes(k)),
  );
  test("equal to PyTorch on every such fixture, with the note on stderr and the options in --json", async () => {
    expect(cases.length).toBeGreaterThan(5);
    const failures: string[] = [];
    for (const [i, c] of cases.entries()) {
      const feeds = feedsOf(c) as Record<string, TensorData>;
      const x = save(`p${i}_x.npy`, { dtype: "float32", dims: feeds.input.dims, data: feeds.input.data });
      const t = save(`p${i}_t.npy`, { dtype: "float32", dims: feeds.target.dims, data: feeds.target.data });
      const options = Object.fromEntries(Object.entries(c.options).filter(([k]) => k !== "targetType" && k !== "rank"));
      const r = await runCliIn(dir, [
        "eval",
        "cross_entropy",
        "--input",
        `input=${x}`,
        "--input",
        `target=${t}`,
        "--options",
        JSON.stringify(options),
        "--json",
      ]);
      if (r.code !== 0) {
        failures.push(`${c.id}: exit ${r.code}: ${r.err}`);
        continue;
      }
      const dims = feeds.input.dims;
      expect(r.err).toBe(
        `note: target float32 [${dims.join(", ")}] is shaped like input: read as class probabilities (targetType "probs"), as F.cross_entropy does; --options '{"targetType": "index"}' refuses it instead\n`,
      );
      const json = JSON.parse(r.out) as { outputs: { loss: { data: number[] } }; options?: unknown };
      expect(json.options).toEqual({ targetType: "probs" });
      const want = c.expected.data.map(num);
      const k = firstMismatch(Float32Array.from(json.outputs.loss.data), want);
      if (k >= 0) failures.push(`${c.id}: got ${json.outputs.loss.data[k]}, PyTorch ${want[k]}`);
    }
    expect(failures).toEqual([]);
  });

  test("class indices keep the plain output (no note, no options in --json); targetType index refuses the float target", async () => {
    const r = await runCliIn(dir, ["eval", "cross_entropy", "--input", `input=${logits}`, "--input", `target=${labels}`, "--json"]);
    expect([r.code, r.err, r.out]).toEqual([0, "", '{"outputs":{"loss":{"dims":[],"data":[0.3756198287010193]}}}\n']);
    const probs = save("probs.npy", { dtype: "float32", dims: [2, 3], data: new Float32Array([0, 1, 0, 0, 0, 1]) });
    const same = await runCliIn(dir, ["eval", "cross_entropy", "--input", `input=${logits}`, "--input", `target=${probs}`, "--json"]);
    expect(same.code).toBe(0);
    expect((JSON.parse(same.out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0]).toBeCloseTo(0.3756198287010193, 6);
    const refused = await runCliIn(dir, [
      "eval",
      "cross_entropy",
      "--input",
      `input=${logits}`,
      "--input",
      `target=${probs}`,
      "--options",
      '{"targetType": "index"}',
    ]);
    expect([refused.code, refused.err]).toEqual([
      2,
      'onnx-losses: target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch); or, for class probabilities shaped like input, build cross_entropy with targetType "probs"\n',
    ]);
  });
});

describe("errors that name what is wrong, before any option", () => {
  test.each([
    [
      "class indices saved as floats",
      ["eval", "cross_entropy", "--input", `input=${logits}`, "--input", `target=${floatLabels}`],
      "onnx-losses: target: expected class indices as int64 (int32 accepted), received float32 [2] from labels_f32.npy; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch)",
    ],
    [
      "input and target swapped (int64 labels as the input)",
      ["eval", "cross_entropy", "--input", `input=${labels}`, "--input", `target=${logits}`],
      "onnx-losses: input: expected cross_entropy's float input (logits or probabilities, any float dtype), received int64 [2] from labels.npy; input and target look swapped (--input input=LOGITS --input target=LABELS)",
    ],
    [
      "input and target swapped (float labels as the input): the input's rank, not an option",
      ["eval", "softmax_focal_loss", "--input", `input=${floatLabels}`, "--input", `target=${logits}`],
      "onnx-losses: input: expected a rank in [2, 8] (softmax_focal_loss's input [N, C, d1, ...]), received float32 [2] from labels_f32.npy; input and target look swapped (--input input=LOGITS --input target=LABELS)",
    ],
    [
      "an input of rank 1 alone",
      ["eval", "nll_loss", "--input", `input=${floatLabels}`],
      "onnx-losses: input: expected a rank in [2, 8] (nll_loss's input [N, C, d1, ...]), received float32 [2] from labels_f32.npy",
    ],
    [
      "an unknown loss is named as such, whatever its input",
      ["eval", "cross_entropi", "--input", `input=${labels}`],
      'onnx-losses: loss: unknown loss "cross_entropi" (did you mean cross_entropy?); losses are cross_entropy, nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits, softmax_focal_loss, sigmoid_focal_loss',
    ],
  ])("%s", async (_what, argv, want) => {
    const r = await runCliIn(dir, argv);
    expect([r.code, r.err]).toEqual([2, `${want}\n`]);
  });

  test("a float target of another shape is left to the loss's own check (not read as class indices)", async () => {
    const r = await runCliIn(dir, ["eval", "cross_entropy", "--input", `input=${logits}`, "--input", `target=${floatLabels2d}`]);
    expect([r.code, r.err]).toEqual([
      2,
      'onnx-losses: target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch); or, for class probabilities shaped like input, build cross_entropy with targetType "probs"\n',
    ]);
  });

  test("the API: a float target for class indices gets the same hints", async () => {
    const ev = await createEvaluator(buildLoss("nll_loss"));
    try {
      await expect(
        ev.run({ input: { data: new Float32Array(6), dims: [2, 3] }, target: { data: new Float32Array([1, 2]), dims: [2] } }),
      ).rejects.toThrow(
        exactly(
          "target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch)",
        ),
      );
    } finally {
      await ev.release();
    }
  });
});
