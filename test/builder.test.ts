/** The graph builder: opset handling, IR versions, determinism, naming, the reader. */
import { describe, expect, test } from "@jest/globals";
import { Graph, float, readModel } from "../src/builder/index.js";
import {
  add,
  cast,
  clip,
  equal,
  gather,
  logSoftmax,
  mul,
  powConst,
  reduceMax,
  reduceMean,
  reduceSum,
  squeeze,
  unsqueeze,
  where,
} from "../src/builder/ops/index.js";
import { irVersionForOpset, SUPPORTED_OPSETS } from "../src/onnx/versions.js";
import { createEvaluator } from "../src/runtime/node.js";
import { exactly } from "./helpers.js";

function tiny(opset: number): Graph {
  const g = new Graph("tiny", { opset });
  const x = g.input("x", "float32", ["N", "C"]);
  const m = reduceMean(reduceMax(x, { axes: [1], keepdims: true }), { axes: [0, 1] });
  g.output(add(m, reduceSum(x, { axes: [1] })), "y", ["N"]);
  return g;
}

describe("opsets and IR versions", () => {
  test("IR version follows onnx's VERSION_TABLE", () => {
    expect(SUPPORTED_OPSETS).toEqual([13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
    expect(SUPPORTED_OPSETS.map(irVersionForOpset)).toEqual([7, 7, 8, 8, 8, 8, 9, 9, 10, 10, 11]);
    for (const opset of SUPPORTED_OPSETS) {
      const info = readModel(tiny(opset).toModel());
      expect(info.opset).toBe(opset);
      expect(info.irVersion).toBe(irVersionForOpset(opset));
    }
  });

  test("an opset outside 13..23 is refused", () => {
    expect(() => new Graph("g", { opset: 12 })).toThrow(exactly("opset: expected an integer from 13 to 23, received 12"));
    expect(() => new Graph("g", { opset: 24 })).toThrow(exactly("opset: expected an integer from 13 to 23, received 24"));
  });

  test("ReduceMean/ReduceMax take axes as an attribute before 18 and as an input from 18; ReduceSum as an input", () => {
    const at17 = readModel(tiny(17).toModel()).nodes;
    const at18 = readModel(tiny(18).toModel()).nodes;
    const byOp = (nodes: typeof at17, op: string) => nodes.find((n) => n.opType === op)!;
    expect(byOp(at17, "ReduceMax").attributes.axes).toEqual([1]);
    expect(byOp(at17, "ReduceMax").inputs).toHaveLength(1);
    expect(byOp(at18, "ReduceMax").attributes.axes).toBeUndefined();
    expect(byOp(at18, "ReduceMax").inputs).toHaveLength(2);
    expect(byOp(at17, "ReduceSum").inputs).toHaveLength(2);
    expect(byOp(at17, "ReduceSum").attributes.axes).toBeUndefined();
  });

  test.each(SUPPORTED_OPSETS)("the same graph computes the same numbers at opset %i", async (opset) => {
    const ev = await createEvaluator(tiny(opset).toModel());
    const { y } = await ev.run({ x: { data: new Float32Array([1, 2, 3, 4, 5, 6]), dims: [2, 3] } });
    await ev.release();
    // mean over all of the row maxima (3, 6) = 4.5, plus the row sums (6, 15)
    expect(Array.from(y.data as Float32Array)).toEqual([10.5, 19.5]);
  });
});

describe("deterministic bytes", () => {
  test("building twice gives identical bytes", () => {
    expect(Buffer.from(tiny(17).toModel()).equals(Buffer.from(tiny(17).toModel()))).toBe(true);
  });

  test("names follow construction order; attributes are sorted; metadata is sorted", () => {
    const g = new Graph("names");
    const x = g.input("x", "float32", ["N"]);
    const y = mul(x, 2);
    g.node("LeakyRelu", [y], { alpha: float(0.5) }, { name: "leaky" }); // dead: not serialized
    g.output(y, "out", ["N"]);
    g.output(g.node("LeakyRelu", [y], { alpha: float(0.5) }, { name: "leaky2" }), "out2", ["N"]);
    const info = readModel(g.toModel({ metadata: { zeta: "1", alpha: "2" } }));
    expect(info.nodes.map((n) => n.name)).toEqual(["Mul_0", "LeakyRelu_2"]);
    expect(info.nodes[0].outputs).toEqual(["out"]);
    expect(info.nodes[1].outputs).toEqual(["out2"]);
    expect(info.nodes[1].attributes.alpha).toBeCloseTo(0.5);
    expect(Object.keys(info.metadata)).toEqual(["alpha", "zeta"]);
  });

  test("nodes and constants the outputs do not depend on are not serialized", () => {
    const g = new Graph("dead");
    const x = g.input("x", "float32", ["N"]);
    mul(add(x, 7), 3); // never used
    g.output(mul(x, 2), "y", ["N"]);
    const info = readModel(g.toModel());
    expect(info.nodes.map((n) => n.name)).toEqual(["Mul_2"]);
    expect(info.initializers.map((i) => i.values)).toEqual([[2]]);
  });

  test("equal constants are stored once", () => {
    const g = new Graph("consts");
    const x = g.input("x", "float32", ["N"]);
    g.output(add(mul(x, 2), mul(x, 2)), "y", ["N"]);
    expect(readModel(g.toModel()).initializers).toHaveLength(1);
  });
});

describe("graph construction", () => {
  test("an input passed straight to an output goes through Identity", () => {
    const g = new Graph("id");
    const x = g.input("x", "float32", [3]);
    g.output(x, "y", [3]);
    const info = readModel(g.toModel());
    expect(info.nodes.map((n) => n.opType)).toEqual(["Identity"]);
    expect(info.outputs[0]).toEqual({ name: "y", dtype: "float32", shape: [3] });
  });

  test("values of another graph, reused names and float INT attributes are refused", () => {
    const a = new Graph("a");
    const b = new Graph("b");
    const x = a.input("x", "float32", [1]);
    expect(() => b.node("Neg", [x])).toThrow(exactly("value x: expected a value of graph b, received one of graph a"));
    expect(() => a.input("x", "float32", [1])).toThrow(exactly("graph a: value name x is already used"));
    expect(() => a.node("LogSoftmax", [x], { axis: 0.5 })).toThrow(
      exactly("LogSoftmax: attribute axis expected an integer (wrap floats with float()), received 0.5"),
    );
    expect(() => new Graph("empty").toModel()).toThrow(exactly("graph empty: expected at least one output, received none"));
  });

  test("powConst: gamma 0 drops the factor, small integers multiply, others use Pow", () => {
    const ops = (gamma: number) => {
      const g = new Graph("p");
      const x = g.input("x", "float32", ["N"]);
      const r = powConst(x, gamma);
      g.output(r ?? x, "y", ["N"]);
      return readModel(g.toModel()).nodes.map((n) => n.opType);
    };
    expect(ops(0)).toEqual(["Identity"]);
    expect(ops(1)).toEqual(["Identity"]);
    expect(ops(2)).toEqual(["Mul"]);
    expect(ops(3)).toEqual(["Mul", "Mul"]);
    expect(ops(4)).toEqual(["Mul", "Mul"]);
    expect(ops(2.5)).toEqual(["Pow"]);
  });

  test("every op the losses use runs in onnxruntime", async () => {
    const g = new Graph("ops", { opset: 13 });
    const x = g.input("x", "float32", [2, 3]);
    const t = g.input("t", "int64", [2]);
    const lsm = logSoftmax(x, 1);
    const picked = squeeze(g.node("GatherElements", [lsm, unsqueeze(t, [1])], { axis: 1 }), [1]);
    const w = gather(g.constant([1, 2, 3], "float32"), t, 0);
    const clipped = clip(mul(picked, w), -1.5);
    const masked = where(equal(t, 1), clipped, 0);
    g.output(cast(masked, "float64"), "y", [2]);
    const ev = await createEvaluator(g.toModel());
    const { y } = await ev.run({ x: { data: new Float32Array([0, 0, 0, 1, 2, 3]), dims: [2, 3] }, t: { data: [2, 1], dims: [2] } });
    await ev.release();
    expect(y.dtype).toBe("float64");
    // row 0: target 2 is not 1 -> 0; row 1: log p[1] = 2 - logsumexp(1,2,3) = -1.4076 times w 2 -> clipped at -1.5
    expect(Array.from(y.data as Float64Array)).toEqual([0, -1.5]);
  });
});

describe("reader", () => {
  test("decodes inputs, outputs, initializers and nodes", () => {
    const info = readModel(tiny(18).toModel({ docString: "doc" }));
    expect(info.producerName).toBe("onnx-losses");
    expect(info.docString).toBe("doc");
    expect(info.inputs).toEqual([{ name: "x", dtype: "float32", shape: ["N", "C"] }]);
    expect(info.outputs).toEqual([{ name: "y", dtype: "float32", shape: ["N"] }]);
    expect(info.initializers.map((i) => i.values)).toEqual([[1], [0, 1]]);
  });

  test("refuses bytes that are not a model", () => {
    expect(() => readModel(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(
      /^onnx model: expected ONNX ModelProto bytes, could not decode/,
    );
  });
});

describe("type checks at build time", () => {
  test("elementwise operands of different dtypes are refused with both names", () => {
    const g = new Graph("types");
    const a = g.input("a", "float32", [1]);
    const b = g.input("b", "float64", [1]);
    expect(() => mul(a, b)).toThrow(exactly("Mul: expected operands of one dtype, received float32 (a) and float64 (b)"));
    expect(() => where(equal(a, 0), a, b)).toThrow(exactly("Where: expected operands of one dtype, received float32 (a) and float64 (b)"));
    expect(where(equal(b, 0), 1, 2, "float64").dtype).toBe("float64");
  });
});
