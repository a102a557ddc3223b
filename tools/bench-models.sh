#!/bin/sh
# Whole-model training steps, clcnn against PyTorch, every shipped model, run back to back:
#   [MODELS="fmnist resnet ..."] [EPOCH=1] tools/bench-models.sh [BUILD_DIR]        (default: build)
# For each model of models/*.net: `clcnn bench MODEL --batch B` (its "training step" line: forward,
# backward and the SGD update, lr 0.01 momentum 0.9, on random data), then tools/torch_model_bench.py
# on the same netfile (its torch.nn translation by tools/check-torch-checkpoint.py, the same optimizer,
# 2 threads). Both report the median step of ITERS after their warm-up; ROUNDS (default 2) alternates
# the two that many times, model by model, and keeps each one's best median. resnet18 runs at
# SIZE x SIZE (default 112) instead of 224: a copy of models/resnet18.net with only the input shape
# changed. A model that either side did not time, or whose torch.nn translation has another number of
# trainable parameters than `clcnn graph` counts, is an error (exit 1), never a blank row.
# EPOCH=1 adds one Fashion-MNIST epoch each of fmnist.net and resnet.net (EPOCH_MODELS) against
# ../shared/bench/torch_fmnist.py's conv2bn and resnet8 (the same models, optimizer, one-cycle
# schedule, batch 128 and flip): epoch time, img/s and test accuracy (minutes on a quiet machine).
# Prints the command, the load average before and after, and markdown tables; ratio = PyTorch /
# clcnn time (> 1: clcnn is faster).
# Every model of models/ translates, the Siamese ones (triplet, contrastive loss; a sample is a triplet
# or a pair) and mlp-csv (8 features) included.
# Environment: MODELS (default: all, in the order below), BATCH (default 64), RESNET18_BATCH (16),
# SIZE, ROUNDS, ITERS (10), WARMUP (2), EPOCH, EPOCH_MODELS (default "fmnist resnet"), TORCH_FMNIST
# (script), PYTHON (default /usr/bin/python3), and the usual CLCNN_* / POCL_CACHE_DIR.
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
rounds=${ROUNDS:-2}
iters=${ITERS:-10}
warmup=${WARMUP:-2}
batch=${BATCH:-64}
size=${SIZE:-112}
all="fmnist fmnist-dropout lenet5 antialiased cifar10 vgg-bn resnet resnet18 siamese-fmnist siamese-fmnist-pairs mlp-csv"
models=${MODELS:-$all}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
epoch_models=${EPOCH_MODELS:-fmnist resnet}
echo "command: MODELS=\"$models\" BATCH=$batch RESNET18_BATCH=${RESNET18_BATCH:-16} SIZE=$size ROUNDS=$rounds ITERS=$iters WARMUP=$warmup EPOCH=${EPOCH:-0} EPOCH_MODELS=\"$epoch_models\" $0 $*"
echo "load average at start: $(cat /proc/loadavg)"
. "$root/tools/torch-blas.sh"

# model, netfile, batch, trainable parameters as clcnn counts them
for m in $models; do
	case " $all " in *" $m "*) ;; *)
		echo "bench-models.sh: MODELS: no model '$m' (expected some of: $all)" >&2
		exit 2
		;;
	esac
	if [ "$m" = resnet18 ]; then
		sed "s/^image = input(shape=(3,224,224))/image = input(shape=(3,$size,$size))/" "$root/models/resnet18.net" > "$tmp/resnet18-$size.net"
		grep -q "^image = input(shape=(3,$size,$size))" "$tmp/resnet18-$size.net" || {
			echo "bench-models.sh: models/resnet18.net has no line 'image = input(shape=(3,224,224))' to resize" >&2
			exit 1
		}
		net="$tmp/resnet18-$size.net" name="resnet18@${size}x$size" b=${RESNET18_BATCH:-16}
	else
		net="$root/models/$m.net" name=$m b=$batch
	fi
	echo "$name $net $b $("$clcnn" graph "$net" | sed -n '/^graph: /s/.*(\([0-9]*\) trainable).*/\1/p')"
done > "$tmp/models"

# "training step: X ms median (Y img/s)" of either program -> MODEL SIDE X; torch_model_bench.py's
# "parameters: N trainable" -> MODEL params N
step() { awk -v m="$1" -v s="$2" '/^training step: / { print m, s, $3 } /^parameters: / { print m, "params", $2 }'; }
r=0
while [ "$r" -lt "$rounds" ]; do
	while read -r m net b params; do
		"$clcnn" bench "$net" --batch "$b" --iters "$iters" --warmup "$warmup" | step "$m" clcnn >> "$tmp/steps" || true
		"$python" "$root/tools/torch_model_bench.py" "$net" --batch "$b" --iters "$iters" --warmup "$warmup" |
			step "$m" torch >> "$tmp/steps" || true
	done < "$tmp/models"
	r=$((r + 1))
