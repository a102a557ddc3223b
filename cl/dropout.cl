/* dropout and gaussian_noise: elementwise over the flat tensor, one work-item per element.
 * The random numbers are clcnn_uniform(seed, first + i) (common.cl), identical to the C reference's;
 * first is the global index of the batch's first element (data parallel: a member's part of a
 * batch draws what one process running the whole batch draws). The mask is recomputed from the
 * same draws in backward rather than stored. Gaussian draws: Box-Muller from draws 2j, 2j+1. */

/* y = x * scale where clcnn_uniform(seed, first + i) >= p, else 0 (forward x -> y and backward dy -> dx). */
__kernel void dropout_apply(__global const float *x, __global float *y, uint seed, uint first, float p, float scale,
			    int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	y[i] = clcnn_uniform(seed, first + (uint)i) < p ? 0.0f : x[i] * scale;
}

/* y = x + sigma * sqrt(-2 log(1 - u1)) * cos(2 pi u2); 1 - u1 is exact and in (0, 1]; cospi of the
 * exact 2 * u2 avoids rounding 2 pi. */
__kernel void gaussian_noise_add(__global const float *x, __global float *y, uint seed, uint first, float sigma,
				 int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	uint j = first + (uint)i;
	float u1 = clcnn_uniform(seed, 2u * j), u2 = clcnn_uniform(seed, 2u * j + 1u);
	y[i] = fma(sigma, sqrt(-2.0f * log(1.0f - u1)) * cospi(2.0f * u2), x[i]);
}
