/* Losses. Elementwise losses (-DLOSS=LOSS_* of loss.h) read flat inputs; class losses (-DNCLASS=C, -DCE=0|1)
 * read logits/log-probabilities (N, C, S) with S the flattened spatial dims and targets (N, S) of
 * class indices stored as floats; triplet (-DDIM=D, -DPNORM=1|2|0 for general p) reads (N, D); pair
 * losses (-DPAIR=PAIR_* of loss.h, -DPDIM=D) read rows x1, x2 of (N, D) and one label per row.
 * One work-item per element or sample. Reductions are deterministic: each work-item of a *_partial
 * kernel sums one contiguous chunk in order, then loss_finish adds the partials in one work-item. */

/* out[0] = sum(part) / div, or a weighted mean: sum(part[0..np)) / sum(part[np..2np)), keeping the
 * total weight in state[0] for backward. */
__kernel void loss_finish(__global const float *part, int np, int weighted, float div, __global float *out,
			  __global float *state)
{
	if (get_global_id(0) != 0)
		return;
	float s = 0.0f;
	for (int i = 0; i < np; i++)
		s += part[i];
	if (weighted) {
		float w = 0.0f;
		for (int i = 0; i < np; i++)
			w += part[np + i];
		out[0] = s / w;
		state[0] = w;
	} else {
		out[0] = s / div;
	}
}

/* NaN-preserving clamps (fmax would turn a NaN from bad data into a finite loss). */
inline float clamp_low(float v, float lo)
{
	return v < lo ? lo : v;
}

#ifdef LOSS

/* Loss of one element; z is the third input (margin_ranking's y), f1 is beta or margin. */
inline float elem_loss(float x, float y, float z, float pw, float f1)
{
#if LOSS == LOSS_MSE
	float d = x - y;
	return d * d;
#elif LOSS == LOSS_L1
	return fabs(x - y);
#elif LOSS == LOSS_SMOOTH_L1
	float d = fabs(x - y);
	return d < f1 ? 0.5f * d * d / f1 : d - 0.5f * f1;
#elif LOSS == LOSS_BCE
	return (y - 1.0f) * clamp_low(log1p(-x), -100.0f) - y * clamp_low(log(x), -100.0f);
#elif LOSS == LOSS_BCE_LOGITS
	/* PyTorch's stable form: log(1 + exp(-x)) = log(exp(-m) + exp(-x - m)) + m with m = max(-x, 0) */
	float m = fmax(-x, 0.0f);
	return (1.0f - y) * x + ((pw - 1.0f) * y + 1.0f) * (log(exp(-m) + exp(-x - m)) + m);
#elif LOSS == LOSS_MARGIN
	return clamp_low(-z * (x - y) + f1, 0.0f);
#endif
}

#define ELEM(i) elem_loss(a[i], b[i], c[i], pwlen ? pw[(i) % pwlen] : 1.0f, f1)

__kernel void elem_none(__global const float *a, __global const float *b, __global const float *c,
			__global const float *pw, int pwlen, float f1, __global float *out, int n)
{
	int i = get_global_id(0);
	if (i < n)
		out[i] = ELEM(i);
}

__kernel void elem_partial(__global const float *a, __global const float *b, __global const float *c,
			   __global const float *pw, int pwlen, float f1, __global float *part, int n, int chunk)
{
	int g = get_global_id(0), lo = g * chunk;
	if (lo >= n)
		return;
	int hi = min(lo + chunk, n);
	float s = 0.0f;
	for (int i = lo; i < hi; i++)
		s += ELEM(i);
	part[g] = s;
}

/* want bit 0: grad of a, bit 1: grad of b, bit 2: grad of c (margin_ranking's y). per_elem: grad_out
 * has one value per element (none); otherwise it is a scalar divided by gdiv (n for mean, 1 for sum). */
