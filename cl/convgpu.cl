/* conv2d as an implicit GEMM for GPUs (NCHW): no im2col matrix, each TSK x TSN tile of the virtual
 * patch matrix is gathered from the tensor into __local memory, next to a TSM x TSK tile of the
 * weights; each of the THREADS work-items keeps a WPTM x WPTN register tile. Every output is one
 * work-item's fma chain over k in increasing order, so results do not depend on the tile sizes.
 * CONVGPU_FWD: y = W * patches(x); CONVGPU_BWD_DATA: gx = W^T * patches(gy) (the transposed
 * problem, strided taps skipped); CONVGPU_BWD_W: dW slice s = gy * patches(x)^T over the s-th K
 * slice; CONVGPU_SUM: the slices added in order. Kernels take their tile position from GROUP_ID. */

/* Geometry: input CI x IH x IW, output CO x OH x OW, kernel, stride, dilation, top/left padding,
 * channels per group, FLIP (weights rotated 180 degrees). */
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
#ifndef PT
#define PT 0
#endif
#ifndef PL
#define PL 0
#endif
#ifndef FLIP
#define FLIP 0
#endif
#ifndef CI
#define CI 1
#endif
#ifndef IH
#define IH 1
#endif
#ifndef IW
#define IW 1
#endif
#ifndef CO
#define CO 1
#endif
#ifndef OH
#define OH 1
#endif
#ifndef OW
#define OW 1
#endif
#ifndef CGI
#define CGI CI
#endif
#ifndef CGO
#define CGO CO
#endif

/* Tiles (chosen by conv-gpu.c within the device's work-group and __local limits). */
#ifndef TSM
#define TSM 64
#endif
#ifndef TSN
#define TSN 64
#endif
#ifndef TSK
#define TSK 16
#endif
#ifndef WPTM
#define WPTM 4
#endif
#ifndef WPTN
#define WPTN 4
#endif

#define KHW (KH * KW)
#define IP (IH * IW)
#define OP (OH * OW)
#define RTSM (TSM / WPTM)
#define RTSN (TSN / WPTN)
#define THREADS (RTSM * RTSN)
/* tile elements each work-item loads per k step */
#define LPTA (TSK * TSM / THREADS)
#define LPTB (TSK * TSN / THREADS)
/* B loaded along its columns (FWD, BWD_DATA): distinct columns a work-item loads, row step */
#define CPR (TSN > THREADS ? TSN / THREADS : 1)
#define RSTEP (THREADS > TSN ? THREADS / TSN : 1)
/* an offset that puts a dead column's taps outside every plane */
#define FAR (1 << 28)

/* Tap (ky, kx) of stored weight position r (ky * KW + kx, rotated when FLIP), and the stored
 * weight position of tap r: FLIP reverses both (ky * KW + kx and its rotation add up to KHW - 1). */
#if FLIP
#define TAPY(r) (KH - 1 - (r) / KW)
#define TAPX(r) (KW - 1 - (r) % KW)
#define WPOS(r) (KHW - 1 - (r))
#else
#define TAPY(r) ((r) / KW)
#define TAPX(r) ((r) % KW)
#define WPOS(r) (r)
#endif

/* One k tile of the register-blocked product: acc[wm][wn] += As[p][row] * Bs[p][col], p in order. */
#define CONVGPU_MULTIPLY(As, Bs, acc, tx, ty) \
	barrier(CLK_LOCAL_MEM_FENCE); \
	_Pragma("unroll") for (int p = 0; p < TSK; p++) \
	{ \
		float a[WPTM], b[WPTN]; \
		_Pragma("unroll") for (int wm = 0; wm < WPTM; wm++) a[wm] = As[p][ty + wm * RTSM]; \
		_Pragma("unroll") for (int wn = 0; wn < WPTN; wn++) b[wn] = Bs[p][tx + wn * RTSN]; \
		_Pragma("unroll") for (int wm = 0; wm < WPTM; wm++) \
			_Pragma("unroll") for (int wn = 0; wn < WPTN; wn++) acc[wm][wn] = \
				CLCNN_FMA(a[wm], b[wn], acc[wm][wn]); \
	} \
	barrier(CLK_LOCAL_MEM_FENCE)

#define CONVGPU_ZERO(acc) \
	float acc[WPTM][WPTN]; \
	_Pragma("unroll") for (int wm = 0; wm < WPTM; wm++) _Pragma("unroll") for (int wn = 0; wn < WPTN; wn++) \
		acc[wm][wn] = 0.0f

