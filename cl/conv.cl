/* conv2d, NCHW float32, weight [CO][CGI][KH][KW]; every size but the batch is a -D constant (one program per
 * layer geometry) so per-plane loops have compile-time trip counts that LLVM/POCL vectorises. direct: one
 * work-item per output, input gradient as a gather, weight gradient as per-image partials + a fixed-order batch
 * sum (no atomics); im2col path: col [CI*KH*KW][nb*OH*OW], col2im, layout copies, 8x8-tile transpose; depthwise
 * row kernels. FLIP=1: the kernel rotated 180 degrees (true convolution). GPU=1 (GPU profiles): the same
 * algorithms GPU-shaped: one output value per work-item over a flat 1-D grid (whole warps, no dimension near
 * its group limit, no private arrays), the bias gradient as one work-group per plane. */

#ifndef KH
#define KH 3
#endif
#ifndef KW
#define KW 3
#endif
#ifndef SH
#define SH 1
#endif
#ifndef SW
#define SW 1
#endif
#ifndef DH
#define DH 1
#endif
#ifndef DW
#define DW 1
#endif
#ifndef FLIP
#define FLIP 0
#endif
/* input CI x IH x IW, output CO x OH x OW, padding top PT / left PL, channels per group CGI -> CGO */
#ifndef CI
#define CI 1
#endif
#ifndef IH
#define IH 8
#endif
#ifndef IW
#define IW 8
#endif
#ifndef CO
#define CO 1
#endif
#ifndef OH
#define OH 6
#endif
#ifndef OW
#define OW 6
#endif
#ifndef PT
#define PT 0
#endif
#ifndef PL
#define PL 0
#endif
#ifndef CGI
#define CGI CI
#endif
#ifndef CGO
#define CGO CO
#endif

#ifndef GPU
#define GPU 0
#endif

#define KHW (KH * KW)
#define IP (IH * IW)
#define OP (OH * OW)
/* Sums accumulate with CLCNN_FMA (common.cl): fma where the host passes HW_FMA=1 (GPU profiles), mad
 * otherwise (the CPU programs, unchanged). */
/* Weight position (wy, wx) multiplies the input tap (TAPY(wy), TAPX(wx)); flipping is an involution. */
#define TAPY(wy) (FLIP ? KH - 1 - (wy) : (wy))
#define TAPX(wx) (FLIP ? KW - 1 - (wx) : (wx))

/*
 * The position (x, y, z) of a work-item in an NX x NY x nz grid: on CPUs the 3-D launch's ids, on
 * GPUs unpacked from one flat id (x fastest) of a 1-D launch. Returns from the kernel past the grid.
 */
#if GPU
#define GRID3(x, y, z, NX, NY, nz)                                                         \
	const int grid_id_ = get_global_id(0);                                                \
	if (grid_id_ >= (NX) * (NY) * (nz))                                                 \
		return;                                                                     \
	const int x = grid_id_ % (NX), y = grid_id_ / (NX) % (NY), z = grid_id_ / ((NX) * (NY))
#else
#define GRID3(x, y, z, NX, NY, nz)                                                         \
	const int x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);        \
	if (x >= (NX) || y >= (NY) || z >= (nz))                                            \
		return
#endif

/* y[n][o][oy][ox] = b[o] + sum over the group's channels and taps. Global (OW, OH, N*CO). */
__kernel void conv_direct_fwd(__global const float *x, __global const float *w, __global const float *b,
			      __global float *y, int N, int has_bias)
{
	GRID3(ox, oy, z, OW, OH, N * CO);
	const int n = z / CO, o = z % CO, grp = o / CGO;
	const int iy0 = oy * SH - PT, ix0 = ox * SW - PL;
	float acc = has_bias ? b[o] : 0.0f;
	for (int ci = 0; ci < CGI; ci++) {
		__global const float *xp = x + (n * CI + grp * CGI + ci) * IP;
		__global const float *wp = w + (o * CGI + ci) * KHW;
		for (int wy = 0; wy < KH; wy++) {
			const int iy = iy0 + TAPY(wy) * DH;
			if (iy < 0 || iy >= IH)
				continue;
			for (int wx = 0; wx < KW; wx++) {
				const int ix = ix0 + TAPX(wx) * DW;
				if (ix >= 0 && ix < IW)
					acc = CLCNN_FMA(xp[iy * IW + ix], wp[wy * KW + wx], acc);
			}
		}
	}
	y[z * OP + oy * OW + ox] = acc;
}