__kernel void elem_backward(__global const float *a, __global const float *b, __global const float *c,
			    __global const float *pw, int pwlen, float f1, __global const float *gout, int per_elem,
			    float gdiv, __global float *ga, __global float *gb, __global float *gc, int want, int n)
{
	int i = get_global_id(0);
	if (i >= n)
		return;
	float g = per_elem ? gout[i] : gout[0] / gdiv;
	float x = a[i], y = b[i], da, db, dc = 0.0f;
#if LOSS == LOSS_MSE
	da = 2.0f * (x - y) * g;
	db = -da;
#elif LOSS == LOSS_L1
	da = sign(x - y) * g;
	db = -da;
#elif LOSS == LOSS_SMOOTH_L1
	/* PyTorch's branch order: with beta = 0, d = 0 takes the first branch (-1); the target's
	 * gradient is the same function of y - x, so there both get -1 */
	float d = x - y;
	da = (d <= -f1 ? -1.0f : d >= f1 ? 1.0f : d / f1) * g;
	db = (-d <= -f1 ? -1.0f : -d >= f1 ? 1.0f : -d / f1) * g;
#elif LOSS == LOSS_BCE
	da = (x - y) / fmax((1.0f - x) * x, 1e-12f) * g;
	db = (log1p(-x) - log(x)) * g;
#elif LOSS == LOSS_BCE_LOGITS
	float p = pwlen ? pw[i % pwlen] : 1.0f, s = 1.0f / (1.0f + exp(-x));
	da = ((p * y + 1.0f - y) * s - p * y) * g;
	if (pwlen) {
		/* log_sigmoid(-x) - p * log_sigmoid(x), log_sigmoid(v) = -(max(-v, 0) + log1p(exp(-|v|))) */
		float sp = log1p(exp(-fabs(x)));
		db = (-(fmax(x, 0.0f) + sp) + p * (fmax(-x, 0.0f) + sp)) * g;
	} else {
		db = -x * g;
	}
#elif LOSS == LOSS_MARGIN
	/* clamp_min passes the gradient at the hinge point itself (z >= 0) */
	float z = c[i], on = -z * (x - y) + f1 >= 0.0f ? 1.0f : 0.0f;
	da = -z * on * g;
	db = -da;
	dc = -(x - y) * on * g;
#endif
	if (want & 1)
		ga[i] = da;
	if (want & 2)
		gb[i] = db;
	if (want & 4)
		gc[i] = dc;
}

#endif /* LOSS */

#ifdef NCLASS
#ifndef CE
#define CE 0
#endif

#if CE
/* log sum_c exp(x_c) over the NCLASS logits at stride S, shifted by their max so that exp cannot
 * overflow (cls_loss and cls_backward must agree to the bit). */
inline float cls_logsumexp(__global const float *xs, int S)
{
	float m = xs[0];
	for (int c = 1; c < NCLASS; c++)
		m = fmax(m, xs[c * S]);
	float se = 0.0f;
	for (int c = 0; c < NCLASS; c++)
		se += exp(xs[c * S] - m);
	return m + log(se);
}
#endif

/* Loss of sample q = (n, s); *wt receives its target's weight (0 when ignored). A target that is
 * neither ignore_index nor a class index gives NaN (PyTorch raises; a kernel can only mark it). */
inline float cls_loss(__global const float *x, __global const float *t, __global const float *w, int hasw,
		      int ignore, float eps, int q, int S, float *wt)
{
	int n = q / S, s = q - n * S;
	__global const float *xs = x + n * NCLASS * S + s;
	float tf = t[q];
	*wt = 0.0f;
	if (tf == (float)ignore)
		return 0.0f;
	if (!(tf >= 0.0f && tf < (float)NCLASS) || tf != floor(tf))
		return NAN;
	int k = (int)tf;
	float wk = hasw ? w[k] : 1.0f;
	*wt = wk;
#if CE
	float lse = cls_logsumexp(xs, S), l = -wk * (xs[k * S] - lse);
	if (eps > 0.0f) {
		float sm = 0.0f;
		for (int c = 0; c < NCLASS; c++)
			sm += (hasw ? w[c] : 1.0f) * (xs[c * S] - lse);
		l = (1.0f - eps) * l - sm * (eps / NCLASS);
	}
	return l;
#else
	return -wk * xs[k * S];
#endif
}

