#!/usr/bin/env bash
# The second demo: your own data. Exports Fashion-MNIST as a torchvision ImageFolder of PNG files
# (`clcnn data export`: <split>/<index>-<class name>/<n>.png), trains the default model from that
# folder and from the IDX files with the same settings, and prints both test accuracies: the input
# pipeline (PNG decoding, class names from folder names, normalisation computed from the images)
# must give the same model quality as the IDX reader. EPOCHS=N (default 4), MODEL=path; extra
# arguments go to both `clcnn train` runs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./tools/deps.sh
BUILD=${BUILD:-build-release}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" >/dev/null
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache}
CLCNN="$BUILD/tools/clcnn"
MODEL=${MODEL:-models/fmnist.net}
EPOCHS=${EPOCHS:-4}
IDX=/usr/share/datasets/fashion-mnist
out="$BUILD/demo-folder"
folder="$out/fashion-mnist-png"
mkdir -p "$out"
if [ ! -f "$folder/.complete" ]; then
  rm -rf "$folder"
  echo "exporting $IDX as PNG files into $folder"
  "$CLCNN" data export "$IDX" --split both --out "$folder"
  touch "$folder/.complete"
fi
"$CLCNN" data info "$folder"
accuracy() { "$CLCNN" eval "$MODEL" --weights "$1" --data "$2" | sed -n 's/^accuracy \([0-9.]*\).*/\1/p'; }
"$CLCNN" train "$MODEL" --data "$folder" --epochs "$EPOCHS" --out "$out/folder.safetensors" --force "$@"
"$CLCNN" train "$MODEL" --data "$IDX" --epochs "$EPOCHS" --out "$out/idx.safetensors" --force "$@"
a_folder=$(accuracy "$out/folder.safetensors" "$folder")
a_idx=$(accuracy "$out/idx.safetensors" "$IDX")
echo "test accuracy: trained from PNG folder $a_folder, from IDX files $a_idx"
awk -v a="$a_folder" -v b="$a_idx" 'BEGIN { d = (a - b) * 100; if (d < 0) d = -d;
  printf "difference %.2f points (%s)\n", d, d <= 0.3 ? "within 0.3" : "MORE than 0.3"; exit d > 0.3 }'
echo "demo finished in $(( $(date +%s) - start )) s; checkpoints, logs and curves in $out/"
