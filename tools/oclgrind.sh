#!/usr/bin/env bash
# Run a bounded set of device tests under Oclgrind (an OpenCL simulator that checks every kernel's memory
# accesses, data races, barrier divergence and API use), in the CPU and in the GPU device profile.
# usage: tools/oclgrind.sh [TEST...]     TEST: a name below (default: all but bench-*)
#   activation loss norm pool golden      tests/ops/test-<name> (golden: the PyTorch fixtures)
#   bench                                 clcnn bench models/lenet5.net --batch 2 --iters 1: one training
#                                         step of a small model, every layer's forward and backward
#   conv-ALGO                             clcnn bench tests/data/oclgrind/convs.net --batch 2 with
#                                         CLCNN_CONV_ALGO=ALGO: every convolution algorithm forced once, in
#                                         the profiles where it applies (CPU designs on cpu, GPU ones on gpu)
#   bench-lanes, bench-implicit           LeNet-5 with CLCNN_CONV_ALGO forced (lanes: ~270 s on the
#                                         GPU profile, so not in the default set)
# env: BUILD (default build), OCLGRIND_PROFILES (default "cpu gpu"), OCLGRIND_STEP_TIMEOUT (s, default 240)
# A run fails when its command fails or times out, or when Oclgrind reports anything on its output
# (invalid reads/writes, data races, divergence, uninitialised values, API errors): the report is
# printed. Results go to $BUILD/meson-logs/oclgrind.json, one {"name", "result"} line per run, which
# tools/test.sh counts. test-conv is not here: its model-shape cases take over 400 s under Oclgrind;
# the bench runs cover every conv algorithm the profile chooses at LeNet-5's shapes instead.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
icd=/usr/lib/oclgrind/liboclgrind-rt-icd.so
[ -f "$icd" ] || ./tools/deps.sh oclgrind || exit 1
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dwerror=true || exit 1
ninja -C "$BUILD" >/dev/null || { echo "oclgrind.sh: the build failed" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/clcnn-oclgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/vendors" "$BUILD/meson-logs"
echo "$icd" > "$tmp/vendors/oclgrind.icd"
export OCL_ICD_VENDORS=$tmp/vendors CLCNN_DEVICE=0
# OCLGRIND_UNINITIALIZED=1 (off by default) reports "Uninitialized value written" in test-loss's
# loss_finish (out[0] = s / w) and, from that state, cls_backward. Those are Oclgrind 21.10 false
# positives: when a buffer is released and a larger one gets its address, the new buffer's shadow
# keeps the old size, so kernel writes past the old size stay "uninitialised" (a 12-byte scratch
# freed, a 20-byte one written whole by cls_partial: its part[3] reads as uninitialised, with the
# right value). Two-kernel repro without clcnn: create a 3-float buffer, write it in a kernel, sum
# it in another, release it, then the same with 5 floats: the second sum (10, correct) is reported
# (tests/data/oclgrind/shadow-reuse.c).
# Buffers of one size in both runs report nothing, and every loss value matches the reference.
export OCLGRIND_DATA_RACES=1 OCLGRIND_CHECK_API=1 OCLGRIND_UNINITIALIZED=${OCLGRIND_UNINITIALIZED:-0}
# Oclgrind builds from source at every run: the binary cache would only hold its LLVM bitcode
export CLCNN_CACHE_DIR=off CLCNN_TUNE=off
export CLCNN_DATA_DIR=$PWD/tests/data CK_DEFAULT_TIMEOUT=600

B=$BUILD
cmd_of() {
  case $1 in
    activation | loss | norm | pool | golden) echo "$B/tests/ops/test-$1" ;;
    bench) echo "$B/tools/clcnn bench models/lenet5.net --batch 2 --iters 1 --warmup 0" ;;
    bench-lanes) echo "env CLCNN_CONV_ALGO=lanes $B/tools/clcnn bench models/lenet5.net --batch 2 --iters 1 --warmup 0" ;;
    bench-implicit) echo "env CLCNN_CONV_ALGO=implicit $B/tools/clcnn bench models/lenet5.net --batch 2 --iters 1 --warmup 0" ;;
    conv-*) grep -q "^	X(${1#conv-}, " src/ops/conv-algos.h || return 1
      echo "env CLCNN_CONV_ALGO=${1#conv-} $B/tools/clcnn bench tests/data/oclgrind/convs.net --batch 2 --iters 1 --warmup 0" ;;
    *) return 1 ;;
  esac
}
# conv-ALGO runs only in the profile its algorithm applies in (docs/gpu.md): the others fall back
cpu_only=" conv-implicit conv-implicit48 conv-shallow conv-lanes conv-winograd_fused "
gpu_only=" conv-igemm_gpu conv-igemm_gpu32 conv-igemm_gpu128 conv-im2col_clblast "
skip() { # profile test
  case $1 in
    cpu) [[ "$gpu_only" == *" $2 "* ]] ;;
    gpu) [[ "$cpu_only" == *" $2 "* ]] ;;
    *) return 1 ;;
  esac
}
tests=("$@")
# im2col_clblast is not in the default set: CLBlast's kernels take minutes to simulate
[ ${#tests[@]} -eq 0 ] && tests=(activation loss norm pool golden bench $(sed -n 's/^\tX(\([a-z0-9_]*\), .*/conv-\1/p' src/ops/conv-algos.h | grep -v clblast))
for t in "${tests[@]}"; do
  cmd_of "$t" >/dev/null || { echo "oclgrind.sh: unknown test '$t'" >&2; exit 2; }
done

# What Oclgrind writes when it finds something (its messages start a line; kernel ones name the kernel).
reports='^(Invalid (read|write)|Invalid memory|Uninitialized|Unaligned|Read-write|Write-write|Work-group divergence|Work-item divergence|Oclgrind - |Oclgrind: )|data race at |divergence detected|^[[:space:]]+Kernel: '
json=$B/meson-logs/oclgrind.json
: > "$json"
pass=0 fail=0
for profile in ${OCLGRIND_PROFILES:-cpu gpu}; do
  for t in "${tests[@]}"; do
    skip "$profile" "$t" && continue
    log=$tmp/$t-$profile.log
    start=$(date +%s)
    CLCNN_DEVICE_PROFILE=$profile timeout "${OCLGRIND_STEP_TIMEOUT:-240}" $(cmd_of "$t") > "$log" 2>&1
    rc=$?
    n=$(grep -cE "$reports" "$log")
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ] && [ "$n" -eq 0 ]; then
      result=OK pass=$((pass + 1))
      echo "oclgrind $profile $t: ok (${secs} s)"
    else
      result=FAIL fail=$((fail + 1))
      why="exit $rc"
      [ "$rc" -eq 124 ] && why="timed out after ${OCLGRIND_STEP_TIMEOUT:-240} s"
      echo "oclgrind $profile $t: FAILED ($why, $n Oclgrind report lines, ${secs} s)"
      if [ "$n" -gt 0 ]; then grep -EA6 "$reports" "$log" | head -60; else tail -20 "$log"; fi
    fi
    printf '{"name": "oclgrind %s %s", "result": "%s", "duration": %d}\n' "$profile" "$t" "$result" "$secs" >> "$json"
  done
done
echo "oclgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
