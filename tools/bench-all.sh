#!/usr/bin/env bash
# Every speed comparison of the README in one run, one after the other on the same machine:
#   1. training against PyTorch (tools/bench-vs-pytorch.sh): the default config's DigitCNN, then
#      every configs/networks/*.yaml but digitcnn.yaml (the same network as the default config):
#      steady-state training and evaluation images/s, and the whole one-epoch command;
#   2. evaluation against ONNX Runtime (tools/bench-vs-onnxruntime.sh) at batch 250 and 1000;
#   3. first run, cold and warm (tools/first-run.sh).
# Each script's whole output goes to OUT/<name>.log; a summary table follows at the end.
# A benchmark tool, not a test: run it on a quiet machine (PyTorch's OpenMP threads collapse
# when other work runs), and read the ratios, which are taken side by side in one run.
# --epoch-rounds N runs each one-epoch comparison N times alternately (median ratio; default 1).
# usage: tools/bench-all.sh [--rounds N] [--epoch-rounds N] [--data DIR] [--cltrain PATH] [--ort DIR] [--out DIR]
#                           [--skip pytorch|ort|firstrun]...
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=1 epoch_rounds=1 data="$here/data/mnist" exe="$here/build/cltrain" ort="$here/.ort-node" out="" skip=" "
usage="usage: $0 [--rounds N] [--epoch-rounds N] [--data DIR] [--cltrain PATH] [--ort DIR] [--out DIR] [--skip pytorch|ort|firstrun]..."
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
  case "$1" in
    --rounds) rounds=$2;;
    --epoch-rounds) epoch_rounds=$2;;
    --data) data=$2;;
    --cltrain) exe=$2;;
    --ort) ort=$2;;
    --out) out=$2;;
    --skip) case "$2" in pytorch|ort|firstrun) skip="$skip$2 ";; *) echo "$usage" >&2; exit 2;; esac;;
    *) echo "$usage" >&2; exit 2;;
  esac
  shift 2
done
[ -x "$exe" ] || { echo "build cltrain first (cmake --build build): $exe not found" >&2; exit 2; }
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/cltrain-bench.XXXXXX")
mkdir -p "$out" || { echo "cannot create $out; choose another with --out DIR" >&2; exit 2; }
echo "bench-all: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "cltrain $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'), logs in $out"
skipped() { case "$skip" in *" $1 "*) return 0;; esac; return 1; }
# run NAME CMD...: CMD's output to OUT/NAME.log and the terminal; a failure is reported, not fatal
run() {
  local name=$1
  shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$out/$name.log" || echo "bench-all: $name failed (see $out/$name.log)"
}
# the numbers of "label   a   b   ratio" lines of a log
cols() { grep -m1 "^$2" "$out/$1.log" 2>/dev/null | sed "s|^$2||" | awk '{print $1, $2, $3}'; }

nets=()
if ! skipped pytorch; then
  run pt-digitcnn "$here/tools/bench-vs-pytorch.sh" --rounds "$rounds" --epoch-rounds "$epoch_rounds" --data "$data" --cltrain "$exe"
  nets+=(digitcnn)
  for f in "$here"/configs/networks/*.yaml; do
    n=$(basename "$f" .yaml)
    [ "$n" = digitcnn ] && continue
    run "pt-$n" "$here/tools/bench-vs-pytorch.sh" --config "$f" --rounds "$rounds" --epoch-rounds "$epoch_rounds" --data "$data" --cltrain "$exe"
    nets+=("$n")
  done
fi
if ! skipped ort; then
  for b in 250 1000; do
    run "ort-$b" "$here/tools/bench-vs-onnxruntime.sh" --rounds "$rounds" --batch "$b" --cltrain "$exe" --ort "$ort"
  done
fi
skipped firstrun || run firstrun "$here/tools/first-run.sh" --rounds "$rounds" --data "$data" "$exe"

echo
echo "summary ($rounds round(s) each; ratios: cltrain speed / the other's)"
if [ ${#nets[@]} -gt 0 ]; then
  printf '%-14s %-28s %-28s %-26s\n' network "steady training img/s" "evaluation img/s" "one-epoch command (s)"
  printf '%-14s %-28s %-28s %-26s\n' "" "cltrain PyTorch ratio" "cltrain PyTorch ratio" "cltrain PyTorch ratio"
  for n in "${nets[@]}"; do
    printf '%-14s %-28s %-28s %-26s\n' "$n" "$(cols "pt-$n" 'training images/s')" "$(cols "pt-$n" 'evaluation images/s')" \
      "$(cols "pt-$n" 'one-epoch command (wall)')"
  done
fi
for b in 250 1000; do
  [ -f "$out/ort-$b.log" ] || continue
  cl=$(sed -n 's/^  cltrain bench (OpenCL) *\([0-9.]*\).*/\1/p' "$out/ort-$b.log")
  o=$(sed -n 's/^  ONNX Runtime .* \([0-9.]*\) images\/s.*/\1/p' "$out/ort-$b.log")
  r=$(sed -n 's/^  ratio cltrain \/ ONNX Runtime: *//p' "$out/ort-$b.log")
  echo "evaluation vs ONNX Runtime, batch $b: cltrain ${cl:-?} img/s, ONNX Runtime ${o:-?} img/s, ratio ${r:-?}"
done
[ -f "$out/firstrun.log" ] && grep 'median' "$out/firstrun.log" | sed 's/^/first run: /'
exit 0
