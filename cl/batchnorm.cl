/* batchnorm: x viewed as (N, C, S), S = H*W (1 for (N, F)), each (n, c) plane of S floats contiguous.
 * Deterministic two-level reductions: a work-item per plane reduces it in float8 lanes (mean, then
 * squared deviations); a work-item per channel merges the N planes in order (Chan et al.). S = 1:
 * channel work-items walk the batch, 8 features at a time when C % 8 == 0. Elementwise kernels take
 * a plane in float16 vectors (S = 1: FV values of a row). state = [mean[C], invstd[C]]. Defines: C, S, AFFINE.
 * GPUs (-DBN_WG=items, S > 1): a work-group per plane reduces it with clcnn_group_sum (a fixed tree),
 * and the elementwise kernels take one element per work-item, so loads coalesce. */

#ifndef C
#define C 1
#endif
#ifndef S
#define S 1
#endif
#ifndef AFFINE
#define AFFINE 1
#endif


#if S == 1 && C % 8 == 0
#define FV 8
#define fvec float8
#define FLOAD(p) vload8(0, p)
#define FSTORE(v, p) vstore8(v, 0, p)
#else
#define FV 1
#define fvec float
#define FLOAD(p) (*(p))
#define FSTORE(v, p) (*(p) = (v))
#endif

/* Mean and sum of squared deviations of each plane: part[2p], part[2p + 1]. */
__kernel void bn_plane_stats(__global const float *x, __global float *part, int planes)
{
	int p = get_global_id(0);
	if (p >= planes)
		return;
	__global const float *xp = x + p * S;
	float8 acc = 0.0f;
	int i = 0;
	for (; i + 8 <= S; i += 8)
		acc += vload8(0, xp + i);
	float sum = clcnn_hsum8(acc);
	for (; i < S; i++)
		sum += xp[i];
	float mean = sum / (float)S;
	float8 acc2 = 0.0f, m8 = (float8)mean;
	for (i = 0; i + 8 <= S; i += 8) {
		float8 d = vload8(0, xp + i) - m8;
		acc2 = fma(d, d, acc2);
	}
	float m2 = clcnn_hsum8(acc2);
	for (; i < S; i++) {
		float d = xp[i] - mean;
		m2 = fma(d, d, m2);
	}
	part[2 * p] = mean;
	part[2 * p + 1] = m2;
}

/*
 * Per channel: the statistics to normalise with -> state. mode (batchnorm.h): the running statistics,
 * the batch's, or the batch's and update of the running ones with momentum (< 0: cumulative average,
 * factor 1 / (num_batches_tracked + 1); bn_normalize increments the counter afterwards).
 */
__kernel void bn_channel_stats(__global const float *x, __global const float *part, __global float *state,
			       __global float *rmean, __global float *rvar, __global const float *nbt, int n,
			       float eps, float momentum, int mode)
{
	int c = get_global_id(0) * FV;
	if (c >= C)
		return;
	fvec mean, var;
	if (mode == BN_STATS_RUNNING) {
		mean = FLOAD(rmean + c);
		var = FLOAD(rvar + c);
	} else {
		fvec m2 = 0.0f;
#if S == 1
		fvec sum = 0.0f;
		for (int i = 0; i < n; i++)
			sum += FLOAD(x + i * C + c);
		mean = sum / (float)n;
		for (int i = 0; i < n; i++) {
			fvec d = FLOAD(x + i * C + c) - mean;
			m2 = fma(d, d, m2);
		}
#else
		/* merging plane i+1 (count S) into i planes: delta / (i+1), delta^2 * S * i / (i+1) */
		mean = 0.0f;
		for (int i = 0; i < n; i++) {
			float pm = part[2 * (i * C + c)], pm2 = part[2 * (i * C + c) + 1];
			float d = pm - mean, r = 1.0f / (float)(i + 1);
			mean = fma(d, r, mean);
			m2 += pm2 + d * d * ((float)S * (float)i * r);
		}
#endif
		if (mode == BN_STATS_LOCAL) {
			FSTORE(mean, state + c);
			FSTORE(m2, state + C + c);
			return;
		}
		float m = (float)n * (float)S;
		var = m2 / m;
		if (mode == BN_STATS_UPDATE) {
			float f = momentum < 0.0f ? 1.0f / (nbt[0] + 1.0f) : momentum;
			FSTORE((1.0f - f) * FLOAD(rmean + c) + f * mean, rmean + c);
			FSTORE((1.0f - f) * FLOAD(rvar + c) + f * (m2 / (m - 1.0f)), rvar + c);
		}
	}
	FSTORE(mean, state + c);
	FSTORE(rsqrt(var + eps), state + C + c);
}

