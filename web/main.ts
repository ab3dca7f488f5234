/**
 * The demo page: pick a loss, set its options (a form built from the catalogue's option specs), feed it
 * a generated batch, pasted JSON or .npy files, and evaluate it with onnxruntime-web. Everything it does
 * goes through onnx-losses/web; nothing here re-implements a loss.
 */
import {
  buildLoss,
  CATALOGUE,
  configureWasm,
  createEvaluator,
  decodeTensorBytes,
  DEFAULT_OPSET,
  getLoss,
  linearHeadStep,
  readModel,
  SUPPORTED_OPSETS,
  type ExecutionProvider,
  type LossGraph,
  type TensorInput,
} from "../src/web.js";
import * as onnxLosses from "../src/web.js";
import * as ort from "onnxruntime-web";
import { graphPicture, histogram, linePlot } from "./charts.js";
import { generateBatch } from "./generate.js";
import { CLASS_SIZES, focalWeights, imbalancedSet, predict, recalls, train, type TrainSet } from "./train.js";

// The library and onnxruntime-web, for the browser console (and the WebGPU tests, which build and run
// every PyTorch fixture in this page): onnxLosses.buildLoss("cross_entropy"), ort.env, ...
Object.assign(globalThis, { onnxLosses, ort });

// every core where the page is cross-origin isolated (it is, served by its Vite config or the test
// server), with the SIMD build of onnxruntime-web (ort-wasm-simd-threaded)
const wasmThreads = configureWasm({ wasmPaths: new URL("ort/", document.baseURI).href, numThreads: "all" });

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const lossSelect = $<HTMLSelectElement>("loss");
const opsetSelect = $<HTMLSelectElement>("opset");
const epSelect = $<HTMLSelectElement>("ep");
const lowering = $<HTMLInputElement>("lowering");
const errorBox = $("error");
const result = $("result");
let runs = 0;

for (const d of CATALOGUE) lossSelect.add(new Option(d.name, d.name));
for (const o of SUPPORTED_OPSETS) opsetSelect.add(new Option(String(o), String(o), o === DEFAULT_OPSET, o === DEFAULT_OPSET));

/** The options form: one field per option (rank comes from the input), defaults shown. */
function renderOptions(): void {
  const def = getLoss(lossSelect.value);
  $("loss-summary").textContent = `${def.summary} PyTorch: ${def.pytorch}.`;
  $("loss-formula").textContent = def.formula;
  const box = $("options");
  box.replaceChildren();
  for (const o of def.optionList) {
    if (o.name === "rank") continue;
    const row = document.createElement("div");
    row.className = "option";
    const label = document.createElement("label");
    label.htmlFor = `opt-${o.name}`;
    label.textContent = o.name;
    let field: HTMLInputElement | HTMLSelectElement;
    if (o.choices) {
      field = document.createElement("select");
      for (const c of o.choices) field.add(new Option(c, c, c === o.default, c === o.default));
    } else if (typeof o.default === "boolean") {
      field = document.createElement("input");
      field.type = "checkbox";
      field.checked = o.default;
    } else {
      field = document.createElement("input");
      field.type = "text";
      field.value = JSON.stringify(o.default);
      field.placeholder = JSON.stringify(o.default);
    }
    field.id = `opt-${o.name}`;
    field.dataset.option = o.name;
    field.title = o.doc;
    const help = document.createElement("small");
    help.textContent = `${o.doc} Allowed: ${o.allowed}.`;
    row.append(label, field, help);
    box.append(row);
  }
}

/** The options as the form says: JSON values, or the text itself (so that validation names it). */
function readOptions(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement>("[data-option]")) {
    if (el instanceof HTMLInputElement && el.type === "checkbox") {
      out[el.dataset.option!] = el.checked;
      continue;
    }
    const text = el.value.trim();
    if (text === "") continue;
    if (el instanceof HTMLSelectElement) out[el.dataset.option!] = text;
    else {
      try {
        out[el.dataset.option!] = JSON.parse(text);
      } catch {
        out[el.dataset.option!] = text;
      }
    }
  }
  return out;
}

function source(): string {
  return document.querySelector<HTMLInputElement>('input[name="source"]:checked')!.value;
}

