#!/usr/bin/env node
// The WebGPU check on a hardware GPU (issue 21; docs/gpu-check.md). Plain Node ESM, no dependencies
// beyond the project's own runtime ones.
//
//   node scripts/gpu-check.mjs prepare [--dir .gpu-carry]   here: build the folder the device call carries
//   sh .gpu-carry/run.sh [device flags]                     there: unpack the carried Node, then `device`
//   node scripts/gpu-check.mjs device [--out DIR]           the device part (run.sh starts it)
//
// `prepare` copies the built dist/, a node_modules pruned to the runtime dependencies (onnxruntime-node
// to its linux-x64 binary, xz-compressed), this machine's Node (stripped, xz-compressed: the device
// image has no Node) and the Vulkan loader and vulkaninfo as Debian packages into one git-ignored
// folder, and refuses when it and the rest of the working tree would exceed the device's 64 MiB.
// `device` unpacks the loader where the machine has none, names the adapter (vulkaninfo --summary, else
// the Vulkan driver files and a probe session), refuses software adapters (exit 2, one line), runs every
// PyTorch fixture on --ep webgpu (default and lowered graphs, loss and input_grad, the tolerance of
// test/webgpu/jobs.ts) and the CLI, times webgpu against cpu, and writes results.json, results.md,
// adapter.txt and gpu-check.log under the out folder.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURES = join(ROOT, "test", "fixtures");
const MIB = 1024 * 1024;
/** The device's limit on the working tree that travels, carried paths included (its README). */
const LIMIT_MIB = 64;
const DEFAULT_DIR = ".gpu-carry";
/** The device call's timeout: two tries (a start of 1 to 2 minutes each) fit the 15 minutes of device time. */
const RUN_TIMEOUT_S = 270;
/** The device part's own deadline, inside RUN_TIMEOUT_S: it writes its results before the call is cut. */
const DEFAULT_DEADLINE_S = 240;
/** Parity tolerance, as test/helpers.ts's RTOL and test/webgpu/jobs.ts use it: |got - want| <= 1e-5 max(1, |want|). */
const RTOL = 1e-5;
const DEFAULT_SIZES = "64x10,1024x1000,16384x1000";
const SOFTMAX = ["cross_entropy", "nll_loss", "softmax_focal_loss"];
const SIGMOID = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"];
const XZ_LEVEL = "-0";
/** The Vulkan loader, unpacked into / on the device when it has none (the device README's recipe). */
const LOADER_DEBS = ["libvulkan1"];
/** vulkaninfo and the libraries it links, unpacked into a temporary folder, never into /. */
const TOOL_DEBS = ["vulkan-tools", "libx11-6", "libxcb1", "libwayland-client0", "libxau6", "libxdmcp6", "libbsd0", "libmd0", "libffi8"];
/** Dependencies used only by a package's install script, never at run time. */
const INSTALL_ONLY = { "onnxruntime-node": ["adm-zip", "global-agent"] };
const ORT_BIN = join("node_modules", "onnxruntime-node", "bin", "napi-v6", "linux", "x64");
const SOFTWARE_DEVICE = /swiftshader|llvmpipe|lavapipe|softpipe/i;
const SOFTWARE_DRIVER = /swiftshader|lvp|lavapipe|llvmpipe/i;
const ICD_DIRS = ["/usr/local/nvidia/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/share/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];

/** The device call to make, as `--help` and docs/gpu-check.md print it. */
const RUN_CALL = [
  "The device call (one `run`, then `give_back` unless you rerun at once):",
  `  command:   sh ${DEFAULT_DIR}/run.sh`,
  `  carry:     ["${DEFAULT_DIR}"]`,
  `  timeout_s: ${RUN_TIMEOUT_S}`,
  `It writes results.json, results.md, adapter.txt and gpu-check.log under $OUT and ends within`,
  `${DEFAULT_DEADLINE_S} s; a second try fits the 15 minutes of device time.`,
].join("\n");

const USAGE = `usage:
  node scripts/gpu-check.mjs prepare [--dir ${DEFAULT_DIR}] [--no-gl] [--budget-mib ${LIMIT_MIB}]
  sh ${DEFAULT_DIR}/run.sh [device flags]          (on the device: unpacks the carried Node, then runs device)
  node scripts/gpu-check.mjs device [--out DIR] [--carry DIR] [--allow-software] [--only FILES]
      [--max-cases N] [--sizes NxC,..] [--losses L,..] [--group-ms MS] [--no-bench] [--deadline-s S] [--shards N]

prepare   make the folder the device call carries (git-ignored, one path): dist/, the runtime
          node_modules (onnxruntime-node pruned to linux-x64, its binary and this Node xz-compressed),
          run.sh, the Vulkan loader and vulkaninfo as .deb files (--no-gl: without them). Refuses when
          it and the working tree that travels exceed --budget-mib (the device's ${LIMIT_MIB} MiB).
device    name the adapter, refuse (exit 2) unless it is a hardware GPU (--allow-software: run on
          SwiftShader or llvmpipe anyway), run every PyTorch fixture on --ep webgpu (default and lowered
          graphs, loss and input_grad, at 1e-5) and the CLI, time webgpu against cpu at --sizes
          (default ${DEFAULT_SIZES}), write results under --out (default $OUT); exit 1
          if any check failed or did not run.
  --only FILES      comma-separated fixture files (default: every one but samples.json and float16.json)
  --max-cases N     the first N cases of each file
  --losses L        bench losses (default all six)     --group-ms MS   time per bench row (default 1500)
  --deadline-s S    stop and write the results after S seconds (default ${DEFAULT_DEADLINE_S})
  --shards N        child processes for the fixtures (default min(8, CPUs))

${RUN_CALL}`;

/** A refusal or bad input: one line on stderr, exit 2. */
class Refusal extends Error {}

const mib = (bytes) => `${(bytes / MIB).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------- prepare

/** Bytes of every file under `p` (a file or a folder); links count as themselves, not followed. */
function treeBytes(p) {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((sum, name) => sum + treeBytes(join(p, name)), 0);
}

/** The working tree that travels with every device call: tracked and untracked-not-ignored files, and shared/. */
function travellingTreeBytes(exclude) {
  const r = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0)
    throw new Refusal(`gpu-check prepare: git ls-files failed in ${ROOT} (a git checkout is needed to measure what travels)`);
  let bytes = 0;
  for (const f of r.stdout.split("\0").filter(Boolean)) {
    const p = join(ROOT, f);
    if (p === exclude || p.startsWith(exclude + sep)) continue;
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isFile()) bytes += st.size;
  }
  // shared/ travels whether or not git ignores it; its tracked files are counted above
  const shared = join(ROOT, "shared");
  if (existsSync(shared) && spawnSync("git", ["check-ignore", "-q", "shared/"], { cwd: ROOT }).status === 0) bytes += treeBytes(shared);
  return bytes;
}

function readJson(p) {
  return JSON.parse(readFileSync(p, "utf8"));
}

/** Node's lookup of package `name` from folder `from`: the nearest node_modules/name above it. */
function packageDir(name, from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const p = join(dir, "node_modules", name);
    if (existsSync(join(p, "package.json"))) return p;
    if (dir === ROOT || dirname(dir) === dir) return undefined;
  }
}

/** The runtime packages, transitively from package.json's dependencies and onnxruntime-node (a peer). */
function runtimePackages() {
  const pkg = readJson(join(ROOT, "package.json"));
  const queue = [...Object.keys(pkg.dependencies ?? {}), "onnxruntime-node"].map((name) => ({ name, from: ROOT, optional: false }));
  const found = new Map();
  while (queue.length) {
    const { name, from, optional } = queue.shift();
    const dir = packageDir(name, from);
    if (!dir) {
      if (optional) continue;
      throw new Refusal(`gpu-check prepare: package ${name} is not installed (run npm ci first)`);
    }
    if (found.has(dir)) continue;
    const meta = readJson(join(dir, "package.json"));
    found.set(dir, meta.name);
    const skip = INSTALL_ONLY[meta.name] ?? [];
    for (const dep of Object.keys(meta.dependencies ?? {})) if (!skip.includes(dep)) queue.push({ name: dep, from: dir, optional: false });
    for (const dep of Object.keys(meta.optionalDependencies ?? {})) queue.push({ name: dep, from: dir, optional: true });
  }
  return found;
}

/** Files a runtime copy leaves out: types, source maps, docs but licences. */
const dropped = (name) => /\.d\.[mc]?ts$|\.map$|\.tsbuildinfo$/.test(name) || (/\.md$/i.test(name) && !/^licen[cs]e/i.test(name));

/** Copy the files `keep` accepts; a folder is made only when a file goes into it. */
function copyTree(from, to, keep = (_rel, name) => !dropped(name), rel = "") {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name === "node_modules") continue; // nested packages are copied as packages of their own
      copyTree(join(from, e.name), join(to, e.name), keep, r);
    } else if (e.isFile() && keep(r, e.name)) {
      mkdirSync(to, { recursive: true });
      copyFileSync(join(from, e.name), join(to, e.name));
    }
  }
}

/** onnxruntime-node without its other platforms, its TypeScript, its install script and any CUDA or TensorRT library. */
function keepOrtFile(rel, name) {
  if (dropped(name)) return false;
  if (rel === "package.json" || /^licen[cs]e/i.test(rel)) return true;
  if (/^dist\/[^/]+\.js$/.test(rel)) return true;
  if (rel.startsWith("bin/napi-v6/linux/x64/")) {
    if (/providers_(cuda|tensorrt)/.test(name)) return false;
    return name !== "libonnxruntime.so.1"; // carried xz-compressed, unpacked by run.sh
  }
  return false;
}

/** xz-compress `src` into `dst`, reusing a previous result with the same source (a stamp beside it). */
async function xzCached(src, dst, note) {
  const st = statSync(src);
  const stamp = JSON.stringify({ src, size: st.size, mtimeMs: st.mtimeMs, level: XZ_LEVEL, note });
  if (existsSync(dst) && existsSync(`${dst}.stamp`) && readFileSync(`${dst}.stamp`, "utf8") === stamp) return "reused";
  rmSync(`${dst}.stamp`, { force: true });
  // xz where it is installed, else python3's lzma (the same .xz format, one thread)
  const script =
    spawnSync("sh", ["-c", "command -v xz"]).status === 0
      ? `xz -T0 ${XZ_LEVEL} -c -- "$1" > "$2"`
      : `python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(open(sys.argv[1], "rb"), lzma.open(sys.argv[2], "wb", preset=${XZ_LEVEL.slice(1)}))' "$1" "$2"`;
  await new Promise((done, fail) => {
    const child = spawn("sh", ["-c", script, "sh", src, dst], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", fail);
    child.on("close", (code) =>
      code === 0
        ? done()
        : fail(
            new Refusal(
              `gpu-check prepare: compressing ${src} failed (${err.trim().split("\n").pop() || `exit ${code}`}); apt-get install xz-utils`,
            ),
          ),
    );
  });
  writeFileSync(`${dst}.stamp`, stamp);
  return "compressed";
}

/** This Node, stripped of its symbols where `strip` is here (98 MB -> 86 MB), as the file to compress. */
function nodeToCarry(scratch) {
  const out = join(scratch, "node");
  const r = spawnSync("strip", ["-o", out, process.execPath], { stdio: "ignore" });
  if (r.status === 0 && spawnSync(out, ["-e", "0"]).status === 0) return { path: out, note: "stripped" };
  return { path: process.execPath, note: "not stripped (no strip here)" };
}

/** apt-get download `names` into `dir`: with this machine's package lists, else with amd64 lists of its own (the device README's recipe). */
function aptDownload(names, dir) {
  mkdirSync(dir, { recursive: true });
  const run = (args) => spawnSync("apt-get", args, { cwd: dir, encoding: "utf8", timeout: 180000 });
  let r = run(["download", ...names]);
  if (r.status === 0) return undefined;
  const lists = mkdtempSync(join(tmpdir(), "gpu-check-apt-"));
  mkdirSync(join(lists, "partial"));
  const o = ["-oAPT::Architecture=amd64", "-oAPT::Architectures=amd64", `-oDir::State::Lists=${lists}`];
  r = run([...o, "update"]);
  if (r.status === 0) r = run([...o, "download", ...names]);
  rmSync(lists, { recursive: true, force: true });
  if (r.status === 0) return undefined;
  const why = r.error ? r.error.message : (r.stderr || r.stdout || "").trim().split("\n").filter(Boolean).pop() || `exit ${r.status}`;
  return why;
}

function runScript(up) {
  return `#!/bin/sh
# Written by \`node scripts/gpu-check.mjs prepare\`. On the device machine: unpack the carried Node and
# onnxruntime's binary (xz, else python3's lzma), then run \`gpu-check.mjs device\` with them; the
# arguments go to device (docs/gpu-check.md).
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
root=$(CDPATH= cd -- "$here/${up}" && pwd)
unxz() {
  [ -s "$2" ] && return 0
  mkdir -p "$(dirname -- "$2")"
  if command -v xz >/dev/null 2>&1; then
    xz -dc -- "$1" >"$2.part"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.part"
  else
    echo "gpu-check: neither xz nor python3 here to unpack $1" >&2
    exit 2
  fi
  mv -- "$2.part" "$2"
}
unxz "$here/xz/node.xz" "$here/bin/node"
chmod +x "$here/bin/node"
unxz "$here/xz/libonnxruntime.so.1.xz" "$here/${ORT_BIN}/libonnxruntime.so.1"
exec "$here/bin/node" "$root/scripts/gpu-check.mjs" device --carry "$here" "$@"
`;
}

async function prepare(flags) {
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Refusal(
      "gpu-check prepare: run it on Linux x64 (the device is x86-64 Linux; the carry holds this machine's Node and onnxruntime binary)",
    );
  const limit = flags["budget-mib"] === undefined ? LIMIT_MIB : Number(flags["budget-mib"]);
  if (!(limit > 0))
    throw new Refusal(`gpu-check prepare: --budget-mib: expected a positive number, received ${JSON.stringify(flags["budget-mib"])}`);
  const dir = resolve(ROOT, flags.dir ?? DEFAULT_DIR);
  const name = relative(ROOT, dir).split(sep).join("/");
  if (!name || name.startsWith("..") || isAbsolute(name))
    throw new Refusal(
      `gpu-check prepare: --dir ${flags.dir}: must be a folder inside the repository (the device call carries repository paths)`,
    );
  if (spawnSync("git", ["check-ignore", "-q", `${name}/`], { cwd: ROOT }).status !== 0)
    throw new Refusal(`gpu-check prepare: ${name} is not git-ignored; add it to .gitignore (.gpu-carry* is)`);
  if (!existsSync(join(ROOT, "dist", "index.js"))) throw new Refusal("gpu-check prepare: no dist/index.js; run npm run build first");
  const tree = travellingTreeBytes(dir);
  if (tree > limit * MIB)
    throw new Refusal(`gpu-check prepare: the working tree that travels is ${mib(tree)}, over the device's ${limit} MiB before any carry`);

  // start over, but keep the compressed binaries (xz/) when their sources are unchanged
  if (existsSync(dir)) for (const e of readdirSync(dir)) if (e !== "xz") rmSync(join(dir, e), { recursive: true, force: true });
  mkdirSync(join(dir, "xz"), { recursive: true });
  const lines = [];
  const scratch = mkdtempSync(join(tmpdir(), "gpu-check-"));
  try {
    const node = nodeToCarry(scratch);
    const ortLib = join(ROOT, ORT_BIN, "libonnxruntime.so.1");
    if (!existsSync(ortLib)) throw new Refusal(`gpu-check prepare: no ${ORT_BIN}/libonnxruntime.so.1 (run npm ci first)`);
    const compress = Promise.all([
      xzCached(node.path, join(dir, "xz", "node.xz"), `${process.version} ${node.note}`),
      xzCached(ortLib, join(dir, "xz", "libonnxruntime.so.1.xz"), "onnxruntime"),
    ]);

    // while xz runs: dist/, the runtime packages, the .deb files
    copyTree(join(ROOT, "dist"), join(dir, "dist"));
    const packages = runtimePackages();
    for (const [from, pkgName] of packages) {
      const to = join(dir, relative(ROOT, from));
      if (pkgName === "onnxruntime-node") copyTree(from, to, keepOrtFile);
      else copyTree(from, to);
    }
    writeFileSync(join(dir, "package.json"), `${JSON.stringify({ private: true, type: "module" }, null, 2)}\n`);
    writeFileSync(join(dir, "run.sh"), runScript(relative(dir, ROOT).split(sep).join("/")));
    chmodSync(join(dir, "run.sh"), 0o755);

    let gl;
    if (flags.gl === false) gl = "vulkan loader: skipped (--no-gl); the device part then needs a libvulkan.so.1 on the device";
    else {
      let why = aptDownload(LOADER_DEBS, join(dir, "gl"));
      if (why === undefined) why = aptDownload(TOOL_DEBS, join(dir, "gl", "tools"));
      if (why === undefined) {
        const n = readdirSync(join(dir, "gl")).filter((f) => f.endsWith(".deb")).length + readdirSync(join(dir, "gl", "tools")).length;
        gl = `vulkan loader: ${n} .deb files in ${name}/gl (libvulkan1; vulkan-tools and its libraries in gl/tools)`;
      } else {
        rmSync(join(dir, "gl"), { recursive: true, force: true });
        gl =
          `vulkan loader: not downloaded (apt-get download: ${why}); the device part then needs a libvulkan.so.1 on the device. ` +
          `By hand: (cd ${name} && mkdir -p gl/tools && cd gl && apt-get download ${LOADER_DEBS.join(" ")} && cd tools && apt-get download ${TOOL_DEBS.join(" ")})`;
      }
    }
    const [nodeXz, ortXz] = await compress;
    const ortVersion = readJson(join(ROOT, "node_modules", "onnxruntime-node", "package.json")).version;
    const manifest = {
      made: new Date().toISOString(),
      node: `${process.version} (${node.note})`,
      onnxruntimeNode: ortVersion,
      packages: [...packages.values()].sort(),
      fixtures: "test/fixtures (tracked: they travel with the working tree)",
      gl,
    };
    writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    const carried = treeBytes(dir);
    lines.push(`node: ${process.version}, ${node.note}, xz ${nodeXz}`);
    lines.push(`onnxruntime-node ${ortVersion}: linux-x64 only, libonnxruntime.so.1 xz ${ortXz}`);
    lines.push(`packages: ${manifest.packages.join(", ")}`);
    lines.push(gl);
    const total = carried + tree;
    if (total > limit * MIB)
      throw new Refusal(
        `gpu-check prepare: ${name} (${mib(carried)}) and the working tree (${mib(tree)}) come to ${mib(total)}, over the device's ${limit} MiB`,
      );
    lines.push(`carry ${name}: ${mib(carried)}; working tree that travels: ${mib(tree)}; total ${mib(total)} of ${limit} MiB`);
    lines.push("", RUN_CALL.replaceAll(DEFAULT_DIR, name));
    return lines;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------------------------------- device

/** The carry's modules: the project's dist/ and the onnxruntime-node it resolves. */
async function loadCarry(carry) {
  const lib = await import(pathToFileURL(join(carry, "dist", "index.js")).href);
  const providers = await import(pathToFileURL(join(carry, "dist", "runtime", "providers.js")).href);
  const ort = createRequire(join(carry, "dist", "index.js"))("onnxruntime-node");
  return { lib, providers, ort };
}

const firstLine = (e) =>
  String(e?.message ?? e)
    .split("\n")[0]
    .trim();

/** Dawn, the WebGPU under onnxruntime, loads libvulkan.so.1; unpack the carried loader into / where the machine has none. */
function ensureLoader(carry, log) {
  const have = spawnSync("sh", ["-c", "ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '"]).status === 0;
  if (have) return log("vulkan loader: libvulkan.so.1 is installed");
  const debs = existsSync(join(carry, "gl")) ? readdirSync(join(carry, "gl")).filter((f) => f.endsWith(".deb")) : [];
  if (!debs.length) return log("vulkan loader: none installed and none carried (prepare without --no-gl carries it)");
  if (process.getuid?.() !== 0) return log("vulkan loader: none installed; unpacking the carried one into / needs root");
  for (const f of debs) execFileSync("dpkg", ["-x", join(carry, "gl", f), "/"]);
  spawnSync("ldconfig");
  log(`vulkan loader: unpacked ${debs.join(", ")} into /`);
}

/** The Vulkan ICD files of the loader's usual folders, with each one's driver library. */
function icdFiles(list) {
  const files =
    list ?? ICD_DIRS.flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : [])).filter((f) => f.endsWith(".json"));
  return files.map((file) => {
    let library = "?";
    try {
      library = readJson(file).ICD?.library_path ?? "?";
      // a relative path with a slash is relative to the ICD file, as the loader reads it; a bare name is dlopen's
      if (library.includes("/") && !isAbsolute(library)) library = resolve(dirname(file), library);
    } catch {
      // an unreadable ICD file: the loader skips it too
    }
    return { file, library, software: SOFTWARE_DRIVER.test(basename(library)) || SOFTWARE_DRIVER.test(basename(file)) };
  });
}

/**
 * The environment of the WebGPU processes: the caller's VK_ICD_FILENAMES or VK_DRIVER_FILES where set;
 * else the hardware drivers only (software ones with --allow-software), so that onnxruntime cannot pick
 * a software adapter beside a GPU; and an XDG_RUNTIME_DIR of mode 0700, which Dawn wants.
 */
function vulkanEnv(allowSoftware) {
  const env = { ...process.env };
  if (!env.XDG_RUNTIME_DIR || !existsSync(env.XDG_RUNTIME_DIR)) env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), "gpu-check-xdg-"));
  const given = env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES;
  if (given) return { env, icds: icdFiles(given.split(":").filter(Boolean)), left: [], how: "as given" };
  const icds = icdFiles();
  const hardware = icds.filter((i) => !i.software);
  if (!allowSoftware && hardware.length) {
    env.VK_DRIVER_FILES = hardware.map((i) => i.file).join(":");
    return { env, icds: hardware, left: icds.filter((i) => i.software), how: "hardware drivers only" };
  }
  return { env, icds, left: [], how: "the loader's default" };
}

