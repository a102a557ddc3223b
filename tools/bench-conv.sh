#!/bin/sh
# Convolution benchmark, clcnn against PyTorch on the same shapes, run back to back:
#   [SET=main|wide|all] tools/bench-conv.sh [BUILD_DIR]          (default: build)
# SET main (default): the seven shapes of BENCHMARKS.md's table (old numbers stay comparable); wide:
# 5x5 and 7x7 kernels, stride 2, odd sizes (13, 17, 27, 35), channel counts that are not multiples
# of 16, batch 8 to 128, each a layer of a known network (its models/bench netfile says which); all:
# both. For each shape: `clcnn bench --input-grads` on its models/bench netfile (forward, and backward
# with the input and weight gradients, as PyTorch computes for an input with requires_grad); then
# tools/torch_conv.py on the same shapes. ROUNDS (default 2) alternates the two that many times and
# keeps each one's best per shape (the machine is shared: take the least disturbed run). A shape
# that either side did not time is an error (exit 1), never a blank row.
# Prints the command, the load average before and after, and a markdown table: time, GFLOP/s, % of
# the FP32 peak (PEAK, default 530 GFLOP/s: 2-thread AVX-512 FMA loop measured on this machine) and
# PyTorch / clcnn time ratio (> 1: clcnn is faster).
# Environment: SET, ROUNDS, ITERS (clcnn bench iterations, default 10), TORCH_REPS (default 10), TORCH
# (script; with SET=main it is called without --set, so ../shared/bench/torch_conv.py still works),
# PYTHON (default /usr/bin/python3), PEAK, and the usual CLCNN_* / POCL_CACHE_DIR.
set -eu
case "${1:-}" in -h | --help)
	sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
clcnn="$build/tools/clcnn"
torch=${TORCH:-$root/tools/torch_conv.py}
python=${PYTHON:-/usr/bin/python3}
set=${SET:-main}
rounds=${ROUNDS:-2}
peak=${PEAK:-530}
case "$set" in main | wide | all) ;; *)
	echo "bench-conv.sh: SET=$set: expected main, wide or all" >&2
	exit 2
	;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "command: SET=$set ROUNDS=$rounds ITERS=${ITERS:-10} TORCH_REPS=${TORCH_REPS:-10} $0 $*"
echo "load average at start: $(cat /proc/loadavg)"

# set, netfile, batch N, then C H W K R stride pad as in tools/torch_conv.py
awk -v set="$set" '$1 == set || set == "all" {
	# the label tools/torch_conv.py prints (spaces as _): the join key
	l = sprintf("%dx%dx%dx%d_->_%d_%dx%d", $3, $4, $5, $6, $7, $8, $8)
	if ($9 > 1) l = l "/" $9
	if ($10 != int($8 / 2)) l = l "_p" $10
	print $2, $3, l, $4, $5, $6, $7, $8, $9, $10 }' > "$tmp/shapes" <<EOF
main conv3x3-1x28x28-k32 64 1 28 28 32 3 1 1
main conv3x3-32x28x28-k64 64 32 28 28 64 3 1 1
main conv3x3-64x14x14-k128 64 64 14 14 128 3 1 1
main conv3x3-64x56x56-k64 32 64 56 56 64 3 1 1
main conv3x3-128x28x28-k128 32 128 28 28 128 3 1 1
main conv3x3-256x14x14-k256 32 256 14 14 256 3 1 1
main conv1x1-256x14x14-k1024 32 256 14 14 1024 1 1 0
wide conv7x7s2-3x224x224-k64 8 3 224 224 64 7 2 3
wide conv5x5-1x28x28-k6 128 1 28 28 6 5 1 2
wide conv5x5-6x14x14-k16-p0 128 6 14 14 16 5 1 0
wide conv5x5-64x27x27-k192 16 64 27 27 192 5 1 2
wide conv3x3-192x13x13-k384 16 192 13 13 384 3 1 1
wide conv5x5-48x35x35-k64 32 48 35 35 64 5 1 2
wide conv3x3s2-192x17x17-k320-p0 32 192 17 17 320 3 2 0
wide conv3x3s2-64x56x56-k128 32 64 56 56 128 3 2 1
wide conv1x1s2-64x56x56-k128 32 64 56 56 128 1 2 0
wide conv3x3-3x32x32-k24 64 3 32 32 24 3 1 1
wide conv3x3-48x32x32-k12 64 48 32 32 12 3 1 1
wide conv1x1-24x56x56-k144 32 24 56 56 144 1 1 0
EOF

