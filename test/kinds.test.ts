/**
 * The model kinds (src/models/kinds.ts, docs/adding-a-model-kind.md): every kind of the table is covered
 * by the contract's decode, `inspect`, `eval` and `eval --stream`, and the table's kinds are the
 * contract union's, at compile time and at run time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { readModel } from "../src/builder/reader.js";
import { encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss } from "../src/losses/index.js";
import { linearHeadStep } from "../src/losses/linear_head.js";
import { CONTRACT_KINDS, decodeContract, type ContractKind, type LossContract } from "../src/model/contract.js";
import { MODEL_KIND_NAMES, MODEL_KINDS, mustProbeRows, readLossModel } from "../src/models/kinds.js";
import { FIXTURES, runCliIn } from "./helpers.js";

/** One model of a kind, its .npy inputs, what inspect says of it and what eval --stream does with it. */
interface KindCase {
  model: () => Uint8Array;
  inputs: Record<string, { dtype: "float32" | "int64"; dims: number[]; data: number[] }>;
  /** The lines inspect prints for the kind (after the versions line). */
  inspect: string[];
  /** eval --stream: streams (the one-pass values of `output`), or refuses with this message. */
  stream: { streams: string } | { refused: string };
  probeRows: boolean;
}

const mlp = () => new Uint8Array(readFileSync(join(FIXTURES, "attach", "mlp.onnx")));
const CE_OPTIONS =
  '{"gradient":false,"ignoreIndex":-100,"labelSmoothing":0,"rank":2,"reduction":"mean","targetType":"index","weight":null}';
const x = { dtype: "float32" as const, dims: [6, 8], data: Array.from({ length: 48 }, (_, i) => Math.sin(i)) };
const labels = { dtype: "int64" as const, dims: [6], data: [0, 1, 2, 1, 0, 2] };

/**
 * Keyed by kind: a kind of the union without a case here does not compile (and the runtime test below
 * checks the keys), so a new kind comes with its model.
 */
const CASES: { [K in ContractKind]: KindCase } = {
  loss: {
    model: () => buildLoss("cross_entropy").model,
    inputs: {
      input: { dtype: "float32", dims: [6, 3], data: Array.from({ length: 18 }, (_, i) => Math.cos(i)) },
      target: labels,
    },
    inspect: [`  loss cross_entropy ${CE_OPTIONS}`],
    stream: { streams: "loss" },
    probeRows: false,
  },
  step: {
    model: () => linearHeadStep("cross_entropy", {}, { lr: 0.5 }).model,
    inputs: {
      X: { dtype: "float32", dims: [6, 2], data: Array.from({ length: 12 }, (_, i) => Math.sin(i)) },
      target: labels,
      W: { dtype: "float32", dims: [2, 3], data: [0.1, -0.2, 0.3, 0, 0.5, -0.1] },
      b: { dtype: "float32", dims: [3], data: [0, 0.1, -0.1] },
    },
    inspect: [
      // the step builds the loss with its gradient
      `  loss cross_entropy ${CE_OPTIONS.replace('"gradient":false', '"gradient":true')}`,
      "  a training step around the loss: linear_head, lr 0.5 (outputs the updated parameters)",
    ],
    stream: {
      refused:
        "onnx-losses: model.onnx: cannot be evaluated in chunks: the streamed inputs do not share one symbolic dim 0 (N, D, C); evaluate it in one pass (without --stream)\n",
    },
    probeRows: false,
  },
  attached: {
    model: () => attachLoss(mlp(), { output: "logits", loss: "cross_entropy" }).model,
    inputs: { x, target: labels },
    inspect: [
      `  loss cross_entropy ${CE_OPTIONS}`,
      "  attached to output logits: target input target, outputs loss; the loss's other names start with onnx_losses/",
    ],
    // a mean attached to a model: the loss_sum it was computed from carries the loss's prefix
    stream: {
      refused:
        "onnx-losses: model.onnx: cannot be evaluated in chunks: its outputs (logits [N, 5], loss []) are neither per item along N nor the sums loss_sum and weight_sum; evaluate it in one pass (without --stream)\n",
    },
    probeRows: true,
  },
};

