/**
 * Issue 16, the file-system rows: where `eval --out` writes a model's outputs (names the model chose),
 * folders that cannot be made, full disks and open-file limits, output types outside the .npy table,
 * a reader that closes stdout early, `--options @FILE`, and the messages of NaN options and of demo's
 * files. The built CLI (dist/) is spawned where the process itself is what is tested.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { buildLoss } from "../src/losses/index.js";
import { encodeModel } from "../src/onnx/codec.js";
import { ROOT, runCliIn, type CliRun, exactly } from "./helpers.js";

const MAIN = join(ROOT, "dist", "cli", "main.js");
const dir = mkdtempSync(join(tmpdir(), "onnx-losses-outputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (cwd: string, ...argv: string[]): Promise<CliRun> => runCliIn(cwd, argv);

// ONNX TensorProto.DataType numbers
const FLOAT = 1;
const UINT8 = 2;
const STRING = 8;
const UINT64 = 13;

const valueInfo = (name: string, elemType: number, dims: (number | string)[]) => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
});

/** A model whose outputs, named `names` (repeats allowed), are each Identity(in): one [N] float input "in". */
function identityModel(names: readonly string[]): Uint8Array {
  const unique = [...new Set(names)];
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "g",
      node: unique.map((n, i) => ({ opType: "Identity", name: `id_${i}`, input: ["in"], output: [n] })),
      input: [valueInfo("in", FLOAT, ["N"])],
      output: names.map((n) => valueInfo(n, FLOAT, ["N"])),
    },
  });
}

/** uint8 and string casts of the input, and a uint64 constant past 2^53 (exactness). */
function typesModel(outputs: readonly ("u8" | "s" | "big")[]): Uint8Array {
  const big = new Uint8Array(BigUint64Array.of(2n ** 64n - 1n, 2n ** 53n + 1n).buffer);
  const nodes = {
    u8: { opType: "Cast", name: "cast_u8", input: ["in"], output: ["u8"], attribute: [{ name: "to", type: 2, i: UINT8 }] },
    s: { opType: "Cast", name: "cast_s", input: ["in"], output: ["s"], attribute: [{ name: "to", type: 2, i: STRING }] },
    big: { opType: "Identity", name: "id_big", input: ["big_init"], output: ["big"] },
  };
  const infos = { u8: valueInfo("u8", UINT8, ["N"]), s: valueInfo("s", STRING, ["N"]), big: valueInfo("big", UINT64, [2]) };
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "types",
      node: outputs.map((o) => nodes[o]),
      initializer: outputs.includes("big") ? [{ name: "big_init", dataType: UINT64, dims: [2], rawData: big }] : [],
      input: [valueInfo("in", FLOAT, ["N"])],
      output: outputs.map((o) => infos[o]),
    },
  });
}

beforeAll(() => {
  writeFileSync(join(dir, "in.npy"), encodeNpy({ dtype: "float32", dims: [3], data: Float32Array.of(1.5, 200, 3) }));
  writeFileSync(join(dir, "escape.onnx"), identityModel(["../../escaped"]));
  writeFileSync(join(dir, "dup.onnx"), identityModel(["y", "y"]));
  writeFileSync(join(dir, "case.onnx"), identityModel(["Loss", "loss"]));
  writeFileSync(join(dir, "plain.onnx"), identityModel(["y"]));
  writeFileSync(join(dir, "ints.onnx"), typesModel(["u8", "big"]));
  writeFileSync(join(dir, "strings.onnx"), typesModel(["u8", "s"]));
});

/** Every path under `root`, relative, sorted. */
function tree(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" }).sort();
}

