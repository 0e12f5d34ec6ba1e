#!/usr/bin/env bash
# End to end: `cltrain export` (ONNX) and the ONNX file of `cltrain deploy`. Trains a small model
# on the committed MNIST subset (1 epoch, ~15 s), exports it, has Debian's python3-onnx check every
# file (checker with full_check, strict shape inference, the export contract: onnx_check.py), runs
# it in ONNX Runtime (npm onnxruntime-node, onnx_compare.js) on the 1,000 test images and compares
# with `cltrain predict --logits` (max |logit difference| <= 1e-4, identical argmax), the same for
# a network of linear layers without a bias (tests/fixtures/nets/linear-nobias.yaml), then checks
# the refusals (exit codes, no file left behind) and deploy's .onnx. A missing python3-onnx, node
# or onnxruntime-node is a failure. ONNX Runtime is looked for in $CLTRAIN_ORT_NODE_DIR (CMake
# variable CLTRAIN_ORT_NODE_DIR, default <source>/.ort-node; .ci/run installs it there).
. "$(dirname "$0")/common.sh"
expect_rc() { # want got what
  [ "$2" -eq "$1" ] && ok "$3: exit $2" || { bad "$3: exit $2, want $1"; cat "$work/err" >&2; }
}
py=${CLTRAIN_PYTHON:-python3}
ort=${CLTRAIN_ORT_NODE_DIR:-$here/../.ort-node}
mnist="$here/fixtures/mnist-small"
store=(--set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs")

# --- the tools the proof needs: all present, or the test fails --------------------------------
"$py" -c "import onnx, onnx.checker, onnx.shape_inference" 2> "$work/err" && ok "python3-onnx ($py)" ||
  bad "python3-onnx missing for $py (apt-get install python3-onnx): $(cat "$work/err")"
command -v node > /dev/null && ok "node $(node --version)" || bad "node missing (apt-get install nodejs)"
[ -d "$ort/node_modules/onnxruntime-node" ] && ok "onnxruntime-node in $ort" ||
  bad "onnxruntime-node missing in $ort (ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix $ort onnxruntime-node@1.30.0)"
[ $fail -eq 0 ] || finish

"$exe" train --data "$mnist" --set training.epochs=1 --set augmentation.use_data_augmentation=false \
  --set early_stopping.use_early_stopping=false "${store[@]}" -q --json > "$work/train.txt" 2> "$work/err"
expect_rc 0 $? "train a model"
model=$(tail -n 1 "$work/train.txt" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
[ -s "$model" ] || { bad "no model file ('$model')"; finish; }
name=$(basename "$model" .safetensors)

# --- export: default output path, JSON, the checker -------------------------------------------
"$exe" export "${store[@]}" --json > "$work/exp.txt" 2> "$work/err"
expect_rc 0 $? "export the newest model"
json=$(tail -n 1 "$work/exp.txt")
onnx="$work/models/$name.onnx"
[ -s "$onnx" ] && ok "default output beside the model: $name.onnx" || bad "no $onnx"
for k in '"format":"onnx"' '"opset":13' '"ir_version":7' '"input_shape":\["N",1,28,28\]' '"classes":10' \
         '"mean":0.1307,' '"std":0.3081,' '"network_source":"' '"softmax":false'; do
  printf '%s' "$json" | grep -q "$k" && ok "export --json: $k" || bad "export --json lacks $k: $json"
done
"$py" "$here/onnx_check.py" "$onnx" --mean 0.1307 --std 0.3081 --classes 10 > "$work/chk" 2>&1
expect_rc 0 $? "python3-onnx checker + strict shape inference on $name.onnx"; cat "$work/chk"
grep -q "AveragePool" "$work/chk" && ! grep -q "Dropout" "$work/chk" &&
  ok "adaptive 7->3 pooling is an AveragePool; no Dropout at inference" || bad "operators: $(cat "$work/chk")"

"$exe" export --model "$model" --softmax -o "$work/soft.onnx" > "$work/out" 2> "$work/err"
expect_rc 0 $? "export --softmax -o FILE (human output)"
grep -q "exported $name -> $work/soft.onnx" "$work/out" && ok "human output names the files" || bad "output: $(cat "$work/out")"
"$py" "$here/onnx_check.py" "$work/soft.onnx" --softmax --classes 10 > "$work/chk" 2>&1
expect_rc 0 $? "checker on the --softmax export"; cat "$work/chk"
"$exe" export --model "$model" --opset 17 --format onnx -o "$work/o17.onnx" -q 2> "$work/err"
expect_rc 0 $? "export --opset 17"
"$py" "$here/onnx_check.py" "$work/o17.onnx" --opset 17 > "$work/chk" 2>&1
expect_rc 0 $? "checker on the opset 17 export (IR 8)"; cat "$work/chk"

# --- ONNX Runtime against cltrain's own logits -------------------------------------------------
"$exe" predict --model "$model" --logits --json "$mnist/t10k-images-idx3-ubyte.gz" > "$work/pred.json" 2> "$work/err"
expect_rc 0 $? "predict --logits --json on the test subset"
tail -n 1 "$work/pred.json" | grep -q '"logits":\[' && ok "predict --logits gives logits" || bad "no logits in predict JSON"
node "$here/onnx_compare.js" "$ort" "$onnx" "$mnist/t10k-images-idx3-ubyte.gz" "$work/pred.json" 0.1307 0.3081 1e-4 \
  > "$work/cmp" 2>&1
expect_rc 0 $? "ONNX Runtime agrees with cltrain (max |diff| <= 1e-4, same argmax)"; cat "$work/cmp"
node "$here/onnx_compare.js" "$ort" "$work/soft.onnx" "$mnist/t10k-images-idx3-ubyte.gz" "$work/pred.json" 0.1307 0.3081 1e-4 \
  > "$work/cmp" 2>&1
expect_rc 0 $? "ONNX Runtime agrees on the --softmax export"; cat "$work/cmp"

# --- linear layers without a bias (Gemm with two inputs) ---------------------------------------
"$exe" train --config "$here/fixtures/nets/linear-nobias.yaml" --data "$mnist" --set training.epochs=1 \
  --set augmentation.use_data_augmentation=false --set checkpoint.every_epochs=0 \
  --set output.model_save_dir="$work/nb-models" --set output.runs_dir="$work/nb-runs" -q --json \
  > "$work/nb.txt" 2> "$work/err"
expect_rc 0 $? "train linear-nobias (bias: false)"
nb=$(tail -n 1 "$work/nb.txt" | sed -n 's/.*"model_path":"\([^"]*\)".*/\1/p')
"$exe" export --model "$nb" -o "$work/nb.onnx" -q 2> "$work/err"
expect_rc 0 $? "export linear-nobias"
"$py" "$here/onnx_check.py" "$work/nb.onnx" --classes 10 > "$work/chk" 2>&1
expect_rc 0 $? "checker on the linear-nobias export"; cat "$work/chk"
"$exe" predict --model "$nb" --logits --json "$mnist/t10k-images-idx3-ubyte.gz" > "$work/nbp.json" 2> "$work/err"
expect_rc 0 $? "predict --logits with linear-nobias"
node "$here/onnx_compare.js" "$ort" "$work/nb.onnx" "$mnist/t10k-images-idx3-ubyte.gz" "$work/nbp.json" 0.1307 0.3081 \
  1e-4 > "$work/cmp" 2>&1
expect_rc 0 $? "ONNX Runtime agrees with cltrain on linear-nobias"; cat "$work/cmp"

# --- refusals: clear errors, no file left behind -----------------------------------------------
"$exe" export --model "$model" --opset 12 -o "$work/x.onnx" 2> "$work/err"
expect_rc 2 $? "--opset 12 is refused"
grep -q "13 to 17" "$work/err" && ok "--opset message names the range" || bad "opset message: $(cat "$work/err")"
"$exe" export --model "$model" --format tflite -o "$work/x.onnx" 2> "$work/err"
expect_rc 2 $? "--format tflite is refused"
"$exe" export --model "$model" --bogus 2> "$work/err"
expect_rc 2 $? "an unknown option is refused"
"$exe" export --model "$work/nope.safetensors" -o "$work/x.onnx" 2> "$work/err"
expect_rc 3 $? "a missing model file"
"$exe" export --model "$here/fixtures/bad/model_missing.safetensors" -o "$work/x.onnx" 2> "$work/err"
expect_rc 3 $? "a model with a missing tensor"
grep -q "model_missing.safetensors" "$work/err" && ok "the message names the file: $(head -c 200 "$work/err")" ||
  bad "message: $(cat "$work/err")"
"$exe" export --model "$model" --config "$here/../configs/default.yaml" --set model.conv2_channels=16 \
  -o "$work/x.onnx" 2> "$work/err"
rc=$?
if grep -q '"network"' <(head -c 4096 "$model" | strings); then
  expect_rc 0 $rc "--config is ignored for a file that carries its network"
else
  expect_rc 3 $rc "--config network that does not match the tensors"
  grep -q "conv2" "$work/err" && ok "the message names the layer: $(head -c 300 "$work/err")" || bad "message: $(cat "$work/err")"
fi
[ $rc -eq 0 ] || { [ ! -e "$work/x.onnx" ] && ok "no file after the failures" || bad "$work/x.onnx was written"; }
ls "$work" | grep -q '\.tmp' && bad "temporary files left: $(ls "$work")" || ok "no temporary files left"
"$exe" export --model "$model" -o "$work/no/such/dir/x.onnx" 2> "$work/err"
rc=$?; [ $rc -ne 0 ] && ok "an unwritable output path fails (exit $rc)" || bad "an unwritable output path: exit 0"

# --- deploy ships the ONNX file ----------------------------------------------------------------
"$exe" deploy "${store[@]}" --data "$mnist" --threshold 0 --json > "$work/dep.txt" 2> "$work/err"
expect_rc 0 $? "deploy"
json=$(tail -n 1 "$work/dep.txt")
dep_onnx=$(printf '%s' "$json" | sed -n 's/.*"onnx_path":"\([^"]*\)".*/\1/p')
case "$dep_onnx" in
  "$work/models/production/production_model_"*.onnx) ok "deploy --json names onnx_path $(basename "$dep_onnx")" ;;
  *) bad "deploy onnx_path '$dep_onnx': $json" ;;
esac
[ -s "$dep_onnx" ] && ok "the ONNX file is beside the safetensors copy" || bad "no $dep_onnx"
grep -q "\"onnx_path\":\"$dep_onnx\"" "$work/models/production.json" && ok "production.json names it" ||
  bad "production.json: $(cat "$work/models/production.json")"
"$py" "$here/onnx_check.py" "$dep_onnx" --mean 0.1307 --std 0.3081 --classes 10 > "$work/chk" 2>&1
expect_rc 0 $? "checker on the deployed ONNX file"
cmp -s "$dep_onnx" "$onnx" && ok "deployed ONNX = export of the same model (byte for byte)" || bad "deployed ONNX differs"
"$exe" deploy "${store[@]}" --data "$mnist" --threshold 0 --no-onnx --json > "$work/dep.txt" 2> "$work/err"
expect_rc 0 $? "deploy --no-onnx"
tail -n 1 "$work/dep.txt" | grep -q '"onnx_path":null' && ok "--no-onnx: onnx_path null" || bad "--no-onnx: $(tail -n 1 "$work/dep.txt")"
[ ! -e "$dep_onnx" ] && ok "--no-onnx: no .onnx in production/" || bad "--no-onnx left $dep_onnx"
finish