torch_set=
[ "$set" = main ] || torch_set="--set $set"
: > "$tmp/clcnn"
: > "$tmp/torch"
r=0
while [ "$r" -lt "$rounds" ]; do
	while read -r net batch label rest; do
		# node line: name op algo fwd_ms fwd_gflops bwd_ms bwd_gflops
		"$clcnn" bench "$root/models/bench/$net.net" --batch "$batch" --input-grads --iters "${ITERS:-10}" |
			awk -v l="$label" '$1 == "conv" { print l, $3, $4, $6 }' >> "$tmp/clcnn"
	done < "$tmp/shapes"
	# shellcheck disable=SC2086 # torch_set is empty or two words
	"$python" "$torch" --reps "${TORCH_REPS:-10}" $torch_set |
		awk '{ split($0, a, "fwd "); n = a[1]; gsub(/ +$/, "", n); gsub(/ /, "_", n);
		       split(a[2], f, " "); split($0, b, "fwd\\+bwd "); split(b[2], fb, " "); print n, f[1], fb[1] }' >> "$tmp/torch"
	r=$((r + 1))
done

# every shape must have been timed by both, every round
missing=$(awk -v rounds="$rounds" 'FNR == 1 { file++ }
	file == 1 { c[$1]++ } file == 2 { t[$1]++ }
	file == 3 { if (c[$3] != rounds) printf "  %s (%s): %d of %d clcnn rows\n", $3, $1, c[$3], rounds
		    if (t[$3] != rounds) printf "  %s (%s): %d of %d PyTorch rows\n", $3, $1, t[$3], rounds }' \
	"$tmp/clcnn" "$tmp/torch" "$tmp/shapes")
if [ -n "$missing" ]; then
	printf 'bench-conv.sh: shapes without their timings (a failed clcnn bench, or %s printing other labels):\n%s\n' \
		"$torch" "$missing" >&2
	exit 1
fi

echo "device: $("$clcnn" devices 2>/dev/null | awk 'NR == 2' || true)"
echo
echo "| shape (N x C x H x W -> K) | algo | clcnn fwd ms | fwd GFLOP/s | % peak | clcnn fwd+bwd ms | fwd+bwd GFLOP/s | % peak | PyTorch fwd ms | PyTorch fwd+bwd ms | PyTorch GFLOP/s (fwd+bwd) | PyTorch / clcnn (fwd+bwd) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
while read -r net batch label c h w k rk s p; do
	awk -v l="$label" -v peak="$peak" -v n="$batch" -v c="$c" -v h="$h" -v w="$w" -v k="$k" -v r="$rk" -v s="$s" -v p="$p" '
		FNR == 1 { file++ }
		file == 1 && $1 == l { if (!nc++ || $3 < cf) cf = $3; if (nb++ == 0 || $3 + $4 < cb) { cb = $3 + $4; algo = $2 } }
		file == 2 && $1 == l { if (!nt++ || $2 < tf) tf = $2; if (ntb++ == 0 || $3 < tb) tb = $3 }
		END {
			ho = int((h + 2 * p - r) / s) + 1; wo = int((w + 2 * p - r) / s) + 1
			fl = 2 * n * k * ho * wo * c * r * r
			shape = l; gsub(/_/, " ", shape)
			# times print with 3 decimals: below 0.5 us, count 0.001 ms rather than divide by 0
			cf = cf > 0 ? cf : 0.001; cb = cb > 0 ? cb : 0.001; tf = tf > 0 ? tf : 0.001; tb = tb > 0 ? tb : 0.001
			printf "| %s | %s | %.2f | %.0f | %.0f %% | %.2f | %.0f | %.0f %% | %.2f | %.2f | %.0f | %.2fx |\n",
				shape, algo, cf, fl / cf * 1e-6, fl / cf * 1e-6 / peak * 100, cb, 3 * fl / cb * 1e-6,
				3 * fl / cb * 1e-6 / peak * 100, tf, tb, 3 * fl / tb * 1e-6, tb / cb
		}' "$tmp/clcnn" "$tmp/torch"
done < "$tmp/shapes"
echo
echo "load average at end: $(cat /proc/loadavg)"
