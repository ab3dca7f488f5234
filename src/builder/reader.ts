import { decodeModel, ModelDecodeError, onnx, toNumber } from "../onnx/codec.js";
import { DTYPES, dtypeFromOnnx, dtypeName, typedArrayOf } from "../onnx/dtypes.js";
import { externalRefs, type ExternalRef } from "../onnx/external.js";
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

/** The first axis whose declared size is a number ONNX forbids (negative, not an integer), or -1. */
export function negativeDimAxis(shape: readonly Dim[]): number {
  return shape.findIndex((d) => typeof d === "number" && !(Number.isSafeInteger(d) && d >= 0));
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

/**
 * An initializer. Its bytes stay a view of the model's bytes: `values` decodes them to numbers on first
 * use (and is not enumerated, so printing or serializing a ModelInfo never copies a model's weights).
 */
export interface InitializerInfo extends TensorInfo {
  /** Elements: the product of the dims. */
  count: number;
  /** Where the bytes are when the model keeps them in another file (external data). */
  external?: { location: string; offset: number; length: number };
  /** The values as numbers (float16 decoded from its bits); empty for external data and types outside the dtype table. Decoded on access. */
  readonly values: number[];
  /** The tensor's data as little-endian bytes (raw_data as a view, or the typed fields encoded); empty for external data. Not enumerated. */
  readonly bytes: Uint8Array;
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
  initializers: InitializerInfo[];
  /** Every tensor whose bytes are in another file (external data), in subgraphs too, with its location checked. */
  externalData: ExternalRef[];
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
  const externalData = externalRefs(m, what);
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
    initializers: (g.initializer ?? []).map((t) => initializerInfo(t, what)),
    externalData,
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
      attributes: attributesOf(n, what ?? "onnx model"),
    })),
  };
}

/**
 * A node's attributes by name. A name given twice is refused (ONNX forbids it; read as an object, the
 * last would hide the first from verification, while onnxruntime refuses the node only at load).
 */
function attributesOf(n: onnx.NodeProto.$Properties, what: string): ModelInfo["nodes"][number]["attributes"] {
  const seen = new Set<string>();
  for (const a of n.attribute ?? []) {
    const name = a.name ?? "";
    if (seen.has(name)) {
      throw new ModelDecodeError(
        `${what}: node ${JSON.stringify(n.name ?? "")} (${n.opType ?? ""}): attribute ${JSON.stringify(name)} appears twice; ONNX gives each attribute once`,
      );
    }
    seen.add(name);
  }
  return Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? "", attrValue(a)]));
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

/** An initializer as {@link InitializerInfo}: raw_data checked now, values decoded when asked for. */
function initializerInfo(t: onnx.TensorProto.$Properties, what = "onnx model"): InitializerInfo {
  const shape = (t.dims ?? []).map(toNumber);
  const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
  const raw = t.rawData;
  const dtype = dtypeFromOnnx(t.dataType ?? 0);
  if (!external && raw && raw.length > 0 && dtype && raw.byteLength % DTYPES[dtype].bytes !== 0) {
    throw new ModelDecodeError(
      `${what}: initializer ${JSON.stringify(t.name ?? "")}: expected raw_data of a multiple of ${DTYPES[dtype].bytes} bytes for ${dtype}, received ${raw.byteLength}`,
    );
  }
  const info = { name: t.name ?? "", dtype: dtypeName(t.dataType ?? 0), shape, count: shape.reduce((a, b) => a * b, 1) } as InitializerInfo;
  if (external) {
    const e = new Map((t.externalData ?? []).map((x) => [x.key ?? "", x.value ?? ""]));
    (info as { external?: InitializerInfo["external"] }).external = {
      location: e.get("location") ?? "",
      offset: Number(e.get("offset") ?? 0),
      length: Number(e.get("length") ?? NaN),
    };
  }
  let values: number[] | undefined;
  let bytes: Uint8Array | undefined;
  Object.defineProperty(info, "values", { enumerable: false, get: () => (values ??= external ? [] : tensorValues(t)) });
  Object.defineProperty(info, "bytes", { enumerable: false, get: () => (bytes ??= external ? new Uint8Array() : tensorBytes(t)) });
  return info;
}

/** A tensor's data as bytes: raw_data itself (a view), else the typed field in the dtype's little-endian layout. */
function tensorBytes(t: onnx.TensorProto.$Properties): Uint8Array {
  const raw = t.rawData;
  if (raw && raw.length > 0) return raw;
  const dtype = dtypeFromOnnx(t.dataType ?? 0);
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (t.floatData?.length) return view(Float32Array.from(t.floatData));
  if (t.doubleData?.length) return view(Float64Array.from(t.doubleData));
  if (t.int64Data?.length) return view(BigInt64Array.from(t.int64Data, (v) => BigInt(toNumber(v))));
  if (t.int32Data?.length) {
    if (dtype === "float16") return view(Uint16Array.from(t.int32Data));
    if (dtype === "bool") return Uint8Array.from(t.int32Data);
    return view(Int32Array.from(t.int32Data));
  }
  // other fields (uint64, strings): their text, enough to tell two tensors apart
  return new TextEncoder().encode(JSON.stringify([t.uint64Data?.map(toNumber) ?? [], (t.stringData ?? []).map((s) => Array.from(s))]));
}

/**
 * An initializer's values as numbers (float16 decoded from its bits). Types outside the dtype table give
 * no values (raw_data's length was checked by initializerInfo).
 */
function tensorValues(t: onnx.TensorProto.$Properties): number[] {
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const dtype = dtypeFromOnnx(t.dataType ?? 0);
    if (!dtype) return [];
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
