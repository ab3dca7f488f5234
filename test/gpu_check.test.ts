/**
 * scripts/gpu-check.mjs on this machine (docs/gpu-check.md): `prepare` makes a carry folder within the
 * device's 64 MiB that holds onnxruntime-node's linux-x64 binary and no other platform's; its run.sh
 * (the device call's command) refuses here with one line naming "no Vulkan GPU adapter", exit 2, both
 * with the loader's own drivers and with SwiftShader's; with --allow-software on SwiftShader it runs a
 * few fixtures, the CLI and tiny bench rows, and writes results.json and results.md with every check
 * passed. The carry is made once (7 s on 2 cores, mostly xz of Node and onnxruntime) in a git-ignored
 * folder of the repository (.gpu-carry-test-PID) and removed afterwards.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ROOT } from "./helpers.js";
import { swiftShaderIcd, WEBGPU_REQUIRED, webgpuChildEnv } from "./webgpu/env.js";

const SCRIPT = join(ROOT, "scripts", "gpu-check.mjs");
const NAME = `.gpu-carry-test-${process.pid}`;
const CARRY = join(ROOT, NAME);
const out = mkdtempSync(join(tmpdir(), "onnx-losses-gpu-check-"));

/** The environment without any Vulkan variable of the caller's. */
function plainEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.VK_ICD_FILENAMES;
  delete env.VK_DRIVER_FILES;
  delete env.OUT;
  return env;
}

function gpuCheck(args: string[], env: NodeJS.ProcessEnv = plainEnv()) {
  return spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 120000 });
}

/** The device call's command, run.sh of the carry, with device flags. */
function device(args: string[], env: NodeJS.ProcessEnv = plainEnv()) {
  return spawnSync("sh", [join(CARRY, "run.sh"), ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 120000 });
}

let prepared: ReturnType<typeof gpuCheck>;
let manifest: { gl: string };

