import ort from "onnxruntime-node";
import { Graph, ops } from "./dist/index.js";
const so = { intraOpNumThreads: 2, extra: { session: { intra_op: { allow_spinning: "0" } } } };
async function sess(build) { const g = new Graph("m"); const x = g.input("x","float32",["N","C"]); g.output(build(x, g), "y", ["?"] ); return ort.InferenceSession.create(g.toModel(), so); }
// accuracy of float32 ReduceSum over rows
for (const C of [80, 1000, 200000, 1000000]) {
  const N = Math.max(1, Math.floor(2e6 / C));
  const data = Float32Array.from({length: N*C}, (_, i) => Math.abs(Math.sin(i * 0.7)) * 3 + 0.1);
  const s = await sess((x) => ops.reduceSum(x, { axes: [1] }));
  const r = (await s.run({ x: new ort.Tensor("float32", data, [N, C]) })).y.data;
  let worst = 0;
  for (let n = 0; n < N; n++) { let acc = 0; for (let c = 0; c < C; c++) acc += data[n*C+c]; worst = Math.max(worst, Math.abs(r[n]-acc)/acc); }
  console.log("ReduceSum rows of", C, "worst rel err", worst.toExponential(2));
}
// softplus stability
{
  const s = await sess((x) => ops.softplus(x));
  const r = (await s.run({ x: new ort.Tensor("float32", new Float32Array([-1e4, -100, -20, 0, 20, 100, 1e4, 88, 89]), [1, 9]) })).y.data;
  console.log("softplus", Array.from(r));
}
// speed of -log sigmoid forms on 5.2M
const N = 65536, C = 80; const data = Float32Array.from({length: N*C}, (_, i) => Math.sin(i)*4);
const forms = {
  softplus_neg: (x) => ops.softplus(ops.neg(x)),
  current: (x) => ops.add(ops.softplus(ops.neg(ops.abs(x))), ops.relu(ops.neg(x))),
  explog: (x) => ops.add(ops.relu(ops.neg(x)), ops.log(ops.add(ops.exp(ops.neg(ops.abs(x))), 1))),
  neg_log_sigmoid: (x) => ops.neg(ops.log(ops.sigmoid(x))),
  sigmoid: (x) => ops.sigmoid(x),
  exp: (x) => ops.exp(x),
  log: (x) => ops.log(ops.abs(x)),
  abs: (x) => ops.abs(x),
  neg: (x) => ops.neg(x),
  cast64: (x) => ops.reduceSum(ops.cast(x, "float64")),
  sum32: (x) => ops.reduceSum(x),
};
const ss = {}; for (const [k, f] of Object.entries(forms)) ss[k] = await sess(f);
const t = {}; const feed = { x: new ort.Tensor("float32", data, [N, C]) };
for (let r = 0; r < 12; r++) for (const [k, s] of Object.entries(ss)) { const t0 = performance.now(); await s.run(feed); (t[k] ??= []).push(performance.now() - t0); }
for (const [k, v] of Object.entries(t)) { v.sort((a,b)=>a-b); console.log(k.padEnd(16), v[6].toFixed(2)); }
