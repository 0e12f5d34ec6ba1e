#!/usr/bin/env bash
# End to end: `cltrain train` on the committed MNIST subset (2,400 training images, 2 epochs)
# must beat 90% validation accuracy, write the model and the run folder, and be deterministic.
. "$(dirname "$0")/common.sh"
cd "$work"

run() {
  "$exe" train --data "$here/fixtures/mnist-small" --set training.epochs=2 --set augmentation.use_data_augmentation=false \
    --set early_stopping.use_early_stopping=false --set output.model_save_dir="$work/models$1" \
    --set output.runs_dir="$work/runs$1" -q --json > "out$1.txt" 2> "err$1.txt"
}
run 1; rc=$?
[ $rc -eq 0 ] && ok "train exits 0" || { bad "train exit $rc"; cat "err1.txt"; }
json=$(tail -n 1 out1.txt)
val=$(printf '%s' "$json" | sed -n 's/.*"final_val_accuracy":\([0-9.]*\).*/\1/p')
echo "final_val_accuracy: $val"
awk -v v="$val" 'BEGIN { exit !(v > 90.0) }' && ok "validation accuracy $val > 90" || bad "validation accuracy '$val' <= 90"
model=$(printf '%s' "$json" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
[ -s "$model" ] && ok "model file written: $model" || bad "model file missing: '$model'"
case "$model" in *_acc[0-9]*p[0-9][0-9].safetensors) ok "model name has the accuracy tag";; *) bad "model name '$model'";; esac
run_dir=$(printf '%s' "$json" | sed -n 's/.*"run_dir":"\([^"]*\)".*/\1/p')
for f in config.yaml metrics.csv train.log; do
  [ -s "$run_dir/$f" ] && ok "run folder has $f" || bad "run folder lacks $f ($run_dir)"
done
[ "$(wc -l < "$run_dir/metrics.csv")" -eq 3 ] && ok "metrics.csv has a header and 2 epochs" || bad "metrics.csv rows"
for k in model_path final_val_accuracy best_val_accuracy epochs_run configured_epochs final_train_loss \
         model_parameters learning_rate batch_size optimizer early_stopping_used train_images_per_second device; do
  printf '%s' "$json" | grep -q "\"$k\":" && ok "json has $k" || bad "json lacks $k"
done
# the effective config in the run folder is a valid config for cltrain itself
"$exe" train --config "$run_dir/config.yaml" --set training.epochs=0 > /dev/null 2>&1
[ $? -eq 2 ] && ok "config.yaml parses (epochs=0 rejected as a usage error)" || bad "run config.yaml did not parse as expected"
# determinism: same config + seed + device -> same numbers
run 2
json2=$(tail -n 1 out2.txt)
v1=$(printf '%s' "$json" | sed -n 's/.*"final_train_loss":\([0-9.e-]*\).*/\1/p')
v2=$(printf '%s' "$json2" | sed -n 's/.*"final_train_loss":\([0-9.e-]*\).*/\1/p')
[ -n "$v1" ] && [ "$v1" = "$v2" ] && ok "deterministic: train loss $v1 twice" || bad "not deterministic: '$v1' vs '$v2'"
finish
