/*
 * Elementwise losses (PyTorch 1.13 semantics): mse_loss, l1_loss, smooth_l1_loss, bce_loss,
 * bce_with_logits_loss, margin_ranking_loss, plus the reduction machinery the loss family shares
 * (loss.h). Class losses live in loss-class.c, triplet_margin_loss in loss-triplet.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../cl/loss.h" /* LOSS_*: the kernel ids, shared with the kernels */
#include "ops/loss.h"

/* ------------------------------------------------------------------ shared machinery */

void clcnn_loss_split(size_t count, int *np, int *chunk)
{
	/* ~sqrt(count) chunks of ~sqrt(count) terms: the float sum then has ~2 sqrt(count) rounding steps
	 * in its longest chain, and a GPU still gets enough work-items; 1024 bounds pass 2 */
	size_t p = (size_t)ceil(sqrt((double)(count ? count : 1)));
	if (p > 1024)
		p = 1024;
	size_t c = (count + p - 1) / p;
	if (c == 0)
		c = 1;
	*chunk = (int)c;
	*np = (int)((count + c - 1) / c);
	if (*np == 0)
		*np = 1;
}

void clcnn_loss_reduce_setup(struct clcnn_op *op, int reduction, struct clcnn_shape none_shape, size_t count,
			     int weighted)
{
	op->out = reduction == CLCNN_LOSS_NONE ? none_shape : (struct clcnn_shape){0, {0}};
	op->state_bytes = weighted && reduction == CLCNN_LOSS_MEAN ? sizeof(float) : 0;
	op->scratch_bytes = 0;
	if (reduction != CLCNN_LOSS_NONE) {
		int np, chunk;
		clcnn_loss_split(count, &np, &chunk);
		op->scratch_bytes = 2 * (size_t)np * sizeof(float);
	}
}

int clcnn_loss_finish(struct clcnn_op *op, const struct clcnn_dev_io *io, const char *options, size_t count,
		      int weighted, float divisor)
{
	cl_kernel k;
	int np, chunk;
	clcnn_loss_split(count, &np, &chunk);
	cl_mem state = io->state ? io->state : io->scratch;
	int rc = clcnn_kernel_get(op->ctx, "loss", options, "loss_finish", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->scratch), KARG(np), KARG(weighted), KARG(divisor),
				       KARG(io->out), KARG(state));
	size_t one = 1;
	return rc ? rc : clcnn_kernel_run(op->ctx, k, 1, &one, &one);
}