describe("scripts/gpu-check.mjs", () => {
  beforeAll(() => {
    prepared = gpuCheck(["prepare", "--dir", NAME]);
    if (prepared.status === 0) manifest = JSON.parse(readFileSync(join(CARRY, "manifest.json"), "utf8"));
  }, 180000);
  afterAll(() => {
    rmSync(CARRY, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  test("prepare makes one carry folder within the device's 64 MiB: onnxruntime-node's linux-x64 binary and no other platform's", () => {
    expect({ status: prepared.status, stderr: prepared.stderr }).toEqual({ status: 0, stderr: "" });
    const size = new RegExp(
      `^carry ${NAME.replace(/\./g, "\\.")}: ([\\d.]+) MiB; working tree that travels: ([\\d.]+) MiB; total ([\\d.]+) MiB of 64 MiB$`,
      "m",
    ).exec(prepared.stdout);
    expect(size).not.toBeNull();
    expect(Number(size![3])).toBeLessThan(64);
    expect(Number(size![1])).toBeGreaterThan(20); // Node and onnxruntime, compressed
    const bin = join(CARRY, "node_modules", "onnxruntime-node", "bin", "napi-v6");
    expect(readdirSync(bin)).toEqual(["linux"]);
    expect(readdirSync(join(bin, "linux"))).toEqual(["x64"]);
    expect(readdirSync(join(bin, "linux", "x64"))).toEqual(["onnxruntime_binding.node"]);
    expect(existsSync(join(CARRY, "xz", "libonnxruntime.so.1.xz"))).toBe(true);
    expect(existsSync(join(CARRY, "xz", "node.xz"))).toBe(true);
    expect(existsSync(join(CARRY, "dist", "index.js"))).toBe(true);
    // the runtime dependencies, not the install script's or the dev ones
    const packages = readdirSync(join(CARRY, "node_modules"));
    for (const p of ["onnxruntime-common", "onnxruntime-node", "protobufjs", "long", "commander", "cli-progress"])
      expect(packages).toContain(p);
    for (const p of ["adm-zip", "global-agent", "onnxruntime-web", "jest", "typescript"]) expect(packages).not.toContain(p);
    // the loader's packages, or the line that says why they are not there and how to add them
    expect(prepared.stdout).toContain(`${manifest.gl}\n`);
    expect(manifest.gl).toMatch(
      /^vulkan loader: (\d+ \.deb files in \S+\/gl \(libvulkan1; vulkan-tools and its libraries in gl\/tools\)|not downloaded \(apt-get download: .+\); the device part then needs a libvulkan\.so\.1 on the device\. By hand: .+)$/,
    );
    // and it prints the device call
    expect(prepared.stdout).toContain(`  command:   sh ${NAME}/run.sh\n  carry:     ["${NAME}"]\n  timeout_s: 270\n`);
  });

  test("prepare refuses, on one line, a budget the working tree alone exceeds, and a folder outside the repository", () => {
    const over = gpuCheck(["prepare", "--dir", NAME, "--budget-mib", "1"]);
    expect(over.status).toBe(2);
    expect(over.stderr).toMatch(
      /^gpu-check prepare: the working tree that travels is [\d.]+ MiB, over the device's 1 MiB before any carry\n$/,
    );
    const outside = gpuCheck(["prepare", "--dir", "../elsewhere"]);
    expect({ status: outside.status, stderr: outside.stderr }).toEqual({
      status: 2,
      stderr: "gpu-check prepare: --dir ../elsewhere: must be a folder inside the repository (the device call carries repository paths)\n",
    });
  });

  test("--help prints the device call; an unknown command is one line, exit 2", () => {
    const help = gpuCheck(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(
      'The device call (one `run`, then `give_back` unless you rerun at once):\n  command:   sh .gpu-carry/run.sh\n  carry:     [".gpu-carry"]\n  timeout_s: 270\n',
    );
    // docs/gpu-check.md shows the same call
    expect(readFileSync(join(ROOT, "docs", "gpu-check.md"), "utf8")).toContain(
      '  command:   sh .gpu-carry/run.sh\n  carry:     [".gpu-carry"]\n  timeout_s: 270\n',
    );
    const bad = gpuCheck(["unpack"]);
    expect({ status: bad.status, stderr: bad.stderr }).toEqual({
      status: 2,
      stderr: 'gpu-check: unknown command "unpack"; commands are prepare, device (--help for the usage)\n',
    });
  });

  test("device refuses here with one line naming no Vulkan GPU adapter, exit 2: with the loader's own drivers and with SwiftShader's", () => {
    const plain = device(["--out", join(out, "plain")]);
    expect(plain.status).toBe(2);
    expect(plain.stderr).toMatch(/^gpu-check: no Vulkan GPU adapter: [^\n]+\n$/);
    expect(readFileSync(join(out, "plain", "adapter.txt"), "utf8")).toMatch(/^Vulkan drivers \(/);
    const { icd } = swiftShaderIcd();
    if (!icd) return; // SwiftShader's case below needs chromium's ICD too
    const sw = device(["--out", join(out, "sw")], webgpuChildEnv(icd));
    expect(sw.status).toBe(2);
    // vulkaninfo names the device where it was carried (or is installed), else the ICD names the driver
    expect(sw.stderr).toMatch(
      /^gpu-check: no Vulkan GPU adapter: (vulkaninfo lists only SwiftShader Device \([^)]*\) \(a CPU device\); --allow-software runs on it anyway|only software Vulkan drivers \(\S*libvk_swiftshader\.so\); --allow-software runs on them anyway)\n$/,
    );
    expect(sw.stdout).toContain(`Vulkan drivers (as given): ${icd} -> `);
  }, 60000);

  const { icd, why } = swiftShaderIcd();
  (icd || WEBGPU_REQUIRED ? test : test.skip)(
    "device --allow-software on SwiftShader: a few fixtures (default and lowered, loss and input_grad), the CLI and tiny bench rows, all passing, written as JSON and Markdown",
    () => {
      if (!icd) throw new Error(`WebGPU is required here (ONNX_LOSSES_REQUIRE_WEBGPU=1) but ${why}`);
      const dir = join(out, "software");
      const r = device(
        [
          "--out",
          dir,
          "--allow-software",
          "--only",
          "nll_loss.json,binary_cross_entropy_with_logits.json",
          "--max-cases",
          "3",
          "--sizes",
          "16x5",
          "--losses",
          "cross_entropy,sigmoid_focal_loss",
          "--group-ms",
          "50",
        ],
        webgpuChildEnv(icd),
      );
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
      expect(r.stdout).toContain("fixtures: 24 checks from 2 files in ");
      expect(r.stdout).toContain("fixtures: 24 of 24 passed, 0 failed, 0 not run (deadline)\n");
      expect(r.stdout).toContain("ok: cli: eval cross_entropy --ep webgpu\nok: cli: eval cross_entropy --ep webgpu --lowering webgpu\n");
      expect(r.stdout).toMatch(
        /\ngpu-check: 24 of 24 fixture checks equal PyTorch on webgpu \(SwiftShader[^)]*\)\), 0 failed, 0 not run; CLI 2 of 2; bench 2 of 2 rows; wrote results\.json and results\.md in \S+\n$/,
      );
      expect(readdirSync(dir).sort()).toEqual(["adapter.txt", "gpu-check.log", "results.json", "results.md"]);
      const res = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
      expect(res.adapter).toEqual({ name: expect.stringMatching(/^SwiftShader/), hardware: false, allowSoftware: true });
      expect(res.fixtures).toMatchObject({ jobs: 24, passed: 24, failed: 0, notRun: 0, failures: [] });
      expect(res.fixtures.byFile).toEqual({
        "nll_loss.json": { jobs: 12, passed: 12 },
        "binary_cross_entropy_with_logits.json": { jobs: 12, passed: 12 },
      });
      expect(res.bench.map((b: { size: string; loss: string }) => `${b.size} ${b.loss}`)).toEqual([
        "16 x 5 cross_entropy",
        "16 x 5 sigmoid_focal_loss",
      ]);
      for (const b of res.bench) {
        expect(b.note).toBeUndefined();
        expect(b.maxRelDiffVsCpu).toBeLessThanOrEqual(1e-5);
      }
      const md = readFileSync(join(dir, "results.md"), "utf8");
      expect(md).toContain("**A software adapter (--allow-software): these numbers say nothing about a GPU.**");
      expect(md).toContain("| nll_loss.json | 12 | 12 |\n| binary_cross_entropy_with_logits.json | 12 | 12 |\n");
      expect(md).toMatch(/\n\| 16 x 5 \| sigmoid_focal_loss \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+x \| [\d.]+ \| [\d.e+-]+ \|\n$/);
    },
    90000,
  );
});
