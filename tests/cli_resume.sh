#!/usr/bin/env bash
# Checkpoints and --resume: 3 epochs straight vs 2 epochs then `--resume RUN --set training.epochs=3`
# give bit-identical model tensors and metrics (same device); SGD likewise; resume errors, a
# full disk and an unwritable output folder give clean errors and leave earlier files intact.
. "$(dirname "$0")/common.sh"
case "$exe" in /*) ;; *) exe="$PWD/$exe";; esac
cd "$work"
# tensor bytes of a safetensors file (everything after the u64 header length and the header)
tensors() { local n; n=$(od -An -t u8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1" | md5sum | cut -d' ' -f1; }
small=(--data "$here/fixtures/mnist-small" --subset 400 --set model.conv1_channels=8 --set model.conv2_channels=8
       --set model.conv3_channels=16 --set model.hidden_size=32 --set training.log_interval=2 -q)
train() { # train OUTDIR args...
  local d=$1; shift
  "$exe" train "${small[@]}" --set output.runs_dir="$d/runs" --set output.model_save_dir="$d/models" "$@"
}
for opt in adam sgd; do
  train "$opt-A" --set training.optimizer_type=$opt --set training.epochs=3 > "$opt-a.txt" 2>&1
  [ $? -eq 0 ] && ok "$opt: 3 epochs straight" || { bad "$opt: straight run"; cat "$opt-a.txt"; }
  train "$opt-B" --set training.optimizer_type=$opt --set training.epochs=2 > "$opt-b.txt" 2>&1
  [ $? -eq 0 ] && ok "$opt: 2 epochs" || { bad "$opt: 2-epoch run"; cat "$opt-b.txt"; }
  run_b=$(ls -d "$opt-B"/runs/*)
  [ $opt = adam ] && adam_run_b=$run_b || sgd_run_b=$run_b
  for f in last.safetensors best.safetensors config.yaml metrics.csv; do
    [ -s "$run_b/$f" ] && ok "$opt: run folder has $f" || bad "$opt: run folder lacks $f"
  done
  ls "$run_b" | grep -q '\.tmp\.' && bad "$opt: temp files left" || ok "$opt: no temp files"
  "$exe" train --resume "$run_b" --set training.epochs=3 -q > "$opt-c.txt" 2>&1
  [ $? -eq 0 ] && ok "$opt: resume to 3 epochs" || { bad "$opt: resume"; cat "$opt-c.txt"; }
  run_c=$(ls -td "$opt-B"/runs/*_acc* | head -n 1)
  [ "$run_c" != "$run_b" ] && [ -s "$run_c/best.safetensors" ] && [ -s "$run_c/last.safetensors" ] &&
    ok "$opt: the resumed run has its own folder with checkpoints" || bad "$opt: resumed run folder '$run_c'"
  grep -q "resumed from $run_b/last.safetensors: after epoch 2, step" "$run_c/train.log" &&
    ok "$opt: train.log says where it resumed" || bad "$opt: train.log lacks the resume line"
  a=$(ls "$opt-A"/models/*.safetensors); c=$(ls -t "$opt-B"/models/*.safetensors | head -n 1)
  ta=$(tensors "$a"); tc=$(tensors "$c")
  [ -n "$ta" ] && [ "$ta" = "$tc" ] && ok "$opt: resumed model tensors are bit-identical ($ta)" ||
    bad "$opt: resumed model differs: $ta vs $tc"
  ma=$(cut -d, -f1-6 "$opt-A"/runs/*/metrics.csv); mc=$(cut -d, -f1-6 "$(ls -td "$opt-B"/runs/*_acc* | head -n 1)/metrics.csv")
  [ "$ma" = "$mc" ] && [ "$(printf '%s\n' "$mc" | wc -l)" -eq 4 ] && ok "$opt: metrics.csv rows identical" ||
    bad "$opt: metrics differ: $ma / $mc"
