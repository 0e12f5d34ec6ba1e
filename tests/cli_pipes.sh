#!/usr/bin/env bash
# End to end: cltrain under Dagster Pipes (DAGSTER_PIPES_CONTEXT / DAGSTER_PIPES_MESSAGES, encoded
# by tools/pipes_harness --encode). A tiny model is trained under Pipes (extras' --set applied,
# digit_classifier materialized with the model file's MD5 as data version, epoch log lines), then:
# without the variables the output has no Pipes trace and `predict` prints the same stdout (--json
# and text) as with them; predict's asset and check; deploy skipped = exit 0 and a failed WARN check
# under Pipes (exit 5 without); a bad config and undecodable / unsupported parameters exit 2 with
# the reason (in `closed` when the channel works); the stdio writer; SIGTERM and a double SIGINT
# during train end with `closed` carrying cltrain.Interrupted. ~30 s.
. "$(dirname "$0")/common.sh"
harness="$(dirname "$exe")/pipes_harness"
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }
[ -x "$harness" ] || { echo "FAIL: $harness not built"; exit 1; }
mnist="$here/fixtures/mnist-small"
cfg=(--set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs")
enc() { "$harness" --encode "$1"; }
# pipes ASSET_KEYS_JSON EXTRAS_JSON -- command...: runs under Pipes with a fresh messages file
pipes() {
  local keys=$1 extras=$2
  shift 3
  rm -f "$work/msgs"
  DAGSTER_PIPES_CONTEXT=$(enc "{\"data\": {\"asset_keys\": $keys, \"run_id\": \"r\", \"job_name\": \"j\", \"extras\": $extras}}") \
    DAGSTER_PIPES_MESSAGES=$(enc "{\"path\": \"$work/msgs\"}") "$@"
}
count() { grep -c "\"method\":\"$1\"" "$work/msgs" 2>/dev/null || true; }

# --- train under Pipes -----------------------------------------------------------------------------
pipes '["digit_classifier"]' '{"set": ["training.epochs=1"]}' -- "$exe" train --data "$mnist" --subset 400 \
  --set model.conv1_channels=4 --set model.conv2_channels=8 --set model.conv3_channels=8 --set model.hidden_size=16 \
  --set augmentation.use_data_augmentation=false "${cfg[@]}" > "$work/train.out" 2> "$work/train.err"
rc=$?
check '[ $rc -eq 0 ]' "train under Pipes: exit $rc"
[ $rc -eq 0 ] || cat "$work/train.err"
check '[ "$(head -n 1 "$work/msgs" | grep -c "\"method\":\"opened\"")" = 1 ]' "opened first"
check '[ "$(tail -n 1 "$work/msgs")" = "{\"__dagster_pipes_version\":\"0.1\",\"method\":\"closed\",\"params\":{}}" ]' "closed last, no exception"
check '[ "$(count report_asset_materialization)" = 1 ]' "one materialization"
check '[ "$(count report_custom_message)" = 1 ]' "one custom message (the --json result)"
model=$(ls "$work"/models/*.safetensors 2>/dev/null | head -n 1)
md5=$(md5sum "$model" | cut -d' ' -f1)
check 'grep -q "\"asset_key\":\"digit_classifier\",\"data_version\":\"$md5\"" "$work/msgs"' "data_version = model MD5"
check 'grep -q "\"training_epochs\":{\"type\":\"int\",\"raw_value\":1}" "$work/msgs"' "extras' --set applied (1 epoch)"
check 'grep -q "\"final_val_accuracy\":{\"type\":\"float\",\"raw_value\":[0-9.e+-]*[.e]" "$work/msgs"' "accuracy is a JSON float"
check 'grep -q "\"model_path\":{\"type\":\"path\",\"raw_value\":\"/" "$work/msgs"' "model path, absolute"
check 'grep -q "\"epoch_metrics\":{\"type\":\"json\"" "$work/msgs"' "per-epoch metrics"
check 'grep -q "\"method\":\"log\",\"params\":{\"message\":\"Epoch 1/1: train loss" "$work/msgs"' "epoch summary as a log message"

# --- no Pipes: no trace, identical output -----------------------------------------------------------
pred=(predict --model "$model" "$mnist/t10k-images-idx3-ubyte.gz")
"$exe" "${pred[@]}" --json > "$work/plain.json" 2> "$work/plain.err"
check '[ $? -eq 0 ]' "predict without Pipes"
check '! grep -q "__dagster_pipes_version" "$work/plain.json" "$work/plain.err"' "no Pipes output without the variables"
pipes '["batch_digit_predictions"]' '{}' -- "$exe" "${pred[@]}" --json > "$work/pipes.json" 2> "$work/pipes.err"
check '[ $? -eq 0 ]' "predict under Pipes"
check 'cmp -s "$work/plain.json" "$work/pipes.json"' "identical --json with and without Pipes"
check '[ "$(count report_asset_check)" = 1 ] && grep -q "\"check_name\":\"low_confidence_predictions\"" "$work/msgs"' "predict check"
check 'grep -q "\"asset_key\":\"batch_digit_predictions\"" "$work/msgs"' "batch_digit_predictions materialized"
"$exe" "${pred[@]}" > "$work/plain.txt" 2> /dev/null
pipes '["batch_digit_predictions"]' '{}' -- "$exe" "${pred[@]}" > "$work/pipes.txt" 2> /dev/null
check 'cmp -s "$work/plain.txt" "$work/pipes.txt"' "identical text output with and without Pipes"
check '[ "$(count report_custom_message)" = 1 ]' "custom message without --json too"

# --- deploy skipped: a result under Pipes --------------------------------------------------------
"$exe" deploy --model "$model" --threshold 1 "${cfg[@]}" --data "$mnist" > /dev/null 2>&1
check '[ $? -eq 5 ]' "deploy below the threshold without Pipes: exit 5"
pipes '["production_digit_classifier"]' '{}' -- "$exe" deploy --model "$model" --threshold 1 "${cfg[@]}" \
  --data "$mnist" > /dev/null 2> "$work/err"
check '[ $? -eq 0 ]' "skipped deploy under Pipes: exit 0"
check 'grep -q "\"check_name\":\"accuracy_threshold\",\"passed\":false,\"severity\":\"WARN\"" "$work/msgs"' "failed WARN check"
check 'grep -q "\"deployment_status\":{\"type\":\"text\",\"raw_value\":\"skipped\"}" "$work/msgs"' "status skipped"
check 'grep -q "\"level\":\"WARNING\"" "$work/msgs" && ! grep -q "\"exception\"" "$work/msgs"' "a warning, not an exception"

# --- failures ------------------------------------------------------------------------------------
pipes '["model_evaluation"]' '{}' -- "$exe" evaluate --set training.lerning_rate=1 > /dev/null 2> "$work/err"
check '[ $? -eq 2 ]' "bad config under Pipes: exit 2"
check 'tail -n 1 "$work/msgs" | grep -q "\"exception\":{\"name\":\"cltrain.UsageError\",\"message\":\"[^\"]*lerning_rate"' "closed carries cltrain's error"
pipes '["model_evaluation"]' '{"set": "training.epochs=1"}' -- "$exe" evaluate > /dev/null 2> "$work/err"
check '[ $? -eq 2 ] && grep -q "\"set\" must be a list" "$work/err"' "malformed extras: exit 2 with the reason"
DAGSTER_PIPES_CONTEXT='not*base64' DAGSTER_PIPES_MESSAGES=$(enc '{"path": "/dev/null"}') "$exe" evaluate > /dev/null 2> "$work/err"
check '[ $? -eq 2 ] && grep -q "DAGSTER_PIPES_CONTEXT: not valid base64" "$work/err"' "undecodable context: exit 2"
DAGSTER_PIPES_CONTEXT=$(enc '{"data": {}}') DAGSTER_PIPES_MESSAGES=$(enc '{"bucket": "b", "key_prefix": "k"}') \
  "$exe" evaluate > /dev/null 2> "$work/err"
check '[ $? -eq 2 ] && grep -q "unsupported message writer" "$work/err"' "blob-store writer: exit 2"
DAGSTER_PIPES_CONTEXT=$(enc '{"data": {}}') "$exe" evaluate > /dev/null 2> "$work/err"
check '[ $? -eq 2 ] && grep -q "DAGSTER_PIPES_MESSAGES is not" "$work/err"' "context without messages: exit 2"

# --- stdio writer ---------------------------------------------------------------------------------
DAGSTER_PIPES_CONTEXT=$(enc '{"data": {"asset_keys": ["batch_digit_predictions"]}}') \
  DAGSTER_PIPES_MESSAGES=$(enc '{"stdio": "stderr"}') "$exe" "${pred[@]}" -q > "$work/o" 2> "$work/e"
check '[ $? -eq 0 ] && grep -q "^{\"__dagster_pipes_version\":\"0.1\",\"method\":\"opened\"" "$work/e" && grep -q "\"method\":\"closed\"" "$work/e"' "stdio writer on stderr"

# --- interruption under Pipes: train's own handler (checkpoint, exit 4) and a second signal (130) ---
# CLTRAIN_TEST_PAUSE_AT_STEP makes train stop itself before step 5, so the signal lands mid-training
wait_stopped() { # wait_stopped PID: up to 120 s for the process to stop itself at the hook
  for _ in $(seq 1 1200); do
    [ "$(awk '{print $3}' "/proc/$1/stat" 2> /dev/null)" = T ] && return 0
    kill -0 "$1" 2> /dev/null || return 1
    sleep 0.1
  done
  return 1
}
small=(--data "$mnist" --subset 400 --set model.conv1_channels=4 --set model.conv2_channels=8
       --set model.conv3_channels=8 --set model.hidden_size=16 --set training.epochs=2 "${cfg[@]}")
ctx=$(enc '{"data": {"asset_keys": ["digit_classifier"], "run_id": "r", "job_name": "j"}}')
msgs=$(enc "{\"path\": \"$work/msgs\"}")
# paused_train SIGNALS...: train under Pipes, stopped at step 5, then the signals, then SIGCONT; sets rc
paused_train() {
  rm -f "$work/msgs"
  CLTRAIN_TEST_PAUSE_AT_STEP=5 DAGSTER_PIPES_CONTEXT="$ctx" DAGSTER_PIPES_MESSAGES="$msgs" \
    "$exe" train "${small[@]}" > /dev/null 2> "$work/err" &
  local pid=$!
  if ! wait_stopped $pid; then
    bad "train under Pipes did not stop at step 5"
    kill -9 $pid 2> /dev/null
    wait $pid
    rc=-1
    return
  fi
  kill -$1 $pid
  kill -CONT $pid
  if [ $# -gt 1 ]; then sleep 0.05; kill -$2 $pid; fi
  wait $pid
  rc=$?
}
paused_train TERM
check '[ $rc -eq 4 ]' "SIGTERM during train under Pipes: exit $rc (checkpoint written)"
check 'tail -n 1 "$work/msgs" | grep -q "\"method\":\"closed\",\"params\":{\"exception\":{\"name\":\"cltrain.Interrupted\",\"message\":\"interrupted in epoch"' \
  "closed with cltrain.Interrupted"
paused_train INT INT
check '[ $rc -eq 130 ] || [ $rc -eq 4 ]' "double SIGINT under Pipes: exit $rc"
check '[ "$(count closed)" = 1 ] && tail -n 1 "$work/msgs" | grep -q "\"exception\":{\"name\":\"cltrain.Interrupted\""' \
  "double SIGINT: one closed, with the interruption"

finish