int clcnn_loss_prepare_weight(struct clcnn_op *op, const struct clcnn_floats *w)
{
	clcnn_loss_destroy(op);
	struct clcnn_loss_priv *p = calloc(1, sizeof *p);
	if (!p)
		return clcnn_fail(op->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", op->cls->name);
	op->priv = p;
	if (!w || w->n == 0)
		return 0;
	float *f = malloc((size_t)w->n * sizeof *f);
	if (!f)
		return clcnn_fail(op->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", op->cls->name);
	for (int i = 0; i < w->n; i++)
		f[i] = (float)w->v[i];
	int rc = clcnn_buffer_new(op->ctx, (size_t)w->n * sizeof *f, &p->weight);
	if (!rc)
		rc = clcnn_buffer_write(op->ctx, p->weight, 0, (size_t)w->n * sizeof *f, f);
	free(f);
	return rc;
}

void clcnn_loss_destroy(struct clcnn_op *op)
{
	struct clcnn_loss_priv *p = op->priv;
	if (!p)
		return;
	clcnn_buffer_free(p->weight);
	free(p);
	op->priv = NULL;
}

cl_mem clcnn_loss_weight(const struct clcnn_op *op, cl_mem fallback)
{
	const struct clcnn_loss_priv *p = op->priv;
	return p && p->weight ? p->weight : fallback;
}

void clcnn_loss_ref_reduce(const double *v, size_t n, int reduction, double *out)
{
	if (reduction == CLCNN_LOSS_NONE) {
		memcpy(out, v, n * sizeof *v);
		return;
	}
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += v[i];
	out[0] = reduction == CLCNN_LOSS_MEAN ? s / (double)n : s;
}

double clcnn_loss_ref_grad(const struct clcnn_ref_io *io, int reduction, size_t i, size_t n)
{
	if (reduction == CLCNN_LOSS_NONE)
		return io->grad_out[i];
	return reduction == CLCNN_LOSS_MEAN ? io->grad_out[0] / (double)n : io->grad_out[0];
}

double clcnn_loss_grid_value(uint64_t *rng, int odd, double lo, double hi)
{
	int steps = (int)floor((hi - lo) / 0.25);
	int k = (int)floor(clcnn_test_uniform(rng, 0, steps + 1e-9));
	return lo + 0.25 * k + (odd ? 0.125 : 0) + clcnn_test_uniform(rng, -0.04, 0.04);
}

/* ------------------------------------------------------------------ elementwise losses */

/* One args layout for every elementwise loss: each key table names the fields it uses. */
struct elem_args {
	int reduction;
	double beta;                    /* smooth_l1_loss */
	double margin;                  /* margin_ranking_loss */
	struct clcnn_floats pos_weight; /* bce_with_logits_loss */
};

static const struct clcnn_arg plain_keys[] = {
	CLCNN_LOSS_REDUCTION_KEY(struct elem_args),
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg smooth_l1_keys[] = {
	CLCNN_LOSS_REDUCTION_KEY(struct elem_args),
	{"beta", CLCNN_ARG_FLOAT, offsetof(struct elem_args, beta), "1.0", NULL,
	 "where the loss turns from quadratic to linear; 0 gives l1_loss"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg bce_logits_keys[] = {
	CLCNN_LOSS_REDUCTION_KEY(struct elem_args),
	{"pos_weight", CLCNN_ARG_FLOATS, offsetof(struct elem_args, pos_weight), "()", NULL,
	 "weight of positive examples, one per entry of the last dim (or one for all); () = none"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg margin_keys[] = {
	{"margin", CLCNN_ARG_FLOAT, offsetof(struct elem_args, margin), "0", NULL, "hinge margin"},
	CLCNN_LOSS_REDUCTION_KEY(struct elem_args),
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int elem_kind_of(const struct clcnn_op *op)
{
	static const char *const names[] = {
		[LOSS_MSE] = "mse_loss",
		[LOSS_L1] = "l1_loss",
		[LOSS_SMOOTH_L1] = "smooth_l1_loss",
		[LOSS_BCE] = "bce_loss",
		[LOSS_BCE_LOGITS] = "bce_with_logits_loss",
		[LOSS_MARGIN] = "margin_ranking_loss",
	};
	for (int i = 0; i < (int)CLCNN_ARRAY_LEN(names); i++)
		if (names[i] && !strcmp(op->cls->name, names[i]))
			return i;
	return 0;
}

static int elem_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct elem_args *a = op->args;
	const char *name = op->cls->name;
	char s0[64], s1[64], s2[64];
	int same =
		clcnn_shape_equal(&op->in[0], &op->in[1]) && (op->nin < 3 || clcnn_shape_equal(&op->in[0], &op->in[2]));
	if (!same && op->nin == 3)
		return clcnn_op_invalid(err, errlen, "%s: input shapes %s, %s and %s differ", name,
					clcnn_shape_str(&op->in[0], s0, sizeof s0),
					clcnn_shape_str(&op->in[1], s1, sizeof s1),
					clcnn_shape_str(&op->in[2], s2, sizeof s2));
	if (!same)
		return clcnn_op_invalid(err, errlen, "%s: input shapes %s and %s differ", name,
					clcnn_shape_str(&op->in[0], s0, sizeof s0),
					clcnn_shape_str(&op->in[1], s1, sizeof s1));
	int kind = elem_kind_of(op);
	if (kind == LOSS_SMOOTH_L1 && !(a->beta >= 0))
		return clcnn_op_invalid(err, errlen, "smooth_l1_loss: beta must be >= 0, got %g", a->beta);
	if (kind == LOSS_BCE_LOGITS && a->pos_weight.n > 0) {
		int last = op->in[0].ndim ? op->in[0].d[op->in[0].ndim - 1] : 1;
		if (a->pos_weight.n != 1 && a->pos_weight.n != last)
			return clcnn_op_invalid(
				err, errlen,
				"bce_with_logits_loss: pos_weight has %d values, expected 1 or %d (the last "
				"dim of input %s)",
				a->pos_weight.n, last, clcnn_shape_str(&op->in[0], s0, sizeof s0));
	}
	/* every input has a gradient: PyTorch differentiates bce's target and margin_ranking's y too */
	op->nograd_in = 0;
	clcnn_loss_reduce_setup(op, a->reduction, op->in[0], clcnn_shape_count(&op->in[0]), 0);
	return 0;
}

static int elem_prepare(struct clcnn_op *op)
{
	const struct elem_args *a = op->args;
	return clcnn_loss_prepare_weight(op, elem_kind_of(op) == LOSS_BCE_LOGITS ? &a->pos_weight : NULL);
}

/* Reference loss of element i, written from the PyTorch formulas. */
static double elem_ref_loss(int kind, const struct elem_args *a, const struct clcnn_ref_io *io, size_t i)
{
	double x = io->in[0][i], y = io->in[1][i], d = x - y;
	switch (kind) {
	case LOSS_MSE: return d * d;
	case LOSS_L1: return fabs(d);
	case LOSS_SMOOTH_L1: return fabs(d) < a->beta ? 0.5 * d * d / a->beta : fabs(d) - 0.5 * a->beta;
	case LOSS_BCE: {
		/* log clamped at -100 (NaN stays NaN), so x = 0 or 1 gives a finite loss */
		double l1 = log1p(-x), l0 = log(x);
		return (y - 1) * (l1 < -100 ? -100 : l1) - y * (l0 < -100 ? -100 : l0);
	}
	case LOSS_BCE_LOGITS: {
		int n = a->pos_weight.n;
		double pw = n ? a->pos_weight.v[n == 1 ? 0 : i % (size_t)n] : 1; /* broadcast along the last dim */
		double m = x < 0 ? -x : 0;
		return (1 - y) * x + (1 + (pw - 1) * y) * (log(exp(-m) + exp(-x - m)) + m);
	}
	case LOSS_MARGIN: {
		double z = -io->in[2][i] * d + a->margin;
		return z < 0 ? 0 : z;
	}
	}
	return NAN;
}

static void elem_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t n = clcnn_shape_count(&op->in[0]);
	int kind = elem_kind_of(op);
	const struct elem_args *a = op->args;
	double *v = malloc((n ? n : 1) * sizeof *v);
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = elem_ref_loss(kind, a, io, i);
	clcnn_loss_ref_reduce(v, n, a->reduction, io->out);
	free(v);
}

/* log(1 + exp(v)) without overflow */
static double softplus(double v)
{
	return (v > 0 ? v : 0) + log1p(exp(-fabs(v)));
}

static double smooth_l1_grad(double d, double beta)
{
	return d <= -beta ? -1 : d >= beta ? 1 : d / beta;
}

static double sgn(double v)
{
	return v > 0 ? 1 : v < 0 ? -1 : 0;
}

static void elem_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	size_t n = clcnn_shape_count(&op->in[0]);
	int kind = elem_kind_of(op);
	const struct elem_args *a = op->args;
	for (size_t i = 0; i < n; i++) {
		double g = clcnn_loss_ref_grad(io, a->reduction, i, n);
		double x = io->in[0][i], y = io->in[1][i], d = x - y, da = 0, db = 0, dc = 0;
		double pw =
			a->pos_weight.n ? a->pos_weight.v[a->pos_weight.n == 1 ? 0 : i % (size_t)a->pos_weight.n] : 1;
		switch (kind) {
		case LOSS_MSE: da = 2 * d * g, db = -da; break;
		case LOSS_L1: da = sgn(d) * g, db = -da; break;
		case LOSS_SMOOTH_L1:
			/* PyTorch tests d <= -beta first: with beta = 0 the gradient at d = 0 is -1, for the
			 * target too (its gradient is the same function of y - x) */
			da = smooth_l1_grad(d, a->beta) * g;
			db = smooth_l1_grad(-d, a->beta) * g;
			break;
		case LOSS_BCE:
			da = (x - y) / fmax((1 - x) * x, 1e-12) * g;
			db = (log1p(-x) - log(x)) * g; /* -logit(x): PyTorch does not clamp this one */
			break;
		case LOSS_BCE_LOGITS: {
			double s = 1 / (1 + exp(-x));
			da = ((pw * y + 1 - y) * s - pw * y) * g;
			/* log_sigmoid(-x) - pw * log_sigmoid(x); without pos_weight PyTorch uses -x */
			db = a->pos_weight.n ? (-softplus(x) + pw * softplus(-x)) * g : -x * g;
			break;
		}
		case LOSS_MARGIN: {
			double yy = io->in[2][i], on = -yy * d + a->margin >= 0 ? 1 : 0;
			da = -yy * on * g, db = -da;
			dc = -d * on * g; /* y may be a learned tensor in PyTorch */
			break;
		}
		}
		if (io->grad_in[0])
			io->grad_in[0][i] = da;
		if (io->grad_in[1])
			io->grad_in[1][i] = db;
		if (op->nin > 2 && io->grad_in[2])
			io->grad_in[2][i] = dc;
	}
}

static int elem_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct elem_args *a = op->args;
	int kind = elem_kind_of(op), n = (int)clcnn_shape_count(&op->in[0]);
	int pwlen = kind == LOSS_BCE_LOGITS ? a->pos_weight.n : 0;
	float f1 = (float)(kind == LOSS_MARGIN ? a->margin : a->beta);
	cl_mem c = op->nin > 2 ? io->in[2] : io->in[0], pw = clcnn_loss_weight(op, io->in[0]);
	char opts[32];
	snprintf(opts, sizeof opts, "-DLOSS=%d", kind);
	cl_kernel k;
	if (a->reduction == CLCNN_LOSS_NONE) {
		int rc = clcnn_kernel_get(op->ctx, "loss", opts, "elem_none", &k);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(c), KARG(pw),
					       KARG(pwlen), KARG(f1), KARG(io->out), KARG(n));
		return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)n);
	}
	int np, chunk;
	clcnn_loss_split((size_t)n, &np, &chunk);
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "elem_partial", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(c), KARG(pw), KARG(pwlen),
				       KARG(f1), KARG(io->scratch), KARG(n), KARG(chunk));
	if (!rc)
		rc = clcnn_op_run1d(op->ctx, k, (size_t)np);
	return rc ? rc
		  : clcnn_loss_finish(op, io, opts, (size_t)n, 0, a->reduction == CLCNN_LOSS_MEAN ? (float)n : 1.0f);
}

