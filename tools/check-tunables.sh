#!/usr/bin/env bash
# Every tunable value `cltrain tune` may choose is verified: `verify --all-tunables` runs the whole
# verify suite under each candidate set of the GPU kernel profile (its defaults, then each
# group's alternatives: GEMM tiles, work-group shapes, NT tiles, convolution paths, FC back end,
# reduction group size, vector width). The CPU profile's own defaults are test_kernels' run; its
# candidates take the same alternative values. Takes a few minutes on POCL (one rebuild per set).
set -u
exe=${1:?usage: check-tunables.sh path/to/cltrain}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$exe" verify --device cpu --kernels gpu --all-tunables --batch 2 > "$out" 2>&1
rc=$?
sets=$(grep -c "^-- tunable set" "$out")
grep -E "^-- tunable set|passed|VERIFY|^FAIL" "$out" | cut -c1-220
fail=0
[ $rc -eq 0 ] && grep -q "^VERIFY PASSED" "$out" || { echo "FAIL verify --all-tunables (exit $rc)"; fail=1; }
[ "$sets" -ge 20 ] || { echo "FAIL only $sets tunable sets verified"; fail=1; }
for v in "gemm_tm=8 gemm_vw=16 gemm_nv=2" "gemm_local=0x0" "gemm_nt_tm=2 gemm_nt_tn=8 gemm_nt_vw=16 gemm_nt_kc=2048" \
         "conv_panels=1 conv_direct=3" "red_ls=1 " "ew_vw=16" "fc=gemm"; do
  grep -q "^-- tunable set.*$v" "$out" || { echo "FAIL no verified set with $v"; fail=1; }
done
[ $fail -eq 0 ] && echo "ok   $sets tunable sets verified"
exit $fail
