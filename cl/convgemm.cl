/* conv2d at stride 1 as a "shifted" implicit GEMM over a zero-padded, channel-major copy of the input:
 * rows of pitch WP (the row's data, then zeros), images of RPI rows, so output pixel (n, oy, ox) is column
 * q = (n*RPI + oy)*WP + ox and its tap (ky, kx) is the copy at q + XOFF + ky*DH*WP + kx*DW for every q:
 * each k step loads its B row whole (explicit float16/float8 vectors, register tiles, no __local, for
 * POCL); columns past the output row or image are computed and dropped at the store. The input gradient
 * is the same kernel on the padded output gradient with transposed weights; the weight gradient is a
 * dot product along q (split in slices, partial sums added in a fixed order). LANES_*: the batch in the
 * vector lanes instead (VW images per lane group, no dropped columns). Kernel CONVGEMM_<NAME> / LANES_<NAME>. */

/* VW and the register tile TM x TNV (TN columns): common.cl. */

/* Geometry: kernel, dilation, FLIP, channels per group in (CGI) and out (CGO), all output channels
 * (COUT), the valid output (OH x OW), the padded layout (WP, RPI) and the offset of tap (0, 0) of
 * column 0 in a channel of the copy (XOFF). */
#ifndef KH
#define KH 3
#endif
#ifndef KW
#define KW 3
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
#ifndef CGI
#define CGI 1
#endif
#ifndef CGO
#define CGO 1
#endif
#ifndef COUT
#define COUT CGO
#endif
#ifndef OH
#define OH 1
#endif
#ifndef OW
#define OW 1
#endif
#ifndef WP
#define WP 1
#endif
#ifndef RPI
#define RPI 1
#endif
#ifndef XOFF
#define XOFF 0
#endif
#define KHW (KH * KW)
#define OP (OH * OW)
/* the weight position that multiplies tap (ky, kx) */
#define WPOS(ky, kx) (FLIP ? (KH - 1 - (ky)) * KW + (KW - 1 - (kx)) : (ky) * KW + (kx))

/* Loops over the taps (ky, kx), unrolled: the body sees both as constants. */
#define FOR_TAPS _Pragma("unroll") for (int ky = 0; ky < KH; ky++) _Pragma("unroll") for (int kx = 0; kx < KW; kx++)

/*
 * One input channel ci of the forward kernels (convgemm_fwd, lanes_fwd): per tap, the TNV vectors
 * load_v (an expression of ky, kx and v) against the TM weights of that tap. The channel loop
 * around it stays rolled: 9 taps x TM x TNV FMAs per channel is body enough, and unrolling the
 * channels too overflows the instruction caches.
 */
#define FWD_CHANNEL(ci, load_v)                                               \
	FOR_TAPS                                                              \
	{                                                                     \
		VT bv[TNV];                                                   \
		_Pragma("unroll") for (int v = 0; v < TNV; v++) bv[v] = load_v; \
		const int k = (ci) * KHW + WPOS(ky, kx);                      \
		CLCNN_TILE_STEP(acc, TM, TNV, ap[i][k], bv);                  \
	}

/*
 * The weight gradient kernels (convgemm_bwd_w, lanes_bwd_w): one step, the TMW gradient vectors a[]
 * against the input vector at x_at (an expression of the tap ky, kx) into acc[i][tap]; and the
 * store of the tile below part_of_row, each sum reduced to a float, for rows below CGO.
 */
#define BWD_W_STEP(x_at)                                                              \
	FOR_TAPS                                                                      \
	{                                                                             \
		const VT b = VLOAD(0, x_at);                                          \
		_Pragma("unroll") for (int i = 0; i < TMW; i++) acc[i][ky * KW + kx] = \
			CLCNN_FMA(a[i], b, acc[i][ky * KW + kx]);                     \
	}
#define BWD_W_STORE(part_of_row)                                                              \
	_Pragma("unroll") for (int i = 0; i < TMW; i++)                                       \
	{                                                                                     \
		if (row0 + i >= CGO)                                                          \
			continue;                                                             \
		__global float *d = (part_of_row) + ((grp * CGO + row0 + i) * CGI + ci) * KHW; \
		FOR_TAPS d[WPOS(ky, kx)] = VHSUM(acc[i][ky * KW + kx]);                      \
	}

