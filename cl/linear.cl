/* linear (torch.nn.Linear): x (N, in), weight [out][in], y (N, out) row-major. The products run through
 * the GEMM of cl/gemm.cl; these kernels add the bias (pre-filled, then the GEMM accumulates with beta = 1)
 * and reduce its gradient over the batch in a fixed order per output (no atomics). */

/* y[n][o] = b[o]. Global (N * out). */
__kernel void linear_bias_fill(__global float *y, __global const float *b, int out, int total)
{
	const int i = get_global_id(0);
	if (i < total)
		y[i] = b[i % out];
}

/* gb[o] = sum over n in order of gy[n][o]. Global (out): neighbouring work-items read neighbouring columns. */
__kernel void linear_bias_grad(__global const float *gy, __global float *gb, int N, int out)
{
	const int o = get_global_id(0);
	if (o >= out)
		return;
	float acc = 0.0f;
	for (int n = 0; n < N; n++)
		acc += gy[n * out + o];
	gb[o] = acc;
}