/** vulkaninfo --summary (installed, or the carried one unpacked into a temporary folder): its text and devices, or why not. */
function vulkaninfo(carry, env) {
  let exe = spawnSync("sh", ["-c", "command -v vulkaninfo"], { encoding: "utf8" }).stdout.trim();
  const runEnv = { ...env };
  const tools = join(carry, "gl", "tools");
  let prefix;
  if (!exe && existsSync(tools)) {
    prefix = mkdtempSync(join(tmpdir(), "gpu-check-vk-"));
    try {
      for (const f of readdirSync(tools).filter((f) => f.endsWith(".deb")))
        execFileSync("dpkg", ["-x", join(tools, f), prefix], { stdio: "ignore" });
    } catch (e) {
      rmSync(prefix, { recursive: true, force: true });
      return { why: `the carried vulkaninfo could not be unpacked (${firstLine(e)})` };
    }
    exe = join(prefix, "usr", "bin", "vulkaninfo");
    runEnv.LD_LIBRARY_PATH = [join(prefix, "usr", "lib", "x86_64-linux-gnu"), env.LD_LIBRARY_PATH].filter(Boolean).join(":");
  }
  if (!exe || !existsSync(exe)) return { why: "no vulkaninfo (not installed, none carried)" };
  const r = spawnSync(exe, ["--summary"], { env: runEnv, encoding: "utf8", timeout: 60000 });
  if (prefix) rmSync(prefix, { recursive: true, force: true });
  const text = `${r.stdout ?? ""}${r.stderr ? `\n[stderr]\n${r.stderr}` : ""}`;
  const devices = [];
  for (const block of (r.stdout ?? "").split(/^GPU\d+:$/m).slice(1)) {
    const field = (k) => new RegExp(`^\\s*${k}\\s*=\\s*(.*)$`, "m").exec(block)?.[1]?.trim() ?? "?";
    devices.push({
      name: field("deviceName"),
      type: field("deviceType").replace(/^PHYSICAL_DEVICE_TYPE_/, ""),
      driver: field("driverName"),
    });
  }
  if (r.status === 0 && devices.length) return { text, devices };
  if (/Failed to detect any valid GPUs|ERROR_INITIALIZATION_FAILED|ERROR_INCOMPATIBLE_DRIVER/.test(text)) return { text, devices: [] };
  return { text, why: `vulkaninfo failed (${r.error ? r.error.message : `exit ${r.status}`})` };
}

