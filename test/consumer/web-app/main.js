/**
 * Evaluate classification losses in the browser with onnx-losses/web. Each batch of samples.json
 * ({ loss, options, inputs: { name: { dtype, dims, data } } }, PyTorch's, written here by the test) is
 * evaluated and its loss written into the table; <body data-state> says "done" or "error".
 */
import { buildLoss, configureWasm, createEvaluator } from "onnx-losses/web";
import samples from "./samples.json";

// where vite.config.js put onnxruntime-web's .wasm and its loader (relative to this page)
configureWasm({ wasmPaths: new URL("ort/", document.baseURI).href });

/** A fixture tensor as the evaluator takes it: a typed array of its dtype, and its dims. */
const tensor = ({ dtype, dims, data }) => ({
  dims,
  data: dtype === "int64" ? BigInt64Array.from(data, BigInt) : Float32Array.from(data, Number),
});

const table = document.getElementById("losses");
try {
  for (const { loss, options, inputs } of samples) {
    const ev = await createEvaluator(buildLoss(loss, options)); // wasm
    const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, tensor(t)]));
    const out = await ev.run(feeds);
    await ev.release();
    const row = table.insertRow();
    row.insertCell().textContent = loss;
    const cell = row.insertCell();
    cell.id = `loss-${loss}`;
    cell.textContent = String(out.loss.data[0]);
  }
  document.body.dataset.state = "done";
} catch (e) {
  document.body.textContent = String(e?.stack ?? e);
  document.body.dataset.state = "error";
}