/* Output position along one axis fed by input i through tap t, or -1. */
inline int conv_src(int i, int pad, int t, int dil, int stride, int out)
{
	const int s = i + pad - t * dil;
	if (s < 0 || s % stride)
		return -1;
	return s / stride < out ? s / stride : -1;
}

/* gx[n][c][iy][ix] = sum of gy * w over every output that read this input. Global (IW, IH, N*CI). */
__kernel void conv_direct_bwd_data(__global const float *gy, __global const float *w, __global float *gx, int N)
{
	GRID3(ix, iy, z, IW, IH, N * CI);
	const int n = z / CI, c = z % CI, grp = c / CGI, ci = c % CGI;
	float acc = 0.0f;
	for (int og = 0; og < CGO; og++) {
		const int o = grp * CGO + og;
		__global const float *gp = gy + (n * CO + o) * OP;
		__global const float *wp = w + (o * CGI + ci) * KHW;
		for (int wy = 0; wy < KH; wy++) {
			const int oy = conv_src(iy, PT, TAPY(wy), DH, SH, OH);
			if (oy < 0)
				continue;
			for (int wx = 0; wx < KW; wx++) {
				const int ox = conv_src(ix, PL, TAPX(wx), DW, SW, OW);
				if (ox >= 0)
					acc = CLCNN_FMA(gp[oy * OW + ox], wp[wy * KW + wx], acc);
			}
		}
	}
	gx[z * IP + iy * IW + ix] = acc;
}

/*
 * Weight gradient of one image: part[n][o][ci][wy][wx] = sum over (oy, ox) of gy * x; conv_sum_batch
 * then adds the N images in order. Global (KH*KW, CGI, N*CO).
 */
__kernel void conv_direct_bwd_weights(__global const float *gy, __global const float *x, __global float *part, int N)
{
	GRID3(wk, ci, z, KHW, CGI, N * CO);
	const int n = z / CO, o = z % CO, grp = o / CGO;
	const int ky = TAPY(wk / KW), kx = TAPX(wk % KW);
	__global const float *gp = gy + z * OP;
	__global const float *xp = x + (n * CI + grp * CGI + ci) * IP;
	float acc = 0.0f;
	for (int oy = 0; oy < OH; oy++) {
		const int iy = oy * SH - PT + ky * DH;
		if (iy < 0 || iy >= IH)
			continue;
		for (int ox = 0; ox < OW; ox++) {
			const int ix = ox * SW - PL + kx * DW;
			if (ix >= 0 && ix < IW)
				acc = CLCNN_FMA(gp[oy * OW + ox], xp[iy * IW + ix], acc);
		}
	}
	part[n * (CO * CGI * KHW) + (o * CGI + ci) * KHW + wk] = acc;
}

/* out[i] = sum over n in order of part[off + n * count + i] (the deterministic second pass). Global (count). */
__kernel void conv_sum_batch(__global const float *part, int part_off, __global float *out, int count, int nbatch)
{
	const int i = get_global_id(0);
	if (i >= count)
		return;
	part += part_off;
	float acc = 0.0f;
	for (int n = 0; n < nbatch; n++)
		acc += part[n * count + i];
	out[i] = acc;
}