const isHardware = (d) => d.type !== "CPU" && !SOFTWARE_DEVICE.test(d.name) && !SOFTWARE_DEVICE.test(d.driver);

/** Run a child of this script with the carried Node and the Vulkan environment; resolves with its exit code and stderr. */
function child(args, env, killAfterMs) {
  return new Promise((done) => {
    const c = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => c.kill("SIGKILL"), killAfterMs);
    c.on("close", (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, out, err });
    });
  });
}

/** A webgpu session on a two-class batch, in a child (without an adapter, Dawn's own lines go to its stderr). */
async function probe(carry, env) {
  const r = await child(["_probe", "--carry", carry], env, 120000);
  try {
    return JSON.parse(r.out.trim().split("\n").pop());
  } catch {
    return { error: `the probe exited ${r.code ?? r.signal}: ${r.err.trim().split("\n").slice(-1)[0] ?? ""}` };
  }
}

async function probeChild(flags) {
  const { lib } = await loadCarry(resolve(flags.carry));
  try {
    const ev = await lib.createEvaluator(lib.buildLoss("cross_entropy"), { ep: "webgpu" });
    const out = await ev.run({
      input: { dims: [1, 2], data: new Float32Array([0, 0]) },
      target: { dims: [1], data: new BigInt64Array([0n]) },
    });
    const provider = ev.provider;
    await ev.release();
    console.log(JSON.stringify({ provider, loss: Number(out.loss.data[0]) }));
  } catch (e) {
    console.log(JSON.stringify({ error: firstLine(e) }));
  }
}

