/**
 * External data (`onnx.save(..., save_as_external_data=True)`, the form `torch.onnx.export` uses past
 * 2 GB): a tensor whose bytes live in another file, named by a location relative to the model's folder,
 * with an offset and a length. This module reads and checks the references themselves (no file system):
 * a location must name a file inside the model's folder, and offset and length must be byte counts.
 * The files are checked against the disk by the Node side (io/read.ts).
 */
import { ModelDecodeError, onnx, toNumber } from "./codec.js";

/** Bytes per element of each ONNX tensor type that can be stored as external data (string cannot). */
const ELEMENT_BYTES: Readonly<Record<number, number>> = Object.freeze({
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  14: 8,
  15: 16,
  16: 2,
  17: 1,
  18: 1,
  19: 1,
  20: 1,
  21: 1,
  22: 1,
  23: 1,
  24: 1,
  25: 1,
});
// 21/22 (uint4/int4) and 23 (float4e2m1) pack two elements per byte: see expectedLength

/** Where one tensor's bytes are. */
export interface ExternalRef {
  /** The tensor's name (and where it is, for tensors outside the main graph's initializers). */
  tensor: string;
  /** The file, relative to the model's folder, as the model writes it. */
  location: string;
  offset: number;
  /** The byte count: the model's `length`, or the tensor's size when the model gives none. */
  length: number;
  /** Whether the model gave `length` (otherwise it is computed from the dims and type). */
  lengthGiven: boolean;
}

const isExternal = (t: onnx.ITensorProto) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;

/** The bytes a tensor of this type and dims holds, or undefined for a type whose size is not fixed. */
function expectedLength(t: onnx.ITensorProto): number | undefined {
  const code = t.dataType ?? 0;
  const per = ELEMENT_BYTES[code];
  if (per === undefined) return undefined;
  let n = 1;
  for (const d of t.dims ?? []) n *= toNumber(d);
  return code === 21 || code === 22 || code === 23 ? Math.ceil(n / 2) : n * per;
}

/**
 * Refuse a location that is not a plain relative path inside the model's folder: empty, a NUL, an
 * absolute path (`/x`, `\\x`, `C:x`), or a `..` segment. Returns undefined when it is fine, else why not.
 */
export function badLocation(location: string): string | undefined {
  if (location.length === 0) return "an empty location";
  if (location.includes("\0")) return "a NUL character";
  if (/^[/\\]/.test(location) || /^[A-Za-z]:/.test(location)) return "an absolute path";
  if (location.split(/[/\\]/).some((s) => s === "..")) return "a .. segment";
  return undefined;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * Every external tensor of a model (initializers, sparse initializers, tensor attributes, in subgraphs
 * too), with its location checked. Throws ModelDecodeError naming `what`, the tensor and the location.
 */
export function externalRefs(m: onnx.IModelProto, what = "onnx model"): ExternalRef[] {
  const refs: ExternalRef[] = [];
  const visit = (t: onnx.ITensorProto | null | undefined, where: string) => {
    if (!t || !isExternal(t)) return;
    const name = t.name ?? "";
    const shown = `${where} ${JSON.stringify(name)}`;
    const fail = (why: string): never => {
      throw new ModelDecodeError(`${what}: ${shown}: external data ${why}`);
    };
    const entries = new Map<string, string>();
    for (const e of t.externalData ?? []) {
      const key = e.key ?? "";
      if (entries.has(key)) fail(`key ${JSON.stringify(key)} given twice`);
      entries.set(key, e.value ?? "");
    }
    const location = entries.get("location");
    if (location === undefined) fail("without a location");
    const bad = badLocation(location as string);
    if (bad) fail(`location ${JSON.stringify(location)}: expected a file in the model's folder, received ${bad}`);
    const int = (key: string): number | undefined => {
      const v = entries.get(key);
      if (v === undefined) return undefined;
      if (!DECIMAL.test(v) || !Number.isSafeInteger(Number(v)))
        fail(`${key} ${JSON.stringify(v.slice(0, 40))}: expected a byte count (a non-negative integer)`);
      return Number(v);
    };
    const offset = int("offset") ?? 0;
    const given = int("length");
    const expected = expectedLength(t);
    if (expected === undefined) fail(`of type ${t.dataType ?? 0}: expected a numeric tensor type`);
    if (given !== undefined && given !== expected)
      fail(`length ${given}: expected ${expected} (the bytes of its type and dims [${(t.dims ?? []).map(toNumber).join(", ")}])`);
    refs.push({ tensor: shown, location: location as string, offset, length: expected as number, lengthGiven: given !== undefined });
  };
  const graph = (g: onnx.IGraphProto | null | undefined, where: string) => {
    if (!g) return;
    for (const t of g.initializer ?? []) visit(t, `${where}initializer`);
    for (const s of g.sparseInitializer ?? []) {
      visit(s.values, `${where}sparse initializer`);
      visit(s.indices, `${where}sparse initializer indices`);
    }
    for (const n of g.node ?? []) {
      for (const a of n.attribute ?? []) {
        const at = `${where}attribute ${a.name ?? ""} of node ${JSON.stringify(n.name ?? "")}: tensor`;
        visit(a.t, at);
        for (const t of a.tensors ?? []) visit(t, at);
        graph(a.g, `${where}subgraph of node ${JSON.stringify(n.name ?? "")}: `);
        for (const s of a.graphs ?? []) graph(s, `${where}subgraph of node ${JSON.stringify(n.name ?? "")}: `);
      }
    }
  };
  graph(m.graph, "");
  for (const f of m.functions ?? []) {
    for (const n of f.node ?? [])
      for (const a of n.attribute ?? []) visit(a.t, `function ${f.name ?? ""} attribute ${a.name ?? ""}: tensor`);
  }
  return refs;
}
