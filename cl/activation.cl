/* Element-wise activations on flat float32 arrays: a work-item maps VW consecutive elements with
 * vloadVW/vstoreVW (one AVX-512 register on POCL); the last one takes the ragged tail through a
 * private buffer, so every function is written once, for VT. ACT (-D, an id of activation.h) picks
 * the function; p0, p1 are its float arguments (slope, beta/threshold, alpha, min/max). prelu reads
 * its slope per element from w (dim 1 of NCHW planes of `inner` floats) and reduces its weight
 * gradient in two fixed-order passes (partial sums per plane chunk, then per weight), so results
 * are deterministic. */

#ifndef ACT
#define ACT ACT_SIGMOID
#endif

/* exp(-|x|) never overflows, so neither branch does. */
inline VT act_sigmoid(VT x)
{
	VT e = exp(-fabs(x));
	VT r = 1.0f / (1.0f + e);
	return select(e * r, r, x >= 0.0f);
}

/* log1p(e) for e in [0, 1] as 2 atanh(s), s = e / (2 + e) <= 1/3: the odd series to s^13 is within
 * ~3 ulp. POCL's log1p, expm1 and even log do not vectorise (3-6x slower than exp here). */
inline VT act_log1p(VT e)
{
	VT s = e / (2.0f + e), z = s * s;
	VT p = fma(z, (VT)(1.0f / 13.0f), (VT)(1.0f / 11.0f));
	p = fma(z, p, (VT)(1.0f / 9.0f));
	p = fma(z, p, (VT)(1.0f / 7.0f));
	p = fma(z, p, (VT)(1.0f / 5.0f));
	p = fma(z, p, (VT)(1.0f / 3.0f));
	p = fma(z, p, (VT)1.0f);
	return 2.0f * s * p;
}

/* 1 + erf(z) without POCL's slow erf and without cancellation in the negative tail: N. Juffa's
 * float erf (< 1 ulp): an odd polynomial for |z| <= 0.9277, else erfc(|z|) = exp(q(|z|)). */
inline VT act_erf1p(VT z)
{
	VT t = fabs(z), s = z * z;
	VT r = (VT)(-5.96761703e-4f);
	r = fma(r, s, (VT)4.99119423e-3f);
	r = fma(r, s, (VT)(-2.67681349e-2f));
	r = fma(r, s, (VT)1.12819925e-1f);
	r = fma(r, s, (VT)(-3.76125336e-1f));
	r = fma(r, s, (VT)1.28379166e-1f);
	VT small = 1.0f + fma(r, z, z);
	VT q = fma((VT)(-1.72853470e-5f), t, (VT)3.83197126e-4f);
	q = fma(q, s, fma((VT)(-3.88396438e-3f), t, (VT)2.42546219e-2f));
	q = fma(q, t, (VT)(-1.06777877e-1f));
	q = fma(q, t, (VT)(-6.34846687e-1f));
	q = fma(q, t, (VT)(-1.28717512e-1f));
	VT c = exp(fma(q, t, -t)); /* erfc(|z|) */
	return select(small, select(2.0f - c, c, z < 0.0f), t > 0.927734375f);
}

#define GELU_SQRT_2_OVER_PI 0.797884560802865f
#define GELU_KAPPA 0.044715f

