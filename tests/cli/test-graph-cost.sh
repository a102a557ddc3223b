#!/usr/bin/env bash
# clcnn graph tells what each node costs and sees (docs/cost.md): LeNet-5's table checked against
# numbers worked out by hand, the totals, --batch, DOT labels, a model without an image input, and the
# two netfiles of docs/cost.md. Needs no OpenCL device (an ICD list that names none).
# usage: test-graph-cost.sh CLCNN_BINARY SOURCE_ROOT
set -u
CLCNN=$1
ROOT=$2
. "$(dirname "$0")/../common/expect.sh"
mkdir -p "$T/no-icd"
G() { env OCL_ICD_VENDORS="$T/no-icd" "$CLCNN" graph "$@"; }
NET=$ROOT/models/lenet5.net

# c1: 6x28x28 outputs x 25 taps x 2 = 235200 FLOPs, 6x25 + 6 parameters, a 5x5 field
expect 0 "^  c1 +conv2d +image +1x6x28x28 +156 +235200 +5x5/1 " "lenet5 c1" -- G "$NET"
# 2x2 max pooling: one comparison per tap of 6x14x14 outputs; field 5 + 1 = 6, jump 2
expect 0 "^  p1 +maxpool2d +r1 +1x6x14x14 +0 +4704 +6x6/2 " "lenet5 p1" -- G "$NET"
# 5x5 conv on jump 2: 6 + 4 x 2 = 14; 16x10x10 outputs x 6 channels x 25 taps x 2 = 480000
expect 0 "^  c3 +conv2d +p1 +1x16x10x10 +2416 +480000 +14x14/2 " "lenet5 c3" -- G "$NET"
expect 0 "^  p3 +maxpool2d +r3 +1x16x5x5 +0 +1600 +16x16/4 " "lenet5 p3" -- G "$NET"
# flatten copies (0 FLOPs) and keeps the field; linear after it sees the whole image
expect 0 "^  flat +flatten +p3 +1x400 +0 +0 +16x16/4" "lenet5 flatten" -- G "$NET"
expect 0 "^  fc5 +linear +flat +1x120 +48120 +96000 +whole " "lenet5 fc5" -- G "$NET"
# cross_entropy over 10 classes: log-softmax 5 x 10 + 1, the weighted term and weight 2, mean 1 + 1
expect 0 "^  loss +cross_entropy +fc7,label +scalar +0 +55 +whole" "lenet5 loss" -- G "$NET"
expect 0 "^  image +input +1x1x28x28 +1x1/1$" "input field" -- G "$NET"
# totals: the parameters of the netfile's comment; FLOPs the sum of the column
expect 0 "^  total +61706 +845907$" "lenet5 totals" -- G "$NET"
sum=$(awk '/^  node / { on = 1; next } on && /^  / && $1 != "total" && $2 != "input" { s += $6 } END { print s }' "$T/out")
[ "$sum" = 845907 ] && pass "total FLOPs = the column's sum" || fail "column sums to $sum"
expect 0 "^forward: 845\.9 kFLOPs at batch 1 .*61706 parameters \(61706 trainable\)" "totals line" -- G "$NET"
# batch 4: every node x 4 except the mean of the loss (4 x 53 + 4 + 1)
expect 0 "^  total +61706 +3383625$" "lenet5 totals at batch 4" -- G "$NET" --batch 4
expect 0 'label="c1\\nconv2d 1x6x28x28\\n156 params\\n235\.2 kFLOPs\\nfield 5x5/1"' "DOT label" -- G "$NET" --dot
# a feature-vector model has no field; its linear costs 2 x 4 x 8 x 3
printf 'x = input(shape=(8))\ny = input(shape=(3))\nfc = linear(x, out_features=3)\nloss = mse_loss(fc, y)\n' > "$T/mlp.net"
expect 0 "^  fc +linear +x +4x3 +27 +192 +-" "feature model: no field" -- G "$T/mlp.net" --batch 4
# docs/cost.md: two 3x3 convolutions see the 5x5 of one 5x5 with fewer parameters and FLOPs
# (32x32x32 outputs x 32 channels x 9 taps x 2 per convolution, the ReLU 1 per element)
expect 0 "^  b +conv2d +r +1x32x32x32 +9248 +18874368 +5x5/1 " "two 3x3 (docs)" -- G "$ROOT/docs/examples/two-3x3.net"
expect 0 "^  total +18496 +37781504$" "two 3x3 totals (docs)" -- G "$ROOT/docs/examples/two-3x3.net"
expect 0 "^  a +conv2d +x +1x32x32x32 +25632 +52428800 +5x5/1 " "one 5x5 (docs)" -- G "$ROOT/docs/examples/one-5x5.net"
expect 0 "usage: clcnn graph.*" "help" -- G --help
grep -q "field/jump" "$T/out" && pass "help explains the columns" || fail "help lacks the columns"

[ "$fails" -eq 0 ] || { echo "$fails failed"; exit 1; }
