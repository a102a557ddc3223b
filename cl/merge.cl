/* merge: add (sum of NIN same-shape inputs, one work-item per element, summed in input order) and
 * the strided row copy behind concat: a tensor viewed as rows x width (width = the concat dim and
 * everything after it), each input's rows copied into its column range of the output, unit stride
 * along dimension 0. */

#ifndef NIN
#define NIN 2
#endif

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
	y[i] = s;
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