/* select(a, b, c) = c ? b : a per lane; comparisons with NaN are false, so NaN passes through. */
inline VT act_f(VT x, float p0, float p1, VT slope)
{
#if ACT == ACT_SIGMOID
	return act_sigmoid(x);
#elif ACT == ACT_TANH
	return tanh(x);
#elif ACT == ACT_RELU
	return select(x, (VT)0.0f, x < 0.0f);
#elif ACT == ACT_LEAKY_RELU
	return select(x * p0, x, x > 0.0f);
#elif ACT == ACT_PRELU
	return select(x * slope, x, x > 0.0f);
#elif ACT == ACT_SOFTPLUS
	/* p0 = beta, p1 = threshold; log1p(exp(b)) = max(b, 0) + log1p(exp(-|b|)) cannot overflow */
	VT b = p0 * x;
	return select((fmax(b, 0.0f) + act_log1p(exp(-fabs(b)))) / p0, x, b > p1);
#elif ACT == ACT_LOGSIGMOID
	return fmin(x, 0.0f) - act_log1p(exp(-fabs(x)));
#elif ACT == ACT_ELU
	/* exp(x) - 1: off by ~1 ulp of 1 near 0 (far inside the tolerance), but it vectorises */
	return select(p0 * (exp(x) - 1.0f), x, x > 0.0f);
#elif ACT == ACT_GELU
	return 0.5f * x * act_erf1p(x * M_SQRT1_2_F);
#elif ACT == ACT_GELU_TANH
	/* 0.5 (1 + tanh(u)) = sigmoid(2u): no cancellation where tanh(u) is near -1 */
	return x * act_sigmoid(2.0f * GELU_SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x));
#elif ACT == ACT_SILU
	return x * act_sigmoid(x);
#elif ACT == ACT_HARDTANH
	return select(select(x, (VT)p1, x > p1), (VT)p0, x < p0);
#else
#error unknown ACT
#endif
}

/* g * f'(x), with PyTorch's value at each kink (relu 0, leaky/prelu slope, elu alpha, hardtanh 0)
 * and its NaN convention (the comparison PyTorch writes decides which side NaN falls on). */
inline VT act_df(VT x, VT g, float p0, float p1, VT slope)
{
#if ACT == ACT_SIGMOID
	/* 1 - sigmoid(x) = sigmoid(-x) keeps the tiny tails exact */
	return g * act_sigmoid(x) * act_sigmoid(-x);
#elif ACT == ACT_TANH
	/* 1 - tanh(x)^2 = 4 sigmoid(2x) sigmoid(-2x): 1 - t * t loses everything once tanh rounds to 1 */
	return g * 4.0f * act_sigmoid(2.0f * x) * act_sigmoid(-2.0f * x);
#elif ACT == ACT_RELU
	return select(g, (VT)0.0f, x <= 0.0f);
#elif ACT == ACT_LEAKY_RELU
	return select(g * p0, g, x > 0.0f);
#elif ACT == ACT_PRELU
	return select(g * slope, g, x > 0.0f);
#elif ACT == ACT_SOFTPLUS
	VT b = p0 * x;
	return select(g * act_sigmoid(b), g, b > p1);
#elif ACT == ACT_LOGSIGMOID
	return g * act_sigmoid(-x);
#elif ACT == ACT_ELU
	return select(g, g * p0 * exp(x), x <= 0.0f);
#elif ACT == ACT_GELU
	VT cdf = 0.5f * act_erf1p(x * M_SQRT1_2_F);
	VT pdf = exp(-0.5f * x * x) * 0.398942280401433f; /* 1 / sqrt(2 pi) */
	return g * (cdf + x * pdf);
#elif ACT == ACT_GELU_TANH
	/* with s = sigmoid(2u) = 0.5 (1 + tanh(u)): 1 - tanh(u)^2 = 4 s (1 - s), 1 - s = sigmoid(-2u) */
	VT u2 = 2.0f * GELU_SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x);
	VT s = act_sigmoid(u2);
	VT du = GELU_SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_KAPPA * x * x);
	return g * (s + 2.0f * x * s * act_sigmoid(-u2) * du);
#elif ACT == ACT_SILU
	VT s = act_sigmoid(x);
	return g * s * (1.0f + x * act_sigmoid(-x));
#elif ACT == ACT_HARDTANH
	return select(g, (VT)0.0f, (x <= p0) | (x >= p1));
#endif
}

