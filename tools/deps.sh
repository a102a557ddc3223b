#!/usr/bin/env bash
# Install the Debian 12 packages clcnn needs to build, test and run (idempotent; root or sudo).
# usage: tools/deps.sh [--python] [--onnx] [EXTRA_PACKAGE...]
#   --python  also what the Python helper scripts need (tools/*.py, tools/golden/: python3-torch, numpy;
#             the safetensors pip package for tools/gen-io-fixtures.py, whose point is the real writer)
#   --onnx    also what tools/gen-onnx-fixtures.py and tools/check-onnx-ort.py need: Debian's python3-onnx and
#             python3-torchvision, and pip's onnxruntime installed with --no-deps, because a plain
#             `pip install onnxruntime` replaces Debian's numpy 1.24 with numpy 2, after which python3-torch
#             fails with "Numpy is not available"; its pure dependencies come from Debian instead
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
      libclblast-dev check zlib1g-dev libcjson-dev libcairo2-dev libpng-dev libturbojpeg0-dev clinfo dataset-fashion-mnist
      graphviz   # the README pipes `clcnn graph --dot` into dot
      openmpi-bin libopenmpi-dev   # mpirun -np N clcnn train (meson feature mpi, auto) and tests/parallel
      clang libclang-rt-14-dev   # clang + libFuzzer/sanitizer runtimes: tools/fuzz.sh
      oclgrind)  # tools/oclgrind.sh: every kernel's memory accesses, races and API use checked
python=0
onnx=0
for a in "$@"; do
  if [ "$a" = "--python" ]; then python=1; pkgs+=(python3-torch python3-numpy python3-pip)
  elif [ "$a" = "--onnx" ]; then
    onnx=1
    pkgs+=(python3-torch python3-numpy python3-pip python3-onnx python3-torchvision
           python3-flatbuffers python3-coloredlogs python3-humanfriendly python3-packaging python3-protobuf
           python3-sympy)
  else pkgs+=("$a"); fi
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
if [ $onnx -eq 1 ] && ! /usr/bin/python3 -c 'import onnxruntime' 2>/dev/null; then
  echo "installing: onnxruntime (pip, --no-deps: keeps Debian's numpy)"
  # 1.32.0 is the version the committed fixtures were checked with (it runs with numpy 1.24); any other
  # is taken only when that one is not offered for this Python
  $SUDO /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnxruntime==1.32.0 ||
    $SUDO /usr/bin/python3 -m pip install -q --break-system-packages --no-deps onnxruntime
fi
if [ $onnx -eq 1 ]; then
  # the point of --no-deps: torch must still see numpy afterwards
  /usr/bin/python3 -c 'import onnx, onnxruntime, torchvision, torch, numpy; torch.from_numpy(numpy.zeros(2))' ||
    { echo "deps.sh: the ONNX Python packages are installed but do not import together (see above)" >&2; exit 1; }
fi
