/**
 * One full-batch gradient-descent step of a linear classifier head (softmax regression), as one ONNX
 * graph: logits = X W + b, the catalogue loss of the logits, its closed-form `input_grad` (the loss's
 * own build, run in this graph on the logits), dW = X^T g, db = sum_n g, and the updated parameters.
 * Feeding W_next and b_next back in trains the head with nothing but an onnxruntime session.
 */
import { Graph, type Value } from "../builder/graph.js";
import { add, cast, matMul, mul, reduceSum, sub, transpose } from "../builder/ops/index.js";
import { canonicalJson, encodeContract, type StepContract } from "../model/contract.js";
import { trustBuilt } from "../model/trusted.js";
import { type FloatDType, isFloatDType } from "../onnx/dtypes.js";
import { getLoss } from "./catalogue.js";
import { declareInput, LossBuilder } from "./common.js";
import { buildLoss, type BuildOptions, type LossOptionsFor, type ResolvedOptionsFor } from "./index.js";
import { OptionError } from "./options.js";
import type { InputCheck, LossGraph, TensorSpec } from "./types.js";
import { checkFields, type FieldsOf, field, required } from "../util/schema.js";

/** Options of the step itself (build-time constants of the graph). */
/** The fields of {@link LinearHeadStepOptions}. */
export const STEP_FIELDS = {
  /** Learning rate: a finite number > 0. */
  lr: required(field<number>("a finite number > 0", (v) => typeof v === "number" && Number.isFinite(v) && v > 0)),
} as const;

/** Options of the training step. */
export type LinearHeadStepOptions = FieldsOf<typeof STEP_FIELDS>;

/** A built step graph: the loss's resolved options, the step's, and what a caller feeds and reads. */
export interface LinearHeadStepGraph<O = Record<string, unknown>, D extends FloatDType = FloatDType> extends LossGraph<O, D, "loss"> {
  step: StepContract;
}

const STEP = "linear_head_step";

/**
 * Build one gradient-descent step of a linear head trained with catalogue loss `loss`. Inputs `X`
 * [N, D] (features), the loss's `target` (e.g. int64 class indices [N]), `W` [D, C], `b` [C]; outputs
 * `loss` (at W, b), `W_next = W - lr dL/dW` and `b_next = b - lr dL/db`. The loss must take logits
 * [N, C] (cross_entropy, softmax_focal_loss, and the sigmoid losses with rank 2) with reduction "mean" or
 * "sum"; its options and the build options (opset, lowering, dtype, accumulate) are those of buildLoss.
 * The model carries the loss's input checks (target indices in [0, C), C = dim 1 of W), which the
 * evaluator runs before each step.
 *
 * @example
 * const step = linearHeadStep("softmax_focal_loss", { gamma: 2 }, { lr: 0.5 });
 * // feed { X, target, W, b }; feed W_next, b_next back as W, b for the next step
 */
