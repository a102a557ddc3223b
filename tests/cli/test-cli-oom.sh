#!/usr/bin/env bash
# Out of host memory in clcnn train, eval and predict: the test build of the tool (clcnn-failalloc)
# fails its Nth allocation for N = 1, 2, ... until a run makes fewer; every failing run must end with
# exit status 1 and one "clcnn CMD: ... out of ... memory" line, never a crash, and train must leave
# no checkpoint behind.
# usage: test-cli-oom.sh CLCNN_FAILALLOC_BINARY DATA_DIR
set -u
CLCNN=$(realpath "$1")
DATA=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
NET=$DATA/cli/tiny.net

. "$(dirname "$0")/../common/mkidx.sh"
mkidx "$T/d" train 96
mkidx "$T/d" t10k 20
printf 'P2\n28 28\n255\n' > "$T/img.pgm"; for ((i = 0; i < 784; i++)); do echo $((i % 256)); done >> "$T/img.pgm"
(cd "$T" && "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16 --out "$T/a.safetensors" >/dev/null 2>&1) ||
  fail "train without an injected failure"

# sweep NAME CMD...: fail allocation 1, 2, ... of CMD (run in a fresh directory each time)
sweep() {
  local name=$1 n rc tested=0; shift
  for ((n = 1; n <= 100; n++)); do
    rm -rf "$T/run"; mkdir "$T/run"
    (cd "$T/run" && CLCNN_TEST_FAILALLOC=$n "$@" >/dev/null 2>"$T/err")
    rc=$?
    if ! grep -q "^failalloc: failing allocation $n$" "$T/err"; then
      [ $rc -eq 0 ] && [ $tested -gt 0 ] && pass "$name: $tested allocations failed in turn, each cleanly" ||
        fail "$name: exit $rc after $tested allocations: $(tail -3 "$T/err")"
      return
    fi
    tested=$((tested + 1))
    local msgs ok=1
    msgs=$(grep -c "^clcnn $name: " "$T/err")
    [ $rc -eq 1 ] || ok=0
    [ "$msgs" -eq 1 ] && grep -qE "^clcnn $name: .*out of (host )?memory" "$T/err" || ok=0
    [ -z "$(find "$T/run" -name '*.safetensors')" ] || ok=0
    [ $ok -eq 1 ] || { fail "$name: allocation $n: exit $rc, $msgs messages"; sed 's/^/    /' "$T/err" | tail -4; }
  done
  fail "$name: more than 100 allocations"
}
sweep train "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16
sweep eval "$CLCNN" eval "$NET" --weights "$T/a.safetensors" --data "$T/d"
sweep predict "$CLCNN" predict "$NET" --weights "$T/a.safetensors" "$T/img.pgm"

echo "$fails failed"
[ "$fails" -eq 0 ]