__kernel void cls_none(__global const float *x, __global const float *t, __global const float *w, int hasw,
		       int ignore, float eps, __global float *out, int ns, int S)
{
	int q = get_global_id(0);
	float wt;
	if (q < ns)
		out[q] = cls_loss(x, t, w, hasw, ignore, eps, q, S, &wt);
}

/* part[g] = sum of the losses of chunk g, part[np + g] = sum of its target weights. */
__kernel void cls_partial(__global const float *x, __global const float *t, __global const float *w, int hasw,
			  int ignore, float eps, __global float *part, int np, int ns, int S, int chunk)
{
	int g = get_global_id(0), lo = g * chunk;
	if (lo >= ns)
		return;
	int hi = min(lo + chunk, ns);
	float s = 0.0f, ws = 0.0f, wt;
	for (int q = lo; q < hi; q++) {
		s += cls_loss(x, t, w, hasw, ignore, eps, q, S, &wt);
		ws += wt;
	}
	part[g] = s;
	part[np + g] = ws;
}

/* mode (LOSS_GRAD_* of loss.h): grad_out per sample (none), a scalar (sum), or a scalar over the total
 * weight in state[0] (mean). wsum is the sum of all class weights (C without weights). Writes every class of sample q. */
__kernel void cls_backward(__global const float *x, __global const float *t, __global const float *w, int hasw,
			   int ignore, float eps, float wsum, __global const float *gout, int mode,
			   __global const float *state, __global float *gx, int ns, int S)
{
	int q = get_global_id(0);
	if (q >= ns)
		return;
	int n = q / S, s = q - n * S;
	__global const float *xs = x + n * NCLASS * S + s;
	__global float *gs = gx + n * NCLASS * S + s;
	float tf = t[q];
	if (tf == (float)ignore) {
		for (int c = 0; c < NCLASS; c++)
			gs[c * S] = 0.0f;
		return;
	}
	if (!(tf >= 0.0f && tf < (float)NCLASS) || tf != floor(tf)) {
		for (int c = 0; c < NCLASS; c++)
			gs[c * S] = NAN;
		return;
	}
	int k = (int)tf;
	float g = mode == LOSS_GRAD_PER_SAMPLE ? gout[q] : mode == LOSS_GRAD_SUM ? gout[0] : gout[0] / state[0];
	float wk = hasw ? w[k] : 1.0f;
#if CE
	float lse = cls_logsumexp(xs, S), a = (1.0f - eps) * wk * g, b = eps / NCLASS * g;
	/* d/dx_c of (1-eps) * -w_k logp_k + eps/C * -sum_j w_j logp_j with logp = x - lse */
	for (int c = 0; c < NCLASS; c++) {
		float p = exp(xs[c * S] - lse);
		gs[c * S] = a * (p - (c == k ? 1.0f : 0.0f)) + b * (p * wsum - (hasw ? w[c] : 1.0f));
	}
#else
	for (int c = 0; c < NCLASS; c++)
		gs[c * S] = c == k ? -wk * g : 0.0f;
#endif
}

#endif /* NCLASS */

#ifdef DIM
#ifndef PNORM
#define PNORM 2
#endif

/* PyTorch's pairwise_distance: || u - v + eps ||_p (eps is added to the difference). */
inline float pdist(__global const float *u, __global const float *v, float p, float eps)
{
	float s = 0.0f;
	for (int j = 0; j < DIM; j++) {
		float d = fabs(u[j] - v[j] + eps);
#if PNORM == 1
		s += d;
#elif PNORM == 2
		s += d * d;
#else
		s += pow(d, p);
#endif
	}
#if PNORM == 1
	return s;
#elif PNORM == 2
	return sqrt(s);
#else
	return pow(s, 1.0f / p);
#endif
}

