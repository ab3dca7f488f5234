// Rewrite the README's generated parts (npm run readme, after npm run build):
//  - the loss table of README.md, from the catalogue (`onnx-losses list --markdown`);
//  - the same table in README.zh-CN.md, with its header and PyTorch column in Chinese (ZH below);
//  - the CLI reference of docs/cli.md, from `node dist/cli/main.js <command> --help` for each command.
// test/catalogue.test.ts fails when README.md's table differs from what this writes, and
// test/readme.test.ts when the Chinese table or the CLI reference does.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { markdownTable } from "../dist/cli/commands/list.js";
import { CATALOGUE } from "../dist/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BEGIN = "<!-- loss table: generated from the catalogue by `npm run readme` (onnx-losses list --markdown); do not edit -->";
export const END = "<!-- end of loss table -->";
export const ZH_BEGIN =
  "<!-- loss table (zh-CN): generated from the catalogue by `npm run readme` (onnx-losses list --markdown, header and PyTorch column in Chinese); do not edit -->";
export const CLI_BEGIN =
  "<!-- CLI reference: generated from the CLI's own --help by `npm run readme`; test/readme.test.ts compares it with the live help; do not edit -->";
export const CLI_END = "<!-- end of CLI reference -->";

/** The Chinese header, and the Chinese of each PyTorch column text that is not a plain function name. */
const ZH_HEADER = "| 损失 | 对应的 PyTorch | 逐项公式（x 为 logits，p 为概率，y/t 为目标） | 选项（默认值） |";
const ZH = {
  "the article's FocalLoss (alpha defect fixed); gamma 0 and no alpha = F.cross_entropy":
    "文章的 FocalLoss（修正了 alpha 的缺陷）；gamma 为 0 且不设 alpha 时即 F.cross_entropy",
};

/** The catalogue's Markdown table with the header and the PyTorch column in Chinese. */
function zhTable(table) {
  const [, rule, ...rows] = table.split("\n");
  const out = rows.map((row) => {
    const m = /^(\| `[a-z0-9_]+` \| )(.*?)( \| `.*)$/.exec(row);
    if (!m) throw new Error(`README.zh-CN.md: cannot read the row ${row}`);
    const pytorch = m[2];
    if (/^[\w.]+$/.test(pytorch)) return row;
    if (!(pytorch in ZH)) throw new Error(`README.zh-CN.md: add the Chinese of "${pytorch}" to ZH in scripts/readme-table.mjs`);
    return `${m[1]}${ZH[pytorch]}${m[3]}`;
  });
  return [ZH_HEADER, rule, ...out].join("\n");
}

/** `onnx-losses <args> --help` as the built CLI prints it to a pipe (80 columns). */
const help = (args) => execFileSync(process.execPath, [join(ROOT, "dist", "cli", "main.js"), ...args, "--help"], { encoding: "utf8" });

/** The CLI reference: the top-level help, then each command's, each in a block marked with its command. */
function cliReference() {
  const top = help([]);
  const commands = [...top.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]).filter((c) => c !== "help");
  return [[], ...commands.map((c) => [c])]
    .map((args) => `<!-- help: onnx-losses ${[...args, "--help"].join(" ")} -->\n\`\`\`text\n${help(args).trimEnd()}\n\`\`\``)
    .join("\n\n");
}

function rewrite(file, begin, end, body) {
  const path = join(ROOT, file);
  const text = readFileSync(path, "utf8");
  const a = text.indexOf(begin);
  const b = text.indexOf(end, a);
  if (a < 0 || b < a) throw new Error(`${file}: expected the markers ${begin} and ${end}`);
  writeFileSync(path, `${text.slice(0, a)}${begin}\n${body}\n${text.slice(b)}`);
}

export { zhTable, cliReference };

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const table = markdownTable(CATALOGUE);
  rewrite("README.md", BEGIN, END, table);
  rewrite("README.zh-CN.md", ZH_BEGIN, END, zhTable(table));
  rewrite("docs/cli.md", CLI_BEGIN, CLI_END, cliReference());
  console.log("README.md and README.zh-CN.md: loss tables written; docs/cli.md: CLI reference written");
}