async function readFeeds(options: Record<string, unknown>): Promise<Record<string, TensorInput>> {
  const kind = source();
  if (kind === "generate") {
    const num = (id: string) => Number($<HTMLInputElement>(id).value);
    const n = num("gen-n"),
      c = num("gen-c"),
      imbalance = num("gen-imbalance"),
      seed = num("gen-seed");
    if (!Number.isInteger(n) || n < 1) throw new Error(`N: expected an integer >= 1, received ${$<HTMLInputElement>("gen-n").value}`);
    if (!Number.isInteger(c) || c < 2) throw new Error(`C: expected an integer >= 2, received ${$<HTMLInputElement>("gen-c").value}`);
    if (!(imbalance >= 0 && imbalance <= 1))
      throw new Error(`class imbalance: expected a number in [0, 1], received ${$<HTMLInputElement>("gen-imbalance").value}`);
    return generateBatch({ loss: lossSelect.value, options, n, c, imbalance, seed });
  }
  if (kind === "json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse($<HTMLTextAreaElement>("json-input").value);
    } catch (e) {
      throw new Error(
        `pasted JSON: expected {"input": {"dims": [...], "data": [...]}, "target": {...}}, could not parse: ${(e as Error).message}`,
      );
    }
    if (!parsed || typeof parsed !== "object") throw new Error("pasted JSON: expected an object of tensors");
    const feeds: Record<string, TensorInput> = {};
    for (const [name, t] of Object.entries(parsed as Record<string, { dims?: unknown; data?: unknown }>)) {
      if (!Array.isArray(t?.dims) || !Array.isArray(t?.data))
        throw new Error(`pasted JSON: ${name}: expected {"dims": [...], "data": [...]}`);
      feeds[name] = { dims: t.dims as number[], data: (t.data as unknown[]).map(Number) };
    }
    return feeds;
  }
  const feeds: Record<string, TensorInput> = {};
  // input and target always; weight and pos_weight where the options make them inputs (the graph's
  // inputs are checked against the feeds before the run)
  for (const name of ["input", "target", "weight", "pos_weight"]) {
    const file = $<HTMLInputElement>(`npy-${name}`).files?.[0];
    if (!file) {
      if (name === "input" || name === "target") throw new Error(`${name}: expected a .npy, .npz or .safetensors file`);
      continue;
    }
    // a .npz or .safetensors gives the array of the input's name
    feeds[name] = decodeTensorBytes(new Uint8Array(await file.arrayBuffer()), file.name, { key: name });
  }
  return feeds;
}

/** Build the graph for the form's loss and options, at the rank of `input`. */
function currentGraph(options: Record<string, unknown>, rank: number, reduction?: string): LossGraph {
  return buildLoss(
    lossSelect.value,
    { ...options, rank, ...(reduction ? { reduction } : {}) },
    {
      opset: Number(opsetSelect.value),
      lowering: lowering.checked ? "webgpu" : "none",
    },
  );
}

/** Show the error's first line, and clear the previous run's results so that none stands next to it. */
function showError(e: unknown): void {
  errorBox.hidden = false;
  errorBox.textContent = String((e as Error)?.message ?? e).split("\n")[0];
  clearResult();
}

function clearResult(): void {
  $("loss-value").textContent = "–";
  $("time").textContent = "";
  $("ran-on").textContent = "";
  delete $("ran-on").dataset.provider;
  delete $("ran-on").dataset.lowering;
  delete $("ran-on").dataset.threads;
  $("histogram").replaceChildren();
}

