// tsc does not copy the protobufjs module generated from onnx.proto (plain JS + .d.ts): copy it into dist.
const fs = require("node:fs");
const path = require("node:path");
const from = path.join(__dirname, "..", "src", "onnx", "generated");
const to = path.join(__dirname, "..", "dist", "onnx", "generated");
fs.mkdirSync(to, { recursive: true });
for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
