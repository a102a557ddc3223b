/* conv2d "winograd": F(4x4, 3x3) and F(2x2, 5x5) for stride-1, dilation-1 square convolutions (Lavin &
 * Gray), one pipeline specialised by the kernel size R (3 or 5; output tile M = 7 - R, so that both use
 * 6x6 input tiles and the same 6 points). Each 6x6 input tile d becomes V = B^T d B, each RxR filter g
 * becomes U = G g G^T, the 36 points of the transformed domain are 36 GEMMs M = U V over the channels
 * (device GEMM, batch 36) and each MxM output tile is A^T M A. Layouts: V [36][C][P] (or [36][P][C] for
 * the weight gradient), U [36][K][C], M [36][K][P], with P = images x tiles, tile p = (n * TH + ty) * TW
 * + tx at input row M ty - PT, column M tx - PL. The weight gradient uses the same bilinear form
 * transposed: dW = G^T [(A dY A^T) . V] G summed over tiles (the sum is the GEMM's k). The tile
 * transforms take one tile row of one channel per work-item on CPUs, TV tiles at a time as vector lanes
 * (see TV_CALL_GROUPS), and one tile per work-item on GPUs, consecutive work-items along the tiles so
 * that the stores of one transform point are contiguous. Every loop unrolls, so that the tiles stay in registers (without the pragmas POCL kept them
 * in memory: the forward of 64x64x14x14 -> 128 took 3x longer). Kernel WINO_<NAME>. */

/* 1-D transforms, o = X i (each 2-D transform applies one to the rows, then to the columns); the points
 * are 0, -1, 1, 1/2, -2 and infinity, whose rounding error is about half that of 0, +-1, +-2 (measured;
 * Barabasz et al., "Error analysis and improving the accuracy of Winograd convolution", 2020). */
#define BT6(o, i) \
	do { \
		o[0] = i[0] - 1.5f * i[1] - 2.0f * i[2] + 1.5f * i[3] + i[4]; \
		o[1] = i[1] - 2.5f * i[2] + 0.5f * i[3] + i[4]; \
		o[2] = -i[1] + 0.5f * i[2] + 2.5f * i[3] + i[4]; \
		o[3] = 2.0f * (i[3] - i[1]) - i[2] + i[4]; \
		o[4] = 0.5f * (i[1] - i[3]) - i[2] + i[4]; \
		o[5] = i[1] - 1.5f * i[2] - 2.0f * i[3] + 1.5f * i[4] + i[5]; \
	} while (0)
#define G6(o, i) \
	do { \
		o[0] = i[0]; \
		o[1] = (1.0f / 3.0f) * (i[1] - i[0] - i[2]); \
		o[2] = (1.0f / 3.0f) * (i[0] + i[1] + i[2]); \
		o[3] = (-16.0f / 15.0f) * i[0] - (8.0f / 15.0f) * i[1] - (4.0f / 15.0f) * i[2]; \
		o[4] = (1.0f / 15.0f) * i[0] - (2.0f / 15.0f) * i[1] + (4.0f / 15.0f) * i[2]; \
		o[5] = i[2]; \
	} while (0)
#define AT4(o, i) \
	do { \
		o[0] = i[0] + i[1] + i[2] + i[3] + i[4]; \
		o[1] = i[2] - i[1] + 0.5f * i[3] - 2.0f * i[4]; \
		o[2] = i[1] + i[2] + 0.25f * i[3] + 4.0f * i[4]; \
		o[3] = i[2] - i[1] + 0.125f * i[3] - 8.0f * i[4] + i[5]; \
	} while (0)
/* the transposes, for the weight gradient: A (4 -> 6) and G^T (6 -> 3) */
#define A6(o, i) \
	do { \
		o[0] = i[0]; \
		o[1] = i[0] - i[1] + i[2] - i[3]; \
		o[2] = i[0] + i[1] + i[2] + i[3]; \
		o[3] = i[0] + 0.5f * i[1] + 0.25f * i[2] + 0.125f * i[3]; \
		o[4] = i[0] - 2.0f * i[1] + 4.0f * i[2] - 8.0f * i[3]; \
		o[5] = i[3]; \
	} while (0)
