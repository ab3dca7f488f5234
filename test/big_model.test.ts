/**
 * A model of a user's size (issue 18): an MLP of 97 MiB (Linear 1024 -> 8192 -> 2048 -> 100, as the
 * issue measured a torch.onnx.export of it, dims named as torch names them), a batch of 32, inline and
 * with its weights in a side file. `attach` and `eval` of the attached model, and createEvaluator of it
 * in a script, each a process of its own, against a Node script that loads the plain model with
 * onnxruntime-node and runs it once: each within 3x its wall time and within 1.5x its peak RSS plus
 * 100 MB (the targets), and with external data attach reads no weights (its peak under
 * 150 MB); the loss equal to the catalogue loss on the logits onnxruntime gives. Each process is run
 * twice and its faster run counts (the VM drifts 1.5x). The writer and the measurement are the
 * benchmark's (bench/src/models.ts; `npm run bench -- --models` runs them on 97 MiB and 1 GB models).
 */
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { MLP_97MB, measureModel, modelTargets, modelTitle } from "../bench/src/models.js";
import { ROOT } from "./helpers.js";

const CLI = join(ROOT, "dist", "cli", "main.js");

(process.platform === "linux" ? describe : describe.skip)("a 97 MiB model, a batch of 32 (issue 18)", () => {
  for (const external of [false, true]) {
    test(`${external ? "external data" : "inline weights"}: attach and eval of the attached model within 3x the wall time and 1.5x + 100 MB the RSS of onnxruntime running the plain model once${external ? ", attach reading no weights" : ""}`, async () => {
      const c = await measureModel({ key: external ? "97mb-external" : "97mb-inline", layers: MLP_97MB, external, runs: 2, cli: CLI });
      expect(c.modelBytes + c.dataBytes).toBeGreaterThan(97e6);
      if (external) expect(c.modelBytes).toBeLessThan(10000);
      else expect(c.dataBytes).toBe(0);
      const shown = (k: keyof typeof c.processes) => `${k} ${c.processes[k].s.toFixed(2)} s, ${c.processes[k].mb.toFixed(0)} MB`;
      const report = `${modelTitle(c)}, batch ${c.batch}: ${(["plain", "attach", "eval", "api"] as const).map(shown).join("; ")}`;
      console.log(report); // the measurement, in the CI log
      const missed = modelTargets(c).filter((t) => !t.met);
      expect([report, missed]).toEqual([report, []]);
      // measureModel has checked both evals' loss against the catalogue loss on the plain run's logits (1e-5 relative)
      expect(Math.abs(c.loss.eval - c.loss.want)).toBeLessThanOrEqual(1e-5 * Math.abs(c.loss.want));
    }, 600000);
  }
});