/*
 * sync_bn: the running statistics move towards the global batch's mean and unbiased variance,
 * stats = [mean[C], var[C]] merged on the host; the same formula as bn_channel_stats.
 */
__kernel void bn_running_update(__global const float *stats, __global float *rmean, __global float *rvar,
				__global const float *nbt, float momentum)
{
	int c = get_global_id(0) * FV;
	if (c >= C)
		return;
	float f = momentum < 0.0f ? 1.0f / (nbt[0] + 1.0f) : momentum;
	FSTORE((1.0f - f) * FLOAD(rmean + c) + f * FLOAD(stats + c), rmean + c);
	FSTORE((1.0f - f) * FLOAD(rvar + c) + f * FLOAD(stats + C + c), rvar + c);
}

#if AFFINE
#define BN_W(c) FLOAD(w + (c))
#define BN_B(c) FLOAD(b + (c))
#define BN_W1(c) w[c] /* one channel's, in the per-plane kernels */
#define BN_B1(c) b[c]
#else
#define BN_W(c) 1.0f
#define BN_B(c) ((fvec)0.0f)
#define BN_W1(c) 1.0f
#define BN_B1(c) 0.0f
#endif

/*
 * Operator fusion (src/ops/op.h, struct clcnn_fused_act): FUSE 1 applies relu to y, FUSE 2
 * leaky_relu with slope FUSE_SLOPE (a float literal, slope >= 0), in the formulas of act_f and
 * act_df of cl/activation.cl, so the floats are those of the separate pass. Backward masks dy by
 * the pre-activation t = fma(x - mean, invstd * w, b), recomputed from x exactly as forward computed
 * it: relu's gradient is 0 where its output <= 0, i.e. where t <= 0 (-0 and t < 0; NaN passes dy),
 * leaky_relu's is dy where its output > 0, i.e. t > 0. The output itself need not be kept.
 */
#define BN_ACT(T, t) FUSED_ACT(T, t)
#define BN_MASK(T, g, xv, mean, a, sh) FUSED_MASK(T, g, fma((xv) - (mean), a, sh))

/*
 * y = (x - mean) * (invstd * w) + b; the subtraction first keeps precision when |mean| >> std.
 * Grid: (N * C) planes, each in float16 vectors, for S > 1; (C / FV, N) for S = 1.
 */
__kernel void bn_normalize(__global const float *x, __global float *y, __global const float *state,
			   __global const float *w, __global const float *b, __global float *nbt, int rows,
			   int bump)
{
#if S == 1
	int q = get_global_id(0), p = get_global_id(1);
	if (bump && q == 0 && p == 0)
		nbt[0] += 1.0f;
	int c = q * FV, i = p * C + c;
	if (c >= C || p >= rows)
		return;
	fvec t = fma(FLOAD(x + i) - FLOAD(state + c), FLOAD(state + C + c) * BN_W(c), BN_B(c));
	FSTORE(BN_ACT(fvec, t), y + i);
#else
	int p = get_global_id(0);
	if (bump && p == 0)
		nbt[0] += 1.0f;
	if (p >= rows)
		return;
	int c = p % C;
	float mean = state[c], a = state[C + c] * BN_W(c), sh = BN_B(c);
	__global const float *xp = x + p * S;
	__global float *yp = y + p * S;
	int i = 0;
	for (; i + 16 <= S; i += 16) {
		float16 t = fma(vload16(0, xp + i) - (float16)mean, (float16)a, (float16)sh);
		vstore16(BN_ACT(float16, t), 0, yp + i);
	}
	for (; i < S; i++) {
		float t = fma(xp[i] - mean, a, sh);
		yp[i] = BN_ACT(float, t);
	}
#endif
}

