#!/usr/bin/env bash
# clcnn train under faults, end to end on a small generated dataset:
#  - SIGINT / SIGTERM in the middle of an epoch: a final checkpoint, exit 0, and it resumes;
#  - a second SIGINT ends the process at once, the checkpoint still loads;
#  - SIGKILL at random moments: the checkpoint left behind always loads, and the next run's save
#    removes the killed writer's temporary file;
#  - a diverging run stops with exit 1 naming the step (and with --check-numerics the node), and
#    the last good checkpoint stays byte for byte.
# usage: test-train-faults.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
T=$(mktemp -d)
trap 'jobs -p | xargs -r kill -9 2>/dev/null; rm -rf "$T"' EXIT
fails=0 faults=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
NET=$DATA/cli/tiny.net

. "$(dirname "$0")/../common/mkidx.sh"
mkidx "$T/d" train 12000 7
mkidx "$T/d" t10k 64 7

# wait until FILE has a line matching PATTERN (at most SECONDS); 1 on timeout
wait_for() { # file pattern seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
loads() { "$CLCNN" eval "$NET" --weights "$1" --data "$T/d" --limit 16 --batch 16 >/dev/null 2>"$T/eval.err"; }
# the epoch a checkpoint is marked with, from its JSON header
saved_epoch() { head -c 65536 "$1" | grep -ao '"epoch":"[0-9]*"' | grep -o '[0-9]*'; }
# a command line, not a function: "$!" of a background function would be a subshell's pid
TRAIN=("$CLCNN" train "$NET" --data "$T/d" --batch 16 --schedule constant --lr 0.01)
train() { "${TRAIN[@]}" "$@"; }

# ---- SIGINT and SIGTERM during training (mid-epoch, or at an epoch's end: evaluation and save)
for sig in INT TERM; do
  ck=$T/sig-$sig.safetensors
  "${TRAIN[@]}" --epochs 50 --out "$ck" >"$T/out" 2>"$T/err" &
  pid=$!
  if ! wait_for "$T/out" "^epoch 1 test accuracy" 120; then fail "SIG$sig: no first epoch"; kill -9 $pid; continue; fi
  sleep "0.$((RANDOM % 8 + 1))"
  kill -s "$sig" $pid
  faults=$((faults + 1))
  wait $pid
  rc=$?
  [ $rc -eq 0 ] && pass "SIG$sig: exit 0" || { fail "SIG$sig: exit $rc"; tail -3 "$T/err"; }
  grep -q "stopping after this step" "$T/err" && grep -q "checkpoint written to $ck" "$T/err" &&
    ! grep -q "^epoch 50 test" "$T/out" && pass "SIG$sig: stopped early and wrote the checkpoint ($(grep -o 'interrupted in epoch [0-9]* at step [0-9]*' "$T/err"))" ||
    { fail "SIG$sig: messages"; tail -3 "$T/err"; }
  loads "$ck" && pass "SIG$sig: the final checkpoint loads" || { fail "SIG$sig: checkpoint does not load"; cat "$T/eval.err"; }
  # the checkpoint is marked with the last whole epoch: resume for one more
  e=$(saved_epoch "$ck")
  train --epochs $((e + 1)) --out "$ck" --resume "$ck" >"$T/out" 2>"$T/err" &&
    grep -q "resuming $ck after epoch $e" "$T/err" && grep -q "^epoch $((e + 1)) test accuracy" "$T/out" &&
    pass "SIG$sig: training resumes from it (epoch $e)" || { fail "SIG$sig: resume"; tail -3 "$T/err"; }
done

# ---- a second SIGINT ends the process at once; whatever is on disk loads
ck=$T/twice.safetensors
"${TRAIN[@]}" --epochs 50 --out "$ck" >"$T/out" 2>"$T/err" &
pid=$!
if wait_for "$T/out" "^epoch 1 test accuracy" 120; then
  kill -s INT $pid; kill -s INT $pid
  faults=$((faults + 2))
  wait $pid
  rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 130 ] && pass "second SIGINT: exit $rc" || fail "second SIGINT: exit $rc"
  loads "$ck" && pass "second SIGINT: the checkpoint loads" || { fail "second SIGINT: checkpoint"; cat "$T/eval.err"; }
