/* Pooling (max / average / global / blur) over NCHW float planes. Max and average: one work-item per
 * row it writes, explicit vectors along W (POCL runs work-items as scalar loops); backward gathers
 * from just the windows that can hold an input (no atomics, fixed summation order); geometry and
 * plane sizes are -D defines. Max pooling saves the argmax (index in the plane); ties go to the first
 * maximum in scan order, as in PyTorch. Global pools: one work-item per plane; blur: row kernels as
 * max and average on CPUs, one work-item per element on GPUs.
 * The host defines POOL_KERNEL_<name> to compile just the kernel it launches (programs are per shape). */

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

/* Input PIH x PIW and output POH x POW planes; one work-item per row (plane, row) of the side it
 * writes, in chunks of PV (1, 2, 4 or 8, at most the row) explicit vector lanes along W: POCL runs
 * work-items as scalar loops, so the vectors must be in the code. A row's last chunk ends at the row's
 * end and may overlap the one before (the same work-item recomputes the same values). */
#ifndef PIH
#define PIH 1
#endif
#ifndef PIW
#define PIW 1
#endif
#ifndef POH
#define POH 1
#endif
#ifndef POW
#define POW 1
#endif
#ifndef PV
#define PV 1
#endif
/* Most windows holding one input row / column: 1 when windows do not overlap (stride >= span). */
#define POOL_NWR (((KH - 1) * DH) / SH + 1)
#define POOL_NWC (((KW - 1) * DW) / SW + 1)

#if PV == 1
#define vf float
#define vi int
#define LANES 0
#define VLOADF(p) (*(p))
#define VLOADI(p) (*(p))
#define PSTORE(v, p) (*(p) = (v))
#else
#define vf CLCNN_CAT(float, PV)
#define vi CLCNN_CAT(int, PV)
#define VLOADF(p) CLCNN_CAT(vload, PV)(0, p)
#define VLOADI(p) CLCNN_CAT(vload, PV)(0, p)
#define PSTORE(v, p) CLCNN_CAT(vstore, PV)(v, 0, p)
#if PV == 2
#define LANES ((int2)(0, 1))
#elif PV == 4
#define LANES ((int4)(0, 1, 2, 3))
#else
#define LANES ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#endif
#endif

/* Vector built-ins take vector bounds here (clamp(v, (vi)lo, (vi)hi)), never the scalar-bound forms:
 * Oclgrind 21.10 computes clamp(int4, int, int) and min(int4, int) wrongly. */

/* p[idx] lane by lane (idx in range), for float and int tables. */
#if PV == 1
#define GATHER_LANES(p, idx) (p[idx])
#elif PV == 2
#define GATHER_LANES(p, idx) (p[idx.s0], p[idx.s1])
#elif PV == 4
#define GATHER_LANES(p, idx) (p[idx.s0], p[idx.s1], p[idx.s2], p[idx.s3])
#else
#define GATHER_LANES(p, idx) (p[idx.s0], p[idx.s1], p[idx.s2], p[idx.s3], p[idx.s4], p[idx.s5], p[idx.s6], p[idx.s7])
#endif
inline vf gather_f(__global const float *p, vi idx)
{
	return (vf)GATHER_LANES(p, idx);
}

inline vi gather_i(__global const int *p, vi idx)
{
	return (vi)GATHER_LANES(p, idx);
}

/* vload of 2*PV floats */
#if PV == 1
#define VLOAD2PV vload2
#elif PV == 2
#define VLOAD2PV vload4
#elif PV == 4
#define VLOAD2PV vload8
#else
#define VLOAD2PV vload16
#endif

/* row[c0 + SW * lane], every element inside the row: unit stride loads whole, stride 2 splits one
 * double-width load into even or odd lanes (reading no further than the row), others gather. */
inline vf tap_load(__global const float *row, int c0)
{
#if PV == 1
	return row[c0];
#elif SW == 1
	return VLOADF(row + c0);
#elif SW == 2
	if (c0 + 2 * PV <= PIW)
		return VLOAD2PV(0, row + c0).even;
	if (c0 >= 1)
		return VLOAD2PV(0, row + c0 - 1).odd;
	return gather_f(row, c0 + LANES * SW);
#else
	return gather_f(row, c0 + LANES * SW);
#endif
}

