/** Shared test helpers: fixtures and tolerances. */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli/program.js";
import { decodeModel, encodeModel } from "../src/onnx/codec.js";
import { createEvaluator } from "../src/runtime/node.js";
import type { TensorData, TensorInput } from "../src/tensor/tensor.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const FIXTURES = join(ROOT, "test", "fixtures");

/** Parity tolerance with PyTorch: |got - want| <= RTOL * max(1, |want|). */
export const RTOL = 1e-5;

/**
 * `npm run test:quick` sets ONNX_LOSSES_QUICK=1: the parity suites then run every fixture at the default
 * opset and build only (the full `npm test` adds the ends of the opset range). Same cases, fewer builds.
 */
export const QUICK = process.env.ONNX_LOSSES_QUICK === "1";

/**
 * The whole message, not a part: `.toThrow(exactly(msg))` fails where the message says more or less
 * than `msg` (jest's `.toThrow(string)` passes on any message that contains it).
 */
export function exactly(message: string): RegExp {
  return new RegExp(`^${message.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}$`);
}

export interface FixtureTensor {
  dtype: "float32" | "float64" | "int64";
  dims: number[];
  data: (number | string)[];
}
export interface FixtureCase {
  id: string;
  loss: string;
  options: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  expected: { dims: number[]; data: (number | string)[] };
  reference: string;
  article_defective_value?: number | string;
  article_value?: (number | string)[];
}

/** A case of test/fixtures/attach/weight_cases.json (scripts/make_attach_fixtures.py): a weight tensor attached to an exported model. */
export interface AttachWeightCase {
  id: string;
  model: string;
  output: string;
  loss: string;
  options: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  loss_value: FixtureTensor;
  grad: FixtureTensor;
}

/** The cases of test/fixtures/attach/weight_cases.json. */
export function loadAttachWeightCases(): AttachWeightCase[] {
  return (JSON.parse(readFileSync(join(FIXTURES, "attach", "weight_cases.json"), "utf8")) as { cases: AttachWeightCase[] }).cases;
}

/** "NaN", "Infinity" strings back to numbers. */
export const num = (v: number | string): number => Number(v);

export function loadFixtures(file: string): FixtureCase[] {
  return (JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as { cases: FixtureCase[] }).cases;
}

/** Every loss fixture file (not samples.json). */
export function fixtureFiles(): string[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json") && f !== "samples.json")
    .sort();
}

export function feedsOf(c: FixtureCase): Record<string, TensorInput> {
  const feeds: Record<string, TensorInput> = {};
  for (const [k, t] of Object.entries(c.inputs)) {
    feeds[k] =
      t.dtype === "int64"
        ? { dims: t.dims, data: BigInt64Array.from(t.data, (v) => BigInt(v)) }
        : { dims: t.dims, data: Float32Array.from(t.data, num) };
  }
  return feeds;
}

/** Index of the first element outside tolerance, or -1. NaN matches NaN, an infinity the same infinity. */
export function firstMismatch(got: ArrayLike<number>, want: readonly number[], rtol = RTOL): number {
  if (got.length !== want.length) return 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if ((Number.isNaN(w) && Number.isNaN(g)) || g === w) continue; // NaN and equal infinities match
    if (!(Math.abs(g - w) <= rtol * Math.max(1, Math.abs(w)))) return i;
  }
  return -1;
}

/** Every output of one run of model on feeds, in a session released afterwards (the stream tests' one pass). */
export async function onePass(model: Uint8Array, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  const ev = await createEvaluator(model);
  try {
    return await ev.run(feeds);
  } finally {
    await ev.release();
  }
}

/** What one CLI run printed and its exit status. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in-process in folder `cwd`, collecting stdout and stderr (each line ends with a newline). */
export async function runCliIn(cwd: string, argv: readonly string[]): Promise<CliRun> {
  let out = "";
  let err = "";
  const code = await runCli([...argv], { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd });
  return { code, out, err };
}

/** Model bytes with metadata entries replaced (a value of null removes the key). */
export function withMetadata(bytes: Uint8Array, changes: Record<string, string | null>): Uint8Array {
  const m = decodeModel(bytes);
  const meta = new Map(m.metadataProps.map((p) => [p.key ?? "", p.value ?? ""]));
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) meta.delete(k);
    else meta.set(k, v);
  }
  return encodeModel({ ...m, metadataProps: [...meta].map(([key, value]) => ({ key, value })) });
}

/** A model whose output `logits` [batch, C] is its input `x` (Identity, opset 17): the smallest model to attach a loss to. */
export function identityLogitsModel(C = 3): Uint8Array {
  const io = (name: string) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: "batch" }, { dimValue: C }] } } },
  });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: { name: "m", node: [{ opType: "Identity", input: ["x"], output: ["logits"] }], input: [io("x")], output: [io("logits")] },
  });
}
