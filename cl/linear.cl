/* linear (torch.nn.Linear): x (N, in), weight [out][in], y (N, out) row-major. The products run through
 * the GEMM of cl/gemm.cl, the forward's bias too (clcnn_gemm_args.bias); this kernel reduces the bias
 * gradient over the batch in a fixed order per output (no atomics). */

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