/** Which adapter the webgpu provider gets, or the one-line refusal. */
async function findAdapter(carry, allowSoftware, log) {
  const { env, icds, left, how } = vulkanEnv(allowSoftware);
  const lines = [
    `Vulkan drivers (${how}): ${icds.map((i) => `${i.file} -> ${i.library}${i.software ? " (software)" : ""}`).join("; ") || "none found"}`,
  ];
  const vi = vulkaninfo(carry, env);
  if (vi.devices) lines.push(`vulkaninfo: ${vi.devices.map((d) => `${d.name} [${d.type}, ${d.driver}]`).join("; ") || "no device"}`);
  else lines.push(`vulkaninfo: ${vi.why}`);
  for (const l of lines) log(l);
  const report = (extra) => [...lines, ...extra, "", vi.text ?? ""].join("\n");
  let hardware;
  let name;
  if (vi.devices) {
    const hw = vi.devices.filter(isHardware);
    hardware = hw.length > 0;
    name = (hw.length ? hw : vi.devices).map((d) => d.name).join(", ");
    if (!hardware && !allowSoftware) {
      const detail = vi.devices.length
        ? `vulkaninfo lists only ${vi.devices.map((d) => `${d.name} (${d.type === "CPU" ? "a CPU device" : d.type})`).join(", ")}; --allow-software runs on it anyway`
        : `vulkaninfo lists no device${left.length ? ` (software drivers left out: ${left.map((i) => basename(i.file)).join(", ")}; --allow-software uses them)` : ""}`;
      return { refusal: `no Vulkan GPU adapter: ${detail}`, report: report([]) };
    }
  } else {
    hardware = icds.length > 0 && icds.every((i) => !i.software);
    name = icds.map((i) => basename(i.library)).join(", ");
    if (icds.length && !hardware && !allowSoftware)
      return {
        refusal: `no Vulkan GPU adapter: only software Vulkan drivers (${icds.map((i) => i.library).join(", ")}); --allow-software runs on them anyway`,
        report: report([]),
      };
  }
  const p = await probe(carry, env);
  log(`probe on webgpu: ${p.error ? p.error : `ran on ${p.provider}, loss ${p.loss}`}`);
  if (p.error || p.provider !== "webgpu") {
    const why = p.error ?? `ran on ${p.provider}`;
    if (hardware) return { failure: `the webgpu provider failed on ${name}: ${why}`, report: report([`probe: ${why}`]) };
    return { refusal: `no Vulkan GPU adapter: onnxruntime's webgpu provider found none (${why})`, report: report([`probe: ${why}`]) };
  }
  return { env, name, hardware, report: report([`probe: ran on webgpu, loss ${p.loss} (log 2 = ${Math.log(2)})`]) };
}