done
touch "$tmp/steps"
missing=$(awk -v rounds="$rounds" 'FNR == 1 { file++ } file == 1 { n[$1 " " $2]++ }
	file == 2 { for (s = 1; s <= 2; s++) { k = $1 " " (s == 1 ? "clcnn" : "torch")
		if (n[k] != rounds) printf "  %s: %d of %d %s steps\n", $1, n[k], rounds, s == 1 ? "clcnn bench" : "torch_model_bench.py" }
		if (p[$1] != $4) printf "  %s: %d trainable parameters in torch.nn, %d in clcnn\n", $1, p[$1], $4 }
	file == 1 && $2 == "params" { p[$1] = $3 }' \
	"$tmp/steps" "$tmp/models")
if [ -n "$missing" ]; then
	printf 'bench-models.sh: models not compared (see the errors above):\n%s\n' "$missing" >&2
	exit 1
fi

echo "device: $("$clcnn" devices 2>/dev/null | awk 'NR == 2' || true)"
echo
echo "| model | trainable parameters | batch | clcnn ms/step | PyTorch ms/step | PyTorch / clcnn | clcnn img/s | PyTorch img/s |"
echo "|---|---|---|---|---|---|---|---|"
while read -r m net b params; do
	awk -v m="$m" -v b="$b" -v np="$params" '$1 == m && $2 == "clcnn" && (!nc++ || $3 < c) { c = $3 }
		$1 == m && $2 == "torch" && (!nt++ || $3 < t) { t = $3 }
		END { c = c > 0 ? c : 0.001; t = t > 0 ? t : 0.001  # times print with 3 decimals
		      printf "| %s | %d | %d | %.2f | %.2f | %.2fx | %.0f | %.0f |\n", m, np, b, c, t, t / c, b / c * 1e3, b / t * 1e3 }' "$tmp/steps"
done < "$tmp/models"

if [ "${EPOCH:-0}" = 1 ]; then
	tf=${TORCH_FMNIST:-$root/../shared/bench/torch_fmnist.py}
	echo
	echo "One Fashion-MNIST epoch each, back to back (clcnn train defaults = torch_fmnist.py's: batch 128, SGD"
	echo "Nesterov momentum 0.9, weight decay 5e-4, one-cycle to lr 0.1, flip); training time without the test pass:"
	echo
	echo "| model | clcnn epoch s | clcnn img/s | clcnn test acc | PyTorch epoch s | PyTorch img/s | PyTorch test acc | PyTorch / clcnn |"
	echo "|---|---|---|---|---|---|---|---|"
	for m in $epoch_models; do
		case $m in fmnist) tm=conv2bn ;; resnet) tm=resnet8 ;; *)
			echo "bench-models.sh: EPOCH_MODELS: no PyTorch twin of '$m' in torch_fmnist.py (fmnist, resnet)" >&2
			exit 2
			;;
		esac
		# "epoch 1/1: train loss L, test loss L, test accuracy A, T s (I img/s), ..."
		c=$("$clcnn" train "$root/models/$m.net" --epochs 1 --out "$tmp/$m.safetensors" 2>&1 >/dev/null |
			sed -n 's/^epoch 1\/1: .*test accuracy \([0-9.]*\), \([0-9.]*\) s (\([0-9]*\) img\/s).*/\2 \3 \1/p')
		# "conv2bn epoch 1: train Ts (I img/s) loss L | test acc A eval Es"
		t=$("$python" "$tf" "$tm" 1 2 | sed -n 's/^.* epoch 1: train \([0-9.]*\)s (\([0-9]*\) img\/s) .*test acc \([0-9.]*\) .*/\1 \2 \3/p')
		if [ -z "$c" ] || [ -z "$t" ]; then
			echo "bench-models.sh: EPOCH: no epoch line from ${c:+torch_fmnist.py $tm}${c:-clcnn train models/$m.net}" >&2
			exit 1
		fi
		echo "$m/$tm $c $t" | awk '{ printf "| %s | %.1f | %d | %.2f %% | %.1f | %d | %.2f %% | %.2fx |\n",
			$1, $2, $3, $4 * 100, $5, $6, $7 * 100, $5 / $2 }'
	done
	echo
	echo "commands: $clcnn train models/MODEL.net --epochs 1; $python $tf conv2bn|resnet8 1 2"
fi
echo
echo "load average at end: $(cat /proc/loadavg)"
