#!/usr/bin/env bash
# The clcnn command line end to end on a tiny generated dataset: every subcommand, --help, exit
# statuses (0 ok, 1 runtime error, 2 usage error), and bad input: one clear line naming the file and
# the problem, and no existing checkpoint or output overwritten.
# usage: test-cli.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
. "$(dirname "$0")/../common/expect.sh"

. "$(dirname "$0")/../common/mkidx.sh"
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
# with the autotuner on (the suite runs with CLCNN_TUNE=off, tests/meson.build) and a fresh cache: the
# first step times each convolution's algorithms, end to end
expect 0 "epoch 2 test accuracy" "train 2 epochs" -- env CLCNN_TUNE=train CLCNN_CACHE_DIR="$T/tcache" "$CLCNN" train "$NET" --data "$T/d" --epochs 2 --batch 16 --out "$T/a.safetensors"
grep -qE "tuned [1-9][0-9]* convolution" "$T/err" && pass "the first training step tuned its convolutions" || fail "no tuning: $(grep tuned "$T/err")"
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

# ---- the normalisation and class names travel in the checkpoint
# (uniform random bytes / 255: mean 0.5, std 0.2898; computed from the training split)
header "$T/a.safetensors" | grep -qE '"clcnn.mean":"0\.(49|50)[0-9]*","clcnn.std":"0\.2(8|9)[0-9]*","clcnn.input":"1x28x28","clcnn.dataset_format":"idx"' &&
  pass "train saves the computed mean/std, the input shape and the data format" || fail "metadata: $(header "$T/a.safetensors" | grep -o '"__metadata__":{[^}]*}')"
header "$T/a.safetensors" | grep -q 'clcnn.classes' && fail "class names saved for data that is not Fashion-MNIST" || pass "no class names for other data"
# (a small learning rate: on random data a large one can kill every ReLU, and then no input matters)
expect 0 "epoch 1 test accuracy" "train with --mean 0.5 --std 0.25" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16 --lr 0.001 --mean 0.5 --std 0.25 --out "$T/n.safetensors"
header "$T/n.safetensors" | grep -q '"clcnn.mean":"0.5","clcnn.std":"0.25"' && pass "--mean/--std saved in the checkpoint" || fail "--mean/--std not saved"
predict_top() { "$CLCNN" predict "$NET" --top 10 "$@" "$T/img.pgm" 2>"$T/perr"; }
p_meta=$(predict_top --weights "$T/n.safetensors") p_given=$(predict_top --weights "$T/n.safetensors" --mean 0.5 --std 0.25)
p_fm=$(predict_top --weights "$T/n.safetensors" --mean 0.2860 --std 0.3530)
[ -n "$p_meta" ] && [ "$p_meta" = "$p_given" ] && pass "predict normalises with the checkpoint's mean/std" || fail "predict: '$p_meta' vs '$p_given'"
[ "$p_meta" != "$p_fm" ] && pass "--mean/--std override the checkpoint's" || fail "predict ignores --mean/--std: $p_meta"
predict_top --weights "$T/n.safetensors" >/dev/null; [ ! -s "$T/perr" ] && pass "no warning for a checkpoint with metadata" || fail "warning: $(cat "$T/perr")"
echo "$p_meta" | grep -qE '^  [0-9] 0\.[0-9]{4}$' && ! echo "$p_meta" | grep -q 'T-shirt' && pass "predict prints class indices without names" ||
  fail "predict names: $p_meta"
expect 2 "--mean/--std: bad mean \"abc\"" "bad --mean" -- "$CLCNN" predict "$NET" --weights "$T/n.safetensors" --mean abc "$T/img.pgm"
expect 2 "--mean/--std" "bad --std in train" -- "$CLCNN" train "$NET" --data "$T/d" --std 0 --out "$T/x.safetensors"
expect 0 "accuracy" "eval with the checkpoint's normalisation" -- "$CLCNN" eval "$NET" --weights "$T/n.safetensors" --data "$T/d"
# a checkpoint without the metadata (PyTorch's state_dict): Fashion-MNIST's statistics and one warning
LENET=$DATA/../../models/lenet5.net OLD=$DATA/train/torch-lenet5.safetensors
p_old=$("$CLCNN" predict "$LENET" --weights "$OLD" --top 10 "$T/img.pgm" "$T/img.pgm" 2>"$T/perr.all")
grep -v '^clcnn: compil' "$T/perr.all" >"$T/perr" # first-run compile progress on a cold cache is not a warning
[ "$(grep -c 'warning:.*torch-lenet5.safetensors has no normalisation metadata' "$T/perr")" -eq 1 ] && [ "$(wc -l < "$T/perr")" -eq 1 ] &&
  pass "one warning naming an old checkpoint" || fail "old checkpoint warnings: $(cat "$T/perr")"
