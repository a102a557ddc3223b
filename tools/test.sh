#!/usr/bin/env bash
# The full test suite on POCL (or the selected OpenCL device): install, configure, build, meson test.
# In CI (CI=true), and locally with SANITIZE=1 / FUZZ=1, it then runs the suite again under
# ASan + UBSan (tools/sanitize.sh, build-asan; a bounded set, see below) and fuzzes every reader of
# outside data for FUZZ_SECONDS (default 30) each (tools/fuzz.sh, build-fuzz), and (CI, or OCLGRIND=1) runs
# tools/oclgrind.sh. After the suite, the device suite runs again with CLCNN_DEVICE_PROFILE=gpu
# (meson setup gpu: every GPU kernel and launch shape on POCL; GPU_PROFILE=0 skips it, GPU_PROFILE=1
# bounds it to ops, golden and test-train, GPU_PROFILE=all, the default in CI, runs all of it), then
# the vectorised GPU ops at widths 1 and 8 (setups gpuvw1, gpuvw8), each with its own log
# (meson-logs/testlog-gpu*.json). The last line counts all runs.
set -uo pipefail
cd "$(dirname "$0")/.."
./tools/deps.sh || exit 1
BUILD=${BUILD:-build}
# one POCL kernel cache for every stage: the sanitizer build and the GPU-profile runs compile the
# same kernels as the suite, and compiling them is most of a cold run's time
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache}
ci=0
[ "${CI:-}" = true ] || [ "${CI:-}" = 1 ] && ci=1
logs=() times=() broken=0
stage() { # name log command...: run a stage; a stage that fails without a test log counts as one failure
  local name=$1 log=$2 t0=$SECONDS
  shift 2
  rm -f "$log"
  "$@"
  local r=$?
  times+=("$name: $((SECONDS - t0)) s")
  if [ -f "$log" ]; then logs+=("$log"); elif [ $r -ne 0 ]; then echo "$name: failed before running tests"; broken=$((broken + 1)); fi
  return $r
}
main() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" -Dwerror=true || return 1
  fi
  ninja -C "$BUILD" || return 1
  POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache} meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
}
stage suite "$BUILD/meson-logs/testlog.json" main "$@"
rc=$?
gpu() { # setup tests...: a meson test setup of docs/gpu.md on the build the suite made; meson names
  # its log testlog-<setup>.json
  local setup=$1
  shift
  POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$BUILD/pocl-cache} meson test -C "$BUILD" --no-rebuild --print-errorlogs \
    --num-processes 2 --setup "$setup" "$@"
}
# CI runs the whole device suite under the GPU profile; locally the bounded set is the default
gpu_profile=${GPU_PROFILE:-$([ $ci -eq 1 ] && echo all || echo 1)}
if [ "$gpu_profile" != 0 ] && [ -f "$BUILD/build.ninja" ]; then
  # bounded (1): every op class against its reference, the PyTorch fixtures and training steps; the
  # suite itself already runs test-conv, test-conv-gpu, test-pool, test-gemm, test-launch and
  # cli-doctor through GPU-profile contexts. all: every device-suite test but cli-doctor and
  # cache-procs, which run clcnn doctor on both profiles whatever the setup, and test-conv-gpu, whose
  # contexts all name their profile (the suite ran them: here they would only repeat it; test-conv
  # leaves out its GPU-profile table here for the same reason), and test-parallel-bn (two minutes of
  # ResNet steps checking the collectives' sums, whose GPU-profile kernels test-train and golden run)
  gpu_tests=(ops golden test-train)
  if [ "$gpu_profile" = all ]; then
    mapfile -t gpu_tests < <(meson test -C "$BUILD" --no-rebuild --list --suite device 2>/dev/null |
      sed -n 's|^clcnn:device / ||p' | grep -vxE 'cli-doctor|cache-procs|test-conv-gpu|test-parallel-bn')
    [ ${#gpu_tests[@]} -gt 0 ] || gpu_tests=(--suite device) # no list: no test left out
  fi
  stage "gpu profile" "$BUILD/meson-logs/testlog-gpu.json" gpu gpu "${gpu_tests[@]}" || rc=1
  for vw in 1 8; do
    stage "gpu profile vw=$vw" "$BUILD/meson-logs/testlog-gpuvw$vw.json" gpu "gpuvw$vw" ops test-activation || rc=1
  done
fi
if [ $ci -eq 1 ] || [ "${SANITIZE:-0}" = 1 ]; then
  # ASan and UBSan see the host code; what they add to a test whose time is POCL compiling and running
  # kernels is small, so (unless SANITIZE_ALL=1 or tests are named) the stage leaves out those whose
  # host code the kept tests run too: test-conv and test-conv-gpu (conv2d's host side: ops, golden,
  # the models), test-gemm and test-launch (the GEMM and launch code: ops and every model),
  # test-parallel-bn (the threads collective: test-parallel), cli-doctor and cache-procs (the program
  # cache's writers: test-device forks them). 11 minutes became about 5.
  asan_args=("$@")
  if [ $# -eq 0 ] && [ "${SANITIZE_ALL:-0}" != 1 ] && [ -f "$BUILD/build.ninja" ]; then
    mapfile -t asan_args < <(meson test -C "$BUILD" --no-rebuild --list 2>/dev/null |
      sed -n 's|^clcnn:[a-z]* / ||p' |
      grep -vxE 'test-conv|test-conv-gpu|test-gemm|test-launch|test-parallel-bn|cli-doctor|cache-procs')
  fi
  stage sanitizers "${ASAN_BUILD:-build-asan}/meson-logs/testlog.json" ./tools/sanitize.sh "${asan_args[@]}" || rc=1
fi
if [ $ci -eq 1 ] || [ "${FUZZ:-0}" = 1 ]; then
  # 30 s a target in CI (about 2 minutes for the eight, two at a time); every finding kept in
  # tests/data/bad is replayed by the suite's fuzz-*-replay tests whatever this is
  stage fuzzing "${FUZZ_BUILD:-build-fuzz}/meson-logs/testlog.json" ./tools/fuzz.sh "${FUZZ_SECONDS:-30}" || rc=1
fi
# Oclgrind (bounded, about 8 minutes): the op tests, the PyTorch fixtures and a LeNet-5 step in both
# device profiles; any Oclgrind report fails it (tools/oclgrind.sh; OCLGRIND=1 locally)
if [ $ci -eq 1 ] || [ "${OCLGRIND:-0}" = 1 ]; then
  stage oclgrind "$BUILD/meson-logs/oclgrind.json" env BUILD="$BUILD" ./tools/oclgrind.sh || rc=1
fi
# where the time went: each stage, then the slowest runs of all logs (CI is kept under 45 minutes)
printf 'stage time: %s\n' "${times[@]}"
python3 - "$broken" "${logs[@]}" <<'PY' || true
import json, sys
c, slow = {}, []
for path in sys.argv[2:]:
    for line in open(path):
        j = json.loads(line)
        r = j["result"]
        c[r] = c.get(r, 0) + 1
        slow.append((j.get("duration", 0), j.get("name", "?"), path.split("/")[-1]))
for d, name, log in sorted(slow, reverse=True)[:12]:
    print(f"slowest: {d:7.0f} s  {name}  ({log})")
ok = c.get("OK", 0) + c.get("EXPECTEDFAIL", 0)
bad = sum(v for k, v in c.items() if k not in ("OK", "EXPECTEDFAIL", "SKIP")) + int(sys.argv[1])
line = f"{ok} passed, {bad} failed"
if c.get("SKIP"):
    line += f", {c['SKIP']} skipped"
print(line)
PY
exit $rc
