#!/usr/bin/env bash
# End to end on the committed MNIST subset (2,400 training / 600 validation / 1,000 test
# images, 1 epoch): `cltrain pipeline` (data -> train -> evaluate -> deploy), then `models`,
# `evaluate`, `deploy` (threshold pass, skipped with exit 5, --force, --custom), a model given
# by path with no run folder, and bad arguments / bad files with their documented exit codes.
. "$(dirname "$0")/common.sh"
cd "$work"
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# value of a top-level-ish "key":value in a JSON line (first match; strings without quotes)
jget() { printf '%s' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|[-0-9.e+]*\|true\|false\|null\)" | head -n 1 | cut -d: -f2- | tr -d '"'; }

common=(--data "$here/fixtures/mnist-small" --set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs")
t_start=$(date +%s)

# --- pipeline ---------------------------------------------------------------------------------
"$exe" pipeline "${common[@]}" --set training.epochs=1 --set augmentation.use_data_augmentation=false \
  --set early_stopping.use_early_stopping=false --set deployment.accuracy_threshold=0.5 --json > pipe.txt 2> pipe.err
rc=$?
[ $rc -eq 0 ] && ok "pipeline exits 0" || { bad "pipeline exit $rc"; cat pipe.err; }
pj=$(tail -n 1 pipe.txt)
check "pipeline status ok" '[ "$(jget "$pj" status)" = ok ]'
for s in data training evaluation deployment; do
  grep -q "^{\"step\":\"$s\"" pipe.txt && ok "step line: $s" || bad "no step line for $s"
done
data_line=$(grep '^{"step":"data"' pipe.txt)
check "data: train_samples 2400" '[ "$(jget "$data_line" train_samples)" = 2400 ]'
check "data: val_samples 600" '[ "$(jget "$data_line" val_samples)" = 600 ]'
check "data: test_samples 1000" '[ "$(jget "$data_line" test_samples)" = 1000 ]'
check "data: image_shape [1,28,28], num_classes 10" \
  'printf "%s" "$data_line" | grep -q "\"image_shape\":\[1,28,28\],\"num_classes\":10"'
model=$(jget "$pj" model_name)
run_dir=$(jget "$pj" run_dir)
check "model file $model.safetensors" '[ -s "$work/models/$model.safetensors" ]'
check "pipeline.json written" '[ -s "$run_dir/pipeline.json" ] && [ "$(tail -n 1 "$run_dir/pipeline.json")" = "$pj" ]'
check "deployment status deployed" 'printf "%s" "$pj" | grep -q "\"deployment_status\":\"deployed\""'
acc=$(jget "$(grep '^{"step":"evaluation"' pipe.txt)" test_accuracy)
tag=$(printf '%.2f' "$acc" | tr . p)
check "deployed as production_model_$tag (test accuracy $acc)" \
  '[ -s "$work/models/production/production_model_$tag.safetensors" ] && [ -s "$work/models/production.json" ]'
check "production copy identical to the model" \
  'cmp -s "$work/models/$model.safetensors" "$work/models/production/production_model_$tag.safetensors"'

# --- evaluation files -------------------------------------------------------------------------
ev="$run_dir/evaluation.json"
check "evaluation.json" '[ -s "$ev" ]'
evj=$(cat "$ev")
png_size() { # prints "WxH" when the file has the PNG signature and an IHDR chunk
  local sig ihdr
  sig=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
  ihdr=$(od -An -c -j12 -N4 "$1" | tr -d ' \n')
  [ "$sig" = 89504e470d0a1a0a ] && [ "$ihdr" = IHDR ] || return 1
  echo "$(od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}')x$(od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}')"
}
sz=$(png_size "$run_dir/confusion_matrix.png")
check "confusion_matrix.png is a PNG ($sz)" '[ -n "$sz" ] && [ "${sz%x*}" -ge 400 ] && [ "${sz#*x}" -ge 400 ]'
sz=$(png_size "$run_dir/training_curves.png")
check "training_curves.png is a PNG ($sz)" '[ -n "$sz" ]'
for k in test_accuracy test_samples precision_macro recall_macro f1_macro confusion_matrix per_class evaluated_model_path; do
  printf '%s' "$evj" | grep -q "\"$k\":" && ok "evaluation.json has $k" || bad "evaluation.json lacks $k"
done
rows=$(printf '%s' "$evj" | sed -n 's/.*"confusion_matrix":\[\[\([0-9,]*\(\],\[[0-9,]*\)*\)\]\].*/\1/p' | sed 's/\],\[/\n/g')
sums=$(printf '%s\n' "$rows" | awk -F, '{s=0; for(i=1;i<=NF;i++) s+=$i; print s}' | tr '\n' ' ')
supports=$(printf '%s' "$evj" | grep -o '"support":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
check "confusion matrix: 10 rows" '[ "$(printf "%s\n" "$rows" | wc -l)" -eq 10 ]'
check "confusion matrix rows sum to the support ($sums)" '[ -n "$sums" ] && [ "$sums" = "$supports" ]'
check "supports add up to 1000" '[ "$(echo $supports | tr " " "\n" | awk "{s+=\$1} END {print s}")" = 1000 ]'
diag=$(printf '%s\n' "$rows" | awk -F, '{s+=$(NR)} END {print s}')
check "test_accuracy = trace / 1000" "awk -v d=$diag -v a=$acc 'BEGIN { exit !(d/1000 == a) }'"

# --- models -----------------------------------------------------------------------------------
"$exe" models "${common[@]}" --json > models.txt 2> models.err
rc=$?
mj=$(tail -n 1 models.txt)
check "models --json exits 0" '[ $rc -eq 0 ]'
check "models: one model, in production" \
  'printf "%s" "$mj" | grep -q "\"count\":1" && printf "%s" "$mj" | grep -q "\"name\":\"$model\".*\"production\":true"'
check "models: production marker names production_model_$tag" \
  'printf "%s" "$mj" | grep -q "\"production\":{\"model_name\":\"production_model_$tag\""'
"$exe" models "${common[@]}" > models_h.txt 2>&1
check "models table marks the production model" 'grep -q "^\* $model" models_h.txt'

# --- evaluate ---------------------------------------------------------------------------------
"$exe" evaluate "${common[@]}" --json > ev1.txt 2> ev1.err
rc=$?
check "evaluate (newest) exits 0" '[ $rc -eq 0 ] || { cat ev1.err; false; }'
check "evaluate gives the same test accuracy" '[ "$(jget "$(tail -n 1 ev1.txt)" test_accuracy)" = "$acc" ]'
"$exe" evaluate "${common[@]}" --model "$model" > ev2.txt 2> ev2.err
rc=$?
check "evaluate --model NAME prints the tables" \
  '[ $rc -eq 0 ] && grep -q "weighted avg" ev2.txt && grep -q "macro avg" ev2.txt && grep -q "^actual" ev2.txt'
mkdir -p ext && cp "$work/models/$model.safetensors" ext/outside.safetensors
"$exe" evaluate "${common[@]}" --model ext/outside.safetensors --json > ev3.txt 2> ev3.err
rc=$?
e3=$(tail -n 1 ev3.txt)
check "evaluate --model PATH exits 0" '[ $rc -eq 0 ] || { cat ev3.err; false; }'
check "a model by path gets the run folder runs/outside" '[ -s "$work/runs/outside/evaluation.json" ]'
check "no metrics.csv -> no training curves" \
  'printf "%s" "$e3" | grep -q "\"training_curves_png\":null" && [ ! -e "$work/runs/outside/training_curves.png" ]'

# --- deploy -----------------------------------------------------------------------------------
"$exe" deploy "${common[@]}" --threshold 0.999 --json > d1.txt 2> d1.err
rc=$?
d1=$(tail -n 1 d1.txt)
check "deploy --threshold 0.999 -> exit 5" '[ $rc -eq 5 ]'
check "skipped: status, type, threshold, accuracy" \
  '[ "$(jget "$d1" deployment_status)" = skipped ] && [ "$(jget "$d1" deployment_type)" = standard ] && [ "$(jget "$d1" threshold)" = 0.999 ] && [ "$(jget "$d1" accuracy)" = "$acc" ]'
check "skipped: a warning on stderr" 'grep -q "warning: .*below the threshold" d1.err'
"$exe" deploy "${common[@]}" --threshold 0.999 --force --json > d2.txt 2> d2.err
rc=$?
d2=$(tail -n 1 d2.txt)
check "deploy --force -> deployed_forced as production_model_forced_$tag" \
  '[ $rc -eq 0 ] && [ "$(jget "$d2" deployment_status)" = deployed_forced ] && [ "$(jget "$d2" model_name)" = "production_model_forced_$tag" ] && [ -s "$work/models/production/production_model_forced_$tag.safetensors" ]'
"$exe" deploy "${common[@]}" --custom "$model" --json > d3.txt 2> d3.err
rc=$?
d3=$(tail -n 1 d3.txt)
check "deploy --custom NAME -> deployed_custom as production_custom_NAME" \
  '[ $rc -eq 0 ] && [ "$(jget "$d3" deployment_status)" = deployed_custom ] && [ "$(jget "$d3" deployment_type)" = user_override ] && [ -s "$work/models/production/production_custom_$model.safetensors" ]'
"$exe" models "${common[@]}" --json > m2.txt 2>&1
check "models: marker follows the last deployment" \
  'tail -n 1 m2.txt | grep -q "\"production\":{\"model_name\":\"production_custom_$model\""'
"$exe" deploy "${common[@]}" --custom no_such_model --json > d4.txt 2> d4.err
rc=$?
check "deploy --custom unknown -> failed_custom, exit 2" \
  '[ $rc -eq 2 ] && [ "$(jget "$(tail -n 1 d4.txt)" deployment_status)" = failed_custom ]'
cp ext/outside.safetensors ext/fresh.safetensors
"$exe" deploy "${common[@]}" --model ext/fresh.safetensors --threshold 0 --json > d5.txt 2> d5.err
rc=$?
check "deploy of a never-evaluated model evaluates it first" \
  '[ $rc -eq 0 ] && [ "$(jget "$(tail -n 1 d5.txt)" evaluated_now)" = true ] && [ -s "$work/runs/fresh/evaluation.json" ]'

# --- bad arguments and files --------------------------------------------------------------------
expect() { # expect CODE PATTERN DESCRIPTION -- command...
  local code=$1 pat=$2 what=$3
  shift 4
  "$@" > bad.out 2> bad.err
  local got=$?
  if [ $got -eq "$code" ] && grep -q -- "$pat" bad.err; then ok "$what (exit $got)"; else
    bad "$what: exit $got (want $code), stderr: $(head -c 400 bad.err)"; fi
}
expect 2 "unknown model 'nope'.*$model" "unknown model name lists the available ones" -- \
  "$exe" evaluate "${common[@]}" --model nope
expect 3 "no such model file" "missing model file" -- "$exe" evaluate "${common[@]}" --model "$work/missing.safetensors"
expect 3 "not a DigitCNN model" "a safetensors file that is not DigitCNN" -- \
  "$exe" evaluate "${common[@]}" --model "$here/fixtures/safetensors/valid.safetensors"
expect 3 "not a safetensors file" "a file that is not safetensors" -- \
  "$exe" evaluate "${common[@]}" --model "$here/fixtures/mnist-small/README.md"
head -c 100000 "$work/models/$model.safetensors" > ext/truncated.safetensors
expect 3 "truncated.safetensors" "a truncated model file" -- \
  "$exe" evaluate "${common[@]}" --model ext/truncated.safetensors
expect 2 "threshold '1.5'" "threshold above 1" -- "$exe" deploy "${common[@]}" --threshold 1.5
expect 2 "threshold 'abc'" "threshold not a number" -- "$exe" deploy "${common[@]}" --threshold abc
expect 2 "needs a value" "--threshold without a value" -- "$exe" deploy "${common[@]}" --threshold
expect 2 "unknown option '--bogus'" "evaluate: unknown option" -- "$exe" evaluate --bogus
expect 2 "unknown option '--model'" "pipeline: --model is not an option" -- "$exe" pipeline --model x
expect 2 "unknown option" "models: positional argument" -- "$exe" models extra
expect 2 "either --model" "deploy --model with --custom" -- "$exe" deploy "${common[@]}" --model "$model" --custom "$model"
expect 3 "no models in" "evaluate with an empty store" -- \
  "$exe" evaluate --data "$here/fixtures/mnist-small" --set output.model_save_dir="$work/empty" --set output.runs_dir="$work/runs"
expect 2 "output.save_model" "pipeline without saving the model" -- \
  "$exe" pipeline "${common[@]}" --set output.save_model=false
"$exe" models --set output.model_save_dir="$work/empty" > empty.txt 2>&1
check "models on an empty store exits 0 and says so" '[ $? -eq 0 ] && grep -q "no models" empty.txt'

echo "$pass passed, $fail failed ($(( $(date +%s) - t_start )) s)"
[ $fail -eq 0 ]
