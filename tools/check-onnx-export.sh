#!/bin/sh
# Numerical check of `clcnn export` against ONNX Runtime, outside the test suite (it needs
# /usr/bin/python3 with numpy, onnx and onnxruntime: tools/deps.sh --onnx). For every shipped model
# (models/*.net) and a netfile using every exportable layer: random parameters (positive running
# variances), export, `clcnn run` on a random batch, ONNX Runtime (graph optimisations off) on the
# same batch, every node output present in both compared element-wise within 1e-4 (1 + |clcnn|);
# onnx.checker runs too, and tools/check-onnx-ort.py checks the graph output with its own tolerance.
# With --training: the --training export against `clcnn run --train-mode` (batch statistics),
# netfiles with dropout or gaussian_noise left out (their masks come from clcnn's RNG); ONNX Runtime
# runs without graph optimisations there too, since its default ones compute a training-mode
# BatchNormalization after another one differently (batch-stats.net's bn2: off by 5%), an ORT
# matter: a training export is for a training runtime.
# usage: tools/check-onnx-export.sh [--training] [--opset N] [BUILD_DIR] [NETFILE...]
#        (default: opset 14, build/, every model and the all-layers netfile)
set -u
training=
opset=
while [ $# -gt 0 ]; do
	case $1 in
	--training) training=1 ;;
	--opset) opset=$2; shift ;;
	*) break ;;
	esac
	shift
done
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}
[ $# -gt 0 ] && shift
clcnn=$build/tools/clcnn
py=/usr/bin/python3
helper=$here/check-onnx-export.py
if ! $py -c "import numpy, onnx, onnxruntime" 2>/dev/null; then
	echo "check-onnx-export: needs $py with numpy, onnx and onnxruntime (tools/deps.sh --onnx)" >&2
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every layer that has an ONNX form, with the traps: asymmetric and flipped conv, ceil-mode pooling
# windows past the padding, count_include_pad both ways, divisor_override, blur pads, softplus with
# a threshold that bites, softmax over other axes.
cat > "$tmp/all-layers.net" <<'NET'
x = input(shape=(3,9,9))
label = input()
c1 = conv2d(x, out_channels=4, kernel_size=3, padding=(0,1,2,0), flip=true)
bn = batchnorm2d(c1)
r = relu(bn)
mp = maxpool2d(r, kernel_size=2, stride=2, ceil_mode=true)
mq = maxpool2d(r, kernel_size=2, stride=2, padding=1, ceil_mode=true)
ap = avgpool2d(r, kernel_size=3, stride=2, padding=1, ceil_mode=true)
apx = avgpool2d(r, kernel_size=2, ceil_mode=true, count_include_pad=false)
apd = avgpool2d(r, kernel_size=2, divisor_override=3)
bp = blurpool2d(r)
mbp = maxblurpool2d(r, pad_type=replicate)
bz = blurpool2d(r, filt_size=4, pad_type=zero)
dil = conv2d(r, out_channels=4, kernel_size=2, dilation=2, groups=2, stride=(1,2), bias=false)
mpd = maxpool2d(r, kernel_size=3, stride=2, padding=1, dilation=2)
a1 = leaky_relu(mp, negative_slope=0.2)
a2 = elu(a1, alpha=0.7)
a3 = prelu(a2, num_parameters=4)
a4 = gelu(a3)
a5 = gelu(a4, approximate=tanh)
a6 = silu(a5)
a7 = hardtanh(a6, min_val=-0.3, max_val=0.8)
a8 = softplus(a7)
a9 = softplus(a8, beta=2, threshold=1)
a10 = logsigmoid(a9)
a11 = tanh(a10)
a12 = sigmoid(a11)
a13 = softmin(a12)
a14 = logsoftmax(a13, dim=-1)
a15 = softmax(a14, dim=2)
a16 = dropout(a15)
a17 = gaussian_noise(a16)
a18 = add(a17, mp, a1)
g1 = global_avgpool2d(a18)
g2 = global_maxpool2d(ap)
g3 = global_avgpool2d(apx)
g4 = global_avgpool2d(apd)
g5 = global_maxpool2d(bp)
g6 = global_avgpool2d(mbp)
g7 = global_avgpool2d(bz)
g8 = global_maxpool2d(dil)
g9 = global_avgpool2d(mpd)
g10 = global_maxpool2d(mq)
cat1 = concat(g1, g2, g3, g4, g5)
cat = concat(cat1, g6, g7, g8, g9, g10)
fl = flatten(cat)
fc = linear(fl, out_features=8)
b1 = batchnorm1d(fc)
out = identity(b1)
loss = cross_entropy(out, label)
NET
# batch statistics in eval (track_running_stats=false), batchnorm1d on 3-D and 2-D input, a Reshape
cat > "$tmp/batch-stats.net" <<'NET'
x = input(shape=(3,6,5))
label = input()
bn = batchnorm2d(x, track_running_stats=false)
bn2 = batchnorm2d(bn, affine=false, momentum=0.3)
c = conv2d(bn2, out_channels=4, kernel_size=3)
ap = avgpool2d(c, kernel_size=2, ceil_mode=true, padding=1)
fl = flatten(ap, start_dim=2)
b1 = batchnorm1d(fl)
f2 = flatten(b1)
b2 = batchnorm1d(f2, track_running_stats=false)
fc = linear(b2, out_features=5, bias=false)
sm = softmax(fc)
loss = nll_loss(sm, label)
NET

if [ $# -eq 0 ]; then
	set -- "$root"/models/*.net "$tmp/all-layers.net" "$tmp/batch-stats.net"
fi
fail=0
for net in "$@"; do
	name=$(basename "$net" .net)
	if [ -n "$training" ] && grep -Eq '^[^#]*(dropout|gaussian_noise)' "$net"; then
		echo "SKIP $name: random layers (dropout or gaussian_noise) in training mode"
		continue
	fi
	d=$tmp/$name
	mkdir -p "$d"
	step=export
	if "$clcnn" export "$net" --out "$d/init.onnx" >"$d/log" 2>&1 &&
		step=weights && $py "$helper" weights "$d/init.onnx" "$d/w.safetensors" >>"$d/log" 2>&1 &&
		step=export && "$clcnn" export "$net" --weights "$d/w.safetensors" ${training:+--training} ${opset:+--opset $opset} --out "$d/model.onnx" >>"$d/log" 2>&1 &&
		step=inputs && $py "$helper" inputs "$net" 3 "$d/x.safetensors" >>"$d/log" 2>&1 &&
		step=run && "$clcnn" run "$net" --weights "$d/w.safetensors" --input "$d/x.safetensors" \
			${training:+--train-mode} --output "$d/y.safetensors" >>"$d/log" 2>&1 &&
		step=compare && res=$($py "$helper" compare "$d/model.onnx" "$d/x.safetensors" "$d/y.safetensors" 2>&1) &&
		step=check-onnx-ort && $py "$here/check-onnx-ort.py" "$d/model.onnx" "$d/x.safetensors" \
			--outputs-from "$d/y.safetensors" ${training:+--no-optimize} >>"$d/log" 2>&1; then
		echo "PASS $name: $res"
	elif [ "$step" = export ] && grep -q "cannot export node" "$d/log"; then
		# a refusal by design (e.g. batch statistics at opset 13): reported, not a failure
		echo "REFUSED $name: $(grep -o "cannot export node.*" "$d/log")"
	else
		echo "FAIL $name ($step): ${res:-}"
		sed 's/^/    /' "$d/log" | tail -n 20
		fail=1
	fi
	res=
done
exit $fail
