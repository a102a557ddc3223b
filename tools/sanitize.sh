#!/usr/bin/env bash
# The whole test suite (unit and device) again, built with AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   tools/sanitize.sh [meson test args]      build into build-asan (gcc) and run the suite there
#
# Any ASan report, leak (except in the driver libraries of tests/reliability/lsan.supp) or UBSan
# report fails the test that triggered it. POCL runs under ASan as it is: it is not instrumented,
# only its allocations are seen, and its process-lifetime ones are suppressed. Env: ASAN_BUILD.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${ASAN_BUILD:-build-asan}
./tools/deps.sh || exit 1
if [ ! -f "$B/build.ninja" ]; then
  # werror stays off here: instrumentation changes gcc's value-range analysis, which then reports
  # -Wformat-truncation / -Wmaybe-uninitialized where the plain build (with -Werror) proves none.
  # -fno-sanitize-recover: the first UBSan report aborts the test instead of being a line in a log.
  meson setup "$B" -Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all || exit 1
fi
ninja -C "$B" || exit 1
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$B/pocl-cache}
# max_allocation_size_mb: no single allocation of the suite may pass 3 GiB (a size read from a file
# and trusted shows up here even when the machine could serve it)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1:max_allocation_size_mb=3072}
# use_tls=0: LeakSanitizer's walk over each thread's dynamic TLS (gcc 12's libsanitizer) reads a
# garbage DTV entry in POCL's worker threads after POCL dlopen()s a freshly compiled kernel library
# (a cold POCL cache) and crashes ("Tracer caught signal 11", "DTLS ... at 0x000200000942"). Without
# TLS as a root LSan can only report more, never less: clcnn keeps no allocation in TLS.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/reliability/lsan.supp:print_suppressions=0:use_tls=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
# sanitized code runs 2-3x slower than the plain build the timeouts were set for
meson test -C "$B" --print-errorlogs --num-processes 2 --timeout-multiplier 3 "$@"
