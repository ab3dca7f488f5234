/** The CLI, in process (runCli) and once as the real binary for exit codes. */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, test } from "@jest/globals";
import { runCli } from "../src/cli/program.js";
import { LOSS_NAMES } from "../src/losses/index.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { readModel } from "../src/builder/reader.js";
import { loadFixtures, num, ROOT, type FixtureCase } from "./helpers.js";
import { PRODUCER_VERSION } from "../src/version.js";

let dir: string;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (t) => (out += t.endsWith("\n") ? t : `${t}\n`),
    err: (t) => (err += t.endsWith("\n") ? t : `${t}\n`),
    cwd: dir,
  });
  return { code, out, err };
}

function writeInputs(c: FixtureCase, prefix: string): string[] {
  return Object.entries(c.inputs).map(([name, t]) => {
    const data = t.dtype === "int64" ? BigInt64Array.from(t.data, (v) => BigInt(v)) : Float32Array.from(t.data, num);
    const file = `${prefix}_${name}.npy`;
    writeFileSync(join(dir, file), encodeNpy({ dtype: t.dtype === "int64" ? "int64" : "float32", dims: t.dims, data }));
    return `${name}=${file}`;
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "onnx-losses-cli-"));
});

describe("list", () => {
  test("shows every loss with its options and defaults", async () => {
    const r = await cli("list");
    expect(r.code).toBe(0);
    for (const name of [
      "cross_entropy",
      "nll_loss",
      "binary_cross_entropy",
      "binary_cross_entropy_with_logits",
      "softmax_focal_loss",
      "sigmoid_focal_loss",
    ]) {
      expect(r.out).toContain(`${name}: `);
    }
    expect(r.out).toMatch(/gamma\s+2\s+a number >= 0/);
    const json = JSON.parse((await cli("list", "--json")).out) as { name: string; options: { name: string; default: unknown }[] }[];
    expect(json.find((l) => l.name === "sigmoid_focal_loss")!.options.find((o) => o.name === "alpha")!.default).toBe(0.25);
    const one = await cli("list", "softmax_focal_loss");
    expect(one.out).toContain(
      "    oneHotClamp (default 0): The article's smooth: the one-hot is clamped into [s, 1 - s] before p_t is taken.\n      allowed: a number in [0, 0.5]",
    );
    expect((await cli("list", "focal")).code).toBe(2);
  });
});

describe("export", () => {
  test("writes one loss with options, opset and rank", async () => {
    const r = await cli(
      "export",
      "softmax_focal_loss",
      "--options",
      '{"gamma": 1, "alpha": 0.25}',
      "--opset",
      "18",
      "--rank",
      "4",
      "-o",
      "f.onnx",
    );
    expect(r.code).toBe(0);
    const info = readModel(readFileSync(join(dir, "f.onnx")));
    expect(info.opset).toBe(18);
    expect(info.inputs.map((i) => i.shape)).toEqual([
      ["N", "C", "d1", "d2"],
      ["N", "d1", "d2"],
    ]);
    expect(JSON.parse(info.metadata["onnx_losses.options"])).toMatchObject({ gamma: 1, alpha: 0.25, rank: 4 });
    const lowered = await cli("export", "cross_entropy", "--lowering", "webgpu", "-o", "ce_webgpu.onnx");
    expect(lowered.out).toContain("webgpu lowering");
    const m = readModel(readFileSync(join(dir, "ce_webgpu.onnx")));
    expect(m.inputs[1].dtype).toBe("int32");
    expect(m.nodes.map((n) => n.opType)).not.toContain("LogSoftmax");
  });

  test("--all --gradient writes the catalogue, each loss's gradient graph, and a manifest identical to graphs/", async () => {
    const r = await cli("export", "--all", "--gradient", "-o", "all");
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "all", "manifest.json"), "utf8"));
    expect(manifest.graphs.map((g: { file: string }) => g.file)).toEqual(LOSS_NAMES.flatMap((n) => [`${n}.onnx`, `${n}_grad.onnx`]));
    expect(manifest.graphs[1].outputs.map((o: { name: string }) => o.name)).toEqual(["loss", "input_grad"]);
    expect(manifest.graphs[0]).toMatchObject({ name: "cross_entropy", file: "cross_entropy.onnx", opset: 17, irVersion: 8 });
    expect(manifest.graphs[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(dir, "all", "manifest.json"), "utf8")).toBe(readFileSync(join(ROOT, "graphs", "manifest.json"), "utf8"));
    for (const g of manifest.graphs) {
      expect(readFileSync(join(dir, "all", g.file)).equals(readFileSync(join(ROOT, "graphs", g.file)))).toBe(true);
    }
  });
});

