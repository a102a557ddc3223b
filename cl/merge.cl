/* merge: add (sum of NIN same-shape inputs, one work-item per element, summed in input order) and
 * the strided row copy behind concat: a tensor viewed as rows x width (width = the concat dim and
 * everything after it), each input's rows copied into its column range of the output, unit stride
 * along dimension 0. */

#ifndef NIN
#define NIN 2
#endif
/* A fused activation: FUSED_ACT and FUSED_MASK of cl/common.cl. */

__kernel void merge_add(__global const float *a0, __global const float *a1, __global const float *a2,
			__global const float *a3, __global const float *a4, __global const float *a5,
			__global const float *a6, __global const float *a7, __global float *y, int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	/* unrolled with constant indices: the unused inputs are never read */
	__global const float *const a[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
	float s = a0[i] + a1[i];
#pragma unroll
	for (int k = 2; k < NIN; k++)
		s += a[k][i];
	y[i] = FUSED_ACT(float, s);
}

/* Backward of add with a fused activation: dy masked by y, written to the gradient of every input
 * whose bit is set in `want` (the others are placeholders, never written). */
__kernel void merge_add_grad(__global const float *gy, __global const float *y, __global float *g0,
			     __global float *g1, __global float *g2, __global float *g3, __global float *g4,
			     __global float *g5, __global float *g6, __global float *g7, int want, int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	__global float *const g[8] = {g0, g1, g2, g3, g4, g5, g6, g7};
	const float d = FUSED_MASK(float, gy[i], y[i]);
#pragma unroll
	for (int k = 0; k < NIN; k++)
		if (want & (1 << k))
			g[k][i] = d;
}

/* dst[r * dst_stride + dst_off + j] = src[r * src_stride + src_off + j] */
__kernel void merge_copy_rows(__global const float *src, int src_stride, int src_off, __global float *dst,
			      int dst_stride, int dst_off, int width, int rows)
{
	int j = get_global_id(0), r = get_global_id(1);
	if (j >= width || r >= rows)
		return;
	dst[r * dst_stride + dst_off + j] = src[r * src_stride + src_off + j];
}
