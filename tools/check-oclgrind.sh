#!/usr/bin/env bash
# The GPU kernel profile on a second OpenCL implementation: Oclgrind, a simulator that runs
# kernels with GPU semantics (work-groups, local memory, barriers) and reports invalid memory
# accesses, data races, non-uniform writes and API misuse. `cltrain verify --kernels gpu` at
# the odd sizes and at DigitCNN's real layer shapes (conv1 CI=1 CO=32 28x28 included; batch 1 so
# it stays within minutes) must pass with zero Oclgrind reports on stderr.
# Oclgrind is registered by ci/setup-debian.sh (/etc/OpenCL/vendors/oclgrind.icd); when only the
# package is installed, this test registers it for itself through OCL_ICD_VENDORS.
set -u
exe=${1:?usage: check-oclgrind.sh path/to/cltrain}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lib=/usr/lib/oclgrind/liboclgrind-rt-icd.so
if ! grep -qs oclgrind /etc/OpenCL/vendors/*.icd; then
  if [ ! -f "$lib" ]; then
    echo "FAIL Oclgrind is not installed ($lib missing): run ci/setup-debian.sh"
    exit 1
  fi
  mkdir -p "$work/icd"
  cp /etc/OpenCL/vendors/*.icd "$work/icd/" 2> /dev/null
  echo "$lib" > "$work/icd/oclgrind.icd"
  export OCL_ICD_VENDORS="$work/icd"
fi
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

"$exe" devices > "$work/devices.txt" 2>&1
grep -q "Oclgrind.*(simulator: checks kernels, ranked last)" "$work/devices.txt" && ok "Oclgrind listed as a simulator" ||
  { bad "Oclgrind not listed as a simulator"; cat "$work/devices.txt"; }
grep -q "^default device: .*Oclgrind" "$work/devices.txt" && bad "the default device is the simulator" ||
  ok "the default device is not the simulator"

t0=$SECONDS
CLTRAIN_NO_CACHE=1 OCLGRIND_CHECK_API=1 OCLGRIND_DATA_RACES=1 OCLGRIND_UNIFORM_WRITES=1 \
  "$exe" verify --device oclgrind --kernels gpu --sizes real --batch 1 > "$work/out.txt" 2> "$work/err.txt"
rc=$?
echo "verify on Oclgrind: exit $rc, $((SECONDS - t0)) s, $(grep -c '^PASS' "$work/out.txt") checks passed"
[ $rc -eq 0 ] && ok "verify exits 0" || bad "verify exit $rc"
grep -q "^VERIFY PASSED" "$work/out.txt" && ok "VERIFY PASSED" || { bad "no VERIFY PASSED"; grep -v "^PASS" "$work/out.txt"; }
grep -q "^kernels: gpu profile (--kernels)" "$work/out.txt" && ok "gpu profile in use" || bad "gpu profile not named"
grep -q "conv k5x5 s1x1 p2x2 1->32 28x28" "$work/out.txt" && ok "conv1 at its real size checked" ||
  bad "conv1 1->32 28x28 not checked"
# every Oclgrind report goes to stderr; cltrain itself writes nothing there when all is well
if [ -s "$work/err.txt" ]; then
  bad "Oclgrind reports (or other stderr output): $(grep -c . "$work/err.txt") lines"
  head -n 60 "$work/err.txt"
else
  ok "zero Oclgrind reports"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
