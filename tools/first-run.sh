#!/usr/bin/env bash
# First-run start-up: `cltrain train --subset 640 --set training.epochs=1` (one epoch of 640 images,
# then the whole test set) with empty program and POCL caches (cold), then again with the same
# caches (warm); for each binary given (e.g. a build of main before a change and one after), in
# turn, ROUNDS times; prints wall-clock and CPU seconds per run and the medians. ENV=VALUE
# arguments before a binary apply to it (e.g. CLTRAIN_PREWARM=1 build/cltrain).
# A benchmark tool, not a test: the figures depend on the machine and its load.
# usage: tools/first-run.sh [--rounds N] [--data DIR] [ENV=VALUE...] CLTRAIN [[ENV=VALUE...] CLTRAIN ...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 data="$here/data/mnist"
usage="usage: $0 [--rounds N] [--data DIR] [ENV=VALUE...] CLTRAIN [[ENV=VALUE...] CLTRAIN ...]"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; rounds=$2; shift 2;;
    --data) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; data=$2; shift 2;;
    -h|--help) echo "$usage"; exit 0;;
    *) break;;
  esac
done
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
# variants: environment ("ENV=V ...") and binary
venv=() vbin=() pending=""
for a in "$@"; do
  case "$a" in
    *=*) pending="$pending $a";;
    *) [ -x "$a" ] || { echo "$0: $a is not an executable" >&2; exit 2; }
       venv+=("$pending"); vbin+=("$a"); pending="";;
  esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
one() { # label variant kind caches...
  local label=$1 v=$2 kind=$3 cd=$4 pd=$5
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %U" -o "$work/t" env ${venv[$v]} CLTRAIN_CACHE_DIR="$cd" POCL_CACHE_DIR="$pd" \
    "${vbin[$v]}" train --subset 640 \
    --set training.epochs=1 --set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs" \
    --data "$data" -q > /dev/null 2> "$work/err" 2>&1 || { echo "$label failed:"; cat "$work/err"; exit 1; }
  read -r wall cpu < "$work/t"
  echo "$label:${venv[$v]} ${vbin[$v]} $kind: wall $wall s, CPU $cpu s"
  echo "$wall $cpu" >> "$work/$label.$kind"
}
for r in $(seq "$rounds"); do
  for v in "${!vbin[@]}"; do
    i=$((v + 1))
    cd_=$(mktemp -d "$work/c.XXXX") pd_=$(mktemp -d "$work/p.XXXX")
    one "$i" "$v" cold "$cd_" "$pd_"
    one "$i" "$v" warm "$cd_" "$pd_"
    rm -rf "$cd_" "$pd_"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for v in "${!vbin[@]}"; do
  i=$((v + 1))
  for kind in cold warm; do
    printf '%s:%s %s: %s median wall %s s, CPU %s s (%s rounds)\n' "$i" "${venv[$v]}" "${vbin[$v]}" "$kind" \
      "$(cut -d' ' -f1 "$work/$i.$kind" | median)" "$(cut -d' ' -f2 "$work/$i.$kind" | median)" "$rounds"
  done
done
