#!/usr/bin/env bash
# ONNX models on the command line: clcnn import writes a netfile and weights, and eval, predict, run,
# bench and train take the .onnx file directly with its own weights (no --weights), giving what the
# imported netfile + weights give. The fixture is tests/data/onnx/lenet5.onnx (models/lenet5.net
# exported from PyTorch 1.13).
# usage: test-onnx.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
. "$(dirname "$0")/../common/expect.sh"
. "$(dirname "$0")/../common/mkidx.sh"
mkidx "$T/d" train 64
mkidx "$T/d" t10k 32
ONNX=$DATA/onnx/lenet5.onnx

expect 0 "usage: clcnn import" "import --help" -- "$CLCNN" import --help
expect 2 "expected MODEL.onnx" "import without a model" -- "$CLCNN" import
expect 0 "wrote $T/l.net and $T/l.safetensors" "import to files" -- "$CLCNN" import "$ONNX" --out "$T/l.net" --weights "$T/l.safetensors"
grep -qxF 'n_0 = conv2d(input, out_channels=6, kernel_size=5, padding=2)  # ONNX Conv /0/Conv' "$T/l.net" &&
  pass "the netfile names the layers and their ONNX source" || fail "netfile: $(head -3 "$T/l.net")"
grep -qxF '@output n_11' "$T/l.net" && pass "the netfile's output is the ONNX output" || fail "no @output n_11"
expect 0 "n_6_Flatten = flatten\(n_5_MaxPool\)" "import prints the netfile without --out" -- "$CLCNN" import "$ONNX"
expect 1 "linear3d.onnx: node '/fc/MatMul' \(MatMul\): input 'input' has shape Nx4x6: clcnn maps this operator for 2-D tensors only" \
  "a model clcnn cannot import: one message" -- "$CLCNN" import "$DATA/onnx/linear3d.onnx" --out "$T/x.net"
[ ! -e "$T/x.net" ] && pass "a failed import writes no netfile" || fail "x.net written"

# run: the .onnx file alone gives bitwise what the imported netfile + weights give (2 zero images)
hdr='{"input":{"dtype":"F32","shape":[2,1,28,28],"data_offsets":[0,6272]}}'
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
n=${#hdr}
{ printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hdr"; head -c 6272 /dev/zero; } > "$T/x.safetensors"
expect 0 "wrote" "run the .onnx model" -- "$CLCNN" run "$ONNX" --input "$T/x.safetensors" --output "$T/y1.safetensors"
expect 0 "wrote" "run the imported netfile + weights" -- "$CLCNN" run "$T/l.net" --weights "$T/l.safetensors" --input "$T/x.safetensors" --output "$T/y2.safetensors"
expect 0 "wrote" "run the imported netfile, seeded weights" -- "$CLCNN" run "$T/l.net" --input "$T/x.safetensors" --output "$T/y3.safetensors"
cmp -s "$T/y1.safetensors" "$T/y2.safetensors" && pass "run uses the ONNX weights" || fail "the .onnx and the imported files differ"
cmp -s "$T/y1.safetensors" "$T/y3.safetensors" && fail "the .onnx run looks seeded, not imported" || pass "seeded weights differ"

# eval, predict, bench and train take the .onnx file without --weights
expect 0 "accuracy 0\.[0-9]{4} \(32 images\)" "eval MODEL.onnx" -- "$CLCNN" eval "$ONNX" --data "$T/d"
expect 2 "expected NETFILE and --weights CKPT" "eval of a netfile still needs --weights" -- "$CLCNN" eval "$T/l.net" --data "$T/d"
printf 'P2\n28 28\n255\n' > "$T/img.pgm"; for ((i = 0; i < 784; i++)); do echo $((i % 256)); done >> "$T/img.pgm"
expect 0 "img.pgm:" "predict with MODEL.onnx" -- "$CLCNN" predict "$ONNX" "$T/img.pgm"
expect 0 "training step" "bench MODEL.onnx" -- "$CLCNN" bench "$ONNX" --batch 8 --iters 2 --warmup 1
expect 0 "epoch 1 test accuracy" "fine-tune MODEL.onnx" -- "$CLCNN" train "$ONNX" --data "$T/d" --epochs 1 --batch 16 --lr 0.01 --out "$T/ft.safetensors"
[ -s "$T/ft.safetensors" ] && pass "fine-tuning wrote a checkpoint" || fail "no checkpoint"

[ "$fails" -eq 0 ] && echo "all passed" || { echo "$fails failed"; exit 1; }
