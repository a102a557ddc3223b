#!/bin/sh
# Offline GPU compilation statistics of clcnn's GPU kernels (issue 11; docs/gpu.md, "Static resource
# use (offline compile)"): every kernel program the GPU profile builds, compiled by a production GPU
# compiler (LLVM's AMDGPU backend, as in ROCm) with the same -D options the host passes, and per
# kernel the resources the compiler allotted: VGPRs, AGPRs, SGPRs, spills, scratch, LDS and
# occupancy (waves per SIMD). No GPU is needed: these are facts about the machine code a GPU would run.
#
#   tools/gpu-static.sh                 every option set, full table, then a summary per kernel
#   tools/gpu-static.sh --summary       the summary only
#   tools/gpu-static.sh --check         igemm_gpu, igemm_gpu32 and gemm_gpu for gfx90a only (a bench
#                                       geometry, and the forward pass of a 3-channel first layer);
#                                       exit 1 when one spills, uses scratch, calls an unresolved
#                                       builtin or has an occupancy under 4 waves/SIMD (3 for the
#                                       32 x 32 tiles of igemm_gpu32); 77 without clang for amdgcn
#   tools/gpu-static.sh --ptx           also compile to NVIDIA PTX (see below)
#   options: --mcpu gfx90a,gfx940,gfx1100 (default: those this clang knows), --only REGEX (option
#   sets whose "family options" line matches), --log FILE (take the option sets from a
#   CLCNN_LOG=debug log instead of the built-in list), --keep DIR (keep the .cl, .s and .ptx files)
#
# How: each program is the text clcnn builds (src/device/program.c): the headers of cl/meson.build,
# common.cl, then the family's .cl, with "-cl-std=CL1.2" and the options, compiled by
#   clang -x cl -cl-std=CL1.2 -target amdgcn-amd-amdhsa -mcpu=<gfx> -nogpulib -O3 -S
#         -include tools/gpu-static-shim.h
# Without ROCm's device libraries clang declares the OpenCL builtins but does not define them; the
# shim defines the ones cl/ uses (work-item ids from the amdgcn intrinsics and the HSA dispatch
# packet, barrier as fence + s_barrier + fence, fma/sqrt/... as LLVM builtins: see its header). The
# numbers are read from the assembly: "; Kernel info:" (NumVgprs, NumAgprs, NumSgprs, ScratchSize,
# LDSByteSize, Occupancy) and the .amdgpu_metadata (.vgpr_spill_count, .sgpr_spill_count). A kernel
# that still calls a function (s_swappc: an undefined builtin) is flagged CALL and its numbers are
# not those of a real build. CLANG=... picks the compiler (default: clang-15, clang-14, clang).
#
# The option sets (built-in list below) are the programs the GPU profile built on POCL, harvested
# from CLCNN_LOG=debug (lines "program FAMILY [OPTIONS]") while running `clcnn bench` on
# models/bench/conv*.net with each GPU convolution algorithm forced (CLCNN_CONV_ALGO=igemm_gpu,
# igemm_gpu32, direct, im2col, gemm1x1), a depthwise 64x56x56 convolution (depthwise, direct), and
# models/bench/pool-fmnist.net, models/vgg-bn.net and models/resnet.net untuned, plus the igemm_gpu and
# igemm_gpu32 programs of the 3-channel first layer of models/cifar10.net, all with
# CLCNN_DEVICE_PROFILE=gpu (vw 4, 256-item groups, 32 KiB __local), e.g.
#   CLCNN_DEVICE_PROFILE=gpu CLCNN_LOG=debug CLCNN_CONV_ALGO=igemm_gpu \
#     build/tools/clcnn bench models/bench/conv3x3-64x56x56-k64.net --batch 2 --input-grads --iters 1
#
# --ptx: the same programs for -target nvptx64-nvidia-cuda (the newest sm_ this clang knows; the shim
# maps the work-item functions to PTX special registers). PTX is a virtual ISA: its registers are
# virtual (%f<N> counts SSA values, not allocated registers; ptxas, which is not available here,
# allocates them), so PTX says nothing about register pressure or spills. What it does say: the
# __shared__ bytes, whether a private array is left in local memory (a .local depot, memory unless
# ptxas promotes it), and the instruction mix ptxas starts from (fma.rn.f32 per ld.shared: the
# shared-memory traffic of the register tile).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
shim="$root/tools/gpu-static-shim.h"
mode=full
ptx=0
mcpus=""
only=""
log=""
keep=""
while [ $# -gt 0 ]; do
	case "$1" in
	--check) mode=check ;;
	--summary) mode=summary ;;
	--ptx) ptx=1 ;;
	--mcpu) mcpus=$(echo "$2" | tr ',' ' '); shift ;;
	--only) only=$2; shift ;;
	--log) log=$2; shift ;;
	--keep) keep=$2; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "gpu-static.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "$keep" ] && mkdir -p "$keep"

