// Runs the CLI in this process and reports its exit code and peak RSS (for the 4 GB streaming test).
import { readFileSync } from "node:fs";
import { runCli } from "../../dist/cli/program.js";

let out = "";
const code = await runCli(process.argv.slice(2), { out: (t) => (out += t), err: () => {}, cwd: process.cwd() });
// the peak of this process's own memory: /proc's VmHWM where there is one. getrusage's maxrss keeps
// what the forked copy of the parent had at exec (the jest worker's RSS, which grows through the suite:
// it read 351 to 626 MiB for the same stream)
const status = (() => {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return "";
  }
})();
const hwm = /VmHWM:\s+(\d+)/.exec(status);
const maxRssMiB = (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024;
process.stdout.write(JSON.stringify({ code, out, maxRssMiB }));