/* Per plane: sum of dy and of dy * (x - mean) -> part[2p], part[2p + 1]; w, b for FUSE. */
__kernel void bn_plane_grad(__global const float *x, __global const float *dy, __global const float *state,
			    __global const float *w, __global const float *b, __global float *part, int planes)
{
	int p = get_global_id(0);
	if (p >= planes)
		return;
	int c = p % C;
	__global const float *xp = x + p * S, *gp = dy + p * S;
	float mean = state[c], k = state[C + c] * BN_W1(c), sh = BN_B1(c);
	float8 a = 0.0f, bsum = 0.0f, m8 = (float8)mean;
	int i = 0;
	for (; i + 8 <= S; i += 8) {
		float8 xv = vload8(0, xp + i), g0 = vload8(0, gp + i);
		float8 g = BN_MASK(float8, g0, xv, m8, (float8)k, (float8)sh);
		a += g;
		bsum = fma(g, xv - m8, bsum);
	}
	float sdy = clcnn_hsum8(a), sdyx = clcnn_hsum8(bsum);
	for (; i < S; i++) {
		float g = BN_MASK(float, gp[i], xp[i], mean, k, sh);
		sdy += g;
		sdyx = fma(g, xp[i] - mean, sdyx);
	}
	part[2 * p] = sdy;
	part[2 * p + 1] = sdyx;
}

/*
 * Per channel: merge the planes in order into sum(dy) and sum(dy * xhat); dw, db (when wanted) and
 * sums[c], sums[C + c] for bn_input_grad. sums sit after the per-plane partials in scratch.
 */
__kernel void bn_channel_grad(__global const float *x, __global const float *dy, __global const float *state,
			      __global const float *w, __global const float *b, __global float *scratch,
			      __global float *dw, __global float *db, int n)
{
	int c = get_global_id(0) * FV;
	if (c >= C)
		return;
	fvec sdy = 0.0f, sdyx = 0.0f;
#if S == 1
	fvec mean = FLOAD(state + c), k = FLOAD(state + C + c) * BN_W(c), sh = BN_B(c);
	for (int i = 0; i < n; i++) {
		fvec xv = FLOAD(x + i * C + c), g0 = FLOAD(dy + i * C + c), g = BN_MASK(fvec, g0, xv, mean, k, sh);
		sdy += g;
		sdyx = fma(g, xv - mean, sdyx);
	}
#else
	for (int i = 0; i < n; i++) {
		sdy += scratch[2 * (i * C + c)];
		sdyx += scratch[2 * (i * C + c) + 1];
	}
#endif
	sdyx *= FLOAD(state + C + c);
	__global float *sums = scratch + 2 * n * C;
	FSTORE(sdy, sums + c);
	FSTORE(sdyx, sums + C + c);
	if (dw)
		FSTORE(sdyx, dw + c);
	if (db)
		FSTORE(sdy, db + c);
}

/*
 * dx. batch statistics: w * invstd * (dy - sum(dy) / m - xhat * sum(dy * xhat) / m);
 * running statistics (batch == 0): w * invstd * dy. Grid as bn_normalize.
 */
__kernel void bn_input_grad(__global const float *x, __global const float *dy, __global const float *state,
			    __global const float *w, __global const float *b, __global const float *scratch,
			    __global float *dx, int rows, int batch, float inv_m)
{
#if S == 1
	int q = get_global_id(0), p = get_global_id(1);
	int c = q * FV, i = p * C + c, n = rows;
	if (c >= C || p >= rows)
		return;
	__global const float *sums = scratch + 2 * n * C;
	fvec mean = FLOAD(state + c), invstd = FLOAD(state + C + c), k1 = invstd * BN_W(c);
	fvec mdy = batch ? FLOAD(sums + c) * inv_m : (fvec)0.0f;
	fvec k2 = batch ? FLOAD(sums + C + c) * inv_m * invstd : (fvec)0.0f;
	fvec xv = FLOAD(x + i), g0 = FLOAD(dy + i), g = BN_MASK(fvec, g0, xv, mean, k1, BN_B(c));
	FSTORE(k1 * (g - mdy - (xv - mean) * k2), dx + i);
#else
	int p = get_global_id(0);
	if (p >= rows)
		return;
	int c = p % C, n = rows / C;
	__global const float *sums = scratch + 2 * n * C;
	float mean = state[c], invstd = state[C + c], k1 = invstd * BN_W(c);
	float mdy = batch ? sums[c] * inv_m : 0.0f, k2 = batch ? sums[C + c] * inv_m * invstd : 0.0f;
	__global const float *xp = x + p * S, *gp = dy + p * S;
	__global float *dp = dx + p * S;
	float sh = BN_B(c);
	int i = 0;
	for (; i + 16 <= S; i += 16) {
		float16 x16 = vload16(0, xp + i), xv = x16 - (float16)mean, g0 = vload16(0, gp + i);
		float16 g = BN_MASK(float16, g0, x16, (float16)mean, (float16)k1, (float16)sh);
		vstore16((float16)k1 * (g - (float16)mdy - xv * (float16)k2), 0, dp + i);
	}
	for (; i < S; i++) {
		float g = BN_MASK(float, gp[i], xp[i], mean, k1, sh);
		dp[i] = k1 * (g - mdy - (xp[i] - mean) * k2);
	}
#endif
}