# ---------------------------------------------------------------- the compiler

probe="$tmp/probe.cl"
printf '__kernel void k(__global float *a) { a[get_global_id(0)] = fma(a[0], a[1], a[2]); }\n' > "$probe"
amdgcn() { # amdgcn CLANG MCPU IN OUT [OPTIONS...]
	c=$1 m=$2 in=$3 out=$4
	shift 4
	"$c" -x cl -cl-std=CL1.2 -target amdgcn-amd-amdhsa -mcpu="$m" -nogpulib -O3 -S -include "$shim" "$@" \
		-o "$out" "$in"
}
clang=""
for c in ${CLANG:-} clang-15 clang-14 clang; do
	if command -v "$c" > /dev/null 2>&1 && amdgcn "$c" gfx90a "$probe" "$tmp/probe.s" 2> /dev/null; then
		clang=$c
		break
	fi
done
if [ -z "$clang" ]; then
	echo "gpu-static.sh: no clang that compiles OpenCL C for amdgcn-amd-amdhsa (tried ${CLANG:+$CLANG }clang-15, clang-14, clang)" >&2
	exit 77
fi
if [ "$mode" = check ]; then
	mcpus=${mcpus:-gfx90a}
	only=${only:-'^convgpu .*-DCI=(128 -DIH=28 .*-DCONVGPU_|3 .*-DCONVGPU_FWD)|^gemm .*GEMM_KERNEL_GPU'}
fi
if [ -z "$mcpus" ]; then
	for m in gfx90a gfx940 gfx942 gfx1100; do
		amdgcn "$clang" "$m" "$probe" "$tmp/probe.s" 2> /dev/null && mcpus="$mcpus $m"
	done
else
	for m in $mcpus; do
		amdgcn "$clang" "$m" "$probe" "$tmp/probe.s" 2> /dev/null ||
			{ echo "gpu-static.sh: $clang does not know -mcpu=$m" >&2; exit 2; }
	done
fi
sm=""
if [ "$ptx" = 1 ]; then
	for s in sm_90 sm_89 sm_87 sm_86 sm_80; do
		if "$clang" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-cuda -march=$s -nogpulib -O3 -S -include "$shim" \
			-o "$tmp/probe.ptx" "$probe" 2> /dev/null; then
			sm=$s
			break
		fi
	done
	[ -n "$sm" ] || { echo "gpu-static.sh: $clang does not compile OpenCL C for nvptx64" >&2; exit 2; }
fi

# ---------------------------------------------------------------- the option sets