/*
 * y[n0+n][grp*CGO + row][oy][ox] = (bias +) sum over ci < CGI, taps of w[grp*CGO + row][ci][tap] * copy.
 * Work-item (x, y, grp): rows x*TM.. (clamped, not stored past CGO), columns y*TN..; dimension 0 walks the
 * rows so that neighbouring work-items share the copy's panel while it is in L2. Global
 * (ceil(CGO/TM), ceil(nb*RPI*WP/TN), groups).
 */
#ifdef CONVGEMM_FWD
__kernel void convgemm_fwd(__global const float *xp, int xp_off, int cs, __global const float *w, int w_off,
			   __global const float *bias, int has_bias, __global float *y, int n0, int nb)
{
	const int row0 = get_global_id(0) * TM, col0 = get_global_id(1) * TN, grp = get_global_id(2);
	const int q_end = nb * RPI * WP;
	if (row0 >= CGO || col0 >= q_end)
		return;
	const __global float *ap[TM];
#pragma unroll
	for (int i = 0; i < TM; i++)
		ap[i] = w + w_off + (grp * CGO + min(row0 + i, CGO - 1)) * (CGI * KHW);
	CLCNN_TILE(VT, acc, TM, TNV);
	const __global float *bp = xp + xp_off + grp * CGI * cs + col0 + XOFF;
#pragma unroll 1
	for (int ci = 0; ci < CGI; ci++, bp += cs)
		FWD_CHANNEL(ci, VLOAD(v, bp + ky * DH * WP + kx * DW));
	/* each padded row the tile touches: its valid run of columns, copied with the bias */
	const int r0 = col0 / WP, r1 = (col0 + TN - 1) / WP;
#pragma unroll
	for (int i = 0; i < TM; i++) {
		if (row0 + i >= CGO)
			continue;
		const int o = grp * CGO + row0 + i;
		const float b0 = has_bias ? bias[o] : 0.0f;
		__global float *yp = y + (n0 * COUT + o) * OP;
		float t[TN];
#pragma unroll
		for (int v = 0; v < TNV; v++)
			VSTORE(acc[i][v], v, t);
		for (int r = r0; r <= r1; r++) {
			const int n = r / RPI, oy = r - n * RPI;
			const int l0 = max(col0, r * WP) - col0, l1 = min(col0 + TN, r * WP + OW) - col0;
			if (oy >= OH || n >= nb || l0 >= l1)
				continue;
			__global float *d = yp + n * (COUT * OP) + oy * OW + (col0 + l0 - r * WP) - l0;
			for (int l = l0; l < l1; l++)
				d[l] = t[l] + b0;
		}
	}
}
#endif

/*
 * Few input taps (a first layer: CGI * KHW <= 27), groups 1: one work-item per output row (n, oy) of
 * every channel. Per chunk of SV output columns the CGI*KHW tap vectors are loaded once from the
 * padded copy; each output channel is their weighted sum, stored whole (the row's last chunk ends at
 * the row's end, overlapping the one before). The GEMM tiling would spend most of its time storing
 * columns one by one: K is too short. Global (nb*OH).
 */
#ifdef CONVGEMM_SHALLOW
#define ST CLCNN_CAT(float, SV)
#define SLOAD CLCNN_CAT(vload, SV)
#define SSTORE CLCNN_CAT(vstore, SV)
__kernel void convgemm_shallow(__global const float *xp, int cs, __global const float *w, __global const float *bias,
			       int has_bias, __global float *y, int n0, int nb)
{
	const int id = get_global_id(0);
	if (id >= nb * OH)
		return;
	const int n = id / OH, oy = id - n * OH;
	const __global float *row = xp + (n * RPI + oy) * WP + XOFF;
	__global float *yp = y + (n0 + n) * (COUT * OP) + oy * OW;
	for (int c = 0; c < OW; c += SV) {
		const int o0 = min(c, OW - SV);
		ST t[CGI * KHW];
#pragma unroll
		for (int ci = 0; ci < CGI; ci++)
			FOR_TAPS t[(ci * KH + ky) * KW + kx] = SLOAD(0, row + ci * cs + ky * DH * WP + kx * DW + o0);
		for (int o = 0; o < COUT; o++) {
			const __global float *wo = w + o * (CGI * KHW);
			ST acc = (ST)(has_bias ? bias[o] : 0.0f);
#pragma unroll
			for (int ci = 0; ci < CGI; ci++)
				FOR_TAPS acc = CLCNN_FMA((ST)(wo[ci * KHW + WPOS(ky, kx)]), t[(ci * KH + ky) * KW + kx], acc);
			SSTORE(acc, 0, yp + o * OP + o0);
		}
	}
}
#endif

