#!/usr/bin/env bash
# cltrain against PyTorch on this machine, in turn, same model (DigitCNN 32/64/128/256), batch
# 64, Adam, no augmentation, same MNIST split; with --config F (e.g. configs/networks/lenet5.yaml)
# the config's network (PyTorch builds the same module with tools/cltrain_torch.py) and its batch
# size, optimizer, learning rate, schedule, split and mean/std, still without augmentation:
#   1. steady-state training and evaluation images/s (cltrain bench vs tools/pytorch_baseline.py
#      --max-steps), ROUNDS times alternately, medians and ratios;
#   2. a whole one-epoch training command each (start-up, 48,000 training images, validation),
#      wall-clock seconds and the ratio; EPOCH_ROUNDS times alternately (--epoch-rounds, default
#      1), each round printed, then the medians of the seconds and of the per-round ratios.
# A benchmark tool, not a test: the figures depend on the machine and its load.
# PyTorch's linear layers run on the BLAS that libblas.so.3 points at: Debian's python3-torch gets the
# reference BLAS (~30x slower GEMMs) unless an optimised one is installed, so the script refuses to
# compare against it (apt-get install libopenblas0-openmp: OpenBLAS on the same OpenMP runtime as
# PyTorch) unless --reference-blas is given; the BLAS in use is printed.
# usage: tools/bench-vs-pytorch.sh [--config F] [--rounds N] [--epoch-rounds N] [--skip-epoch] [--data DIR] [--cltrain PATH] [--reference-blas]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 epoch_rounds=1 skip_epoch=0 data="$here/data/mnist" exe="$here/build/cltrain" config="" ref_blas=0
usage="usage: $0 [--config F] [--rounds N] [--epoch-rounds N] [--skip-epoch] [--data DIR] [--cltrain PATH] [--reference-blas]"
while [ $# -gt 0 ]; do
  case "$1" in
    --config) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; config=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --epoch-rounds) epoch_rounds=$2; shift 2;;
    --skip-epoch) skip_epoch=1; shift;;
    --data) data=$2; shift 2;;
    --cltrain) exe=$2; shift 2;;
    --reference-blas) ref_blas=1; shift;;
    *) echo "$usage" >&2; exit 2;;
  esac
done
# cl_cfg: cltrain's config flags; pt_cfg: the baseline's (same network and training keys)
cl_cfg=(--batch 64) pt_cfg=() cl_train_cfg=()
if [ -n "$config" ]; then
  [ -f "$config" ] || { echo "$config: no such config file (try configs/networks/digitcnn.yaml)" >&2; exit 2; }
  config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")
  cl_cfg=(--config "$config") pt_cfg=(--config "$config" --cltrain "$exe") cl_train_cfg=(--config "$config")
fi
py=/usr/bin/python3
threads=$(nproc)
[ -x "$exe" ] || { echo "build cltrain first (cmake --build build): $exe not found" >&2; exit 2; }
"$py" -c 'import torch' 2>/dev/null || { echo "PyTorch missing: apt-get install python3-torch" >&2; exit 2; }
blas=$(cd "$here/tools" && "$py" -c 'from pytorch_baseline import blas_library; print(blas_library())')
case "$blas" in
  */blas/libblas.so*|unknown|"none loaded") if [ "$ref_blas" -eq 0 ]; then
       echo "PyTorch's BLAS is $blas, not an optimised one: its linear layers would run ~30x slower than they" >&2
       echo "should. Install one (apt-get install libopenblas0-openmp) or pass --reference-blas to compare anyway." >&2
       exit 2
     fi;;
  *) ;;
esac
[ -e "$data/train-images-idx3-ubyte" ] || [ -e "$data/train-images-idx3-ubyte.gz" ] || bash "$here/tools/fetch-mnist.sh" "$data"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | tail -n 1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ -n "$config" ]; then
  echo "network: $config ($("$exe" summary --config "$config" --json | tail -n 1 | sed -n 's/^{"params": *\([0-9]*\).*/\1/p') parameters)"
