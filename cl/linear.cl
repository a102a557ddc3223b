/* linear (torch.nn.Linear): x (N, in), weight [out][in], y (N, out) row-major. The products run through
 * the GEMM of cl/gemm.cl, the forward's bias and fused activation too (clcnn_gemm_args.bias, .act);
 * these kernels reduce the bias gradient over the batch in a fixed order per output (no atomics),
 * one with a fused activation's mask applied first. */

/* Work-items own LVW adjacent output features (the columns of gy): 16 on CPUs, as one vector, so that
 * a row's 16 floats are one load (the last work-item's ragged columns go one by one, in the same
 * order); 1 on GPUs, where neighbouring work-items then read neighbouring floats. */
#ifndef LVW
#define LVW 16
#endif
#if LVW == 16
#define LVEC float16
#define LLOAD(p) vload16(0, p)
#define LSTORE(v, p) vstore16(v, 0, p)
#else
#define LVEC float
#define LLOAD(p) (*(p))
#define LSTORE(v, p) (*(p) = (v))
#endif

/* gb[o] = sum over n in order of gy[n][o]. */
__kernel void linear_bias_grad(__global const float *gy, __global float *gb, int N, int out)
{
	const int o = get_global_id(0) * LVW;
	if (o >= out)
		return;
	if (o + LVW <= out) {
		LVEC acc = 0.0f;
		for (int n = 0; n < N; n++)
			acc += LLOAD(gy + n * out + o);
		LSTORE(acc, gb + o);
		return;
	}
	for (int j = o; j < out; j++) {
		float acc = 0.0f;
		for (int n = 0; n < N; n++)
			acc += gy[n * out + j];
		gb[j] = acc;
	}
}

/*
 * Backward of a linear layer with a fused activation (src/ops/op.h; FUSE 1 relu, 2 leaky_relu with the
 * slope FUSE_SLOPE): gm = dy masked by the sign of the layer's output y, in the formulas of act_df of
 * cl/activation.cl (relu: 0 where y <= 0, NaN passes dy; leaky_relu: dy * slope where not y > 0), and
 * with BIAS gb[o] = sum over n in order of gm[n][o] (the sums of linear_bias_grad). One work-item per
 * LVW output features, as linear_bias_grad.
 */
#ifndef BIAS
#define BIAS 0
#endif
__kernel void linear_act_grad(__global const float *y, __global const float *gy, __global float *gm,
			      __global float *gb, int N, int out)
{
	const int o = get_global_id(0) * LVW;
	if (o >= out)
		return;
	if (o + LVW <= out) {
		LVEC acc = 0.0f;
		for (int n = 0; n < N; n++) {
			const LVEC g = FUSED_MASK(LVEC, LLOAD(gy + n * out + o), LLOAD(y + n * out + o));
			LSTORE(g, gm + n * out + o);
			acc += g;
		}
		if (BIAS)
			LSTORE(acc, gb + o);
		return;
	}
	for (int j = o; j < out; j++) {
		float acc = 0.0f;
		for (int n = 0; n < N; n++) {
			const float g = FUSED_MASK(float, gy[n * out + j], y[n * out + j]);
			gm[n * out + j] = g;
			acc += g;
		}
		if (BIAS)
			gb[j] = acc;
	}
}
