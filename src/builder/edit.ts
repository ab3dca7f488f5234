/** Edits of a decoded model that evaluation needs; the graph's nodes are never changed. */
import { encodeModel, type onnx } from "../onnx/codec.js";

/**
 * Model bytes whose graph also outputs the named intermediate values, which must be recorded in the
 * graph's value_info (their type and shape). `model` is not modified.
 */
export function withOutputs(model: onnx.ModelProto, names: readonly string[], what = "model"): Uint8Array {
  const graph = model.graph;
  const extra = names.map((name) => {
    const v = graph?.valueInfo?.find((x) => x.name === name);
    if (!v) throw new Error(`${what}: value ${name} is not in the graph's value_info`);
    return v;
  });
  return encodeModel({ ...model, graph: { ...graph, output: [...(graph?.output ?? []), ...extra] } });
}