/*
 * The zero-padded channel-major copy: channel c of images n0..n0+nb-1 of src (C x SH x SW planes) into
 * dst + c*cs: one row (WP floats) of front slack, GR zero rows, then per image SH rows (SW values and
 * WP - SW zeros) and GR zero rows, zeros to the end of the channel. Work-item (part, c): part 0 the
 * leading rows, part 1 + n image n with its trailing zero rows, part nb + 1 the tail; rows in float8
 * vectors. Global (nb + 2, C).
 */
#ifdef CONVGEMM_PAD
#ifndef SH
#define SH 1
#endif
#ifndef SW
#define SW 1
#endif
#ifndef GR
#define GR 0
#endif
#ifndef C
#define C 1
#endif
inline void pad_zero(__global float *d, int n)
{
	int i = 0;
	for (; i + 8 <= n; i += 8)
		vstore8((float8)(0.0f), 0, d + i);
	for (; i < n; i++)
		d[i] = 0.0f;
}

__kernel void convgemm_pad(__global const float *src, __global float *dst, int dst_off, int cs, int n0, int nb)
{
	const int part = get_global_id(0), c = get_global_id(1);
	if (part > nb + 1 || c >= C)
		return;
	__global float *d = dst + dst_off + c * cs;
	const int lead = (1 + GR) * WP;
	if (part == 0) {
		pad_zero(d, lead);
		return;
	}
	if (part == nb + 1) {
		pad_zero(d + lead + nb * (RPI * WP), cs - lead - nb * (RPI * WP));
		return;
	}
	const int n = part - 1;
	__global float *r = d + lead + n * (RPI * WP);
	__global const float *s = src + ((n0 + n) * C + c) * (SH * SW);
	for (int y = 0; y < SH; y++, r += WP, s += SW) {
		int x = 0;
		for (; x + 8 <= SW; x += 8)
			vstore8(vload8(0, s + x), 0, r + x);
		for (; x < SW; x++)
			r[x] = s[x];
		for (; x < WP; x++)
			r[x] = 0.0f;
	}
	pad_zero(r, GR * WP);
}
#endif

/*
 * wt[ci][co_g*KHW + t] = w[grp*CGO + co_g][ci_g][KHW-1-t], ci = grp*CGI + ci_g: the weights of the
 * input gradient (output and input channels swapped per group, taps rotated 180 degrees, so that the
 * input gradient runs the forward kernel with the forward's FLIP). Global (CGO*KHW, CGI, groups).
 */
#ifdef CONVGEMM_WT
__kernel void convgemm_wt(__global const float *w, __global float *wt, int wt_off)
{
	const int j = get_global_id(0), ci = get_global_id(1), grp = get_global_id(2);
	if (j >= CGO * KHW || ci >= CGI)
		return;
	const int co = j / KHW, t = j - co * KHW;
	wt[wt_off + (grp * CGI + ci) * (CGO * KHW) + j] = w[((grp * CGO + co) * CGI + ci) * KHW + KHW - 1 - t];
}
#endif

/*
 * Weight gradient, one slice of columns: part[s][grp*CGO + row][ci][WPOS(tap)] = sum over q in the
 * slice of gy[row][q] * copy[ci][q + tap offset]. gy is the padded output gradient (zero wherever a
 * column is dropped), gy_off its offset of column 0. Work-item: TMW rows x one input channel x all
 * taps, vectors along q. Global (ceil(CGO/TMW), CGI, groups * slices).
 */
