// onnx_compare.js: runs an ONNX file written by `cltrain export` in ONNX Runtime (npm
// onnxruntime-node, CPU) on the images of an MNIST IDX file and compares with the logits that
// `cltrain predict --logits --json` gave for the same file: max |difference| <= tolerance and
// the same argmax for every image. The input is prepared as cltrain prepares it:
// (pixel * (1/255) - mean) * (1/std) in float32. Also checks that a batch of another size
// (7 images) gives the same results (the symbolic batch dimension).
// usage: node onnx_compare.js ORT_NODE_DIR MODEL.onnx IMAGES.idx[.gz] PREDICT.json MEAN STD [TOL]
// exit 0 when they agree, 1 when not (or anything is missing).
"use strict";
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

function fail(msg) {
  console.error("onnx_compare: FAIL: " + msg);
  process.exit(1);
}

function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf.readUInt32BE(0) !== 0x00000803) fail(file + ": not an IDX u8 image file (magic)");
  const n = buf.readUInt32BE(4), h = buf.readUInt32BE(8), w = buf.readUInt32BE(12);
  if (buf.length !== 16 + n * h * w) fail(file + ": size does not match the header");
  return { n, h, w, px: buf.subarray(16) };
}

async function main() {
  const [ortDir, model, images, predJson, meanS, stdS, tolS] = process.argv.slice(2);
  if (!stdS) fail("usage: node onnx_compare.js ORT_NODE_DIR MODEL.onnx IMAGES PREDICT.json MEAN STD [TOL]");
  let ort;
  try {
    ort = require(path.join(path.resolve(ortDir), "node_modules", "onnxruntime-node"));
  } catch (e) {
    fail("ONNX Runtime (onnxruntime-node) not found under " + ortDir + ": " + e.message +
      " (install: ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix " + ortDir + " onnxruntime-node@1.30.0)");
  }
  const tol = tolS ? Number(tolS) : 1e-4;
  const mean = Math.fround(Number(meanS)), inv = Math.fround(1 / Math.fround(Number(stdS)));
  const img = readIdx(images);
  const lines = fs.readFileSync(predJson, "utf8").trim().split("\n");
  const pred = JSON.parse(lines[lines.length - 1]).predictions;
  if (!pred || pred.length !== img.n) fail(`cltrain gave ${pred ? pred.length : 0} predictions for ${img.n} images`);
  const K = pred[0].logits ? pred[0].logits.length : 0;
  if (!K) fail("cltrain's JSON has no logits (run predict with --logits --json)");
  const per = img.h * img.w;
  const x = new Float32Array(img.n * per);
  const s255 = Math.fround(1 / 255);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(Math.fround(Math.fround(img.px[i] * s255) - mean) * inv);

  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: "all" });
  const run = async (from, count) => {
    const t = new ort.Tensor("float32", x.subarray(from * per, (from + count) * per), [count, 1, img.h, img.w]);
    const r = await session.run({ input: t });
    if (!r.logits || r.logits.dims[0] !== count || r.logits.dims[1] !== K) fail("unexpected logits shape");
    return r.logits.data;
  };
  const t0 = Date.now();
  const all = await run(0, img.n);
  const ms = Date.now() - t0;
  let maxDiff = 0, same = 0, worst = -1;
  for (let i = 0; i < img.n; i++) {
    const c = pred[i].logits;
    let ao = 0, ac = 0;
    for (let k = 0; k < K; k++) {
      const o = all[i * K + k], d = Math.abs(o - c[k]);
      if (!(d <= maxDiff)) { maxDiff = d; worst = i; }
      if (o > all[i * K + ao]) ao = k;
      if (c[k] > c[ac]) ac = k;
    }
    if (ao === ac && ac === pred[i].label) same++;
  }
  // the symbolic batch dimension: 7 images at an offset give the same numbers
  const part = await run(3, 7);
  let batchDiff = 0;
  for (let i = 0; i < 7 * K; i++) batchDiff = Math.max(batchDiff, Math.abs(part[i] - all[3 * K + i]));
  console.log(`onnx_compare: ${img.n} images, onnxruntime-node ${ort.env.versions ? ort.env.versions.common : "?"}` +
    ` (${ms} ms): max |logit difference| ${maxDiff.toExponential(3)} (image ${worst}), argmax identical for ` +
    `${same}/${img.n}; batch of 7 vs batch of ${img.n}: ${batchDiff.toExponential(3)}`);
  if (!(maxDiff <= tol)) fail(`max |difference| ${maxDiff} > ${tol}`);
  if (same !== img.n) fail(`argmax differs for ${img.n - same} images`);
  if (!(batchDiff <= 1e-5)) fail(`batch of 7 differs by ${batchDiff}`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
