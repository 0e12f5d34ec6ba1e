#!/usr/bin/env bash
# Runs dagster-io's shared Dagster Pipes conformance suite against tools/pipes_harness.
# usage: tools/pipes-conformance/run.sh PATH/TO/community-integrations [VENV]
# The suite is not vendored: give a checkout of github.com/dagster-io/community-integrations.
# The venv (default /tmp/venv-pipes-suite) gets the suite package and its dependencies from PyPI.
set -euo pipefail
src=${1:?usage: run.sh PATH/TO/community-integrations [VENV]}
venv=${2:-/tmp/venv-pipes-suite}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -x "$root/build/pipes_harness" ] || { echo "build first: cmake --build build --target pipes_harness" >&2; exit 2; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "$src/libraries/pipes/tests/dagster-pipes-tests"
cd "$here"
PIPES_CONFIG_PATH="$here/pipes.toml" PIPES_HARNESS="$root/build/pipes_harness" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider test_cltrain_pipes.py "${@:3}"