static int elem_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct elem_args *a = op->args;
	int want = (io->grad_in[0] ? 1 : 0) | (io->grad_in[1] ? 2 : 0) | (op->nin > 2 && io->grad_in[2] ? 4 : 0);
	if (!want)
		return 0;
	int kind = elem_kind_of(op), n = (int)clcnn_shape_count(&op->in[0]);
	int pwlen = kind == LOSS_BCE_LOGITS ? a->pos_weight.n : 0, per_elem = a->reduction == CLCNN_LOSS_NONE;
	float f1 = (float)(kind == LOSS_MARGIN ? a->margin : a->beta);
	float gdiv = a->reduction == CLCNN_LOSS_MEAN ? (float)n : 1.0f;
	cl_mem c = op->nin > 2 ? io->in[2] : io->in[0], pw = clcnn_loss_weight(op, io->in[0]);
	/* a gradient not wanted gets any wanted buffer, never written (its want bit is clear) */
	cl_mem any = io->grad_in[0] ? io->grad_in[0] : io->grad_in[1] ? io->grad_in[1] : io->grad_in[2];
	cl_mem ga = io->grad_in[0] ? io->grad_in[0] : any, gb = io->grad_in[1] ? io->grad_in[1] : any;
	cl_mem gc = op->nin > 2 && io->grad_in[2] ? io->grad_in[2] : any;
	char opts[32];
	snprintf(opts, sizeof opts, "-DLOSS=%d", kind);
	cl_kernel k;
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "elem_backward", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(c), KARG(pw), KARG(pwlen),
				       KARG(f1), KARG(io->grad_out), KARG(per_elem), KARG(gdiv), KARG(ga), KARG(gb),
				       KARG(gc), KARG(want), KARG(n));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)n);
}

