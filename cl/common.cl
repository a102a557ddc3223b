/* Prelude of every program: helpers shared by all layer families.
 * Layout is NCHW float32; kernels index with int (buffers stay below 2^31 elements). */

/* Counter-based RNG shared with the C reference (src/ops/op.c): a 32-bit hash of (seed, index). */
inline uint clcnn_hash32(uint x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* Uniform in [0, 1) with 24 bits, from (seed, stream index). */
inline float clcnn_uniform(uint seed, uint i)
{
	return (float)(clcnn_hash32(clcnn_hash32(seed) ^ (i * 0x9E3779B9U + 0x632BE5ABU)) >> 8) * (1.0f / 16777216.0f);
}

/* Smoke test for `clcnn doctor`: out[i] = i * 0.5 + 1. */
__kernel void clcnn_smoke(__global float *out, int n)
{
	int i = get_global_id(0);
	if (i < n)
		out[i] = (float)i * 0.5f + 1.0f;
}

/* y[i] = a * x[i] + b * y[i] (used for gradient accumulation and optimizers). */
__kernel void clcnn_axpby(__global const float *x, __global float *y, float a, float b, int n)
{
	int i = get_global_id(0);
	if (i < n)
		y[i] = a * x[i] + b * y[i];
}