// ------------------------------------------------------------------------------------ the fixtures

const num = Number;

/** Index of the first element outside tolerance, or -1; NaN matches NaN, an infinity the same infinity (test/helpers.ts). */
function firstMismatch(got, want, rtol = RTOL) {
  if (got.length !== want.length) return 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if ((Number.isNaN(w) && Number.isNaN(g)) || g === w) continue;
    if (!(Math.abs(g - w) <= rtol * Math.max(1, Math.abs(w)))) return i;
  }
  return -1;
}

function fixtureFileList(only) {
  const all = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json") && f !== "samples.json")
    .sort();
  // float16.json needs WebGPU's shader-f16, which the software adapter lacks; the webgpu suites leave it out too
  const usual = all.filter((f) => f !== "float16.json");
  if (!only) return usual;
  const asked = only
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const f of asked)
    if (!usual.includes(f)) throw new Refusal(`gpu-check: --only: no fixture file ${JSON.stringify(f)}; files are ${usual.join(", ")}`);
  return asked;
}

/**
 * The checks: every case of each file, for each lowering, forward and (where test/fixtures/grad has the
 * file) with input_grad, as test/webgpu/jobs.ts builds them; jobs of one graph adjacent.
 */
function fixtureJobs(files, maxCases) {
  const jobs = [];
  for (const file of files) {
    const cases = readJson(join(FIXTURES, file)).cases.slice(0, maxCases);
    const hasGrad = existsSync(join(FIXTURES, "grad", file));
    for (const lowering of ["none", "webgpu"]) {
      for (const gradient of hasGrad ? [false, true] : [false]) {
        const group = cases.map((c, k) => ({
          id: `${file} #${k} ${c.id} [${lowering === "webgpu" ? "lowered" : "default"}${gradient ? ", input_grad" : ""}]`,
          file,
          k,
          lowering,
          gradient,
          key: JSON.stringify([c.loss, c.options, lowering, gradient]),
        }));
        const order = new Map();
        for (const j of group) if (!order.has(j.key)) order.set(j.key, order.size);
        jobs.push(...group.sort((a, b) => order.get(a.key) - order.get(b.key)));
      }
    }
  }
  return jobs;
}

const fixtureCache = new Map();
function fixtureCase(file, k) {
  if (!fixtureCache.has(file)) {
    const grad = join(FIXTURES, "grad", file);
    fixtureCache.set(file, { cases: readJson(join(FIXTURES, file)).cases, grads: existsSync(grad) ? readJson(grad).cases : undefined });
  }
  const { cases, grads } = fixtureCache.get(file);
  return { c: cases[k], grad: grads?.[k] };
}

const typed = (t) => {
  if (t.dtype === "int64") return BigInt64Array.from(t.data, (v) => BigInt(v));
  if (t.dtype === "int32") return Int32Array.from(t.data, num);
  if (t.dtype === "float64") return Float64Array.from(t.data, num);
  return Float32Array.from(t.data, num);
};
const feedsOf = (c) => Object.fromEntries(Object.entries(c.inputs).map(([n, t]) => [n, { dims: t.dims, data: typed(t) }]));
const plain = (v) => (Number.isFinite(v) ? v : String(v));
const modelOf = (lib, job, c) =>
  lib.buildLoss(c.loss, { ...c.options, ...(job.gradient ? { gradient: true } : {}) }, { lowering: job.lowering }).model;

/** The child: evaluate its jobs on `ep` until the deadline, one evaluator per run of jobs of one graph. */
async function evalChild(flags) {
  const { lib } = await loadCarry(resolve(flags.carry));
  const { deadline, ep, jobs } = readJson(flags.jobs);
  const results = [];
  let ev;
  let evKey;
  const release = async () => {
    if (ev) await ev.release().catch(() => {});
    ev = undefined;
    evKey = undefined;
  };
  for (const job of jobs) {
    if (Date.now() > deadline) {
      results.push({ id: job.id, skipped: "deadline" });
      continue;
    }
    try {
      const { c } = fixtureCase(job.file, job.k);
      if (evKey !== job.key) {
        await release();
        ev = await lib.createEvaluator(modelOf(lib, job, c), { ep, what: job.id });
        evKey = job.key;
      }
      const out = await ev.run(feedsOf(c));
      const outputs = {};
      for (const [name, t] of Object.entries(out)) outputs[name] = { dims: t.dims, data: Array.from(t.data, (v) => plain(Number(v))) };
      results.push({ id: job.id, provider: ev.provider, outputs });
    } catch (e) {
      results.push({ id: job.id, error: firstLine(e) });
      await release();
    }
  }
  await release();
  writeFileSync(flags.results, JSON.stringify(results));
}

/** Split jobs into `n` contiguous parts at graph boundaries, so that a graph's jobs share one child's session. */
function shardsOf(jobs, n) {
  const parts = Array.from({ length: n }, () => []);
  const size = Math.ceil(jobs.length / n);
  let k = 0;
  jobs.forEach((j, i) => {
    if (parts[k].length >= size && j.key !== jobs[i - 1].key && k < n - 1) k++;
    parts[k].push(j);
  });
  return parts.filter((p) => p.length);
}

/** Evaluate jobs in children on `ep`; every job gets a result (an error where its child died). */
async function evaluate(carry, jobs, ep, shards, deadline, env, scratch, tag) {
  const parts = shardsOf(jobs, shards);
  const outs = await Promise.all(
    parts.map(async (part, i) => {
      const jobsFile = join(scratch, `${tag}-${i}.jobs.json`);
      const resultsFile = join(scratch, `${tag}-${i}.results.json`);
      writeFileSync(jobsFile, JSON.stringify({ deadline, ep, jobs: part }));
      const r = await child(["_eval", "--carry", carry, "--jobs", jobsFile, "--results", resultsFile], env, deadline - Date.now() + 60000);
      if (r.code === 0 && existsSync(resultsFile)) return readJson(resultsFile);
      const why = `its child exited ${r.code ?? r.signal}: ${r.err.trim().split("\n").slice(-1)[0] ?? ""}`;
      return part.map((j) => ({ id: j.id, error: why }));
    }),
  );
  return outs.flat();
}

