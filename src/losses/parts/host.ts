/**
 * A loss's graph and its I/O: a graph of its own or the host graph it is built into (attach, the
 * training step), its declared inputs, and finish, which reduces, names the outputs and the gradient.
 */
import { Graph, type Dim, type Value } from "../../builder/graph.js";
import type { DType } from "../../onnx/dtypes.js";
import { cast, div, equal, where } from "../../builder/ops/index.js";
import { OptionError, type Reduction } from "../options.js";
import { type BuildContext, type BuiltParts, type InputCheck, INPUT_KINDS, type InputKind, type TensorSpec } from "../types.js";
import { reduceItems, itemCount, accurateSum, chunkedSum, sumsInChunks } from "./reductions.js";

/**
 * What a loss's build appends to, passed to it: its graph (a fresh one, or the host graph a training
 * step builds it into), the build options, its inputs as declared, and the finish that reduces and
 * names the outputs. A loss builds only through it, so every loss can be built into a host by
 * construction: in a host, an input the host binds is its value and finish declares no outputs.
 */
export class LossBuilder {
  /** The graph the loss appends to. */
  readonly graph: Graph;
  /** The inputs declared so far (name, dtype, shape, kind and doc), in order. */
  readonly inputs: TensorSpec[] = [];
  /** The values standing in for the loss's inputs by name, in a host graph. */
  private readonly bound?: Readonly<Record<string, Value>>;

  /**
   * A builder over a fresh Graph named `name` made with `ctx`'s options, or over `host.graph` (made with
   * the same options), where `host.bind` gives values that stand in for the loss's inputs by name.
   */
  constructor(
    name: string,
    readonly ctx: BuildContext,
    host?: { graph: Graph; bind: Readonly<Record<string, Value>> },
  ) {
    if (!host) {
      // the graph a small batch runs (chunks false) sums without blocks too
      this.graph = new Graph(name, { ...ctx, blockedSums: ctx.chunks !== false });
      return;
    }
    const g = host.graph;
    if (ctx.outputs !== "loss")
      throw new Error(`${name}: expected outputs "loss" in a host graph, received ${JSON.stringify(ctx.outputs)}`);
    if (g.opset !== ctx.opset || g.lowering !== ctx.lowering || g.ioFloatType !== ctx.dtype) {
      throw new Error(
        `${name}: expected a host graph built with the loss's opset, lowering and dtype, received graph ${g.name} (opset ${g.opset}, lowering ${g.lowering}, dtype ${g.ioFloatType})`,
      );
    }
    this.graph = g;
    this.bound = host.bind;
  }

  /** Is the loss being built into a host graph? */
  get hosted(): boolean {
    return this.bound !== undefined;
  }

  /**
   * Declare an input of the loss by its kind (the doc follows from it): a graph input, cast to the type
   * the math runs in for `"float"`, or in a host the value bound to `name`.
   */
  input(name: string, dtype: DType | "float", shape: Dim[], kind: InputKind): Value {
    const g = this.graph;
    const bound = this.bound?.[name];
    if (!bound) return declareInput(g, this.inputs, name, dtype, shape, kind);
    this.inputs.push({ name, dtype: dtype === "float" ? g.ioFloatType : dtype, shape, doc: INPUT_KINDS[kind], kind });
    const want = dtype === "float" ? g.floatType : dtype;
    if (bound.dtype !== want)
      throw new Error(`${g.name}: input ${name}: expected a bound value of dtype ${want}, received ${bound.dtype} (${bound.name})`);
    return bound;
  }

  /**
   * Reduce the per-item losses (see {@link reduceItems}), declare the output `loss` (the outputs the
   * build options ask for) and return the parts buildLoss wraps; in a host, the values instead.
   */
  finish(perItem: Value, o: FinishOptions): BuiltParts {
    return finishLoss(this, perItem, o);
  }

  /**
   * Finish an elementwise loss of `values` (its input and target), deciding here whether the total is
   * summed in row chunks ({@link sumsInChunks}, {@link chunkedSum}: `sumOfChunk` sums a chunk) or the
   * loss is built whole (`whole`, called only then, gives the per-element loss and its gradient).
   */
  finishElementwise(values: readonly Value[], o: ElementwiseFinish): BuiltParts {
    const { loss: opts, weightAlong0, weightTensors, sumOfChunk, whole, ...rest } = o;
    if (this.ctx.chunks !== false && !weightTensors && sumsInChunks(this.graph, opts, weightAlong0)) {
      return this.finish(values[0], { ...rest, reduction: opts.reduction, total: chunkedSum(values, sumOfChunk) });
    }
    const built = whole();
    return this.finish(built.loss, { ...rest, reduction: opts.reduction, gradient: built.gradient });
  }
}

