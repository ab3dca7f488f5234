/**
 * The package as users get it, for the consumer tests: `npm pack` of the repository into a folder, with
 * the environment of a user's shell.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./helpers.js";

/**
 * The environment of a user's shell: none of the npm_config_* values that `npm test` passes down (the
 * repo's .npmrc setting among them, which a consumer does not have), onnxruntime-node's CUDA download
 * skipped, no audit, fund or update notices.
 */
export const USER_ENV: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  ONNXRUNTIME_NODE_INSTALL: "skip",
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
};

/** `npm pack` of the repository into `dir`; the tarball's path. */
export function packInto(dir: string): string {
  const out = execFileSync("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: ROOT, env: USER_ENV, encoding: "utf8" });
  return join(dir, out.trim().split("\n").pop()!);
}
