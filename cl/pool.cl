/* Pooling (max / average / global / blur) over NCHW float planes; the range is (x, y, plane), so no
 * index is divided by a runtime size. Forward: one work-item per output; backward: one per input,
 * gathering from just the windows that can hold it (no atomics, fixed summation order). Geometry
 * (KH..DW, blur FS / BS / PAD_MODE) comes as -D defines. Max pooling saves the argmax (index in the
 * plane) for backward; ties go to the first maximum in scan order, as in PyTorch. */

#ifndef KH
#define KH 2
#endif
#ifndef KW
#define KW 2
#endif
#ifndef SH
#define SH 2
#endif
#ifndef SW
#define SW 2
#endif
#ifndef PH
#define PH 0
#endif
#ifndef PW
#define PW 0
#endif
#ifndef DH
#define DH 1
#endif
#ifndef DW
#define DW 1
#endif
#ifndef COUNT_PAD
#define COUNT_PAD 1
#endif
#ifndef DIVISOR
#define DIVISOR 0
#endif

/* ------------------------------------------------------------------ max pooling */

/* PyTorch's rule (CPU and CUDA): `val > max || isnan(val)`, so the first maximum in scan order wins
 * and a NaN propagates. The initial index is the first in-bounds element, as in PyTorch.
 * Every tap is needed anyway, so loads use clamped indices and out-of-bounds taps are masked
 * (branch-free; measured faster than skipping on POCL). */
__kernel void maxpool_fwd(__global const float *x, __global float *y, __global int *arg, int H, int W, int OH,
			  int OW)
{
	int ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
	if (ow >= OW || oh >= OH)
		return;
	size_t o = ((size_t)nc * OH + oh) * OW + ow;
	int h0 = oh * SH - PH, w0 = ow * SW - PW;
	__global const float *xp = x + (size_t)nc * H * W;
	float best = -INFINITY;
	int bi = -1;
	for (int i = 0; i < KH; i++) {
		int ih = h0 + i * DH;
		int inh = (ih >= 0) & (ih < H), ch = clamp(ih, 0, H - 1);
		for (int j = 0; j < KW; j++) {
			int iw = w0 + j * DW;
			int idx = ch * W + clamp(iw, 0, W - 1);
			float v = xp[idx];
			int take = inh & (iw >= 0) & (iw < W) & ((bi < 0) | (v > best) | isnan(v));
			best = take ? v : best;
			bi = take ? idx : bi;
		}
	}
	y[o] = best;
	arg[o] = bi;
}

/* First and last window start (in strides) whose span (K-1)*D+1 can cover coordinate a + P;
 * clamped to the output. Backward gathers loop over just these (CPU devices run work-items as
 * scalar code, so skipping impossible taps beats masking them). */
inline int first_window(int t, int s)
{
	return t > 0 ? (t + s - 1) / s : 0;
}

/* Gather: every window that may hold (ih, iw); the saved argmax decides (no tap test needed). */
__kernel void maxpool_bwd(__global const float *gy, __global const int *arg, __global float *gx, int H, int W,
			  int OH, int OW)
{
	int iw = get_global_id(0), ih = get_global_id(1), nc = get_global_id(2);
	if (iw >= W || ih >= H)
		return;
	size_t e = ((size_t)nc * H + ih) * W + iw;
	int self = ih * W + iw;
	size_t base = (size_t)nc * OH * OW;
	float acc = 0.0f;
	int oh1 = min((ih + PH) / SH, OH - 1), ow1 = min((iw + PW) / SW, OW - 1);
	int ow0 = first_window(iw + PW - (KW - 1) * DW, SW);
	for (int oh = first_window(ih + PH - (KH - 1) * DH, SH); oh <= oh1; oh++)
		for (int ow = ow0; ow <= ow1; ow++) {
			size_t o = base + oh * OW + ow;
			if (arg[o] == self)
				acc += gy[o];
		}
	gx[e] = acc;
}

/* ------------------------------------------------------------------ average pooling */

/* PyTorch's divisor: the window clipped to the padded input (count_include_pad), or to the real
 * input, or divisor_override. */
inline int avg_divisor(int oh, int ow, int H, int W)
{
	int h0 = oh * SH - PH, w0 = ow * SW - PW;
	int h1 = min(h0 + KH, H + PH), w1 = min(w0 + KW, W + PW);
	if (DIVISOR)
		return DIVISOR;
	if (COUNT_PAD)
		return (h1 - h0) * (w1 - w0);
	return (min(h1, H) - max(h0, 0)) * (min(w1, W) - max(w0, 0));
}

