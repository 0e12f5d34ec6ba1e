#!/usr/bin/env bash
# Interruption: SIGINT in the middle of epoch 2 -> exit 4, the checkpoint path and the exact
# resume command printed, an intact last.safetensors, and a resume whose final model is
# bit-identical to an uninterrupted run (mid-epoch checkpoints included). SIGTERM behaves the
# same; a second SIGINT exits at once (130) leaving the earlier checkpoint intact. The signal
# lands at a known step on any device: CLTRAIN_TEST_PAUSE_AT_STEP=15 makes train stop itself
# (SIGSTOP) before step 15 (epoch 2, batch 3 of 13); the test sends the signal, then SIGCONT.
. "$(dirname "$0")/common.sh"
case "$exe" in /*) ;; *) exe="$PWD/$exe";; esac
cd "$work"
tensors() { local n; n=$(od -An -t u8 -N8 "$1" | tr -d ' '); tail -c +$((9 + n)) "$1" | md5sum | cut -d' ' -f1; }
args=(--data "$here/fixtures/mnist-small" --subset 800 --set model.conv1_channels=16 --set model.conv2_channels=16
      --set model.conv3_channels=32 --set model.hidden_size=64 --set training.log_interval=3 --set training.epochs=3)
wait_stopped() { # wait_stopped PID: up to 120 s for the process to stop itself at the hook
  for _ in $(seq 1 1200); do
    [ "$(awk '{print $3}' "/proc/$1/stat" 2> /dev/null)" = T ] && return 0
    kill -0 "$1" 2> /dev/null || return 1
    sleep 0.1
  done
  return 1
}
"$exe" train "${args[@]}" --set output.runs_dir=S/runs --set output.model_save_dir=S/models -q > s.txt 2>&1 ||
  { bad "straight run"; cat s.txt; }
for sig in INT TERM; do
  d=$sig
  CLTRAIN_TEST_PAUSE_AT_STEP=15 "$exe" train "${args[@]}" --set output.runs_dir=$d/runs \
    --set output.model_save_dir=$d/models > $d.out 2> $d.err &
  pid=$!
  wait_stopped $pid || bad "$sig: train did not stop at step 15"
  kill -$sig $pid; kill -CONT $pid
  wait $pid; rc=$?
  [ $rc -eq 4 ] && ok "$sig: exit 4" || { bad "$sig: exit $rc"; cat $d.err; }
  grep -q "interrupted in epoch 2 before batch 3 of 13" $d.err && ok "$sig: stopped mid-epoch, before batch 3 of 13" ||
    { bad "$sig: not interrupted at the paused step"; cat $d.err; }
  grep -q "checkpoint written: .*\.interrupted/last.safetensors" $d.err && ok "$sig: checkpoint path printed" ||
    { bad "$sig: no checkpoint path"; cat $d.err; }
  cmd=$(sed -n 's/^cltrain: resume with: //p' $d.err)
  case "$cmd" in "$exe train --resume "*.interrupted) ok "$sig: resume command printed: $cmd";; *) bad "$sig: resume command '$cmd'";; esac
  ls $d/runs/*.running > /dev/null 2>&1 && bad "$sig: .running folder left" || ok "$sig: run folder renamed .interrupted"
  ls $d/runs/*.interrupted | grep -q '\.tmp\.' && bad "$sig: temp files left" || ok "$sig: no temp files"
  $cmd -q > $d.resume.txt 2>&1
  [ $? -eq 0 ] && ok "$sig: resume succeeds" || { bad "$sig: resume failed"; cat $d.resume.txt; }
  a=$(tensors S/models/*.safetensors); b=$(tensors $d/models/*.safetensors)
  [ -n "$a" ] && [ "$a" = "$b" ] && ok "$sig: interrupted + resumed model is bit-identical to the straight run" ||
    bad "$sig: models differ ($a vs $b)"
  [ "$(cut -d, -f1-6 S/runs/*/metrics.csv)" = "$(cut -d, -f1-6 $d/runs/*_acc*/metrics.csv)" ] &&
    ok "$sig: metrics identical" || bad "$sig: metrics differ"
done
# a second SIGINT exits at once; the checkpoint of epoch 1 stays intact and resumable
CLTRAIN_TEST_PAUSE_AT_STEP=15 "$exe" train "${args[@]}" --set output.runs_dir=D/runs --set output.model_save_dir=D/models \
  > D.out 2> D.err &
pid=$!
wait_stopped $pid || bad "double: train did not stop at step 15"
kill -INT $pid; kill -CONT $pid; sleep 0.05; kill -INT $pid
wait $pid; rc=$?
[ $rc -eq 130 ] || [ $rc -eq 4 ] && ok "double SIGINT: exit $rc" || { bad "double SIGINT: exit $rc"; cat D.err; }
run=$(ls -d D/runs/* | head -n 1)
"$exe" train --resume "$run" -q > D.resume.txt 2>&1
[ $? -eq 0 ] && ok "double SIGINT: the checkpoint left behind resumes" || { bad "resume after double SIGINT"; cat D.resume.txt; }
finish
