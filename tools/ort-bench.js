// ort-bench.js: ONNX Runtime (npm onnxruntime-node, CPU) inference images/s of an ONNX file
// exported by `cltrain export`: random input of shape [BATCH, C, H, W] (from the model's input),
// WARMUP runs, then ITERS timed runs of session.run (input tensor creation included).
// usage: node ort-bench.js ORT_NODE_DIR MODEL.onnx BATCH ITERS [WARMUP] [THREADS]
// prints one JSON line: {"ort_images_per_second":..., "batch":..., "iters":..., "threads":..., "version":...}
"use strict";
const path = require("path");

async function main() {
  const [ortDir, model, batchS, itersS, warmS, thrS] = process.argv.slice(2);
  if (!itersS) throw new Error("usage: node ort-bench.js ORT_NODE_DIR MODEL.onnx BATCH ITERS [WARMUP] [THREADS]");
  const ort = require(path.join(path.resolve(ortDir), "node_modules", "onnxruntime-node"));
  const batch = Number(batchS), iters = Number(itersS), warm = warmS ? Number(warmS) : 3;
  const opts = { graphOptimizationLevel: "all" };
  if (thrS) opts.intraOpNumThreads = Number(thrS);
  const s = await ort.InferenceSession.create(model, opts);
  const meta = s.inputMetadata ? s.inputMetadata[0] : null;
  const shape = meta && meta.shape ? meta.shape.slice(1).map(Number) : [1, 28, 28];
  const per = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(batch * per);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 1.5;
  const run = () => s.run({ input: new ort.Tensor("float32", x, [batch, ...shape]) });
  for (let i = 0; i < warm; i++) await run();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await run();
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ ort_images_per_second: (batch * iters) / sec, batch, iters,
    threads: thrS ? Number(thrS) : "default", version: ort.env.versions ? ort.env.versions.common : null }));
}

main().catch((e) => { console.error("ort-bench: " + (e && e.message ? e.message : e)); process.exit(1); });
