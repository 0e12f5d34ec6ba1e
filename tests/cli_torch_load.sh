#!/usr/bin/env bash
# A cltrain-trained model file of a shipped network loads strictly into the PyTorch module of
# tools/cltrain_torch.py (from the file's `network` metadata) and scores the same test accuracy
# in PyTorch as cltrain reported (1 epoch on tests/fixtures/mnist-small; every network of
# configs/networks/: convolutions with stride, padding and no bias, tanh, max, average and adaptive
# pooling, batchnorm1d/2d, dropout, residual adds).
. "$(dirname "$0")/common.sh"
cd "$work"
for cfg in "$here"/../configs/networks/*.yaml; do
  net=$(basename "$cfg" .yaml)
  if ! "$exe" train --config "$cfg" --data "$here/fixtures/mnist-small" \
      --set training.epochs=1 --set checkpoint.every_epochs=0 --set augmentation.use_data_augmentation=false \
      --json -q > "$net.json" 2> "$net.err"; then
    fail=$((fail + 1)); echo "FAIL $net: train"; cat "$net.err"; continue
  fi
  if /usr/bin/python3 - "$here/../tools" "$here/fixtures/mnist-small" "$net.json" <<'PY'
import json, sys
import torch
sys.path.insert(0, sys.argv[1])
from cltrain_torch import load_model
from torch_model import load_mnist
r = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])
m = load_model(r["model_path"])          # strict load from the file's network metadata
x, y = load_mnist(sys.argv[2], "t10k")
with torch.no_grad():
    acc = (m(x).argmax(1) == y).float().mean().item()
print("cltrain %.4f, PyTorch %.4f on %d images" % (r["test_accuracy"], acc, len(y)))
assert abs(acc - r["test_accuracy"]) <= 2.0 / len(y), "accuracies differ"
PY
  then pass=$((pass + 1)); echo "ok   $net"; else fail=$((fail + 1)); echo "FAIL $net"; fi
done
finish