/* Backward chunks: stride 2 takes 2*PV inputs as PV even and PV odd lanes (POOL_PAIRS). */
#if SW == 2 && 2 * PV <= PIW
#define POOL_PAIRS 1
#define POOL_BW (2 * PV)
#else
#define POOL_PAIRS 0
#define POOL_BW PV
#endif

/* Store the chunk of POOL_BW inputs: acc0 alone, or acc0 / acc1 interleaved as even / odd lanes. */
inline void store_chunk(vf acc0, vf acc1, __global float *d)
{
#if POOL_PAIRS && PV == 1
	vstore2((float2)(acc0, acc1), 0, d);
#elif POOL_PAIRS && PV == 2
	vstore4((float4)(acc0.s0, acc1.s0, acc0.s1, acc1.s1), 0, d);
#elif POOL_PAIRS && PV == 4
	vstore8((float8)(acc0.s0, acc1.s0, acc0.s1, acc1.s1, acc0.s2, acc1.s2, acc0.s3, acc1.s3), 0, d);
#elif POOL_PAIRS
	vstore16((float16)(acc0.s0, acc1.s0, acc0.s1, acc1.s1, acc0.s2, acc1.s2, acc0.s3, acc1.s3, acc0.s4, acc1.s4,
			   acc0.s5, acc1.s5, acc0.s6, acc1.s6, acc0.s7, acc1.s7),
		 0, d);
#else
	(void)acc1;
	PSTORE(acc0, d);
#endif
}

/* A forward row kernel's work-item: output row oh of plane nc (rows = planes * POH), its input plane xp
 * and output row yp; returns past the last row. */
#define POOL_FWD_ROW(x, y) \
	const int id = get_global_id(0); \
	if (id >= rows) \
		return; \
	const int nc = id / POH, oh = id - nc * POH; \
	__global const float *xp = (x) + nc * (PIH * PIW); \
	__global float *yp = (y) + id * POW

/* Its chunks of PV outputs (the last one ending at the row's end): CHUNK(o, inside), inside when the
 * taps of every lane, columns o * STRIDE - PAD0 to (o + PV - 1) * STRIDE - PAD0 + SPAN - 1, lie in the
 * row (a literal, so that each call specialises). */
#define POOL_FWD_CHUNKS(STRIDE, PAD0, SPAN, CHUNK) \
	for (int c_ = 0; c_ < POW; c_ += PV) { \
		const int o_ = min(c_, POW - PV); \
		if (o_ * (STRIDE) - (PAD0) >= 0 && (o_ + PV - 1) * (STRIDE) - (PAD0) + (SPAN) - 1 <= PIW - 1) \
			CHUNK(o_, 1); \
		else \
			CHUNK(o_, 0); \
	}

/* ------------------------------------------------------------------ max pooling */

/* PyTorch's rule (CPU and CUDA): `val > max || isnan(val)`, so the first maximum in scan order wins
 * and a NaN propagates; the initial index is the first in-bounds element. Per chunk of PV outputs,
 * taps in scan order: out-of-range tap rows are skipped (uniform for the work-item); chunks whose
 * taps all lie inside the row load them whole, the border ones mask clamped gathers.
 * Global (planes * POH). */
#ifdef POOL_KERNEL_maxpool_fwd
/* One chunk of PV outputs at column o of output row oh; inside: every tap column lies in the row. */
inline void maxpool_chunk(__global const float *xp, int oh, int o, int inside, __global float *yp,
			  __global int *ap)
{
	vf best = (vf)(-INFINITY);
	vi bi = (vi)(-1);
#pragma unroll
	for (int i = 0; i < KH; i++) {
		const int ih = oh * SH - PH + i * DH;
		if (ih < 0 || ih >= PIH)
			continue;
		__global const float *row = xp + ih * PIW;
#pragma unroll
		for (int j = 0; j < KW; j++) {
			const int c0 = o * SW - PW + j * DW;
			const vi col = c0 + LANES * SW;
			vf v;
			vi take;
			if (inside) {
				v = tap_load(row, c0);
				take = (bi < 0) | (v > best) | isnan(v);
			} else {
				v = gather_f(row, clamp(col, (vi)(0), (vi)(PIW - 1)));
				take = (col >= 0) & (col < PIW) & ((bi < 0) | (v > best) | isnan(v));
			}
			best = select(best, v, take);
			bi = select(bi, ih * PIW + col, take);
		}
	}
	PSTORE(best, yp + o);
	PSTORE(bi, ap + o);
}

