// Rewrite the README's loss table from the catalogue (`onnx-losses list --markdown`): npm run readme.
// test/catalogue.test.ts fails when the README's table differs from what this writes.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { markdownTable } from "../dist/cli/commands/list.js";
import { CATALOGUE } from "../dist/index.js";

const README = join(dirname(fileURLToPath(import.meta.url)), "..", "README.md");
export const BEGIN = "<!-- loss table: generated from the catalogue by `npm run readme` (onnx-losses list --markdown); do not edit -->";
export const END = "<!-- end of loss table -->";

const text = readFileSync(README, "utf8");
const a = text.indexOf(BEGIN);
const b = text.indexOf(END);
if (a < 0 || b < a) throw new Error(`README.md: expected the markers ${BEGIN} and ${END}`);
writeFileSync(README, `${text.slice(0, a)}${BEGIN}\n${markdownTable(CATALOGUE)}\n${text.slice(b)}`);
console.log("README.md: loss table written");
