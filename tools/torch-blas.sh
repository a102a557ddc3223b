# Sourced by the benchmark scripts that time PyTorch models (bench-models.sh, bench-infer.sh), with
# $python and $root set: where OPENBLAS_CORETYPE is unset, name the core from the CPU's flags
# (OpenBLAS 0.3.21 runs its SSE3 "Prescott" kernels on CPUs it does not know), then print the BLAS
# PyTorch loaded (tools/torch_blas.py says why it matters).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
	if grep -qw avx512f /proc/cpuinfo; then
		export OPENBLAS_CORETYPE=SkylakeX
	elif grep -qw avx2 /proc/cpuinfo; then
		export OPENBLAS_CORETYPE=Haswell
	fi
fi
"$python" "$root/tools/torch_blas.py" || echo "PyTorch BLAS: unknown (tools/torch_blas.py failed)"
