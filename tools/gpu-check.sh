#!/usr/bin/env bash
# gpu-check.sh: the checks to run when a session is lent a GPU machine (an NVIDIA H100/H200 with
# its driver but none of our libraries), from a copied working tree with a prebuilt build/cltrain.
#
#   here (Debian 12, with the build):   tools/gpu-check.sh prepare
#       apt-get downloads the packages of every library build/cltrain links besides glibc (the
#       OpenCL ICD loader, CLBlast, libyaml, jansson, libpng, cairo and its dependencies, the C++
#       runtime), unpacks them into .gpu-check/libs (dpkg -x) and copies MNIST into
#       .gpu-check/mnist (from --data DIR, default /work/data/mnist). .gpu-check/ is ignored by
#       git: carry it, and build/cltrain, to the device machine.
#   there:                              tools/gpu-check.sh run [--budget S] [--out DIR]
#       registers the NVIDIA OpenCL driver (libnvidia-opencl.so.1, found with find) in a private
#       vendors folder (OCL_ICD_VENDORS) and runs: devices; verify under the gpu and cpu kernel
#       profiles (real sizes); tune --budget 120; bench before (CLTRAIN_NO_TUNE=1) and after
#       tuning; a one-epoch train of the default config. Logs go to DIR (default $OUT if set,
#       else .gpu-check/out); a summary to stdout. GPU_CHECK_ICD=/path/libX.so registers another
#       OpenCL driver instead (e.g. POCL, to try the script without a GPU); --quick stops after
#       devices and the gpu-profile verify.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.gpu-check"
mode=${1:-}
shift || true

prepare() {
  local data=/work/data/mnist
  while [ $# -gt 0 ]; do
    case "$1" in
      --data) data=$2; shift 2 ;;
      *) echo "gpu-check prepare: unknown option '$1' (allowed: --data DIR)" >&2; exit 2 ;;
    esac
  done
  [ -x "$root/build/cltrain" ] || { echo "gpu-check: build/cltrain missing: build first" >&2; exit 1; }
  rm -rf "$state/libs" "$state/debs" "$state/mnist" && mkdir -p "$state/libs" "$state/debs" "$state/mnist"
  # the packages owning every library the binary loads, except the C library itself
  local libs pkgs
  libs=$(ldd "$root/build/cltrain" | awk '/=>/ { print $3 }' | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so')
  pkgs=$(for l in $libs; do dpkg -S "$(readlink -f "$l")" 2> /dev/null || dpkg -S "$l"; done | cut -d: -f1 | sort -u)
  echo "gpu-check: packages: $(echo $pkgs)"
  (cd "$state/debs" && apt-get download $pkgs) || { echo "gpu-check: apt-get download failed" >&2; exit 1; }
  for d in "$state"/debs/*.deb; do dpkg -x "$d" "$state/libs"; done
  rm -rf "$state/debs"
  # gzipped IDX files (11 MB instead of 53: the carry limit is 64 MiB); cltrain reads .gz
  if ls "$data"/*-ubyte.gz > /dev/null 2>&1; then
    cp "$data"/*-ubyte.gz "$state/mnist/"
  else
    for f in "$data"/*-ubyte; do gzip -c "$f" > "$state/mnist/$(basename "$f").gz"; done
  fi || { echo "gpu-check: no MNIST in $data" >&2; exit 1; }
  du -sh "$state/libs" "$state/mnist"
  echo "gpu-check: prepared; carry .gpu-check and build/cltrain, then run: tools/gpu-check.sh run"
}

run() {
  local budget=120 out=${OUT:-$state/out} quick=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --budget) budget=$2; shift 2 ;;
      --out) out=$2; shift 2 ;;
      --quick) quick=1; shift ;;
      *) echo "gpu-check run: unknown option '$1' (allowed: --budget S, --out DIR, --quick)" >&2; exit 2 ;;
    esac
  done
  mkdir -p "$out"
  local exe="$root/build/cltrain"
  [ -x "$exe" ] || { echo "gpu-check: $exe missing" >&2; exit 1; }
  [ -d "$state/libs" ] || { echo "gpu-check: $state/libs missing: run 'tools/gpu-check.sh prepare' first" >&2; exit 1; }
  local libdir="$state/libs/usr/lib/x86_64-linux-gnu:$state/libs/lib/x86_64-linux-gnu"
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local icd=${GPU_CHECK_ICD:-}
  if [ -z "$icd" ]; then
    icd=$(find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libnvidia-opencl.so.1' -print 2> /dev/null | head -n 1)
    [ -n "$icd" ] || icd=$(find / \( -path /proc -o -path /sys \) -prune -o -name 'libnvidia-opencl.so*' -print 2> /dev/null | head -n 1)
  fi
  [ -n "$icd" ] || { echo "gpu-check: no libnvidia-opencl.so.1 on this machine (is the NVIDIA driver installed?)" >&2; exit 1; }
  mkdir -p "$state/vendors"
  echo "$icd" > "$state/vendors/gpu.icd"
  export OCL_ICD_VENDORS="$state/vendors"
  export CLTRAIN_CACHE_DIR="$out/cache" CLTRAIN_DEVICE=${CLTRAIN_DEVICE:-0}
  unset CLTRAIN_KERNELS CLTRAIN_NO_TUNE
  echo "gpu-check: OpenCL driver $icd; logs in $out"
  {
    uname -a
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2> /dev/null || echo "(no nvidia-smi)"
    date -u
  } > "$out/machine.txt" 2>&1
  cat "$out/machine.txt"
  step() { # name, command...
    local name=$1
    shift
    local t0=$SECONDS
    "$@" > "$out/$name.txt" 2>&1
    local rc=$?
    echo "== $name: exit $rc, $((SECONDS - t0)) s"
    return $rc
  }
  local failed=0
  step devices "$exe" devices || failed=1
  grep -E "^\[|type:|driver" "$out/devices.txt"
  for p in gpu cpu; do
    step "verify-$p" "$exe" verify --kernels "$p" --sizes real --batch 8 || failed=1
    grep -E "^kernels:|passed|VERIFY|^FAIL" "$out/verify-$p.txt"
    [ $quick -eq 1 ] && { echo "gpu-check: --quick: stopping here"; return $failed; }
  done
  CLTRAIN_NO_TUNE=1 step bench-before "$exe" bench --steps 50 || failed=1
  grep -E "^kernels:|^training:|^evaluation:" "$out/bench-before.txt"
  step tune "$exe" tune --budget "$budget" || failed=1
  grep -vE "^  " "$out/tune.txt" | tail -n 40
  step verify-tuned "$exe" verify --tuned --sizes real --batch 8 || failed=1
  grep -E "passed|VERIFY" "$out/verify-tuned.txt"
  step bench-after "$exe" bench --steps 50 || failed=1
  grep -E "^kernels:|^training:|^evaluation:" "$out/bench-after.txt"
  step train "$exe" train -v --data "$state/mnist" --set training.epochs=1 \
    --set output.model_save_dir="$out/models" --set output.runs_dir="$out/runs" || failed=1
  grep -E "Epoch|^test:|kernels:|tuned" "$out/train.txt"
  echo "gpu-check: $([ $failed -eq 0 ] && echo 'all steps passed' || echo 'SOME STEPS FAILED') (logs in $out)"
  return $failed
}

case "$mode" in
  prepare) prepare "$@" ;;
  run) run "$@" ;;
  *) echo "usage: tools/gpu-check.sh prepare [--data DIR] | run [--budget S] [--out DIR]" >&2; exit 2 ;;
esac
