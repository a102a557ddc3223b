#!/usr/bin/env bash
# The main job: install, build, and show the device clcnn selects.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/deps.sh
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release
ninja -C "$BUILD"
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache}
"$BUILD/tools/clcnn" devices
"$BUILD/tools/clcnn" doctor