async function evaluate(): Promise<void> {
  errorBox.hidden = true;
  const kind = source();
  result.dataset.state = "running";
  try {
    const options = readOptions();
    const feeds = await readFeeds(options);
    const rank = feeds.input?.dims.length ?? 2;
    const graph = currentGraph(options, rank);
    // a graph input the feeds lack (a weight tensor the options asked for): say where to give it
    for (const i of graph.inputs) {
      if (feeds[i.name]) continue;
      throw new Error(
        `${i.name}: the graph takes a ${i.name} tensor (option ${i.name === "pos_weight" ? "posWeight" : i.name} "input"): ${
          kind === "generate"
            ? "a generated batch has none; paste it in the JSON or upload its file, or set the option to null"
            : kind === "json"
              ? `add "${i.name}": {"dims": [...], "data": [...]} to the JSON`
              : `choose its file (${i.name})`
        }`,
      );
    }
    const ep = epSelect.value as ExecutionProvider;
    const t0 = performance.now();
    const ev = await createEvaluator(graph, { ep });
    const t1 = performance.now();
    const out = await ev.run(feeds);
    const t2 = performance.now();
    // the first run of a new session includes its warm-up (kernels chosen, buffers allocated): time a
    // second run too, and show both
    await ev.run(feeds);
    const t3 = performance.now();
    await ev.release();
    const loss = out.loss;
    $("loss-value").textContent =
      loss.dims.length === 0
        ? String(Number(loss.data[0]))
        : `[${Array.from(loss.data as Float32Array)
            .slice(0, 8)
            .join(", ")}${loss.data.length > 8 ? ", ..." : ""}] (${loss.dims.join(" x ")})`;
    $("time").textContent =
      `session created in ${(t1 - t0).toFixed(1)} ms; first run ${(t2 - t1).toFixed(2)} ms (includes warm-up), second run ${(t3 - t2).toFixed(2)} ms`;
    $("time").dataset.first = String(t2 - t1);
    $("time").dataset.second = String(t3 - t2);
    const threads = ev.provider === "wasm" ? `, ${wasmThreads} thread${wasmThreads === 1 ? "" : "s"}, SIMD` : "";
    $("ran-on").textContent =
      `on ${ev.provider}${threads}, opset ${graph.opset}, ${graph.lowering === "webgpu" ? "WebGPU lowering" : "plain graph"}`;
    $("ran-on").dataset.provider = ev.provider;
    $("ran-on").dataset.lowering = graph.lowering;
    $("ran-on").dataset.threads = String(ev.provider === "wasm" ? wasmThreads : 0);
    // per-item losses
    let items = loss;
    if (loss.dims.length === 0) {
      const perItem = await createEvaluator(currentGraph(options, rank, "none"), { ep });
      items = (await perItem.run(feeds)).loss;
      await perItem.release();
    }
    const hist = $("histogram");
    hist.innerHTML = histogram(items.data as Float32Array, 30, Math.min(640, Math.max(240, hist.clientWidth)));
    showGraph(graph);
    result.dataset.state = "done";
  } catch (e) {
    showError(e);
    result.dataset.state = "error";
  } finally {
    result.dataset.runs = String(++runs);
  }
}

function showGraph(graph: LossGraph): void {
  const m = readModel(graph.model);
  $("graph-summary").textContent =
    `${m.nodes.length} nodes, opset ${m.opset}, IR ${m.irVersion}, ${graph.model.length} bytes; inputs ${m.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(", ")}]`).join(", ")}`;
  $("graph-view").innerHTML = graphPicture(m);
}

function download(): void {
  errorBox.hidden = true;
  try {
    const options = readOptions();
    const rank = typeof options.rank === "number" ? options.rank : 2;
    const graph = currentGraph(options, rank);
    const url = URL.createObjectURL(new Blob([graph.model as BlobPart], { type: "application/octet-stream" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${graph.name}.onnx`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (e) {
    showError(e);
  }
}

/** Focal loss against p_t for several gammas, by running softmax_focal_loss on two-class logits. */
async function focalPlot(): Promise<void> {
  const P = 99;
  const pt = Array.from({ length: P }, (_, i) => (i + 1) / (P + 1));
  // logits [log p, log(1 - p)] with target 0 give p_t = p exactly
  const logits = new Float32Array(P * 2);
  pt.forEach((p, i) => {
    logits[2 * i] = Math.log(p);
    logits[2 * i + 1] = Math.log(1 - p);
  });
  const feeds = { input: { data: logits, dims: [P, 2] }, target: { data: new BigInt64Array(P), dims: [P] } };
  const series = [];
  for (const gamma of [0, 0.5, 1, 2, 5]) {
    const ev = await createEvaluator(buildLoss("softmax_focal_loss", { gamma, reduction: "none" }));
    const { loss } = await ev.run(feeds);
    await ev.release();
    series.push({ label: `gamma ${gamma}`, x: pt, y: Array.from(loss.data as Float32Array) });
  }
  const plot = $("focal-plot");
  plot.innerHTML = linePlot(series, {
    xLabel: "probability of the ground-truth class p_t",
    yLabel: "loss",
    yMax: 5,
    // drawn at the size it is shown at, so that its fonts are the page's
    width: Math.min(720, Math.max(260, plot.clientWidth)),
    height: 260,
  });
}

/** The losses the train panel compares, with the options each is trained with. */
const TRAIN_LOSSES = ["cross_entropy", "softmax_focal_loss"] as const;
/** Region and point colours of classes 0 (the minority), 1 and 2. */
const CLASS_FILL = ["#ffd8a8", "#b2f2bb", "#d0ebff"];
const CLASS_INK = ["#e8590c", "#2b8a3e", "#1c7ed6"];
const trainSet: TrainSet = imbalancedSet();
let trainRuns = 0;

