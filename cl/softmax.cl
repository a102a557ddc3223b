/* softmax, logsoftmax, softmin (-DMODE=SM_* of softmax.h) over the middle dim of an (outer, L, inner) view.
 * cols kernels: a work-item owns VW adjacent inner positions (vector loads, stride inner along L;
 * the ragged last chunk goes through a private buffer). rows kernels (inner == 1): a work-item owns
 * one row and vectorises along it (ragged last chunk padded with -inf). Fixed-order passes: max, then
 * sum of e = exp(x - max) with e parked in the destination, then the result from e (one exp each). */

#ifndef MODE
#define MODE SM_SOFTMAX
#endif

/* softmin is softmax of -x */
#if MODE == SM_SOFTMIN
#define SIGN (-1.0f)
#else
#define SIGN 1.0f
#endif

/* SIGN * x at p (lanes valid), padded with -inf so that padding adds exp(-inf) = 0 to a sum. */
inline VT sm_zload(__global const float *p, int lanes)
{
	if (lanes == VW)
		return SIGN * VLOAD(0, p);
	float t[VW];
	for (int k = 0; k < VW; k++)
		t[k] = k < lanes ? SIGN * p[k] : -INFINITY;
	return VLOAD(0, t);
}

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

/* Work-item gid = o * nchunk + chunk; AT(k) = offset of row k of its block; m = max of SIGN x. */
#define SM_COLS_PROLOGUE                                                                          \
	int gid = get_global_id(0);                                                               \
	if (gid >= total)                                                                         \
		return;                                                                           \
	int o = gid / nchunk, ch = gid - o * nchunk;                                              \
	int lanes = min(VW, inner - ch * VW);                                                     \
	int base = o * L * inner + ch * VW;                                                       \
	VT m = (VT)(-INFINITY);                                                                   \
	for (int k = 0; k < L; k++)                                                               \
		m = fmax(m, sm_zload(x + AT(k), lanes));                                          \
	VT s = (VT)0.0f;
#define AT(k) (base + (k) * inner)

__kernel void softmax_cols_forward(__global const float *x, __global float *y, int L, int inner, int nchunk,
				   int total)
{
	SM_COLS_PROLOGUE
#if MODE == SM_LOGSOFTMAX
	for (int k = 0; k < L; k++)
		s += exp(sm_zload(x + AT(k), lanes) - m);
	/* (x - m) - log(s) as PyTorch orders it: x - m is exact for nearby values, m + log(s) is not */
	VT ls = log(s);
	for (int k = 0; k < L; k++)
		sm_store(sm_zload(x + AT(k), lanes) - m - ls, y + AT(k), lanes);
#else
	for (int k = 0; k < L; k++) {
		VT e = exp(sm_zload(x + AT(k), lanes) - m);
		s += e;
		sm_store(e, y + AT(k), lanes);
	}
	for (int k = 0; k < L; k++)
		sm_store(sm_load(y + AT(k), lanes) / s, y + AT(k), lanes);
#endif
}

/* e parked in gx; logsoftmax: gx = g - (e / s) sum(g); softmax/softmin: gx = SIGN y (g - sum(g y)). */
__kernel void softmax_cols_backward(__global const float *x, __global const float *g, __global float *gx, int L,
				    int inner, int nchunk, int total)
{
	SM_COLS_PROLOGUE
	VT gsum = (VT)0.0f;
	for (int k = 0; k < L; k++) {
		VT e = exp(sm_zload(x + AT(k), lanes) - m);
		s += e;
		sm_store(e, gx + AT(k), lanes);
		gsum += sm_load(g + AT(k), lanes);
	}
#if MODE == SM_LOGSOFTMAX
	for (int k = 0; k < L; k++)
		sm_store(sm_load(g + AT(k), lanes) - sm_load(gx + AT(k), lanes) / s * gsum, gx + AT(k), lanes);
#else
	VT dot = (VT)0.0f;
	for (int k = 0; k < L; k++)
		dot += sm_load(g + AT(k), lanes) * (sm_load(gx + AT(k), lanes) / s);
	for (int k = 0; k < L; k++) {
		VT yv = sm_load(gx + AT(k), lanes) / s;
		sm_store(SIGN * yv * (sm_load(g + AT(k), lanes) - dot), gx + AT(k), lanes);
	}
#endif
}
#undef AT

/* ---------------------------------------------------------------- rows: normalised dim is unit-stride */

/* Row r in chunks of VW (the last one ragged, CL(c) lanes): m = max of SIGN x. */
#define SM_ROWS_PROLOGUE                                                                          \
	int r = get_global_id(0);                                                                 \
	if (r >= rows)                                                                            \
		return;                                                                           \
	__global const float *xr = x + r * L;                                                     \
	VT mv = (VT)(-INFINITY);                                                                  \
	for (int c = 0; c < L; c += VW)                                                           \
		mv = fmax(mv, sm_zload(xr + c, CL(c)));                                           \
	float m = sm_hmax(mv);                                                                    \
	VT sv = (VT)0.0f;
#define CL(c) min(VW, L - (c))

__kernel void softmax_rows_forward(__global const float *x, __global float *y, int L, int rows)
{
	SM_ROWS_PROLOGUE
	__global float *yr = y + r * L;
#if MODE == SM_LOGSOFTMAX
	for (int c = 0; c < L; c += VW)
		sv += exp(sm_zload(xr + c, CL(c)) - m);
	float ls = log(sm_hsum(sv));
	for (int c = 0; c < L; c += VW)
		sm_store(sm_zload(xr + c, CL(c)) - m - ls, yr + c, CL(c));
#else
	for (int c = 0; c < L; c += VW) {
		VT e = exp(sm_zload(xr + c, CL(c)) - m);
		sv += e;
		sm_store(e, yr + c, CL(c));
	}
	float s = sm_hsum(sv);
	for (int c = 0; c < L; c += VW)
		sm_store(sm_load(yr + c, CL(c)) / s, yr + c, CL(c));
#endif
}

__kernel void softmax_rows_backward(__global const float *x, __global const float *g, __global float *gx, int L,
				    int rows)
{
	SM_ROWS_PROLOGUE
	__global const float *gr = g + r * L;
	__global float *gxr = gx + r * L;
	VT gv = (VT)0.0f;
	for (int c = 0; c < L; c += VW) {
		VT e = exp(sm_zload(xr + c, CL(c)) - m);
		sv += e;
		sm_store(e, gxr + c, CL(c));
		gv += sm_load(gr + c, CL(c));
	}
	float s = sm_hsum(sv);
#if MODE == SM_LOGSOFTMAX
	float gsum = sm_hsum(gv);
	for (int c = 0; c < L; c += VW)
		sm_store(sm_load(gr + c, CL(c)) - sm_load(gxr + c, CL(c)) / s * gsum, gxr + c, CL(c));
#else
	VT dv = (VT)0.0f;
	for (int c = 0; c < L; c += VW)
		dv += sm_load(gr + c, CL(c)) * (sm_load(gxr + c, CL(c)) / s);
	float dot = sm_hsum(dv);
	for (int c = 0; c < L; c += VW) {
		VT yv = sm_load(gxr + c, CL(c)) / s;
		sm_store(SIGN * yv * (sm_load(gr + c, CL(c)) - dot), gxr + c, CL(c));
	}
#endif
}
#undef CL
