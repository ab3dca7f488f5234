/** Small SVG charts for the page: a histogram, line plots, and a picture of a graph's nodes. */
import type { ModelInfo } from "../src/web.js";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const fmt = (v: number) =>
  Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString();

/** The fill of the histogram's bars. */
export const BAR_COLOR = "#3b5bdb";

/** A histogram of values, `bins` bars; `svgWidth` the SVG's size in CSS pixels (its 11 px fonts stay so at that size). */
export function histogram(values: ArrayLike<number>, bins = 30, svgWidth = 480): string {
  const finite = Array.from(values).filter(Number.isFinite);
  if (finite.length === 0) return `<p class="muted">no finite values</p>`;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const width = hi > lo ? (hi - lo) / bins : 1;
  const counts = new Array(bins).fill(0);
  for (const v of finite) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  const W = Math.round(svgWidth),
    H = 200,
    P = 30;
  const top = Math.max(...counts);
  const bw = (W - 2 * P) / bins;
  const bars = counts
    .map((cnt, i) => {
      const h = ((H - 2 * P) * cnt) / top;
      return `<rect x="${(P + i * bw).toFixed(1)}" y="${(H - P - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${BAR_COLOR}"><title>${cnt} in [${fmt(lo + i * width)}, ${fmt(lo + (i + 1) * width)})</title></rect>`;
    })
    .join("");
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="histogram of per-item losses">${bars}
<line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#333"/>
<text x="${P}" y="${H - 10}" font-size="11">${fmt(lo)}</text><text x="${W - P}" y="${H - 10}" font-size="11" text-anchor="end">${fmt(hi)}</text>
<text x="${P}" y="${P - 8}" font-size="11">${finite.length} items, max count ${top}</text></svg>`;
}

/** The line plot's series colours, in order. */
export const COLORS = ["#1b1b1b", "#3b5bdb", "#2b8a3e", "#e67700", "#c2255c", "#7048e8"];

/** Tick values for [0, max]: 0 and multiples of 1, 2 or 5 times a power of ten, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let i = 0; i * step <= max * (1 + 1e-9); i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/**
 * Lines y(x) for several series on shared axes, x in [0, xMax] (default 1), y in [0, yMax]; the legend
 * inside the plot's top right corner. `width` and `height` are the SVG's size in CSS pixels (its
 * fonts are 11 and 12 px at that size): give the width the chart is shown at to keep them so.
 */
export function linePlot(
  series: { label: string; x: number[]; y: number[] }[],
  opts: { xLabel: string; yLabel: string; yMax: number; xMax?: number; width?: number; height?: number },
): string {
  const W = Math.round(opts.width ?? 480),
    H = Math.round(opts.height ?? 300);
  const left = 44,
    right = 12,
    top = 12,
    bottom = 40;
  const xMax = opts.xMax ?? 1;
  const sx = (x: number) => left + (x / xMax) * (W - left - right);
  const sy = (y: number) => H - bottom - (Math.min(y, opts.yMax) / opts.yMax) * (H - top - bottom);
  const lines = series
    .map((s, i) => {
      const d = s.x.map((x, j) => `${j ? "L" : "M"}${sx(x).toFixed(1)},${sy(s.y[j]).toFixed(1)}`).join("");
      return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"/>`;
    })
    .join("");
  // the legend: a box inside the plot area, top right, a line sample and the label per series
  const legendW = 34 + 6.6 * Math.max(0, ...series.map((s) => s.label.length));
  const legendH = 8 + 16 * series.length;
  const lx = W - right - legendW - 6,
    ly = top + 6;
  const legend = `<g class="legend"><rect x="${lx.toFixed(1)}" y="${ly}" width="${legendW.toFixed(1)}" height="${legendH}" fill="#fff" fill-opacity="0.9" stroke="#ccd"/>${series
    .map((s, i) => {
      const y = ly + 14 + 16 * i;
      const c = COLORS[i % COLORS.length];
      return `<line x1="${(lx + 6).toFixed(1)}" y1="${y - 4}" x2="${(lx + 24).toFixed(1)}" y2="${y - 4}" stroke="${c}" stroke-width="2"/><text x="${(lx + 28).toFixed(1)}" y="${y}" font-size="12" fill="${c}">${esc(s.label)}</text>`;
    })
    .join("")}</g>`;
  const ticks = niceTicks(xMax)
    .map((t) => `<text class="xtick" x="${sx(t).toFixed(1)}" y="${H - bottom + 15}" font-size="11" text-anchor="middle">${t}</text>`)
    .join("");
  const yticks = [0, opts.yMax / 2, opts.yMax]
    .map((t) => `<text x="${left - 6}" y="${(sy(t) + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(t)}</text>`)
    .join("");
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(opts.yLabel)} against ${esc(opts.xLabel)}">
<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" stroke="#333"/><line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="#333"/>
${ticks}${yticks}<text x="${(left + W - right) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">${esc(opts.xLabel)}</text>
<text x="12" y="${(top + H - bottom) / 2}" font-size="12" transform="rotate(-90 12 ${(top + H - bottom) / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>${lines}${legend}</svg>`;
}

