#!/usr/bin/env bash
# Install the Debian 12 packages clcnn needs to build, test and run (idempotent; root or sudo).
# usage: tools/deps.sh [--python] [EXTRA_PACKAGE...]
#   --python  also what the Python helper scripts need (tools/*.py, tools/golden/: python3-torch, numpy;
#             the safetensors pip package for tools/gen-io-fixtures.py, whose point is the real writer)
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
      libclblast-dev check zlib1g-dev libcjson-dev libcairo2-dev libpng-dev libturbojpeg0-dev clinfo dataset-fashion-mnist
      graphviz   # the README pipes `clcnn graph --dot` into dot
      clang libclang-rt-14-dev)  # clang + libFuzzer/sanitizer runtimes: tools/fuzz.sh
python=0
for a in "$@"; do
  if [ "$a" = "--python" ]; then python=1; pkgs+=(python3-torch python3-numpy python3-pip); else pkgs+=("$a"); fi
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian 12 packages no safetensors; the other scripts fall back to tools/safetensors_min.py
if [ $python -eq 1 ] && ! /usr/bin/python3 -c 'import safetensors' 2>/dev/null; then
  echo "installing: safetensors (pip)"
  $SUDO /usr/bin/python3 -m pip install -q --break-system-packages safetensors
fi