describe("eval --out: a model's output names never choose where files go", () => {
  test.each([["one pass"], ["--stream"]])("an output named ../../escaped is refused, nothing written (%s)", async (mode) => {
    const work = mkdtempSync(join(dir, "escape-"));
    mkdirSync(join(work, "a", "b"), { recursive: true });
    const r = await cli(
      join(work, "a", "b"),
      "eval",
      join(dir, "escape.onnx"),
      "--input",
      `in=${join(dir, "in.npy")}`,
      "--out",
      "c",
      ...(mode === "--stream" ? ["--stream"] : []),
    );
    expect([r.code, r.err]).toEqual([
      2,
      `onnx-losses: ${join(dir, "escape.onnx")}: output "../../escaped" cannot be written as a file in the --out folder: the name holds a path separator (/)\n`,
    ]);
    expect(tree(work)).toEqual(["a", join("a", "b")]);
  });

  test.each([["one pass"], ["--stream"]])("two outputs of one name are refused, not an internal error (%s)", async (mode) => {
    const r = await cli(dir, "eval", "dup.onnx", "--input", "in=in.npy", "--out", "dup-out", ...(mode === "--stream" ? ["--stream"] : []));
    expect([r.code, r.err]).toEqual([
      2,
      'onnx-losses: dup.onnx: output "y" cannot be written as a file in the --out folder: the model has two outputs of that name\n',
    ]);
    expect(existsSync(join(dir, "dup-out"))).toBe(false);
  });

  test("names one case-insensitive file system takes as one file are refused", async () => {
    const r = await cli(dir, "eval", "case.onnx", "--input", "in=in.npy", "--out", "case-out");
    expect([r.code, r.err]).toEqual([
      2,
      'onnx-losses: case.onnx: outputs "Loss" and "loss" cannot be written as files in the --out folder: a case-insensitive file system takes them as one file\n',
    ]);
  });

  test("the rules, name by name", async () => {
    const { outputFiles, outputNameProblem } = await import("../src/io/files.js");
    expect(outputNameProblem("loss")).toBeUndefined();
    expect(outputNameProblem("..")).toBe("the name is a folder's");
    expect(outputNameProblem(".")).toBe("the name is a folder's");
    expect(outputNameProblem("")).toBe("the name is empty");
    expect(outputNameProblem("a\\b")).toBe("the name holds a path separator (\\)");
    expect(outputNameProblem("a\u0000b")).toBe("the name holds a control character (U+0000)");
    expect(outputNameProblem("a\nb")).toBe("the name holds a control character (U+000A)");
    expect(outputNameProblem("a:b")).toBe("the name holds :, which Windows does not allow in a file name");
    expect(outputNameProblem("nul")).toBe("the name is a device's on Windows");
    expect(outputNameProblem("x".repeat(201))).toBe("the name is 201 bytes of UTF-8, more than the 200 a file name may take here");
    expect(outputNameProblem("\ud800")).toBe("the name is not well-formed Unicode");
    expect(outputNameProblem("..a")).toBeUndefined(); // a file name, inside the folder
    expect(outputNameProblem("損失")).toBeUndefined();
    // NFC and NFD spellings of one name are one file on macOS
    expect(() => outputFiles("d", ["\u00e9", "e\u0301"])).toThrow(
      exactly(
        'model: outputs "\u00e9" and "e\u0301" cannot be written as files in the --out folder: a case-insensitive file system takes them as one file',
      ),
    );
  });

  test("a link placed where an output goes is replaced, not written through", async () => {
    const work = mkdtempSync(join(dir, "link-"));
    mkdirSync(join(work, "out"));
    writeFileSync(join(work, "victim.npy"), "keep");
    symlinkSync(join(work, "victim.npy"), join(work, "out", "y.npy"));
    symlinkSync(join(work, "victim.npy"), join(work, "out", "y.npy.partial"));
    const r = await cli(dir, "eval", "plain.onnx", "--input", "in=in.npy", "--out", join(work, "out"));
    // O_NOFOLLOW refuses the link at y.npy.partial: exit 2 naming it, the file it points to intact
    expect([r.code, r.err]).toEqual([
      2,
      `onnx-losses: ${join(work, "out", "y.npy.partial")}: too many levels of symbolic links, or a symbolic link where a file is written\n`,
    ]);
    expect(readFileSync(join(work, "victim.npy"), "utf8")).toBe("keep");
    rmSync(join(work, "out", "y.npy.partial"));
    const again = await cli(dir, "eval", "plain.onnx", "--input", "in=in.npy", "--out", join(work, "out"));
    expect(again.code).toBe(0);
    expect(readFileSync(join(work, "victim.npy"), "utf8")).toBe("keep");
    expect(Array.from(decodeNpy(readFileSync(join(work, "out", "y.npy"))).data as Float32Array)).toEqual([1.5, 200, 3]);
  });

  // property: exit 0 with every file inside the --out folder (its parent holds nothing else), or exit 2 with one line
  test("generated output names: written inside the folder, or refused on one line", async () => {
    const nasty = fc.constantFrom(
      "..",
      ".",
      "",
      "/",
      "\\",
      "a/b",
      "../x",
      "..\\x",
      "/tmp/abs",
      "a\u0000b",
      "\u0000",
      "\n",
      "CON",
      "nul.txt",
      "Loss",
      "loss",
      "\u00df",
      "SS",
      "ss",
      "\u00e9",
      "e\u0301",
      "x".repeat(201),
      "\u00e9".repeat(101),
      "\u202eevil",
      "a:b",
      "a*b",
      "..a",
      "a..",
      " ",
      "-",
      "--out",
      "loss.npy",
      "y.partial",
      "../../escaped",
      "../../../m",
    );
    const name = fc.oneof(
      nasty,
      fc.string({ unit: "grapheme", minLength: 0, maxLength: 12 }),
      fc.string({ unit: "binary", minLength: 0, maxLength: 6 }),
      fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.]{0,10}$/),
    );
    const names = fc.array(
      name.filter((n) => n !== "in"),
      { minLength: 1, maxLength: 4 },
    );
    let i = 0;
    const codes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(names, fc.boolean(), async (outs, stream) => {
        // the --out folder two levels below a root of its own: a name that climbs out lands in the root
        const root = join(dir, `prop-${i++}`);
        const work = join(root, "a", "b");
        mkdirSync(work, { recursive: true });
        writeFileSync(join(work, "m.onnx"), identityModel(outs));
        const r = await cli(
          work,
          "eval",
          "m.onnx",
          "--input",
          `in=${join(dir, "in.npy")}`,
          "--out",
          "out",
          ...(stream ? ["--stream"] : []),
        );
        const before = ["a", join("a", "b"), join("a", "b", "m.onnx")];
        codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
        if (r.code === 0) {
          // every file is out/NAME.npy of an output name, nothing beside out/ nor above it
          const files = [...new Set(outs)].map((n) => join("a", "b", "out", `${n}.npy`));
          expect(tree(root)).toEqual([...before, join("a", "b", "out"), ...files].sort());
        } else {
          expect(r.code).toBe(2);
          expect(r.err).toMatch(/^onnx-losses: [^\n]+\n$/);
          expect(tree(root)).toEqual(before);
        }
        rmSync(root, { recursive: true, force: true });
      }),
      { numRuns: 60, seed: 16 },
    );
    // both outcomes drawn, so neither branch above is vacuous
    expect([...codes.keys()].sort()).toEqual([0, 2]);
  }, 120000);
});

