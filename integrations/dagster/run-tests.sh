#!/usr/bin/env bash
# Runs the dagster_cltrain tests (pytest, a real Dagster) with the venv that .ci/run prepares.
# usage: run-tests.sh VENV PATH/TO/cltrain [pytest args...]
# A missing venv, dagster or pytest is a failure, never a skip.
set -u
venv=${1:?usage: run-tests.sh VENV PATH/TO/cltrain}
exe=${2:?usage: run-tests.sh VENV PATH/TO/cltrain}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
py="$venv/bin/python"
if [ ! -x "$py" ] || ! "$py" -c "import dagster, pytest" 2> /dev/null; then
  echo "FAIL: no Python venv with dagster and pytest at '$venv' (create it as .ci/run does:" \
       "python3 -m venv VENV && VENV/bin/pip install dagster==1.13.29 pytest==9.2.0)" >&2
  exit 1
fi
cd "$here"
CLTRAIN_EXE="$exe" PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
  exec "$py" -m pytest -q -p no:cacheprovider -p no:warnings tests "$@"
