#!/usr/bin/env bash
# cltrain evaluation images/s against ONNX Runtime on the same network, batch and machine, in turn:
# DigitCNN as `cltrain bench` builds it (32/64/128/256, batch norm), exported with `cltrain export`
# from a model trained for one epoch on the committed MNIST subset (the weights do not matter for
# speed), then ROUNDS times alternately: `cltrain bench --eval-batch B` (eval-mode forward + loss
# on the OpenCL device, input already on the device; it also times the same forward with every
# layer run by itself, side by side) and tools/ort-bench.js (ONNX Runtime CPU
# from npm onnxruntime-node, session.run on a [B, 1, 28, 28] tensor, intra-op threads = nproc).
# Prints the medians and the ratio cltrain / ONNX Runtime.
# usage: tools/bench-vs-onnxruntime.sh [--rounds N] [--batch B] [--iters N] [--cltrain PATH] [--ort DIR] [--device SEL]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 batch=256 iters=20 exe="$here/build/cltrain" ortdir="${CLTRAIN_ORT_NODE_DIR:-$here/.ort-node}" dev=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2;;
    --batch) batch=$2; shift 2;;
    --iters) iters=$2; shift 2;;
    --cltrain) exe=$2; shift 2;;
    --ort) ortdir=$2; shift 2;;
    --device) dev=(--device "$2"); shift 2;;
    *) echo "usage: $0 [--rounds N] [--batch B] [--iters N] [--cltrain PATH] [--ort DIR] [--device SEL]" >&2; exit 2;;
  esac
done
[ -x "$exe" ] || { echo "build cltrain first (cmake --build build): $exe not found" >&2; exit 2; }
[ -d "$ortdir/node_modules/onnxruntime-node" ] || {
  echo "ONNX Runtime missing: ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix $ortdir onnxruntime-node@1.30.0" >&2; exit 2; }
threads=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

"$exe" train --data "$here/tests/fixtures/mnist-small" --set training.epochs=1 \
  --set augmentation.use_data_augmentation=false --set early_stopping.use_early_stopping=false \
  --set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs" "${dev[@]}" -q > /dev/null
"$exe" export --set output.model_save_dir="$work/models" -o "$work/m.onnx" -q > /dev/null
steps=$((iters * 2))
: > "$work/cl"; : > "$work/clu"; : > "$work/ort"
for r in $(seq "$rounds"); do
  "$exe" bench --eval-batch "$batch" --steps "$steps" "${dev[@]}" --json 2> /dev/null | tail -n 1 > "$work/json"
  sed -n 's/.*"eval_images_per_second": *\([0-9.e+-]*\).*/\1/p' "$work/json" >> "$work/cl"
  sed -n 's/.*"eval_unfused_images_per_second": *\([0-9.e+-]*\).*/\1/p' "$work/json" >> "$work/clu"
  node "$here/tools/ort-bench.js" "$ortdir" "$work/m.onnx" "$batch" "$iters" 3 "$threads" |
    sed -n 's/.*"ort_images_per_second":\([0-9.e+-]*\).*/\1/p' >> "$work/ort"
  printf 'round %d: cltrain %.1f images/s (every layer by itself %.1f), ONNX Runtime %.1f images/s\n' "$r" \
    "$(tail -n 1 "$work/cl")" "$(tail -n 1 "$work/clu")" "$(tail -n 1 "$work/ort")"
done
cl=$(median < "$work/cl") clu=$(median < "$work/clu") ort=$(median < "$work/ort")
echo "evaluation, DigitCNN 32/64/128/256, batch $batch, $threads threads, median of $rounds:"
printf '  cltrain bench (OpenCL)      %8.1f images/s\n' "$cl"
printf '    every layer by itself     %8.1f images/s (no fused conv + batchnorm + ReLU + pooling; same runs)\n' "$clu"
printf '  ONNX Runtime %s (CPU)  %8.1f images/s\n' \
  "$(node -e "console.log(require('$ortdir/node_modules/onnxruntime-node/package.json').version)")" "$ort"
awk -v a="$cl" -v b="$ort" 'BEGIN { printf "  ratio cltrain / ONNX Runtime: %.2f\n", a / b }'
