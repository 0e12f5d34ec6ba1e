#!/usr/bin/env bash
# `cltrain tune` end to end on POCL (GPU kernel profile, batch 2, a small budget, a private cache):
# the table and JSON, the cache (`--show`), its use by `verify --tuned` and `train -v`, and
# CLTRAIN_NO_TUNE=1; resnet-small's shapes from its network: section, its entry used by `bench -v`
# and no entry for a network never tuned. Every tunable set tune may try is verified by `verify --all-tunables`
# (tools/check-tunables.sh, run by .ci/run).
. "$(dirname "$0")/common.sh"
export CLTRAIN_CACHE_DIR="$work/cache"
unset CLTRAIN_NO_TUNE

"$exe" tune --device cpu --kernels gpu --show > "$work/show0.txt" 2>&1
[ $? -ne 0 ] && grep -q "no tuning results" "$work/show0.txt" && ok "--show before tuning: none, non-zero exit" ||
  { bad "--show before tuning"; cat "$work/show0.txt"; }
"$exe" tune --device cpu --budget 0 > "$work/bad.txt" 2>&1
[ $? -eq 2 ] && ok "--budget 0: usage error" || bad "--budget 0 accepted"

"$exe" tune --device cpu --kernels gpu --batch 2 --budget 10 --json > "$work/tune.json" 2> "$work/tune.err"
rc=$?
[ $rc -eq 0 ] && ok "tune exits 0" || { bad "tune exit $rc"; cat "$work/tune.err"; }
json=$(tail -n 1 "$work/tune.json")
for k in '"kernel":"conv fwd"' '"kernel":"conv wgrad"' '"kernel":"conv dgrad"' '"kernel":"fc bwd"' \
         '"kernel":"bn fwd"' '"kernel":"maxpool bwd"' '"kernel":"adam step"' '"step_default_ms"' '"step_best_ms"' \
         '"tuned":"gemm_tm=' '"cache_path"'; do
  case "$json" in *"$k"*) ok "JSON has $k";; *) bad "JSON lacks $k: $json";; esac
done
awk -v j="$json" 'BEGIN { match(j, /"step_default_ms":[0-9.e+-]+/); d = substr(j, RSTART + 18, RLENGTH - 18) + 0;
  match(j, /"step_best_ms":[0-9.e+-]+/); b = substr(j, RSTART + 15, RLENGTH - 15) + 0; exit !(d > 0 && b > 0 && b <= d) }' &&
  ok "tuned step estimate is positive and not slower than the defaults" || bad "step estimates: $json"

"$exe" tune --device cpu --kernels gpu --show > "$work/show.txt" 2>&1
grep -q "^conv fwd .*conv1 1->32 28x28 k5 p2 N2" "$work/show.txt" && grep -q "^whole step" "$work/show.txt" &&
  ok "--show prints the table" || { bad "--show"; cat "$work/show.txt"; }

"$exe" verify --device cpu --kernels gpu --tuned > "$work/verify.txt" 2>&1
grep -q "^kernels: gpu profile (--kernels), tuned: cltrain tune" "$work/verify.txt" &&
  grep -q "^VERIFY PASSED" "$work/verify.txt" && ok "verify --tuned passes with the tuned values" ||
  { bad "verify --tuned"; grep -v "^PASS" "$work/verify.txt"; }
CLTRAIN_NO_TUNE=1 "$exe" verify --device cpu --kernels gpu --tuned > "$work/nt.txt" 2>&1
[ $? -eq 2 ] && grep -q "no tuned values" "$work/nt.txt" && ok "CLTRAIN_NO_TUNE=1: the cache is ignored" ||
  { bad "CLTRAIN_NO_TUNE"; cat "$work/nt.txt"; }

"$exe" train --device cpu --kernels gpu -v --data "$here/fixtures/mnist-small" --set training.epochs=1 \
  --set training.validation_split=0.9 --set augmentation.use_data_augmentation=false \
  --set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs" > "$work/train.txt" 2>&1
grep -q "using tuned kernel values from $CLTRAIN_CACHE_DIR/tune-" "$work/train.txt" &&
  ok "train -v says it uses the tuned values" || { bad "train -v"; tail -n 20 "$work/train.txt"; }
# a network: section: its own shapes (strided and 1x1 convs, adaptive pooling), its own cache entry
net="$here/../configs/networks/resnet-small.yaml"
"$exe" tune --device cpu --kernels gpu --config "$net" --batch 2 --budget 1 --json > "$work/res.json" 2> "$work/res.err"
rc=$?
[ $rc -eq 0 ] && ok "tune of resnet-small exits 0" || { bad "tune resnet-small exit $rc"; cat "$work/res.err"; }
json=$(tail -n 1 "$work/res.json")
for k in '"shape":"stem.conv 1->16 28x28 k3 p1 nobias N2","count":1' \
         '"kernel":"conv dgrad","shape":"block1.conv1 16->16 28x28 k3 p1 nobias N2","count":2' \
         '"kernel":"conv wgrad","shape":"block2.shortcut.0 16->32 28x28 k1 s2 p0 nobias N2"' \
         '"shape":"block3.conv1 32->64 14x14 k3 s2 p1 nobias N2"' '"kernel":"bn bwd","shape":"block2.bn1 C32 14x14 N2","count":3' \
         '"kernel":"adaptive avgpool fwd","shape":"pool C64 7x7->1x1 N2"' '"kernel":"fc bwd","shape":"fc 64->10 N2"' \
         '"kernel":"adam step","shape":"adam 77754 parameters N2"' '"winning":"(defaults)"' '"step_speedup":' '"batch":2'; do
  case "$json" in *"$k"*) ok "resnet JSON has $k";; *) bad "resnet JSON lacks $k: $json";; esac
done
# shapes read "... 28x28 k3 p1 ..."; the spaces keep the scratch folder's random name in cache_path out of it
case "$json" in *' k5 '*) bad "resnet JSON has DigitCNN's shapes";; *) ok "resnet JSON has no DigitCNN shape";; esac
"$exe" bench --device cpu --kernels gpu --config "$net" --batch 2 --eval-batch 2 --steps 1 -v > "$work/bench.txt" 2>&1
grep -q "using tuned kernel values from $CLTRAIN_CACHE_DIR/tune-" "$work/bench.txt" &&
  grep -q "tuned: cltrain tune .* for .*resnet-small.yaml, batch 2" "$work/bench.txt" &&
  ok "bench -v of resnet-small uses its tuned values" || { bad "bench -v resnet-small"; tail -n 30 "$work/bench.txt"; }
"$exe" bench --device cpu --kernels gpu --config "$here/../configs/networks/mlp.yaml" --batch 2 --eval-batch 2 \
  --steps 1 -v > "$work/bench2.txt" 2>&1
grep -q "no tuned kernel values for this network" "$work/bench2.txt" && ! grep -q "using tuned kernel values" \
  "$work/bench2.txt" && ok "bench -v of an untuned network keeps the defaults" ||
  { bad "bench -v mlp"; tail -n 30 "$work/bench2.txt"; }
"$exe" tune --device cpu --kernels gpu --config "$net" --batch 2 --show > "$work/show2.txt" 2>&1
grep -q "for .*resnet-small.yaml, batch 2" "$work/show2.txt" && grep -q "^conv fwd .*block3.shortcut.0" "$work/show2.txt" &&
  ok "--show --config prints that network's table" || { bad "--show --config"; cat "$work/show2.txt"; }
finish
