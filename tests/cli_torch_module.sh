#!/usr/bin/env bash
# tools/cltrain_torch.py: the PyTorch module of every configs/networks/*.yaml (from
# `cltrain summary --network-json`) has cltrain's parameter count, state_dict keys
# `<name>.<param>` and output shapes, loads strictly from a model file's `network` metadata,
# and digitcnn.yaml's module equals tools/torch_model.py's DigitCNN (keys and outputs).
set -u
exe=${1:?usage: cli_torch_module.sh path/to/cltrain}
exe=$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")
here=$(cd "$(dirname "$0")" && pwd)
/usr/bin/python3 "$here/../tools/cltrain_torch.py" --selftest "$exe"
