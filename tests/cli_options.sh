#!/usr/bin/env bash
# Command-line options (getopt_long): --opt value and --opt=value alike, any order (config file
# first, then --data, then each --set), --resume refusing --config in every spelling, unknown
# options with a did-you-mean, --help for every command.
. "$(dirname "$0")/common.sh"
cd "$work"
expect() { # expect CODE PATTERN -- command...
  local code=$1 pat=$2; shift 3
  "$@" > out.txt 2> err.txt; local rc=$?
  if [ $rc -eq "$code" ] && grep -qE -- "$pat" out.txt err.txt; then pass=$((pass + 1)); echo "ok   [$rc] $*";
  else fail=$((fail + 1)); echo "FAIL [$rc, want $code /$pat/] $*"; cat out.txt err.txt; fi
}
# two data folders with unreadable files (so nothing is fetched): the error names the one used
for d in cmdline_data file_data; do
  mkdir -p $d && printf 'not idx' > $d/train-images-idx3-ubyte && printf 'x' > $d/train-labels-idx1-ubyte
done
printf 'data:\n  dir: file_data\noutput:\n  model_save_dir: from_file\n' > f.yaml
# --data wins over the file's data.dir whatever the order (it used to be dropped after --config)
expect 3 "cmdline_data/train-" -- "$exe" train --data cmdline_data --config f.yaml
expect 3 "cmdline_data/train-" -- "$exe" train --config f.yaml --data cmdline_data
expect 3 "cmdline_data/train-" -- "$exe" train --data=cmdline_data --config=f.yaml
expect 3 "file_data/train-" -- "$exe" train --config f.yaml
# --set applies on top of the file even when typed before --config (it used to be refused)
expect 0 '"model_save_dir":"from_set"' -- "$exe" models --set output.model_save_dir=from_set --config f.yaml --json
expect 0 '"model_save_dir":"from_set"' -- "$exe" models --config=f.yaml --set=output.model_save_dir=from_set --json
expect 0 '"model_save_dir":"from_file"' -- "$exe" models --json --config f.yaml
expect 0 '"model_save_dir":"b"' -- "$exe" models --set output.model_save_dir=a --json --set output.model_save_dir=b
expect 2 "training.batch_size" -- "$exe" train --set training.batch_size=0 --config f.yaml
expect 2 "--config given twice" -- "$exe" models --config f.yaml --config=f.yaml
# --resume takes the checkpoint's config: --config is refused in every spelling, before anything is read
for c in "--config f.yaml" "--config=f.yaml" "--conf=f.yaml"; do
  # shellcheck disable=SC2086
  expect 2 "--resume takes the config stored in the checkpoint" -- "$exe" train $c --resume nowhere
  # shellcheck disable=SC2086
  expect 2 "--resume takes the config stored in the checkpoint" -- "$exe" train --resume=nowhere $c
done
# unknown options: the closest known one is suggested
expect 2 "unknown option '--confg'; did you mean '--config'" -- "$exe" train --confg f.yaml
expect 2 "unknown option '--tresh=0.5'; did you mean '--threshold'" -- "$exe" predict --tresh=0.5 x.png
expect 2 "unknown option '--bogus' \(cltrain evaluate --help" -- "$exe" evaluate --bogus
expect 2 "option '--json=1' takes no value" -- "$exe" devices --json=1
expect 2 "--device needs a value" -- "$exe" verify --device
expect 2 "takes no arguments" -- "$exe" models extra
# --help for every command, also as `cltrain help CMD`, whatever else is on the line
for c in devices verify train pipeline models evaluate deploy predict export bench; do
  expect 0 "^usage: cltrain $c \[options\]" -- "$exe" $c --help
  expect 0 "^usage: cltrain $c \[options\]" -- "$exe" help $c
done
expect 0 "--set section.key=value" -- "$exe" train --set training.epochs=1 -h
expect 0 "-o, --output FILE" -- "$exe" export --help
expect 2 "help: unknown command 'frob'" -- "$exe" help frob
finish
