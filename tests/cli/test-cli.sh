#!/usr/bin/env bash
# The clcnn command line end to end on a tiny generated dataset: every subcommand, --help, exit
# statuses (0 ok, 1 runtime error, 2 usage error), and bad input: one clear line naming the file and
# the problem, and no existing checkpoint or output overwritten.
# usage: test-cli.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

# expect STATUS PATTERN DESCRIPTION -- CMD...: exit status and a stderr/stdout line matching PATTERN
expect() {
  local want=$1 pat=$2 what=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then fail "$what: exit $got, wanted $want"; sed 's/^/    /' "$T/err" | tail -5; return; fi
  if [ -n "$pat" ] && ! grep -qE -- "$pat" "$T/out" "$T/err"; then
    fail "$what: output lacks /$pat/"; sed 's/^/    /' "$T/err" "$T/out" | tail -8; return
  fi
  pass "$what"
}

# A tiny IDX dataset: N images of 28x28 random bytes and N labels 0..9.
mkidx() { # dir split n
  local dir=$1 split=$2 n=$3
  mkdir -p "$dir"
  { printf '\x00\x00\x08\x03'; printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))";
    printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((n * 784)) /dev/urandom; } | gzip > "$dir/$split-images-idx3-ubyte.gz"
  { printf '\x00\x00\x08\x01'; printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))";
    for ((i = 0; i < n; i++)); do printf "\\x0$((i % 10))"; done; } | gzip > "$dir/$split-labels-idx1-ubyte.gz"
}
mkidx "$T/d" train 96
mkidx "$T/d" t10k 40
NET=$DATA/cli/tiny.net

# ---- help and usage
for c in train eval predict run bench graph devices doctor; do
  expect 0 "usage: clcnn $c" "$c --help" -- "$CLCNN" "$c" --help
done
expect 2 "unknown command 'frobnicate'" "unknown subcommand" -- "$CLCNN" frobnicate
expect 2 "bad value 'abc' for --epochs" "bad flag value" -- "$CLCNN" train "$NET" --epochs abc
expect 2 "unknown option '--nope'" "unknown flag" -- "$CLCNN" train "$NET" --nope 3
expect 2 "bad value 'rmsprop' for --optimizer" "bad optimizer" -- "$CLCNN" train "$NET" --data "$T/d" --optimizer rmsprop --out "$T/x.safetensors"
expect 2 "--epochs needs a value" "missing flag value" -- "$CLCNN" train "$NET" --epochs

# ---- train, eval, predict, run, graph, bench on the tiny data
expect 0 "epoch 2 test accuracy" "train 2 epochs" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 2 --batch 16 --out "$T/a.safetensors"
[ -s "$T/a.safetensors" ] && [ -s "$T/a.csv" ] && [ -s "$T/a.png" ] && pass "checkpoint, csv and png written" || fail "train outputs missing"
[ "$(wc -l < "$T/a.csv")" -eq 3 ] && pass "csv has a header and 2 epochs" || fail "csv lines: $(wc -l < "$T/a.csv")"
expect 0 "accuracy 0\.[0-9]{4} \(40 images\)" "eval" -- "$CLCNN" eval "$NET" --weights "$T/a.safetensors" --data "$T/d"
expect 0 "confusion matrix" "eval prints the confusion matrix" -- "$CLCNN" eval "$NET" --weights "$T/a.safetensors" --data "$T/d"
expect 0 "resuming" "resume to epoch 3" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 3 --batch 16 --out "$T/a.safetensors" --resume "$T/a.safetensors"
expect 0 "fc +linear" "graph" -- "$CLCNN" graph "$NET"
expect 0 "digraph" "graph --dot" -- "$CLCNN" graph "$NET" --dot
expect 0 "training step" "bench" -- "$CLCNN" bench "$NET" --batch 8 --iters 2 --warmup 1
printf 'P2\n28 28\n255\n' > "$T/img.pgm"; for ((i = 0; i < 784; i++)); do echo $((i % 256)); done >> "$T/img.pgm"
expect 0 "img.pgm:" "predict a PGM" -- "$CLCNN" predict "$NET" --weights "$T/a.safetensors" "$T/img.pgm"

