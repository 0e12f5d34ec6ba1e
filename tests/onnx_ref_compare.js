// onnx_ref_compare.js: runs an ONNX file in ONNX Runtime (npm onnxruntime-node) on a raw
// float32 input and compares its `logits` with raw float32 reference logits (written by
// test_onnx_export.c from its C reference forward pass): max |difference| <= tolerance and the
// same argmax for every row.
// usage: node onnx_ref_compare.js ORT_NODE_DIR MODEL.onnx INPUT.f32 N C H W REF.f32 K [TOL]
"use strict";
const fs = require("fs");
const path = require("path");

function fail(msg) {
  console.error("onnx_ref_compare: FAIL: " + msg);
  process.exit(1);
}

function f32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

async function main() {
  const a = process.argv.slice(2);
  if (a.length < 9) fail("usage: node onnx_ref_compare.js ORT_NODE_DIR MODEL.onnx INPUT.f32 N C H W REF.f32 K [TOL]");
  const [ortDir, model, input] = a;
  const [N, C, H, W] = a.slice(3, 7).map(Number);
  const ref = f32(a[7]), K = Number(a[8]), tol = a[9] ? Number(a[9]) : 1e-4;
  let ort;
  try {
    ort = require(path.join(path.resolve(ortDir), "node_modules", "onnxruntime-node"));
  } catch (e) {
    fail("ONNX Runtime (onnxruntime-node) not found under " + ortDir + ": " + e.message);
  }
  const x = f32(input);
  if (x.length !== N * C * H * W || ref.length !== N * K) fail("input/reference sizes do not match N, C, H, W, K");
  const s = await ort.InferenceSession.create(model);
  const r = await s.run({ input: new ort.Tensor("float32", x, [N, C, H, W]) });
  const y = r.logits;
  if (!y || y.dims.length !== 2 || y.dims[0] !== N || y.dims[1] !== K) fail("logits shape " + (y && y.dims));
  let maxDiff = 0, same = 0;
  for (let i = 0; i < N; i++) {
    let ao = 0, ar = 0;
    for (let k = 0; k < K; k++) {
      const d = Math.abs(y.data[i * K + k] - ref[i * K + k]);
      if (!(d <= maxDiff)) maxDiff = d;
      if (y.data[i * K + k] > y.data[i * K + ao]) ao = k;
      if (ref[i * K + k] > ref[i * K + ar]) ar = k;
    }
    if (ao === ar) same++;
  }
  console.log(`onnx_ref_compare: ${path.basename(model)}: ${N} inputs, max |logit difference| ` +
    `${maxDiff.toExponential(3)}, argmax identical for ${same}/${N}`);
  if (!(maxDiff <= tol)) fail(`max |difference| ${maxDiff} > ${tol}`);
  if (same !== N) fail(`argmax differs for ${N - same} inputs`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