/* prelu's slope for the VW elements from i: one plane (broadcast) or a walk across planes. */
inline VT act_slope(__global const float *w, int i, int inner, int channels, int wstep)
{
#if ACT == ACT_PRELU
	int s = i % inner, c = i / inner % channels;
	if (s + VW <= inner)
		return (VT)w[c * wstep];
	float t[VW];
	for (int k = 0; k < VW; k++) {
		t[k] = w[c * wstep];
		if (++s == inner) {
			s = 0;
			c = c + 1 == channels ? 0 : c + 1;
		}
	}
	return VLOAD(0, t);
#else
	return (VT)0.0f;
#endif
}

/* Loads VW floats from p + i, zero-padded past n. */
inline VT act_load(__global const float *p, int i, int n)
{
	if (i + VW <= n)
		return VLOAD(0, p + i);
	float t[VW];
	for (int k = 0; k < VW; k++)
		t[k] = i + k < n ? p[i + k] : 0.0f;
	return VLOAD(0, t);
}

inline void act_store(VT v, __global float *p, int i, int n)
{
	if (i + VW <= n) {
		VSTORE(v, 0, p + i);
		return;
	}
	float t[VW];
	VSTORE(v, 0, t);
	for (int k = 0; i + k < n; k++)
		p[i + k] = t[k];
}

/* y = f(x); w, inner, channels, wstep are prelu's (ignored otherwise). */
__kernel void act_forward(__global const float *x, __global float *y, __global const float *w, int n, float p0,
			  float p1, int inner, int channels, int wstep)
{
	int i = get_global_id(0) * VW;
	if (i >= n)
		return;
	VT slope = act_slope(w, i, inner, channels, wstep);
	act_store(act_f(act_load(x, i, n), p0, p1, slope), y, i, n);
}

/* gx = gy * f'(x) (overwrites gx). */
__kernel void act_backward(__global const float *x, __global const float *gy, __global float *gx,
			   __global const float *w, int n, float p0, float p1, int inner, int channels, int wstep)
{
	int i = get_global_id(0) * VW;
	if (i >= n)
		return;
	VT slope = act_slope(w, i, inner, channels, wstep);
	act_store(act_df(act_load(x, i, n), act_load(gy, i, n), p0, p1, slope), gx, i, n);
}

/* prelu weight gradient, pass 1: partial[p * nchunk + k] = sum of x * g over x <= 0 in chunk k of
 * plane p (chunk floats per chunk). */
__kernel void prelu_weight_partial(__global const float *x, __global const float *g, __global float *partial,
				   int inner, int chunk, int nchunk, int npartial)
{
	int id = get_global_id(0);
	if (id >= npartial)
		return;
	int p = id / nchunk, k = id - p * nchunk;
	int start = k * chunk, end = min(start + chunk, inner);
	__global const float *xp = x + p * inner, *gp = g + p * inner;
	VT acc = (VT)0.0f;
	int s = start;
	for (; s + VW <= end; s += VW) {
		VT xv = VLOAD(0, xp + s);
		acc += select(xv * VLOAD(0, gp + s), (VT)0.0f, xv > 0.0f);
	}
	float t[VW];
	VSTORE(acc, 0, t);
	float sum = 0.0f;
	for (int q = 0; q < VW; q++)
		sum += t[q];
	for (; s < end; s++)
		sum += xp[s] > 0.0f ? 0.0f : xp[s] * gp[s];
	partial[id] = sum;
}

/* Pass 2: weight j sums the partials of planes j, j + pstep, ... in order (pstep = channels when
 * per channel, 1 when shared). Overwrites gw. */
__kernel void prelu_weight_sum(__global const float *partial, __global float *gw, int nw, int planes, int pstep,
			       int nchunk)
{
	int j = get_global_id(0);
	if (j >= nw)
		return;
	float sum = 0.0f;
	for (int p = j; p < planes; p += pstep)
		for (int k = 0; k < nchunk; k++)
			sum += partial[p * nchunk + k];
	gw[j] = sum;
}
