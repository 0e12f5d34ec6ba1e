#!/usr/bin/env bash
# Bad command lines and bad inputs: clear messages, documented exit codes, no crash.
. "$(dirname "$0")/common.sh"
cd "$work"
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  "$@" > out.txt 2> err.txt; local rc=$?
  if [ $rc -eq "$code" ] && grep -qiE -- "$pat" out.txt err.txt; then pass=$((pass + 1)); echo "ok   [$rc] $*";
  else fail=$((fail + 1)); echo "FAIL [$rc, want $code /$pat/] $*"; cat err.txt; fi
}
expect 2 "unknown command" -- "$exe" frobnicate
expect 0 "usage: cltrain" -- "$exe" help
expect 2 "devices: unknown option" -- "$exe" devices --bogus
expect 0 "pthread|GPU|CPU" -- "$exe" devices
expect 0 '"index":0' -- "$exe" devices --json
expect 2 "matches no OpenCL device.*Devices here" -- "$exe" verify --device no-such-device-xyz
expect 2 "matches no OpenCL device" -- "$exe" verify --device 99
expect 2 "needs a value" -- "$exe" verify --device
expect 2 "CLTRAIN_DEVICE 'nope-gpu'" -- env CLTRAIN_DEVICE=nope-gpu "$exe" verify
expect 2 "train: unknown option" -- "$exe" train --epochs 3
printf 'training:\n  lerning_rate: 0.1\n' > bad.yaml
expect 2 "bad.yaml:2:3: training.lerning_rate: unknown key; did you mean 'learning_rate'" -- "$exe" train --config bad.yaml
expect 2 "cannot open" -- "$exe" train --config missing.yaml
expect 2 "training.batch_size" -- "$exe" train --set training.batch_size=0
expect 2 "optimizer_type" -- "$exe" train --set training.optimizer_type=rmsprop
expect 2 "bad.yaml:2:3: training.lerning_rate" -- "$exe" train --set training.epochs=1 --config bad.yaml
mkdir -p emptydata
printf 'not an idx file at all' > emptydata/train-images-idx3-ubyte
printf 'x' > emptydata/train-labels-idx1-ubyte
expect 3 "train-(images|labels)" -- "$exe" train --data emptydata
cp "$here/fixtures/mnist-small/train-images-idx3-ubyte.gz" trunc.gz
head -c 20000 trunc.gz > emptydata/train-images-idx3-ubyte.gz && rm emptydata/train-images-idx3-ubyte
expect 3 "train-images" -- "$exe" train --data emptydata
finish
