#!/usr/bin/env bash
# Many processes compiling into one program cache at once: N separate `clcnn doctor` processes on
# one fresh CLCNN_CACHE_DIR, released together, must all succeed; the cache must then hold exactly
# one entry per program and no temporary file, and a warm doctor run must report every program as
# a cache hit. (tests/device/test-device.c does the same with forked writers inside one test.)
# usage: test-cache-procs.sh CLCNN_BINARY [N]
set -u
CLCNN=$1
N=${2:-8}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
# POCL's own kernel cache is not safe for processes compiling at once on a cold cache (pocl/pocl#1480,
# #430): warm it first with one doctor on another clcnn cache, so that the processes below race on
# clcnn's (fresh) cache, which is what this test is about, and only read POCL's.
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$T/pocl}
CLCNN_CACHE_DIR=$T/warm "$CLCNN" doctor >"$T/warm.out" 2>&1 || { echo "warm-up doctor failed:"; tail -5 "$T/warm.out"; exit 1; }
export CLCNN_CACHE_DIR=$T/cache

# every process waits for the start file, so that all compile at the same moment
pids=()
for ((i = 0; i < N; i++)); do
  ( while [ ! -e "$T/go" ]; do sleep 0.01; done; exec "$CLCNN" doctor ) >"$T/doctor-$i.out" 2>&1 &
  pids+=($!)
done
sleep 0.5
touch "$T/go"
ok=0
for ((i = 0; i < N; i++)); do
  wait "${pids[$i]}" && grep -q "^verdict: device works" "$T/doctor-$i.out" && ok=$((ok + 1)) ||
    { echo "--- doctor $i:"; tail -5 "$T/doctor-$i.out"; }
done
[ "$ok" -eq "$N" ] && pass "$N concurrent doctor processes succeeded" || fail "$((N - ok)) of $N doctor processes failed"
compiled=$(cat "$T"/doctor-*.out | grep -c " compiled$")
programs=$(grep -cE "^  [a-z0-9_]+ +ok " "$T/doctor-0.out")
echo "  $programs programs; $compiled compilations and $((N * programs - compiled)) cache hits across the $N processes"

entries=$(find "$CLCNN_CACHE_DIR" -type f -name '*.bin' | wc -l)
others=$(find "$CLCNN_CACHE_DIR" -type f ! -name '*.bin' | wc -l)
# exactly the entries one doctor alone writes (its program families, the smoke model's kernel
# variants on both profiles, the smoke kernel): the same file names as the warm-up's fresh cache
want=$(cd "$T/warm" && find . -type f -name '*.bin' | sort)
got=$(cd "$CLCNN_CACHE_DIR" && find . -type f -name '*.bin' | sort)
[ "$entries" -gt "$programs" ] && [ "$got" = "$want" ] && pass "cache holds $entries entries, those of one doctor alone" ||
  fail "cache holds $entries entries, one doctor alone writes $(echo "$want" | wc -l): $(diff <(echo "$want") <(echo "$got") | head -5 | tr '\n' ' ')"
[ "$others" -eq 0 ] && pass "no temporary files in the cache" || { fail "$others stray files"; ls -la "$CLCNN_CACHE_DIR"; }

"$CLCNN" doctor >"$T/warm.out" 2>&1 || fail "warm doctor failed"
hits=$(grep -c " cache hit$" "$T/warm.out")
[ "$hits" -eq "$programs" ] && ! grep -q " compiled$" "$T/warm.out" && pass "warm run: all $hits programs are cache hits" ||
  { fail "warm run: $hits of $programs cache hits"; cat "$T/warm.out"; }
grep -q "^verdict: device works" "$T/warm.out" && pass "warm run: device works" || fail "warm run verdict"

echo "$fails failed"
[ "$fails" -eq 0 ]