#define GT3(o, i) \
	do { \
		o[0] = i[0] + (1.0f / 3.0f) * (i[2] - i[1]) + (1.0f / 15.0f) * (i[4] - 16.0f * i[3]); \
		o[1] = (1.0f / 3.0f) * (i[1] + i[2]) - (2.0f / 15.0f) * (4.0f * i[3] + i[4]); \
		o[2] = (1.0f / 3.0f) * (i[2] - i[1]) + (4.0f / 15.0f) * (i[4] - i[3]) + i[5]; \
	} while (0)

/* F(2x2, 5x5) on the same points: G (5 -> 6), A^T (6 -> 2), and the transposes A (2 -> 6), G^T (6 -> 5) */
#define G6R5(o, i) \
	do { \
		o[0] = i[0]; \
		o[1] = (1.0f / 3.0f) * (i[1] + i[3] - i[0] - i[2] - i[4]); \
		o[2] = (1.0f / 3.0f) * (i[0] + i[1] + i[2] + i[3] + i[4]); \
		o[3] = (-1.0f / 15.0f) * (16.0f * i[0] + 8.0f * i[1] + 4.0f * i[2] + 2.0f * i[3] + i[4]); \
		o[4] = (1.0f / 15.0f) * (i[0] - 2.0f * i[1] + 4.0f * i[2] - 8.0f * i[3] + 16.0f * i[4]); \
		o[5] = i[4]; \
	} while (0)
#define AT2(o, i) \
	do { \
		o[0] = i[0] + i[1] + i[2] + i[3] + i[4]; \
		o[1] = i[2] - i[1] + 0.5f * i[3] - 2.0f * i[4] + i[5]; \
	} while (0)
#define A2(o, i) \
	do { \
		o[0] = i[0]; \
		o[1] = i[0] - i[1]; \
		o[2] = i[0] + i[1]; \
		o[3] = i[0] + 0.5f * i[1]; \
		o[4] = i[0] - 2.0f * i[1]; \
		o[5] = i[1]; \
	} while (0)
#define GT5(o, i) \
	do { \
		o[0] = i[0] + (1.0f / 3.0f) * (i[2] - i[1]) + (1.0f / 15.0f) * (i[4] - 16.0f * i[3]); \
		o[1] = (1.0f / 3.0f) * (i[1] + i[2]) - (2.0f / 15.0f) * (4.0f * i[3] + i[4]); \
		o[2] = (1.0f / 3.0f) * (i[2] - i[1]) + (4.0f / 15.0f) * (i[4] - i[3]); \
		o[3] = (1.0f / 3.0f) * (i[1] + i[2]) - (2.0f / 15.0f) * (i[3] + 4.0f * i[4]); \
		o[4] = (1.0f / 3.0f) * (i[2] - i[1]) + (1.0f / 15.0f) * (16.0f * i[4] - i[3]) + i[5]; \
	} while (0)

/* The kernel size R selects the transforms; M = 7 - R outputs per tile side. */
#ifndef R
#define R 3
#endif
#if R == 3
#define M 4
#define WINO_G G6
#define WINO_AT AT4
#define WINO_A A6
#define WINO_GT GT3
#elif R == 5
#define M 2
#define WINO_G G6R5
#define WINO_AT AT2
#define WINO_A A2
#define WINO_GT GT5
#else
#error "winograd: R must be 3 or 5"
#endif

