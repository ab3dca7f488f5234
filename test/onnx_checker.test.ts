/**
 * Every catalogue graph (and a matrix of option families, ranks and opsets 13..17) passes ONNX's own
 * checker with full_check (shape inference included), via Debian's python3-onnx.
 *
 * Skipped, saying so, where python3 with the onnx module is missing; .ci/run installs python3-onnx and
 * sets ONNX_LOSSES_REQUIRE_ONNX_CHECKER=1 so that CI fails instead of skipping.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { buildLoss, CATALOGUE } from "../src/losses/index.js";
import { ROOT } from "./helpers.js";

// Debian's python3-onnx lives in the system interpreter, which a pyenv or venv python3 may shadow.
const CANDIDATES = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
const PYTHON = CANDIDATES.find((p) => spawnSync(p, ["-c", "import onnx"], { encoding: "utf8" }).status === 0) ?? CANDIDATES[0];
const hasOnnx = spawnSync(PYTHON, ["-c", "import onnx"], { encoding: "utf8" }).status === 0;
const required = process.env.ONNX_LOSSES_REQUIRE_ONNX_CHECKER === "1";
const checkerTest = hasOnnx || required ? test : test.skip;
if (!hasOnnx && !required) {
  // a skipped case says why
  console.warn(`onnx_checker.test.ts skipped: ${PYTHON} cannot import onnx (apt-get install -y python3-onnx)`);
}

function check(files: string[]): { file: string; ok: boolean; error?: string }[] {
  const r = spawnSync(PYTHON, [join(ROOT, "scripts", "check_models.py"), ...files], { encoding: "utf8" });
  if (r.error || (r.status !== 0 && r.status !== 1)) throw new Error(`check_models.py failed to run: ${r.error?.message ?? r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

describe("onnx.checker.check_model(full_check=True)", () => {
  checkerTest("graphs/ (the default catalogue)", () => {
    const files = readdirSync(join(ROOT, "graphs"))
      .filter((f) => f.endsWith(".onnx"))
      .map((f) => join(ROOT, "graphs", f));
    expect(files).toHaveLength(2 * CATALOGUE.length); // each loss and its gradient graph
    expect(check(files).filter((r) => !r.ok)).toEqual([]);
  });

  checkerTest("every option family at ranks 2 and 4, opsets 13 to 17", () => {
    const variants: [string, object][] = [
      ["cross_entropy", {}],
      ["cross_entropy", { weight: [1, 2, 3], labelSmoothing: 0.1, ignoreIndex: 1, reduction: "none" }],
      ["cross_entropy", { targetType: "probs", labelSmoothing: 0.2 }],
      ["cross_entropy", { targetType: "probs", weight: [1, 2, 3], reduction: "sum" }],
      ["nll_loss", { weight: [1, 2, 3] }],
      ["binary_cross_entropy", { weight: [1, 2, 3] }],
      ["binary_cross_entropy_with_logits", { weight: [2], posWeight: [1, 2, 3] }],
      ["softmax_focal_loss", { alpha: 0.25, gamma: 0.5 }],
      ["softmax_focal_loss", { alpha: [1, 2, 3], labelSmoothing: 0.1, gamma: 3 }],
      ["softmax_focal_loss", { alpha: 0.4, balanceIndex: 1, labelSmoothing: 0.1, reduction: "none" }],
      ["softmax_focal_loss", { oneHotClamp: 0.1, gamma: 0 }],
      ["sigmoid_focal_loss", { alpha: null, gamma: 1.5, reduction: "sum" }],
    ];
    const dir = mkdtempSync(join(tmpdir(), "onnx-losses-check-"));
    const files: string[] = [];
    variants.forEach(([name, options], i) => {
      for (const rank of [2, 4]) {
        for (let opset = 13; opset <= 17; opset++) {
          const file = join(dir, `${i}_${name}_r${rank}_o${opset}.onnx`);
          writeFileSync(file, buildLoss(name, { ...options, rank }, { opset }).model);
          files.push(file);
        }
      }
    });
    const results = check(files);
    expect(results).toHaveLength(files.length);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });
});