#ifdef CONVGEMM_BWD_W
#ifndef TMW
#define TMW 3
#endif
__kernel void convgemm_bwd_w(__global const float *gy, int gy_off, int gy_cs, __global const float *xp, int cs,
			     __global float *part, int part_off, int slice, int q_end, int groups)
{
	const int row0 = get_global_id(0) * TMW, ci = get_global_id(1), z = get_global_id(2);
	if (row0 >= CGO || ci >= CGI)
		return;
	const int grp = z % groups, s = z / groups;
	const int q0 = s * slice, q1 = min(q0 + slice, q_end);
	const __global float *gp[TMW];
#pragma unroll
	for (int i = 0; i < TMW; i++)
		gp[i] = gy + (grp * CGO + min(row0 + i, CGO - 1)) * gy_cs + gy_off;
	const __global float *xq = xp + (grp * CGI + ci) * cs + XOFF;
	CLCNN_TILE(VT, acc, TMW, KHW);
	for (int q = q0; q < q1; q += VW) {
		VT a[TMW];
#pragma unroll
		for (int i = 0; i < TMW; i++)
			a[i] = VLOAD(0, gp[i] + q);
		BWD_W_STEP(xq + q + ky * DH * WP + kx * DW);
	}
	BWD_W_STORE(part + part_off + s * (groups * CGO * CGI * KHW));
}
#endif

/*
 * The padded input pixel-major: dst[pos][c] (CIP floats per position: C channels, then zeros) for the
 * positions of the channel-major layout (same pos = row*WP + column), zeros where that layout has them.
 * One work-item per padded row. Global (npos / WP).
 */
#ifdef CONVGEMM_PADT
__kernel void convgemm_padt(__global const float *src, __global float *dst, int dst_off, int npos, int n0, int nb)
{
	const int r = get_global_id(0);
	if (r * WP >= npos)
		return;
	__global float *d = dst + dst_off + r * (WP * CIP);
	const int rr = r - 1 - GR, n = rr >= 0 ? rr / RPI : -1, iy = rr - n * RPI;
	if (rr >= 0 && n < nb && iy < SH) {
		__global const float *s = src + ((n0 + n) * C * SH + iy) * SW;
		for (int x = 0; x < WP; x++)
			for (int c = 0; c < CIP; c++)
				d[x * CIP + c] = x < SW && c < C ? s[c * (SH * SW) + x] : 0.0f;
	} else {
		for (int i = 0; i < WP * CIP; i++)
			d[i] = 0.0f;
	}
}
#endif

/*
 * Weight gradient as a plain GEMM over the columns q (groups 1): part[s][row][j], j = tap*CIP + ci, is
 * the sum over q in slice s of gy[row][q] * xt[q + XOFF + tap offset][ci]: rows broadcast from the
 * padded output gradient, column vectors loaded whole from the pixel-major copy (CIP % VW == 0, so a
 * vector stays in one tap). Work-item (x, y, s): rows x*TM.., columns y*TN... Global (ceil(COUT/TM),
 * ceil(KHW*CIP/TN), slices).
 */
#ifdef CONVGEMM_BWD_WT
__kernel void convgemm_bwd_wt(__global const float *gy, int gy_off, int gy_cs, __global const float *xt,
			      __global float *part, int part_off, int slice, int q_end)
{
	const int row0 = get_global_id(0) * TM, col0 = get_global_id(1) * TN, s = get_global_id(2);
	if (row0 >= COUT || col0 >= KHW * CIP)
		return;
	const int q0 = s * slice, q1 = min(q0 + slice, q_end);
	const __global float *ap[TM];
#pragma unroll
	for (int i = 0; i < TM; i++)
		ap[i] = gy + gy_off + min(row0 + i, COUT - 1) * gy_cs;
	const __global float *bp[TNV];
#pragma unroll
	for (int v = 0; v < TNV; v++) {
		const int j = min(col0 + v * VW, KHW * CIP - VW), tap = j / CIP, ci = j - tap * CIP;
		const int ky = tap / KW, kx = tap - ky * KW;
		bp[v] = xt + (XOFF + ky * DH * WP + kx * DW) * CIP + ci;
	}
	CLCNN_TILE(VT, acc, TM, TNV);
	for (int q = q0; q < q1; q++) {
		VT b[TNV];
#pragma unroll
		for (int v = 0; v < TNV; v++)
			b[v] = VLOAD(0, bp[v] + q * CIP);
		CLCNN_TILE_STEP(acc, TM, TNV, ap[i][q], b);
	}
	__global float *pp = part + part_off + s * (COUT * KHW * CIP);
	CLCNN_TILE_STORE(acc, TM, TNV, row0 + i < COUT, col0 + v * VW < KHW * CIP,
			 pp + (row0 + i) * (KHW * CIP) + col0 + v * VW);
}
#endif