/* 2-D: out[NO][NO] = X in[NI][NI] X^T with the 1-D transform T (NI -> NO), on values of type TYPE. */
#define TRANSFORM2D_T(TYPE, T, NI, NO, out, in) \
	do { \
		TYPE r_[NO][NI], c_[NI], o_[NO]; \
		_Pragma("unroll") for (int j_ = 0; j_ < NI; j_++) { \
			_Pragma("unroll") for (int i_ = 0; i_ < NI; i_++) \
				c_[i_] = in[i_][j_]; \
			T(o_, c_); \
			_Pragma("unroll") for (int i_ = 0; i_ < NO; i_++) \
				r_[i_][j_] = o_[i_]; \
		} \
		_Pragma("unroll") for (int i_ = 0; i_ < NO; i_++) \
			T(out[i_], r_[i_]); \
	} while (0)
#define TRANSFORM2D(T, NI, NO, out, in) TRANSFORM2D_T(float, T, NI, NO, out, in)

/* Geometry: channels C of the source, its plane H x W, top and left padding, tiles TH x TW per image. */
#ifndef C
#define C 1
#endif
#ifndef H
#define H 1
#endif
#ifndef W
#define W 1
#endif
#ifndef PT
#define PT 0
#endif
#ifndef PL
#define PL 0
#endif
#ifndef TH
#define TH 1
#endif
#ifndef TW
#define TW 1
#endif
#define TILES (TH * TW)
#ifndef TV
#define TV 1
#endif
#define TGROUPS ((TW + TV - 1) / TV)
#if TV == 1
#define tv float
#define TV_LANES(e, q, S) (e[q])
#define TV_LOAD(p) (*(p))
#define TV_STORE(v, p) (*(p) = (v))
#elif TV == 2
#define tv float2
#define TV_LANES(e, q, S) ((float2)(e[q], e[S + q]))
#elif TV == 4
#define tv float4
#define TV_LANES(e, q, S) ((float4)(e[q], e[S + q], e[2 * S + q], e[3 * S + q]))
#elif TV == 8
#define tv float8
#define TV_LANES(e, q, S) \
	((float8)(e[q], e[S + q], e[2 * S + q], e[3 * S + q], e[4 * S + q], e[5 * S + q], e[6 * S + q], e[7 * S + q]))
#elif TV == 16 /* winograd_fused only: its lanes are loaded through memory, never by TV_LANES */
#define tv float16
#else
#error "winograd: TV must be 1, 2, 4, 8 or 16"
#endif
#if TV > 1
#define TV_LOAD(p) CLCNN_CAT(vload, TV)(0, p)
#define TV_STORE(v, p) CLCNN_CAT(vstore, TV)(v, 0, p)
#endif
/* The lanes of v into l[0 .. TV-1]. */
#define TV_SPLIT(v, l) \
	do { \
		tv v_ = (v); \
		TV_STORE(v_, l); \
	} while (0)

/*
 * Tile groups: on CPUs a work-item transforms one tile row (image n, tile row ty) of one channel, TV (1,
 * 2, 4 or 8) neighbouring tiles at a time as the lanes of vectors, so that each row of their input or
 * output is one contiguous run (POCL vectorised the one-tile form across work-items with a gather or
 * scatter per tap: half of a winograd layer's time went there). The row's first and last groups are
 * separate calls with constant tile columns, so that their edge tests fold away; the last group may be
 * partial: its lanes past TW read zeros and store nothing. TV = 1 (GPUs): one tile per work-item.
 */
#define TV_CALL_GROUPS(CALL) \
	do { \
		if (TV == 1) { \
			CALL(tx1); \
		} else { \
			CALL(0); \
			for (int g_ = 1; g_ < TGROUPS - 1; g_++) \
				CALL(g_ * TV); \
			if (TGROUPS > 1) \
				CALL((TGROUPS - 1) * TV); \
		} \
	} while (0)

/* This work-item's plane c (of PLANES), tile row `row` (image n, tile row ty) and, when TV = 1, tile
 * column tx1; planes vary fastest across work-items when PLANE_MINOR. Returns past the last. */