/** One line per job whose outputs are not PyTorch's (test/webgpu/jobs.ts's mismatches), with the CPU's value where autograd is NaN. */
function compare(jobs, results, cpuLimits, provider) {
  const byId = new Map(results.map((r) => [r.id, r]));
  const failures = [];
  const failed = new Set();
  const skipped = new Set();
  const fail = (job, line) => {
    failures.push(`${job.id}: ${line}`);
    failed.add(job.id);
  };
  for (const job of jobs) {
    const r = byId.get(job.id);
    if (!r) {
      fail(job, "no result");
      continue;
    }
    if (r.skipped) {
      skipped.add(job.id);
      continue;
    }
    if (r.error !== undefined || !r.outputs) {
      fail(job, r.error);
      continue;
    }
    if (r.provider !== provider) fail(job, `ran on ${r.provider}, not ${provider}`);
    const { c, grad } = fixtureCase(job.file, job.k);
    const want = { loss: { dims: c.expected.dims, data: c.expected.data.map(num) } };
    if (job.gradient) {
      const limit = cpuLimits.get(job.id);
      const autograd = grad.input_grad.data.map(num);
      want.input_grad = { dims: c.inputs.input.dims, data: autograd.map((w, i) => (Number.isNaN(w) && limit ? limit[i] : w)) };
    }
    for (const [name, w] of Object.entries(want)) {
      const got = r.outputs[name];
      if (!got) {
        fail(job, `no output ${name}`);
        continue;
      }
      const values = got.data.map(num);
      const i = firstMismatch(values, w.data);
      if (i >= 0 || got.dims.join() !== w.dims.join())
        fail(job, `${name}[${i}] = ${values[i]}, PyTorch ${w.data[i]} (dims ${got.dims} vs ${w.dims})`);
    }
  }
  return { failures, failed, skipped };
}

/**
 * Where autograd is NaN (focal losses with gamma < 1 at p_t = 1) the graph must give the closed form's
 * finite limit; test/gradient_parity.test.ts checks the CPU provider's value of the same graph against
 * it, so that value stands in for it here.
 */
async function cpuLimits(lib, jobs) {
  const limits = new Map();
  for (const job of jobs.filter((j) => j.gradient)) {
    const { c, grad } = fixtureCase(job.file, job.k);
    if (!grad.input_grad.data.map(num).some(Number.isNaN)) continue;
    const ev = await lib.createEvaluator(modelOf(lib, job, c), { ep: "cpu" });
    const out = await ev.run(feedsOf(c));
    await ev.release();
    limits.set(job.id, Array.from(out.input_grad.data, Number));
  }
  return limits;
}

/** `eval --ep webgpu` of the built CLI on samples.json's cross_entropy batch, default and lowered: PyTorch's value, and an empty stderr. */
function cliChecks(lib, carry, env, scratch) {
  const sample = readJson(join(FIXTURES, "samples.json")).cases.find((s) => s.loss === "cross_entropy");
  const x = sample.inputs.input;
  const t = sample.inputs.target;
  writeFileSync(join(scratch, "x.npy"), lib.encodeNpy({ dtype: "float32", dims: x.dims, data: Float32Array.from(x.data, num) }));
  writeFileSync(
    join(scratch, "t.npy"),
    lib.encodeNpy({ dtype: "int64", dims: t.dims, data: BigInt64Array.from(t.data, (v) => BigInt(v)) }),
  );
  const checks = [];
  for (const lowering of [[], ["--lowering", "webgpu"]]) {
    const id = `cli: eval cross_entropy --ep webgpu${lowering.length ? " --lowering webgpu" : ""}`;
    const cli = join(carry, "dist", "cli", "main.js");
    const args = [
      cli,
      "eval",
      "cross_entropy",
      "--input",
      "input=x.npy",
      "--input",
      "target=t.npy",
      "--ep",
      "webgpu",
      "--json",
      ...lowering,
    ];
    const r = spawnSync(process.execPath, args, { cwd: scratch, env, encoding: "utf8", timeout: 120000 });
    let problem;
    if (r.status !== 0 || r.stderr !== "") problem = `exit ${r.status}, stderr ${JSON.stringify((r.stderr ?? "").slice(0, 300))}`;
    else {
      const got = JSON.parse(r.stdout).outputs.loss.data;
      if (firstMismatch(got, sample.expected.data.map(num)) >= 0) problem = `loss ${got}, PyTorch ${sample.expected.data}`;
    }
    checks.push({ id, ok: !problem, problem });
  }
  return checks;
}

// ------------------------------------------------------------------------------------------ bench

function parseSizes(text) {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^(\d+)x(\d+)$/.exec(s);
      if (!m || Number(m[1]) < 1 || Number(m[2]) < 2)
        throw new Refusal(`gpu-check: --sizes: expected NxC with N >= 1 and C >= 2, received ${JSON.stringify(s)}`);
      return [Number(m[1]), Number(m[2])];
    });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Seeded logits in [-4, 4] and the targets of each loss family, as bench/src/workloads.ts makes them. */
function benchData(lib, N, C) {
  const r = lib.seededRandom(1);
  const size = N * C;
  const logits = new Float32Array(size);
  for (let i = 0; i < size; i++) logits[i] = (r() * 2 - 1) * 4;
  const logProbs = new Float32Array(size);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[n * C + c]);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(logits[n * C + c] - m);
    const lse = m + Math.log(z);
    for (let c = 0; c < C; c++) logProbs[n * C + c] = logits[n * C + c] - lse;
  }
  const probs = logits.map((v) => 1 / (1 + Math.exp(-v)));
  const index = BigInt64Array.from({ length: N }, () => BigInt(Math.floor(r() * C)));
  const binary = Float32Array.from({ length: size }, () => (r() < 0.1 ? 1 : 0));
  return { logits, logProbs, probs, index, binary };
}

/** Medians of interleaved session.run calls (each round runs every runner once, the order rotating), within `ms`. */
async function timeRunners(runners, ms) {
  const times = runners.map(() => []);
  let perRound = 0;
  for (const r of runners) {
    const t0 = performance.now();
    r.value = await r.run();
    r.firstMs = performance.now() - t0;
    const t1 = performance.now();
    await r.run();
    perRound += performance.now() - t1;
  }
  const rounds = Math.max(3, Math.min(50, Math.floor(ms / Math.max(perRound, 1e-3))));
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (j + round) % runners.length;
      const t0 = performance.now();
      await runners[i].run();
      times[i].push(performance.now() - t0);
    }
  }
  return { rounds, medians: times.map(median) };
}