__kernel void maxpool_fwd(__global const float *x, __global float *y, __global int *arg, int rows)
{
	POOL_FWD_ROW(x, y);
	__global int *ap = arg + id * POW;
#define MAXPOOL_CHUNK(o, inside) maxpool_chunk(xp, oh, o, inside, yp, ap)
	POOL_FWD_CHUNKS(SW, PW, (KW - 1) * DW + 1, MAXPOOL_CHUNK);
}
#endif

/* Gather: an input (ih, iw) adds the gradient of every window whose saved argmax is itself. The
 * windows that can hold it are the POOL_NWR x POOL_NWC ones ending at the last window starting at
 * or before it (fewer at the edges: masked); the argmax test alone decides, so no tap test is
 * needed. Stride 1 and 2 load the windows of a chunk whole: at stride 2 a chunk is 2*PV inputs,
 * even and odd lanes each reading PV consecutive windows. Global (planes * PIH). */
#ifdef POOL_KERNEL_maxpool_bwd
/* acc + the gradients of windows base + lane of one output row whose argmax is self. */
inline vf max_windows(__global const int *ar, __global const float *gr, int base, vi self, vf acc)
{
	if (base >= 0 && base + PV <= POW)
		return acc + select((vf)(0.0f), VLOADF(gr + base), VLOADI(ar + base) == self);
	const vi ow = base + LANES, cl = clamp(ow, (vi)(0), (vi)(POW - 1));
	return acc + select((vf)(0.0f), gather_f(gr, cl), (ow >= 0) & (ow < POW) & (gather_i(ar, cl) == self));
}

__kernel void maxpool_bwd(__global const float *gy, __global const int *arg, __global float *gx, int rows)
{
	const int id = get_global_id(0);
	if (id >= rows)
		return;
	const int nc = id / PIH, ih = id - nc * PIH;
	const int ohl = (ih + PH) / SH;
	__global float *d = gx + id * PIW;
	for (int c = 0; c < PIW; c += POOL_BW) {
		const int o = min(c, PIW - POOL_BW);
		vf acc0 = (vf)(0.0f), acc1 = (vf)(0.0f);
#pragma unroll
		for (int s = POOL_NWR - 1; s >= 0; s--) {
			const int oh = ohl - s;
			if (oh < 0 || oh >= POH)
				continue;
			__global const int *ar = arg + (nc * POH + oh) * POW;
			__global const float *gr = gy + (nc * POH + oh) * POW;
#pragma unroll
			for (int t = POOL_NWC - 1; t >= 0; t--) {
#if POOL_PAIRS
				acc0 = max_windows(ar, gr, (o + PW) / 2 - t, ih * PIW + o + 2 * LANES, acc0);
				acc1 = max_windows(ar, gr, (o + 1 + PW) / 2 - t, ih * PIW + o + 1 + 2 * LANES, acc1);
#elif SW == 1
				acc0 = max_windows(ar, gr, o + PW - t, ih * PIW + o + LANES, acc0);
#else
				const vi iw = o + LANES, ow = (iw + PW) / SW - t, cl = clamp(ow, (vi)(0), (vi)(POW - 1));
				const vi hit = (ow >= 0) & (ow < POW) & (gather_i(ar, cl) == ih * PIW + iw);
				acc0 += select((vf)(0.0f), gather_f(gr, cl), hit);
#endif
			}
		}
		store_chunk(acc0, acc1, d + o);
	}
}
#endif

/* ------------------------------------------------------------------ average pooling */

#if PV == 1
#define CONVERT_VF(v) ((float)(v))
#else
#define CONVERT_VF(v) CLCNN_CAT(convert_float, PV)(v)
#endif

/* PyTorch's divisor of windows (oh, ow): the window clipped to the padded input (count_include_pad),
 * or to the real input, or divisor_override. */