/* w[co][ci][WPOS(tap)] (accumulate: +=) the fixed-order sum over the slices of part[s][co][tap*CIP + ci]
 * for ci < C. Global (COUT * C * KHW). */
#ifdef CONVGEMM_SUMT
__kernel void convgemm_sumt(__global const float *part, int part_off, int nparts, __global float *out, int accumulate)
{
	const int i = get_global_id(0);
	if (i >= COUT * C * KHW)
		return;
	const int co = i / (C * KHW), r = i - co * (C * KHW), ci = r / KHW, w = r - ci * KHW;
	const int j = part_off + co * (KHW * CIP) + (FLIP ? KHW - 1 - w : w) * CIP + ci;
	float acc = accumulate ? out[i] : 0.0f;
	for (int s = 0; s < nparts; s++)
		acc += part[j + s * (COUT * KHW * CIP)];
	out[i] = acc;
}
#endif

/* out[i] = (accumulate ? out[i] : 0) + part[0][i] + part[1][i] + ... in order. Global (count). */
#ifdef CONVGEMM_SUM
__kernel void convgemm_sum(__global const float *part, int part_off, int count, int nparts, __global float *out,
			   int accumulate)
{
	const int i = get_global_id(0);
	if (i >= count)
		return;
	float acc = accumulate ? out[i] : 0.0f;
	for (int s = 0; s < nparts; s++)
		acc += part[part_off + s * count + i];
	out[i] = acc;
}
#endif

/* ================================================================== batch in the vector lanes
 * Layouts with VW images side by side in every vector (lane l of group gl is image gl*VW + l):
 * padded input [gl][c][HP][WP][VW] (zero borders, zero lanes past the batch) and outputs
 * [gl][c][OP][VW]. A tap of an output pixel is then one aligned vector at a fixed offset, and no
 * column is computed that is not an output: the GEMM's TNV vectors are TNV output pixels.
 */
#ifndef HP
#define HP 1
#endif
#ifndef PT
#define PT 0
#endif
#ifndef PL
#define PL 0
#endif
#ifndef CIN
#define CIN CGI
#endif

/* src[n][c][SH][SW] (n = n0 + gl*VW + lane, lanes past nb zero) into dst + dst_off, padded by PT / PL.
 * One work-item per padded row. Global (HP, C, groups of lanes). */
#ifdef LANES_IN
#if VW == 16
#define LANE_GATHER(p, i) \
	(VT)(p[0][i], p[1][i], p[2][i], p[3][i], p[4][i], p[5][i], p[6][i], p[7][i], p[8][i], p[9][i], p[10][i], \
	     p[11][i], p[12][i], p[13][i], p[14][i], p[15][i])
#define LANE_IDS ((int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#else
#define LANE_GATHER(p, i) (VT)(p[0][i], p[1][i], p[2][i], p[3][i], p[4][i], p[5][i], p[6][i], p[7][i])
#define LANE_IDS ((int8)(0, 1, 2, 3, 4, 5, 6, 7))
#endif
__kernel void lanes_in(__global const float *src, __global float *dst, int dst_off, int n0, int nb)
{
	const int hy = get_global_id(0), c = get_global_id(1), gl = get_global_id(2);
	if (hy >= HP || c >= C)
		return;
	__global float *d = dst + dst_off + ((gl * C + c) * HP + hy) * (WP * VW);
	const int iy = hy - PT, nl = min(VW, nb - gl * VW);
	if (iy < 0 || iy >= SH) {
		for (int hx = 0; hx < WP; hx++)
			VSTORE((VT)(0.0f), 0, d + hx * VW);
		return;
	}
	/* one row per lane (lanes past the batch read the last image's and are zeroed) */
	__global const float *rows[VW];
#pragma unroll
	for (int l = 0; l < VW; l++)
		rows[l] = src + (((n0 + gl * VW + min(l, nl - 1)) * C + c) * SH + iy) * SW;
	const CLCNN_CAT(int, VW) live = LANE_IDS < nl;
	for (int hx = 0; hx < PL; hx++)
		VSTORE((VT)(0.0f), 0, d + hx * VW);
	for (int ix = 0; ix < SW; ix++)
		VSTORE(select((VT)(0.0f), LANE_GATHER(rows, ix), live), 0, d + (PL + ix) * VW);
	for (int hx = PL + SW; hx < WP; hx++)
		VSTORE((VT)(0.0f), 0, d + hx * VW);
}
#endif

