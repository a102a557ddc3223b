#!/usr/bin/env bash
# clcnn export end to end: --help, usage errors (exit 2), a trained checkpoint exported with its
# metadata, the opset flag, the ONNX file loading back as a model (clcnn graph; clcnn run computes
# what the netfile computes), blur pooling imported back as its layers, a refused layer named, and no output left behind on failure.
# usage: test-onnx-export.sh CLCNN_BINARY DATA_DIR
set -u
CLCNN=$1
DATA=$2
. "$(dirname "$0")/../common/expect.sh"
. "$(dirname "$0")/../common/mkidx.sh"
mkidx "$T/d" train 64
mkidx "$T/d" t10k 16
NET=$DATA/cli/tiny.net

expect 0 "usage: clcnn export" "export --help" -- "$CLCNN" export --help
expect 2 "expected NETFILE and --out" "export without --out" -- "$CLCNN" export "$NET"
expect 2 "bad value '12' for --opset|--opset" "opset out of range" -- "$CLCNN" export "$NET" --out "$T/x.onnx" --opset 12
[ ! -e "$T/x.onnx" ] && pass "nothing written on a usage error" || fail "x.onnx written on a usage error"

expect 0 "epoch 1" "train 1 epoch" -- "$CLCNN" train "$NET" --data "$T/d" --epochs 1 --batch 16 --out "$T/a.safetensors"
expect 0 "wrote .*m.onnx \(opset 14\)" "export a checkpoint" -- "$CLCNN" export "$NET" --weights "$T/a.safetensors" --out "$T/m.onnx"
# metadata_props hold the checkpoint's normalisation and class names (strings in the protobuf)
grep -aq "clcnn.mean" "$T/m.onnx" && grep -aq "clcnn.std" "$T/m.onnx" && pass "metadata exported" || fail "metadata missing"
grep -aq "c1.weight" "$T/m.onnx" && pass "state-dict names as initializers" || fail "no c1.weight initializer"
! grep -aq "label" "$T/m.onnx" && pass "the label input is left out" || fail "label in the export"
expect 0 "wrote .*m17.onnx \(opset 17, training mode\)" "opset 17 --training" -- "$CLCNN" export "$NET" --weights "$T/a.safetensors" --out "$T/m17.onnx" --opset 17 --training

# the export loads back as a model and computes what the netfile computes: clcnn run on both
expect 0 "fc" "graph of the ONNX file" -- "$CLCNN" graph "$T/m.onnx"
hdr='{"image":{"dtype":"F32","shape":[2,1,28,28],"data_offsets":[0,6272]},"label":{"dtype":"F32","shape":[2],"data_offsets":[6272,6280]}}'
while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
n=${#hdr}
# pixels cycling through 0.5, -0.25, 1.5, 0 (little-endian floats), labels 0
{ printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x00\\x00\\x00\\x00\\x00\\x00"; printf '%s' "$hdr"
  for ((i = 0; i < 392; i++)); do printf '\x00\x00\x00\x3f\x00\x00\x80\xbe\x00\x00\xc0\x3f\x00\x00\x00\x00'; done
  head -c 8 /dev/zero; } > "$T/x.safetensors"
# the bytes of tensor NAME in safetensors FILE, as hex
tensor_hex() {
  local n; n=$(od -An -tu4 -N4 "$1"); n=$((n))
  local offs; offs=$(head -c $((8 + n)) "$1" | tail -c +9 | grep -o "\"$2\":{[^}]*}" | grep -o 'data_offsets":\[[0-9]*,[0-9]*' | cut -d[ -f2)
  local a=${offs%,*} b=${offs#*,}
  tail -c +$((8 + n + a + 1)) "$1" | head -c $((b - a)) | od -An -tx1
}
expect 0 "wrote" "run the netfile" -- "$CLCNN" run "$NET" --weights "$T/a.safetensors" --input "$T/x.safetensors" --output "$T/y1.safetensors"
# (the ONNX file brings its own parameters: no --weights)
expect 0 "wrote" "run the ONNX file" -- "$CLCNN" run "$T/m.onnx" --input "$T/x.safetensors" --output "$T/y2.safetensors"
h1=$(tensor_hex "$T/y1.safetensors" fc); h2=$(tensor_hex "$T/y2.safetensors" fc)
[ -n "$h1" ] && [ "$h1" = "$h2" ] && pass "the ONNX model's output equals the netfile's, bit for bit" || fail "outputs differ: ${h1:0:60} vs ${h2:0:60}"

# export -> import -> export is a fixed point: the same bytes, parameters included (no checkpoint,
# so no metadata, which an import does not carry)
expect 0 "wrote" "export seeded parameters" -- "$CLCNN" export "$NET" --seed 3 --out "$T/s.onnx"
expect 0 "wrote" "re-export the imported model" -- "$CLCNN" export "$T/s.onnx" --out "$T/s2.onnx"
cmp -s "$T/s.onnx" "$T/s2.onnx" && pass "re-export is byte-identical" || fail "re-export differs"
expect 0 "wrote" "export seed 4" -- "$CLCNN" export "$NET" --seed 4 --out "$T/s4.onnx"
! cmp -s "$T/s.onnx" "$T/s4.onnx" && pass "the parameters are in the file" || fail "seeds 3 and 4 export the same bytes"

# the exporter's decompositions come back as their layers: antialiased.net's maxblurpool2d /
# blurpool2d (MaxPool, reflect Pad, blur Conv) import as such, and the re-export is the same bytes
AA=$(dirname "$0")/../../models/antialiased.net
expect 0 "wrote" "export antialiased.net" -- "$CLCNN" export "$AA" --seed 3 --out "$T/aa.onnx"
expect 0 "wrote" "import antialiased.onnx" -- "$CLCNN" import "$T/aa.onnx" --out "$T/aa.net"
grep -q "^p1 = maxblurpool2d(r1, kernel_size=2, filt_size=3, stride=2, pad_type=reflect)" "$T/aa.net" &&
  grep -q "^p3 = blurpool2d(r3, filt_size=3, stride=2, pad_type=reflect)" "$T/aa.net" &&
  pass "blur pooling imported as maxblurpool2d / blurpool2d" || fail "blur pooling not recognised: $(grep -E '^p[13] ' "$T/aa.net")"
expect 0 "wrote" "re-export antialiased.onnx" -- "$CLCNN" export "$T/aa.onnx" --out "$T/aa2.onnx"
cmp -s "$T/aa.onnx" "$T/aa2.onnx" && pass "antialiased re-export is byte-identical" || fail "antialiased re-export differs"

# a loss as the output is refused, naming the node and the layer; nothing written
printf 'x = input(shape=(3))\ny = input(shape=(3))\nfc = linear(x, out_features=3)\nloss = mse_loss(fc, y)\n@output loss\n' > "$T/loss.net"
expect 1 "cannot export node 'loss' \(mse_loss\)" "loss output refused" -- "$CLCNN" export "$T/loss.net" --out "$T/l.onnx"
[ ! -e "$T/l.onnx" ] && pass "nothing written on a refusal" || fail "l.onnx written on a refusal"
expect 1 "no-such.safetensors" "missing weights named" -- "$CLCNN" export "$NET" --weights "$T/no-such.safetensors" --out "$T/l.onnx"

[ "$fails" -eq 0 ] && echo "all passed" || { echo "$fails failed"; exit 1; }