/** This project's graphs, webgpu (default and lowered) against cpu, on each size and loss. */
async function bench({ lib, providers, ort }, sizes, losses, groupMs, deadline, log) {
  const rows = [];
  for (const [N, C] of sizes) {
    const d = benchData(lib, N, C);
    for (const loss of losses) {
      const size = `${N} x ${C}`;
      if (Date.now() > deadline) {
        rows.push({ size, loss, note: "not run: deadline" });
        continue;
      }
      const options = loss.includes("focal") ? { alpha: 0.25, gamma: 2 } : {};
      const input = loss === "nll_loss" ? d.logProbs : loss === "binary_cross_entropy" ? d.probs : d.logits;
      const x = new ort.Tensor("float32", input, [N, C]);
      // class indices as the graph declares them: int64, or int32 in the lowered graphs
      const targets = SIGMOID.includes(loss)
        ? { float32: new ort.Tensor("float32", d.binary, [N, C]) }
        : { int64: new ort.Tensor("int64", d.index, [N]), int32: new ort.Tensor("int32", Int32Array.from(d.index, Number), [N]) };
      const variants = [
        ["cpu", "cpu", "none"],
        ["webgpu", "webgpu", "none"],
        ["webgpu lowered", "webgpu", "webgpu"],
      ];
      const runners = [];
      try {
        for (const [label, ep, lowering] of variants) {
          const graph = lib.buildLoss(loss, options, { lowering });
          const feeds = { input: x, target: targets[graph.inputs.find((i) => i.name === "target").dtype] };
          const session = await ort.InferenceSession.create(graph.model, providers.sessionOptionsFor(ep));
          runners.push({ label, session, run: async () => Number((await session.run(feeds)).loss.data[0]) });
        }
        const { rounds, medians } = await timeRunners(runners, groupMs);
        const cpu = runners[0].value;
        const rel = (v) => Math.abs(v - cpu) / Math.max(1, Math.abs(cpu));
        const row = {
          size,
          loss,
          cpuMs: medians[0],
          webgpuMs: medians[1],
          webgpuLoweredMs: medians[2],
          firstRunMs: Object.fromEntries(runners.map((r) => [r.label, r.firstMs])),
          rounds,
          loss_values: Object.fromEntries(runners.map((r) => [r.label, r.value])),
          maxRelDiffVsCpu: Math.max(rel(runners[1].value), rel(runners[2].value)),
        };
        rows.push(row);
        log(
          `bench ${size} ${loss}: cpu ${row.cpuMs.toFixed(3)} ms, webgpu ${row.webgpuMs.toFixed(3)} ms, lowered ${row.webgpuLoweredMs.toFixed(3)} ms`,
        );
      } catch (e) {
        rows.push({ size, loss, note: `failed: ${firstLine(e)}` });
        log(`bench ${size} ${loss}: failed: ${firstLine(e)}`);
      } finally {
        for (const r of runners) await r.session.release();
      }
    }
  }
  return rows;
}

// ------------------------------------------------------------------------------------------ report

const ms = (v) => (v === undefined ? "" : v < 1 ? v.toFixed(3) : v.toFixed(2));

function markdown(res) {
  const out = [
    `# gpu-check on ${res.adapter.name}`,
    "",
    `${res.date}; ${res.machine.cpu}, ${res.machine.cores} CPUs; Node ${res.machine.node}; onnxruntime-node ${res.machine.onnxruntime}.`,
  ];
  if (!res.adapter.hardware) out.push("", "**A software adapter (--allow-software): these numbers say nothing about a GPU.**");
  const f = res.fixtures;
  out.push(
    "",
    "## Fixtures on webgpu",
    "",
    `${f.passed} of ${f.jobs} checks equal PyTorch at 1e-5 (default and lowered graphs, loss and input_grad); ${f.failed} failed, ${f.notRun} not run.`,
  );
  out.push("", "| file | checks | passed |", "|---|---|---|");
  for (const [file, s] of Object.entries(f.byFile)) out.push(`| ${file} | ${s.jobs} | ${s.passed} |`);
  for (const c of res.cli) out.push("", `${c.ok ? "ok" : "FAILED"}: ${c.id}${c.problem ? ` (${c.problem})` : ""}`);
  if (f.failures.length) out.push("", "Failures (first 50):", "", ...f.failures.slice(0, 50).map((l) => `- ${l}`));
  if (res.bench.length) {
    out.push("", "## webgpu against cpu (median ms of interleaved session.run, inputs from and outputs to host memory)", "");
    out.push(
      "| size | loss | cpu | webgpu | webgpu lowered | webgpu / cpu | first run webgpu | max rel diff vs cpu |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const r of res.bench) {
      if (r.note) out.push(`| ${r.size} | ${r.loss} | ${r.note} | | | | | |`);
      else
        out.push(
          `| ${r.size} | ${r.loss} | ${ms(r.cpuMs)} | ${ms(r.webgpuMs)} | ${ms(r.webgpuLoweredMs)} | ${(r.webgpuMs / r.cpuMs).toFixed(2)}x | ${ms(r.firstRunMs.webgpu)} | ${r.maxRelDiffVsCpu.toExponential(1)} |`,
        );
    }
  }
  return `${out.join("\n")}\n`;
}

