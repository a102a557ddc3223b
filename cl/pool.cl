/* Pooling: max / average / global / blur (anti-aliased) pooling over NCHW float planes.
 * One work-item per output element (forward) or per input element (backward: a gather over the
 * windows that cover it, so no atomics and a fixed summation order). Window geometry (KH, KW, SH,
 * SW, PH, PW, DH, DW, blur FS and pad mode) comes in as -D defines; plane sizes are arguments.
 * Max pooling keeps the argmax (index within the plane) for backward; ties go to the first. */

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
 * and a NaN propagates. The initial index is the first in-bounds element, as in PyTorch. */
__kernel void maxpool_fwd(__global const float *x, __global float *y, __global int *arg, int H, int W, int OH,
			  int OW, int total)
{
	int o = get_global_id(0);
	if (o >= total)
		return;
	int ow = o % OW, t = o / OW, oh = t % OH, nc = t / OH;
	int h0 = oh * SH - PH, w0 = ow * SW - PW;
	__global const float *xp = x + (size_t)nc * H * W;
	float best = -INFINITY;
	int bi = -1;
	for (int i = 0; i < KH; i++) {
		int ih = h0 + i * DH;
		if (ih < 0 || ih >= H)
			continue;
		for (int j = 0; j < KW; j++) {
			int iw = w0 + j * DW;
			if (iw < 0 || iw >= W)
				continue;
			float v = xp[ih * W + iw];
			if (bi < 0 || v > best || isnan(v)) {
				best = v;
				bi = ih * W + iw;
			}
		}
	}
	y[o] = best;
	arg[o] = bi;
}

