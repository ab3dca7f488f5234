/**
 * A number-list option from a .npy file (issue 19): `--options '{"weight": "w.npy"}'` reads the list
 * numpy.save wrote (relative to the working folder, or to the folder of `--options @FILE`), and gives
 * the value the same list inline gives; a file that is not one list of numbers is one line naming it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "@jest/globals";
import { encodeNpy } from "../src/io/npy.js";
import { runCliIn } from "./helpers.js";
import type { TensorData } from "../src/tensor/tensor.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-lists-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const save = (name: string, t: TensorData) => writeFileSync(join(dir, name), encodeNpy(t));

save("x.npy", { dtype: "float32", dims: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)) });
save("t.npy", { dtype: "int64", dims: [4], data: new BigInt64Array([0n, 2n, 1n, 2n]) });
save("w.npy", { dtype: "float64", dims: [3], data: new Float64Array([0.5, 2, 1.25]) });
save("w_int.npy", { dtype: "int64", dims: [3], data: new BigInt64Array([1n, 3n, 2n]) });
save("w_short.npy", { dtype: "float32", dims: [2], data: new Float32Array([1, 2]) });
save("w2d.npy", { dtype: "float32", dims: [1, 3], data: new Float32Array([1, 2, 3]) });
mkdirSync(join(dir, "opts"));
save("opts/w.npy", { dtype: "float32", dims: [3], data: new Float32Array([0.5, 2, 1.25]) });
writeFileSync(join(dir, "opts", "options.json"), JSON.stringify({ weight: "w.npy", reduction: "sum" }));

const evalWith = (options: string) =>
  runCliIn(dir, ["eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy", "--options", options, "--json"]);
const loss = (out: string) => (JSON.parse(out) as { outputs: { loss: { data: number[] } } }).outputs.loss.data[0];

describe("a number-list option from a .npy file", () => {
  test("weight from w.npy equals the inline list; @FILE reads it beside the options file; integers are numbers", async () => {
    const inline = await evalWith('{"weight": [0.5, 2, 1.25]}');
    const file = await evalWith('{"weight": "w.npy"}');
    expect([file.code, file.err]).toEqual([0, ""]);
    expect(loss(file.out)).toBe(loss(inline.out));
    const sum = await evalWith("@opts/options.json");
    const sumInline = await evalWith('{"weight": [0.5, 2, 1.25], "reduction": "sum"}');
    expect([sum.code, loss(sum.out)]).toEqual([0, loss(sumInline.out)]);
    const ints = await evalWith('{"weight": "w_int.npy"}');
    expect(loss(ints.out)).toBe(loss((await evalWith('{"weight": [1, 3, 2]}')).out));
  });

  test.each([
    [
      "a 2-D array",
      '{"weight": "w2d.npy"}',
      "onnx-losses: --options: weight: w2d.npy: expected a list of numbers (one dimension of at most 16777216, as numpy.save of a 1-D array writes), received float32 [1, 3]",
    ],
    ["a missing file", '{"weight": "nope.npy"}', `onnx-losses: ${join(dir, "nope.npy")}: no such file or directory`],
    [
      "a list of another length: the loss's own check, naming the option",
      '{"weight": "w_short.npy"}',
      "onnx-losses: input: expected dim 1 = 2 (shape [N, 2]), received [4, 3]; 2 is the length of option weight of cross_entropy",
    ],
  ])("%s: one line naming it, exit 2", async (_what, options, want) => {
    const r = await evalWith(options);
    expect([r.code, r.err]).toEqual([2, `${want}\n`]);
  });
});