/* Sum of OP floats: 16 interleaved partial sums, then a fixed tree and the tail (same order everywhere). */
inline float conv_plane_sum(__global const float *p)
{
	float16 v = (float16)(0.0f);
	int i = 0;
	for (; i + 16 <= OP; i += 16)
		v += vload16(0, p + i);
	float s = clcnn_hsum16(v);
	for (; i < OP; i++)
		s += p[i];
	return s;
}

#if GPU
/* VW floats (VW = 1 too: common.cl's VT is float2 and up) and their sum as VHSUM adds them. */
#if VW == 1
#define BVT float
#define BVLOAD(i, p) ((p)[i])
#define BVHSUM(v) (v)
#else
#define BVT VT
#define BVLOAD(i, p) VLOAD(i, p)
#define BVHSUM(v) VHSUM(v)
#endif

/*
 * part[off + plane] = sum of gy's plane, one work-group per plane (N*CO of them): item l adds the
 * VW-vectors l, l + L, l + 2L.. (L items; coalesced loads), item 0 the tail; then item 0 adds the L
 * partial sums in order (a fixed order for a given group size). Global (N*CO*L), local L.
 */
__kernel void conv_bias_partial(__global const float *gy, __global float *part, int part_off, int N,
				__local float *sums)
{
	const int plane = GROUP_ID(0), l = get_local_id(0), L = get_local_size(0);
	__global const float *p = gy + plane * OP;
	BVT v = (BVT)(0.0f);
	for (int i = l; i < OP / VW; i += L)
		v += BVLOAD(i, p);
	float s = BVHSUM(v);
	if (l == 0)
		for (int i = OP / VW * VW; i < OP; i++)
			s += p[i];
	sums[l] = s;
	barrier(CLK_LOCAL_MEM_FENCE);
	if (l == 0 && plane < N * CO) {
		float t = 0.0f;
		for (int i = 0; i < L; i++)
			t += sums[i];
		part[part_off + plane] = t;
	}
}

/* y[n][c][:] = b[c]: the GEMM paths then accumulate with beta = 1. Global (N*CO*OP). */
__kernel void conv_bias_fill(__global float *y, __global const float *b, int N)
{
	const int id = get_global_id(0);
	if (id < N * CO * OP)
		y[id] = b[id / OP % CO];
}
#else
/* part[off + n*CO + c] = sum over the plane of gy[n][c] (first pass of the bias gradient). Global (N*CO). */
__kernel void conv_bias_partial(__global const float *gy, __global float *part, int part_off, int N)
{
	const int id = get_global_id(0);
	if (id < N * CO)
		part[part_off + id] = conv_plane_sum(gy + id * OP);
}

/* y[n][c][:] = b[c]: the GEMM paths then accumulate with beta = 1. Global (N*CO). */
__kernel void conv_bias_fill(__global float *y, __global const float *b, int N)
{
	const int id = get_global_id(0);
	if (id >= N * CO)
		return;
	__global float *yp = y + id * OP;
	const float v = b[id % CO];
	for (int i = 0; i < OP; i++)
		yp[i] = v;
}
#endif

/* Valid range [lo, hi) of an output index o whose input index o + off must lie in [0, in): stride 1 only. */
#define RANGE_LO(off) max(0, -(off))
#define RANGE_HI(off, out, in) min((out), (in) - (off))

/*
 * col[c*KH*KW + wk][j*OP + p] = x[n0+j][c] at the tap of weight position wk for output p (0 in the
 * padding), j < nb. One work-item per col row segment of one image. At stride 1 each output row is a
 * shifted copy of an input row: three branch-free loops (zeros, copy, zeros) that vectorise.
 * Global (nb*CI*KH*KW).
 */
