// tsc does not copy the protobufjs module generated from onnx.proto (plain JS + .d.ts): copy it into the
// compiled copy of src/. Usage: copy-generated.cjs [OUT] with OUT the folder src/ compiles to (default
// dist; the benchmark's build passes bench/dist/src).
const fs = require("node:fs");
const path = require("node:path");
const root = path.join(__dirname, "..");
const from = path.join(root, "src", "onnx", "generated");
const to = path.join(root, process.argv[2] ?? "dist", "onnx", "generated");
fs.mkdirSync(to, { recursive: true });
for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
