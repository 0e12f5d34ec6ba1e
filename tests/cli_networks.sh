#!/usr/bin/env bash
# Networks from YAML end to end: a shipped non-DigitCNN network (LeNet-5) trains on the committed
# MNIST subset, its model file carries the network as metadata, and `cltrain evaluate` builds the
# graph from that metadata alone (no --config) with the same test accuracy and loss as training
# reported; `train --resume` takes the network from the checkpoint.
. "$(dirname "$0")/common.sh"
cd "$work"

"$exe" train --config "$here/../configs/networks/lenet5.yaml" --data "$here/fixtures/mnist-small" --subset 512 \
  --set training.epochs=2 --set checkpoint.every_epochs=1 --set output.model_save_dir="$work/models" \
  --set output.runs_dir="$work/runs" > train.txt 2> err.txt
rc=$?
[ $rc -eq 0 ] && ok "lenet5 trains" || { bad "lenet5 train exit $rc"; cat err.txt; }
model=$(ls "$work"/models/*.safetensors 2>/dev/null | head -1)
[ -s "$model" ] && ok "model written" || bad "no model file"
grep -a -q '"network":' "$model" && grep -a -q 'avgpool2d' "$model" && ok "the model file holds the network" ||
  bad "no network metadata in $model"
want=$(sed -n 's/^test: accuracy \([0-9.]*\) .*loss \([0-9.]*\) .*/\1 \2/p' train.txt)
"$exe" evaluate --model "$model" --data "$here/fixtures/mnist-small" --set output.runs_dir="$work/runs" --json \
  > eval.txt 2> eval_err.txt
rc=$?
[ $rc -eq 0 ] && ok "evaluate builds the graph from the file" || { bad "evaluate exit $rc"; cat eval_err.txt; }
acc=$(sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p' eval.txt)
loss=$(sed -n 's/.*"test_loss":\([0-9.]*\).*/\1/p' eval.txt)
got=$(awk -v a="$acc" -v l="$loss" 'BEGIN { printf "%.4f %.4f", a, l }')
[ -n "$want" ] && [ "$got" = "$want" ] && ok "evaluate: accuracy and loss $got as in training" ||
  bad "evaluate gives '$got', training reported '$want'"
# resume: the checkpoint's network, not the default config's DigitCNN
run=$(ls -d "$work"/runs/*/ | head -1)
"$exe" train --resume "$run" --set training.epochs=3 > resume.txt 2> resume_err.txt
rc=$?
params=$(sed -n 's/.* \([0-9]*\) parameters).*/\1/p' train.txt | head -1)
[ $rc -eq 0 ] && [ -n "$params" ] && grep -q " $params parameters)" resume.txt && ok "resume runs the checkpoint's network ($params parameters)" ||
  { bad "resume exit $rc"; cat resume_err.txt; }
finish