p_old_fm=$("$CLCNN" predict "$LENET" --weights "$OLD" --top 10 --mean 0.2860 --std 0.3530 "$T/img.pgm" "$T/img.pgm" 2>"$T/perr")
[ -n "$p_old" ] && [ "$p_old" = "$p_old_fm" ] && [ ! -s "$T/perr" ] && pass "old checkpoint: Fashion-MNIST's statistics" || fail "old checkpoint: '$p_old' vs '$p_old_fm'"
p_old_other=$("$CLCNN" predict "$LENET" --weights "$OLD" --top 10 --mean 0.5 --std 0.25 "$T/img.pgm" "$T/img.pgm" 2>/dev/null)
[ -n "$p_old_other" ] && [ "$p_old" != "$p_old_other" ] && pass "the normalisation changes LeNet-5's prediction" || fail "LeNet-5 ignores --mean/--std: $p_old"
! echo "$p_old" | grep -q 'T-shirt' && pass "old checkpoint: no Fashion-MNIST names for an unrelated model" || fail "old checkpoint names: $p_old"
# class names: saved when training on Fashion-MNIST, printed by predict and eval
FM=/usr/share/datasets/fashion-mnist
if [ -e "$FM/t10k-images-idx3-ubyte.gz" ]; then
  expect 0 "epoch 1 test accuracy" "train on Fashion-MNIST" -- "$CLCNN" train "$NET" --data "$FM" --epochs 1 --batch 16 --limit 64 --out "$T/fm.safetensors"
  header "$T/fm.safetensors" | grep -qF '"clcnn.classes":"[\"T-shirt/top\",\"Trouser\",\"Pullover\",\"Dress\",\"Coat\",\"Sandal\",\"Shirt\",\"Sneaker\",\"Bag\",\"Ankle boot\"]"' &&
    pass "Fashion-MNIST's class names saved" || fail "class names: $(header "$T/fm.safetensors" | grep -o '"__metadata__":{[^}]*}')"
  expect 0 "^  [0-9] (T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot) +0\.[0-9]{4}$" "predict prints the checkpoint's class names" -- \
    "$CLCNN" predict "$NET" --weights "$T/fm.safetensors" "$T/img.pgm"
  expect 0 "^   9 Ankle boot" "eval prints the checkpoint's class names" -- "$CLCNN" eval "$NET" --weights "$T/fm.safetensors" --data "$FM" --limit 100
  expect 0 "resuming" "resume keeps the class names" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 2 --batch 16 --out "$T/fm.safetensors" --resume "$T/fm.safetensors"
  header "$T/fm.safetensors" | grep -qF '\"Ankle boot\"]' && pass "class names kept on resume" || fail "class names lost on resume"
else
  fail "$FM missing: install dataset-fashion-mnist (tools/deps.sh)"
fi