#if GPU
/* GPU: one col element per work-item, consecutive items along the row. Global (nb*CI*KH*KW*OP). */
__kernel void conv_im2col(__global const float *x, __global float *col, int col_off, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * CI * KHW * OP)
		return;
	const int p = id % OP, t = id / OP, r = t % (CI * KHW), j = t / (CI * KHW), c = r / KHW, wk = r % KHW;
	const int iy = p / OW * SH - PT + TAPY(wk / KW) * DH, ix = p % OW * SW - PL + TAPX(wk % KW) * DW;
	col[col_off + r * (nb * OP) + j * OP + p] =
		iy >= 0 && iy < IH && ix >= 0 && ix < IW ? x[((n0 + j) * CI + c) * IP + iy * IW + ix] : 0.0f;
}
#else
__kernel void conv_im2col(__global const float *x, __global float *col, int col_off, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * CI * KHW)
		return;
	const int j = id / (CI * KHW), r = id % (CI * KHW), c = r / KHW, wk = r % KHW;
	const int ky = TAPY(wk / KW), kx = TAPX(wk % KW);
	__global const float *xp = x + ((n0 + j) * CI + c) * IP;
	__global float *cp = col + col_off + r * (nb * OP) + j * OP;
#if SW == 1
	const int off = kx * DW - PL, lo = RANGE_LO(off), hi = RANGE_HI(off, OW, IW);
#endif
	for (int oy = 0; oy < OH; oy++) {
		const int iy = oy * SH - PT + ky * DH;
		__global float *d = cp + oy * OW;
		if (iy < 0 || iy >= IH) {
			for (int ox = 0; ox < OW; ox++)
				d[ox] = 0.0f;
			continue;
		}
		__global const float *s = xp + iy * IW;
#if SW == 1
		for (int ox = 0; ox < lo; ox++)
			d[ox] = 0.0f;
		for (int ox = lo; ox < hi; ox++)
			d[ox] = s[ox + off];
		for (int ox = max(lo, hi); ox < OW; ox++)
			d[ox] = 0.0f;
#else
		for (int ox = 0; ox < OW; ox++) {
			const int ix = ox * SW - PL + kx * DW;
			d[ox] = ix >= 0 && ix < IW ? s[ix] : 0.0f;
		}
#endif
	}
}
#endif

/*
 * Inverse of conv_im2col: one work-item owns the plane gx[n0+j][c] and adds the col rows of its taps
 * into it in tap order (deterministic, no other work-item writes there). At stride 1 each input row
 * gathers shifted segments of col rows into a private row, written once. Global (nb*CI).
 */
#if GPU
/* GPU: one input value per work-item, its taps' col entries added in tap order. Global (nb*CI*IH*IW). */
__kernel void conv_col2im(__global const float *col, int col_off, __global float *gx, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * CI * IP)
		return;
	const int ix = id % IW, iy = id / IW % IH, t = id / IP, c = t % CI, j = t / CI;
	__global const float *cp = col + col_off + c * KHW * (nb * OP) + j * OP;
	float acc = 0.0f;
	for (int wk = 0; wk < KHW; wk++) {
		const int oy = conv_src(iy, PT, TAPY(wk / KW), DH, SH, OH), ox = conv_src(ix, PL, TAPX(wk % KW), DW, SW, OW);
		if (oy >= 0 && ox >= 0)
			acc += cp[wk * (nb * OP) + oy * OW + ox];
	}
	gx[((n0 + j) * CI + c) * IP + iy * IW + ix] = acc;
}
#else
__kernel void conv_col2im(__global const float *col, int col_off, __global float *gx, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * CI)
		return;
	const int j = id / CI, c = id % CI;
	__global float *dp = gx + ((n0 + j) * CI + c) * IP;
	__global const float *cp = col + col_off + c * KHW * (nb * OP) + j * OP;