# ---- bad input: one clear line, exit 1, nothing overwritten
cp "$T/a.safetensors" "$T/keep.safetensors"
sum_before=$(md5sum < "$T/a.safetensors")
expect 2 "already exists" "refuses to replace a checkpoint" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16 --out "$T/a.safetensors"
expect 1 "does not exist" "missing dataset dir" -- "$CLCNN" train "$NET" --data "$T/none" --out "$T/b.safetensors"
mkdir -p "$T/bad1"; cp "$T/d"/* "$T/bad1/"; printf '\x00\x00\x08\x04\x00\x00\x00\x01' | gzip > "$T/bad1/train-images-idx3-ubyte.gz"
expect 1 "train-images-idx3-ubyte.gz.*magic" "wrong IDX magic" -- "$CLCNN" train "$NET" --data "$T/bad1" --out "$T/b.safetensors"
mkdir -p "$T/bad2"; cp "$T/d"/* "$T/bad2/"; head -c 3000 "$T/d/train-images-idx3-ubyte.gz" > "$T/bad2/train-images-idx3-ubyte.gz"
expect 1 "train-images-idx3-ubyte.gz" "truncated gzip" -- "$CLCNN" train "$NET" --data "$T/bad2" --out "$T/b.safetensors"
mkdir -p "$T/bad3"; cp "$T/d"/* "$T/bad3/"; mkidx "$T/bad3x" train 50; cp "$T/bad3x/train-labels-idx1-ubyte.gz" "$T/bad3/"
expect 1 "96.*50|50.*96" "image/label count mismatch" -- "$CLCNN" train "$NET" --data "$T/bad3" --out "$T/b.safetensors"
expect 1 "3x32x32" "images not matching the model input" -- "$CLCNN" train "$DATA/cli/tiny-rgb.net" --data "$T/d" --out "$T/b.safetensors"
expect 1 "c1.weight" "checkpoint from another netfile" -- "$CLCNN" eval "$DATA/cli/tiny-other.net" --weights "$T/a.safetensors" --data "$T/d"
printf 'not an image' > "$T/bad.png"
expect 1 "bad.png" "unreadable image" -- "$CLCNN" predict "$NET" --weights "$T/a.safetensors" "$T/bad.png"
expect 1 "nosuch.safetensors" "missing weights file" -- "$CLCNN" eval "$NET" --weights "$T/nosuch.safetensors" --data "$T/d"
expect 1 "no-such.net" "missing netfile" -- "$CLCNN" graph "$T/no-such.net"
[ "$(md5sum < "$T/a.safetensors")" = "$sum_before" ] && pass "checkpoint untouched by failing runs" || fail "checkpoint changed"
[ ! -e "$T/b.safetensors" ] && pass "failing runs wrote no checkpoint" || fail "b.safetensors exists"

# ---- run: node outputs and gradients to safetensors
"$CLCNN" run "$NET" --weights "$T/a.safetensors" --input /dev/null --output "$T/y.safetensors" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && pass "run with a bad input file fails with status 1" || fail "run bad input"

# a hand-made safetensors input: 2 zero images and labels [0, 0]
hdr='{"image":{"dtype":"F32","shape":[2,1,28,28],"data_offsets":[0,6272]},"label":{"dtype":"F32","shape":[2],"data_offsets":[6272,6280]}}'
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
n=${#hdr}
{ printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hdr"; head -c 6280 /dev/zero; } > "$T/x.safetensors"
expect 0 "wrote" "run forward and backward" -- "$CLCNN" run "$NET" --weights "$T/a.safetensors" --input "$T/x.safetensors" --output "$T/y.safetensors" --backward
for key in '"c1"' '"fc"' '"loss"' '"grad.c1.weight"' '"grad.fc.bias"' '"grad.image"'; do
  head -c 4096 "$T/y.safetensors" | grep -q "$key" && pass "run output has $key" || fail "run output lacks $key"
done

echo "$fails failed"
[ "$fails" -eq 0 ]
