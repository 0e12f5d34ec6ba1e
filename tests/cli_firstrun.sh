#!/usr/bin/env bash
# A first run on POCL with empty caches (ours and POCL's): a helper process (`cltrain __prewarm`,
# src/nn/prewarm.c) compiles the run's kernels from the other end while the run compiles its
# own, and leaves a stamp in the program cache folder so later runs skip it; it is gone when the
# run ends and leaves no spec file behind; no program binaries are fetched from POCL (it caches
# its builds itself, and fetching one compiles every kernel of the program once more). The epoch
# lines and the test line are the same without the helper (CLTRAIN_PREWARM=0, empty caches too).
. "$(dirname "$0")/common.sh"
unset CLTRAIN_NO_CACHE CLTRAIN_PREWARM CLTRAIN_KERNEL_DIR POCL_KERNEL_CACHE

train() { # name
  CLTRAIN_CACHE_DIR="$work/cache_$1" POCL_CACHE_DIR="$work/pocl_$1" \
  "$exe" train --device cpu --data "$here/fixtures/mnist-small" --subset 256 --set training.epochs=1 \
    --set output.model_save_dir="$work/models_$1" --set output.runs_dir="$work/runs_$1" -v -v \
    > "$work/$1.txt" 2> "$work/$1.err"
}
# the lines that must agree, without timings and file names
results() { grep -E '^(Epoch|test:)' "$1" | sed 's/, [0-9.]* images\/s, [0-9.]* s$//'; }

train first && ok "first run exits 0" || { bad "first run"; cat "$work/first.err"; }
grep -q "kernel warm-up: helper process" "$work/first.err" && ok "the run started the helper" ||
  bad "no helper started"
ls "$work/cache_first"/prewarm-* > /dev/null 2>&1 && ok "the helper left its stamp" ||
  { bad "no warm-up stamp in $work/cache_first"; ls -la "$work/cache_first"; }
ls "$work/cache_first"/prewarm-*.json > /dev/null 2>&1 && bad "a spec file was left behind" ||
  ok "no spec file left behind"
pgrep -f "__prewarm $work" > /dev/null && bad "the helper outlived the run" || ok "no helper left running"
ls "$work/cache_first"/*.bin > /dev/null 2>&1 && bad "program binaries fetched from POCL" ||
  ok "no program binaries fetched from POCL"
ls "$work/pocl_first" > /dev/null 2>&1 && ok "POCL cached the builds" || bad "POCL_CACHE_DIR is empty"

# a second run on the same caches: the stamp says the helper has done its work
CLTRAIN_CACHE_DIR="$work/cache_first" POCL_CACHE_DIR="$work/pocl_first" \
  "$exe" train --device cpu --data "$here/fixtures/mnist-small" --subset 256 --set training.epochs=1 \
  --set output.model_save_dir="$work/models_again" --set output.runs_dir="$work/runs_again" -v -v \
  > "$work/again.txt" 2> "$work/again.err" && ok "warm run exits 0" || { bad "warm run"; cat "$work/again.err"; }
grep -q "kernel warm-up: helper process" "$work/again.err" && bad "the warm run started the helper again" ||
  ok "the warm run starts no helper"

CLTRAIN_PREWARM=0 train off && ok "run without the helper exits 0" || { bad "run without"; cat "$work/off.err"; }
grep -q "kernel warm-up: helper process" "$work/off.err" && bad "CLTRAIN_PREWARM=0 started the helper" ||
  ok "CLTRAIN_PREWARM=0 starts no helper"
results "$work/first.txt" > "$work/first.res"
results "$work/off.txt" > "$work/off.res"
[ -s "$work/first.res" ] && cmp -s "$work/first.res" "$work/off.res" &&
  ok "epoch and test lines equal with and without the helper" ||
  { bad "results differ with the helper"; diff "$work/first.res" "$work/off.res"; }

# the helper is cltrain's own: by hand it refuses what is not its spec, and deletes nothing
cp "$here/fixtures/mnist-small/README.md" "$work/not-a-spec"
"$exe" __prewarm "$work/not-a-spec" 2> "$work/hand.err"; rc=$?
[ "$rc" -ne 0 ] && [ -f "$work/not-a-spec" ] && ok "__prewarm refuses another file and keeps it" ||
  bad "__prewarm by hand: rc $rc"

finish
