import { encodeModel, type ModelProps, onnx } from "../onnx/codec.js";
import { type DType, type FloatDType, onnxDataType } from "../onnx/dtypes.js";
import { DEFAULT_OPSET, irVersionForOpset } from "../onnx/versions.js";
import { PRODUCER_NAME, PRODUCER_VERSION } from "../version.js";

/** A tensor dimension: a fixed size, or a symbolic name such as `"N"` shared by every input that uses it. */
export type Dim = number | string;

/**
 * An ONNX attribute value. Numbers are INT attributes and must be integers, number arrays are INTS,
 * strings are STRING; wrap a float with {@link float} to get a FLOAT attribute.
 */
export type AttrValue = number | readonly number[] | string | FloatAttr;

/** A FLOAT attribute (see {@link float}). */
export interface FloatAttr {
  readonly float: number;
}

/** Mark a number as a FLOAT attribute: `g.node("Elu", [x], { alpha: float(0.5) })`. */
export function float(value: number): FloatAttr {
  return { float: value };
}

/**
 * Which op forms a graph uses. `"none"`: ONNX's own ops, the fastest on the CPU (LogSoftmax, Softplus,
 * Max, int64 indices, float64 accumulation). `"webgpu"`: every node on onnxruntime's WebGPU provider,
 * as onnxruntime-web needs: LogSoftmax and Softplus decomposed, Max and Min as Where, counts and class
 * indices from Expand and CumSum instead of shape arithmetic, int32 class indices (it truncates
 * int64), float32 reductions (docs/design.md). Both give PyTorch's values at 1e-5.
 */
export type Lowering = "none" | "webgpu";

/** Options of a {@link Graph}. */
export interface GraphOptions {
  /** ai.onnx opset, 13 to 23 (default 17). */
  opset?: number;
  /** Op forms to emit (default "none"). */
  lowering?: Lowering;
  /**
   * The type final reductions accumulate in: float64 (default; onnxruntime's float32 ReduceSum loses
   * ~2e-5 relative over 1e6 values) or float32. The WebGPU lowering always uses float32.
   */
  accumulate?: "float64" | "float32";
  /**
   * The float type of the graph's float inputs and outputs: "float32" (default); "float16" (math in
   * float32 inside: inputs are cast up, outputs down); "float64" (math in float64 too).
   */
  dtype?: FloatDType;
  /**
   * Sum a long vector in blocks (float32 rows of 256, then the row sums in the accumulate type; default
   * true), which keeps float32 accurate and costs 8 nodes. False: one cast to the accumulate type and
   * one sum, for a graph only small batches run (the evaluator's small-batch model).
   */
  blockedSums?: boolean;
}

/** Builder options of one node, kept apart from ONNX attributes so the two never collide. */
export interface NodeOptions {
  /** The name of the node's (first) output value; default `<OpType>_<k>_out`. */
  name?: string;
  /** The element type of the outputs; default the first input's. */
  dtype?: DType;
}

/**
 * A symbolic tensor in a {@link Graph}: a graph input, a constant or a node output. Ops take Values
 * and return new ones; a Value only knows its element type, its name and (for graph inputs) its shape.
 */
export class Value {
  /** @internal */
  constructor(
    readonly graph: Graph,
    private _name: string,
    readonly dtype: DType,
    readonly shape?: readonly Dim[],
  ) {}

  get name(): string {
    return this._name;
  }

  /** @internal rename (used by Graph.output) */
  _rename(name: string): void {
    this._name = name;
  }
}

interface NodeRecord {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

interface IOSpec {
  readonly value: Value;
  readonly shape: readonly Dim[];
}

type ConstantData = number | readonly number[] | readonly bigint[];

/**
 * A graph under construction, for one ai.onnx opset. Inputs, constants and ops add to it; `toModel()`
 * serializes it. Every name is derived from the order of construction, so the same calls always give
 * the same bytes.
 *
 * @example
 * const g = new Graph("double", { opset: 17 });
 * const x = g.input("x", "float32", ["N"]);
 * g.output(mul(x, 2), "y", ["N"]);
 * const bytes = g.toModel();
 */
export class Graph {
  readonly name: string;
  readonly opset: number;
  /** Which op forms to emit (see {@link Lowering}). */
  readonly lowering: Lowering;
  /** The type final reductions accumulate in (float32 under the WebGPU lowering: GPUs have no float64). */
  readonly accumulateType: DType;
  /** The float type of float inputs and outputs (float16, float32 or float64). */
  readonly ioFloatType: DType;
  /** The float type the math runs in: float64 for float64 graphs, float32 otherwise. */
  readonly floatType: DType;
  /** Whether a long vector is summed in blocks (see {@link GraphOptions.blockedSums}). */
  readonly blockedSums: boolean;
  private readonly inputs: IOSpec[] = [];
  private readonly outputs: IOSpec[] = [];
  private readonly annotations: IOSpec[] = [];
  private readonly nodes: NodeRecord[] = [];
  private readonly initializers: { value: Value; dims: number[]; data: ConstantData }[] = [];
  private readonly constantCache = new Map<string, Value>();
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(name: string, options: GraphOptions = {}) {
    this.name = name;
    this.opset = options.opset ?? DEFAULT_OPSET;
    this.lowering = options.lowering ?? "none";
    this.ioFloatType = options.dtype ?? "float32";
    this.floatType = this.ioFloatType === "float64" ? "float64" : "float32";
    this.blockedSums = options.blockedSums ?? true;
    this.accumulateType =
      this.lowering === "webgpu" ? "float32" : this.floatType === "float64" ? "float64" : (options.accumulate ?? "float64");
    irVersionForOpset(this.opset); // validates the opset
  }

