#!/usr/bin/env bash
# Class labels outside a model's classes, on the command line: an error naming the labels and the
# model (exit 1), never a NaN loss. `clcnn train` checks the dataset's labels against the output
# before training; labels that pass that check but not the loss's own class count (an auxiliary
# head as the output) and labels from a safetensors file (`clcnn run`) are refused by the library
# (clcnn_graph_set_input), naming the sample, the label and the loss node.
# usage: test-labels.sh CLCNN_BINARY
set -u
CLCNN=$1
. "$(dirname "$0")/../common/expect.sh"
. "$(dirname "$0")/../common/mkidx.sh"

# labels 0..9 (mkidx: label i % 10 for image i)
mkidx "$T/d" train 40
mkidx "$T/d" t10k 20

cat > "$T/five.net" <<'NET'
image = input(shape=(1,28,28))
label = input()
f = flatten(image)
fc = linear(out_features=5)
loss = cross_entropy(fc, label)
NET
expect 1 "/d \(train split\): 10 classes \(labels 0\.\.9\), but the model's output 'fc' has 5" \
  "train: the dataset's labels exceed the model's classes" -- \
  "$CLCNN" train "$T/five.net" --data "$T/d" --epochs 1 --batch 8 --out "$T/five.safetensors"
[ ! -e "$T/five.safetensors" ] && pass "no checkpoint written" || fail "a checkpoint was written"

# the output has 10 classes (so the dataset passes), the loss only 5: the library refuses the batch
cat > "$T/aux.net" <<'NET'
image = input(shape=(1,28,28))
label = input()
f = flatten(image)
fc = linear(out_features=10)
aux = linear(f, out_features=5)
loss = cross_entropy(aux, label)
@output fc
NET
expect 1 "epoch 1 batch [1-5]/5: input 'label': sample [0-7] has class [5-9], but node 'loss' \(cross_entropy\) has 5 classes \(0\.\.4, or ignore_index -100\); stopped" \
  "train: a label beyond the loss's classes names the sample, the label and the node" -- \
  "$CLCNN" train "$T/aux.net" --data "$T/d" --epochs 1 --batch 8 --out "$T/aux.safetensors"
grep -qi "nan" "$T/out" "$T/err" && fail "a NaN was reported: $(cat "$T/out" "$T/err")" || pass "no NaN reported"
[ ! -e "$T/aux.safetensors" ] && pass "no checkpoint written" || fail "a checkpoint was written"
# labels 0 and 5 only (mkidx step 5): 6 classes pass the output's 10, label 5 is refused by the loss
mkidx "$T/d5" train 40 5
mkidx "$T/d5" t10k 20 5
expect 1 "input 'label': sample [0-7] has class 5, but node 'loss'" "train: labels 0 and 5, 5 classes" -- \
  "$CLCNN" train "$T/aux.net" --data "$T/d5" --epochs 1 --batch 8 --out "$T/aux.safetensors"

# clcnn run: labels [12, 0] for a 10-class model, from a hand-made safetensors file
hdr='{"image":{"dtype":"F32","shape":[2,1,28,28],"data_offsets":[0,6272]},"label":{"dtype":"F32","shape":[2],"data_offsets":[6272,6280]}}'
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
n=${#hdr}
mkst() { # label0 bytes as \x escapes (little-endian float32), then label 1 = 0
  { printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x00\\x00\\x00\\x00\\x00\\x00"
    printf '%s' "$hdr"; head -c 6272 /dev/zero; printf "$1"; head -c 4 /dev/zero; } > "$2"
}
mkst '\x00\x00\x40\x41' "$T/x12.safetensors" # 12.0f
mkst '\x00\x00\x20\x40' "$T/x2p5.safetensors" # 2.5f
mkst '\x00\x00\x10\x41' "$T/x9.safetensors" # 9.0f
NET10=$T/ten.net
sed 's/out_features=5/out_features=10/' "$T/five.net" > "$NET10"
expect 1 "^clcnn run: input 'label': sample 0 has class 12, but node 'loss' \(cross_entropy\) has 10 classes \(0\.\.9, or ignore_index -100\)$" \
  "run: label 12 of 10 classes" -- "$CLCNN" run "$NET10" --input "$T/x12.safetensors" --output "$T/y.safetensors"
[ ! -e "$T/y.safetensors" ] && pass "run writes nothing" || fail "run wrote $T/y.safetensors"
expect 1 "input 'label': sample 0 has label 2\.5, which is not a class index: node 'loss' \(cross_entropy\) takes integers 0\.\.9" \
  "run: a label that is not an integer" -- "$CLCNN" run "$NET10" --input "$T/x2p5.safetensors" --output "$T/y.safetensors"
expect 0 "wrote" "run: label 9 of 10 classes is fine" -- "$CLCNN" run "$NET10" --input "$T/x9.safetensors" --output "$T/y.safetensors"

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
