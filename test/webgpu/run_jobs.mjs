/**
 * Evaluate a list of jobs (model bytes and feeds, as JSON) with an onnx-losses module and return each
 * job's outputs as JSON. One function for both real-provider suites: test/webgpu/node_runner.mjs runs it
 * in a child process with onnxruntime-node (the Vulkan variables set only there), and
 * test/browser/webgpu.test.ts runs it in the demo page with onnxruntime-web. Plain JavaScript, no
 * imports: the browser test hands its source to the page.
 *
 * A job: { id, model: base64 of the .onnx bytes, feeds: { name: { dtype, dims, data } } } with data
 * as numbers or the strings "NaN", "Infinity", "-Infinity"; a result: { id, outputs: { name: { dims,
 * data } } } in the same encoding, or { id, error }.
 */
export async function runJobs(lib, jobs, options) {
  const decodeBase64 = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const typed = (t) => {
    if (t.dtype === "int64") return BigInt64Array.from(t.data, (v) => BigInt(v));
    if (t.dtype === "int32") return Int32Array.from(t.data, Number);
    if (t.dtype === "float64") return Float64Array.from(t.data, Number);
    return Float32Array.from(t.data, Number);
  };
  const plain = (v) => (Number.isFinite(v) ? v : String(v));
  const results = [];
  // consecutive jobs of one model share its evaluator (a first run compiles the GPU's shaders)
  let ev;
  let evModel;
  const release = async () => {
    if (ev) await ev.release();
    ev = undefined;
    evModel = undefined;
  };
  for (const job of jobs) {
    try {
      if (evModel !== job.model) {
        await release();
        ev = await lib.createEvaluator(decodeBase64(job.model), { ep: options.ep, what: job.id });
        evModel = job.model;
      }
      const feeds = {};
      for (const [name, t] of Object.entries(job.feeds)) feeds[name] = { dims: t.dims, data: typed(t) };
      const out = await ev.run(feeds);
      const outputs = {};
      for (const [name, t] of Object.entries(out)) outputs[name] = { dims: t.dims, data: Array.from(t.data, (v) => plain(Number(v))) };
      results.push({ id: job.id, provider: ev.provider, outputs });
    } catch (e) {
      results.push({ id: job.id, error: String(e?.message ? e.message : e).split("\n")[0] });
      await release();
    }
  }
  await release();
  return results;
}