#if SH == 1 && SW == 1
	for (int iy = 0; iy < IH; iy++) {
		float acc[IW];
		for (int ix = 0; ix < IW; ix++)
			acc[ix] = 0.0f;
		for (int wy = 0; wy < KH; wy++) {
			const int oy = iy + PT - TAPY(wy) * DH;
			if (oy < 0 || oy >= OH)
				continue;
			for (int wx = 0; wx < KW; wx++) {
				/* ox = ix + off */
				const int off = PL - TAPX(wx) * DW, lo = RANGE_LO(off), hi = RANGE_HI(off, IW, OW);
				__global const float *s = cp + (wy * KW + wx) * (nb * OP) + oy * OW + off;
				for (int ix = lo; ix < hi; ix++)
					acc[ix] += s[ix];
			}
		}
		for (int ix = 0; ix < IW; ix++)
			dp[iy * IW + ix] = acc[ix];
	}
#else
	for (int i = 0; i < IP; i++)
		dp[i] = 0.0f;
	for (int wk = 0; wk < KHW; wk++) {
		const int ky = TAPY(wk / KW), kx = TAPX(wk % KW);
		__global const float *s = cp + wk * (nb * OP);
		for (int oy = 0; oy < OH; oy++) {
			const int iy = oy * SH - PT + ky * DH;
			if (iy < 0 || iy >= IH)
				continue;
			for (int ox = 0; ox < OW; ox++) {
				const int ix = ox * SW - PL + kx * DW;
				if (ix >= 0 && ix < IW)
					dp[iy * IW + ix] += s[oy * OW + ox];
			}
		}
	}
#endif
}
#endif

/*
 * dst[z][c][r] = src[z][r][c] for R x C row-major matrices, batch entry z at src_off + z*src_stride
 * (dst likewise); one work-item per 8x8 tile moved through registers. Global (ceil(C/8), ceil(R/8), batch).
 */
#if GPU
/* GPU: one element per work-item, reads along the source rows. Global (C, R, batch) as one flat id. */
__kernel void conv_transpose(__global const float *src, int src_off, int src_stride, __global float *dst,
			     int dst_off, int dst_stride, int R, int C, int batch)
{
	GRID3(c, r, z, C, R, batch);
	dst[dst_off + z * dst_stride + c * R + r] = src[src_off + z * src_stride + r * C + c];
}
#else
__kernel void conv_transpose(__global const float *src, int src_off, int src_stride, __global float *dst,
			     int dst_off, int dst_stride, int R, int C, int batch)
{
	const int tc = get_global_id(0) * 8, tr = get_global_id(1) * 8, z = get_global_id(2);
	if (tr >= R || tc >= C)
		return;
	__global const float *s = src + src_off + z * src_stride + tr * C + tc;
	__global float *d = dst + dst_off + z * dst_stride + tc * R + tr;
	if (tr + 8 <= R && tc + 8 <= C) {
		const float8 r0 = vload8(0, s), r1 = vload8(0, s + C), r2 = vload8(0, s + 2 * C),
			     r3 = vload8(0, s + 3 * C), r4 = vload8(0, s + 4 * C), r5 = vload8(0, s + 5 * C),
			     r6 = vload8(0, s + 6 * C), r7 = vload8(0, s + 7 * C);
		vstore8((float8)(r0.s0, r1.s0, r2.s0, r3.s0, r4.s0, r5.s0, r6.s0, r7.s0), 0, d);
		vstore8((float8)(r0.s1, r1.s1, r2.s1, r3.s1, r4.s1, r5.s1, r6.s1, r7.s1), 0, d + R);
		vstore8((float8)(r0.s2, r1.s2, r2.s2, r3.s2, r4.s2, r5.s2, r6.s2, r7.s2), 0, d + 2 * R);
		vstore8((float8)(r0.s3, r1.s3, r2.s3, r3.s3, r4.s3, r5.s3, r6.s3, r7.s3), 0, d + 3 * R);
		vstore8((float8)(r0.s4, r1.s4, r2.s4, r3.s4, r4.s4, r5.s4, r6.s4, r7.s4), 0, d + 4 * R);
		vstore8((float8)(r0.s5, r1.s5, r2.s5, r3.s5, r4.s5, r5.s5, r6.s5, r7.s5), 0, d + 5 * R);
		vstore8((float8)(r0.s6, r1.s6, r2.s6, r3.s6, r4.s6, r5.s6, r6.s6, r7.s6), 0, d + 6 * R);
		vstore8((float8)(r0.s7, r1.s7, r2.s7, r3.s7, r4.s7, r5.s7, r6.s7, r7.s7), 0, d + 7 * R);
	} else {
		for (int i = 0; i < min(8, R - tr); i++)
			for (int j = 0; j < min(8, C - tc); j++)
				d[j * R + i] = s[i * C + j];
	}
}
#endif