/** What {@link LossBuilder.finishElementwise} takes. */
export interface ElementwiseFinish extends Omit<FinishOptions, "reduction" | "gradient" | "total"> {
  /** The loss's options that decide the chunking: its reduction, gradient and rank. */
  loss: { reduction: Reduction; gradient: boolean; rank: number };
  /** A weight list runs along axis 0 (rank 1 with a weight per element): no chunks, a slice would not broadcast. */
  weightAlong0?: boolean;
  /**
   * A weight tensor input (its dim 0 the input's rows or 1, broadcast at run time): no chunks at any
   * rank, a slice of the input's rows would meet all of the weight's.
   */
  weightTensors?: boolean;
  /** The sum of a chunk's losses, in the accumulate type (usually accurateSum of its elementwise loss). */
  sumOfChunk: (...chunk: Value[]) => Value;
  /** The whole per-element loss, and its gradient with the gradient option. */
  whole: () => { loss: Value; gradient?: Value };
}

/**
 * Declare a graph input and record its spec (name, dtype, shape, meaning) in `specs`. A float input
 * (`"float"`) takes the graph's input float type and is cast to the type the math runs in. A loss
 * declares its inputs through {@link LossBuilder.input}; a graph around a loss (the training step) with this.
 */
export function declareInput(
  g: Graph,
  specs: TensorSpec[],
  name: string,
  dtype: DType | "float",
  shape: Dim[],
  /** A loss's input: its kind (the doc follows, INPUT_KINDS); another graph's: its doc. */
  what: InputKind | { doc: string },
): Value {
  const declared = dtype === "float" ? g.ioFloatType : dtype;
  specs.push(
    typeof what === "string"
      ? { name, dtype: declared, shape, doc: INPUT_KINDS[what], kind: what }
      : { name, dtype: declared, shape, doc: what.doc },
  );
  const v = g.input(name, declared, shape);
  return dtype === "float" ? cast(v, g.floatType) : v;
}

/** What {@link LossBuilder.finish} takes besides the per-item losses. */
export interface FinishOptions {
  reduction: Reduction;
  denominator?: Value;
  items: Dim[];
  checks?: InputCheck[];
  doc: string;
  /** d (sum of the per-item losses) / d input, in the float type: output as `input_grad`, scaled as the reduction scales. */
  gradient?: Value;
  /**
   * The sum of the per-item losses, already taken (by {@link chunkedSum}), in the accumulate type: then
   * `perItem` is only counted (a mean of elementwise losses divides by the element count).
   */
  total?: Value;
}

function finishLoss(b: LossBuilder, perItem: Value, o: FinishOptions): BuiltParts {
  const g = b.graph;
  const inputs = b.inputs;
  const outputsMode = b.ctx.outputs;
  const base = { graph: g, inputs, checks: o.checks ?? [], doc: o.doc };
  if (o.gradient && outputsMode === "parts")
    throw new OptionError('gradient: expected outputs "loss" (the gradient is of the loss), received outputs "parts"');
  if (outputsMode === "parts") {
    const rank = o.items.length;
    const acc = g.accumulateType;
    g.output(o.total ?? accurateSum(perItem, rank), "loss_sum", []);
    const count = o.denominator ? accurateSum(o.denominator, rank) : itemCount(perItem);
    g.output(count, "weight_sum", []);
    return {
      ...base,
      outputs: [
        { name: "loss_sum", dtype: acc, shape: [], doc: "sum of the weighted per-item losses" },
        { name: "weight_sum", dtype: acc, shape: [], doc: 'what "mean" divides by' },
      ],
    };
  }
  const shape = o.reduction === "none" ? o.items : [];
  const reduced = reduceItems(perItem, o.reduction, o.items.length, o.denominator, o.total);
  let grad: Value | undefined;
  if (o.gradient) {
    // "none": the gradient of the sum of the items (PyTorch's backward(ones_like(loss))); "mean": / weight_sum
    // (a mean over no weight: every item's gradient is 0, and so is the mean's, as in PyTorch, not 0 / 0)
    grad = o.gradient;
    if (reduced.weights) {
      const w = cast(reduced.weights, g.floatType);
      grad = div(grad, where(equal(w, 0), 1, w, g.floatType));
    }
  }
  // built into a host graph: the host decides what becomes an output
  if (b.hosted) return { ...base, outputs: [], values: { loss: reduced.value, inputGrad: grad } };
  g.output(reduced.value, "loss", shape);
  const outputs: TensorSpec[] = [{ name: "loss", dtype: g.ioFloatType, shape, doc: "the loss" }];
  if (grad) {
    const input = inputs.find((i) => i.name === "input")!;
    g.output(cast(grad, g.ioFloatType), "input_grad", input.shape);
    outputs.push({
      name: "input_grad",
      dtype: g.ioFloatType,
      shape: input.shape,
      doc: "d loss / d input (for reduction none: of the sum of the items)",
    });
  }
  return { ...base, outputs };
}
