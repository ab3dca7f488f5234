/** The typed ONNX graph builder: a Graph of Values, op functions and the model reader. */
export {
  Graph,
  Value,
  float,
  type AttrValue,
  type Dim,
  type FloatAttr,
  type GraphOptions,
  type Lowering,
  type ModelOptions,
  type NodeOptions,
} from "./graph.js";
export * as ops from "./ops/index.js";
export * from "./ops/index.js";
export { readModel, type InitializerInfo, type ModelInfo, type TensorInfo, type NodeInfo } from "./reader.js";
