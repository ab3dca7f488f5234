// Runs the CLI in this process and reports its exit code and peak RSS (for the 4 GB streaming test).
import { runCli } from "../../dist/cli/program.js";

let out = "";
const code = await runCli(process.argv.slice(2), { out: (t) => (out += t), err: () => {}, cwd: process.cwd() });
process.stdout.write(JSON.stringify({ code, out, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
