#!/usr/bin/env bash
# The prepared check for a lent NVIDIA GPU machine (no OpenCL dev packages, no internet, no cairo; see
# ../shared/gpu/README.md). Only the working tree travels there, so prepare it here first:
#   tools/gpu-check.sh --prepare    copies ../shared/gpu (the OpenCL kit: debs + opencl-env.sh)
#                                   and the Fashion-MNIST files (the 4 .gz
#                                   of /usr/share/datasets/fashion-mnist, into .gpu/fmnist/: the GPU
#                                   machine has no dataset package) into the ignored .gpu/
# Then on the GPU machine:
#   tools/gpu-check.sh [OUTDIR]     (default $OUT, else /tmp/gpu-check)
# sources .gpu/opencl-env.sh when OpenCL's pkg-config file is missing, builds in /tmp (cairo, libpng
# and libjpeg-turbo optional: the build stands in for them), then, each step under its own timeout
# (480 s in all; GPU_CHECK_BUILD_TIMEOUT, default 120 s, for a slow build): clcnn devices, clcnn
# doctor, the `device` test suite, tools/bench-conv.sh against PyTorch CUDA (tools/torch_conv.py --device cuda: TF32 off) and one epoch of models/fmnist.net
# on .gpu/fmnist. Writes OUTDIR/gpu-check.md (a BENCHMARKS.md-ready summary) and each step's log, and
# prints the summary.
# GPU_CHECK_DEVICE=cpu tools/gpu-check.sh --quick   the same steps on POCL with PyTorch on the CPU, at
#   tiny sizes (two op tests, one bench round of 1 iteration, an epoch of 512 images): proof that the
#   script works end to end, not a benchmark. GPU_CHECK_PYTHON: the python with torch (default python3);
#   GPU_CHECK_BUILD: the build folder (default /tmp/clcnn-gpu-check); GPU_CHECK_JOBS: ninja -j.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
quick=0
if [ "${1:-}" = --prepare ]; then
  set -e
  mkdir -p .gpu/fmnist
  cp -r ../shared/gpu/. .gpu/
  cp /usr/share/datasets/fashion-mnist/*.gz .gpu/fmnist/
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo /.gpu/ >> "$exclude"
  echo "gpu-check: prepared .gpu/ ($(du -sh .gpu | cut -f1)): $(ls .gpu | tr '\n' ' ')"
  exit 0
fi
# --quick: no autotuning (timing every candidate on POCL is the slow part of a first run)
[ "${1:-}" = --quick ] && { quick=1; shift; export CLCNN_TUNE=off; }
out=${1:-${OUT:-/tmp/gpu-check}}
mkdir -p "$out"
dev=${GPU_CHECK_DEVICE:-gpu}
tdev=cuda
[ "$dev" = cpu ] && tdev=cpu
B=${GPU_CHECK_BUILD:-/tmp/clcnn-gpu-check}
export CLCNN_DEVICE=$dev CLCNN_CACHE_DIR=${CLCNN_CACHE_DIR:-$B/clcnn-cache} POCL_CACHE_DIR=${POCL_CACHE_DIR:-$B/pocl-cache}
if ! pkg-config --exists OpenCL 2>/dev/null && [ -f .gpu/opencl-env.sh ]; then
  # shellcheck disable=SC1091
  source .gpu/opencl-env.sh > "$out/opencl-env.log" 2>&1
fi
data=.gpu/fmnist
[ -d "$data" ] || data=/usr/share/datasets/fashion-mnist

rows=()
step() { # name timeout_s command...: run with its log in $out/<name>.log; one table row
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$? secs=$((SECONDS - start)) status=ok
  [ $rc -eq 124 ] && status="timed out (${limit} s)"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] && status="FAILED (exit $rc)"
  rows+=("| $name | $status | $secs |")
  echo "gpu-check: $name: $status, $secs s" >&2
  return $rc
}

build() { # (run by bash -c under timeout: exported)
  if [ ! -f "$B/build.ninja" ]; then meson setup "$B" -Dwerror=false --buildtype=release || return 1; fi
  # -k 0: a helper that needs a missing image library must not stop the rest
  ninja -C "$B" -j "${GPU_CHECK_JOBS:-$(nproc)}" -k 0 || ninja -C "$B" -j "${GPU_CHECK_JOBS:-$(nproc)}" tools/clcnn
}
export B
export -f build
step build "${GPU_CHECK_BUILD_TIMEOUT:-120}" bash -c build || { printf '%s\n' "${rows[@]}"; exit 1; }
step devices 20 "$B/tools/clcnn" devices
step doctor $((quick ? 300 : 60)) "$B/tools/clcnn" doctor
if [ $quick -eq 1 ]; then
  step device-suite 120 meson test -C "$B" --no-rebuild test-pool test-activation
else
  step device-suite 120 meson test -C "$B" --no-rebuild --suite device --num-processes 8
fi
cat > "$B/torch-conv.sh" <<EOF
#!/bin/sh
exec ${GPU_CHECK_PYTHON:-python3} "$root/tools/torch_conv.py" --device $tdev "\$@"
EOF
if [ $quick -eq 1 ]; then
  step bench-conv 240 env ROUNDS=1 ITERS=1 TORCH_REPS=1 TORCH="$B/torch-conv.sh" PYTHON=/bin/sh tools/bench-conv.sh "$B"
else
  step bench-conv 90 env ROUNDS=1 ITERS=10 TORCH_REPS=10 TORCH="$B/torch-conv.sh" PYTHON=/bin/sh PEAK="${PEAK:-67000}" tools/bench-conv.sh "$B"
fi
if [ $quick -eq 1 ]; then
  # 512 training and 256 test images: the same files, cut after that many records
  mkdir -p "$B/fmnist-small"
  python3 - "$data" "$B/fmnist-small" <<'PY'
import gzip, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for split, n in (("train", 512), ("t10k", 256)):
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        raw = gzip.open(f"{src}/{split}-{kind}.gz").read()
        ndim = raw[3]
        dims = list(struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim]))
        rec = 1
        for d in dims[1:]:
            rec *= d
        dims[0] = n
        head = raw[:4] + struct.pack(f">{ndim}I", *dims)
        gzip.open(f"{dst}/{split}-{kind}.gz", "wb").write(head + raw[4 + 4 * ndim:4 + 4 * ndim + n * rec])
PY
  step train-epoch 180 "$B/tools/clcnn" train models/fmnist.net --data "$B/fmnist-small" --epochs 1 --batch 64 --out "$out/fmnist.safetensors"
else
  step train-epoch 70 "$B/tools/clcnn" train models/fmnist.net --data "$data" --epochs 1 --out "$out/fmnist.safetensors"
fi

{
  echo "## GPU check: $(awk 'NR == 2' "$out/devices.log" 2>/dev/null) ($(date -u +%Y-%m-%d))"
  echo
  echo "Command: \`GPU_CHECK_DEVICE=$dev tools/gpu-check.sh$([ $quick -eq 1 ] && echo ' --quick')\`, PyTorch on $tdev (TF32 off)."
  echo
  echo "| step | result | seconds |"
  echo "|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "doctor: $(grep -E '^(kernels|verdict):' "$out/doctor.log" 2>/dev/null | tr '\n' ' ')"
  echo
  echo "device suite: $(grep -E '^(Ok|Fail|Timeout|Skipped|Expected Fail|Unexpected Pass):' "$out/device-suite.log" 2>/dev/null | tr -s ' ' | tr '\n' ' ')"
  echo
  echo "### Convolutions, clcnn against PyTorch ($tdev)"
  echo
  grep '^|' "$out/bench-conv.log" 2>/dev/null || echo "(no table: see bench-conv.log)"
  echo
  echo "### One epoch of models/fmnist.net"
  echo
  echo '```'
  grep -iE 'epoch|accuracy|img/s' "$out/train-epoch.log" 2>/dev/null | tail -4
  echo '```'
} > "$out/gpu-check.md"
cat "$out/gpu-check.md"
