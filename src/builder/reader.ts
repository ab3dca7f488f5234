import { decodeModel, onnx, toNumber } from "../onnx/codec.js";
import { dtypeName } from "../onnx/dtypes.js";
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
  initializers: (TensorInfo & { values: number[] })[];
  nodes: NodeInfo[];
}

/**
 * Decode ONNX model bytes into plain data: opset, inputs and outputs with shapes, nodes, initializers
 * and metadata. `what` names the bytes in errors (a file name).
 * @example const info = readModel(fs.readFileSync("graphs/cross_entropy.onnx"));
 */
export function readModel(bytes: Uint8Array, what?: string): ModelInfo {
  const m = decodeModel(bytes, what);
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
    initializers: (g.initializer ?? []).map((t) => ({
      name: t.name ?? "",
      dtype: dtypeName(t.dataType ?? 0),
      shape: (t.dims ?? []).map(toNumber),
      values: tensorValues(t),
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

function tensorValues(t: onnx.TensorProto.$Properties): number[] {
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    switch (t.dataType) {
      case 1:
        return Array.from(new Float32Array(buf));
      case 11:
        return Array.from(new Float64Array(buf));
      case 7:
        return Array.from(new BigInt64Array(buf), Number);
      case 6:
        return Array.from(new Int32Array(buf));
      case 9:
        return Array.from(new Uint8Array(buf));
      default:
        return [];
    }
  }
  if (t.floatData?.length) return [...t.floatData];
  if (t.doubleData?.length) return [...t.doubleData];
  if (t.int64Data?.length) return t.int64Data.map(toNumber);
  if (t.int32Data?.length) return [...t.int32Data];
  return [];
}