describe("folders that cannot be made, full disks and open-file limits: exit 2 naming the path", () => {
  test("--out under /proc/self/x, where Node's recursive mkdir loops forever", () => {
    for (const stream of [[], ["--stream"]]) {
      const r = spawnSync(process.execPath, [MAIN, "eval", "plain.onnx", "--input", "in=in.npy", "--out", "/proc/self/x/y", ...stream], {
        cwd: dir,
        encoding: "utf8",
        timeout: 30000,
      });
      expect([r.status, r.stderr]).toEqual([
        2,
        "onnx-losses: /proc/self/x: cannot create this folder (mkdir says its parent does not exist, though /proc/self does)\n",
      ]);
    }
  });

  test("--out on a file that is not a folder", async () => {
    const r = await cli(dir, "eval", "plain.onnx", "--input", "in=in.npy", "--out", "in.npy");
    expect([r.code, r.err]).toEqual([2, `onnx-losses: ${join(dir, "in.npy")}: not a directory\n`]);
  });

  test.each([
    ["export", ["export", "cross_entropy", "-o", "/dev/full"]],
    ["attach", ["attach", "plain.onnx", "--model-output", "y", "--loss", "binary_cross_entropy_with_logits", "-o", "/dev/full"]],
  ])("a full disk (%s -o /dev/full)", async (_what, argv) => {
    const r = await cli(dir, ...argv);
    expect([r.code, r.err]).toEqual([2, "onnx-losses: /dev/full: no space left on the device\n"]);
  });

  test("--stream of more inputs than ulimit -n allows open", () => {
    const K = 100;
    const work = mkdtempSync(join(dir, "emfile-"));
    const inputs = Array.from({ length: K }, (_, i) => `x${i}`);
    writeFileSync(
      join(work, "sum.onnx"),
      encodeModel({
        irVersion: 8,
        opsetImport: [{ domain: "", version: 17 }],
        graph: {
          name: "sum",
          node: [{ opType: "Sum", name: "sum", input: inputs, output: ["y"] }],
          input: inputs.map((n) => valueInfo(n, FLOAT, ["N"])),
          output: [valueInfo("y", FLOAT, ["N"])],
        },
      }),
    );
    for (const n of inputs) writeFileSync(join(work, `${n}.npy`), encodeNpy({ dtype: "float32", dims: [2], data: Float32Array.of(1, 2) }));
    const args = inputs.map((n) => `--input ${n}=${n}.npy`).join(" ");
    const r = spawnSync("bash", ["-c", `ulimit -n 64; exec "${process.execPath}" "${MAIN}" eval sum.onnx --stream --out o ${args}`], {
      cwd: work,
      encoding: "utf8",
      timeout: 60000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^onnx-losses: ${work.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/x\\d+\\.npy: too many open files in this process \\(raise ulimit -n\\)\\n$`,
      ),
    );
  });
});

describe("outputs of types outside the six .npy dtypes", () => {
  test("printed: uint8 and uint64 as exact integers, strings quoted", async () => {
    const ints = await cli(dir, "eval", "ints.onnx", "--input", "in=in.npy");
    expect([ints.code, ints.out, ints.err]).toEqual([
      0,
      "u8 uint8 [3]: [1, 200, 3]\nbig uint64 [2]: [18446744073709551615, 9007199254740993]\n",
      "",
    ]);
    const strings = await cli(dir, "eval", "strings.onnx", "--input", "in=in.npy");
    expect([strings.code, strings.out, strings.err]).toEqual([0, 'u8 uint8 [3]: [1, 200, 3]\ns string [3]: ["1.5", "200", "3"]\n', ""]);
  });

  test("--json: strings as JSON strings, uint64 exact", async () => {
    const r = await cli(dir, "eval", "strings.onnx", "--input", "in=in.npy", "--json");
    expect([r.code, r.out]).toEqual([0, '{"outputs":{"u8":{"dims":[3],"data":[1,200,3]},"s":{"dims":[3],"data":["1.5","200","3"]}}}\n']);
    const big = await cli(dir, "eval", "ints.onnx", "--input", "in=in.npy", "--json");
    expect(big.out).toBe(
      '{"outputs":{"u8":{"dims":[3],"data":[1,200,3]},"big":{"dims":[2],"data":[18446744073709551615,9007199254740993]}}}\n',
    );
  });

  test.each([["one pass"], ["--stream"]])("--out writes uint8 as |u1 and uint64 as <u8 (%s)", async (mode) => {
    const out = `ints-${mode === "--stream" ? "stream" : "one"}-out`;
    const model = mode === "--stream" ? identityU8() : "ints.onnx";
    const r = await cli(dir, "eval", model, "--input", "in=in.npy", "--out", out, ...(mode === "--stream" ? ["--stream"] : []));
    expect(r.code).toBe(0);
    const u8 = readFileSync(join(dir, out, "u8.npy"));
    expect(new TextDecoder().decode(u8.subarray(10, 60))).toContain("'descr': '|u1'");
    expect(Array.from(u8.subarray(u8.length - 3))).toEqual([1, 200, 3]);
    if (mode !== "--stream") {
      const big = readFileSync(join(dir, out, "big.npy"));
      expect(new TextDecoder().decode(big.subarray(10, 60))).toContain("'descr': '<u8'");
      expect(Array.from(new BigUint64Array(big.buffer.slice(big.byteOffset + big.length - 16, big.byteOffset + big.length)))).toEqual([
        2n ** 64n - 1n,
        2n ** 53n + 1n,
      ]);
    }
  });

  test.each([["one pass"], ["--stream"]])("--out refuses a string output by name and type, before any file (%s)", async (mode) => {
    const r = await cli(
      dir,
      "eval",
      "strings.onnx",
      "--input",
      "in=in.npy",
      "--out",
      "strings-out",
      ...(mode === "--stream" ? ["--stream"] : []),
    );
    expect([r.code, r.err]).toEqual([
      2,
      'onnx-losses: strings.onnx: output "s" is string, which --out cannot write as .npy (it writes numbers and bool); print it with --json instead\n',
    ]);
    expect(existsSync(join(dir, "strings-out", "u8.npy"))).toBe(false);
  });
});

/** A per-item uint8 model to stream (the uint64 constant is not per item). */
function identityU8(): string {
  writeFileSync(join(dir, "u8.onnx"), typesModel(["u8"]));
  return "u8.onnx";
}

describe("a reader that closes stdout early", () => {
  test.each([
    ["list", ["list"]],
    ["list --markdown", ["list", "--markdown"]],
    ["eval", ["eval", "plain.onnx", "--input", "in=in.npy"]],
  ])("%s: status 0, nothing on stderr", async (_what, argv) => {
    const child = spawn(process.execPath, [MAIN, ...argv], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader is gone before the first write
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    expect([code, err]).toEqual([0, ""]);
  });
});

(existsSync("/dev/full") ? describe : describe.skip)("a stdout that cannot be written (second attack on issue 16)", () => {
  test.each([["list"], ["list", "--json"], ["--help"], ["--version"], ["demo"], ["eval", "plain.onnx", "--input", "in=in.npy"]])(
    "%s > /dev/full: one line, exit 2, no stack trace",
    (...argv) => {
      const r = spawnSync("bash", ["-c", `exec "${process.execPath}" "${MAIN}" ${argv.join(" ")} > /dev/full`], {
        cwd: dir,
        encoding: "utf8",
        timeout: 60000,
      });
      expect([r.status, r.stderr]).toEqual([2, "onnx-losses: stdout: no space left on the device\n"]);
    },
  );

  test.each([["list"], ["eval", "no_such_loss"], ["eval", "plain.onnx", "--input", "in=in.npy"]])(
    "%s > /dev/full 2> /dev/full: exit 2 (was 1: the failed stderr write threw)",
    (...argv) => {
      const r = spawnSync("bash", ["-c", `exec "${process.execPath}" "${MAIN}" ${argv.join(" ")} > /dev/full 2> /dev/full`], {
        cwd: dir,
        encoding: "utf8",
        timeout: 60000,
      });
      expect(r.status).toBe(2);
    },
  );
});

describe("--options @FILE", () => {
  test("past one argument's 128 KiB: 30000 class weights from a file", async () => {
    const weight = Array.from({ length: 30000 }, (_, i) => 1 + (i % 7) / 8);
    writeFileSync(join(dir, "weights.json"), JSON.stringify({ weight }));
    expect(readFileSync(join(dir, "weights.json")).length).toBeGreaterThan(2 ** 17);
    const r = await cli(dir, "export", "cross_entropy", "--options", "@weights.json", "-o", "weighted.onnx");
    expect([r.code, r.err]).toEqual([0, ""]);
    expect(readFileSync(join(dir, "weighted.onnx"))).toEqual(Buffer.from(buildLoss("cross_entropy", { weight }).model));
  });

  test("the same helper for eval and attach", async () => {
    writeFileSync(join(dir, "mean.json"), '{"reduction": "sum"}');
    writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [2, 3], data: new Float32Array(6) }));
    writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [2], data: new BigInt64Array(2) }));
    const e = await cli(dir, "eval", "cross_entropy", "--input", "input=x.npy", "--input", "target=t.npy", "--options", "@mean.json");
    expect([e.code, e.out]).toEqual([0, "loss float32 []: 2.19722462\n"]);
    const a = await cli(
      dir,
      "attach",
      "plain.onnx",
      "--model-output",
      "y",
      "--loss",
      "binary_cross_entropy_with_logits",
      "--options",
      "@nope.json",
      "-o",
      "att.onnx",
    );
    expect([a.code, a.err]).toEqual([2, "onnx-losses: nope.json: no such file or directory\n"]);
  });

  test("bounded: a device is read to the limit, not whole; a folder and bad JSON are named", async () => {
    const zero = await cli(dir, "export", "cross_entropy", "--options", "@/dev/zero", "-o", "z.onnx");
    expect([zero.code, zero.err]).toEqual([2, "onnx-losses: --options @/dev/zero: expected at most 16777216 bytes, the file has more\n"]);
    const folder = await cli(dir, "export", "cross_entropy", "--options", "@.", "-o", "z.onnx");
    expect([folder.code, folder.err]).toEqual([2, "onnx-losses: .: is a directory, expected a file\n"]);
    writeFileSync(join(dir, "bad.json"), "{reduction: sum}");
    const bad = await cli(dir, "export", "cross_entropy", "--options", "@bad.json", "-o", "z.onnx");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^onnx-losses: --options @bad\.json: expected a JSON object, could not parse "\{reduction: sum\}": [^\n]+\n$/);
    const empty = await cli(dir, "export", "cross_entropy", "--options", "@", "-o", "z.onnx");
    expect([empty.code, empty.err]).toEqual([
      2,
      "onnx-losses: --options: expected a file name after @ (--options @FILE reads the JSON from FILE)\n",
    ]);
  });
});

describe("messages", () => {
  test("NaN and Infinity in options are named, not shown as null", async () => {
    expect(() => buildLoss("softmax_focal_loss", { gamma: NaN })).toThrow(
      exactly("softmax_focal_loss: option gamma: expected a number >= 0, received NaN"),
    );
    expect(() => buildLoss("softmax_focal_loss", { gamma: -Infinity })).toThrow(
      exactly("softmax_focal_loss: option gamma: expected a number >= 0, received -Infinity"),
    );
    expect(() => buildLoss("cross_entropy", { weight: [1, Infinity, NaN] })).toThrow(
      exactly(
        'cross_entropy: option weight: expected null or a non-empty list of numbers >= 0, or "input" (a tensor input weight, [C], C the classes of input), received [1,Infinity,NaN]',
      ),
    );
    const r = await cli(dir, "export", "softmax_focal_loss", "--options", '{"gamma": NaN}', "-o", "z.onnx");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\(JSON has no NaN or Infinity: write a number, or leave the option out\)\n$/);
  });

  test("demo --samples with a file that is not JSON: one line naming it", async () => {
    writeFileSync(join(dir, "samples.txt"), "not json");
    const r = await cli(dir, "demo", "--samples", "samples.txt");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      new RegExp(
        `^onnx-losses: demo: ${join(dir, "samples.txt").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: expected JSON, could not parse it: [^\\n]+\\n$`,
      ),
    );
  });

  test.each([
    [
      "cases[0].inputs = null",
      (d: Samples) => void (d.cases[0].inputs = null),
      'cases[0].inputs: expected an object of input name to {"dtype", "dims", "data"}, received null',
    ],
    [
      "data a string",
      (d: Samples) => void ((d.cases[0].inputs as Record<string, { data: unknown }>).input.data = "abc"),
      'cases[0].inputs.input: expected {"dtype": a dtype, "dims": [..], "data": [numbers]}, received {"dtype":"float32","dims":[8,5],"data":"abc"}',
    ],
    [
      "no expected",
      (d: Samples) => void delete d.cases[0].expected,
      'cases[0].expected: expected {"dims": [..], "data": [PyTorch\'s value]}, received nothing',
    ],
    [
      "a null case",
      (d: Samples) => void d.cases.unshift(null as never),
      'cases[0]: expected {"loss", "inputs", "expected"}, received null',
    ],
    // what the graph refuses: the evaluator's line, with the case it is in
    [
      "dims that disagree with the data",
      (d: Samples) => void ((d.cases[0].inputs as Record<string, { dims: unknown }>).input.dims = [8, 4]),
      "cases[0] (cross_entropy): input: expected 32 values for dims [8, 4], received 40",
    ],
    [
      "a float target for class indices",
      (d: Samples) => void ((d.cases[1].inputs as Record<string, { dtype: unknown }>).target.dtype = "float32"),
      "cases[1] (nll_loss): target: expected dtype int64 (int32 accepted), received float32; class indices saved as floats: convert them with .astype(np.int64) (numpy) or .long() (torch)",
    ],
  ])("demo --samples of JSON in another structure (%s): one line naming where", async (_what, edit, want) => {
    const d = JSON.parse(readFileSync(join(ROOT, "test", "fixtures", "samples.json"), "utf8")) as Samples;
    edit(d);
    writeFileSync(join(dir, "edited.json"), JSON.stringify(d));
    const r = await cli(dir, "demo", "--samples", "edited.json");
    expect([r.code, r.err]).toEqual([2, `onnx-losses: demo: ${join(dir, "edited.json")}: ${want}\n`]);
  });

  test.each([
    ['{"graphs":[null]}', 'graphs[0]: expected {"name", "file", ...} as export --all writes it, received null'],
    ['{"graphs":[{"name":"cross_entropy"}]}', "graphs[0].file: expected a .onnx file name in the folder, received nothing"],
    [
      '{"graphs":[{"name":"cross_entropy","file":"../cross_entropy.onnx"}]}',
      'graphs[0].file: expected a .onnx file name in the folder, received "../cross_entropy.onnx"',
    ],
  ])("demo --graphs with manifest %s: one line", async (manifest, want) => {
    const g = mkdtempSync(join(dir, "graphs-"));
    writeFileSync(join(g, "manifest.json"), manifest);
    const r = await cli(dir, "demo", "--graphs", g);
    expect([r.code, r.err]).toEqual([2, `onnx-losses: demo: ${join(g, "manifest.json")}: ${want}\n`]);
  });
});

interface Samples {
  cases: { inputs: unknown; expected?: unknown }[];
}