// compile time: the table's keys, the union's kinds and the runtime list are one set
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const tableIsUnion: Same<keyof typeof MODEL_KINDS, LossContract["kind"]> = true;
const listIsUnion: Same<(typeof CONTRACT_KINDS)[number], LossContract["kind"]> = true;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "onnx-losses-kinds-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A folder holding the kind's model.onnx and its inputs; the --input arguments. */
function write(kind: ContractKind, model = CASES[kind].model()): { cwd: string; args: string[] } {
  const cwd = mkdtempSync(join(dir, `${kind}-`));
  writeFileSync(join(cwd, "model.onnx"), model);
  const args: string[] = [];
  for (const [name, t] of Object.entries(CASES[kind].inputs)) {
    const data = t.dtype === "int64" ? BigInt64Array.from(t.data, (v) => BigInt(v)) : Float32Array.from(t.data);
    writeFileSync(join(cwd, `${name}.npy`), encodeNpy({ dtype: t.dtype, dims: t.dims, data }));
    args.push("--input", `${name}=${name}.npy`);
  }
  return { cwd, args };
}

describe("the model-kind table", () => {
  test("its kinds are the contract union's (a runtime list beside the compile-time check)", () => {
    expect(tableIsUnion && listIsUnion).toBe(true);
    expect(Object.keys(MODEL_KINDS)).toEqual([...CONTRACT_KINDS]);
    expect([...MODEL_KIND_NAMES]).toEqual([...CONTRACT_KINDS]);
    expect(Object.keys(CASES).sort()).toEqual([...CONTRACT_KINDS].sort());
    for (const k of CONTRACT_KINDS) {
      expect(MODEL_KINDS[k].kind).toBe(k);
      expect(MODEL_KINDS[k].summary.length).toBeGreaterThan(0);
    }
  });

  test("streaming probes the rows of an attached model only (and of a model without a contract)", () => {
    for (const k of CONTRACT_KINDS) expect(MODEL_KINDS[k].probeRows).toBe(CASES[k].probeRows);
    expect(mustProbeRows(undefined)).toBe(true);
  });
});

describe.each([...CONTRACT_KINDS])("kind %s", (kind) => {
  const c = CASES[kind];

  test("decodeContract gives the kind, and verification keeps it", () => {
    const model = c.model();
    const decoded = decodeContract(readModel(model), "model.onnx");
    expect(decoded?.kind).toBe(kind);
    expect(readLossModel(model, "model.onnx").contract?.kind).toBe(kind);
    // exactly the kind's own fields
    expect(decoded?.step !== undefined).toBe(kind === "step");
    expect(decoded?.attached !== undefined).toBe(kind === "attached");
  });

  test("inspect prints the kind's lines, and no other kind's", async () => {
    const { cwd } = write(kind);
    const r = await runCliIn(cwd, ["inspect", "model.onnx"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const lines = r.out.split("\n");
    expect(lines.slice(2, 2 + c.inspect.length)).toEqual(c.inspect);
    expect(lines[2 + c.inspect.length]).toMatch(/^ {2}checks before each run: /);
    for (const other of CONTRACT_KINDS.filter((k) => k !== kind)) {
      for (const line of CASES[other].inspect.slice(1)) expect(lines).not.toContain(line);
    }
    const json = JSON.parse((await runCliIn(cwd, ["inspect", "model.onnx", "--json"])).out) as { contract: { kind: string } };
    expect(json.contract.kind).toBe(kind);
  });

  test("eval runs it", async () => {
    const { cwd, args } = write(kind);
    const r = await runCliIn(cwd, ["eval", "model.onnx", ...args, "--json"]);
    expect([r.code, r.err]).toEqual([0, ""]);
    const out = JSON.parse(r.out) as { outputs: Record<string, { data: (number | null)[] }> };
    expect(Number.isFinite(out.outputs.loss.data[0])).toBe(true);
  });

  test("eval --stream streams it or refuses with the documented reason", async () => {
    const { cwd, args } = write(kind);
    const r = await runCliIn(cwd, ["eval", "model.onnx", ...args, "--stream", "--chunk-mb", "1", "--json"]);
    if ("refused" in c.stream) {
      expect([r.code, r.out, r.err]).toEqual([2, "", c.stream.refused]);
    } else {
      expect([r.code, r.err]).toEqual([0, ""]);
      const once = await runCliIn(cwd, ["eval", "model.onnx", ...args, "--json"]);
      const name = c.stream.streams;
      const value = (run: { out: string }) =>
        (JSON.parse(run.out) as { outputs: Record<string, { data: number[] }> }).outputs[name].data[0];
      expect(value(r)).toBeCloseTo(value(once), 6);
    }
  });
});

test("an attached per-item loss streams, its model's rows probed first", async () => {
  const model = attachLoss(mlp(), { output: "logits", loss: "cross_entropy", options: { reduction: "none" } }).model;
  const { cwd, args } = write("attached", model);
  const streamed = await runCliIn(cwd, ["eval", "model.onnx", ...args, "--stream", "--out", "out"]);
  expect([streamed.code, streamed.err]).toEqual([0, ""]);
  expect(readFileSync(join(cwd, "out", "loss.npy")).length).toBeGreaterThan(0);
});