# ---- bad input: one clear line, exit 1, nothing overwritten
cp "$T/a.safetensors" "$T/keep.safetensors"
sum_before=$(md5sum < "$T/a.safetensors")
expect 2 "already exists" "refuses to replace a checkpoint" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16 --out "$T/a.safetensors"
expect 1 "does not exist" "missing dataset dir" -- "$CLCNN" train "$NET" --data "$T/none" --out "$T/b.safetensors"
mkdir -p "$T/bad1"; cp "$T/d"/* "$T/bad1/"; printf '\x12\x34\x08\x03\x00\x00\x00\x01' | gzip > "$T/bad1/train-images-idx3-ubyte.gz"
expect 1 "train-images-idx3-ubyte.gz.*magic" "wrong IDX magic" -- "$CLCNN" train "$NET" --data "$T/bad1" --out "$T/b.safetensors"
# a 4-D (RGB) IDX header is read now, so its missing dimensions are what is wrong
printf '\x00\x00\x08\x04\x00\x00\x00\x01' | gzip > "$T/bad1/train-images-idx3-ubyte.gz"
expect 1 "train-images-idx3-ubyte.gz: truncated IDX header" "truncated 4-D IDX header" -- "$CLCNN" train "$NET" --data "$T/bad1" --out "$T/b.safetensors"
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

# ---- small things a user hits at once (issue 12)
# a typo is answered with the nearest name, for commands and every subcommand's options
expect 2 "unknown command 'trian'; did you mean 'train'\?" "did you mean a command" -- "$CLCNN" trian
expect 2 "unknown option '--epoch'; did you mean '--epochs'\?" "did you mean --epochs" -- "$CLCNN" train "$NET" --epoch 3
expect 2 "unknown option '--batchsize'; did you mean '--batch'\?" "did you mean --batch" -- "$CLCNN" train "$NET" --batchsize 3
expect 2 "unknown option '--wieghts'; did you mean '--weights'\?" "did you mean --weights (eval)" -- "$CLCNN" eval "$NET" --wieghts x
"$CLCNN" frobnicate 2>&1 | grep -q "did you mean" && fail "a suggestion for a word nothing like a command" || pass "no suggestion when nothing is close"
# a file that is not safetensors given as weights is named for what it is
expect 1 "img.pgm: not a safetensors file \(it looks like a PGM/PPM image\)" "an image as --weights" -- \
  "$CLCNN" predict "$NET" --weights "$T/img.pgm" "$T/img.pgm"
expect 1 "tiny.net: not a safetensors file \(it looks like a clcnn netfile\)" "a netfile as --weights" -- \
  "$CLCNN" eval "$NET" --weights "$NET" --data "$T/d"
# a run too short for onecycle's warm-up phase trains (2 steps, as torch's OneCycleLR)
expect 0 "epoch 1 test accuracy" "2-step onecycle run" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 48 --out "$T/short.safetensors"
# resuming with more epochs re-plans the schedule, and says so
expect 0 "re-planning the onecycle schedule over 4 steps instead of the checkpoint's 2" "resume re-plans the schedule" -- \
  "$CLCNN" train "$NET" --data "$T/d" --epochs 2 --batch 48 --out "$T/short.safetensors" --resume "$T/short.safetensors"
# graph and every --help need no OpenCL device (an ICD list that names none), feature-vector models too
: > "$T/no-icd"
printf 'x = input(shape=(8))\ny = input()\nh = linear(x, out_features=16)\nr = relu\no = linear(out_features=3)\nloss = cross_entropy(o, y)\n' > "$T/mlp.net"
expect 0 "fc +linear +f +1x10" "graph without a device" -- env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" graph "$NET"
expect 0 "^  x +input +4x8" "graph of a feature-vector model without a device" -- env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" graph "$T/mlp.net" --batch 4
expect 0 "pool buffer 0" "graph --plan without a device" -- env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" graph "$NET" --plan
grep -q "no OpenCL device" "$T/err" && pass "graph --plan says what it leaves out" || fail "graph --plan: $(cat "$T/err")"
expect 0 '"o" -> "loss"' "graph --dot without a device" -- env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" graph "$T/mlp.net" --dot
for c in train eval predict run bench graph devices doctor; do
  expect 0 "usage: clcnn $c" "$c --help without a device" -- env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" "$c" --help
done
# no silent waits: the first run on an empty cache says it compiles, where it keeps the result, and
# when it is done; inference runs no autotuner (0 convolutions tuned); the second run is quiet
expect 0 "img.pgm:" "predict on an empty kernel cache" -- env CLCNN_CACHE_DIR="$T/kcache" "$CLCNN" predict "$NET" --weights "$T/a.safetensors" "$T/img.pgm"
grep -q "^clcnn: compiling kernels for .* (first run; cached in $T/kcache)$" "$T/err" && pass "first run says it compiles kernels" || fail "no compile notice: $(cat "$T/err")"
[ "$(ls "$T/kcache" | grep -c '^prog-')" -gt 0 ] && [ "$(ls "$T/kcache" | grep -c '^tune-')" -eq 0 ] &&
  pass "first predict compiles and tunes nothing" || fail "predict's cache: $(ls "$T/kcache" | tr '\n' ' ')"
[ "$(grep -c . "$T/err")" -le 12 ] && pass "progress is not a flood" || fail "$(grep -c . "$T/err") progress lines"
expect 0 "img.pgm:" "predict on a warm kernel cache" -- env CLCNN_CACHE_DIR="$T/kcache" "$CLCNN" predict "$NET" --weights "$T/a.safetensors" "$T/img.pgm"
[ ! -s "$T/err" ] && pass "a warm run is quiet" || fail "warm run says: $(cat "$T/err")"

echo "$fails failed"
[ "$fails" -eq 0 ]
