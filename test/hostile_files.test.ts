/**
 * Files nobody vouches for (issue 16, round 2 of untrusted input): devices, FIFOs, sockets, folders and
 * symbolic links given as models or .npy inputs, files past the size limit, and mutated external-data
 * layouts. Every read is bounded before it starts; each case exits 0 with the right value or 2 with one
 * line, never hangs and never reports an internal error. The properties draw from the same kinds.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { runCli } from "../src/cli/program.js";
import { encodeNpy } from "../src/io/npy.js";
import { attachLoss } from "../src/losses/attach.js";
import { buildLoss } from "../src/losses/index.js";
import { decodeModel, encodeModel, type onnx } from "../src/onnx/codec.js";
import { FIXTURES, ROOT } from "./helpers.js";

/** Cases per property: a few dozen in npm test; ONNX_LOSSES_FUZZ_RUNS (npm run test:fuzz) for more. */
const runs = (n: number) => Number(process.env.ONNX_LOSSES_FUZZ_RUNS) || n;
const CLI = join(ROOT, "dist", "cli", "main.js");
const EXT = join(FIXTURES, "external");
const hasMkfifo = spawnSync("mkfifo", ["--version"], { stdio: "ignore" }).status === 0;

const dir = mkdtempSync(join(tmpdir(), "onnx-losses-files-"));
let server: Server | undefined;
const writers: ChildProcess[] = [];
afterAll(() => {
  server?.close();
  for (const w of writers) w.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** One CLI run, refused as a hang after `ms`. */
async function cli(cwd: string, argv: string[], ms = 20000): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: ${argv.join(" ")}`)), ms)));
  try {
    const code = await Promise.race([runCli(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), cwd }), hang]);
    return { code, out, err };
  } finally {
    clearTimeout(timer);
  }
}

/** Exit 2 with one line (no internal error), or exit 0. */
function oneLineRefusal(r: { code: number; out: string; err: string }, argv: string[]): string {
  expect({ argv, code: r.code, out: r.out }).toEqual({ argv, code: 2, out: "" });
  const lines = r.err.split("\n").filter((l) => l);
  expect({ argv, lines: lines.length }).toEqual({ argv, lines: 1 });
  expect(lines[0]).not.toMatch(/internal error/);
  return lines[0];
}

/** The kinds of file a path can be, each made under `dir` as NAME (with the extension the role needs). */
type Kind = "fifo" | "fifo-writer" | "zero" | "urandom" | "null" | "directory" | "socket" | "dangling" | "loop" | "dirlink";
const KINDS: Kind[] = [
  "zero",
  "urandom",
  "null",
  "directory",
  "socket",
  "dangling",
  "loop",
  "dirlink",
  ...(hasMkfifo ? (["fifo", "fifo-writer"] as Kind[]) : []),
];
/** What the one line says of each kind. */
const SAYS: Record<Kind, string> = {
  fifo: "a FIFO (named pipe) or pipe, expected",
  "fifo-writer": "a FIFO (named pipe) or pipe, expected",
  zero: "a character device, expected",
  urandom: "a character device, expected",
  null: "a character device, expected",
  directory: "is a directory, expected a file",
  socket: "not a regular file (a socket or a device without a reader)",
  dangling: "no such file or directory",
  loop: "cannot be opened (too many symbolic links)",
  dirlink: "is a directory, expected a file",
};
let made = 0;
function make(kind: Kind, ext: string): string {
  const name = `${kind}_${made++}${ext}`;
  const p = join(dir, name);
  switch (kind) {
    case "fifo":
      spawnSync("mkfifo", [p]);
      break;
    case "fifo-writer": {
      // a writer that never stops (the endless FIFO of the issue)
      spawnSync("mkfifo", [p]);
      const w = spawn("sh", ["-c", `exec cat /dev/zero > '${p}'`], { stdio: "ignore" });
      w.on("error", () => undefined);
      writers.push(w);
      break;
    }
    case "zero":
    case "urandom":
    case "null":
      symlinkSync(`/dev/${kind}`, p);
      break;
    case "directory":
      mkdirSync(p);
      break;
    case "socket":
      symlinkSync(join(dir, "sock"), p);
      break;
    case "dangling":
      symlinkSync(join(dir, "nothing-here"), p);
      break;
    case "loop":
      symlinkSync(p, p);
      break;
    case "dirlink":
      symlinkSync(dir, p);
      break;
  }
  return name;
}

beforeAll(async () => {
  writeFileSync(join(dir, "x.npy"), encodeNpy({ dtype: "float32", dims: [2, 3], data: new Float32Array([1, 2, 3, 3, 2, 1]) }));
  writeFileSync(join(dir, "t.npy"), encodeNpy({ dtype: "int64", dims: [2], data: BigInt64Array.from([2n, 0n]) }));
  writeFileSync(join(dir, "ce.onnx"), buildLoss("cross_entropy").model);
  server = createServer();
  await new Promise<void>((resolve) => server!.listen(join(dir, "sock"), resolve));
});

/** The roles a file plays: the model of inspect, attach and eval, or a non-input .npy. */
const ROLES: [string, string, (f: string) => string[]][] = [
  ["inspect's model", ".onnx", (f) => ["inspect", f]],
  ["attach's model", ".onnx", (f) => ["attach", f, "--model-output", "logits", "--loss", "cross_entropy", "-o", "out.onnx"]],
  ["eval's model", ".onnx", (f) => ["eval", f, "--input", "input=x.npy", "--input", "target=t.npy"]],
  ["a target .npy", ".npy", (f) => ["eval", "cross_entropy", "--input", "input=x.npy", "--input", `target=${f}`]],
];

describe("file kinds: devices, FIFOs, sockets, folders, links are refused in one line naming the path, before any read", () => {
  test.each(ROLES.flatMap(([role, ext, argv]) => KINDS.map((k) => [k, role, ext, argv] as const)))(
    "%s as %s",
    async (kind, _role, ext, argv) => {
      const name = make(kind, ext);
      const t0 = performance.now();
      const a = argv(name);
      const line = oneLineRefusal(await cli(dir, a), a);
      expect(line).toContain(join(dir, name));
      expect(line).toContain(SAYS[kind]);
      expect(performance.now() - t0).toBeLessThan(10000);
    },
    30000,
  );

  test("a model past the 2 GiB limit (a sparse file) is refused by its fstat size, unread", async () => {
    const p = join(dir, "huge.onnx");
    closeSync(openSync(p, "w"));
    truncateSync(p, 2 ** 31 + 1);
    for (const a of [
      ["inspect", "huge.onnx"],
      ["eval", "huge.onnx", "--input", "input=x.npy"],
    ]) {
      expect(oneLineRefusal(await cli(dir, a, 5000), a)).toBe(
        `onnx-losses: ${p}: 2147483649 bytes, expected a .onnx model of at most 2147483648 bytes`,
      );
    }
  });

  test("a pipe on stdin given as /dev/stdin is refused, not read whole", () => {
    const r = spawnSync("sh", ["-c", `cat '${join(dir, "ce.onnx")}' | '${process.execPath}' '${CLI}' inspect /dev/stdin`], {
      encoding: "utf8",
      timeout: 60000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      "onnx-losses: /dev/stdin: a FIFO (named pipe) or pipe, expected a .onnx model (a regular file: onnx-losses reads no devices, pipes or sockets)\n",
    );
  });
});

describe("messages", () => {
  test("ir_version 2^40: one line naming it and the range onnxruntime reads", async () => {
    const m = decodeModel(buildLoss("cross_entropy").model);
    m.irVersion = 2 ** 40;
    writeFileSync(join(dir, "ir.onnx"), encodeModel(m));
    const a = ["eval", "ir.onnx", "--input", "input=x.npy", "--input", "target=t.npy"];
    expect(oneLineRefusal(await cli(dir, a), a)).toBe(
      "onnx-losses: ir.onnx: ir_version 1099511627776: expected 0 to 13 (the IR versions onnxruntime 1.30 reads)",
    );
  });

  test("X.ONNX (an upper-case extension) is a file, not a loss name", async () => {
    copyFileSync(join(dir, "ce.onnx"), join(dir, "CE.ONNX"));
    const r = await cli(dir, ["eval", "CE.ONNX", "--input", "input=x.npy", "--input", "target=t.npy"]);
    expect(r.err).toBe("");
    expect(r.out).toMatch(/^loss float32 \[\]: 0\.4076/);
  });

  test("inspect says which checks run before each run and which on its outputs", async () => {
    const a = attachLoss(readFileSync(join(FIXTURES, "attach", "multi.onnx")), { output: "probs", loss: "binary_cross_entropy" });
    writeFileSync(join(dir, "bce.onnx"), a.model);
    const r = await cli(dir, ["inspect", "bce.onnx"]);
    expect(r.out).toContain(
      "  checks before each run: none\n  checks of each run's outputs (its results are refused when one fails): probs in [0, 1]\n",
    );
  });
});

describe("properties", () => {
  /** A copy of A/ (m.onnx, m.data: W [4, 3] at 0, b [3] at 48) plus the places a location can point. */
  let base: string;
  beforeAll(() => {
    base = join(dir, "layouts");
    mkdirSync(join(base, "model", "sub"), { recursive: true });
    copyFileSync(join(EXT, "A", "m.data"), join(base, "model", "m.data"));
    copyFileSync(join(EXT, "B", "m.data"), join(base, "model", "sub", "n.data"));
    copyFileSync(join(EXT, "B", "m.data"), join(base, "outside.data"));
    // 128 bytes: W read at other offsets is other numbers, which the oracle reads the same way
    writeFileSync(join(base, "model", "long.data"), new Uint8Array(Float32Array.from({ length: 32 }, (_, i) => i * 0.25 - 3).buffer));
    symlinkSync(join(base, "outside.data"), join(base, "model", "out-link.data"));
    symlinkSync(join(base, "model", "m.data"), join(base, "model", "in-link.data"));
    symlinkSync("/dev/zero", join(base, "model", "zero.data"));
    mkdirSync(join(base, "model", "dir.data"));
    if (hasMkfifo) spawnSync("mkfifo", [join(base, "model", "fifo.data")]);
  });
  /** The files a location may resolve to inside the folder, by location. */
  const INSIDE: Record<string, string> = {
    "m.data": "m.data",
    "./m.data": "m.data",
    "sub/n.data": "sub/n.data",
    "sub/./n.data": "sub/n.data",
    "in-link.data": "m.data",
    "long.data": "long.data",
  };
  const LOCATIONS = [
    ...Object.keys(INSIDE),
    "../outside.data",
    "sub/../m.data",
    "/etc/passwd",
    "\\\\host\\share",
    "C:m.data",
    "",
    "m.data\0",
    "missing.data",
    "out-link.data",
    "zero.data",
    "dir.data",
    ...(hasMkfifo ? ["fifo.data"] : []),
  ];
  const X = [1, -2, 0.5, 3];

  test("mutated external-data layouts of W: exit 0 with x W + b read from where the layout says, or exit 2 with one line", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...LOCATIONS),
        fc.oneof(
          fc.constantFrom(undefined, "0", "4", "12", "48", "80", "81", "2", "-4", "1e3", "0x10", "9007199254740993", " 4"),
          fc.nat(200).map(String),
        ),
        fc.constantFrom(undefined, "48", "47", "0", "4096", "-48", "48.0"),
        async (location, offset, length) => {
          const m = decodeModel(readFileSync(join(EXT, "A", "m.onnx")));
          const w = (m.graph as onnx.GraphProto).initializer.find((t) => t.name === "W") as onnx.TensorProto;
          w.externalData = [
            ["location", location],
            ["offset", offset],
            ["length", length],
          ]
            .filter((e): e is [string, string] => e[1] !== undefined)
            .map(([key, value]) => ({ key, value }) as onnx.StringStringEntryProto);
          writeFileSync(join(base, "model", "m.onnx"), encodeModel(m));
          writeFileSync(join(base, "x.npy"), encodeNpy({ dtype: "float32", dims: [1, 4], data: Float32Array.from(X) }));
          const a = ["eval", "model/m.onnx", "--input", "x=x.npy"];
          const r = await cli(base, a);
          // the oracle: valid when the location is inside, offset and length are byte counts (length 48),
          // and 48 bytes fit at the offset; then W is those bytes, b A's
          const file = INSIDE[location];
          const off = offset === undefined ? 0 : /^(0|[1-9][0-9]*)$/.test(offset) ? Number(offset) : NaN;
          const data = file ? readFileSync(join(base, "model", file)) : undefined;
          const valid =
            data !== undefined && Number.isSafeInteger(off) && (length === undefined || length === "48") && off + 48 <= data.length;
          if (!valid) {
            oneLineRefusal(r, a);
            return;
          }
          expect(r.err).toBe("");
          const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
          const bView = readFileSync(join(EXT, "A", "m.data"));
          const want = [0, 1, 2].map(
            (j) =>
              X.reduce((s, xi, i) => s + xi * view.getFloat32(off + 4 * (i * 3 + j), true), 0) +
              new DataView(bView.buffer, bView.byteOffset).getFloat32(48 + 4 * j, true),
          );
          const got = /logits float32 \[1, 3\]: \[([^\]]*)\]/.exec(r.out)?.[1].split(", ").map(Number) ?? [];
          expect(got.length).toBe(3);
          got.forEach((g, j) => expect(Math.abs(g - want[j])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want[j]))));
        },
      ),
      { numRuns: runs(60) },
    );
  }, 300000);

  test("file kinds in every role: exit 0 with the loss for a regular file, or exit 2 with one line naming the path", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind | "regular" | "link-to-regular">("regular", "link-to-regular", ...KINDS),
        fc.nat(ROLES.length - 1),
        async (kind, role) => {
          const [, ext, argv] = ROLES[role];
          let name: string;
          if (kind === "regular" || kind === "link-to-regular") {
            name = `${kind}_${made++}${ext}`;
            const src = join(dir, ext === ".onnx" ? "ce.onnx" : "t.npy");
            if (kind === "regular") copyFileSync(src, join(dir, name));
            else symlinkSync(src, join(dir, name));
          } else {
            name = make(kind, ext);
          }
          const a = argv(name);
          const r = await cli(dir, a);
          if (kind !== "regular" && kind !== "link-to-regular") {
            expect(oneLineRefusal(r, a)).toContain(join(dir, name));
            return;
          }
          // a regular model: inspect prints, attach refuses a loss model in one line, eval gives the loss
          if (role === 1) {
            oneLineRefusal(r, a);
            return;
          }
          expect({ a, code: r.code, err: r.err }).toEqual({ a, code: 0, err: "" });
          if (role >= 2) expect(r.out).toMatch(/^loss float32 \[\]: 0\.4076/);
        },
      ),
      { numRuns: runs(40) },
    );
  }, 300000);
});