inline vf avg_divisor(int oh, vi ow)
{
	const int h0 = oh * SH - PH, h1 = min(h0 + KH, PIH + PH);
	const vi w0 = ow * SW - PW, w1 = min(w0 + KW, (vi)(PIW + PW));
	if (DIVISOR)
		return (vf)(DIVISOR);
	if (COUNT_PAD)
		return CONVERT_VF((h1 - h0) * (w1 - w0));
	return CONVERT_VF((min(h1, PIH) - max(h0, 0)) * (min(w1, (vi)(PIW)) - max(w0, (vi)(0))));
}

/* Window sums per chunk in (tap row, tap column) order, then one division each (a window always
 * holds a real element: setup bounds padding by kernel/2 and ceil_mode drops windows starting in the
 * right padding). Global (planes * POH). */
#ifdef POOL_KERNEL_avgpool_fwd
inline void avgpool_chunk(__global const float *xp, int oh, int o, int inside, __global float *yp)
{
	vf sum = (vf)(0.0f);
#pragma unroll
	for (int i = 0; i < KH; i++) {
		const int ih = oh * SH - PH + i;
		if (ih < 0 || ih >= PIH)
			continue;
		__global const float *row = xp + ih * PIW;
#pragma unroll
		for (int j = 0; j < KW; j++) {
			const int c0 = o * SW - PW + j;
			const vi col = c0 + LANES * SW;
			if (inside)
				sum += tap_load(row, c0);
			else
				sum += select((vf)(0.0f), gather_f(row, clamp(col, (vi)(0), (vi)(PIW - 1))), (col >= 0) & (col < PIW));
		}
	}
	PSTORE(sum / avg_divisor(oh, o + LANES), yp + o);
}

__kernel void avgpool_fwd(__global const float *x, __global float *y, int rows)
{
	POOL_FWD_ROW(x, y);
#define AVGPOOL_CHUNK(o, inside) avgpool_chunk(xp, oh, o, inside, yp)
	POOL_FWD_CHUNKS(SW, PW, KW, AVGPOOL_CHUNK);
}
#endif

/* Gather over the windows that can hold (ih, iw), chunked as maxpool_bwd; a window holds it when the
 * tap offsets ih + PH - oh*SH and iw + PW - ow*SW are below KH and KW (at stride 1 and 2 the column
 * offset is the same for every lane of a load). Global (planes * PIH). */
#ifdef POOL_KERNEL_avgpool_bwd
/* acc + gy / divisor of windows base + lane of output row oh (past the row: masked). */
inline vf avg_windows(__global const float *gr, int oh, int base, vf acc)
{
	if (base >= 0 && base + PV <= POW)
		return acc + VLOADF(gr + base) / avg_divisor(oh, base + LANES);
	const vi ow = base + LANES, cl = clamp(ow, (vi)(0), (vi)(POW - 1));
	return acc + select((vf)(0.0f), gather_f(gr, cl) / avg_divisor(oh, cl), (ow >= 0) & (ow < POW));
}

__kernel void avgpool_bwd(__global const float *gy, __global float *gx, int rows)
{
	const int id = get_global_id(0);
	if (id >= rows)
		return;
	const int nc = id / PIH, ih = id - nc * PIH;
	const int ohl = (ih + PH) / SH;
	__global float *d = gx + id * PIW;
	for (int c = 0; c < PIW; c += POOL_BW) {
		const int o = min(c, PIW - POOL_BW);
		vf acc0 = (vf)(0.0f), acc1 = (vf)(0.0f);
#pragma unroll
		for (int s = POOL_NWR - 1; s >= 0; s--) {
			const int oh = ohl - s;
			if (oh < 0 || oh >= POH || ih + PH - oh * SH >= KH)
				continue;
			__global const float *gr = gy + (nc * POH + oh) * POW;
#pragma unroll
			for (int t = POOL_NWC - 1; t >= 0; t--) {
#if POOL_PAIRS
				const int b0 = (o + PW) / 2 - t, b1 = (o + 1 + PW) / 2 - t;
				if (o + PW - 2 * b0 < KW)
					acc0 = avg_windows(gr, oh, b0, acc0);
				if (o + 1 + PW - 2 * b1 < KW)
					acc1 = avg_windows(gr, oh, b1, acc1);
#elif SW == 1
				acc0 = avg_windows(gr, oh, o + PW - t, acc0);
#else
				const vi iw = o + LANES, ow = (iw + PW) / SW - t, cl = clamp(ow, (vi)(0), (vi)(POW - 1));
				const vi in = (ow >= 0) & (ow < POW) & (iw + PW - ow * SW < KW);
				acc0 += select((vf)(0.0f), gather_f(gr, cl) / avg_divisor(oh, cl), in);
#endif
			}
		}
		store_chunk(acc0, acc1, d + o);
	}
}
#endif

