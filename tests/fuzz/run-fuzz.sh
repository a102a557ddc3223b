#!/usr/bin/env bash
# Run one libFuzzer target for $FUZZ_SECONDS (default 60) seconds: the corpus grows in
# OUT/corpus/NAME (seeded read-only from the SEED folders), findings land in OUT/crashes/NAME,
# statistics in OUT/stats/NAME.txt. Exit 0 only when the run ended cleanly with no finding.
# usage: run-fuzz.sh FUZZER NAME OUT SEED_DIR...
set -u
exe=$1 name=$2 out=$3
shift 3
secs=${FUZZ_SECONDS:-60}
corpus=$out/corpus/$name crashes=$out/crashes/$name stats=$out/stats/$name.txt
mkdir -p "$corpus" "$crashes" "$out/stats"
seeds=()
for s in "$@"; do [ -d "$s" ] && seeds+=("$s"); done
# tests/fuzz/NAME.dict (keywords of the format), when there is one
dict=$(dirname "$0")/$name.dict
opts=()
[ -f "$dict" ] && opts+=(-dict="$dict")
# -timeout: one input may take 20 s before it counts as a hang; -rss_limit_mb: 2 GiB (the default,
# spelled out) is far above what any reader may allocate for a small input
"$exe" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 "${opts[@]}" \
  -artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" > "$out/stats/$name.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/stats/$name.log" | tail -1)
found=$(find "$crashes" -type f | wc -l)
echo "$name execs=${execs:-0} corpus=$(find "$corpus" -type f | wc -l) findings=$found seconds=$secs rc=$rc" | tee "$stats"
if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
  tail -60 "$out/stats/$name.log"
  for f in "$crashes"/*; do [ -f "$f" ] && echo "finding: $f (reproduce: $exe $f)"; done
  exit 1
fi
exit 0