/* y[n0 + gl*VW + lane][c][p] (+ bias[c]) from src + src_off ([gl][COUT][OP][VW]), lanes < nb - gl*VW.
 * One work-item per (channel, lane group): lane by lane, its plane written in order. Global (COUT, groups
 * of lanes). */
#ifdef LANES_OUT
__kernel void lanes_out(__global const float *src, int src_off, __global float *y, __global const float *bias,
			int has_bias, int n0, int nb)
{
	const int c = get_global_id(0), gl = get_global_id(1);
	if (c >= COUT)
		return;
	const float b0 = has_bias ? bias[c] : 0.0f;
	__global const float *s = src + src_off + (gl * COUT + c) * (OP * VW);
	const int nl = min(VW, nb - gl * VW);
	for (int l = 0; l < nl; l++) {
		__global float *d = y + ((n0 + gl * VW + l) * COUT + c) * OP;
		for (int p = 0; p < OP; p++)
			d[p] = s[p * VW + l] + b0;
	}
}
#endif

/*
 * The input gradient of a strided convolution by phases (dilation 1): input row iy + PT = SY j + ry takes
 * only the taps ky = ry + SY t, at output row j - t, so each of the SY x SX phases (ry, rx) is a stride-1
 * convolution of the output gradient with TY(ry) x TX(rx) taps, TY(r) = ceil((KH - r) / SY), run by
 * lanes_fwd. Its weights: transposed per group and reversed (tap u = TY - 1 - t, so that lanes_fwd's
 * tap u reads row j + u of the output gradient padded by TY(0) - 1 at the top, offset by TY(0) - TY).
 * wph + off: the phases in order (ry, rx), each [grp*CGI + ci][co][u][v] (CGI, CGO: the forward's).
 * Global (CGO * KHW, CGI, groups).
 */
#ifdef LANES_WPH
#define TAPS(r, S, K) (((K) - (r) + (S) - 1) / (S))
__kernel void lanes_wph(__global const float *w, __global float *wph, int off, int groups)
{
	const int j = get_global_id(0), ci = get_global_id(1), grp = get_global_id(2);
	if (j >= CGO * KHW || ci >= CGI)
		return;
	const int co = j / KHW, tap = j - co * KHW, ky = tap / KW, kx = tap - ky * KW;
	const int ry = ky % SY, rx = kx % SX, ty = TAPS(ry, SY, KH), tx = TAPS(rx, SX, KW);
	for (int a = 0; a < SY; a++)
		for (int b = 0; b < SX; b++)
			if (a * SX + b < ry * SX + rx)
				off += groups * CGI * CGO * TAPS(a, SY, KH) * TAPS(b, SX, KW);
	const int u = ty - 1 - ky / SY, v = tx - 1 - kx / SX;
	wph[off + ((grp * CGI + ci) * CGO + co) * (ty * tx) + u * tx + v] =
		w[((grp * CGO + co) * CGI + ci) * KHW + WPOS(ky, kx)];
}
#endif

/*
 * dx[n0 + gl*VW + lane][c][iy][ix] from the phase planes at src + src_off: phase (ry, rx) of input pixel
 * (iy + PT, ix + PL) = (SY j + ry, SX i + rx) at [(ry*SX + rx) * pstride + ([gl][COUT][JM*IM] at (j, i))][lane].
 * One work-item per (channel, lane group), as lanes_out. Global (COUT, groups of lanes).
 */
#ifdef LANES_OUT_PHASE
__kernel void lanes_out_phase(__global const float *src, int src_off, int pstride, __global float *y, int n0, int nb)
{
	const int c = get_global_id(0), gl = get_global_id(1);
	if (c >= COUT)
		return;
	__global const float *s = src + src_off + (gl * COUT + c) * (JM * IM * VW);
	const int nl = min(VW, nb - gl * VW);
	for (int l = 0; l < nl; l++) {
		__global float *d = y + ((n0 + gl * VW + l) * COUT + c) * (H * W);
		for (int iy = 0; iy < H; iy++) {
			const int ry = (iy + PT) % SY, j = (iy + PT) / SY;
			for (int ix = 0; ix < W; ix++) {
				const int rx = (ix + PL) % SX, i = (ix + PL) / SX;
				d[iy * W + ix] = s[(ry * SX + rx) * pstride + (j * IM + i) * VW + l];
			}
		}
	}
}
#endif

