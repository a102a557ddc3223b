#!/bin/sh
# Inference latency and throughput, clcnn against PyTorch and ONNX Runtime, run back to back:
#   [MODELS="fmnist resnet"] [BATCHES="1 64"] tools/bench-infer.sh [BUILD_DIR]        (default: build)
# For each model (models/MODEL.net) and batch: eval-mode forwards of one batch of random data, each
# timed alone after a warm-up, by
#   clcnn:        `clcnn bench MODEL --inference --batch B` (copy the batch in, forward to the output
#                 node, read the output back: what `clcnn predict` and the C API run);
#   PyTorch:      tools/torch_infer_bench.py time --runtime torch (the netfile's torch.nn translation,
#                 model.eval(), torch.no_grad(), 2 threads);
#   ONNX Runtime: tools/torch_infer_bench.py time --runtime ort (the model as `clcnn export` writes it,
#                 InferenceSession with intra_op_num_threads=2, CPUExecutionProvider).
# Batch 1 is latency (median and 90th percentile), batch 64 throughput (img/s of the median). ROUNDS
# (default 2) alternates the three that many times and keeps each one's best median (with the p90
# of that run). First the three are checked to compute the same output: the torch model's weights
# (random batchnorm statistics) go to `clcnn export` and `clcnn run`, and all three outputs of one
# random batch must agree with PyTorch's to 1e-4 (relative), else exit 1. A row that any side did not
# time is an error (exit 1), never a blank.
# CLCNN_TUNE defaults to "all" here, so the warm-up forwards tune clcnn's convolutions for eval mode
# at each batch (a trained model's recorded choices are for its training batch); CLCNN_TUNE=train
# measures what a first `clcnn predict` gets. Prints the command, the load average before and after,
# and a markdown table.
# Environment: MODELS, BATCHES, ROUNDS, ITERS (default 200 at batch 1, 20 above), WARMUP (default 10),
# PYTHON (default /usr/bin/python3), and the usual CLCNN_* / POCL_CACHE_DIR.
# PyTorch's linear layers run on the system BLAS (Debian's python3-torch calls libblas.so.3):
# the header names it, and where OPENBLAS_CORETYPE is unset the script sets it (tools/torch-blas.sh)
# from the CPU (SkylakeX with AVX-512, Haswell with AVX2), since OpenBLAS 0.3.21 runs its SSE3 kernels
# on CPUs it does not know. Netlib's reference BLAS (no OpenBLAS installed) runs PyTorch's linear
# layers at 5 GFLOP/s (OpenBLAS: 60-185 on this Xeon), which makes the ratios meaningless for models
# with large ones.
set -eu
case "${1:-}" in -h | --help)
	sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
clcnn="$build/tools/clcnn"
python=${PYTHON:-/usr/bin/python3}
helper="$root/tools/torch_infer_bench.py"
models=${MODELS:-fmnist resnet}
batches=${BATCHES:-1 64}
rounds=${ROUNDS:-2}
warmup=${WARMUP:-10}
CLCNN_TUNE=${CLCNN_TUNE:-all}
export CLCNN_TUNE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "command: MODELS=\"$models\" BATCHES=\"$batches\" ROUNDS=$rounds ITERS=${ITERS:-200/20} WARMUP=$warmup CLCNN_TUNE=$CLCNN_TUNE $0 $*"
echo "load average at start: $(cat /proc/loadavg)"
. "$root/tools/torch-blas.sh"

# the same weights and output everywhere
for m in $models; do
	net="$root/models/$m.net"
	[ -f "$net" ] || {
		echo "bench-infer.sh: MODELS: no models/$m.net" >&2
		exit 2
	}
	d="$tmp/$m"
	"$python" "$helper" prepare "$net" "$d"
	"$clcnn" export "$net" --weights "$d/w.safetensors" --out "$d/model.onnx" > /dev/null
	"$clcnn" run "$net" --weights "$d/w.safetensors" --input "$d/x.safetensors" --output "$d/y.safetensors" > /dev/null
	"$python" "$helper" check "$net" "$d"
done

# "inference: X ms median, Y ms p90 per batch of B (Z img/s)" -> MODEL BATCH SIDE X Y
line() { awk -v k="$1 $2 $3" '/^inference: / { print k, $2, $5 }'; }
r=0
while [ "$r" -lt "$rounds" ]; do
	for m in $models; do
		for b in $batches; do
			n=${ITERS:-$([ "$b" -eq 1 ] && echo 200 || echo 20)}
			"$clcnn" bench "$root/models/$m.net" --inference --batch "$b" --iters "$n" --warmup "$warmup" |
				line "$m" "$b" clcnn >> "$tmp/t" || true
			"$python" "$helper" time "$root/models/$m.net" --runtime torch --batch "$b" --iters "$n" --warmup "$warmup" |
				line "$m" "$b" torch >> "$tmp/t" || true
			"$python" "$helper" time "$root/models/$m.net" --runtime ort --onnx "$tmp/$m/model.onnx" --batch "$b" \
				--iters "$n" --warmup "$warmup" | line "$m" "$b" ort >> "$tmp/t" || true
		done
	done
	r=$((r + 1))
done
touch "$tmp/t"
missing=$(for m in $models; do for b in $batches; do for s in clcnn torch ort; do
	c=$(awk -v k="$m $b $s" '$1 " " $2 " " $3 == k' "$tmp/t" | wc -l)
	[ "$c" -eq "$rounds" ] || echo "  $m at batch $b: $c of $rounds $s timings"
done; done; done)
if [ -n "$missing" ]; then
	printf 'bench-infer.sh: rows without their timings (see the errors above):\n%s\n' "$missing" >&2
	exit 1
fi

echo "device: $("$clcnn" devices 2>/dev/null | awk 'NR == 2' || true)"
echo
echo "| model | batch | clcnn median ms | clcnn p90 ms | PyTorch median ms | PyTorch p90 ms | ONNX Runtime median ms | ONNX Runtime p90 ms | clcnn img/s | PyTorch img/s | ONNX Runtime img/s | PyTorch / clcnn | ONNX Runtime / clcnn |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in $models; do
	for b in $batches; do
		awk -v m="$m" -v b="$b" '$1 == m && $2 == b {
				if (!n[$3]++ || $4 < med[$3]) { med[$3] = $4; p90[$3] = $5 } }
			END {
				for (s in med) med[s] = med[s] > 0 ? med[s] : 0.001  # times print with 3 decimals
				printf "| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f | %.0f | %.2fx | %.2fx |\n",
					m, b, med["clcnn"], p90["clcnn"], med["torch"], p90["torch"], med["ort"], p90["ort"],
					b / med["clcnn"] * 1e3, b / med["torch"] * 1e3, b / med["ort"] * 1e3,
					med["torch"] / med["clcnn"], med["ort"] / med["clcnn"] }' "$tmp/t"
	done
done
echo
echo "load average at end: $(cat /proc/loadavg)"
