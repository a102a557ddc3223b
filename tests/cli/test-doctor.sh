#!/usr/bin/env bash
# clcnn doctor on the CPU and the GPU device profile: every conv algorithm's smoke run agrees, the
# extras model trains a step under each of its conv algorithms (optimizers, noise, every loss
# kernel), the kernel list counts what was compiled and says why the rest was not, and a kernel behind an #ifdef
# that fails to build (one the old doctor, compiling each file without its -D options, never saw)
# makes it exit 1.
# usage: test-doctor.sh CLCNN_BINARY SOURCE_ROOT
set -u
CLCNN=$1
SRC=$2
. "$(dirname "$0")/../common/expect.sh"

algos=$(sed -n 's/^\tX(\([a-z0-9]*\), .*/\1/p' "$SRC/src/ops/conv-algos.h")
ndecl=$(grep -hoE '__kernel( __attribute__\(\([^)]*\)\)\))?[[:space:]]+void[[:space:]]+[a-z_0-9]+' "$SRC"/cl/*.cl | awk '{print $NF}' | sort -u | wc -l)
cpu_only="implicit implicit48 shallow lanes"
gpu_only=$(echo "$algos" | tr ' ' '\n' | grep -E 'gpu|clblast' | tr '\n' ' ')
for profile in cpu gpu; do
  other=gpu
  [ $profile = gpu ] && other=cpu
  expect 0 "^verdict: device works$" "doctor ($profile profile)" -- env CLCNN_DEVICE_PROFILE=$profile "$CLCNN" doctor
  cp "$T/out" "$T/doctor-$profile"
  grep -q "^profile: $profile ($(echo $profile | tr a-z A-Z) kernels)$" "$T/out" && pass "$profile: names the profile" || fail "$profile: profile line: $(grep '^profile' "$T/out")"
  for a in $algos; do
    # the CPU register-tile designs say they do not apply on GPUs, the GPU kernels on CPUs
    case " $cpu_only " in *" $a "*) [ $profile = gpu ] && { grep -qE "^  conv algo $a +does not apply on this profile" "$T/out" && pass "$profile: $a says it does not apply" || fail "$profile: conv algo $a: $(grep "conv algo $a " "$T/out")"; continue; } ;; esac
    case " $gpu_only " in *" $a "*) [ $profile = cpu ] && { grep -qE "^  conv algo $a +does not apply on this profile" "$T/out" && pass "$profile: $a says it does not apply" || fail "$profile: conv algo $a: $(grep "conv algo $a " "$T/out")"; continue; } ;; esac
    grep -qE "^  conv algo $a +ok  loss [0-9.]+  max diff [0-9.e+-]+  convs ran .*$a" "$T/out" && pass "$profile: smoke run with $a forced, and $a ran" || fail "$profile: conv algo $a: $(grep "conv algo $a " "$T/out")"
  done
  grep -q "^  the same on the $other profile: ok$" "$T/out" && pass "$profile: the $other profile's smoke runs too" || fail "$profile: no $other-profile line"
  # the extras model (noise, channel softmax, triplet/pair/elementwise losses, reduction=none, a 1x1
  # conv's weight-gradient paths) trains one SGD and one Adam step under each of its conv algorithms
  for a in tuned im2col implicit igemm_gpu; do
    grep -qE "^  extra layers, conv $a +ok  loss [0-9.]+ at the SGD step, [0-9.]+ at the Adam step$" "$T/out" && pass "$profile: extras with $a" || fail "$profile: extras $a: $(grep "extra layers, conv $a " "$T/out")"
  done
  line=$(grep -E '^kernels: [0-9]+ of [0-9]+ compiled' "$T/out")
  n=$(echo "$line" | awk '{print $2}') m=$(echo "$line" | awk '{print $4}')
  # every kernel of the sources is counted (a distinct name may live in two families: at least as many)
  [ -n "$m" ] && [ "$m" -ge "$ndecl" ] && pass "$profile: $m kernels listed (>= $ndecl distinct names in cl/)" || fail "$profile: kernels line '$line', $ndecl names in cl/"
  # the smoke model reaches most of them; each one left out is listed with its reason
  [ -n "$n" ] && [ $((n * 2)) -gt "$m" ] && pass "$profile: $n of $m compiled" || fail "$profile: only '$line'"
  missing=$(grep -cE '^  [a-z_0-9]+/[a-z_0-9]+: ' "$T/out")
  # at least every kernel compiled on neither profile (the other kind's kernels are listed too)
  [ "$missing" -ge $((m - n)) ] && pass "$profile: every kernel not compiled here is listed" || fail "$profile: $missing listed, $n of $m compiled"
done
# gemm_gpu: compiled on the GPU profile; on the CPU profile listed as GPU-only
! grep -q 'gemm/gemm_gpu' "$T/doctor-gpu" && pass "gemm_gpu compiled on the GPU profile" || fail "gpu: $(grep gemm_gpu "$T/doctor-gpu")"
grep -q '^  gemm/gemm_gpu: GPU-only: not chosen on a CPU profile$' "$T/doctor-cpu" && pass "cpu: gemm_gpu listed as GPU-only" || fail "cpu: $(grep gemm_gpu "$T/doctor-cpu")"
grep -q '^  pool/maxpool_fwd' "$T/doctor-cpu" "$T/doctor-gpu" && fail "maxpool_fwd not compiled" || pass "maxpool_fwd compiled on both"
# the optimizers, noise, every loss kernel, channel softmax and the weight-gradient helpers run on
# both profiles (kernels of one profile's designs only are listed as such on the other)
for kn in train/clcnn_sgd train/clcnn_adam dropout/gaussian_noise_add loss/elem_none loss/elem_partial \
  loss/elem_backward loss/cls_none loss/triplet_none loss/triplet_partial loss/triplet_backward loss/pair_none \
  loss/pair_partial loss/pair_backward softmax/softmax_cols_forward softmax/softmax_cols_backward \
  common/clcnn_smoke conv/conv_transpose; do
  grep -q "^  $kn:" "$T/doctor-cpu" "$T/doctor-gpu" && fail "$kn listed: $(grep -h "^  $kn:" "$T/doctor-cpu" "$T/doctor-gpu")" || pass "$kn compiled on both"
done
grep -q '^  convgemm/convgemm_bwd_wt' "$T/doctor-cpu" && fail "cpu: convgemm_bwd_wt not compiled" || pass "cpu: convgemm_bwd_wt compiled"
grep -q '^  convgpu/convgpu_sum' "$T/doctor-gpu" && fail "gpu: convgpu_sum not compiled" || pass "gpu: convgpu_sum compiled"
# a kernel that runs on neither profile says why
grep -h 'not compiled: no layer' "$T/doctor-cpu" "$T/doctor-gpu" | grep -q . && fail "kernels without a reason: $(grep -h 'not compiled: no layer' "$T/doctor-cpu" "$T/doctor-gpu" | tr '\n' ' ')" || pass "every kernel left out has its reason"

# a build error behind -DPOOL_KERNEL_blurrow_bwd (the CPU blur backward): the smoke run fails, naming it, and doctor exits 1
cp -r "$SRC/cl" "$T/cl"
sed -i 's/^#ifdef POOL_KERNEL_blurrow_bwd$/&\nthis_does_not_compile;/' "$T/cl/pool.cl"
grep -q this_does_not_compile "$T/cl/pool.cl" || fail "could not break pool.cl"
expect 1 "^verdict: PROBLEMS FOUND$" "doctor with a broken kernel" -- env CLCNN_KERNEL_DIR="$T/cl" CLCNN_CACHE_DIR=off "$CLCNN" doctor
grep -qE "conv algo direct +FAILED: .*blurrow_bwd" "$T/out" && pass "the failure names the kernel" || fail "failure line: $(grep -m1 FAILED "$T/out" | cut -c1-200)"
echo "$fails failed"
[ "$fails" -eq 0 ]