/** Decision regions of the head (W, b) over the set's bounding box, with the points on top. */
function drawRegions(canvas: HTMLCanvasElement, set: TrainSet, W: ArrayLike<number>, b: ArrayLike<number>): void {
  const ctx = canvas.getContext("2d")!;
  const { width, height } = canvas;
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i < set.n; i++) {
    x0 = Math.min(x0, set.X[2 * i]);
    x1 = Math.max(x1, set.X[2 * i]);
    y0 = Math.min(y0, set.X[2 * i + 1]);
    y1 = Math.max(y1, set.X[2 * i + 1]);
  }
  x0 -= 0.5;
  x1 += 0.5;
  y0 -= 0.5;
  y1 += 0.5;
  const image = ctx.createImageData(width, height);
  const rgb = CLASS_FILL.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const k = predict(W, b, set.c, x0 + ((px + 0.5) / width) * (x1 - x0), y1 - ((py + 0.5) / height) * (y1 - y0));
      const o = 4 * (py * width + px);
      image.data.set([...rgb[k], 255], o);
    }
  }
  ctx.putImageData(image, 0, 0);
  // majority first, so the minority's few points stay visible on top
  for (let i = set.n - 1; i >= 0; i--) {
    const k = Number(set.y[i]);
    ctx.fillStyle = CLASS_INK[k];
    const r = k === 0 ? 4 : 2;
    ctx.fillRect(((set.X[2 * i] - x0) / (x1 - x0)) * width - r / 2, ((y1 - set.X[2 * i + 1]) / (y1 - y0)) * height - r / 2, r, r);
  }
}

/** Train a head with each loss (one step-graph run per step) and show curves, regions and recalls. */
async function trainPanel(): Promise<void> {
  const panel = $("train");
  const box = $("train-error");
  box.hidden = true;
  panel.dataset.state = "running";
  // nothing of a previous run stays next to this one's error
  $("train-curves").replaceChildren();
  $("train-weights").replaceChildren();
  delete panel.dataset.result;
  for (const name of TRAIN_LOSSES) {
    const out = $(`train-recall-${name}`);
    out.textContent = "";
    delete out.dataset.recalls;
    drawRegions($<HTMLCanvasElement>(`train-map-${name}`), trainSet, new Float32Array(6), new Float32Array(3));
  }
  try {
    const num = (id: string) => Number($<HTMLInputElement>(id).value);
    const steps = num("train-steps");
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000)
      throw new Error(`steps: expected an integer from 1 to 1000, received ${$<HTMLInputElement>("train-steps").value}`);
    const lr = num("train-lr");
    if (!(lr > 0 && Number.isFinite(lr))) throw new Error(`lr: expected a number > 0, received ${$<HTMLInputElement>("train-lr").value}`);
    const gamma = num("train-gamma");
    if (!(gamma >= 0 && Number.isFinite(gamma)))
      throw new Error(`focal gamma: expected a number >= 0, received ${$<HTMLInputElement>("train-gamma").value}`);
    const build = { opset: Number(opsetSelect.value), lowering: lowering.checked ? ("webgpu" as const) : ("none" as const) };
    const ep = epSelect.value as ExecutionProvider;
    const result: Record<string, { losses: number[]; recalls: number[]; W: number[]; b: number[] }> = {};
    const curves: { label: string; x: number[]; y: number[] }[] = [];
    let provider = "";
    for (const name of TRAIN_LOSSES) {
      const step = name === "softmax_focal_loss" ? linearHeadStep(name, { gamma }, { lr }, build) : linearHeadStep(name, {}, { lr }, build);
      const ev = await createEvaluator(step, { ep });
      provider = ev.provider;
      const canvas = $<HTMLCanvasElement>(`train-map-${name}`);
      try {
        const run = await train(ev, trainSet, steps, async (s, _loss, W, b) => {
          if (s % 5 === 4 || s === steps - 1) {
            drawRegions(canvas, trainSet, W, b);
            await new Promise((r) => requestAnimationFrame(r));
          }
        });
        const rec = recalls(trainSet, run.W, run.b);
        result[name] = { losses: run.losses, recalls: rec, W: Array.from(run.W), b: Array.from(run.b) };
        // x: the step number (the loss step s computes, before its update)
        curves.push({
          label: name === "softmax_focal_loss" ? `${name} (gamma ${gamma})` : name,
          x: run.losses.map((_, i) => i + 1),
          y: run.losses,
        });
        const out = $(`train-recall-${name}`);
        out.dataset.recalls = JSON.stringify(rec);
        const found = Math.round(rec[0] * CLASS_SIZES[0]);
        out.textContent = `minority class 0: ${(100 * rec[0]).toFixed(0)}% (${found} of ${CLASS_SIZES[0]}); recall of classes 0, 1, 2 (${CLASS_SIZES.join(", ")} points): ${rec.map((r) => `${(100 * r).toFixed(0)}%`).join(", ")}`;
      } finally {
        await ev.release();
      }
    }
    const yMax = Math.max(...curves.map((c) => c.y[0])) * 1.05;
    const chart = $("train-curves");
    chart.innerHTML = linePlot(curves, {
      xLabel: `step (on ${provider}, ${build.lowering === "webgpu" ? "WebGPU lowering" : "plain graph"})`,
      yLabel: "loss",
      yMax: Number(yMax.toPrecision(2)),
      xMax: steps,
      // drawn at the size it is shown at, so that its fonts are the page's
      width: Math.min(720, Math.max(260, chart.clientWidth)),
      height: 260,
    });
    // why the two differ: the weight the focal loss gives each class's points, at the trained focal head
    const fw = focalWeights(trainSet, result.softmax_focal_loss.W, result.softmax_focal_loss.b, gamma);
    const weights = $("train-weights");
    weights.dataset.weights = JSON.stringify(fw);
    weights.textContent = `Per-class weight of the focal loss at its trained head, the mean (1 - p_t)^${gamma} over each class's points (cross_entropy weighs every point 1): ${fw.map((w, k) => `class ${k}: ${w.toFixed(3)}`).join(", ")}. ${
      gamma === 0
        ? "With gamma 0 the focal loss is cross_entropy."
        : `The majority's points count ${(fw[0] / fw[2]).toPrecision(2)} times less than the minority's, so the gradient moves the boundary towards the minority sooner.`
    }`;
    panel.dataset.result = JSON.stringify(result);
    panel.dataset.state = "done";
  } catch (e) {
    box.hidden = false;
    box.textContent = String((e as Error)?.message ?? e).split("\n")[0];
    $("train-curves").replaceChildren();
    $("train-weights").replaceChildren();
    delete panel.dataset.result;
    panel.dataset.state = "error";
  } finally {
    panel.dataset.runs = String(++trainRuns);
  }
}