describe("eval", () => {
  const samples = loadFixtures("samples.json");

  test.each(samples.map((s) => [s.loss, s] as const))("%s on .npy inputs matches PyTorch (--json)", async (loss, c) => {
    const r = await cli("eval", loss, ...writeInputs(c, loss).flatMap((i) => ["--input", i]), "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(Object.keys(json)).toEqual(["outputs"]);
    expect(Object.keys(json.outputs.loss)).toEqual(["dims", "data"]);
    expect(json.outputs.loss.dims).toEqual([]);
    expect(Math.abs(json.outputs.loss.data[0] - num(c.expected.data[0]))).toBeLessThanOrEqual(1e-5);
  });

  test("a .onnx file, --options for reduction none, --out writes NAME.npy, text output", async () => {
    const c = samples.find((s) => s.loss === "cross_entropy")!;
    const inputs = writeInputs(c, "ce").flatMap((i) => ["--input", i]);
    const byFile = await cli("eval", join(ROOT, "graphs", "cross_entropy.onnx"), ...inputs);
    expect(byFile.code).toBe(0);
    expect(byFile.out).toMatch(/^loss float32 \[\]: 3\.43920/);
    const none = await cli("eval", "cross_entropy", ...inputs, "--options", '{"reduction": "none"}', "--out", "outdir");
    expect(none.code).toBe(0);
    expect(none.out).toMatch(/^loss float32 \[8\]: \[/);
    const written = decodeNpy(readFileSync(join(dir, "outdir", "loss.npy")));
    expect(written.dims).toEqual([8]);
    const mean = Array.from(written.data as Float32Array).reduce((a, b) => a + b, 0) / 8;
    expect(Math.abs(mean - num(c.expected.data[0]))).toBeLessThan(1e-5);
  });

  test("builds for the rank of the inputs", async () => {
    const c = loadFixtures("cross_entropy.json").find((x) => x.inputs.input.dims.length === 4 && x.options.reduction === "mean")!;
    const opts = { ...c.options };
    delete opts.rank;
    const r = await cli(
      "eval",
      "cross_entropy",
      ...writeInputs(c, "k4").flatMap((i) => ["--input", i]),
      "--options",
      JSON.stringify(opts),
      "--json",
    );
    expect(r.code).toBe(0);
    expect(Math.abs(JSON.parse(r.out).outputs.loss.data[0] - num(c.expected.data[0]))).toBeLessThan(
      1e-5 * Math.max(1, Math.abs(num(c.expected.data[0]))),
    );
  });

  test("--stream / --chunk-mb evaluate in chunks with the same value; none needs --out", async () => {
    const c = samples.find((s) => s.loss === "softmax_focal_loss")!;
    const inputs = writeInputs(c, "st").flatMap((i) => ["--input", i]);
    const whole = JSON.parse((await cli("eval", "softmax_focal_loss", ...inputs, "--json")).out).outputs.loss.data[0];
    const streamed = await cli("eval", "softmax_focal_loss", ...inputs, "--stream", "--json");
    expect(streamed.code).toBe(0);
    expect(Math.abs(JSON.parse(streamed.out).outputs.loss.data[0] - whole)).toBeLessThan(1e-6);
    const text = await cli("eval", "softmax_focal_loss", ...inputs, "--chunk-mb", "1");
    expect(text.err).toMatch(/^streamed 8 rows in 1 chunks; float64 combination /);
    const none = await cli("eval", "cross_entropy", ...inputs, "--stream", "--options", '{"reduction": "none"}');
    expect(none.code).toBe(2);
    expect(none.err).toBe("onnx-losses: cross_entropy: per-item output loss over a streamed input: expected a folder for it (--out DIR)\n");
    const out = await cli("eval", "cross_entropy", ...inputs, "--stream", "--options", '{"reduction": "none"}', "--out", "streamed");
    expect(out.code).toBe(0);
    expect(out.out).toBe(`loss float32 [8]: streamed to ${join("streamed", "loss.npy")} (1 chunks)\n`);
    expect(decodeNpy(readFileSync(join(dir, "streamed", "loss.npy"))).dims).toEqual([8]);
  });

  test("NaN (every target ignored) prints as null in --json", async () => {
    const c = loadFixtures("cross_entropy.json").find((x) => x.id === "all ignored mean")!;
    const r = await cli("eval", "cross_entropy", ...writeInputs(c, "nan").flatMap((i) => ["--input", i]), "--json");
    expect(JSON.parse(r.out).outputs.loss.data).toEqual([null]);
  });
});

describe("eval's first argument", () => {
  test("a data file given where the loss or model goes is named for what it is, not as an unknown loss", async () => {
    writeFileSync(join(dir, "given.npy"), encodeNpy({ dtype: "float32", dims: [2, 3], data: new Float32Array(6) }));
    const r = await cli("eval", "given.npy", "--input", "input=given.npy");
    expect([r.code, r.out]).toEqual([2, ""]);
    expect(r.err).toBe("onnx-losses: given.npy: expected an ONNX model (ModelProto bytes), received a .npy file\n");
    writeFileSync(join(dir, "notes.txt"), "# my notes\nlogits: [N, C]\n");
    const text = await cli("inspect", "notes.txt");
    expect([text.code, text.err]).toEqual([
      2,
      'onnx-losses: notes.txt: expected an ONNX model (ModelProto bytes), received text ("# my notes\\nlogit"...)\n',
    ]);
    // class indices saved as floats, for a loss without probability targets: the file is named too
    writeFileSync(join(dir, "labels_f.npy"), encodeNpy({ dtype: "float32", dims: [2], data: new Float32Array([0, 2]) }));
    const floats = await cli("eval", "nll_loss", "--input", "input=given.npy", "--input", "target=labels_f.npy");
    expect([floats.code, floats.err]).toEqual([
      2,
      "onnx-losses: target: expected dtype int64 (int32 accepted), received float32 from labels_f.npy; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch)\n",
    ]);
    // a name without a dot or separator is still a loss name
    const loss = await cli("eval", "focal", "--input", "input=given.npy");
    expect([loss.code, loss.err.startsWith('onnx-losses: loss: unknown loss "focal"')]).toEqual([2, true]);
  });
});

describe("inspect", () => {
  test("prints opset, inputs and outputs with shapes, nodes; --dot prints Graphviz", async () => {
    const file = join(ROOT, "graphs", "softmax_focal_loss.onnx");
    const r = await cli("inspect", file);
    expect(r.code).toBe(0);
    expect(r.out).toContain("ir_version 8, opset ai.onnx 17");
    expect(r.out).toContain("input: float32 [N, C]");
    expect(r.out).toContain("target: int64 [N]");
    expect(r.out).toContain("loss: float32 []");
    expect(r.out).toMatch(/= LogSoftmax\(input\) axis=1/);
    const dot = await cli("inspect", file, "--dot");
    expect(dot.out).toMatch(/^digraph "softmax_focal_loss" \{/);
    expect(dot.out).toContain('"in:input" [shape=ellipse');
    expect(dot.out.trim().endsWith("}")).toBe(true);
  });
});

describe("errors: exit 2 with one line on stderr", () => {
  /** The message JSON.parse gives for `text` in this Node (V8 words it differently across versions). */
  const jsonError = (text: string): string => {
    try {
      JSON.parse(text);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error(`${text} parsed`);
  };

  // each case: the whole stderr line, exactly (missing files are named by the path the CLI resolved)
  test.each([
    [
      ["export", "focal", "-o", "x.onnx"],
      `onnx-losses: loss: unknown loss "focal" (did you mean softmax_focal_loss or sigmoid_focal_loss?); losses are ${LOSS_NAMES.join(", ")}`,
    ],
    [
      ["export", "softmax_focal_loss", "--options", '{"gamma": -1}', "-o", "x.onnx"],
      "onnx-losses: softmax_focal_loss: option gamma: expected a number >= 0, received -1",
    ],
    [
      ["export", "cross_entropy", "--options", "{gamma", "-o", "x.onnx"],
      `onnx-losses: --options: expected a JSON object, could not parse "{gamma": ${jsonError("{gamma")}`,
    ],
    [["export", "cross_entropy", "--opset", "12", "-o", "x.onnx"], "onnx-losses: opset: expected an integer from 13 to 23, received 12"],
    [["export", "cross_entropy", "--rank", "two", "-o", "x.onnx"], 'onnx-losses: --rank: expected an integer, received "two"'],
    [["export", "cross_entropy"], "onnx-losses: export: expected -o FILE.onnx (or -o DIR with --all)"],
    [["eval", "cross_entropy"], "onnx-losses: eval: expected at least one --input NAME=FILE.npy, or --inputs FILE.npz"],
    [["eval", "cross_entropy", "--input", "input"], 'onnx-losses: --input: expected NAME=FILE.npy, received "input"'],
    [
      ["eval", "cross_entropy", "--input", "input=missing.npy"],
      () => `onnx-losses: ${resolve(dir, "missing.npy")}: no such file or directory`,
    ],
    [
      ["eval", "cross_entropy", "--input", "x=a.npy", "--ep", "tpu"],
      "onnx-losses: option '--ep <provider>' argument 'tpu' is invalid. Allowed choices are cpu, cuda, dml, webgpu.",
    ],
    [["inspect", "nothere.onnx"], () => `onnx-losses: ${resolve(dir, "nothere.onnx")}: no such file or directory`],
    [
      ["eval", "m.onnx", "--input", "input=a.npy", "--dtype", "float64", "--stream"],
      "onnx-losses: eval: --dtype applies to a loss name; a .onnx file carries its own",
    ],
    [["frobnicate"], "onnx-losses: unknown command 'frobnicate'"],
    [["list", "--bogus"], "onnx-losses: unknown option '--bogus'"],
    [[], "onnx-losses: expected a command (list, export, attach, eval, inspect, demo)"],
  ])("%j", async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${typeof message === "function" ? message() : message}\n`);
  });

  test("a file that is not a model, or not an .npy, is named", async () => {
    writeFileSync(join(dir, "bad.onnx"), "hello");
    for (const argv of [
      ["inspect", "bad.onnx"],
      ["eval", "bad.onnx", "--input", "input=bad.onnx"],
    ]) {
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /^onnx-losses: bad\.onnx: expected (ONNX ModelProto bytes|an ONNX model \(ModelProto bytes\), received text|a \.npy, \.npz or \.safetensors file)/,
      );
    }
    const m = await cli("eval", join(ROOT, "graphs", "cross_entropy.onnx"), "--input", "input=bad.onnx");
    expect(m.err).toBe(
      'onnx-losses: bad.onnx: expected a .npy, .npz or .safetensors file, received text ("hello"...), not a binary tensor file\n',
    );
  });

  test("bad input values name the tensor", async () => {
    const c = loadFixtures("samples.json").find((s) => s.loss === "cross_entropy")!;
    const bad = { ...c, inputs: { ...c.inputs, target: { ...c.inputs.target, data: [...c.inputs.target.data.slice(0, 7), -3] } } };
    const r = await cli("eval", "cross_entropy", ...writeInputs(bad, "bad").flatMap((i) => ["--input", i]));
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "onnx-losses: target: expected class indices in [0, 5) or ignoreIndex -100 (C = input dim 1), received -3 at flat index 7\n",
    );
  });

  test("a provider that is not available here", async () => {
    const c = loadFixtures("samples.json").find((s) => s.loss === "cross_entropy")!;
    const r = await cli("eval", "cross_entropy", ...writeInputs(c, "ep").flatMap((i) => ["--input", i]), "--ep", "dml");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^onnx-losses: execution provider dml: not available \(dml: /);
    const fb = await cli(
      "eval",
      "cross_entropy",
      ...writeInputs(c, "ep").flatMap((i) => ["--input", i]),
      "--ep",
      "dml",
      "--fallback",
      "cpu",
    );
    expect(fb.code).toBe(0);
    expect(fb.err).toBe("note: ran on cpu (dml was not available)\n");
  });
});

describe("the installed binary", () => {
  const bin = join(ROOT, "dist", "cli", "main.js");
  test("exits 0 on success and 2 with one stderr line and no stack trace on bad input", () => {
    expect(existsSync(bin)).toBe(true); // npm test builds first (pretest)
    // the version printed and written into every model's producer_version is package.json's
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(execFileSync(process.execPath, [bin, "--version"], { encoding: "utf8" }).trim()).toBe(pkg.version);
    expect(PRODUCER_VERSION).toBe(pkg.version);
    const r = spawnSync(process.execPath, [bin, "export", "nope", "-o", join(dir, "n.onnx")], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  test("demo evaluates every graph against PyTorch", () => {
    const r = spawnSync(process.execPath, [bin, "demo"], { encoding: "utf8", cwd: ROOT });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("every graph equals PyTorch within 1e-5 relative");
    expect(r.stdout.match(/ yes$/gm)).toHaveLength(2 * LOSS_NAMES.length); // each loss and its _grad graph
  });
});
