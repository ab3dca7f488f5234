/** The benchmark's tables: medians and ratios to this project's graph, as text or Markdown. */
import type { BenchResult } from "./run.js";

const ORDER = [
  "ours",
  "ours-f32",
  "one-node",
  "naive",
  "torch",
  "torch-article",
  "torch-onnx",
  "ort-web",
  "tfjs-wasm",
  "tfjs-cpu",
  "floor",
];

function fmtMs(ms: number | null): string {
  if (ms === null) return "-";
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** Rows: workload, loss, variant, median ms, ratio to ours. */
export function benchRows(r: BenchResult): string[][] {
  const rows: string[][] = [];
  for (const g of r.groups) {
    const ours = g.variants.find((v) => v.key === "ours")?.ms ?? null;
    const sorted = [...g.variants].sort((a, b) => ORDER.indexOf(a.key) - ORDER.indexOf(b.key));
    sorted.forEach((v, i) => {
      const ratio = v.ms !== null && ours ? `${(v.ms / ours).toFixed(2)}x` : "";
      const note = v.note && v.ms === null ? (v.note.length > 90 ? `${v.note.slice(0, 87)}...` : v.note) : undefined;
      rows.push([i === 0 ? g.title : "", i === 0 ? g.loss : "", v.label, note ?? fmtMs(v.ms), ratio]);
    });
  }
  return rows;
}

export function machineLine(r: BenchResult): string {
  const m = r.machine;
  const ep = r.ep ?? "cpu";
  const dtype = r.dtype && r.dtype !== "float32" ? `; inputs ${r.dtype}` : "";
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}, onnxruntime-node ${m.onnxruntime} (${ep}) with ${r.threads} intra-op threads and spinning off; onnxruntime-web wasm with ${r.webThreads ?? 1} thread${(r.webThreads ?? 1) === 1 ? "" : "s"}${m.torch ? `; PyTorch ${m.torch} with ${r.threads} threads${ep === "cuda" ? " on cuda" : ""}` : "; no PyTorch"}${r.tfjs ? `; ${r.tfjs}` : ""}${dtype}; ${r.date}`;
}

export function markdownTable(r: BenchResult): string {
  const head = "| workload | loss | graph or peer | median ms | vs this project |\n|---|---|---|---|---|";
  return `${head}\n${benchRows(r)
    .map((row) => `| ${row.join(" | ")} |`)
    .join("\n")}`;
}

/** Each loss on its workload's logits scaled by 100: finite here, and what the exported graphs give. */
export function stabilityLines(r: BenchResult): string[] {
  return r.groups
    .filter((g) => g.stability && g.stability.values.length > 1)
    .map(
      (g) =>
        `- ${g.title}, ${g.loss}, logits x${g.stability!.scale}: ${g.stability!.values.map((v) => `${v.label} ${v.value}`).join("; ")}`,
    );
}

/**
 * The issue's targets, checked against the medians: each line says met or missed, with the numbers.
 */
export function targetChecks(r: BenchResult): string[] {
  const ms = (w: string, loss: string, key: string) =>
    r.groups.find((g) => g.workload === w && g.loss === loss)?.variants.find((v) => v.key === key)?.ms ?? null;
  const lines: string[] = [];
  const check = (what: string, a: number | null, b: number | null, max: number) => {
    if (a === null || b === null) return lines.push(`- ${what}: not measured`);
    const ratio = a / b;
    lines.push(`- ${what}: ${ratio.toFixed(2)}x (target <= ${max}x) ${ratio <= max ? "met" : "MISSED"}`);
  };
  for (const loss of ["cross_entropy", "softmax_focal_loss"]) {
    check(`classification ${loss} vs PyTorch eager`, ms("classification", loss, "ours"), ms("classification", loss, "torch"), 0.2);
    check(
      `classification ${loss} vs torch.onnx.export graph`,
      ms("classification", loss, "ours"),
      ms("classification", loss, "torch-onnx"),
      0.25,
    );
    check(`classification ${loss} vs one read (floor)`, ms("classification", loss, "ours"), ms("classification", loss, "floor"), 1.5);
    check(`segmentation ${loss} vs PyTorch eager`, ms("segmentation", loss, "ours"), ms("segmentation", loss, "torch"), 0.4);
    check(`segmentation ${loss} vs torch.onnx.export graph`, ms("segmentation", loss, "ours"), ms("segmentation", loss, "torch-onnx"), 0.4);
  }
  for (const w of ["classification", "segmentation", "large-c", "large-n"]) {
    // the paired A/B where the run has it (the two graphs alone, interleaved), else the two groups' medians
    const ab = r.groups.find((g) => g.workload === w && g.loss === "softmax_focal_loss")?.focalAB;
    if (ab) check(`${w}: softmax_focal_loss vs cross_entropy (paired, ${ab.rounds} rounds)`, ab.focal, ab.crossEntropy, 1.05);
    else check(`${w}: softmax_focal_loss vs cross_entropy`, ms(w, "softmax_focal_loss", "ours"), ms(w, "cross_entropy", "ours"), 1.05);
  }
  check(
    "segmentation cross_entropy vs one read (floor)",
    ms("segmentation", "cross_entropy", "ours"),
    ms("segmentation", "cross_entropy", "floor"),
    2,
  );
  check(
    "segmentation softmax_focal_loss vs one read (floor)",
    ms("segmentation", "softmax_focal_loss", "ours"),
    ms("segmentation", "softmax_focal_loss", "floor"),
    2,
  );
  check(
    "detection sigmoid_focal_loss vs torchvision",
    ms("detection", "sigmoid_focal_loss", "ours"),
    ms("detection", "sigmoid_focal_loss", "torch"),
    0.3,
  );
  check(
    "detection sigmoid_focal_loss vs PyTorch's F.binary_cross_entropy_with_logits (same batch)",
    ms("detection", "sigmoid_focal_loss", "ours"),
    ms("detection", "binary_cross_entropy_with_logits", "torch"),
    1.0,
  );
  check(
    "detection binary_cross_entropy_with_logits vs PyTorch eager",
    ms("detection", "binary_cross_entropy_with_logits", "ours"),
    ms("detection", "binary_cross_entropy_with_logits", "torch"),
    0.5,
  );
  check(
    "detection binary_cross_entropy vs PyTorch eager",
    ms("detection", "binary_cross_entropy", "ours"),
    ms("detection", "binary_cross_entropy", "torch"),
    0.6,
  );
  for (const loss of ["cross_entropy", "softmax_focal_loss"]) {
    check(
      `classification ${loss}: onnxruntime-web wasm vs onnxruntime-node CPU`,
      ms("classification", loss, "ort-web"),
      ms("classification", loss, "ours"),
      3,
    );
  }
  // no loss slower than PyTorch eager or its torch.onnx.export graph where PyTorch takes over 1 ms
  for (const g of r.groups) {
    const ours = g.variants.find((v) => v.key === "ours")?.ms ?? null;
    for (const v of g.variants) {
      if (!["torch", "torch-article", "torch-onnx"].includes(v.key) || v.ms === null || ours === null) continue;
      if (v.key !== "torch-onnx" && v.ms <= 1) continue;
      check(`${g.workload} ${g.loss} vs ${v.label}`, ours, v.ms, 1.0);
    }
  }
  for (const g of r.groups) {
    if (!g.reductionAB) continue;
    const { float64: a, float32: b, rounds } = g.reductionAB;
    const cost = (a / b - 1) * 100;
    lines.push(
      `- ${g.workload} ${g.loss}: float64 final reduction costs ${cost.toFixed(1)}% (${a.toFixed(2)} vs ${b.toFixed(2)} ms, paired, ${rounds} rounds; target <= 5%) ${cost <= 5 ? "met" : "MISSED"}`,
    );
  }
  return lines;
}
