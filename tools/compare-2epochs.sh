#!/usr/bin/env bash
# Accuracy parity with PyTorch: the default model, Adam (lr 0.001, weight decay 1e-5), batch 64,
# no augmentation, the same stratified 80/20 split (seed 42), 2 epochs, trained by cltrain and by
# PyTorch (tools/pytorch_baseline.py); prints both validation and test accuracies and the gap.
# usage: tools/compare-2epochs.sh [--data DIR] [--cltrain PATH] [--epochs N]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data="$here/data/mnist" exe="$here/build/cltrain" epochs=2
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2;;
    --cltrain) exe=$2; shift 2;;
    --epochs) epochs=$2; shift 2;;
    *) echo "usage: $0 [--data DIR] [--cltrain PATH] [--epochs N]" >&2; exit 2;;
  esac
done
[ -e "$data/train-images-idx3-ubyte" ] || [ -e "$data/train-images-idx3-ubyte.gz" ] || bash "$here/tools/fetch-mnist.sh" "$data"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | tail -n 1; }
"$exe" train --data "$data" --set training.epochs="$epochs" --set augmentation.use_data_augmentation=false \
  --set early_stopping.use_early_stopping=false --set output.model_save_dir="$work/models" \
  --set output.runs_dir="$work/runs" --json | tee "$work/cl.txt" | grep -E '^Epoch|^test'
/usr/bin/python3 "$here/tools/pytorch_baseline.py" --data "$data" --epochs "$epochs" --threads "$(nproc)" --json \
  | tee "$work/pt.txt" | grep -E '^epoch|^test'
cv=$(tail -n 1 "$work/cl.txt" | field final_val_accuracy)
ctest_acc=$(tail -n 1 "$work/cl.txt" | field test_accuracy)
pv=$(tail -n 1 "$work/pt.txt" | field final_val_accuracy)
ptest=$(tail -n 1 "$work/pt.txt" | field test_accuracy)
echo
printf '%-22s %10s %10s %8s\n' "$epochs epochs, no aug" cltrain PyTorch gap
printf '%-22s %9.2f%% %9.2f%% %7.2f\n' "validation accuracy" "$cv" "$pv" "$(awk -v a="$cv" -v b="$pv" 'BEGIN{print a-b}')"
printf '%-22s %9.2f%% %9.2f%% %7.2f\n' "test accuracy" "$(awk -v a="$ctest_acc" 'BEGIN{print 100*a}')" \
  "$(awk -v a="$ptest" 'BEGIN{print 100*a}')" "$(awk -v a="$ctest_acc" -v b="$ptest" 'BEGIN{print 100*(a-b)}')"
awk -v a="$cv" -v b="$pv" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.3) }' \
  && echo "validation accuracies within 0.3 points: yes" || { echo "validation accuracies within 0.3 points: NO"; exit 1; }