/* dst[off + c*nb*OP + j*OP + p] = src[n0+j][c][p]: channel-major so one GEMM spans nb images. Global (C*nb). */
#if GPU
/* GPU: one value per work-item. Global (C*nb*OP). */
__kernel void conv_to_cn(__global const float *src, __global float *dst, int dst_off, int C, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= C * nb * OP)
		return;
	const int p = id % OP, t = id / OP, c = t / nb, j = t % nb;
	dst[dst_off + id] = src[((n0 + j) * C + c) * OP + p];
}
#else
__kernel void conv_to_cn(__global const float *src, __global float *dst, int dst_off, int C, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= C * nb)
		return;
	const int c = id / nb, j = id % nb;
	__global const float *s = src + ((n0 + j) * C + c) * OP;
	__global float *d = dst + dst_off + (c * nb + j) * OP;
	for (int p = 0; p < OP; p++)
		d[p] = s[p];
}
#endif

/*
 * y[n0+j][o][p] = src[off + o*nb*OP + j*OP + p] (+ b[o]): back from the channel-major GEMM result, the
 * bias added on the way. Global (nb*CO).
 */
#if GPU
/* GPU: one value per work-item. Global (nb*CO*OP). */
__kernel void conv_from_cn(__global const float *src, int src_off, __global float *y, __global const float *b,
			   int has_bias, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * CO * OP)
		return;
	const int p = id % OP, t = id / OP, j = t / CO, o = t % CO;
	y[(n0 * CO + t) * OP + p] = src[src_off + (o * nb + j) * OP + p] + (has_bias ? b[o] : 0.0f);
}
#else
__kernel void conv_from_cn(__global const float *src, int src_off, __global float *y, __global const float *b,
			   int has_bias, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * CO)
		return;
	const int j = id / CO, o = id % CO;
	__global const float *s = src + src_off + (o * nb + j) * OP;
	__global float *d = y + ((n0 + j) * CO + o) * OP;
	const float v = has_bias ? b[o] : 0.0f;
	for (int p = 0; p < OP; p++)
		d[p] = s[p] + v;
}
#endif

/*
 * Depthwise (groups == CI, CO = m * CI): one input channel per output. A work-item computes one output
 * row in a private array: per tap, a shifted input row segment times one weight (branch-free and
 * vectorisable at stride 1). Each output adds bias then taps in (wy, wx) order. Global (N*CO*OH).
 */