#define TV_UNITS (TV == 1 ? TW : 1)
#define TV_WORK_ITEM(PLANES, PLANE_MINOR) \
	const int i_ = get_global_id(0), units_ = P / TW * TV_UNITS; /* P = images x TH x TW */ \
	if (i_ >= (PLANES) * units_) \
		return; \
	const int unit_ = (PLANE_MINOR) ? i_ / (PLANES) : i_ % units_; \
	const int c = (PLANE_MINOR) ? i_ - unit_ * (PLANES) : i_ / units_; \
	const int row = unit_ / TV_UNITS, tx1 = unit_ - row * TV_UNITS; \
	const int n = row / TH, ty = row - n * TH

/*
 * Input transform of images n0 .. n0+nb-1 of src (NCHW, C x H x W): V at dst + dst_off, [36][C][P], or
 * [36][P][C] with PC_LAYOUT. Taps outside the image are the zero padding. A group's WIN input columns
 * load as one run per row. Work-items: channel-major, then groups ([36][C][P]: TV consecutive values
 * per store); group-major, then channels ([36][P][C]).
 */
#ifdef WINO_IN
#ifndef PC_LAYOUT
#define PC_LAYOUT 0
#endif
#define WIN (M * (TV - 1) + 6)
__attribute__((always_inline)) inline void wino_in_group(__global const float *s, __global float *dst, int c, int P, int row, int ty, const int tx0)
{
	const int nvalid = min(TV, TW - tx0), p0 = row * TW + tx0;
	const int y0 = M * ty - PT, x0 = M * tx0 - PL;
	const int inside = x0 >= 0 && x0 + WIN <= W;
	tv d[6][6], v[6][6];
	_Pragma("unroll") for (int r = 0; r < 6; r++) {
		const int y = y0 + r;
		float e[WIN];
		if (y < 0 || y >= H) {
			_Pragma("unroll") for (int u = 0; u < WIN; u++)
				e[u] = 0.0f;
		} else if (inside) {
			_Pragma("unroll") for (int u = 0; u < WIN; u++)
				e[u] = s[y * W + x0 + u];
		} else {
			_Pragma("unroll") for (int u = 0; u < WIN; u++)
				e[u] = x0 + u >= 0 && x0 + u < W ? s[y * W + x0 + u] : 0.0f;
		}
		_Pragma("unroll") for (int q = 0; q < 6; q++)
			d[r][q] = TV_LANES(e, q, M);
	}
	TRANSFORM2D_T(tv, BT6, 6, 6, v, d);
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++) {
			__global float *o = dst + (r * 6 + q) * (C * P);
#if !PC_LAYOUT
			if (nvalid == TV) {
				TV_STORE(v[r][q], o + c * P + p0);
				continue;
			}
#endif
			float l[TV];
			TV_SPLIT(v[r][q], l);
			if (nvalid == TV) {
				_Pragma("unroll") for (int t = 0; t < TV; t++)
					o[(p0 + t) * C + c] = l[t];
			} else {
				for (int t = 0; t < nvalid; t++)
					o[PC_LAYOUT ? (p0 + t) * C + c : c * P + p0 + t] = l[t];
			}
		}
}

__kernel void wino_in(__global const float *src, __global float *dst, int dst_off, int n0, int P)
{
	TV_WORK_ITEM(C, PC_LAYOUT);
	__global const float *s = src + ((size_t)(n0 + n) * C + c) * (H * W);
#define WINO_IN_GROUP(tx0) wino_in_group(s, dst + dst_off, c, P, row, ty, tx0)
	TV_CALL_GROUPS(WINO_IN_GROUP);
}
#endif

/*
 * Filter transform: U [36][KO][KI] at dst + dst_off from the weights w [cout][cin][R][R]. Forward: KO =
 * cout, KI = cin. TRANSW (the input gradient): KO = cin, KI = cout, filter (r, s) is w[s][r]. The taps
 * are read rotated by 180 degrees when ROT.
 */
