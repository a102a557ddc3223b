/* softmax (MODE 0), logsoftmax (1), softmin (2) over the middle dim of an (outer, L, inner) view.
 * cols kernels: a work-item owns VW adjacent inner positions (vector loads, stride inner along L;
 * the ragged last chunk goes through a private buffer). rows kernels (inner == 1): a work-item owns
 * one row and vectorises along it (ragged last chunk padded with -inf). Each makes fixed-order passes: max, sum of exp(x - max), write;
 * backward recomputes y from x and adds a pass for sum(g * y) or sum(g). */

#ifndef VW
#define VW 16
#endif
#ifndef MODE
#define MODE 0
#endif

#define SM_CAT_(a, b) a##b
#define SM_CAT(a, b) SM_CAT_(a, b)
#define VT SM_CAT(float, VW)
#define VLOAD SM_CAT(vload, VW)
#define VSTORE SM_CAT(vstore, VW)

/* softmin is softmax of -x */
#if MODE == 2
#define SIGN (-1.0f)
#else
#define SIGN 1.0f
#endif

/* VW floats at p (lanes valid), zero-padded. */
inline VT sm_load(__global const float *p, int lanes)
{
	if (lanes == VW)
		return VLOAD(0, p);
	float t[VW];
	for (int k = 0; k < VW; k++)
		t[k] = k < lanes ? p[k] : 0.0f;
	return VLOAD(0, t);
}

inline void sm_store(VT v, __global float *p, int lanes)
{
	if (lanes == VW) {
		VSTORE(v, 0, p);
		return;
	}
	float t[VW];
	VSTORE(v, 0, t);
	for (int k = 0; k < lanes; k++)
		p[k] = t[k];
}

inline float sm_hsum(VT v)
{
	float t[VW];
	VSTORE(v, 0, t);
	float s = 0.0f;
	for (int k = 0; k < VW; k++)
		s += t[k];
	return s;
}

inline float sm_hmax(VT v)
{
	float t[VW];
	VSTORE(v, 0, t);
	float m = t[0];
	for (int k = 1; k < VW; k++)
		m = fmax(m, t[k]);
	return m;
}

/* ---------------------------------------------------------------- cols: normalised dim has stride inner */

/* Work-item gid = o * nchunk + chunk; m = max and s = sum exp(SIGN x - m) per lane. */
#define SM_COLS_PROLOGUE                                                                          \
	int gid = get_global_id(0);                                                               \
	if (gid >= total)                                                                         \
		return;                                                                           \
	int o = gid / nchunk, ch = gid - o * nchunk;                                              \
	int lanes = min(VW, inner - ch * VW);                                                     \
	int base = o * L * inner + ch * VW;                                                       \
	VT m = (VT)(-INFINITY);                                                                   \
	for (int k = 0; k < L; k++)                                                               \
		m = fmax(m, SIGN * sm_load(x + base + k * inner, lanes));                          \
	VT s = (VT)0.0f;                                                                          \
	for (int k = 0; k < L; k++)                                                               \
		s += exp(SIGN * sm_load(x + base + k * inner, lanes) - m);

__kernel void softmax_cols_forward(__global const float *x, __global float *y, int L, int inner, int nchunk,
				   int total)
{
	SM_COLS_PROLOGUE
#if MODE == 1
	/* (x - m) - log(s) as PyTorch orders it: x - m is exact for nearby values, m + log(s) is not */
	VT ls = log(s);
	for (int k = 0; k < L; k++)
		sm_store(sm_load(x + base + k * inner, lanes) - m - ls, y + base + k * inner, lanes);
#else
	for (int k = 0; k < L; k++)
		sm_store(exp(SIGN * sm_load(x + base + k * inner, lanes) - m) / s, y + base + k * inner, lanes);
#endif
}

