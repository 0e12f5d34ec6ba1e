# Shared by the tests/cli_*.sh scripts (sourced first): the binary under test ($1, made absolute), the tests
# folder ($here), a scratch folder ($work, removed at exit unless CLTRAIN_TEST_KEEP is set), and the
# ok/bad counters with finish (prints the tally and exits: 0 when nothing failed, else 1).
set -u
exe=${1:?usage: $0 path/to/cltrain}
case "$exe" in /*) ;; */*) exe="$PWD/$exe";; esac # the scripts cd into $work
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${CLTRAIN_TEST_KEEP:-}" ]; then
  trap - EXIT
  echo "keeping $work"
fi
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit $?
}