/* Hinge input of sample i; *c_an, *c_pn: weights of d(a,n) and d(p,n) in the swap minimum (ties split). */
inline float triplet_z(__global const float *a, __global const float *pp, __global const float *nn, int i,
		       float margin, float p, float eps, int swap, float *dap, float *dan, float *dpn, float *c_an,
		       float *c_pn)
{
	__global const float *ai = a + i * DIM, *pi = pp + i * DIM, *ni = nn + i * DIM;
	*dap = pdist(ai, pi, p, eps);
	*dan = pdist(ai, ni, p, eps);
	float dn = *dan;
	*c_an = 1.0f;
	*c_pn = 0.0f;
	if (swap) {
		*dpn = pdist(pi, ni, p, eps);
		dn = fmin(*dan, *dpn);
		*c_an = *dan < *dpn ? 1.0f : *dan == *dpn ? 0.5f : 0.0f;
		*c_pn = 1.0f - *c_an;
	}
	return margin + *dap - dn;
}

__kernel void triplet_none(__global const float *a, __global const float *pp, __global const float *nn,
			   float margin, float p, float eps, int swap, __global float *out, int N)
{
	int i = get_global_id(0);
	float dap, dan, dpn, c1, c2;
	if (i < N)
		out[i] = clamp_low(triplet_z(a, pp, nn, i, margin, p, eps, swap, &dap, &dan, &dpn, &c1, &c2), 0.0f);
}

__kernel void triplet_partial(__global const float *a, __global const float *pp, __global const float *nn,
			      float margin, float p, float eps, int swap, __global float *part, int N, int chunk)
{
	int g = get_global_id(0), lo = g * chunk;
	if (lo >= N)
		return;
	int hi = min(lo + chunk, N);
	float s = 0.0f, dap, dan, dpn, c1, c2;
	for (int i = lo; i < hi; i++)
		s += clamp_low(triplet_z(a, pp, nn, i, margin, p, eps, swap, &dap, &dan, &dpn, &c1, &c2), 0.0f);
	part[g] = s;
}

/* d ||v||_p / d v_j, as PyTorch's norm backward: 0 where v_j = 0 or the norm is 0. */
inline float dnorm(float v, float norm, float p)
{
	if (v == 0.0f || norm == 0.0f)
		return 0.0f;
#if PNORM == 1
	return sign(v);
#elif PNORM == 2
	return v / norm;
#else
	return sign(v) * pow(fabs(v) / norm, p - 1.0f);
#endif
}

/* want bits 0..2: gradients of anchor, positive, negative. */
__kernel void triplet_backward(__global const float *a, __global const float *pp, __global const float *nn,
			       float margin, float p, float eps, int swap, __global const float *gout, int per_elem,
			       float gdiv, __global float *ga, __global float *gp, __global float *gn, int want, int N)
{
	int i = get_global_id(0);
	if (i >= N)
		return;
	float dap, dan, dpn, c_an, c_pn;
	float z = triplet_z(a, pp, nn, i, margin, p, eps, swap, &dap, &dan, &dpn, &c_an, &c_pn);
	/* clamp_min passes the gradient at z == 0 */
	float g = z >= 0.0f ? (per_elem ? gout[i] : gout[0] / gdiv) : 0.0f;
	for (int j = 0; j < DIM; j++) {
		int o = i * DIM + j;
		float u_ap = dnorm(a[o] - pp[o] + eps, dap, p) * g;
		float u_an = dnorm(a[o] - nn[o] + eps, dan, p) * g * c_an;
		float u_pn = c_pn != 0.0f ? dnorm(pp[o] - nn[o] + eps, dpn, p) * g * c_pn : 0.0f;
		if (want & 1)
			ga[o] = u_ap - u_an;
		if (want & 2)
			gp[o] = -u_ap - u_pn;
		if (want & 4)
			gn[o] = u_an + u_pn;
	}
}

