#!/bin/sh
# Convolution benchmark, clcnn against PyTorch on the same shapes, run back to back:
#   tools/bench-conv.sh [BUILD_DIR]          (default: build)
# For each netfile of models/bench/conv*.net: `clcnn bench --input-grads` (forward, and backward with
# the input and weight gradients, as PyTorch computes for an input with requires_grad); then
# ../shared/bench/torch_conv.py on the same shapes. ROUNDS (default 2) alternates the two that many
# times and keeps each one's best per shape (the machine is shared: take the least disturbed run).
# Prints a markdown table: time, GFLOP/s, % of the FP32 peak (PEAK, default 530 GFLOP/s: 2-thread
# AVX-512 FMA loop measured on this machine) and PyTorch / clcnn time ratio (> 1: clcnn is faster).
# Environment: ITERS (clcnn bench iterations, default 10), TORCH_REPS (default 10), TORCH (script),
# PYTHON (default /usr/bin/python3), and the usual CLCNN_* / POCL_CACHE_DIR.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
clcnn="$build/tools/clcnn"
torch=${TORCH:-$root/../shared/bench/torch_conv.py}
python=${PYTHON:-/usr/bin/python3}
rounds=${ROUNDS:-2}
peak=${PEAK:-530}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# netfile, batch, label as torch_conv.py prints it (the join key)
cat > "$tmp/shapes" <<EOF
conv3x3-1x28x28-k32 64 64x1x28x28_->_32_3x3
conv3x3-32x28x28-k64 64 64x32x28x28_->_64_3x3
conv3x3-64x14x14-k128 64 64x64x14x14_->_128_3x3
conv3x3-64x56x56-k64 32 32x64x56x56_->_64_3x3
conv3x3-128x28x28-k128 32 32x128x28x28_->_128_3x3
conv3x3-256x14x14-k256 32 32x256x14x14_->_256_3x3
conv1x1-256x14x14-k1024 32 32x256x14x14_->_1024_1x1
EOF

r=0
while [ "$r" -lt "$rounds" ]; do
	while read -r net batch label; do
		# node line: name op algo fwd_ms fwd_gflops bwd_ms bwd_gflops
		"$clcnn" bench "$root/models/bench/$net.net" --batch "$batch" --input-grads --iters "${ITERS:-10}" |
			awk -v l="$label" '$1 == "conv" { print l, $3, $4, $6 }' >> "$tmp/clcnn"
	done < "$tmp/shapes"
	"$python" "$torch" --reps "${TORCH_REPS:-10}" |
		awk '{ split($0, a, "fwd "); n = a[1]; gsub(/ +$/, "", n); gsub(/ /, "_", n);
		       split(a[2], f, " "); split($0, b, "fwd\\+bwd "); split(b[2], fb, " "); print n, f[1], fb[1] }' >> "$tmp/torch"
	r=$((r + 1))
done

echo "device: $("$clcnn" devices 2>/dev/null | awk 'NR == 2' || true)"
echo
echo "| shape (N x C x H x W -> K) | algo | clcnn fwd ms | fwd GFLOP/s | % peak | clcnn fwd+bwd ms | fwd+bwd GFLOP/s | % peak | PyTorch fwd ms | PyTorch fwd+bwd ms | PyTorch GFLOP/s (fwd+bwd) | PyTorch / clcnn (fwd+bwd) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
while read -r net batch label; do
	awk -v l="$label" -v peak="$peak" -v net="$net" -v batch="$batch" '
		FNR == 1 { file++ }
		file == 1 && $1 == l { if (!cf || $3 < cf) cf = $3; if (!cb || $3 + $4 < cb) { cb = $3 + $4; algo = $2 } }
		file == 2 && $1 == l { if (!tf || $2 < tf) tf = $2; if (!tb || $3 < tb) tb = $3 }
		END {
			# FLOPs from the label: NxCxHxW -> K RxR (stride 1, same size out for 3x3 pad 1 and 1x1)
			split(l, p, "_"); split(p[1], d, "x"); k = p[3]; r = substr(p[4], 1, 1)
			fl = 2 * d[1] * k * d[3] * d[4] * d[2] * r * r
			shape = l; gsub(/_/, " ", shape)
			printf "| %s | %s | %.2f | %.0f | %.0f %% | %.2f | %.0f | %.0f %% | %.2f | %.2f | %.0f | %.2fx |\n",
				shape, algo, cf, fl / cf * 1e-6, fl / cf * 1e-6 / peak * 100, cb, 3 * fl / cb * 1e-6,
				3 * fl / cb * 1e-6 / peak * 100, tf, tb, 3 * fl / tb * 1e-6, tb / cb
		}' "$tmp/clcnn" "$tmp/torch"
done < "$tmp/shapes"
