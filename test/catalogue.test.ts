/**
 * Adding a loss is one file, one catalogue line and its fixtures (docs/adding-a-loss.md). This checks
 * that everything else follows from the catalogue: the CLI's list, the README's table, graphs/, and the
 * fixtures (every loss has its parity cases, a demo sample and float16 cases; none names an unknown
 * loss). The page's form is checked in Chromium (test/browser/page.test.ts, "the form covers the
 * catalogue").
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "@jest/globals";
import { markdownTable } from "../src/cli/commands/list.js";
import { runCli } from "../src/cli/program.js";
import { buildLoss, CATALOGUE, INPUT_KINDS, LOSS_NAMES } from "../src/losses/index.js";
import { fixtureFiles, FIXTURES, loadFixtures, ROOT } from "./helpers.js";

async function listJson(): Promise<{ name: string; options: { name: string }[] }[]> {
  let out = "";
  const code = await runCli(["list", "--json"], { out: (t) => (out += t), err: () => {}, cwd: ROOT });
  expect(code).toBe(0);
  return JSON.parse(out) as { name: string; options: { name: string }[] }[];
}

describe("the catalogue is the one list", () => {
  test("each definition is complete, and each option's default passes its own parser", () => {
    expect(new Set(LOSS_NAMES).size).toBe(CATALOGUE.length);
    for (const d of CATALOGUE) {
      expect(d.name).toMatch(/^[a-z][a-z0-9_]*$/);
      for (const text of [d.summary, d.pytorch, d.formula]) expect(text.length).toBeGreaterThan(5);
      expect(d.optionList.map((o) => o.name)).toEqual(Object.keys(d.options));
      expect(d.optionList.map((o) => o.name)).toContain("reduction");
      for (const o of d.optionList) expect([d.name, o.name, o.parse(o.default)]).toEqual([d.name, o.name, { ok: true, value: o.default }]);
    }
  });

  test("onnx-losses list names every loss and its options, in catalogue order", async () => {
    const listed = await listJson();
    expect(listed.map((l) => [l.name, l.options.map((o) => o.name)])).toEqual(
      CATALOGUE.map((d) => [d.name, d.optionList.map((o) => o.name)]),
    );
  });

  test("the README's loss table is the catalogue's (npm run readme rewrites it)", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const begin = readme.indexOf("<!-- loss table: generated");
    const end = readme.indexOf("<!-- end of loss table -->");
    expect(begin).toBeGreaterThan(0);
    const block = readme.slice(readme.indexOf("\n", begin) + 1, end).trim();
    expect(block).toBe(markdownTable(CATALOGUE));
  });

  test("graphs/ holds every loss (npm run graphs; CI diff-checks the bytes)", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, "graphs", "manifest.json"), "utf8")) as {
      graphs: { name: string; file: string }[];
    };
    expect(manifest.graphs.map((g) => g.file)).toEqual(LOSS_NAMES.flatMap((n) => [`${n}.onnx`, `${n}_grad.onnx`]));
    for (const g of manifest.graphs) expect(existsSync(join(ROOT, "graphs", g.file))).toBe(true);
  });

  test("every loss has PyTorch fixtures, a demo sample and float16 cases; no fixture names another loss", () => {
    const perLoss = LOSS_NAMES.map((name) => {
      const file = `${name}.json`;
      const cases = existsSync(join(FIXTURES, file)) ? loadFixtures(file) : [];
      return [name, cases.length >= 10, cases.every((c) => c.loss === name)];
    });
    expect(perLoss).toEqual(LOSS_NAMES.map((name) => [name, true, true]));
    const samples = loadFixtures("samples.json").map((c) => c.loss);
    expect([...samples].sort()).toEqual([...LOSS_NAMES].sort());
    const float16 = new Set(loadFixtures("float16.json").map((c) => c.loss));
    expect([...float16].sort()).toEqual([...LOSS_NAMES].sort());
    const named = new Set(fixtureFiles().flatMap((f) => loadFixtures(f).map((c) => c.loss)));
    expect([...named].filter((n) => !(LOSS_NAMES as readonly string[]).includes(n))).toEqual([]);
  });
});

describe("typed input kinds", () => {
  test("every catalogue loss's input and target say what they hold as a kind, the doc following from it", () => {
    for (const name of LOSS_NAMES) {
      for (const options of [{}, ...(name === "cross_entropy" ? [{ targetType: "probs" }] : [])]) {
        const g = buildLoss(name, options as never);
        for (const spec of g.inputs) {
          expect(spec.kind).toBeDefined();
          expect(spec.doc).toBe(INPUT_KINDS[spec.kind!]);
        }
        expect(g.inputs.map((t) => t.kind)).toEqual(
          name === "nll_loss"
            ? ["log-probabilities", "class-indices"]
            : name === "binary_cross_entropy"
              ? ["probabilities", "binary-targets"]
              : name.startsWith("binary") || name.startsWith("sigmoid")
                ? ["logits", "binary-targets"]
                : ["logits", Object.keys(options).length ? "class-probabilities" : "class-indices"],
        );
      }
    }
  });
});