/* ---------------------------------------------------------------- GPU: a work-group per plane */

#ifdef BN_WG
/* bn_plane_stats with the BN_WG items of group p striding through plane p. */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1))) void
bn_plane_stats_wg(__global const float *x, __global float *part, int planes)
{
	__local float red[BN_WG];
	const int p = GROUP_ID(0), l = get_local_id(0);
	if (p >= planes)
		return; /* the whole group: p is the group's */
	__global const float *xp = x + p * S;
	float sum = 0.0f;
	for (int i = l; i < S; i += BN_WG)
		sum += xp[i];
	const float mean = clcnn_group_sum(red, sum) / (float)S;
	float m2 = 0.0f;
	for (int i = l; i < S; i += BN_WG) {
		const float d = xp[i] - mean;
		m2 = fma(d, d, m2);
	}
	m2 = clcnn_group_sum(red, m2);
	if (l == 0) {
		part[2 * p] = mean;
		part[2 * p + 1] = m2;
	}
}

/* bn_plane_grad with the BN_WG items of group p striding through plane p. */
__kernel __attribute__((reqd_work_group_size(BN_WG, 1, 1))) void
bn_plane_grad_wg(__global const float *x, __global const float *dy, __global const float *state,
		 __global const float *w, __global const float *b, __global float *part, int planes)
{
	__local float red[BN_WG];
	const int p = GROUP_ID(0), l = get_local_id(0);
	if (p >= planes)
		return;
	__global const float *xp = x + p * S, *gp = dy + p * S;
	const int c = p % C;
	const float mean = state[c], k = state[C + c] * BN_W1(c), sh = BN_B1(c);
	float sdy = 0.0f, sdyx = 0.0f;
	for (int i = l; i < S; i += BN_WG) {
		const float g = BN_MASK(float, gp[i], xp[i], mean, k, sh);
		sdy += g;
		sdyx = fma(g, xp[i] - mean, sdyx);
	}
	sdy = clcnn_group_sum(red, sdy);
	sdyx = clcnn_group_sum(red, sdyx);
	if (l == 0) {
		part[2 * p] = sdy;
		part[2 * p + 1] = sdyx;
	}
}

/* bn_normalize for GPUs, S > 1: one element per work-item (rows planes of S). */
__kernel void bn_normalize_flat(__global const float *x, __global float *y, __global const float *state,
				__global const float *w, __global const float *b, __global float *nbt, int rows,
				int bump)
{
	const int i = get_global_id(0);
	if (bump && i == 0)
		nbt[0] += 1.0f;
	if (i >= rows * S)
		return;
	const int c = i / S % C;
#if AFFINE
	const float a = state[C + c] * w[c], sh = b[c];
#else
	const float a = state[C + c], sh = 0.0f;
#endif
	const float t = fma(x[i] - state[c], a, sh);
	y[i] = BN_ACT(float, t);
}

/* bn_input_grad for GPUs, S > 1: one element per work-item, the formula of bn_input_grad. */
__kernel void bn_input_grad_flat(__global const float *x, __global const float *dy, __global const float *state,
				 __global const float *w, __global const float *b, __global const float *scratch,
				 __global float *dx, int rows, int batch, float inv_m)
{
	const int i = get_global_id(0);
	if (i >= rows * S)
		return;
	const int c = i / S % C, n = rows / C;
	__global const float *sums = scratch + 2 * n * C;
	const float mean = state[c], invstd = state[C + c];
#if AFFINE
	const float k1 = invstd * w[c], sh = b[c];
#else
	const float k1 = invstd, sh = 0.0f;
#endif
	const float mdy = batch ? sums[c] * inv_m : 0.0f, k2 = batch ? sums[C + c] * inv_m * invstd : 0.0f;
	const float g = BN_MASK(float, dy[i], x[i], mean, k1, sh);
	dx[i] = k1 * (g - mdy - (x[i] - mean) * k2);
}
#endif