__kernel void avgpool_fwd(__global const float *x, __global float *y, int H, int W, int OH, int OW)
{
	int ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
	if (ow >= OW || oh >= OH)
		return;
	size_t o = ((size_t)nc * OH + oh) * OW + ow;
	int h0 = oh * SH - PH, w0 = ow * SW - PW;
	__global const float *xp = x + (size_t)nc * H * W;
	float sum = 0.0f;
	/* masked taps on clamped loads (branch-free); a window always holds a real element (setup
	 * bounds padding by kernel/2 and ceil_mode drops windows starting in the right padding) */
	for (int i = 0; i < KH; i++) {
		int ih = h0 + i;
		int inh = (ih >= 0) & (ih < H), ch = clamp(ih, 0, H - 1);
		for (int j = 0; j < KW; j++) {
			int iw = w0 + j;
			float v = xp[ch * W + clamp(iw, 0, W - 1)];
			sum += (inh & (iw >= 0) & (iw < W)) ? v : 0.0f;
		}
	}
	y[o] = sum / (float)avg_divisor(oh, ow, H, W);
}

__kernel void avgpool_bwd(__global const float *gy, __global float *gx, int H, int W, int OH, int OW)
{
	int iw = get_global_id(0), ih = get_global_id(1), nc = get_global_id(2);
	if (iw >= W || ih >= H)
		return;
	size_t e = ((size_t)nc * H + ih) * W + iw;
	__global const float *gp = gy + (size_t)nc * OH * OW;
	float acc = 0.0f;
	int oh1 = min((ih + PH) / SH, OH - 1), ow1 = min((iw + PW) / SW, OW - 1);
	int ow0 = first_window(iw + PW - (KW - 1), SW);
	for (int oh = first_window(ih + PH - (KH - 1), SH); oh <= oh1; oh++)
		for (int ow = ow0; ow <= ow1; ow++)
			acc += gp[oh * OW + ow] / (float)avg_divisor(oh, ow, H, W);
	gx[e] = acc;
}

/* ------------------------------------------------------------------ global pooling (one plane per item) */

__kernel void global_avg_fwd(__global const float *x, __global float *y, int HW, int planes)
{
	int p = get_global_id(0);
	if (p >= planes)
		return;
	__global const float *xp = x + (size_t)p * HW;
	/* 8 interleaved partial sums: a shorter dependency chain and ~8x less rounding growth */
	float8 acc = 0.0f;
	int i = 0;
	for (; i + 8 <= HW; i += 8)
		acc += vload8(0, xp + i);
	float4 a4 = acc.lo + acc.hi;
	float sum = (a4.x + a4.y) + (a4.z + a4.w);
	for (; i < HW; i++)
		sum += xp[i];
	y[p] = sum / (float)HW;
}

/* Range (element in plane, 1, plane). */
__kernel void global_avg_bwd(__global const float *gy, __global float *gx, int HW)
{
	int i = get_global_id(0), p = get_global_id(2);
	if (i < HW)
		gx[(size_t)p * HW + i] = gy[p] / (float)HW;
}

__kernel void global_max_fwd(__global const float *x, __global float *y, __global int *arg, int HW, int planes)
{
	int p = get_global_id(0);
	if (p >= planes)
		return;
	__global const float *xp = x + (size_t)p * HW;
	float best = xp[0];
	int bi = 0;
	for (int i = 1; i < HW; i++) {
		float v = xp[i];
		if (v > best || isnan(v)) {
			best = v;
			bi = i;
		}
	}
	y[p] = best;
	arg[p] = bi;
}

__kernel void global_max_bwd(__global const float *gy, __global const int *arg, __global float *gx, int HW)
{
	int i = get_global_id(0), p = get_global_id(2);
	if (i < HW)
		gx[(size_t)p * HW + i] = i == arg[p] ? gy[p] : 0.0f;
}

/* ------------------------------------------------------------------ blur pooling (Zhang 2019) */

#ifndef FS
#define FS 3
#endif
#ifndef BS
#define BS 2
#endif
/* Padding before / after the input, as in the reference: ((FS-1)/2, ceil((FS-1)/2)). */
#define BPA ((FS - 1) / 2)
#define BPB (FS / 2)
#define PAD_REFLECT 0
#define PAD_REPLICATE 1
#define PAD_ZERO 2
#ifndef PAD_MODE
#define PAD_MODE PAD_REFLECT
#endif