#if defined(CONVGPU_FWD) || defined(CONVGPU_BWD_DATA)
/*
 * One kernel body for the forward and the input gradient: out[M rows x N columns] of group grp, M
 * the output channels of the direction, N = images x plane, K = the other side's channels x taps.
 * k runs over the taps in order (ky, then kx), whatever FLIP: a flipped convolution sums its
 * products in the same order as the unflipped one with the rotated weights (its ONNX export), so
 * the two give the same bits (direct and im2col sum in stored weight order: they do not).
 * Global (tiles of N * THREADS, tiles of M, groups), local (THREADS, 1, 1).
 */
#ifdef CONVGPU_FWD
#define GM CGO         /* rows: output channels of the group */
#define GK (CGI * KHW) /* k = (input channel, weight position) */
#define NP OP          /* columns: output pixels */
#define NW OW
#define SRC_C CI  /* channels of the gathered tensor (x) */
#define SRC_P IP  /* its plane */
#define SRC_CG CGI
#define DST_C CO
#define KERNEL_NAME convgpu_fwd
#else
#define GM CGI         /* rows: input channels of the group */
#define GK (CGO * KHW) /* k = (output channel, weight position) */
#define NP IP          /* columns: input pixels */
#define NW IW
#define SRC_C CO /* the gathered tensor is gy */
#define SRC_P OP
#define SRC_CG CGO
#define DST_C CI
#define KERNEL_NAME convgpu_bwd_data
#endif

__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1))) void
KERNEL_NAME(__global const float *src, __global const float *w, __global const float *bias, int has_bias,
	    __global float *dst, int nimg)
{
	__local float As[TSK][TSM + 1];
	__local float Bs[TSK][TSN + 1];
	const int tid = get_local_id(0), tx = tid % RTSN, ty = tid / RTSN;
	const int col0 = GROUP_ID(0) * TSN, row0 = get_global_id(1) * TSM, grp = get_global_id(2);
	const int N = nimg * NP;
	/* the columns this work-item gathers: their image's group base and the pixel's window origin */
	int cbase[CPR], cy[CPR], cx[CPR];
#pragma unroll
	for (int c = 0; c < CPR; c++) {
		const int j = col0 + tid % TSN + c * THREADS, n = j / NP, pix = j % NP;
		cbase[c] = (n * SRC_C + grp * SRC_CG) * SRC_P;
#ifdef CONVGPU_FWD
		cy[c] = j < N ? (pix / NW) * SH - PT : -FAR;
		cx[c] = (pix % NW) * SW - PL;
#else
		cy[c] = j < N ? pix / NW + PT : -FAR;
		cx[c] = pix % NW + PL;
#endif
	}
	CONVGPU_ZERO(acc);
	/* never unrolled: a k loop of 2 tiles (3 input channels x 3x3) unrolled in full took 150 VGPRs on
	 * gfx90a instead of 84 (tools/gpu-static.sh) */
#pragma unroll 1
	for (int t = 0; t < GK; t += TSK) {
#pragma unroll
		for (int q = 0; q < LPTA; q++) {
			const int idx = tid + q * THREADS, p = idx % TSK, i = idx / TSK, k = t + p, m = row0 + i;
#ifdef CONVGPU_FWD
			const int wi = ((grp * CGO + m) * CGI + k / KHW) * KHW + WPOS(k % KHW);
#else
			const int wi = ((grp * CGO + k / KHW) * CGI + m) * KHW + WPOS(k % KHW);
#endif
			As[p][i] = m < GM && k < GK ? w[wi] : 0.0f;
		}
#pragma unroll
		for (int q = 0; q < LPTB; q++) {
			const int c = q % CPR, p = tid / TSN + (q / CPR) * RSTEP, k = t + p;
			const int kc = k / KHW, r = k % KHW;
			float v = 0.0f;
#ifdef CONVGPU_FWD
			const int iy = cy[c] + (r / KW) * DH, ix = cx[c] + (r % KW) * DW;
			if (k < GK && iy >= 0 && iy < IH && ix >= 0 && ix < IW)
				v = src[cbase[c] + kc * IP + iy * IW + ix];
#else
			/* the output pixel whose tap (ky, kx) reads this input pixel, if the stride lands on it */
			const int sy = cy[c] - (r / KW) * DH, sx = cx[c] - (r % KW) * DW;
			if (k < GK && sy >= 0 && sx >= 0 && sy % SH == 0 && sx % SW == 0 && sy / SH < OH && sx / SW < OW)
				v = src[cbase[c] + kc * OP + (sy / SH) * OW + sx / SW];
#endif
			Bs[p][tid % TSN + c * THREADS] = v;
		}
		CONVGPU_MULTIPLY(As, Bs, acc, tx, ty);
	}
#pragma unroll
	for (int wm = 0; wm < WPTM; wm++) {
		const int m = row0 + ty + wm * RTSM, o = grp * GM + m;
		const float b = has_bias && m < GM ? bias[o] : 0.0f;
#pragma unroll
		for (int wn = 0; wn < WPTN; wn++) {
			const int j = col0 + tx + wn * RTSN;
			if (m < GM && j < N)
				dst[((j / NP) * DST_C + o) * NP + j % NP] = acc[wm][wn] + b;
		}
	}
}
#endif

