// A process that uses an evaluator with worker: true and then ends on its own (no process.exit): with
// "release" it runs once and releases, reporting the process's thread count (Linux) before the
// evaluator, after the run and after release(); with "unreleased" it starts one run without awaiting it
// and never releases (the worker holds the process open only while a run is in flight).
// test/worker.test.ts spawns it. Usage: node test/soak/release-child.mjs release|unreleased
import { existsSync, readFileSync } from "node:fs";
import { buildLoss, createEvaluator } from "../../dist/index.js";

const threads = () =>
  existsSync("/proc/self/status") ? Number(/^Threads:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))[1]) : null;
const feeds = { input: { data: new Float32Array([1, 2, 3, 4, 5, 6]), dims: [2, 3] }, target: { data: [0, 2], dims: [2] } };
const mode = process.argv[2] ?? "release";
const start = threads();
const ev = await createEvaluator(buildLoss("cross_entropy"), { worker: true });
if (mode === "release") {
  const { loss } = await ev.run(feeds);
  const ran = threads();
  await ev.release();
  process.stdout.write(JSON.stringify({ loss: loss.data[0], threads: { start, ran, released: threads() } }));
} else {
  ev.run(feeds).then(({ loss }) => process.stdout.write(JSON.stringify({ loss: loss.data[0] })));
}