/*
 * Test data: differences of the two inputs stay >= 0.045 away from 0 and from every multiple of
 * 0.25 (beta and margin in the cases are such multiples), so no finite difference (h <= 1e-2)
 * straddles a kink; probabilities stay inside (0.05, 0.95); margin_ranking's y is +-1.
 */
static void elem_fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	(void)param;
	int kind = elem_kind_of(op);
	for (size_t i = 0; i < n; i++) {
		if (kind == LOSS_MARGIN && input == 2)
			x[i] = clcnn_test_uniform(rng, 0, 1) < 0.5 ? -1 : 1;
		else if (kind == LOSS_BCE)
			x[i] = input == 0 ? clcnn_test_uniform(rng, 0.05, 0.95) : clcnn_test_uniform(rng, 0, 1);
		else if (kind == LOSS_BCE_LOGITS)
			x[i] = input == 0 ? clcnn_test_uniform(rng, -3, 3) : clcnn_test_uniform(rng, 0, 1);
		else
			x[i] = clcnn_loss_grid_value(rng, input == 1, -1, 1);
	}
}

/*
 * Tolerance: each term is a few float operations (log/exp within 4 ulp), and a mean/sum adds the
 * n terms in chains of <= 2 sqrt(n) additions (clcnn_loss_split): for the n <= 300 of the tables
 * that is <= 35 * 2^-24 ~ 2e-6 relative to the sum of the (non-negative) terms. 1e-5 leaves room
 * for the per-term error and for 1/(x(1-x)) in bce's gradient (x >= 0.05 amplifies by <= 20).
 */