#ifdef CONVGPU_BWD_W
/*
 * Weight gradient, slice s of K = images x output plane: part[s][o][ci * KHW + r] = sum over k in
 * [s * slice, (s + 1) * slice) of gy[n, o, pix] * x[n, grp * CGI + ci, tap of r at pix]. M = CGO,
 * N = CGI * KHW. Both tiles load along k (consecutive pixels: coalesced). Global (tiles of N *
 * THREADS, tiles of M, groups * slices).
 */
#define WN (CGI * KHW)
__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1))) void
convgpu_bwd_w(__global const float *gy, __global const float *x, __global float *part, int part_off, int nimg,
	      int slice, int nslices)
{
	__local float As[TSK][TSM + 1];
	__local float Bs[TSK][TSN + 1];
	const int tid = get_local_id(0), tx = tid % RTSN, ty = tid / RTSN;
	const int col0 = GROUP_ID(0) * TSN, row0 = get_global_id(1) * TSM;
	const int grp = get_global_id(2) / nslices, s = get_global_id(2) % nslices;
	const int kend = min(nimg * OP, (s + 1) * slice), p = tid % TSK;
	/* the columns (input channel, tap) this work-item gathers */
	int coff[LPTB], dy[LPTB], dx[LPTB];
#pragma unroll
	for (int q = 0; q < LPTB; q++) {
		const int j = col0 + (tid + q * THREADS) / TSK, r = j % KHW;
		coff[q] = (grp * CGI + j / KHW) * IP;
		dy[q] = j < WN ? TAPY(r) * DH - PT : FAR;
		dx[q] = TAPX(r) * DW - PL;
	}
	CONVGPU_ZERO(acc);
	for (int t = s * slice; t < kend; t += TSK) {
		const int k = t + p, n = k / OP, pix = k % OP, oy = pix / OW, ox = pix % OW;
		const int gbase = (n * CO + grp * CGO) * OP + pix, xbase = n * CI * IP;
#pragma unroll
		for (int q = 0; q < LPTA; q++) {
			const int i = (tid + q * THREADS) / TSK, m = row0 + i;
			As[p][i] = k < kend && m < CGO ? gy[gbase + m * OP] : 0.0f;
		}
#pragma unroll
		for (int q = 0; q < LPTB; q++) {
			const int iy = oy * SH + dy[q], ix = ox * SW + dx[q];
			Bs[p][(tid + q * THREADS) / TSK] = k < kend && iy >= 0 && iy < IH && ix >= 0 && ix < IW
								   ? x[xbase + coff[q] + iy * IW + ix]
								   : 0.0f;
		}
		CONVGPU_MULTIPLY(As, Bs, acc, tx, ty);
	}
	part += part_off + s * CO * WN;
#pragma unroll
	for (int wm = 0; wm < WPTM; wm++) {
		const int m = row0 + ty + wm * RTSM;
#pragma unroll
		for (int wn = 0; wn < WPTN; wn++) {
			const int j = col0 + tx + wn * RTSN;
			if (m < CGO && j < WN)
				part[(grp * CGO + m) * WN + j] = acc[wm][wn];
		}
	}
}
#endif

#ifdef CONVGPU_SUM
/* dw[i] = part[off + i] + part[off + count + i] + ..., the nparts slices in order. */
__kernel void convgpu_sum(__global const float *part, int off, int count, int nparts, __global float *dw)
{
	const int i = get_global_id(0);
	if (i >= count)
		return;
	part += off + i;
	float s = 0.0f;
	for (int k = 0; k < nparts; k++)
		s += part[k * count];
	dw[i] = s;
}
#endif
