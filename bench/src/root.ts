import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root: the nearest folder above this module with a package.json. The benchmark runs
 * from bench/src (under jest) and from its compiled copy in bench/dist/bench/src, at different depths.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`bench: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}