/* The stride of lanes_fwd and lanes_bwd_w (1: the stride-1 convolution and its input gradient). */
#ifndef SY
#define SY 1
#endif
#ifndef SX
#define SX 1
#endif

/*
 * out[gl][grp*CGO + row][p][:] = sum over ci < CGI and taps of w[..][ci][WPOS(tap)] * in[gl][grp*CGI + ci]
 * at the tap of pixel p (padded row oy*SY + ky*DH, column ox*SX + kx*DW). Work-item (x, y, z): rows
 * x*TM.., pixels y*TNV.., z = gl*groups + grp. Global (ceil(CGO/TM), ceil(OP/TNV), lane groups * groups).
 */
#ifdef LANES_FWD
__kernel void lanes_fwd(__global const float *xb, int xb_off, __global const float *w, int w_off, __global float *out,
			int out_off, int groups)
{
	const int row0 = get_global_id(0) * TM, p0 = get_global_id(1) * TNV, z = get_global_id(2);
	if (row0 >= CGO || p0 >= OP)
		return;
	const int grp = z % groups, gl = z / groups;
	const __global float *ap[TM];
#pragma unroll
	for (int i = 0; i < TM; i++)
		ap[i] = w + w_off + (grp * CGO + min(row0 + i, CGO - 1)) * (CGI * KHW);
	const __global float *bp[TNV];
#pragma unroll
	for (int v = 0; v < TNV; v++) {
		const int p = min(p0 + v, OP - 1), oy = p / OW, ox = p - oy * OW;
		bp[v] = xb + xb_off + (((gl * CIN + grp * CGI) * HP + oy * SY) * WP + ox * SX) * VW;
	}
	CLCNN_TILE(VT, acc, TM, TNV);
#pragma unroll 1
	for (int ci = 0; ci < CGI; ci++)
		FWD_CHANNEL(ci, VLOAD(0, bp[v] + ci * (HP * WP * VW) + (ky * DH * WP + kx * DW) * VW));
	CLCNN_TILE_STORE(acc, TM, TNV, row0 + i < CGO, p0 + v < OP,
			 out + out_off + ((gl * COUT + grp * CGO + row0 + i) * OP) * VW + (p0 + v) * VW);
}
#endif

/*
 * Weight gradient of one lane group: part[gl][grp*CGO + row][ci][WPOS(tap)] = sum over the output pixels
 * and lanes of gy * input at the tap (strides SY, SX); gy is the output gradient in the lanes layout,
 * its pixel (oy, ox) at (oy + GPT, ox + GPL) of a GHP x GWP plane (stride 1: padded for the input
 * gradient, which shares the copy). Work-item: TMW rows x one
 * input channel x all taps. Global (ceil(CGO/TMW), CGI, lane groups * groups).
 */
#ifdef LANES_BWD_W
#ifndef TMW
#define TMW 3
#endif
__kernel void lanes_bwd_w(__global const float *gy, int gy_off, __global const float *xb, int xb_off,
			  __global float *part, int part_off, int groups)
{
	const int row0 = get_global_id(0) * TMW, ci = get_global_id(1), z = get_global_id(2);
	if (row0 >= CGO || ci >= CGI)
		return;
	const int grp = z % groups, gl = z / groups;
	const __global float *gp[TMW];
#pragma unroll
	for (int i = 0; i < TMW; i++)
		gp[i] = gy + gy_off + ((gl * COUT + grp * CGO + min(row0 + i, CGO - 1)) * GHP + GPT) * (GWP * VW) + GPL * VW;
	const __global float *xq = xb + xb_off + ((gl * CIN + grp * CGI + ci) * HP) * (WP * VW);
	CLCNN_TILE(VT, acc, TMW, KHW);
	for (int oy = 0; oy < OH; oy++) {
		for (int ox = 0; ox < OW; ox++) {
			VT a[TMW];
#pragma unroll
			for (int i = 0; i < TMW; i++)
				a[i] = VLOAD(0, gp[i] + (oy * GWP + ox) * VW);
			BWD_W_STEP(xq + ((oy * SY + ky * DH) * WP + ox * SX + kx * DW) * VW);
		}
	}
	BWD_W_STORE(part + part_off + gl * (groups * CGO * CGI * KHW));
}
#endif