# family<TAB>options, one program a line
builtin_sets() {
	cat << 'EOF'
activation	-DACT=2 -DVW=4
batchnorm	-DC=128 -DS=49 -DAFFINE=1 -DBN_WG=64
batchnorm	-DC=256 -DS=1 -DAFFINE=1
batchnorm	-DC=32 -DS=784 -DAFFINE=1 -DBN_WG=256
batchnorm	-DC=64 -DS=196 -DAFFINE=1 -DBN_WG=256
common	
conv	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=1 -DCGO=1 -DGPU=1 -DVW=4 -DHW_FMA=1
conv	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1
convgpu	-DCONVGPU_SUM
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=1024 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=256 -DCGO=1024 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=0 -DPL=0 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=0 -DPL=0 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=0 -DPL=0 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=1 -DKW=1 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=0 -DPL=0 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=1 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=1 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=28 -DIW=28 -DCO=128 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=128 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=1 -DPL=1 -DCGI=128 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=256 -DIH=14 -DIW=14 -DCO=256 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=256 -DCGO=256 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=3 -DIH=32 -DIW=32 -DCO=32 -DOH=32 -DOW=32 -DPT=1 -DPL=1 -DCGI=3 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=3 -DIH=32 -DIW=32 -DCO=32 -DOH=32 -DOW=32 -DPT=1 -DPL=1 -DCGI=3 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=3 -DIH=32 -DIW=32 -DCO=32 -DOH=32 -DOW=32 -DPT=1 -DPL=1 -DCGI=3 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=3 -DIH=32 -DIW=32 -DCO=32 -DOH=32 -DOW=32 -DPT=1 -DPL=1 -DCGI=3 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=32 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=32 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=32 -DIH=28 -DIW=28 -DCO=64 -DOH=28 -DOW=28 -DPT=1 -DPL=1 -DCGI=32 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=128 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=14 -DIW=14 -DCO=64 -DOH=14 -DOW=14 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=32 -DTSN=32 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=56 -DIW=56 -DCO=64 -DOH=56 -DOW=56 -DPT=1 -DPL=1 -DCGI=64 -DCGO=64 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_DATA -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_BWD_W -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
convgpu	-DKH=3 -DKW=3 -DSH=1 -DSW=1 -DDH=1 -DDW=1 -DFLIP=0 -DCI=64 -DIH=7 -DIW=7 -DCO=128 -DOH=7 -DOW=7 -DPT=1 -DPL=1 -DCGI=64 -DCGO=128 -DGPU=1 -DVW=4 -DHW_FMA=1 -DCONVGPU_FWD -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4
dropout	
gemm	-DGEMM_KERNEL_GPU -DHW_FMA=1 -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4 -DTRANS_A=0 -DTRANS_B=0
gemm	-DGEMM_KERNEL_GPU -DHW_FMA=1 -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4 -DTRANS_A=0 -DTRANS_B=1
gemm	-DGEMM_KERNEL_GPU -DHW_FMA=1 -DTSM=64 -DTSN=64 -DTSK=16 -DWPTM=4 -DWPTN=4 -DTRANS_A=1 -DTRANS_B=0
linear	
loss	-DLOSS=1
loss	-DNCLASS=10 -DCE=1
merge	-DNIN=2
pool	-DPOOL_KERNEL_global_avg_bwd
pool	-DPOOL_KERNEL_global_avg_fwd
pool	-DPOOL_KERNEL_maxpool_bwd -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPH=0 -DPW=0 -DDH=1 -DDW=1 -DPIH=14 -DPIW=14 -DPOH=7 -DPOW=7 -DPV=4
pool	-DPOOL_KERNEL_maxpool_bwd -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPH=0 -DPW=0 -DDH=1 -DDW=1 -DPIH=28 -DPIW=28 -DPOH=14 -DPOW=14 -DPV=4
pool	-DPOOL_KERNEL_maxpool_bwd -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPH=0 -DPW=0 -DDH=1 -DDW=1 -DPIH=7 -DPIW=7 -DPOH=3 -DPOW=3 -DPV=2
pool	-DPOOL_KERNEL_maxpool_fwd -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPH=0 -DPW=0 -DDH=1 -DDW=1 -DPIH=14 -DPIW=14 -DPOH=7 -DPOW=7 -DPV=4
pool	-DPOOL_KERNEL_maxpool_fwd -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPH=0 -DPW=0 -DDH=1 -DDW=1 -DPIH=28 -DPIW=28 -DPOH=14 -DPOW=14 -DPV=4
pool	-DPOOL_KERNEL_maxpool_fwd -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPH=0 -DPW=0 -DDH=1 -DDW=1 -DPIH=7 -DPIW=7 -DPOH=3 -DPOW=3 -DPV=2
train	
EOF
}
if [ -n "$log" ]; then
	sed -n 's/.*program \([a-z0-9_]*\) \[\([^]]*\)\].*/\1\t\2/p' "$log" | sort -u > "$tmp/sets"
else
	builtin_sets > "$tmp/sets"
fi
if [ -n "$only" ]; then
	awk -F '\t' -v re="$only" '($1 " " $2) ~ re' "$tmp/sets" > "$tmp/sets.only"
	mv "$tmp/sets.only" "$tmp/sets"
fi
[ -s "$tmp/sets" ] || { echo "gpu-static.sh: no option set to compile" >&2; exit 2; }

