/**
 * docs/adding-a-loss.md's worked example runs: the definition in its step 1 is
 * test/examples/poly1_cross_entropy.ts (imports aside), it builds, and its graph equals a float64
 * reference. Its catalogue snippet matches catalogue.ts's shape.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { buildDefinition, LOSS_NAMES } from "../src/losses/index.js";
import { ModelContractError } from "../src/model/contract.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";
import { seededRandom } from "../src/util/random.js";
import { poly1CrossEntropy } from "./examples/poly1_cross_entropy.js";
import { feedsOf, firstMismatch, num, ROOT, type FixtureCase, exactly } from "./helpers.js";
import { logSoftmaxAt } from "./reference.js";

const doc = readFileSync(join(ROOT, "docs", "adding-a-loss.md"), "utf8");
const blocks = [...doc.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2] }));

describe("docs/adding-a-loss.md", () => {
  test("step 1's code is the example file, as it reads in src/losses/", () => {
    const file = readFileSync(join(ROOT, "test", "examples", "poly1_cross_entropy.ts"), "utf8");
    const asInSrc = file.replaceAll('"../../src/losses/', '"./').replaceAll('"../../src/', '"../');
    expect(blocks[0].lang).toBe("ts");
    expect(blocks[0].code).toBe(asInSrc);
  });

  test("step 2's catalogue snippet has catalogue.ts's shape", () => {
    const catalogue = readFileSync(join(ROOT, "src", "losses", "catalogue.ts"), "utf8");
    expect(blocks[1].code).toContain("export const CATALOGUE = Object.freeze([");
    expect(catalogue).toContain("export const CATALOGUE = Object.freeze([");
    expect(catalogue).toMatch(/\n\] as const\);\n/);
    expect(blocks[1].code).toMatch(/\n\] as const\);\n/);
  });

  test("the example builds, type-checks its options, and equals a float64 reference", async () => {
    const N = 40;
    const C = 6;
    const r = seededRandom(3);
    const x = Float32Array.from({ length: N * C }, () => (r() * 2 - 1) * 6);
    const t = Array.from({ length: N }, (_, i) => (i % 7 === 0 ? -100 : Math.floor(r() * C)));
    for (const epsilon of [1, -0.5, 2]) {
      const g = buildDefinition(poly1CrossEntropy, { epsilon });
      expect(g.options).toEqual({ rank: 2, epsilon, ignoreIndex: -100, reduction: "mean", gradient: false });
      // the example builds no gradient: asking for it is refused, not ignored
      expect(() => buildDefinition(poly1CrossEntropy, { epsilon, gradient: true })).toThrow(
        exactly("poly1_cross_entropy: option gradient: expected false, this loss does not build its gradient yet; received true"),
      );
      // Outside the catalogue (before step 2) the evaluator refuses its contract, so the bare graph is
      // evaluated; once a reader has done step 2, the model itself is accepted.
      if ((LOSS_NAMES as readonly string[]).includes(poly1CrossEntropy.name)) await (await createEvaluator(g.model)).release();
      else await expect(createEvaluator(g.model)).rejects.toThrow(ModelContractError);
      const bare = encodeModel({ ...decodeModel(g.model), metadataProps: [] });
      expect(readModel(bare).metadata).toEqual({});
      const ev = await createEvaluator(bare);
      const { loss } = await ev.run({ input: { data: x, dims: [N, C] }, target: { data: t, dims: [N], dtype: "int64" } });
      await ev.release();
      let sum = 0;
      let count = 0;
      for (let i = 0; i < N; i++) {
        if (t[i] === -100) continue;
        const lp = logSoftmaxAt(x.subarray(i * C, (i + 1) * C), C, (c) => c)[t[i]];
        sum += -lp + epsilon * (1 - Math.exp(lp));
        count++;
      }
      const want = sum / count;
      expect(Math.abs(Number(loss.data[0]) - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
    }
  });
});

/** Debian's Python with PyTorch, where this machine has it (.ci/run does not install it: the fixtures are committed). */
const PYTHON = process.env.PYTHON ?? "/usr/bin/python3";
const torchHere = spawnSync(PYTHON, ["-c", "import torch, torchvision"], { stdio: "ignore" }).status === 0;
if (!torchHere)
  console.warn(
    `docs/adding-a-loss.md's Python block not run: ${PYTHON} cannot import torch (apt-get install -y python3-torch python3-torchvision)`,
  );

(torchHere ? describe : describe.skip)("docs/adding-a-loss.md's fixture block, run by PyTorch", () => {
  test("its cases equal the example's graph at 1e-5", async () => {
    const block = blocks.find((b) => b.lang === "python")!.code;
    const harness = [
      "import json, os, sys",
      "sys.path.insert(0, os.path.join(os.getcwd(), 'scripts'))",
      "import make_fixtures as mf",
      "exec(sys.stdin.read(), mf.__dict__)",
      "mf.poly1_cases()",
      "print(json.dumps(mf.CASES['poly1_cross_entropy']))",
    ].join("\n");
    const r = spawnSync(PYTHON, ["-c", harness], { cwd: ROOT, input: block, encoding: "utf8", maxBuffer: 1 << 28 });
    expect(r.stderr).toBe("");
    const cases = JSON.parse(r.stdout) as FixtureCase[];
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const failures: string[] = [];
    for (const c of cases) {
      const g = buildDefinition(poly1CrossEntropy, c.options);
      const ev = await createEvaluator(encodeModel({ ...decodeModel(g.model), metadataProps: [] }));
      const { loss } = await ev.run(feedsOf(c));
      await ev.release();
      const i = firstMismatch(loss.data as Float32Array, c.expected.data.map(num));
      if (i >= 0) failures.push(`${c.id}: at ${i} got ${loss.data[i]} want ${c.expected.data[i]}`);
    }
    expect(failures).toEqual([]);
  }, 120000);
});