else
  fail "second SIGINT: no first epoch"; kill -9 $pid
fi

# ---- SIGKILL at random moments (the C API test kills inside the write itself 30 times)
ck=$T/kill.safetensors
kill_fails=0
for round in 1 2 3 4 5 6; do
  if [ -e "$ck" ]; then args=(--resume "$ck"); else args=(); fi
  "${TRAIN[@]}" --epochs 500 --out "$ck" --limit $((320 + RANDOM % 160)) "${args[@]}" >"$T/out" 2>"$T/err" &
  pid=$!
  wait_for "$T/out" "^epoch [0-9]+ test accuracy" 120 || { fail "SIGKILL round $round: no epoch"; kill -9 $pid; continue; }
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 $pid
  wait $pid 2>/dev/null
  faults=$((faults + 1))
  loads "$ck" || { fail "SIGKILL round $round: the checkpoint does not load"; cat "$T/eval.err"; kill_fails=1; }
done
[ "$kill_fails" -eq 0 ] && pass "6 SIGKILLs: the checkpoint always loaded"
train --epochs 1 --out "$ck" --force >/dev/null 2>&1
n=$(find "$T" -name '.kill.safetensors.tmp-*' | wc -l)
[ "$n" -eq 0 ] && pass "no temporary files left after the next save" || fail "$n temporary files left"

# ---- numerical faults: a huge learning rate on inputs scaled by 1e6 diverges within a few steps
ck=$T/num.safetensors
train --epochs 1 --out "$ck" --limit 64 >/dev/null 2>"$T/err" || { fail "numerics: first epoch"; cat "$T/err"; }
sum=$(md5sum < "$ck")
train --epochs 3 --out "$ck" --resume "$ck" --lr 100 --std 1e-6 --limit 64 >"$T/out" 2>"$T/err"
rc=$?
faults=$((faults + 1))
[ $rc -eq 1 ] && pass "diverging run: exit 1" || fail "diverging run: exit $rc"
grep -qE "^clcnn train: epoch 2 batch [0-9]+/4: training step [0-9]+: the loss is (nan|-?inf) \(lr 100\); lower the learning rate \(--check-numerics names the first node that produces it\); stopped, the last checkpoint $ck \(epoch 1\) is kept$" "$T/err" &&
  pass "diverging run: names epoch, batch and step, suggests --check-numerics" || { fail "diverging run: message"; cat "$T/err"; }
[ "$(md5sum < "$ck")" = "$sum" ] && pass "diverging run: the last good checkpoint is unchanged" || fail "checkpoint changed"
train --epochs 3 --out "$ck" --resume "$ck" --lr 100 --std 1e-6 --limit 64 --check-numerics >"$T/out" 2>"$T/err"
rc=$?
faults=$((faults + 1))
[ $rc -eq 1 ] && pass "--check-numerics: exit 1" || fail "--check-numerics: exit $rc"
grep -qE "^clcnn train: epoch 2 batch [0-9]+/4: training step [0-9]+: (forward|backward): node '[a-z0-9]+' \([a-z0-9_]+\): [a-z0-9 ]*(output|gradient)[a-z0-9. ]*\[[0-9]+\] = (nan|-?inf); stopped, the last checkpoint $ck \(epoch 1\) is kept$" "$T/err" &&
  pass "--check-numerics: names the node" || { fail "--check-numerics: message"; cat "$T/err"; }
[ "$(md5sum < "$ck")" = "$sum" ] && pass "--check-numerics: the checkpoint is unchanged" || fail "checkpoint changed"
train --epochs 1 --out "$T/none.safetensors" --lr 100 --std 1e-6 --limit 64 >/dev/null 2>"$T/err"
grep -q "stopped, no checkpoint was written$" "$T/err" && [ ! -e "$T/none.safetensors" ] &&
  pass "diverging first epoch: says no checkpoint was written" || { fail "first-epoch divergence"; cat "$T/err"; }

echo "$faults faults injected, $fails failed"
[ "$fails" -eq 0 ]