/* Rows of Pascal's triangle divided by 2^(FS-1): exact in float, so the 2-D tap is exact too. */
__constant float blur_taps[7][7] = {
	{1.0f},
	{1.0f / 2, 1.0f / 2},
	{1.0f / 4, 2.0f / 4, 1.0f / 4},
	{1.0f / 8, 3.0f / 8, 3.0f / 8, 1.0f / 8},
	{1.0f / 16, 4.0f / 16, 6.0f / 16, 4.0f / 16, 1.0f / 16},
	{1.0f / 32, 5.0f / 32, 10.0f / 32, 10.0f / 32, 5.0f / 32, 1.0f / 32},
	{1.0f / 64, 6.0f / 64, 15.0f / 64, 20.0f / 64, 15.0f / 64, 6.0f / 64, 1.0f / 64},
};

/* Padded coordinate q (-BPA .. n-1+BPB) to the input index it reads, or -1 for a zero. */
inline int blur_src(int q, int n)
{
	if (q >= 0 && q < n)
		return q;
#if PAD_MODE == PAD_REFLECT
	return q < 0 ? -q : 2 * (n - 1) - q;
#elif PAD_MODE == PAD_REPLICATE
	return q < 0 ? 0 : n - 1;
#else
	return -1;
#endif
}

/* Every padded coordinate q that reads input index a (at most FS of them); returns the count. */
inline int blur_sources_of(int a, int n, int *q)
{
	int c = 0;
	(void)n;
#if PAD_MODE == PAD_REPLICATE
	int lo = a == 0 ? -BPA : a, hi = a == n - 1 ? n - 1 + BPB : a;
	for (int v = lo; v <= hi; v++)
		q[c++] = v;
#else
	q[c++] = a;
#endif
#if PAD_MODE == PAD_REFLECT
	if (a > 0 && a <= BPA)
		q[c++] = -a;
	if (a < n - 1 && n - 1 - a <= BPB)
		q[c++] = 2 * (n - 1) - a;
#endif
	return c;
}

__kernel void blurpool_fwd(__global const float *x, __global float *y, int H, int W, int OH, int OW)
{
	int ow = get_global_id(0), oh = get_global_id(1), nc = get_global_id(2);
	if (ow >= OW || oh >= OH)
		return;
	size_t o = ((size_t)nc * OH + oh) * OW + ow;
	__global const float *xp = x + (size_t)nc * H * W;
	float sum = 0.0f;
	for (int i = 0; i < FS; i++) {
		int ih = blur_src(oh * BS - BPA + i, H);
		float row = 0.0f;
		for (int j = 0; j < FS; j++) {
			int iw = blur_src(ow * BS - BPA + j, W);
			float v = xp[max(ih, 0) * W + max(iw, 0)];
			row += blur_taps[FS - 1][j] * (iw >= 0 ? v : 0.0f);
		}
		sum += blur_taps[FS - 1][i] * (ih >= 0 ? row : 0.0f);
	}
	y[o] = sum;
}

/* Gather: for each padded coordinate q that reads this input, the windows o whose tap q - o*BS
 * lands on it (CPU devices run work-items as scalar code: visit only those). */
__kernel void blurpool_bwd(__global const float *gy, __global float *gx, int H, int W, int OH, int OW)
{
	int iw = get_global_id(0), ih = get_global_id(1), nc = get_global_id(2);
	if (iw >= W || ih >= H)
		return;
	size_t e = ((size_t)nc * H + ih) * W + iw;
	__global const float *gp = gy + (size_t)nc * OH * OW;
	int qh[FS], qw[FS];
	int nh = blur_sources_of(ih, H, qh), nw = blur_sources_of(iw, W, qw);
	float acc = 0.0f;
	for (int u = 0; u < nh; u++) {
		int ph = qh[u] + BPA, oh1 = min(ph / BS, OH - 1);
		for (int oh = ph >= FS ? (ph - FS + BS) / BS : 0; oh <= oh1; oh++) {
			__global const float *grow = gp + oh * OW;
			float row = 0.0f;
			for (int v = 0; v < nw; v++) {
				int pw = qw[v] + BPA, ow1 = min(pw / BS, OW - 1);
				for (int ow = pw >= FS ? (pw - FS + BS) / BS : 0; ow <= ow1; ow++)
					row += blur_taps[FS - 1][pw - ow * BS] * grow[ow];
			}
			acc += blur_taps[FS - 1][ph - oh * BS] * row;
		}
	}
	gx[e] = acc;
}