/* ------------------------------------------------------------------ global pooling (one plane per item) */

#ifdef POOL_KERNEL_global_avg_fwd
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
#endif

/* gx[p][:] = gy[p] / HW, in float8 stores. Global (planes). */
#ifdef POOL_KERNEL_global_avg_bwd
__kernel void global_avg_bwd(__global const float *gy, __global float *gx, int HW, int planes)
{
	const int p = get_global_id(0);
	if (p >= planes)
		return;
	__global float *d = gx + (size_t)p * HW;
	const float v = gy[p] / (float)HW;
	int i = 0;
	for (; i + 8 <= HW; i += 8)
		vstore8((float8)(v), 0, d + i);
	for (; i < HW; i++)
		d[i] = v;
}
#endif

/* AdaptiveMaxPool2d's scan (`v > best || isnan(v)`: the first maximum, or the last NaN) in 8 lanes
 * of interleaved elements, each keeping its own scan's winner; then the lanes combine by the same
 * rule: the last NaN if any lane has one, else the smallest index holding the largest value, then
 * the < 8 tail in order. Global (planes). */
#ifdef POOL_KERNEL_global_max_fwd
__kernel void global_max_fwd(__global const float *x, __global float *y, __global int *arg, int HW, int planes)
{
	const int p = get_global_id(0);
	if (p >= planes)
		return;
	__global const float *xp = x + (size_t)p * HW;
	float best = xp[0];
	int bi = 0, i = 0;
	if (HW >= 8) {
		float8 vb = vload8(0, xp);
		int8 vi8 = (int8)(0, 1, 2, 3, 4, 5, 6, 7), idx = vi8;
		for (i = 8; i + 8 <= HW; i += 8) {
			const float8 v = vload8(0, xp + i);
			const int8 take = (v > vb) | isnan(v);
			vb = select(vb, v, take);
			idx = select(idx, vi8 + i, take);
		}
		float lb[8];
		int li[8];
		vstore8(vb, 0, lb);
		vstore8(idx, 0, li);
		best = lb[0];
		bi = li[0];
		for (int l = 1; l < 8; l++) {
			const int nan_b = isnan(best), nan_l = isnan(lb[l]);
			const int take = nan_l ? (!nan_b || li[l] > bi) : (!nan_b && (lb[l] > best || (lb[l] == best && li[l] < bi)));
			best = take ? lb[l] : best;
			bi = take ? li[l] : bi;
		}
	} else {
		i = 1;
	}
	for (; i < HW; i++) {
		const float v = xp[i];
		if (v > best || isnan(v)) {
			best = v;
			bi = i;
		}
	}
	y[p] = best;
	arg[p] = bi;
}
#endif

/* gx[p][:] = gy[p] at the saved argmax, 0 elsewhere. Global (planes). */
#ifdef POOL_KERNEL_global_max_bwd
__kernel void global_max_bwd(__global const float *gy, __global const int *arg, __global float *gx, int HW,
			     int planes)
{
	const int p = get_global_id(0);
	if (p >= planes)
		return;
	__global float *d = gx + (size_t)p * HW;
	const float g = gy[p];
	const int a = arg[p];
	int i = 0;
	for (; i + 8 <= HW; i += 8)
		vstore8(select((float8)(0.0f), (float8)(g), (int8)(i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7) == a),
			0, d + i);
	for (; i < HW; i++)
		d[i] = i == a ? g : 0.0f;
}
#endif

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
#ifndef PAD_MODE
#define PAD_MODE BLUR_PAD_REFLECT
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
#if PAD_MODE == BLUR_PAD_REFLECT
	return q < 0 ? -q : 2 * (n - 1) - q;
