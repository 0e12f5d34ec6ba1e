#!/usr/bin/env bash
# A model trained in PyTorch and saved as safetensors scores the same test accuracy under
# `cltrain evaluate` as in PyTorch:
#   1. tools/pytorch_baseline.py trains a short DigitCNN (1 epoch, --max-steps STEPS) and saves
#      its state_dict with safetensors (no cltrain metadata: sizes come from the tensor shapes);
#   2. tools/torch_eval.py evaluates the file in PyTorch on the MNIST test set;
#   3. `cltrain evaluate --model FILE --json` evaluates the same file on the OpenCL device.
# Prints both accuracies (and losses) and whether the accuracies are equal; exit 0 when equal.
# usage: tools/check-pytorch-model.sh [--data DIR] [--cltrain PATH] [--steps N] [--device SEL]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data="$here/data/mnist" exe="$here/build/cltrain" steps=200 device=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2;;
    --cltrain) exe=$2; shift 2;;
    --steps) steps=$2; shift 2;;
    --device) device=(--device "$2"); shift 2;;
    *) echo "usage: $0 [--data DIR] [--cltrain PATH] [--steps N] [--device SEL]" >&2; exit 2;;
  esac
done
py=/usr/bin/python3
[ -x "$exe" ] || { echo "build cltrain first (cmake --build build): $exe not found" >&2; exit 2; }
"$py" -c 'import torch' 2>/dev/null || { echo "PyTorch missing: apt-get install python3-torch" >&2; exit 2; }
[ -e "$data/t10k-images-idx3-ubyte" ] || [ -e "$data/t10k-images-idx3-ubyte.gz" ] || bash "$here/tools/fetch-mnist.sh" "$data"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model="$work/pytorch_digitcnn.safetensors"
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | tail -n 1; }

echo "1. training DigitCNN in PyTorch ($steps steps) -> $(basename "$model")"
"$py" "$here/tools/pytorch_baseline.py" --data "$data" --epochs 1 --max-steps "$steps" --save "$model" > "$work/train.txt"
grep -E "^(test|saved)" "$work/train.txt" | sed 's/^/   /'

echo "2. PyTorch: tools/torch_eval.py"
"$py" "$here/tools/torch_eval.py" "$model" --data "$data" --json > "$work/pt.txt"
pt_acc=$(tail -n 1 "$work/pt.txt" | field test_accuracy)
pt_loss=$(tail -n 1 "$work/pt.txt" | field test_loss)
pt_n=$(tail -n 1 "$work/pt.txt" | field test_samples)

echo "3. cltrain evaluate --model $(basename "$model")"
"$exe" evaluate --model "$model" --data "$data" "${device[@]}" --set output.model_save_dir="$work/models" \
  --set output.runs_dir="$work/runs" --json > "$work/cl.txt"
cl_acc=$(tail -n 1 "$work/cl.txt" | field test_accuracy)
cl_loss=$(tail -n 1 "$work/cl.txt" | field test_loss)
cl_n=$(tail -n 1 "$work/cl.txt" | field test_samples)
dev=$(tail -n 1 "$work/cl.txt" | sed -n 's/.*"device":"\([^"]*\)".*/\1/p')

printf '\n%-28s %-10s %-10s %s\n' "" "accuracy" "loss" "images"
printf '%-28s %-10s %-10.6f %s\n' "PyTorch (torch_eval.py)" "$pt_acc" "$pt_loss" "$pt_n"
printf '%-28s %-10s %-10.6f %s\n' "cltrain evaluate" "$cl_acc" "$cl_loss" "$cl_n"
echo "cltrain device: $dev"
if awk -v a="$pt_acc" -v b="$cl_acc" -v n="$pt_n" -v m="$cl_n" 'BEGIN { exit !(a == b && n == m) }'; then
  echo "EQUAL: the same test accuracy in PyTorch and cltrain"
else
  echo "DIFFERENT: PyTorch $pt_acc vs cltrain $cl_acc"
  exit 1
fi