async function device(flags) {
  const t0 = Date.now();
  const deadlineS = flags["deadline-s"] === undefined ? DEFAULT_DEADLINE_S : Number(flags["deadline-s"]);
  if (!(deadlineS > 0))
    throw new Refusal(`gpu-check: --deadline-s: expected a positive number, received ${JSON.stringify(flags["deadline-s"])}`);
  const deadline = t0 + deadlineS * 1000;
  const out = flags.out ?? process.env.OUT;
  if (!out) throw new Refusal("gpu-check: device: no --out and no $OUT to write the results under");
  const carry = resolve(flags.carry ?? join(ROOT, DEFAULT_DIR));
  if (!existsSync(join(carry, "dist", "index.js")) || !existsSync(join(carry, ORT_BIN, "libonnxruntime.so.1")))
    throw new Refusal(
      `gpu-check: device: ${carry} is not an unpacked carry; run prepare, and start the device part with sh ${DEFAULT_DIR}/run.sh`,
    );
  const maxCases = flags["max-cases"] === undefined ? undefined : Number(flags["max-cases"]);
  if (maxCases !== undefined && !(Number.isInteger(maxCases) && maxCases > 0))
    throw new Refusal(`gpu-check: --max-cases: expected an integer >= 1, received ${JSON.stringify(flags["max-cases"])}`);
  const shards = flags.shards === undefined ? Math.max(1, Math.min(8, availableParallelism())) : Number(flags.shards);
  if (!(Number.isInteger(shards) && shards > 0))
    throw new Refusal(`gpu-check: --shards: expected an integer >= 1, received ${JSON.stringify(flags.shards)}`);
  const groupMs = flags["group-ms"] === undefined ? 1500 : Number(flags["group-ms"]);
  if (!(groupMs > 0)) throw new Refusal(`gpu-check: --group-ms: expected a positive number, received ${JSON.stringify(flags["group-ms"])}`);
  const sizes = flags.bench === false ? [] : parseSizes(flags.sizes ?? DEFAULT_SIZES);
  const losses = (flags.losses ?? [...SOFTMAX, ...SIGMOID].join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const l of losses)
    if (![...SOFTMAX, ...SIGMOID].includes(l))
      throw new Refusal(`gpu-check: --losses: unknown loss ${JSON.stringify(l)}; losses are ${[...SOFTMAX, ...SIGMOID].join(", ")}`);
  const files = fixtureFileList(flags.only);

  mkdirSync(out, { recursive: true });
  const logFile = join(out, "gpu-check.log");
  writeFileSync(logFile, "");
  const log = (line) => {
    console.log(line);
    appendFileSync(logFile, `${line}\n`);
  };
  ensureLoader(carry, log);
  const adapter = await findAdapter(carry, flags["allow-software"] === true, log);
  writeFileSync(join(out, "adapter.txt"), `${adapter.report}\n`);
  if (adapter.refusal) {
    appendFileSync(logFile, `gpu-check: ${adapter.refusal}\n`);
    throw new Refusal(`gpu-check: ${adapter.refusal}`);
  }
  if (adapter.failure) {
    appendFileSync(logFile, `gpu-check: ${adapter.failure}\n`);
    console.error(`gpu-check: ${adapter.failure}`);
    return 1;
  }
  log(`adapter: ${adapter.name}${adapter.hardware ? "" : " (software, --allow-software)"}`);

  const carried = await loadCarry(carry);
  const scratch = mkdtempSync(join(tmpdir(), "gpu-check-run-"));
  const jobs = fixtureJobs(files, maxCases);
  const benchReserve = sizes.length ? Math.min((deadline - Date.now()) / 3, sizes.length * losses.length * (groupMs + 2000)) : 0;
  log(`fixtures: ${jobs.length} checks from ${files.length} files in ${Math.min(shards, jobs.length)} children`);
  const results = await evaluate(carry, jobs, "webgpu", shards, deadline - benchReserve, adapter.env, scratch, "webgpu");
  const { failures, failed: failedIds, skipped } = compare(jobs, results, await cpuLimits(carried.lib, jobs), "webgpu");
  const cli = Date.now() < deadline - benchReserve ? cliChecks(carried.lib, carry, adapter.env, scratch) : [];
  const byFile = {};
  for (const j of jobs) {
    byFile[j.file] ??= { jobs: 0, passed: 0 };
    byFile[j.file].jobs++;
    if (!failedIds.has(j.id) && !skipped.has(j.id)) byFile[j.file].passed++;
  }
  const passed = Object.values(byFile).reduce((s, f) => s + f.passed, 0);
  log(`fixtures: ${passed} of ${jobs.length} passed, ${failedIds.size} failed, ${skipped.size} not run (deadline)`);
  for (const c of cli) log(`${c.ok ? "ok" : "FAILED"}: ${c.id}${c.problem ? ` (${c.problem})` : ""}`);
  if (skipped.size) {
    const late = [...new Set(jobs.filter((j) => skipped.has(j.id)).map((j) => j.file))];
    log(`not run before the deadline: checks of ${late.join(", ")}; a second call with --only ${late.join(",")} --no-bench covers them`);
  }
  const ortVersion = readJson(join(carry, "node_modules", "onnxruntime-node", "package.json")).version;
  const res = {
    tool: "scripts/gpu-check.mjs",
    date: new Date().toISOString(),
    adapter: { name: adapter.name, hardware: adapter.hardware, allowSoftware: flags["allow-software"] === true },
    machine: {
      cpu: cpus()[0]?.model ?? "?",
      cores: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      onnxruntime: ortVersion,
    },
    fixtures: { files, jobs: jobs.length, passed, failed: failedIds.size, notRun: skipped.size, byFile, failures },
    cli,
    bench: [],
    seconds: 0,
  };
  const write = () => {
    res.seconds = Math.round((Date.now() - t0) / 100) / 10;
    writeFileSync(join(out, "results.json"), `${JSON.stringify(res, null, 2)}\n`);
    writeFileSync(join(out, "results.md"), markdown(res));
  };
  write(); // the fixtures' results stay even if the bench is cut off
  if (sizes.length) {
    res.bench = await bench(carried, sizes, losses, groupMs, deadline, log);
    write();
  }
  rmSync(scratch, { recursive: true, force: true });
  const cliPassed = cli.filter((c) => c.ok).length;
  const benchMissing = res.bench.filter((r) => r.note).length;
  const apart = res.bench.filter((r) => r.maxRelDiffVsCpu > RTOL).length;
  const ok = failedIds.size === 0 && skipped.size === 0 && cliPassed === 2;
  log(
    `gpu-check: ${passed} of ${jobs.length} fixture checks equal PyTorch on webgpu (${adapter.name}), ${failedIds.size} failed, ${skipped.size} not run; ` +
      `CLI ${cli.length ? `${cliPassed} of 2` : "not run"}; bench ${res.bench.length - benchMissing} of ${sizes.length * losses.length} rows` +
      `${apart ? ` (${apart} with webgpu's loss more than 1e-5 from cpu's)` : ""}; ` +
      `wrote results.json and results.md in ${out}`,
  );
  return ok ? 0 : 1;
}

// -------------------------------------------------------------------------------------------- main

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  dir: { type: "string" },
  "no-gl": { type: "boolean" },
  "budget-mib": { type: "string" },
  out: { type: "string" },
  carry: { type: "string" },
  "allow-software": { type: "boolean" },
  only: { type: "string" },
  "max-cases": { type: "string" },
  sizes: { type: "string" },
  losses: { type: "string" },
  "group-ms": { type: "string" },
  "no-bench": { type: "boolean" },
  "deadline-s": { type: "string" },
  shards: { type: "string" },
  jobs: { type: "string" },
  results: { type: "string" },
};

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new Refusal(`gpu-check: ${firstLine(e)} (--help for the flags)`);
  }
  const flags = { ...parsed.values };
  if (flags["no-gl"]) flags.gl = false;
  if (flags["no-bench"]) flags.bench = false;
  const [command, ...rest] = parsed.positionals;
  if (flags.help || command === "help" || command === undefined) {
    console.log(USAGE);
    return command === undefined && !flags.help ? 2 : 0;
  }
  if (rest.length) throw new Refusal(`gpu-check: unexpected argument ${JSON.stringify(rest[0])} (--help for the usage)`);
  if (command === "prepare") {
    for (const line of await prepare(flags)) console.log(line);
    return 0;
  }
  if (command === "device") return device(flags);
  if (command === "_probe") return (await probeChild(flags)) ?? 0;
  if (command === "_eval") return (await evalChild(flags)) ?? 0;
  throw new Refusal(`gpu-check: unknown command ${JSON.stringify(command)}; commands are prepare, device (--help for the usage)`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof Refusal) {
    console.error(e.message);
    process.exitCode = 2;
  } else {
    console.error(`gpu-check: internal error: ${e?.stack ?? e}`);
    process.exitCode = 1;
  }
}
