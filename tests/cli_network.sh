#!/usr/bin/env bash
# Networks from YAML through `cltrain summary`: every malformed network in
# tests/fixtures/network/*.yaml exits 2 with the message on its first line (`# expect: ...`,
# file:line:col included) and prints nothing on stdout; the shipped configs/networks/*.yaml
# resolve, their --json totals add up, and the effective config (ct_config_to_yaml, as written
# to the run folder) loads back to the same network and parses with PyYAML.
. "$(dirname "$0")/common.sh"
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
root=$(cd "$here/.." && pwd)
py=/usr/bin/python3

# --- malformed networks ----------------------------------------------------------------------
n=0
for f in "$here"/fixtures/network/*.yaml; do
  n=$((n + 1))
  want=$(head -1 "$f" | sed -n 's/^# expect: //p')
  [ -n "$want" ] || { bad "$f has no '# expect:' line"; continue; }
  (cd "$here/fixtures/network" && "$exe" summary --config "$(basename "$f")") > "$work/out" 2> "$work/err"
  rc=$?
  if [ $rc -eq 2 ] && grep -qF -- "cltrain: error: $want" "$work/err" && [ ! -s "$work/out" ]; then
    ok "$(basename "$f")"
  else
    bad "$(basename "$f") [rc $rc] want: $want"; cat "$work/err"
  fi
done
[ $n -ge 40 ] && ok "$n malformed-network fixtures" || bad "only $n fixtures"

# --- --set cannot touch the network ------------------------------------------------------------
"$exe" summary --set network.layers=1 > /dev/null 2> "$work/err"
[ $? -eq 2 ] && grep -q "network section cannot be changed with --set" "$work/err" && ok "--set network refused" \
  || { bad "--set network"; cat "$work/err"; }
"$exe" summary --config "$here/fixtures/network/unknown-type.yaml" --bogus > /dev/null 2> "$work/err"
[ $? -eq 2 ] && ok "unknown option" || bad "unknown option"

# --- DigitCNN from the model: keys ---------------------------------------------------------------
"$exe" summary --json > "$work/d.json" 2> "$work/err" && "$py" - "$work/d.json" <<'EOF' && ok "DigitCNN summary --json" || { bad "DigitCNN summary"; cat "$work/err"; }
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert d["params"] == 455754, d["params"]
assert sum(l["params"] for l in d["layers"]) == d["params"]
assert abs(sum(l["mflops"] for l in d["layers"]) - d["total_mflops"]) < 1e-6
assert d["batch_size"] == 64 and d["memory_bytes"] > 455754 * 16
assert d["eval_batch_size"] == 1000 and 455754 * 4 < d["eval_memory_bytes"] < 1000 * 784 * 4 * 400, d["eval_memory_bytes"]
assert [l["name"] for l in d["layers"] if l["params"]] == ["conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "fc1", "fc2", "fc3"]
assert d["layers"][12]["output_shape"] == [128, 3, 3] and d["layers"][13]["output_shape"] == [1152]
EOF
"$exe" summary --set model.use_batch_norm=false --set model.hidden_size=128 --json > "$work/d2.json" &&
  "$py" -c "import json,sys; assert json.loads(open(sys.argv[1]).read())['params'] == 282442" "$work/d2.json" \
  && ok "model: keys change the DigitCNN" || bad "model: keys"

# --- shipped networks ----------------------------------------------------------------------------
for f in "$root"/configs/networks/*.yaml; do
  name=$(basename "$f")
  if ! "$exe" summary --config "$f" > "$work/table" 2> "$work/err"; then bad "$name summary"; cat "$work/err"; continue; fi
  "$exe" summary --config "$f" --json > "$work/s.json" 2> "$work/err" || { bad "$name --json"; continue; }
  "$exe" summary --config "$f" --network-json > "$work/n.json" 2> "$work/err" || { bad "$name --network-json"; continue; }
  if "$py" - "$work/s.json" "$work/n.json" "$f" <<'EOF'
import json, sys, yaml
s = json.loads(open(sys.argv[1]).read())
n = json.loads(open(sys.argv[2]).read())
cfg = yaml.safe_load(open(sys.argv[3]))
assert sum(l["params"] for l in s["layers"]) == s["params"] > 0
assert s["classes"] == 10 and s["input"] == [1, 28, 28], (s["classes"], s["input"])
assert len(n["layers"]) == len(cfg["network"]["layers"]) == len(s["layers"])
for a, b in zip(n["layers"], cfg["network"]["layers"]):
    assert a["type"] == b["type"] and a.get("name", "") == b.get("name", ""), (a, b)
for sec in ("training", "data", "output"):
    assert sec in cfg, sec
EOF
  then ok "$name resolves ($(grep -o '^total: [0-9]* parameters' "$work/table"))"; else bad "$name JSON"; fi
done

# --- a network whose input differs from the data: the config file's position of network.input ----
cp "$root/configs/networks/lenet5.yaml" "$work/lenet5.yaml"
"$exe" train --config "$work/lenet5.yaml" --data "$root/tests/fixtures/imagefolder" --set training.epochs=1 \
  --set output.model_save_dir="$work/models" --set output.runs_dir="$work/runs" > "$work/out" 2> "$work/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "lenet5.yaml:[0-9]*:[0-9]*: network.input {channels: 1, height: 28, width: 28} differs from the data" "$work/err" \
   && [ ! -e "$work/models" ] && [ ! -e "$work/runs" ]; then
  ok "train: network.input vs the data named with file:line:col, no run folder"
else
  bad "train: input mismatch (exit $rc): $(cat "$work/err")"
fi

finish