# The program text: the headers in cl/meson.build order, common.cl, the family (src/device/program.c).
headers=$(sed -n '/^cl_headers = files(/,/^)/p' "$root/cl/meson.build" | sed -n "s/^ *'\([a-z0-9_]*\.h\)',\{0,1\}$/\1/p")
program_text() {
	for h in $headers; do cat "$root/cl/$h"; done
	cat "$root/cl/common.cl"
	[ "$1" = common ] || cat "$root/cl/$1.cl"
}

# A short name for an option set: family, the kernel switches, tiles, geometry.
label() { # label FAMILY "OPTIONS"
	echo "$2" | awk -v fam="$1" '{
		for (i = 1; i <= NF; i++) {
			o = $i; sub(/^-D/, "", o); n = split(o, kv, "=");
			if (n == 1) { sw = sw (sw ? "," : "") kv[1] } else v[kv[1]] = kv[2]
		}
		s = fam (sw ? " " sw : "")
		if ("TSM" in v) s = s " " v["TSM"] "x" v["TSN"] "x" v["TSK"] "/" v["WPTM"] "x" v["WPTN"]
		if ("TRANS_A" in v) s = s " T" v["TRANS_A"] v["TRANS_B"]
		if ("CI" in v) {
			s = s " " v["CI"] "x" v["IH"] "x" v["IW"] ">" v["CO"] " " v["KH"] "x" v["KW"]
			if (v["SH"] > 1) s = s "/" v["SH"]
			if (v["CGI"] != v["CI"]) s = s " g" v["CI"] / v["CGI"]
		}
		for (k in v) if (k !~ /^(TSM|TSN|TSK|WPTM|WPTN|TRANS_A|TRANS_B|CI|IH|IW|CO|OH|OW|KH|KW|SH|SW|DH|DW|PT|PL|FLIP|CGI|CGO|GPU|HW_FMA)$/)
			rest = rest " " k "=" v[k]
		print s rest
	}'
}

# ---------------------------------------------------------------- compile and read

# One row a kernel: target, label, kernel, vgpr, agpr, sgpr, vgpr spills, sgpr spills, scratch, lds,
# occupancy, calls; then, counted statically over the instructions inside loops (for the GEMM kernels:
# one k step of the unrolled tile product), FMA operations, VALU instructions, LDS dwords read a lane
# and global loads
parse_amdgcn() { # parse_amdgcn ASM MCPU LABEL FAMILY
	awk -v m="$2" -v lab="$3" -v fam="$4" '
		/^[A-Za-z_][A-Za-z0-9_]*:[ \t]*; @/ { f = $1; sub(/:$/, "", f); calls[f] = 0; inloop = 0; next }
		/s_swappc_b64|s_setpc_b64.*@/ { calls[f]++ }
		# a basic block starts: inside a loop when LLVM annotates it so
		/^(\.LBB|; %bb\.)/ { inloop = $0 ~ /Loop Header: Depth=|in Loop: Header=/ }
		# static counts inside loops: FMA lane-operations (packed and dual-issued count 2), VALU
		# instructions, LDS dwords read a lane, global loads
		inloop && /^[ \t]+v_/ {
			lv[f]++; line = $0
			lf[f] += gsub(/v_pk_fma_f32/, "", line) * 2 + gsub(/v_(dual_)?fmac?_f32|v_mac_f32/, "", line)
		}
		inloop && /^[ \t]+ds_(read|load)/ {
			d = $1; w = d ~ /b128/ ? 4 : d ~ /b96/ ? 3 : d ~ /b64/ ? 2 : 1
			ld[f] += d ~ /read2|2addr/ ? 2 * w : w
		}
		inloop && /^[ \t]+(global|buffer|flat)_load/ { lg[f]++ }
		/^; Kernel info:/ { k = f; kern[k] = 1; order[++nk] = k; next }
		k != "" && /^; NumVgprs:/ { vg[k] = $3 }
		k != "" && /^; NumAgprs:/ { ag[k] = $3 }
		k != "" && /^; NumSgprs:/ { sg[k] = $3 }
		k != "" && /^; ScratchSize:/ { sc[k] = $3 }
		k != "" && /^; LDSByteSize:/ { lds[k] = $3 }
		k != "" && /^; Occupancy:/ { oc[k] = $3; k = "" }
		# .amdgpu_metadata: keys of the kernel itself are indented by 4, of its arguments deeper
		/^    \.name:/ { name = $2 }
		/^    \.vgpr_spill_count:/ { vs[name] = $2 }
		/^    \.sgpr_spill_count:/ { ss[name] = $2 }
		END {
			for (i = 1; i <= nk; i++) {
				k = order[i]
				if (fam != "common" && k ~ /^clcnn_(smoke|axpby|grid_probe)$/) continue
				printf "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", m, lab, k, vg[k], ag[k],
					sg[k], vs[k], ss[k], sc[k], lds[k], oc[k], calls[k], lf[k], lv[k], ld[k], lg[k]
			}
		}' "$1"
}

