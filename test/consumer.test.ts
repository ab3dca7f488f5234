/**
 * onnx-losses as other projects get it: `npm pack`, then fresh projects that install the tarball (never
 * the repo's sources). onnxruntime-node and onnxruntime-web are optional peer dependencies:
 * - graphs only: `npm install onnx-losses` alone builds, exports, lists and inspects (API and npx CLI);
 *   evaluating names the package to install, exit 2;
 * - Node: with onnxruntime-node (its CUDA download skipped through the environment), the API and the
 *   npx CLI evaluate a PyTorch sample to 1e-5.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { encodeNpy } from "../src/io/npy.js";
import { loadFixtures, num } from "./helpers.js";
import { packInto, USER_ENV } from "./pack.js";

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-consumer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let tarball = "";
const env = USER_ENV;

beforeAll(() => {
  tarball = packInto(dir);
}, 120000);

/** A fresh project with these packages installed. */
function project(name: string, packages: string[]): string {
  const p = join(dir, name);
  mkdirSync(p);
  writeFileSync(join(p, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball, ...packages], {
    cwd: p,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return p;
}

const npx = (cwd: string, ...args: string[]) => spawnSync("npx", ["--no-install", "onnx-losses", ...args], { cwd, env, encoding: "utf8" });
const node = (cwd: string, code: string) =>
  spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd, env, encoding: "utf8" });

const sample = loadFixtures("samples.json").find((c) => c.loss === "cross_entropy")!;
function writeSample(p: string): void {
  writeFileSync(
    join(p, "x.npy"),
    encodeNpy({ dtype: "float32", dims: sample.inputs.input.dims, data: Float32Array.from(sample.inputs.input.data, num) }),
  );
  writeFileSync(
    join(p, "t.npy"),
    encodeNpy({ dtype: "int64", dims: sample.inputs.target.dims, data: BigInt64Array.from(sample.inputs.target.data, (v) => BigInt(v)) }),
  );
}

describe("from the packed tarball", () => {
  test("graphs only: no runtime installed; export, list, inspect and the API work; eval names what to install", () => {
    const p = project("graphs-only", []);
    expect(existsSync(join(p, "node_modules", "onnxruntime-node"))).toBe(false);
    expect(existsSync(join(p, "node_modules", "onnxruntime-web"))).toBe(false);
    const exported = npx(p, "export", "softmax_focal_loss", "--options", '{"gamma": 1}', "-o", "focal.onnx");
    expect([exported.status, exported.stderr]).toEqual([0, ""]);
    expect(npx(p, "inspect", "focal.onnx").stdout).toContain("loss softmax_focal_loss");
    expect(npx(p, "list").stdout).toContain("cross_entropy: ");
    const api = node(
      p,
      'import { buildLoss, readModel } from "onnx-losses"; const g = buildLoss("cross_entropy"); console.log(readModel(g.model).outputs[0].name);',
    );
    expect([api.status, api.stdout.trim()]).toEqual([0, "loss"]);
    writeSample(p);
    const ev = npx(p, "eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy");
    expect(ev.status).toBe(2);
    expect(ev.stderr).toBe(
      "onnx-losses: evaluating in Node needs onnxruntime-node, which is not installed: npm install onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip before it skips its CUDA download)\n",
    );
    const missing = node(
      p,
      'import { buildLoss, createEvaluator } from "onnx-losses"; try { await createEvaluator(buildLoss("cross_entropy")); } catch (e) { console.log(e.name); }',
    );
    expect(missing.stdout.trim()).toBe("MissingRuntimeError");
  }, 300000);

  test("Node: with onnxruntime-node, the API and the npx CLI give PyTorch's value", () => {
    const p = project("node", ["onnxruntime-node@1.30.0"]);
    writeSample(p);
    const want = num(sample.expected.data[0]);
    const cli = npx(p, "eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy", "--json");
    expect(cli.stderr).toBe("");
    const got = JSON.parse(cli.stdout).outputs.loss.data[0] as number;
    expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
    const api = node(
      p,
      `import { readFileSync } from "node:fs";
       import { buildLoss, createEvaluator, decodeNpy } from "onnx-losses";
       const ev = await createEvaluator(buildLoss("cross_entropy"));
       const { loss } = await ev.run({ input: decodeNpy(readFileSync("x.npy")), target: decodeNpy(readFileSync("t.npy")) });
       await ev.release();
       console.log(loss.data[0]);`,
    );
    expect(api.stderr).toBe("");
    expect(Math.abs(Number(api.stdout) - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
    expect(readFileSync(join(p, "node_modules", "onnx-losses", "package.json"), "utf8")).toContain('"peerDependenciesMeta"');
  }, 300000);
});
