#!/usr/bin/env node
/** Entry of the benchmark (`npm run bench -- [flags]`, `--help` for them); see program.ts. */
import { processIo } from "../../src/cli/io.js";
import { runBenchCli } from "./program.js";

process.exitCode = await runBenchCli(process.argv.slice(2), processIo);
