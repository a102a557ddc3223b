#!/usr/bin/env bash
# The main job: install what is missing, build, train the default model (models/fmnist.net, two
# conv + batchnorm + pooling blocks) on Fashion-MNIST on the selected OpenCL device (POCL on a CPU),
# and print its test accuracy. EPOCHS=N overrides the number of epochs, MODEL=path the netfile; extra
# arguments go to `clcnn train`. The longer documented run (93.5 %):
#   MODEL=models/fmnist-dropout.net EPOCHS=20 ./tools/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./tools/deps.sh
BUILD=${BUILD:-build-release}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" >/dev/null
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache}
CLCNN="$BUILD/tools/clcnn"
"$CLCNN" devices | grep -E '^platform|^\*|^selected' || true
out="$BUILD/demo"
mkdir -p "$out"
"$CLCNN" train "${MODEL:-models/fmnist.net}" --epochs "${EPOCHS:-10}" --batch 128 --out "$out/fmnist.safetensors" --force "$@"
"$CLCNN" eval "${MODEL:-models/fmnist.net}" --weights "$out/fmnist.safetensors" | head -n 1 | sed 's/^accuracy/test accuracy/'
echo "demo finished in $(( $(date +%s) - start )) s (build included); checkpoint, CSV log and curve in $out/"