#define ELEM_TOL 1e-5

static const struct clcnn_op_case diff_cases[] = {
	{"", "3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"reduction=sum", "1x3x7x5;1x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"reduction=none", "3x1x13x7;3x1x13x7", CLCNN_CASE_TRAIN, 0},
	{"reduction=mean", "3x3x7x13;3x3x7x13", CLCNN_CASE_TRAIN, 0},
	{"reduction=none", "1;1", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case smooth_l1_cases[] = {
	{"", "3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"beta=0.5, reduction=sum", "1x3x7x5;1x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"beta=0, reduction=none", "3x1x13x7;3x1x13x7", CLCNN_CASE_TRAIN, 0},
	{"beta=0.25, reduction=mean", "3x3x7x13;3x3x7x13", CLCNN_CASE_TRAIN, 0},
	{"beta=2, reduction=none", "13;13", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case bce_logits_cases[] = {
	{"", "3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"pos_weight=(0.5, 1, 2, 3, 0.25), reduction=sum", "3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"pos_weight=(2), reduction=none", "1x3x7x13;1x3x7x13", CLCNN_CASE_TRAIN, 0},
	{"pos_weight=(1, 2, 0.5, 3, 1.5, 1, 2), reduction=mean", "3x1x5x7;3x1x5x7", CLCNN_CASE_TRAIN, 0},
	{"reduction=sum", "1x3x7x5;1x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"reduction=none", "3x13;3x13", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case margin_cases[] = {
	{"", "7;7;7", CLCNN_CASE_TRAIN, 0},
	{"margin=0.5, reduction=sum", "3x5;3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"margin=-0.25, reduction=none", "13;13;13", CLCNN_CASE_TRAIN, 0},
	{"margin=1, reduction=mean", "1;1;1", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/* Per element, then the reduction: each arithmetic operation, comparison, abs, clamp, exp and log = 1. */
static double elem_flops(const struct clcnn_op *op)
{
	const struct elem_args *a = op->args;
	static const int per[] = {
		[LOSS_MSE] = 2,        /* subtract, square */
		[LOSS_L1] = 2,         /* subtract, abs */
		[LOSS_SMOOTH_L1] = 6,  /* subtract, abs, compare, 0.5 d d / beta */
		[LOSS_BCE] = 9,        /* two logs and their clamps, 1 - x, 1 - y, two products, a sum */
		[LOSS_BCE_LOGITS] = 8, /* (1 - y) x + log1p(exp(-|x|)) + max(-x, 0) */
		[LOSS_MARGIN] = 4,     /* max(0, -y (x1 - x2) + margin) */
	};
	int kind = elem_kind_of(op);
	double n = (double)clcnn_shape_count(&op->in[0]);
	/* pos_weight: 1 + (pw - 1) y scales the log term */
	double each = per[kind] + (kind == LOSS_BCE_LOGITS && a->pos_weight.n > 0 ? 4 : 0);
	return n * each + clcnn_loss_reduce_flops(a->reduction, n);
}

#define ELEM_CLASS(cname, doc_, keys_, nin_, cases_) \
	const struct clcnn_op_class clcnn_op_##cname = { \
		.name = #cname, \
		.family = "loss", \
		.doc = doc_, \
		.args_size = sizeof(struct elem_args), \
		.args = keys_, \
		.min_in = nin_, \
		.max_in = nin_, \
		.setup = elem_setup, \
		.prepare = elem_prepare, \
		.ref_forward = elem_ref_forward, \
		.ref_backward = elem_ref_backward, \
		.forward = elem_forward, \
		.backward = elem_backward, \
		.saves = clcnn_saves_inputs, \
		.destroy = clcnn_loss_destroy, \
		.fill = elem_fill, \
		.cases = cases_, \
		.tol = ELEM_TOL, \
		.flops = elem_flops, \
	}

ELEM_CLASS(mse_loss, "mean squared error (x - y)^2 (torch.nn.MSELoss)", plain_keys, 2, diff_cases);
ELEM_CLASS(l1_loss, "absolute error |x - y|; gradient 0 where x == y (torch.nn.L1Loss)", plain_keys, 2, diff_cases);
ELEM_CLASS(smooth_l1_loss, "quadratic below beta, linear above (torch.nn.SmoothL1Loss)", smooth_l1_keys, 2,
	   smooth_l1_cases);
ELEM_CLASS(bce_loss, "binary cross entropy of probabilities, log clamped at -100 (torch.nn.BCELoss)", plain_keys, 2,
	   diff_cases);
ELEM_CLASS(bce_with_logits_loss, "sigmoid + binary cross entropy, stable form (torch.nn.BCEWithLogitsLoss)",
	   bce_logits_keys, 2, bce_logits_cases);
ELEM_CLASS(margin_ranking_loss,
	   "max(0, -y (x1 - x2) + margin); y = +-1, differentiable like x1 and x2 (torch.nn.MarginRankingLoss)",
	   margin_keys, 3, margin_cases);