/** Redraw the graph for the form as it stands; a bad option shows its message instead. */
function refreshGraph(): void {
  try {
    const options = readOptions();
    showGraph(currentGraph(options, typeof options.rank === "number" ? options.rank : 2));
    errorBox.hidden = true;
  } catch (e) {
    showError(e);
  }
}

lossSelect.addEventListener("change", () => {
  renderOptions();
  refreshGraph();
});
$("options").addEventListener("change", refreshGraph);
opsetSelect.addEventListener("change", refreshGraph);
lowering.addEventListener("change", refreshGraph);
// The lowering follows the provider: on by default for webgpu, where onnx-losses/web runs only lowered
// graphs (the plain ones get its refusal), off by default for wasm, where the plain graph is faster.
// A choice the user makes is remembered per provider: switching back restores it, so the box, the
// graph shown, the Download and the runs always agree.
const loweringChoice: Record<string, boolean> = { wasm: false, webgpu: true };
lowering.addEventListener("change", () => {
  loweringChoice[epSelect.value] = lowering.checked;
});
epSelect.addEventListener("change", () => {
  lowering.checked = loweringChoice[epSelect.value] ?? false;
  refreshGraph();
});
for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="source"]')) {
  radio.addEventListener("change", () => {
    for (const kind of ["generate", "json", "npy"]) $(`panel-${kind}`).hidden = kind !== source();
  });
}
$("evaluate").addEventListener("click", () => void evaluate());
$("download").addEventListener("click", download);
$("train-run").addEventListener("click", () => void trainPanel());

renderOptions();
showGraph(currentGraph({}, 2));
for (const name of TRAIN_LOSSES) {
  drawRegions($<HTMLCanvasElement>(`train-map-${name}`), trainSet, new Float32Array(6), new Float32Array(3));
  $(`train-recall-${name}`).textContent = "not trained yet (W = 0: every point reads as class 0)";
}
focalPlot()
  .catch(showError)
  .finally(() => {
    document.body.dataset.ready = "1";
  });