#ifdef WINO_WT
#ifndef TRANSW
#define TRANSW 0
#endif
#ifndef ROT
#define ROT 0
#endif
__kernel void wino_wt(__global const float *w, __global float *dst, int dst_off)
{
	const int i = get_global_id(0);
	if (i >= KO * KI)
		return;
	const int r = i / KI, s = i - r * KI;
	__global const float *f = w + (TRANSW ? s * KO + r : i) * (R * R);
	float g[R][R], u[6][6];
	_Pragma("unroll") for (int y = 0; y < R; y++)
		_Pragma("unroll") for (int x = 0; x < R; x++)
			g[y][x] = f[ROT ? R * R - 1 - (y * R + x) : y * R + x];
	TRANSFORM2D(WINO_G, R, 6, u, g);
	_Pragma("unroll") for (int y = 0; y < 6; y++)
		_Pragma("unroll") for (int x = 0; x < 6; x++)
			dst[dst_off + (y * 6 + x) * (KO * KI) + i] = u[y][x];
}
#endif

/*
 * Output transform: y (NCHW, K x OH x OW) of images n0.. from M [36][K][P] at m + m_off, the edge tiles
 * cropped, plus bias[k] when has_bias.
 */
#ifdef WINO_OUT
/* The tiles tx0 .. of plane mk = M + k P into output plane dst, plus b. */
__attribute__((always_inline)) inline void wino_out_group(__global const float *mk, __global float *dst, float b, int P, int row, int ty,
			   const int tx0)
{
	const int nvalid = min(TV, TW - tx0), p0 = row * TW + tx0;
	tv a[6][6], o[M][M];
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++) {
			__global const float *src = mk + (r * 6 + q) * (K * P) + p0;
			if (nvalid == TV) {
				a[r][q] = TV_LOAD(src);
			} else {
				float l[TV];
				for (int t = 0; t < TV; t++)
					l[t] = t < nvalid ? src[t] : 0.0f;
				a[r][q] = TV_LOAD(l);
			}
		}
	TRANSFORM2D_T(tv, WINO_AT, 6, M, o, a);
	const int x0 = M * tx0, xend = min(M * (tx0 + nvalid), OW);
	_Pragma("unroll") for (int r = 0; r < M; r++) {
		const int oy = M * ty + r;
		if (oy >= OH)
			break;
		float e[M * TV];
		_Pragma("unroll") for (int q = 0; q < M; q++) {
			float l[TV];
			TV_SPLIT(o[r][q] + b, l);
			_Pragma("unroll") for (int t = 0; t < TV; t++)
				e[t * M + q] = l[t];
		}
		if (x0 + M * TV <= xend) {
			_Pragma("unroll") for (int u = 0; u < M * TV; u++)
				dst[oy * OW + x0 + u] = e[u];
		} else {
			for (int u = 0; u < xend - x0; u++)
				dst[oy * OW + x0 + u] = e[u];
		}
	}
}

__kernel void wino_out(__global const float *m, int m_off, __global float *y, __global const float *bias,
		       int has_bias, int n0, int P)
{
	TV_WORK_ITEM(K, 0);
	const float b = has_bias ? bias[c] : 0.0f;
	__global float *dst = y + ((size_t)(n0 + n) * K + c) * (OH * OW);
#define WINO_OUT_GROUP(tx0) wino_out_group(m + m_off + c * P, dst, b, P, row, ty, tx0)
	TV_CALL_GROUPS(WINO_OUT_GROUP);
}
#endif

/*
 * Output-gradient transform for the weight gradient: A g A^T of each MxM tile of gy (K x OH x OW, zero
 * past its edge) into [36][K][P] at dst + dst_off.
 */
