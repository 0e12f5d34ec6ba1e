#!/usr/bin/env bash
# A first run on POCL with empty caches (ours and POCL's), with CLTRAIN_PREWARM=1: the evaluation
# kernels are compiled by a second thread while the run trains (src/nn/prewarm.c), which leaves a
# stamp in the program cache folder so later runs skip it; no program binaries are fetched from
# POCL (it caches its builds itself, and fetching one compiles every kernel of the program once
# more). The epoch lines and the test line are the same without the warm-up thread (the default).
. "$(dirname "$0")/common.sh"
export CLTRAIN_CACHE_DIR="$work/cache" POCL_CACHE_DIR="$work/pocl"
unset CLTRAIN_NO_CACHE CLTRAIN_PREWARM CLTRAIN_KERNEL_DIR POCL_KERNEL_CACHE

train() { # name
  "$exe" train --device cpu --data "$here/fixtures/mnist-small" --subset 256 --set training.epochs=1 \
    --set output.model_save_dir="$work/models_$1" --set output.runs_dir="$work/runs_$1" \
    > "$work/$1.txt" 2> "$work/$1.err"
}
# the lines that must agree, without timings and file names
results() { grep -E '^(Epoch|test:)' "$1" | sed 's/, [0-9.]* images\/s, [0-9.]* s$//'; }

CLTRAIN_PREWARM=1 train first && ok "first run exits 0" || { bad "first run"; cat "$work/first.err"; }
ls "$CLTRAIN_CACHE_DIR"/prewarm-* > /dev/null 2>&1 && ok "the warm-up left its stamp" ||
  { bad "no warm-up stamp in $CLTRAIN_CACHE_DIR"; ls -la "$CLTRAIN_CACHE_DIR"; }
ls "$CLTRAIN_CACHE_DIR"/*.bin > /dev/null 2>&1 && bad "program binaries fetched from POCL" ||
  ok "no program binaries fetched from POCL"
ls "$POCL_CACHE_DIR" > /dev/null 2>&1 && ok "POCL cached the builds" || bad "POCL_CACHE_DIR is empty"

train off && ok "run without the warm-up exits 0" || { bad "run without"; cat "$work/off.err"; }
results "$work/first.txt" > "$work/first.res"
results "$work/off.txt" > "$work/off.res"
[ -s "$work/first.res" ] && cmp -s "$work/first.res" "$work/off.res" &&
  ok "epoch and test lines equal with and without the warm-up" ||
  { bad "results differ with the warm-up"; diff "$work/first.res" "$work/off.res"; }

finish