  /** The integer type of class indices: int64, or int32 under the WebGPU lowering. */
  get indexType(): DType {
    return this.lowering === "webgpu" ? "int32" : "int64";
  }

  /** Declare a graph input. */
  input(name: string, dtype: DType, shape: readonly Dim[]): Value {
    const v = new Value(this, this.claim(name), dtype, [...shape]);
    this.inputs.push({ value: v, shape: [...shape] });
    return v;
  }

  /**
   * Declare a graph output. The value takes the output's name; a graph input or a value that is
   * already an output is passed through an Identity node first.
   */
  output(value: Value, name: string, shape: readonly Dim[]): void {
    this.own(value);
    let v = value;
    const isInput = this.inputs.some((i) => i.value === v);
    const isConst = this.initializers.some((i) => i.value === v);
    const isOutput = this.outputs.some((o) => o.value === v);
    const isAnnotated = this.annotations.some((o) => o.value === v);
    if (isInput || isConst || isOutput || isAnnotated) v = this.node("Identity", [v]);
    this.names.delete(v.name);
    v._rename(this.claim(name));
    this.outputs.push({ value: v, shape: [...shape] });
  }

  /**
   * Name an intermediate value and record its type and shape in the graph's `value_info`, so that a
   * reader of the model can find it and fetch it as an extra output (streamed evaluation takes a mean's
   * `loss_sum` and `weight_sum` this way). Returns the named value.
   */
  annotate(value: Value, name: string, shape: readonly Dim[]): Value {
    this.own(value);
    let v = value;
    const taken =
      [...this.inputs, ...this.outputs, ...this.annotations].some((o) => o.value === v) || this.initializers.some((i) => i.value === v);
    if (taken) v = this.node("Identity", [v]);
    this.names.delete(v.name);
    v._rename(this.claim(name));
    this.annotations.push({ value: v, shape: [...shape] });
    return v;
  }

  /**
   * A constant tensor (stored as an initializer). Equal constants are shared. `dims` defaults to a
   * scalar for a number and to a 1-D tensor for an array.
   */
  constant(data: ConstantData, dtype: DType, dims?: readonly number[]): Value {
    const shape = dims ? [...dims] : typeof data === "number" ? [] : [data.length];
    const count = shape.reduce((a, b) => a * b, 1);
    const length = typeof data === "number" ? 1 : data.length;
    if (count !== length) {
      throw new Error(`constant: expected ${count} values for dims [${shape.join(", ")}], received ${length}`);
    }
    const key = `${dtype}|${shape.join(",")}|${typeof data === "number" ? data : Array.from(data as ArrayLike<number | bigint>, String).join(",")}`;
    const cached = this.constantCache.get(key);
    if (cached) return cached;
    const v = new Value(this, this.claim(`const_${this.initializers.length}`), dtype, shape);
    this.initializers.push({ value: v, dims: shape, data });
    this.constantCache.set(key, v);
    return v;
  }

  /**
   * Append a node of the default (ai.onnx) domain. Returns its single output; use {@link nodeN} for ops
   * with several outputs. `null` inputs are omitted optional inputs.
   */
  node(opType: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrValue> = {}, options: NodeOptions = {}): Value {
    return this.nodeN(opType, inputs, 1, attrs, options)[0];
  }

  /** Append a node with `outputCount` outputs. */
  nodeN(
    opType: string,
    inputs: readonly (Value | null)[],
    outputCount: number,
    attrs: Record<string, AttrValue> = {},
    options: NodeOptions = {},
  ): Value[] {
    for (const i of inputs) if (i) this.own(i);
    const k = this.counter++;
    const nodeName = `${opType}_${k}`;
    const first = inputs.find((i): i is Value => i !== null);
    const dtype = options.dtype ?? first?.dtype;
    if (!dtype) throw new Error(`${opType}: expected a dtype for a node without inputs`);
    const outputs: Value[] = [];
    for (let j = 0; j < outputCount; j++) {
      const base = j === 0 && options.name ? options.name : `${nodeName}_out${j === 0 ? "" : j}`;
      outputs.push(new Value(this, this.claim(base), dtype));
    }
    for (const [key, a] of Object.entries(attrs)) {
      if (typeof a === "number" && !Number.isInteger(a)) {
        throw new Error(`${opType}: attribute ${key} expected an integer (wrap floats with float()), received ${a}`);
      }
    }
    this.nodes.push({ opType, name: nodeName, inputs: [...inputs], outputs, attrs: { ...attrs } });
    return outputs;
  }

