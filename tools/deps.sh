#!/usr/bin/env bash
# Install the Debian 12 packages clcnn needs to build, test and run (idempotent; root or sudo).
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
      libclblast-dev check zlib1g-dev libcjson-dev libcairo2-dev libpng-dev libturbojpeg0-dev graphviz clinfo dataset-fashion-mnist
      clang libclang-rt-14-dev)  # clang + libFuzzer/sanitizer runtimes: tools/fuzz.sh
missing=()
for p in "${pkgs[@]}" "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