# PTX: target, label, kernel, virtual .f32/.b32/.b64 registers, shared bytes, local bytes, fma, ld.shared, ld.global, calls
parse_ptx() { # parse_ptx PTX SM LABEL FAMILY
	awk -v m="$2" -v lab="$3" -v fam="$4" '
		/^\.visible \.entry / { k = $3; sub(/\(.*/, "", k); order[++nk] = k; next }
		k == "" { next }
		/^}/ { k = ""; next }
		/\.reg \.f32/ { v = $3; gsub(/[^0-9]/, "", v); f32[k] = v }
		/\.reg \.b32/ { v = $3; gsub(/[^0-9]/, "", v); b32[k] = v }
		/\.reg \.b64/ { v = $3; gsub(/[^0-9]/, "", v); b64[k] = v }
		/^[ \t]*\.shared / { v = $0; sub(/.*\[/, "", v); sub(/\].*/, "", v); sh[k] += v }
		/^[ \t]*\.local / { v = $0; sub(/.*\[/, "", v); sub(/\].*/, "", v); lo[k] += v }
		/^[ \t]*fma\.rn\.f32/ { fm[k]++ }
		/^[ \t]*ld\.shared/ { ls[k]++ }
		/^[ \t]*ld\.global/ { lg[k]++ }
		/^[ \t]*call/ { ca[k]++ }
		END {
			for (i = 1; i <= nk; i++) {
				k = order[i]
				if (fam != "common" && k ~ /^clcnn_(smoke|axpby|grid_probe)$/) continue
				printf "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", m, lab, k, f32[k], b32[k], b64[k],
					sh[k], lo[k], fm[k], ls[k], lg[k], ca[k]
			}
		}' "$1"
}

n=0
failed=0
: > "$tmp/rows"
while IFS="$(printf '\t')" read -r fam opts; do
	n=$((n + 1))
	[ -f "$root/cl/$fam.cl" ] || { echo "gpu-static.sh: no cl/$fam.cl (option set $n)" >&2; exit 2; }
	src="$tmp/p$n.cl"
	program_text "$fam" > "$src"
	lab=$(label "$fam" "$opts")
	for m in $mcpus; do
		# shellcheck disable=SC2086 # the options are words
		if amdgcn "$clang" "$m" "$src" "$tmp/p$n.$m.s" $opts 2> "$tmp/err"; then
			parse_amdgcn "$tmp/p$n.$m.s" "$m" "$lab" "$fam" >> "$tmp/rows"
		else
			echo "gpu-static.sh: $fam [$opts] does not compile for $m:" >&2
			grep -m 5 'error' "$tmp/err" >&2 || head -5 "$tmp/err" >&2
			failed=$((failed + 1))
		fi
	done
	if [ -n "$sm" ]; then
		# shellcheck disable=SC2086
		if "$clang" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-cuda -march=$sm -nogpulib -O3 -S -include "$shim" \
			$opts -o "$tmp/p$n.ptx" "$src" 2> "$tmp/err"; then
			parse_ptx "$tmp/p$n.ptx" "$sm" "$lab" "$fam" >> "$tmp/ptxrows"
		else
			echo "gpu-static.sh: $fam [$opts] does not compile for nvptx64 $sm:" >&2
			grep -m 5 'error' "$tmp/err" >&2 || head -5 "$tmp/err" >&2
			failed=$((failed + 1))
		fi
	fi
	[ -z "$keep" ] || cp "$tmp"/p$n.* "$keep"/
done < "$tmp/sets"

echo "compiler: $("$clang" --version | head -1); targets:$mcpus; $n programs (option sets)"