#if GPU
/* GPU: one output per work-item, bias then taps in (wy, wx) order. Global (N*CO*OH*OW). */
__kernel void conv_dw_fwd(__global const float *x, __global const float *w, __global const float *b,
			  __global float *y, int N, int has_bias)
{
	GRID3(ox, oy, z, OW, OH, N * CO);
	const int n = z / CO, o = z % CO, c = o / CGO;
	__global const float *xp = x + (n * CI + c) * IP;
	__global const float *wp = w + o * KHW;
	float acc = has_bias ? b[o] : 0.0f;
	for (int wy = 0; wy < KH; wy++) {
		const int iy = oy * SH - PT + TAPY(wy) * DH;
		if (iy < 0 || iy >= IH)
			continue;
		for (int wx = 0; wx < KW; wx++) {
			const int ix = ox * SW - PL + TAPX(wx) * DW;
			if (ix >= 0 && ix < IW)
				acc = CLCNN_FMA(xp[iy * IW + ix], wp[wy * KW + wx], acc);
		}
	}
	y[z * OP + oy * OW + ox] = acc;
}
#else
__kernel void conv_dw_fwd(__global const float *x, __global const float *w, __global const float *b,
			  __global float *y, int N, int has_bias)
{
	const int id = get_global_id(0);
	if (id >= N * CO * OH)
		return;
	const int z = id / OH, oy = id % OH, n = z / CO, o = z % CO, c = o / CGO;
	__global const float *xp = x + (n * CI + c) * IP;
	__global const float *wp = w + o * KHW;
	float acc[OW];
	const float b0 = has_bias ? b[o] : 0.0f;
	for (int ox = 0; ox < OW; ox++)
		acc[ox] = b0;
#pragma unroll
	for (int wy = 0; wy < KH; wy++) {
		const int iy = oy * SH - PT + TAPY(wy) * DH;
		if (iy < 0 || iy >= IH)
			continue;
		__global const float *s = xp + iy * IW;
#pragma unroll
		for (int wx = 0; wx < KW; wx++) {
			const float wv = wp[wy * KW + wx];
			const int off = TAPX(wx) * DW - PL;
#if SW == 1
			for (int ox = RANGE_LO(off); ox < RANGE_HI(off, OW, IW); ox++)
				acc[ox] = CLCNN_FMA(s[ox + off], wv, acc[ox]);
#else
			for (int ox = 0; ox < OW; ox++) {
				const int ix = ox * SW + off;
				if (ix >= 0 && ix < IW)
					acc[ox] = CLCNN_FMA(s[ix], wv, acc[ox]);
			}
#endif
		}
	}
	__global float *d = y + z * OP + oy * OW;
	for (int ox = 0; ox < OW; ox++)
		d[ox] = acc[ox];
}
#endif

/*
 * Depthwise input gradient, one input row per work-item: for each of the channel's CO/CI outputs and
 * each tap, a shifted grad_out row segment times one weight, in (m, wy, wx) order. Global (N*CI*IH).
 */
#if GPU
/* GPU: one input value per work-item, in (m, wy, wx) order. Global (N*CI*IH*IW). */
__kernel void conv_dw_bwd_data(__global const float *gy, __global const float *w, __global float *gx, int N)
{
	GRID3(ix, iy, z, IW, IH, N * CI);
	const int n = z / CI, c = z % CI;
	float acc = 0.0f;
	for (int m = 0; m < CGO; m++) {
		const int o = c * CGO + m;
		for (int wy = 0; wy < KH; wy++) {
			const int oy = conv_src(iy, PT, TAPY(wy), DH, SH, OH);
			if (oy < 0)
				continue;
			for (int wx = 0; wx < KW; wx++) {
				const int ox = conv_src(ix, PL, TAPX(wx), DW, SW, OW);
				if (ox >= 0)
					acc = CLCNN_FMA(gy[((n * CO + o) * OH + oy) * OW + ox], w[o * KHW + wy * KW + wx], acc);
			}
		}
	}
	gx[z * IP + iy * IW + ix] = acc;
}
#else
__kernel void conv_dw_bwd_data(__global const float *gy, __global const float *w, __global float *gx, int N)
{
	const int id = get_global_id(0);
	if (id >= N * CI * IH)
		return;
	const int z = id / IH, iy = id % IH, n = z / CI, c = z % CI;
	float acc[IW];
	for (int ix = 0; ix < IW; ix++)
		acc[ix] = 0.0f;
	for (int m = 0; m < CGO; m++) {
		const int o = c * CGO + m;
#pragma unroll
		for (int wy = 0; wy < KH; wy++) {
			const int oy = conv_src(iy, PT, TAPY(wy), DH, SH, OH);
			if (oy < 0)
				continue;
			__global const float *g = gy + (n * CO + o) * OP + oy * OW;
#pragma unroll
			for (int wx = 0; wx < KW; wx++) {
				const float wv = w[o * KHW + wy * KW + wx];
#if SW == 1
				/* ox = ix + off */
				const int off = PL - TAPX(wx) * DW;
				for (int ix = RANGE_LO(off); ix < RANGE_HI(off, IW, OW); ix++)
					acc[ix] = CLCNN_FMA(g[ix + off], wv, acc[ix]);
#else
				for (int ix = 0; ix < IW; ix++) {
					const int ox = conv_src(ix, PL, TAPX(wx), DW, SW, OW);
					if (ox >= 0)
						acc[ix] = CLCNN_FMA(g[ox], wv, acc[ix]);
				}
#endif
			}
		}
	}
	__global float *d = gx + z * IP + iy * IW;
	for (int ix = 0; ix < IW; ix++)
		d[ix] = acc[ix];
}
#endif

