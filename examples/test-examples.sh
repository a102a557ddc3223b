#!/usr/bin/env bash
# examples/train.c on a Fashion-MNIST subset, then examples/infer.c on 20 test images of it with the
# checkpoint train.c wrote: infer's classes must be clcnn predict's top-1 for every image (same
# normalisation and names from the checkpoint), and most of them right (12 of 20; chance is 2).
# usage: test-examples.sh TRAIN INFER CLCNN LENET5_NETFILE [FASHION_MNIST_DIR]
set -u
TRAIN=$1 INFER=$2 CLCNN=$3 NET=$4 FM=${5:-/usr/share/datasets/fashion-mnist}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { echo "ok: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }

"$TRAIN" "$FM" "$T/lenet5.safetensors" 3200 2 >"$T/train.out" 2>"$T/train.err"
rc=$?
cat "$T/train.out" "$T/train.err"
[ $rc -eq 0 ] && grep -qE "^epoch 2: train loss [0-9.]+, test accuracy 0\.[0-9]{4} \(640 images\)$" "$T/train.out" &&
  pass "train: 2 epochs on 3200 images above the accuracy bar" || fail "train exit $rc"

# 20 test images as PGM files (IDX: 16-byte header, then 28x28 bytes each) and their labels
gzip -dc "$FM/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((20 * 784)) > "$T/raw"
labels=($(gzip -dc "$FM/t10k-labels-idx1-ubyte.gz" | tail -c +9 | head -c 20 | od -An -tu1 -v))
imgs=()
for ((i = 0; i < 20; i++)); do
  { printf 'P5\n28 28\n255\n'; tail -c +$((i * 784 + 1)) "$T/raw" | head -c 784; } > "$T/img$i.pgm"
  imgs+=("$T/img$i.pgm")
done

"$INFER" "$NET" "$T/lenet5.safetensors" "${imgs[@]}" >"$T/infer.out" 2>"$T/infer.err"
rc=$?
cat "$T/infer.out" "$T/infer.err"
[ $rc -eq 0 ] && [ "$(wc -l < "$T/infer.out")" -eq 20 ] && pass "infer classifies 20 images" || fail "infer exit $rc"
right=0 agree=0
for ((i = 0; i < 20; i++)); do
  line=$(grep "^$T/img$i.pgm: " "$T/infer.out")
  cls=$(echo "$line" | cut -d' ' -f2)
  [ "$cls" = "${labels[$i]}" ] && right=$((right + 1))
  top=$("$CLCNN" predict "$NET" --weights "$T/lenet5.safetensors" --top 1 "$T/img$i.pgm" 2>/dev/null | sed -n 2p)
  # "  7 Sneaker      0.9876" from predict, "PATH: 7 Sneaker" from infer
  [ "$(echo "$top" | awk '{$NF=""; sub(/^ +/, ""); sub(/ +$/, ""); print}')" = "${line#*: }" ] && agree=$((agree + 1)) ||
    echo "    image $i: infer '${line#*: }', predict '$top'"
done
[ $agree -eq 20 ] && pass "infer agrees with clcnn predict on all 20 images" || fail "infer agrees with predict on $agree of 20"
[ $right -ge 12 ] && pass "infer right on $right of 20" || fail "infer right on only $right of 20"
grep -qE ": [0-9] (T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot)$" "$T/infer.out" &&
  pass "infer names classes from the checkpoint" || fail "infer prints no class names"
"$INFER" "$NET" "$T/nosuch.safetensors" "${imgs[0]}" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && grep -q "nosuch.safetensors" "$T/err" && pass "infer: a missing checkpoint is one error naming it" ||
  fail "infer missing checkpoint: $(cat "$T/err")"

echo "$fails failed"
[ "$fails" -eq 0 ]
