#!/usr/bin/env bash
# Fuzz every reader of outside data (netfile, safetensors, IDX, image, CIFAR, CSV, ONNX) with libFuzzer + ASan + UBSan.
#
#   tools/fuzz.sh [SECONDS]     build into build-fuzz (clang, -Dfuzz=true), run each target SECONDS
#                               (default 60), two at a time
#
# Corpora grow in build-fuzz/fuzz/corpus/<target>, seeded from models/, tests/data/ and
# tests/fuzz/seeds/ (tests/fuzz/meson.build lists them). Findings (crash-*, leak-*, timeout-*,
# oom-*) land in build-fuzz/fuzz/crashes/<target>/; each one becomes a regression test: copy it to
# tests/data/bad/<kind>/fuzz-<what>, write its .expect, fix the reader. Per-target counts (inputs
# executed, corpus size, findings) are in build-fuzz/fuzz/stats/. The last line is the usual
# "N passed, N failed" over the targets. Env: FUZZ_BUILD (build folder), FUZZ_JOBS (parallel runs).
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
B=${FUZZ_BUILD:-build-fuzz}
./tools/deps.sh || exit 1
if [ ! -f "$B/build.ninja" ]; then
  # every object gets coverage instrumentation (fuzzer-no-link); the targets link libFuzzer itself.
  # -fno-sanitize-recover: any UBSan report is a finding, not a line in a log
  CC=clang meson setup "$B" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" -Dbuildtype=debugoptimized || exit 1
fi
targets=(netfile safetensors idx image cifar csv onnx onnx-import)
ninja -C "$B" "${targets[@]/#/tests/fuzz/fuzz-}" || exit 1
rm -rf "$B/fuzz/crashes" "$B/fuzz/stats"
FUZZ_SECONDS=$SECS meson test -C "$B" --no-rebuild --suite fuzz --num-processes "${FUZZ_JOBS:-2}" --print-errorlogs
rc=$?
echo "fuzzing, $SECS s per target:"
cat "$B"/fuzz/stats/*.txt 2>/dev/null | sed 's/^/  /'
passed=0 failed=0
for t in "${targets[@]}"; do
  if grep -q "findings=0 .*rc=0$" "$B/fuzz/stats/$t.txt" 2>/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
