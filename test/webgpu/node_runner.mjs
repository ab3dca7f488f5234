/**
 * The child process of the onnxruntime-node WebGPU suite (test/webgpu_node.test.ts), started with the
 * Vulkan variables set (test/webgpu/env.ts) so that they hold for this process only.
 *
 *   node test/webgpu/node_runner.mjs eval JOBS.json OUT.json   each job's outputs on --ep webgpu (run_jobs.mjs)
 *   node test/webgpu/node_runner.mjs placements JOBS.json      for each job, "@@ <id>" on stderr, then
 *                                                              onnxruntime's verbose node placements
 *
 * It runs the built package (dist/, `npm run build`), as users get it.
 */
import { readFileSync, writeFileSync, writeSync } from "node:fs";
import * as ort from "onnxruntime-node";
import * as lib from "../../dist/index.js";
import { sessionOptionsFor } from "../../dist/runtime/providers.js";
import { runJobs } from "./run_jobs.mjs";

const [mode, jobsFile, outFile] = process.argv.slice(2);
const jobs = JSON.parse(readFileSync(jobsFile, "utf8"));
if (mode === "eval") {
  writeFileSync(outFile, JSON.stringify(await runJobs(lib, jobs, { ep: "webgpu" })));
} else if (mode === "placements") {
  for (const job of jobs) {
    // written to fd 2 directly, in order with the native log lines (process.stderr may buffer)
    writeSync(2, `@@ ${job.id}\n`);
    // the evaluator's own session options, with onnxruntime's verbose log on
    const options = { ...sessionOptionsFor("webgpu"), logSeverityLevel: 0, logVerbosityLevel: 0 };
    const session = await ort.InferenceSession.create(Buffer.from(job.model, "base64"), options);
    await session.release();
  }
  writeSync(2, "@@ end\n");
} else {
  process.stderr.write(`usage: node_runner.mjs eval|placements JOBS.json [OUT.json]\n`);
  process.exitCode = 2;
}