done
run_b=$adam_run_b
# resume errors: exit codes and messages
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  "$@" > out.txt 2> err.txt; local rc=$?
  if [ $rc -eq "$code" ] && grep -qiE -- "$pat" out.txt err.txt; then ok "[$rc] $pat";
  else bad "[$rc, want $code /$pat/] $*"; cat err.txt; fi
}
expect 2 "finished 2 of training.epochs=2.*training.epochs=N" -- "$exe" train --resume "$run_b" -q
expect 2 "--resume takes the config stored in the checkpoint" -- "$exe" train --resume "$run_b" --config x.yaml
expect 2 "no such file" -- "$exe" train --resume nowhere/at/all
expect 2 "no last.safetensors" -- "$exe" train --resume "$work"
expect 2 "optimizer_type cannot change" -- "$exe" train --resume "$run_b" --set training.epochs=3 --set training.optimizer_type=sgd -q
expect 2 "--subset 7 differs" -- "$exe" train --resume "$run_b" --subset 7 --set training.epochs=3
expect 3 "not a cltrain checkpoint" -- "$exe" train --resume "$(ls adam-A/models/*.safetensors)"
expect 3 "ckpt_truncated.safetensors" -- "$exe" train --resume "$here/fixtures/bad/ckpt_truncated.safetensors"
expect 3 "lacks 'step'" -- "$exe" train --resume "$here/fixtures/bad/ckpt_missing_meta.safetensors"
# non-finite loss: stops with the epoch, the batch and the last good checkpoint named; the run
# folder is kept as .failed
expect 1 "non-finite in epoch 1 before batch [0-9]+; no checkpoint was written yet" -- "$exe" train "${small[@]}" \
  --set training.epochs=2 --set training.learning_rate=1e6 --set training.optimizer_type=sgd \
  --set output.runs_dir=nan/runs --set output.model_save_dir=nan/models
ls -d nan/runs/*.failed > /dev/null 2>&1 && ok "diverged run kept as .failed" || bad "no .failed run folder"
expect 1 "non-finite in epoch 3 before batch [0-9]+; the last good checkpoint is $sgd_run_b/last.safetensors" -- \
  "$exe" train --resume "$sgd_run_b" --set training.epochs=3 --set training.learning_rate=1e6 \
  --set output.runs_dir=nan2/runs --set output.model_save_dir=nan2/models -q
# buffers past the kernels' 32-bit indices: refused before training (exit 2, names the layer, the
# size it would need, the limit and the largest batch that fits)
expect 2 "output of layer 'conv1' needs 210453397504 elements at batch 65536, more than the kernels' limit of 2147483647 per buffer; reduce the batch size to at most 668" -- \
  "$exe" train "${small[@]}" --set training.batch_size=65536 --set model.conv1_channels=4096 \
  --set model.conv2_channels=4096 --set model.conv3_channels=4096 --set output.runs_dir=mem/runs
# checkpoint.every_epochs=0: no checkpoint files
train off --set training.epochs=1 --set checkpoint.every_epochs=0 > off.txt 2>&1
[ ! -e off/runs/*/last.safetensors ] && [ ! -e off/runs/*/best.safetensors ] && ok "every_epochs=0 writes no checkpoint" ||
  bad "checkpoint written with every_epochs=0"
# a full disk (file size limit): clean error, exit 1, no temp files, earlier checkpoint intact. The
# limit is per file and applies to the OpenCL compiler too (POCL writes each program's bitcode,
# ~1.2 MB for 'conv', even on a warm cache), so the model is wide enough that its checkpoints
# (last.safetensors 13.6 MB with the Adam moments) are over a limit of 4 MB that the compiler stays
# well under
train fullsrc --set training.epochs=1 --set model.hidden_size=2048 > fullsrc.txt 2>&1 || { bad "wide model"; cat fullsrc.txt; }
cp -r "$(ls -d fullsrc/runs/*)" full
sum_before=$(md5sum < full/last.safetensors)
(ulimit -f 4000; "$exe" train --resume full --set training.epochs=2 --set output.runs_dir="$work/full-runs" -q) > full.txt 2>&1
rc=$?
[ $rc -eq 1 ] && grep -qiE "File too large|write failed|cannot write" full.txt && ok "full disk: exit 1 with a message" ||
  { bad "full disk: exit $rc"; cat full.txt; }
[ "$(md5sum < full/last.safetensors)" = "$sum_before" ] && ok "full disk: the resumed-from checkpoint is intact" || bad "checkpoint changed"
[ -z "$(find "$work/full-runs" -name '*.tmp.*' 2> /dev/null)" ] && ok "full disk: no temp files" || bad "full disk: temp files left"
# an output folder that cannot be created: clean error, exit 1, nothing written
touch afile
expect 1 "afile.*(cannot create folder|not a folder|Not a directory)" -- "$exe" train "${small[@]}" --set training.epochs=1 \
  --set output.runs_dir=afile/runs --set output.model_save_dir=afile/models
finish