__kernel void softmax_cols_backward(__global const float *x, __global const float *g, __global float *gx, int L,
				    int inner, int nchunk, int total)
{
	SM_COLS_PROLOGUE
#if MODE == 1
	/* gx = g - softmax(x) * sum(g) */
	VT gsum = (VT)0.0f;
	for (int k = 0; k < L; k++)
		gsum += sm_load(g + base + k * inner, lanes);
	for (int k = 0; k < L; k++) {
		int at = base + k * inner;
		VT p = exp(sm_load(x + at, lanes) - m) / s;
		sm_store(sm_load(g + at, lanes) - p * gsum, gx + at, lanes);
	}
#else
	/* gx = SIGN * y * (g - sum(g * y)) */
	VT dot = (VT)0.0f;
	for (int k = 0; k < L; k++) {
		int at = base + k * inner;
		dot += sm_load(g + at, lanes) * (exp(SIGN * sm_load(x + at, lanes) - m) / s);
	}
	for (int k = 0; k < L; k++) {
		int at = base + k * inner;
		VT yv = exp(SIGN * sm_load(x + at, lanes) - m) / s;
		sm_store(SIGN * yv * (sm_load(g + at, lanes) - dot), gx + at, lanes);
	}
#endif
}

/* ---------------------------------------------------------------- rows: normalised dim is unit-stride */

/* SIGN * x at p (lanes valid), padded with -inf so that padding adds exp(-inf) = 0 to the sum. */
inline VT sm_zload(__global const float *p, int lanes)
{
	if (lanes == VW)
		return SIGN * VLOAD(0, p);
	float t[VW];
	for (int k = 0; k < VW; k++)
		t[k] = k < lanes ? SIGN * p[k] : -INFINITY;
	return VLOAD(0, t);
}

/* Row r in chunks of VW (the last one ragged): m = max and s = sum exp(SIGN x - m). */
#define SM_ROWS_PROLOGUE                                                                          \
	int r = get_global_id(0);                                                                 \
	if (r >= rows)                                                                            \
		return;                                                                           \
	__global const float *xr = x + r * L;                                                     \
	VT mv = (VT)(-INFINITY);                                                                  \
	for (int c = 0; c < L; c += VW)                                                           \
		mv = fmax(mv, sm_zload(xr + c, min(VW, L - c)));                                  \
	float m = sm_hmax(mv);                                                                    \
	VT sv = (VT)0.0f;                                                                         \
	for (int c = 0; c < L; c += VW)                                                           \
		sv += exp(sm_zload(xr + c, min(VW, L - c)) - m);                                  \
	float s = sm_hsum(sv);

__kernel void softmax_rows_forward(__global const float *x, __global float *y, int L, int rows)
{
	SM_ROWS_PROLOGUE
	__global float *yr = y + r * L;
#if MODE == 1
	float ls = log(s);
	for (int c = 0; c < L; c += VW)
		sm_store(sm_zload(xr + c, min(VW, L - c)) - m - ls, yr + c, min(VW, L - c));
#else
	for (int c = 0; c < L; c += VW)
		sm_store(exp(sm_zload(xr + c, min(VW, L - c)) - m) / s, yr + c, min(VW, L - c));
#endif
}

__kernel void softmax_rows_backward(__global const float *x, __global const float *g, __global float *gx, int L,
				    int rows)
{
	SM_ROWS_PROLOGUE
	__global const float *gr = g + r * L;
	__global float *gxr = gx + r * L;
#if MODE == 1
	/* gx = g - softmax(x) * sum(g) */
	VT gv = (VT)0.0f;
	for (int c = 0; c < L; c += VW)
		gv += sm_load(gr + c, min(VW, L - c));
	float gsum = sm_hsum(gv);
	for (int c = 0; c < L; c += VW) {
		int lanes = min(VW, L - c);
		VT p = exp(sm_zload(xr + c, lanes) - m) / s;
		sm_store(sm_load(gr + c, lanes) - p * gsum, gxr + c, lanes);
	}
#else
	/* gx = SIGN * y * (g - sum(g * y)) */
	VT dv = (VT)0.0f;
	for (int c = 0; c < L; c += VW) {
		int lanes = min(VW, L - c);
		dv += sm_load(gr + c, lanes) * (exp(sm_zload(xr + c, lanes) - m) / s);
	}
	float dot = sm_hsum(dv);
	for (int c = 0; c < L; c += VW) {
		int lanes = min(VW, L - c);
		VT yv = exp(sm_zload(xr + c, lanes) - m) / s;
		sm_store(SIGN * yv * (sm_load(gr + c, lanes) - dot), gxr + c, lanes);
	}
#endif
}