#ifdef WINO_GY
__attribute__((always_inline)) inline void wino_gy_group(__global const float *s, __global float *dk, int P, int row, int ty, const int tx0)
{
	const int nvalid = min(TV, TW - tx0), p0 = row * TW + tx0;
	const int x0 = M * tx0, inside = x0 + M * TV <= OW;
	tv d[M][M], v[6][6];
	_Pragma("unroll") for (int r = 0; r < M; r++) {
		const int oy = M * ty + r;
		float e[M * TV];
		if (oy >= OH) {
			_Pragma("unroll") for (int u = 0; u < M * TV; u++)
				e[u] = 0.0f;
		} else if (inside) {
			_Pragma("unroll") for (int u = 0; u < M * TV; u++)
				e[u] = s[oy * OW + x0 + u];
		} else {
			_Pragma("unroll") for (int u = 0; u < M * TV; u++)
				e[u] = x0 + u < OW ? s[oy * OW + x0 + u] : 0.0f;
		}
		_Pragma("unroll") for (int q = 0; q < M; q++)
			d[r][q] = TV_LANES(e, q, M);
	}
	TRANSFORM2D_T(tv, WINO_A, M, 6, v, d);
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++) {
			__global float *o = dk + (r * 6 + q) * (K * P) + p0;
			if (nvalid == TV) {
				TV_STORE(v[r][q], o);
			} else {
				float l[TV];
				TV_SPLIT(v[r][q], l);
				for (int t = 0; t < nvalid; t++)
					o[t] = l[t];
			}
		}
}

__kernel void wino_gy(__global const float *gy, __global float *dst, int dst_off, int n0, int P)
{
	TV_WORK_ITEM(K, 0);
	__global const float *s = gy + ((size_t)(n0 + n) * K + c) * (OH * OW);
#define WINO_GY_GROUP(tx0) wino_gy_group(s, dst + dst_off + c * P, P, row, ty, tx0)
	TV_CALL_GROUPS(WINO_GY_GROUP);
}
#endif

/* Weight gradient from its transformed sum M [36][K][C] at m + m_off: dw = G^T M G (taps rotated when FLIP). */
#ifdef WINO_DW
#ifndef FLIP
#define FLIP 0
#endif
__kernel void wino_dw(__global const float *m, int m_off, __global float *dw)
{
	const int i = get_global_id(0);
	if (i >= K * C)
		return;
	float a[6][6], o[R][R];
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++)
			a[r][q] = m[m_off + (r * 6 + q) * (K * C) + i];
	TRANSFORM2D(WINO_GT, 6, R, o, a);
	_Pragma("unroll") for (int y = 0; y < R; y++)
		_Pragma("unroll") for (int x = 0; x < R; x++)
			dw[i * (R * R) + (FLIP ? R * R - 1 - (y * R + x) : y * R + x)] = o[y][x];
}
#endif

/*
 * winograd_fused (CPUs, F(4x4, 3x3) or F(2x2, 5x5) by R): the three passes of one group of TV tiles in
 * one work-item (work-groups of one), so that V and M never leave the core's caches. The TV lanes are TV consecutive
 * tiles p (images x TH x TW, in that order: tiles of several rows or images share a vector when TW is
 * small); lanes past P repeat the last tile and store nothing. First V [36][C] (of vectors, __local) =
 * B^T d B of every channel; then for each point the KB output channels at a time, M[pt][k] = sum_c
 * U[pt][k][c] V[pt][c] (U [36][K][C] at u + u_off, wino_wt's layout; one V load per KB FMAs, each U
 * value broadcast); then y = A^T M A per channel, cropped, plus bias[k] when has_bias. The sum over c
 * runs in channel order, as the GEMM of the three-pass pipeline does.
 */
