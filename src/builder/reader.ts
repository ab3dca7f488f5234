import { decodeModel, ModelDecodeError, onnx, toNumber } from "../onnx/codec.js";
import { DTYPES, dtypeFromOnnx, dtypeName, typedArrayOf } from "../onnx/dtypes.js";
import { fromFloat16Bits } from "../onnx/float16.js";
import type { Dim } from "./graph.js";

/** A graph input, output or initializer as the reader reports it. */
export interface TensorInfo {
  name: string;
  /** `float32`, `int64`, ... */
  dtype: string;
  /** Fixed sizes as numbers, symbolic ones as their names, unknown ones as `"?"`. */
  shape: Dim[];
}

/** One node of a decoded graph. */
export interface NodeInfo {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, number | string | number[] | string[]>;
}

/** What {@link readModel} decodes from a `.onnx` file. */
export interface ModelInfo {
  irVersion: number;
  /** The ai.onnx opset the model imports (0 if none). */
  opset: number;
  opsetImports: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graphName: string;
  docString: string;
  metadata: Record<string, string>;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Intermediate values whose type and shape the graph records (`value_info`). */
  valueInfo: TensorInfo[];
  initializers: (TensorInfo & { values: number[] })[];
  /** Sparse initializers (`sparse_initializer`): the name and type of each one's values, its dense dims. */
  sparseInitializers: TensorInfo[];
  nodes: NodeInfo[];
}

/**
 * Decode ONNX model bytes into plain data: opset, inputs and outputs with shapes, nodes, initializers
 * and metadata. `what` names the bytes in errors (a file name).
 * @example const info = readModel(fs.readFileSync("graphs/cross_entropy.onnx"));
 */
export function readModel(bytes: Uint8Array, what?: string): ModelInfo {
  return describeModel(decodeModel(bytes, what), what);
}

/** {@link readModel} of an already decoded ModelProto. */
export function describeModel(m: onnx.ModelProto, what?: string): ModelInfo {
  const g: onnx.GraphProto.$Properties = m.graph ?? {};
  const opsetImports = m.opsetImport.map((o) => ({ domain: o.domain ?? "", version: toNumber(o.version) }));
  const metadata: Record<string, string> = {};
  for (const p of m.metadataProps) metadata[p.key ?? ""] = p.value ?? "";
  const initNames = new Set((g.initializer ?? []).map((t) => t.name));
  return {
    irVersion: toNumber(m.irVersion),
    opset: opsetImports.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0,
    opsetImports,
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    graphName: g.name ?? "",
    docString: m.docString,
    metadata,
    inputs: (g.input ?? []).filter((i) => !initNames.has(i.name ?? "")).map(valueInfo),
    outputs: (g.output ?? []).map(valueInfo),
    valueInfo: (g.valueInfo ?? []).map(valueInfo),
    initializers: (g.initializer ?? []).map((t) => ({
      name: t.name ?? "",
      dtype: dtypeName(t.dataType ?? 0),
      shape: (t.dims ?? []).map(toNumber),
      values: tensorValues(t, what),
    })),
    sparseInitializers: (g.sparseInitializer ?? []).map((t) => ({
      name: t.values?.name ?? "",
      dtype: dtypeName(t.values?.dataType ?? 0),
      shape: (t.dims ?? []).map(toNumber),
    })),
    nodes: (g.node ?? []).map((n) => ({
      name: n.name ?? "",
      opType: n.opType ?? "",
      domain: n.domain ?? "",
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? "", attrValue(a)])),
    })),
  };
}

function valueInfo(v: onnx.ValueInfoProto.$Properties): TensorInfo {
  const t = v.type?.tensorType;
  return {
    name: v.name ?? "",
    dtype: dtypeName(t?.elemType ?? 0),
    shape: (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : "?")),
  };
}

function attrValue(a: onnx.AttributeProto.$Properties): number | string | number[] | string[] {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT:
      return toNumber(a.i);
    case T.FLOAT:
      return a.f ?? 0;
    case T.STRING:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case T.INTS:
      return (a.ints ?? []).map(toNumber);
    case T.FLOATS:
      return [...(a.floats ?? [])];
    case T.STRINGS:
      return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
    default:
      return `<attribute type ${a.type}>`;
  }
}

/**
 * An initializer's values as numbers (float16 decoded from its bits). Types outside the dtype table give
 * no values. raw_data whose length is not a whole number of elements is a malformed model.
 */
function tensorValues(t: onnx.TensorProto.$Properties, what = "onnx model"): number[] {
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const dtype = dtypeFromOnnx(t.dataType ?? 0);
    if (!dtype) return [];
    const { bytes } = DTYPES[dtype];
    if (raw.byteLength % bytes !== 0) {
      throw new ModelDecodeError(
        `${what}: initializer ${JSON.stringify(t.name ?? "")}: expected raw_data of a multiple of ${bytes} bytes for ${dtype}, received ${raw.byteLength}`,
      );
    }
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    const values = typedArrayOf(dtype, buf) as ArrayLike<number | bigint>;
    return dtype === "float16" ? Array.from(values as Uint16Array, fromFloat16Bits) : Array.from(values, Number);
  }
  if (t.floatData?.length) return [...t.floatData];
  if (t.doubleData?.length) return [...t.doubleData];
  if (t.int64Data?.length) return t.int64Data.map(toNumber);
  if (t.int32Data?.length) return [...t.int32Data];
  return [];
}