  /** The ModelProto of this graph as plain properties. */
  toModelProto(options: ModelOptions = {}): ModelProps {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name}: expected at least one output, received none`);
    const metadata = Object.entries(options.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const { nodes, initializers } = this.live();
    return {
      irVersion: irVersionForOpset(this.opset),
      producerName: PRODUCER_NAME,
      producerVersion: PRODUCER_VERSION,
      docString: options.docString,
      opsetImport: [{ domain: "", version: this.opset }],
      metadataProps: metadata.map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: nodes.map((n) => ({
          opType: n.opType,
          name: n.name,
          input: n.inputs.map((i) => (i ? i.name : "")),
          output: n.outputs.map((o) => o.name),
          attribute: Object.keys(n.attrs)
            .sort()
            .map((key) => encodeAttr(key, n.attrs[key])),
        })),
        initializer: initializers.map((c) => encodeTensor(c.value.name, c.value.dtype, c.dims, c.data)),
        input: this.inputs.map((i) => valueInfo(i.value.name, i.value.dtype, i.shape)),
        output: this.outputs.map((o) => valueInfo(o.value.name, o.value.dtype, o.shape)),
        valueInfo: this.annotations
          .filter((a) => nodes.some((n) => n.outputs.includes(a.value)))
          .map((a) => valueInfo(a.value.name, a.value.dtype, a.shape)),
      },
    };
  }

  /** Serialize to ONNX ModelProto bytes (deterministic: same graph, same bytes). */
  toModel(options: ModelOptions = {}): Uint8Array {
    return encodeModel(this.toModelProto(options));
  }

  /**
   * The nodes and initializers the outputs depend on, in construction order: a value built but never
   * used (a branch an option turned off) is not serialized.
   */
  private live(): { nodes: NodeRecord[]; initializers: Graph["initializers"] } {
    const needed = new Set<Value>(this.outputs.map((o) => o.value));
    const nodes: NodeRecord[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => needed.has(o))) continue;
      nodes.push(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
    return { nodes: nodes.reverse(), initializers: this.initializers.filter((c) => needed.has(c.value)) };
  }

  private own(v: Value): void {
    if (v.graph !== this) throw new Error(`value ${v.name}: expected a value of graph ${this.name}, received one of graph ${v.graph.name}`);
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: value name ${name} is already used`);
    this.names.add(name);
    return name;
  }
}

/** Model-level fields of {@link Graph.toModel}. */
export interface ModelOptions {
  docString?: string;
  /** Written as sorted `metadata_props`. */
  metadata?: Record<string, string>;
}

function encodeAttr(name: string, a: AttrValue): onnx.AttributeProto.$Properties {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof a === "number") return { name, type: T.INT, i: a };
  if (typeof a === "string") return { name, type: T.STRING, s: new TextEncoder().encode(a) };
  if (Array.isArray(a)) return { name, type: T.INTS, ints: [...(a as number[])] };
  return { name, type: T.FLOAT, f: (a as FloatAttr).float };
}

function encodeTensor(name: string, dtype: DType, dims: number[], data: ConstantData): onnx.TensorProto.$Properties {
  const values = typeof data === "number" ? [data] : data;
  let raw: Uint8Array;
  switch (dtype) {
    case "float32":
      raw = new Uint8Array(Float32Array.from(values as number[]).buffer);
      break;
    case "float64":
      raw = new Uint8Array(Float64Array.from(values as number[]).buffer);
      break;
    case "int64":
      raw = new Uint8Array(BigInt64Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v)).buffer);
      break;
    case "int32":
      raw = new Uint8Array(Int32Array.from(values as number[]).buffer);
      break;
    case "bool":
      raw = Uint8Array.from(values as number[], (v) => (v ? 1 : 0));
      break;
    default:
      throw new Error(`constant ${name}: dtype ${dtype} is not supported for constants`);
  }
  if (!littleEndian()) throw new Error("constant: big-endian hosts are not supported");
  return { name, dims, dataType: onnxDataType(dtype), rawData: raw };
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): onnx.ValueInfoProto.$Properties {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnxDataType(dtype),
        shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

let endian: boolean | undefined;
function littleEndian(): boolean {
  endian ??= new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  return endian;
}
