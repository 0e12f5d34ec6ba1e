#!/usr/bin/env bash
# A PyTorch-trained file of each shipped network scores the same under `cltrain evaluate
# --config configs/networks/X.yaml` as in PyTorch: tools/torch_train_networks.py trains every
# configs/networks/*.yaml network for 40 seeded Adam steps on tests/fixtures/mnist-small (module
# from tools/cltrain_torch.py) and saves its state_dict as plain safetensors (no cltrain metadata,
# so cltrain takes the network from --config), with PyTorch's test accuracy and loss; cltrain
# evaluates each file on the same 1,000 test images. Equal accuracy and |loss difference| <= 1e-4
# are required. `cltrain predict --config X.yaml --model FILE --logits` on the test IDX file gives
# PyTorch's logits (max |difference| <= 1e-4) and labels; without --config such a file is refused
# with a message that names --config. Needs /usr/bin/python3 with torch (python3-torch); missing
# is a failure.
. "$(dirname "$0")/common.sh"
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
root=$(cd "$here/.." && pwd)
py=/usr/bin/python3
mnist="$here/fixtures/mnist-small"
configs=("$root"/configs/networks/*.yaml)

"$py" -c "import torch" 2> "$work/err" && ok "PyTorch $("$py" -c 'import torch; print(torch.__version__)')" ||
  { bad "PyTorch missing for $py (apt-get install python3-torch): $(cat "$work/err")"; finish; }
[ ${#configs[@]} -ge 5 ] && ok "${#configs[@]} shipped networks" || bad "only ${#configs[@]} configs in configs/networks"

if ! "$py" "$root/tools/torch_train_networks.py" --data "$mnist" --out "$work/pt" --steps 40 --save-logits --exe "$exe" \
    "${configs[@]}" > "$work/pt.jsonl" 2> "$work/err"; then
  bad "PyTorch training"; cat "$work/err"; finish
fi
for cfg in "${configs[@]}"; do
  net=$(basename "$cfg" .yaml)
  line=$(grep "\"network\": \"$net\"" "$work/pt.jsonl")
  [ -n "$line" ] || { bad "$net: no PyTorch result"; continue; }
  model="$work/pt/$net.safetensors"
  if ! "$exe" evaluate --config "$cfg" --model "$model" --data "$mnist" --json -q \
      --set output.runs_dir="$work/runs" --set output.model_save_dir="$work/models" > "$work/$net.json" 2> "$work/err"; then
    bad "$net: cltrain evaluate --config"; cat "$work/err"; continue
  fi
  if "$py" - "$net" "$line" "$work/$net.json" "$model" <<'PY'
import json, sys
net, pt = sys.argv[1], json.loads(sys.argv[2])
cl = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
with open(sys.argv[4], "rb") as f:  # the file really has no cltrain metadata
    n = int.from_bytes(f.read(8), "little")
    assert "__metadata__" not in json.loads(f.read(n)), "the PyTorch file carries metadata"
print("%-13s PyTorch accuracy %.4f loss %.6f | cltrain accuracy %.4f loss %.6f (%d images)"
      % (net, pt["test_accuracy"], pt["test_loss"], cl["test_accuracy"], cl["test_loss"], cl["test_samples"]))
assert cl["test_samples"] == pt["test_samples"], "different image counts"
assert cl["test_accuracy"] == pt["test_accuracy"], "accuracies differ"
assert abs(cl["test_loss"] - pt["test_loss"]) <= 1e-4, "losses differ by %g" % abs(cl["test_loss"] - pt["test_loss"])
PY
  then ok "$net: same accuracy and loss"; else bad "$net"; fi
  # predict: the network from --config (the file has none)
  if ! "$exe" predict --config "$cfg" --model "$model" --logits --json "$mnist/t10k-images-idx3-ubyte.gz" \
      > "$work/$net.pred.json" 2> "$work/err"; then
    bad "$net: cltrain predict --config"; cat "$work/err"; continue
  fi
  if "$py" - "$root/tools" "$mnist" "$work/$net.pred.json" "$work/pt/$net.logits.safetensors" <<'PY'
import json, sys
import torch
sys.path.insert(0, sys.argv[1])
from torch_model import load_mnist, load_safetensors
_, y = load_mnist(sys.argv[2], "t10k")
pred = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])["predictions"]
want = load_safetensors(sys.argv[4])[0]["logits"]
got = torch.tensor([p["logits"] for p in pred], dtype=torch.float32)
labels = torch.tensor([p["label"] for p in pred])
assert got.shape == want.shape, "shapes %s vs %s" % (tuple(got.shape), tuple(want.shape))
d = (got - want).abs().max().item()
print("  predict --config: max |logit difference| %.3g, %d/%d labels as PyTorch's argmax, accuracy %.4f"
      % (d, (labels == want.argmax(1)).sum().item(), len(pred), (labels == y).float().mean().item()))
assert d <= 1e-4 and torch.equal(labels, want.argmax(1))
PY
  then ok "$net: predict --config gives PyTorch's logits"; else bad "$net: predict --config"; fi
  if [ "$net" != digitcnn ]; then
    "$exe" predict --model "$model" "$mnist/t10k-images-idx3-ubyte.gz" > /dev/null 2> "$work/err"
    rc=$?
    [ $rc -eq 3 ] && grep -q -- "--config" "$work/err" && ok "$net: predict without --config: exit 3 naming --config" ||
      { bad "$net: predict without --config: exit $rc"; cat "$work/err"; }
  fi
done
finish
