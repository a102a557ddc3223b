/* conv2d "winograd": F(4x4, 3x3) and F(2x2, 5x5) for stride-1, dilation-1 square convolutions (Lavin &
 * Gray), one pipeline specialised by the kernel size R (3 or 5; output tile M = 7 - R, so that both use
 * 6x6 input tiles and the same 6 points). Each 6x6 input tile d becomes V = B^T d B, each RxR filter g
 * becomes U = G g G^T, the 36 points of the transformed domain are 36 GEMMs M = U V over the channels
 * (device GEMM, batch 36) and each MxM output tile is A^T M A. Layouts: V [36][C][P] (or [36][P][C] for
 * the weight gradient), U [36][K][C], M [36][K][P], with P = images x tiles, tile p = (n * TH + ty) * TW
 * + tx at input row M ty - PT, column M tx - PL. The weight gradient uses the same bilinear form
 * transposed: dW = G^T [(A dY A^T) . V] G summed over tiles (the sum is the GEMM's k). One work-item per
 * (tile, channel), consecutive work-items along the tiles, so that the stores of one transform point are
 * contiguous. Every loop unrolls, so that the tiles stay in registers (without the pragmas POCL kept them
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

/* 2-D: out[NO][NO] = X in[NI][NI] X^T with the 1-D transform T (NI -> NO). */
#define TRANSFORM2D(T, NI, NO, out, in) \
	do { \
		float r_[NO][NI], c_[NI], o_[NO]; \
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

/*
 * Input transform of images n0 .. n0+nb-1 of src (NCHW, C x H x W): V at dst + dst_off, [36][C][P], or
 * [36][P][C] with PC_LAYOUT. Taps outside the image are the zero padding.
 */
#ifdef WINO_IN
#ifndef PC_LAYOUT
#define PC_LAYOUT 0
#endif
__kernel void wino_in(__global const float *src, __global float *dst, int dst_off, int n0, int P)
{
	const int i = get_global_id(0);
	if (i >= C * P)
		return;
#if PC_LAYOUT
	const int p = i / C, c = i - p * C, sc = 1, sp = C;
#else
	const int c = i / P, p = i - c * P, sc = P, sp = 1;
#endif
	const int n = p / TILES, t = p - n * TILES, ty = t / TW, tx = t - ty * TW;
	const int y0 = M * ty - PT, x0 = M * tx - PL;
	__global const float *s = src + ((size_t)(n0 + n) * C + c) * (H * W);
	float d[6][6], v[6][6];
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++) {
			const int y = y0 + r, x = x0 + q;
			d[r][q] = y >= 0 && y < H && x >= 0 && x < W ? s[y * W + x] : 0.0f;
		}
	TRANSFORM2D(BT6, 6, 6, v, d);
	__global float *o = dst + dst_off + c * sc + p * sp;
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++)
			o[(r * 6 + q) * (C * P)] = v[r][q];
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
__kernel void wino_out(__global const float *m, int m_off, __global float *y, __global const float *bias,
		       int has_bias, int n0, int P)
{
	const int i = get_global_id(0);
	if (i >= K * P)
		return;
	const int k = i / P, p = i - k * P;
	const int n = p / TILES, t = p - n * TILES, ty = t / TW, tx = t - ty * TW;
	float a[6][6], o[M][M];
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++)
			a[r][q] = m[m_off + (r * 6 + q) * (K * P) + i];
	TRANSFORM2D(WINO_AT, 6, M, o, a);
	const float b = has_bias ? bias[k] : 0.0f;
	__global float *dst = y + ((size_t)(n0 + n) * K + k) * (OH * OW);
	_Pragma("unroll") for (int r = 0; r < M; r++)
		_Pragma("unroll") for (int q = 0; q < M; q++) {
			const int oy = M * ty + r, ox = M * tx + q;
			if (oy < OH && ox < OW)
				dst[oy * OW + ox] = o[r][q] + b;
		}
}
#endif

/*
 * Output-gradient transform for the weight gradient: A g A^T of each MxM tile of gy (K x OH x OW, zero
 * past its edge) into [36][K][P] at dst + dst_off.
 */
#ifdef WINO_GY
__kernel void wino_gy(__global const float *gy, __global float *dst, int dst_off, int n0, int P)
{
	const int i = get_global_id(0);
	if (i >= K * P)
		return;
	const int k = i / P, p = i - k * P;
	const int n = p / TILES, t = p - n * TILES, ty = t / TW, tx = t - ty * TW;
	__global const float *s = gy + ((size_t)(n0 + n) * K + k) * (OH * OW);
	float d[M][M], v[6][6];
	_Pragma("unroll") for (int r = 0; r < M; r++)
		_Pragma("unroll") for (int q = 0; q < M; q++) {
			const int oy = M * ty + r, ox = M * tx + q;
			d[r][q] = oy < OH && ox < OW ? s[oy * OW + ox] : 0.0f;
		}
	TRANSFORM2D(WINO_A, M, 6, v, d);
	_Pragma("unroll") for (int r = 0; r < 6; r++)
		_Pragma("unroll") for (int q = 0; q < 6; q++)
			dst[dst_off + (r * 6 + q) * (K * P) + i] = v[r][q];
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