export function linearHeadStep<K extends string, D extends FloatDType = "float32">(
  loss: K,
  options: LossOptionsFor<K> = {} as LossOptionsFor<K>,
  step: LinearHeadStepOptions,
  build: Omit<BuildOptions, "outputs"> & { dtype?: D } = {},
): LinearHeadStepGraph<ResolvedOptionsFor<K>, D> {
  const lr = checkStep(step);
  const given = (options ?? {}) as Record<string, unknown>;
  if (given.gradient !== undefined && given.gradient !== true) {
    throw new OptionError(
      `${STEP}: option gradient: expected true or nothing (a step needs the loss's gradient), received ${JSON.stringify(given.gradient)}`,
    );
  }
  const outputs = (build as BuildOptions).outputs;
  if (outputs !== undefined && outputs !== "loss") {
    throw new OptionError(
      `${STEP}: build option outputs: expected "loss" or nothing (a step outputs loss, W_next and b_next), received ${JSON.stringify(outputs)}`,
    );
  }
  // The loss alone first: it checks the options and the build options, and says what the loss takes.
  const alone = buildLoss(loss, { ...given, gradient: true } as LossOptionsFor<K>, { ...build, outputs: "loss" });
  const resolved = alone.options as Record<string, unknown>;
  if (resolved.reduction !== "mean" && resolved.reduction !== "sum") {
    throw new OptionError(
      `${STEP}: option reduction: expected "mean" or "sum" (a step descends one scalar loss), received ${JSON.stringify(resolved.reduction)}`,
    );
  }
  const input = alone.inputs.find((i) => i.name === "input");
  if (input?.kind !== "logits" || input.shape.length !== 2) {
    const what = input ? `${input.doc} [${input.shape.join(", ")}]` : "no input named input";
    throw new OptionError(
      `${STEP}: loss ${alone.name}: expected a loss of logits [N, C] (the head computes logits), received one of ${what}`,
    );
  }
  const C = input.shape[1];
  const ctx = { opset: alone.opset, lowering: alone.lowering, dtype: alone.dtype, accumulate: build.accumulate ?? "float64" } as const;
  const g = new Graph(STEP, ctx);
  const specs: TensorSpec[] = [];
  const X = declareInput(g, specs, "X", "float", ["N", "D"], { doc: "features" });
  const bind: Record<string, Value> = {};
  for (const t of alone.inputs) {
    if (t.name === "input") continue;
    bind[t.name] = declareInput(g, specs, t.name, isFloatDType(t.dtype) ? "float" : t.dtype, t.shape, t.kind ?? { doc: t.doc });
  }
  const W = declareInput(g, specs, "W", "float", ["D", C], { doc: "weights of the head" });
  const b = declareInput(g, specs, "b", "float", [C], { doc: "biases of the head" });
  bind.input = add(matMul(X, W), b);
  const parts = getLoss(alone.name).build(resolved, new LossBuilder(alone.name, { ...ctx, outputs: "loss" }, { graph: g, bind }));
  const values = parts.values;
  if (parts.graph !== g || !values?.inputGrad) {
    throw new OptionError(
      `${STEP}: loss ${alone.name}: expected a loss whose build appends to the graph its LossBuilder gives it (see docs/adding-a-loss.md), received one that builds a graph of its own`,
    );
  }
  const grad = values.inputGrad; // d loss / d logits [N, C]
  const dW = matMul(transpose(X, [1, 0]), grad);
  const db = reduceSum(grad, { axes: [0] });
  g.output(values.loss, "loss", []);
  g.output(cast(sub(W, mul(dW, lr)), g.ioFloatType), "W_next", ["D", C]);
  g.output(cast(sub(b, mul(db, lr)), g.ioFloatType), "b_next", [C]);
  const checks = alone.checks.map(onStepInputs);
  const stepContract: StepContract = { kind: "linear_head", lr };
  const model = g.toModel({
    docString: `One gradient-descent step (lr ${lr}) of a linear head trained with ${alone.name}. Built by onnx-losses with options ${canonicalJson(resolved)}.`,
    metadata: encodeContract({
      kind: "step",
      loss: alone.name,
      options: resolved,
      checks,
      inputs: specs.map((s) => ({ name: s.name, doc: s.doc })),
      lowering: alone.lowering,
      dtype: alone.dtype,
      accumulate: alone.accumulate,
      outputs: "loss",
      step: stepContract,
    }),
  });
  trustBuilt(model);
  return {
    name: alone.name,
    options: alone.options as ResolvedOptionsFor<K>,
    opset: alone.opset,
    lowering: alone.lowering,
    dtype: alone.dtype as D,
    accumulate: alone.accumulate,
    outputMode: "loss",
    inputs: specs,
    outputs: [
      { name: "loss", dtype: g.ioFloatType, shape: [], doc: "the loss at W, b" },
      { name: "W_next", dtype: g.ioFloatType, shape: ["D", C], doc: "W - lr d loss / d W" },
      { name: "b_next", dtype: g.ioFloatType, shape: [C], doc: "b - lr d loss / d b" },
    ],
    checks,
    step: stepContract,
    model,
  };
}

/** The learning rate, checked: a finite number > 0. */
function checkStep(step: LinearHeadStepOptions): number {
  const words = { subject: `${STEP}: step options`, prefix: `${STEP}: step option `, form: "an object { lr }", required: true };
  return checkFields(words, STEP_FIELDS, step).lr;
}

/**
 * A check of the loss alone, on the step's inputs: the loss's `input` (logits [N, C]) is no graph input
 * here, so its dim 0 is X's dim 0 and its dim 1 (the classes) W's dim 1.
 */
function onStepInputs(c: InputCheck): InputCheck {
  const at = (tensor: string, axis: number): { tensor: string; axis: number } => {
    if (tensor !== "input") return { tensor, axis };
    return axis === 0 ? { tensor: "X", axis: 0 } : { tensor: "W", axis: 1 };
  };
  switch (c.kind) {
    case "classIndex": {
      const of = at(c.classesOf, c.axis);
      return { ...c, classesOf: of.tensor, axis: of.axis };
    }
    case "minDim": {
      const t = at(c.tensor, c.axis);
      return { ...c, tensor: t.tensor, axis: t.axis };
    }
    case "broadcast":
      // the logits the weight broadcasts to are computed (X W + b), no graph input: nothing to check the
      // weight's dims against before the run, and a step's checks all run before it
      throw new OptionError(
        `${STEP}: expected a loss without a weight tensor input, received one broadcast to its ${c.to} (the step computes its logits X W + b, which no weight input can be checked against before the run): give the weights as a list`,
      );
    case "range":
      if (c.tensor === "input")
        throw new OptionError(`${STEP}: expected a loss without a range check on its logits, received one on ${c.tensor}`);
      return c;
  }
}