fi
echo "PyTorch $("$py" -c 'import torch; print(torch.__version__)'), $threads threads, BLAS $blas; cltrain $("$exe" --version | cut -d' ' -f2) on $("$exe" devices --json | sed -n 's/.*"name":"\([^"]*\)".*/\1/p' | head -1)"
for r in $(seq "$rounds"); do
  "$exe" bench "${cl_cfg[@]}" --steps 40 --eval-batch 250 --json > "$work/cl.$r.json"
  "$py" "$here/tools/pytorch_baseline.py" "${pt_cfg[@]}" --data "$data" --epochs 1 --max-steps 150 --threads "$threads" --json \
    > "$work/pt.$r.json" 2> /dev/null
  printf 'round %d: cltrain train %s img/s, eval %s img/s | PyTorch train %s img/s, eval %s img/s\n' "$r" \
    "$(field train_images_per_second < "$work/cl.$r.json")" "$(field eval_images_per_second < "$work/cl.$r.json")" \
    "$(field train_images_per_second < "$work/pt.$r.json")" "$(field eval_images_per_second < "$work/pt.$r.json")"
done
ct=$(for r in $(seq "$rounds"); do field train_images_per_second < "$work/cl.$r.json"; done | median)
ce=$(for r in $(seq "$rounds"); do field eval_images_per_second < "$work/cl.$r.json"; done | median)
pt=$(for r in $(seq "$rounds"); do field train_images_per_second < "$work/pt.$r.json"; done | median)
pe=$(for r in $(seq "$rounds"); do field eval_images_per_second < "$work/pt.$r.json"; done | median)
echo
printf '%-28s %12s %12s %8s\n' "median of $rounds" cltrain PyTorch ratio
printf '%-28s %12.1f %12.1f %7.2fx\n' "training images/s" "$ct" "$pt" "$(awk -v a="$ct" -v b="$pt" 'BEGIN{print a/b}')"
printf '%-28s %12.1f %12.1f %7.2fx\n' "evaluation images/s" "$ce" "$pe" "$(awk -v a="$ce" -v b="$pe" 'BEGIN{print a/b}')"
if [ "$skip_epoch" -eq 0 ]; then
  for r in $(seq "$epoch_rounds"); do
    t0=$(date +%s.%N)
    "$exe" train "${cl_train_cfg[@]}" --data "$data" --set training.epochs=1 --set augmentation.use_data_augmentation=false \
      --set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs" -q --json > "$work/cl_epoch.json"
    t1=$(date +%s.%N)
    "$py" "$here/tools/pytorch_baseline.py" "${pt_cfg[@]}" --data "$data" --epochs 1 --threads "$threads" --json > "$work/pt_epoch.json" 2> /dev/null
    t2=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN{print b-a, c-b, (c-b)/(b-a)}' >> "$work/epochs"
    if [ "$epoch_rounds" -gt 1 ]; then
      printf 'epoch round %d: cltrain %.1f s, PyTorch %.1f s, %.2fx\n' "$r" $(tail -1 "$work/epochs")
    fi
  done
  cw=$(cut -d' ' -f1 "$work/epochs" | median)
  pw=$(cut -d' ' -f2 "$work/epochs" | median)
  er=$(cut -d' ' -f3 "$work/epochs" | median)
  printf '%-28s %11.1fs %11.1fs %7.2fx\n' "one-epoch command (wall)" "$cw" "$pw" "$er"
  if [ "$epoch_rounds" -gt 1 ]; then
    echo "  (medians of $epoch_rounds alternating rounds; the ratio is the median of the per-round ratios)"
  fi
  printf '%-28s %11.2f%% %11.2f%%\n' "validation accuracy" "$(field final_val_accuracy < "$work/cl_epoch.json")" \
    "$(field final_val_accuracy < "$work/pt_epoch.json")"
fi
echo "(ratios: cltrain speed / PyTorch speed; for the epoch: PyTorch seconds / cltrain seconds)"