#ifdef WFUSED
/* output channels per pass over V[pt]: 8 accumulators (64x64x14x14 -> 64, ms: KB 4 5.4, 8 3.6, 16 5.3) */
#ifndef KB
#define KB 8
#endif
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void wfused(__global const float *x, __global const float *u,
								    int u_off, __global float *y,
								    __global const float *bias, int has_bias, int P)
{
	__local tv vl[36 * C];
	__local tv ml[36 * K];
	const int p0 = get_global_id(0) * TV;
	int off[TV], yo[TV], rm[TV], cm[TV], orows[TV], ocols[TV];
	_Pragma("unroll") for (int t = 0; t < TV; t++) {
		const int p = min(p0 + t, P - 1), n = p / TILES, ty = (p - n * TILES) / TW, tx = p - n * TILES - ty * TW;
		const int y0 = M * ty - PT, x0 = M * tx - PL;
		off[t] = n * (C * H * W) + y0 * W + x0;
		yo[t] = n * (K * OH * OW) + M * ty * OW + M * tx;
		rm[t] = cm[t] = 0;
		_Pragma("unroll") for (int i = 0; i < 6; i++) {
			rm[t] |= (y0 + i >= 0 && y0 + i < H) << i;
			cm[t] |= (x0 + i >= 0 && x0 + i < W) << i;
		}
		orows[t] = p0 + t < P ? min(M, OH - M * ty) : 0;
		ocols[t] = min(M, OW - M * tx);
	}
	for (int c = 0; c < C; c++) {
		float e[36 * TV];
		for (int t = 0; t < TV; t++) /* rolled: unrolled, POCL took a minute to compile it at TV 16 */
			_Pragma("unroll") for (int r = 0; r < 6; r++)
				_Pragma("unroll") for (int q = 0; q < 6; q++)
					e[(r * 6 + q) * TV + t] =
						(rm[t] >> r) & (cm[t] >> q) & 1 ? x[off[t] + c * (H * W) + r * W + q] : 0.0f;
		tv d[6][6], v[6][6];
		_Pragma("unroll") for (int r = 0; r < 6; r++)
			_Pragma("unroll") for (int q = 0; q < 6; q++)
				d[r][q] = TV_LOAD(e + (r * 6 + q) * TV);
		TRANSFORM2D_T(tv, BT6, 6, 6, v, d);
		_Pragma("unroll") for (int r = 0; r < 6; r++)
			_Pragma("unroll") for (int q = 0; q < 6; q++)
				vl[(r * 6 + q) * C + c] = v[r][q];
	}
	for (int pt = 0; pt < 36; pt++) {
		__global const float *up = u + u_off + pt * (K * C);
		__local const tv *vp = vl + pt * C;
		for (int k0 = 0; k0 < K; k0 += KB) {
			tv acc[KB];
			_Pragma("unroll") for (int j = 0; j < KB; j++)
				acc[j] = 0.0f;
			for (int c = 0; c < C; c++) {
				const tv v = vp[c];
				_Pragma("unroll") for (int j = 0; j < KB; j++)
					acc[j] = fma((tv)(up[min(k0 + j, K - 1) * C + c]), v, acc[j]);
			}
			_Pragma("unroll") for (int j = 0; j < KB; j++)
				if (k0 + j < K)
					ml[pt * K + k0 + j] = acc[j];
		}
	}
	for (int k = 0; k < K; k++) {
		const float b = has_bias ? bias[k] : 0.0f;
		tv a[6][6], o[M][M];
		_Pragma("unroll") for (int r = 0; r < 6; r++)
			_Pragma("unroll") for (int q = 0; q < 6; q++)
				a[r][q] = ml[(r * 6 + q) * K + k];
		TRANSFORM2D_T(tv, WINO_AT, 6, M, o, a);
		float e[M * M * TV];
		_Pragma("unroll") for (int r = 0; r < M; r++)
			_Pragma("unroll") for (int q = 0; q < M; q++)
				TV_STORE(o[r][q] + b, e + (r * M + q) * TV);
		for (int t = 0; t < TV; t++)
			_Pragma("unroll") for (int r = 0; r < M; r++)
				_Pragma("unroll") for (int q = 0; q < M; q++)
					if (r < orows[t] && q < ocols[t])
						y[yo[t] + k * (OH * OW) + r * OW + q] = e[(r * M + q) * TV + t];
	}
}
#endif
