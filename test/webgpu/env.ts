/**
 * WebGPU on this machine class: a software adapter, SwiftShader's Vulkan driver as Debian's chromium
 * installs it (Debian's own Mesa lavapipe lacks features Dawn requires). onnxruntime-node's webgpu
 * provider finds it through VK_ICD_FILENAMES, and Dawn wants an XDG_RUNTIME_DIR of mode 0700. These
 * variables are set only for the child processes of the WebGPU suites, so every other test keeps
 * meaning "no adapter here". Chromium carries SwiftShader itself (--enable-unsafe-webgpu).
 *
 * ONNX_LOSSES_VK_ICD names another ICD file (a hardware GPU's, say); ONNX_LOSSES_REQUIRE_WEBGPU=1 (set
 * by .ci/run) makes a missing adapter a failure instead of a skip.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "@jest/globals";

export const WEBGPU_REQUIRED = process.env.ONNX_LOSSES_REQUIRE_WEBGPU === "1";

/** Where Debian's chromium puts SwiftShader's Vulkan ICD file, or why it is not there. */
export function swiftShaderIcd(): { icd?: string; why?: string } {
  const given = process.env.ONNX_LOSSES_VK_ICD;
  if (given) return existsSync(given) ? { icd: given } : { why: `ONNX_LOSSES_VK_ICD=${given}: no such file` };
  const usual = "/usr/lib/chromium/vk_swiftshader_icd.json";
  if (existsSync(usual)) return { icd: usual };
  try {
    const listed = execFileSync("dpkg", ["-L", "chromium-common"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const icd = listed.split("\n").find((l) => l.endsWith("/vk_swiftshader_icd.json"));
    if (icd) return { icd };
  } catch {
    // no dpkg, or no chromium-common
  }
  return { why: "no vk_swiftshader_icd.json (apt-get install -y chromium installs it)" };
}

/** The environment of a child process that may use WebGPU: VK_ICD_FILENAMES and a fresh 0700 XDG_RUNTIME_DIR. */
export function webgpuChildEnv(icd: string): NodeJS.ProcessEnv {
  return { ...process.env, VK_ICD_FILENAMES: icd, XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), "onnx-losses-xdg-")) };
}

/** One line naming the adapter the ICD file provides (its driver library), for the test output. */
export function describeIcd(icd: string): string {
  let library = "?";
  try {
    library = (JSON.parse(readFileSync(icd, "utf8")) as { ICD?: { library_path?: string } }).ICD?.library_path ?? "?";
  } catch {
    // an unreadable ICD file fails the suite later, when no adapter is found
  }
  return `Vulkan ICD ${icd} (driver ${library})`;
}

const found = swiftShaderIcd();
/** `describe` where an ICD is found (or WebGPU is required, as in CI), else `describe.skip`, saying why. */
export const nodeWebgpuSuite: (name: string, body: () => void) => void = found.icd || WEBGPU_REQUIRED ? describe : describe.skip;
if (!found.icd && !WEBGPU_REQUIRED) console.warn(`onnxruntime-node WebGPU tests skipped: ${found.why}`);