#elif PAD_MODE == BLUR_PAD_REPLICATE
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
#if PAD_MODE == BLUR_PAD_REPLICATE
	int lo = a == 0 ? -BPA : a, hi = a == n - 1 ? n - 1 + BPB : a;
	for (int v = lo; v <= hi; v++)
		q[c++] = v;
#else
	q[c++] = a;
#endif
#if PAD_MODE == BLUR_PAD_REFLECT
	if (a > 0 && a <= BPA)
		q[c++] = -a;
	if (a < n - 1 && n - 1 - a <= BPB)
		q[c++] = 2 * (n - 1) - a;
#endif
	return c;
}

#ifdef POOL_KERNEL_blurpool_fwd
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
#endif

/* The gradient of input (ih, iw) of an H x W plane whose blurred OH x OW gradient is gp: for each
 * padded coordinate q that reads this input, the windows o whose tap q - o*BS lands on it (CPU devices
 * run work-items as scalar code: visit only those). */
inline float blur_grad_at(__global const float *gp, int ih, int iw, int H, int W, int OH, int OW)
{
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
	return acc;
}

/* GPU devices: one work-item per input element. */
#ifdef POOL_KERNEL_blurpool_bwd
__kernel void blurpool_bwd(__global const float *gy, __global float *gx, int H, int W, int OH, int OW)
{
	int iw = get_global_id(0), ih = get_global_id(1), nc = get_global_id(2);
	if (iw >= W || ih >= H)
		return;
	gx[((size_t)nc * H + ih) * W + iw] = blur_grad_at(gy + (size_t)nc * OH * OW, ih, iw, H, W, OH, OW);
}
#endif

/*
 * CPU devices: row kernels as max pooling's (one work-item per row it writes, PV explicit lanes along
 * the row, plane sizes PIH x PIW -> POH x POW and SW = BS as -D defines): the per-element kernels
 * above ran as scalar code with private index arrays, 10x slower. The sums run in the same order as
 * the per-element kernels, so both give the same values.
 */
#if defined(POOL_KERNEL_blurrow_fwd) || defined(POOL_KERNEL_blurrow_bwd)
/* Padded columns q of a row of n to the columns they read; *ok false where zero padding reads nothing. */
inline vi blur_src_v(vi q, int n, vi *ok)
{
#if PAD_MODE == BLUR_PAD_REFLECT
	*ok = (vi)(-1); /* every lane reads */
	q = select(q, -q, q < 0);
	return select(q, 2 * (n - 1) - q, q >= n);
#elif PAD_MODE == BLUR_PAD_REPLICATE
	*ok = (vi)(-1); /* every lane reads */
	return clamp(q, (vi)(0), (vi)(n - 1));
#else
	*ok = (q >= 0) & (q < n);
	return clamp(q, (vi)(0), (vi)(n - 1));
#endif
}
#endif

#ifdef POOL_KERNEL_blurrow_fwd
/* PV outputs at column o of output row oh; inside: every tap column lies in the row. */
inline void blur_chunk(__global const float *xp, int oh, int o, int inside, __global float *yp)
{
	vf sum = (vf)(0.0f);
#pragma unroll
	for (int i = 0; i < FS; i++) {
		const int ih = blur_src(oh * BS - BPA + i, PIH);
		if (ih < 0)
			continue; /* a zero-padding row adds nothing */
		__global const float *row = xp + ih * PIW;
		vf r = (vf)(0.0f);
#pragma unroll
		for (int j = 0; j < FS; j++) {
			const int c0 = o * BS - BPA + j;
			vf v;
			if (inside) {
				v = tap_load(row, c0);
			} else {
				vi ok, src = blur_src_v(c0 + LANES * BS, PIW, &ok);
				v = select((vf)(0.0f), gather_f(row, src), ok);
			}
			r += blur_taps[FS - 1][j] * v;
		}
		sum += blur_taps[FS - 1][i] * r;
	}
	PSTORE(sum, yp + o);
}

__kernel void blurrow_fwd(__global const float *x, __global float *y, int rows)
{
	POOL_FWD_ROW(x, y);
#define BLUR_CHUNK(o, inside) blur_chunk(xp, oh, o, inside, yp)
	POOL_FWD_CHUNKS(BS, BPA, FS, BLUR_CHUNK);
}
#endif