# shellcheck disable=SC2016 # an awk program
flags='{ f = ""; if ($7 + $8 > 0) f = f " SPILL"; if ($9 > 0) f = f " SCRATCH"; if ($11 < 4) f = f " OCC<4"; if ($12 > 0) f = f " CALL" }'
if [ "$mode" != summary ]; then
	echo
	echo "| target | program | kernel | VGPR | AGPR | SGPR | spills v/s | scratch B | LDS B | waves/SIMD | flags | in loops: FMA ops / VALU / LDS dwords / global loads |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F '\t' "$flags"' { printf "| %s | %s | %s | %d | %d | %d | %d/%d | %d | %d | %d |%s | %d / %d / %d / %d |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, f, $13, $14, $15, $16 }' "$tmp/rows"
fi
if [ "$mode" != check ]; then
	echo
	echo "Per kernel and target, over every option set that compiles it:"
	echo
	echo "| target | kernel | sets | VGPR | SGPR | spills (most) | scratch B (most) | LDS B (most) | waves/SIMD (least) | flags |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	awk -F '\t' "$flags"'
		{ k = $1 SUBSEP $3; if (!(k in n)) { order[++nk] = k; vmin[k] = $4; vmax[k] = $4; smin[k] = $6; smax[k] = $6; occ[k] = $11 }
		  n[k]++; if ($4 < vmin[k]) vmin[k] = $4; if ($4 > vmax[k]) vmax[k] = $4
		  if ($6 < smin[k]) smin[k] = $6; if ($6 > smax[k]) smax[k] = $6
		  if ($7 + $8 > sp[k]) sp[k] = $7 + $8; if ($9 > sc[k]) sc[k] = $9; if ($10 > lds[k]) lds[k] = $10
		  if ($11 < occ[k]) occ[k] = $11; if (f != "" && index(fl[k], f) == 0) fl[k] = fl[k] f }
		function range(a, b) { return a == b ? a : a "-" b }
		END { for (i = 1; i <= nk; i++) { k = order[i]; split(k, p, SUBSEP)
			printf "| %s | %s | %d | %s | %s | %d | %d | %d | %d |%s |\n", p[1], p[2], n[k], range(vmin[k], vmax[k]),
				range(smin[k], smax[k]), sp[k], sc[k], lds[k], occ[k], fl[k] } }' "$tmp/rows"
fi
if [ -s "$tmp/ptxrows" ] && [ "$mode" != check ]; then
	echo
	echo "NVIDIA PTX ($sm; virtual registers: not an allocation, see --help):"
	echo
	echo "| target | program | kernel | virtual f32/b32/b64 | shared B | local B | fma.rn.f32 | ld.shared | ld.global | calls |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	awk -F '\t' '{ printf "| %s | %s | %s | %d/%d/%d | %d | %d | %d | %d | %d | %d |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' "$tmp/ptxrows"
fi
if [ "$mode" = check ]; then
	[ "$failed" -eq 0 ] || { echo "gpu-static.sh --check: FAILED: $failed compilations failed (above)"; exit 1; }
	# the floor: 4 waves/SIMD, 3 for the 32 x 32 tiles of igemm_gpu32 (convgpu_bwd_w has 148 VGPRs there)
	bad=$(awk -F '\t' '{ f = ""; floor = $2 ~ / 32x32x/ ? 3 : 4
		if ($7 + $8 > 0) f = f " SPILL"; if ($9 > 0) f = f " SCRATCH"; if ($11 < floor) f = f " OCC<" floor
		if ($12 > 0) f = f " CALL"; if (f != "") print "  " $1 " " $2 " " $3 ":" f }' "$tmp/rows")
	rows=$(wc -l < "$tmp/rows")
	if [ -n "$bad" ]; then
		echo "gpu-static.sh --check: FAILED (spills, scratch, occupancy under 4 waves/SIMD or unresolved calls):"
		echo "$bad"
		exit 1
	fi
	[ "$rows" -gt 0 ] || { echo "gpu-static.sh --check: no kernel compiled" >&2; exit 1; }
	echo "gpu-static.sh --check: $rows kernels, no spill, no scratch, no call, occupancy >= 4 waves/SIMD (3 for 32 x 32 tiles)"
fi
if [ "$failed" -gt 0 ]; then
	echo "gpu-static.sh: $failed compilations failed (above)" >&2
	exit 1
fi