/** The nodes of a graph, one column per depth, edges between them; inputs and outputs as rounded boxes. */
export function graphPicture(m: ModelInfo): string {
  const depth = new Map<string, number>();
  for (const i of m.inputs) depth.set(i.name, 0);
  const consts = new Set(m.initializers.map((t) => t.name));
  const nodeDepth = m.nodes.map((n) => {
    const d = 1 + Math.max(0, ...n.inputs.filter((x) => depth.has(x)).map((x) => depth.get(x)!));
    for (const o of n.outputs) depth.set(o, d);
    return d;
  });
  const columns = new Map<number, string[]>();
  const place = new Map<string, { x: number; y: number }>();
  const add = (key: string, d: number) => {
    const col = columns.get(d) ?? [];
    col.push(key);
    columns.set(d, col);
  };
  for (const i of m.inputs) add(`in:${i.name}`, 0);
  for (let k = 0; k < m.nodes.length; k++) add(`n${k}`, nodeDepth[k]);
  const last = Math.max(0, ...nodeDepth) + 1;
  for (const o of m.outputs) add(`out:${o.name}`, last);
  const BW = 120,
    BH = 34,
    GX = 40,
    GY = 14;
  let maxRows = 0;
  for (const [d, keys] of columns) {
    keys.forEach((key, row) => {
      place.set(key, { x: 10 + d * (BW + GX), y: 10 + row * (BH + GY) });
    });
    maxRows = Math.max(maxRows, keys.length);
  }
  const producer = new Map<string, string>();
  for (const i of m.inputs) producer.set(i.name, `in:${i.name}`);
  m.nodes.forEach((n, k) => {
    for (const o of n.outputs) producer.set(o, `n${k}`);
  });
  const edges: string[] = [];
  const edge = (from: string, to: string) => {
    const a = place.get(from),
      b = place.get(to);
    if (a && b)
      edges.push(
        `<path d="M${a.x + BW},${a.y + BH / 2} C${a.x + BW + GX / 2},${a.y + BH / 2} ${b.x - GX / 2},${b.y + BH / 2} ${b.x},${b.y + BH / 2}" fill="none" stroke="#99a" />`,
      );
  };
  m.nodes.forEach((n, k) => {
    for (const x of n.inputs) if (producer.has(x)) edge(producer.get(x)!, `n${k}`);
  });
  for (const o of m.outputs) if (producer.has(o.name)) edge(producer.get(o.name)!, `out:${o.name}`);
  const box = (key: string, title: string, sub: string, fill: string) => {
    const p = place.get(key)!;
    return `<g><rect x="${p.x}" y="${p.y}" width="${BW}" height="${BH}" rx="6" fill="${fill}" stroke="#556"/>
<text x="${p.x + BW / 2}" y="${p.y + 14}" font-size="11" text-anchor="middle" font-weight="600">${esc(title)}</text>
<text x="${p.x + BW / 2}" y="${p.y + 27}" font-size="9" text-anchor="middle" fill="#444">${esc(sub)}</text></g>`;
  };
  const boxes = [
    ...m.inputs.map((i) => box(`in:${i.name}`, i.name, `${i.dtype} [${i.shape.join(",")}]`, "#e7f0ff")),
    ...m.nodes.map((n, k) => {
      const attrs = Object.entries(n.attributes).map(([a, v]) => `${a}=${Array.isArray(v) ? `[${v.join(",")}]` : v}`);
      const constIn = n.inputs.filter((x) => consts.has(x)).length;
      return box(`n${k}`, n.opType, (attrs.join(" ") || (constIn ? `${constIn} const` : "")).slice(0, 22), "#fff");
    }),
    ...m.outputs.map((o) => box(`out:${o.name}`, o.name, `${o.dtype} [${o.shape.join(",")}]`, "#e6f7ea")),
  ];
  const W = 20 + (last + 1) * (BW + GX),
    H = 20 + maxRows * (BH + GY);
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="graph with ${m.nodes.length} nodes">${edges.join("")}${boxes.join("")}</svg>`;
}