/*
 * One work-item per input row, in chunks of POOL_BW inputs. For each output row that reads this row,
 * the taps j (last first, so windows in ascending order as blur_grad_at sums them) whose window ow =
 * (iw + BPA - j) / BS is whole add their share. At stride 2 a chunk is 2*PV inputs, whose even and
 * odd lanes each read PV consecutive windows (one load); other strides gather. The columns that
 * padding also reads (reflect: 1..BPA and the BPB before the last; replicate: the first and last) are
 * written again by blur_grad_at, one by one.
 */
#ifdef POOL_KERNEL_blurrow_bwd
#if PAD_MODE == BLUR_PAD_REFLECT
#define BLUR_EDGE_LO (BPA + 1)
#define BLUR_EDGE_HI (BPB + 1)
#elif PAD_MODE == BLUR_PAD_REPLICATE
#define BLUR_EDGE_LO 1
#define BLUR_EDGE_HI 1
#else
#define BLUR_EDGE_LO 0
#define BLUR_EDGE_HI 0
#endif

/* grow[base + lane], 0 for windows outside 0 .. POW-1 */
inline vf blur_windows(__global const float *grow, int base)
{
	if (base >= 0 && base + PV <= POW)
		return VLOADF(grow + base);
	const vi ow = base + LANES;
	return select((vf)(0.0f), gather_f(grow, clamp(ow, (vi)(0), (vi)(POW - 1))), (ow >= 0) & (ow < POW));
}

/* lanes o + LANES * step: one output row's taps */
inline vf blur_row_grad(__global const float *grow, int o, int step)
{
	vf row = (vf)(0.0f);
#pragma unroll
	for (int j = FS - 1; j >= 0; j--) {
#if POOL_PAIRS
		(void)step;
		const int t = o + BPA - j;
		if (t & 1)
			continue; /* no window has its tap j on these lanes */
		row += blur_taps[FS - 1][j] * blur_windows(grow, t / 2);
#else
		const vi t = o + LANES * step + BPA - j, ow = t / BS;
		const vi ok = (t >= 0) & (t == ow * BS) & (ow < POW);
		row += blur_taps[FS - 1][j] * select((vf)(0.0f), gather_f(grow, clamp(ow, (vi)(0), (vi)(POW - 1))), ok);
#endif
	}
	return row;
}

__kernel void blurrow_bwd(__global const float *gy, __global float *gx, int rows)
{
	const int id = get_global_id(0);
	if (id >= rows)
		return;
	const int nc = id / PIH, ih = id - nc * PIH;
	__global const float *gp = gy + nc * (POH * POW);
	__global float *d = gx + id * PIW;
	int qh[FS];
	const int nh = blur_sources_of(ih, PIH, qh);
	for (int c = 0; c < PIW; c += POOL_BW) {
		const int o = min(c, PIW - POOL_BW);
		vf acc0 = (vf)(0.0f), acc1 = (vf)(0.0f);
		for (int u = 0; u < nh; u++) {
			const int ph = qh[u] + BPA, oh1 = min(ph / BS, POH - 1);
			for (int oh = ph >= FS ? (ph - FS + BS) / BS : 0; oh <= oh1; oh++) {
				__global const float *grow = gp + oh * POW;
				const float wv = blur_taps[FS - 1][ph - oh * BS];
#if POOL_PAIRS
				acc0 += wv * blur_row_grad(grow, o, 2);
				acc1 += wv * blur_row_grad(grow, o + 1, 2);
#else
				acc0 += wv * blur_row_grad(grow, o, 1);
#endif
			}
		}
		store_chunk(acc0, acc1, d + o);
		/* the columns padding also reads: again, whole */
		for (int l = o; l < BLUR_EDGE_LO && l < o + POOL_BW; l++)
			d[l] = blur_grad_at(gp, ih, l, PIH, PIW, POH, POW);
		for (int l = max(o, PIW - BLUR_EDGE_HI); l < o + POOL_BW; l++)
			d[l] = blur_grad_at(gp, ih, l, PIH, PIW, POH, POW);
	}
}
#endif