#endif /* DIM */

#ifdef PAIR

/* Row i: its loss, *dl = d loss / d s and t[] as in src/ops/loss-pair.c: s = t[0] is the distance
 * (contrastive) or the cosine, t[1..3] its denominator and squared magnitudes (+ 1e-12, Loss.cpp). */
inline float pair_row(__global const float *x1, __global const float *x2, __global const float *y, int i,
		      float margin, float eps, float *dl, float *t)
{
	__global const float *u = x1 + i * PDIM, *v = x2 + i * PDIM;
	float yi = y[i];
#if PAIR == PAIR_CONTRASTIVE
	float s = 0.0f;
	for (int j = 0; j < PDIM; j++) {
		float e = u[j] - v[j] + eps;
		s += e * e;
	}
	float d = sqrt(s), h = clamp_low(margin - d, 0.0f);
	t[0] = d;
	*dl = yi * d - (1.0f - yi) * h;
	return 0.5f * yi * d * d + 0.5f * (1.0f - yi) * h * h;
#else
	float p = 0.0f, m1 = 0.0f, m2 = 0.0f;
	for (int j = 0; j < PDIM; j++) {
		p += u[j] * v[j];
		m1 += u[j] * u[j];
		m2 += v[j] * v[j];
	}
	m1 += 1e-12f;
	m2 += 1e-12f;
	float den = sqrt(m1 * m2), c = p / den;
	t[0] = c;
	t[1] = den;
	t[2] = m1;
	t[3] = m2;
	/* PyTorch: where(y == 1, 1 - cos, 0) + where(y == -1, clamp_min(cos - margin, 0), 0) */
	*dl = yi == 1.0f ? -1.0f : yi == -1.0f && c - margin >= 0.0f ? 1.0f : 0.0f;
	return yi == 1.0f ? 1.0f - c : yi == -1.0f ? clamp_low(c - margin, 0.0f) : 0.0f;
#endif
}

__kernel void pair_none(__global const float *x1, __global const float *x2, __global const float *y, float margin,
			float eps, __global float *out, int N)
{
	int i = get_global_id(0);
	float dl, t[4];
	if (i < N)
		out[i] = pair_row(x1, x2, y, i, margin, eps, &dl, t);
}

__kernel void pair_partial(__global const float *x1, __global const float *x2, __global const float *y,
			   float margin, float eps, __global float *part, int N, int chunk)
{
	int g = get_global_id(0), lo = g * chunk;
	if (lo >= N)
		return;
	int hi = min(lo + chunk, N);
	float s = 0.0f, dl, t[4];
	for (int i = lo; i < hi; i++)
		s += pair_row(x1, x2, y, i, margin, eps, &dl, t);
	part[g] = s;
}

/* want bit 0: gradient of x1, bit 1: of x2. */
__kernel void pair_backward(__global const float *x1, __global const float *x2, __global const float *y,
			    float margin, float eps, __global const float *gout, int per_elem, float gdiv,
			    __global float *g1, __global float *g2, int want, int N)
{
	int i = get_global_id(0);
	if (i >= N)
		return;
	float dl, t[4];
	pair_row(x1, x2, y, i, margin, eps, &dl, t);
	float g = dl * (per_elem ? gout[i] : gout[0] / gdiv);
	for (int j = 0; j < PDIM; j++) {
		int o = i * PDIM + j;
		float u = x1[o], v = x2[o], a, b;
#if PAIR == PAIR_CONTRASTIVE
		/* the norm's gradient is 0 where the norm is 0 (PyTorch) */
		a = t[0] == 0.0f ? 0.0f : g * (u - v + eps) / t[0];
		b = -a;
#else
		a = g * (v / t[1] - t[0] * u / t[2]);
		b = g * (u / t[1] - t[0] * v / t[3]);
#endif
		if (want & 1)
			g1[o] = a;
		if (want & 2)
			g2[o] = b;
	}
}

#endif /* PAIR */