/*
 * Depthwise weight gradient of one image and one weight: per-column partial sums over the output
 * rows (vectorisable), then the columns in order. conv_sum_batch adds the images. Global (N*CO*KH*KW).
 */
#if GPU
/* GPU: one weight of one image per work-item, a scalar sum over the output plane. Global (N*CO*KH*KW). */
__kernel void conv_dw_bwd_weights(__global const float *gy, __global const float *x, __global float *part, int N)
{
	const int id = get_global_id(0);
	if (id >= N * CO * KHW)
		return;
	const int z = id / KHW, wk = id % KHW, n = z / CO, o = z % CO, c = o / CGO;
	const int ky = TAPY(wk / KW), kx = TAPX(wk % KW);
	__global const float *gp = gy + z * OP;
	__global const float *xp = x + (n * CI + c) * IP;
	float acc = 0.0f;
	for (int oy = 0; oy < OH; oy++) {
		const int iy = oy * SH - PT + ky * DH;
		if (iy < 0 || iy >= IH)
			continue;
		for (int ox = 0; ox < OW; ox++) {
			const int ix = ox * SW - PL + kx * DW;
			if (ix >= 0 && ix < IW)
				acc = CLCNN_FMA(gp[oy * OW + ox], xp[iy * IW + ix], acc);
		}
	}
	part[n * (CO * KHW) + o * KHW + wk] = acc;
}
#else
__kernel void conv_dw_bwd_weights(__global const float *gy, __global const float *x, __global float *part, int N)
{
	const int id = get_global_id(0);
	if (id >= N * CO * KHW)
		return;
	const int z = id / KHW, wk = id % KHW, n = z / CO, o = z % CO, c = o / CGO;
	const int ky = TAPY(wk / KW), kx = TAPX(wk % KW), off = kx * DW - PL;
	__global const float *gp = gy + z * OP;
	__global const float *xp = x + (n * CI + c) * IP;
	float acc[OW];
	for (int ox = 0; ox < OW; ox++)
		acc[ox] = 0.0f;
	for (int oy = 0; oy < OH; oy++) {
		const int iy = oy * SH - PT + ky * DH;
		if (iy < 0 || iy >= IH)
			continue;
		__global const float *s = xp + iy * IW;
		__global const float *g = gp + oy * OW;
#if SW == 1
		for (int ox = RANGE_LO(off); ox < RANGE_HI(off, OW, IW); ox++)
			acc[ox] = CLCNN_FMA(g[ox], s[ox + off], acc[ox]);
#else
		for (int ox = 0; ox < OW; ox++) {
			const int ix = ox * SW + off;
			if (ix >= 0 && ix < IW)
				acc[ox] = CLCNN_FMA(g[ox], s[ix], acc[ox]);
		}
#endif
	}
	float sum = 0.0f;
	for (int ox = 0; ox < OW; ox++)
		sum += acc[ox];
	part[n * (CO * KHW) + o * KHW + wk] = sum;
}
#endif
