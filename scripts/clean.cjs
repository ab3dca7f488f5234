// Remove a build output folder before tsc writes it again, so that no file of a module since moved or
// deleted (e.g. the benchmark, once under src/) lingers there and ships. Usage: clean.cjs FOLDER
// (dist or bench/dist, relative to the repository root).
const fs = require("node:fs");
const path = require("node:path");
const folder = process.argv[2];
if (!folder || !["dist", "bench/dist"].includes(folder)) {
  console.error(`clean.cjs: expected dist or bench/dist, received ${JSON.stringify(folder)}`);
  process.exit(2);
}
fs.rmSync(path.join(__dirname, "..", folder), { recursive: true, force: true });