/* Gather: input (ih, iw) sits at tap (i, j) of output (oh, ow) when oh*SH - PH + i*DH == ih. */
__kernel void maxpool_bwd(__global const float *gy, __global const int *arg, __global float *gx, int H, int W,
			  int OH, int OW, int total)
{
	int e = get_global_id(0);
	if (e >= total)
		return;
	int iw = e % W, t = e / W, ih = t % H, nc = t / H;
	int self = ih * W + iw;
	size_t base = (size_t)nc * OH * OW;
	float acc = 0.0f;
	for (int i = 0; i < KH; i++) {
		int th = ih + PH - i * DH;
		if (th < 0 || th % SH)
			continue;
		int oh = th / SH;
		if (oh >= OH)
			continue;
		for (int j = 0; j < KW; j++) {
			int tw = iw + PW - j * DW;
			if (tw < 0 || tw % SW)
				continue;
			int ow = tw / SW;
			if (ow >= OW)
				continue;
			size_t o = base + oh * OW + ow;
			if (arg[o] == self)
				acc += gy[o];
		}
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

__kernel void avgpool_fwd(__global const float *x, __global float *y, int H, int W, int OH, int OW, int total)
{
	int o = get_global_id(0);
	if (o >= total)
		return;
	int ow = o % OW, t = o / OW, oh = t % OH, nc = t / OH;
	int h0 = oh * SH - PH, w0 = ow * SW - PW;
	__global const float *xp = x + (size_t)nc * H * W;
	float sum = 0.0f;
	int rows = 0, cols = 0;
	for (int i = 0; i < KH; i++) {
		int ih = h0 + i;
		if (ih < 0 || ih >= H)
			continue;
		rows++;
		cols = 0;
		for (int j = 0; j < KW; j++) {
			int iw = w0 + j;
			if (iw < 0 || iw >= W)
				continue;
			cols++;
			sum += xp[ih * W + iw];
		}
	}
	y[o] = rows && cols ? sum / (float)avg_divisor(oh, ow, H, W) : 0.0f;
}

__kernel void avgpool_bwd(__global const float *gy, __global float *gx, int H, int W, int OH, int OW, int total)
{
	int e = get_global_id(0);
	if (e >= total)
		return;
	int iw = e % W, t = e / W, ih = t % H, nc = t / H;
	__global const float *gp = gy + (size_t)nc * OH * OW;
	float acc = 0.0f;
	for (int i = 0; i < KH; i++) {
		int th = ih + PH - i;
		if (th < 0 || th % SH)
			continue;
		int oh = th / SH;
		if (oh >= OH)
			continue;
		for (int j = 0; j < KW; j++) {
			int tw = iw + PW - j;
			if (tw < 0 || tw % SW)
				continue;
			int ow = tw / SW;
			if (ow >= OW)
				continue;
			acc += gp[oh * OW + ow] / (float)avg_divisor(oh, ow, H, W);
		}
	}
	gx[e] = acc;
}

/* ------------------------------------------------------------------ global pooling (one plane per item) */

__kernel void global_avg_fwd(__global const float *x, __global float *y, int HW, int planes)
{
	int p = get_global_id(0);
	if (p >= planes)
		return;
	__global const float *xp = x + (size_t)p * HW;
	float sum = 0.0f;
	for (int i = 0; i < HW; i++)
		sum += xp[i];
	y[p] = sum / (float)HW;
}

__kernel void global_avg_bwd(__global const float *gy, __global float *gx, int HW, int total)
{
	int e = get_global_id(0);
	if (e < total)
		gx[e] = gy[e / HW] / (float)HW;
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

__kernel void global_max_bwd(__global const float *gy, __global const int *arg, __global float *gx, int HW,
			     int total)
{
	int e = get_global_id(0);
	if (e >= total)
		return;
	int p = e / HW;
	gx[e] = e - p * HW == arg[p] ? gy[p] : 0.0f;
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

/* Every padded coordinate that reads input index a (at most FS of them); returns the count. */
inline int blur_sources_of(int a, int n, int *q)
{
	int c = 0;
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

__kernel void blurpool_fwd(__global const float *x, __global float *y, int H, int W, int OH, int OW, int total)
{
	int o = get_global_id(0);
	if (o >= total)
		return;
	int ow = o % OW, t = o / OW, oh = t % OH, nc = t / OH;
	__global const float *xp = x + (size_t)nc * H * W;
	float sum = 0.0f;
	for (int i = 0; i < FS; i++) {
		int ih = blur_src(oh * BS - BPA + i, H);
#if PAD_MODE == PAD_ZERO
		if (ih < 0)
			continue;
#endif
		float row = 0.0f;
		for (int j = 0; j < FS; j++) {
			int iw = blur_src(ow * BS - BPA + j, W);
#if PAD_MODE == PAD_ZERO
			if (iw < 0)
				continue;
#endif
			row += blur_taps[FS - 1][j] * xp[ih * W + iw];
		}
		sum += blur_taps[FS - 1][i] * row;
	}
	y[o] = sum;
}

/* Gather: for each padded coordinate that reads this input, every tap that lands on it. */
__kernel void blurpool_bwd(__global const float *gy, __global float *gx, int H, int W, int OH, int OW, int total)
{
	int e = get_global_id(0);
	if (e >= total)
		return;
	int iw = e % W, t = e / W, ih = t % H, nc = t / H;
	__global const float *gp = gy + (size_t)nc * OH * OW;
	int qh[FS], qw[FS];
	int nh = blur_sources_of(ih, H, qh), nw = blur_sources_of(iw, W, qw);
	float acc = 0.0f;
	for (int u = 0; u < nh; u++)
		for (int i = 0; i < FS; i++) {
			int th = qh[u] + BPA - i;
			if (th < 0 || th % BS || th / BS >= OH)
				continue;
			__global const float *grow = gp + (th / BS) * OW;
			float row = 0.0f;
			for (int v = 0; v < nw; v++)
				for (int j = 0; j < FS; j++) {
					int tw = qw[v] + BPA - j;
					if (tw < 0 || tw % BS || tw / BS >= OW)
						continue;
					row += blur_taps[FS - 1][j] * grow[tw / BS];
				}
			acc += blur_taps[FS - 1][i] * row;
		}
	gx[e] = acc;
}
