/*
 * Losses on pairs of embeddings x1, x2 of shape (N, D) (or (D)) with one label y per row ((N) or a
 * 0-dim scalar), for metric learning; y is a label and gets no gradient.
 *
 * contrastive_loss (Hadsell, Chopra, LeCun 2006), with y = 1 for a similar pair and 0 for a
 * dissimilar one (the paper's Y is the opposite: 0 for similar):
 *     d = || x1 - x2 + eps ||_2   (torch.nn.functional.pairwise_distance, eps added to the difference)
 *     L = y d^2 / 2 + (1 - y) max(0, margin - d)^2 / 2
 * cosine_embedding_loss (PyTorch 1.13, aten/src/ATen/native/Loss.cpp):
 *     cos = sum(x1 x2) / sqrt((sum(x1^2) + 1e-12) (sum(x2^2) + 1e-12))
 *     L = 1 - cos where y == 1, max(0, cos - margin) where y == -1, and 0 for any other y
 *     (PyTorch selects with target == 1 / target == -1 and neither raises nor warns).
 * Both hinges pass the gradient at exactly 0 (clamp_min), and the norm's gradient is 0 at d = 0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../cl/loss.h" /* PAIR_*: the kernel ids, shared with the kernels */
#include "ops/loss.h"

#define COS_EPS 1e-12 /* EPSILON of Loss.cpp, added to each squared magnitude */

struct pair_args {
	double margin, eps;
	int reduction;
};

static const struct clcnn_arg contrastive_keys[] = {
	{"margin", CLCNN_ARG_FLOAT, offsetof(struct pair_args, margin), "1.0", NULL,
	 "dissimilar pairs closer than this are pushed apart"},
	{"eps", CLCNN_ARG_FLOAT, offsetof(struct pair_args, eps), "1e-6", NULL,
	 "added to each difference before the norm (pairwise_distance)"},
	CLCNN_LOSS_REDUCTION_KEY(struct pair_args),
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg cosine_keys[] = {
	{"margin", CLCNN_ARG_FLOAT, offsetof(struct pair_args, margin), "0", NULL,
	 "dissimilar pairs (y = -1) cost cos - margin above it; -1..1 makes sense"},
	CLCNN_LOSS_REDUCTION_KEY(struct pair_args),
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int pair_kind(const struct clcnn_op *op)
{
	return !strcmp(op->cls->name, "contrastive_loss") ? PAIR_CONTRASTIVE : PAIR_COSINE;
}

static int pair_dim(const struct clcnn_op *op)
{
	return op->in[0].d[op->in[0].ndim - 1];
}

static int pair_rows(const struct clcnn_op *op)
{
	return op->in[0].ndim == 2 ? op->in[0].d[0] : 1;
}

static int pair_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct pair_args *a = op->args;
	const char *name = op->cls->name;
	char s0[64], s1[64], s2[64];
	if (!clcnn_shape_equal(&op->in[0], &op->in[1]))
		return clcnn_op_invalid(err, errlen, "%s: x1 and x2 shapes %s and %s differ", name,
					clcnn_shape_str(&op->in[0], s0, sizeof s0),
					clcnn_shape_str(&op->in[1], s1, sizeof s1));
	if (op->in[0].ndim != 1 && op->in[0].ndim != 2)
		return clcnn_op_invalid(err, errlen, "%s: expected (N,D) or (D) inputs, got %s", name,
					clcnn_shape_str(&op->in[0], s0, sizeof s0));
	/* one label per row: (N), or a 0-dim scalar for unbatched (D) inputs */
	struct clcnn_shape rows = {op->in[0].ndim - 1, {op->in[0].d[0]}};
	if (!clcnn_shape_equal(&op->in[2], &rows))
		return clcnn_op_invalid(err, errlen, "%s: y has shape %s, expected %s (one label per row of x1 %s)",
					name, clcnn_shape_str(&op->in[2], s2, sizeof s2),
					clcnn_shape_str(&rows, s1, sizeof s1),
					clcnn_shape_str(&op->in[0], s0, sizeof s0));
	if (pair_kind(op) == PAIR_CONTRASTIVE && !(a->eps >= 0))
		return clcnn_op_invalid(err, errlen, "%s: eps must be >= 0, got %g", name, a->eps);
	op->nograd_in = 1u << 2; /* y is a label */
	clcnn_loss_reduce_setup(op, a->reduction, rows, (size_t)pair_rows(op), 0);
	return 0;
}

/*
 * Reference for row i: its loss and d loss / d s, where s is the row's distance d (contrastive) or
 * its cos (cosine); t[] receives d, or cos, the denominator and the two squared magnitudes.
 */
static double ref_row(const struct clcnn_op *op, const struct clcnn_ref_io *io, int i, double *dl, double t[4])
{
	const struct pair_args *a = op->args;
	int D = pair_dim(op);
	const double *u = io->in[0] + (size_t)i * D, *v = io->in[1] + (size_t)i * D, y = io->in[2][i];
	if (pair_kind(op) == PAIR_CONTRASTIVE) {
		double s = 0;
		for (int j = 0; j < D; j++)
			s += (u[j] - v[j] + a->eps) * (u[j] - v[j] + a->eps);
		double d = sqrt(s), h = a->margin - d > 0 ? a->margin - d : 0;
		t[0] = d;
		*dl = y * d - (1 - y) * h;
		return y * d * d / 2 + (1 - y) * h * h / 2;
	}
	double p = 0, m1 = 0, m2 = 0;
	for (int j = 0; j < D; j++) {
		p += u[j] * v[j];
		m1 += u[j] * u[j];
		m2 += v[j] * v[j];
	}
	m1 += COS_EPS;
	m2 += COS_EPS;
	double den = sqrt(m1 * m2), c = p / den;
	t[0] = c, t[1] = den, t[2] = m1, t[3] = m2;
	if (y == 1) {
		*dl = -1;
		return 1 - c;
	}
	if (y == -1) {
		*dl = c - a->margin >= 0 ? 1 : 0;
		return c - a->margin > 0 ? c - a->margin : 0;
	}
	*dl = 0;
	return 0;
}

static void pair_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct pair_args *a = op->args;
	int N = pair_rows(op);
	double *v = malloc((size_t)N * sizeof *v), dl, t[4];
	if (!v)
		return;
	for (int i = 0; i < N; i++)
		v[i] = ref_row(op, io, i, &dl, t);
	clcnn_loss_ref_reduce(v, (size_t)N, a->reduction, io->out);
	free(v);
}

static void pair_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct pair_args *a = op->args;
	int N = pair_rows(op), D = pair_dim(op), kind = pair_kind(op);
	for (int i = 0; i < N; i++) {
		double dl, t[4];
		ref_row(op, io, i, &dl, t);
		double g = dl * clcnn_loss_ref_grad(io, a->reduction, (size_t)i, (size_t)N);
		for (int j = 0; j < D; j++) {
			size_t o = (size_t)i * D + j;
			double u = io->in[0][o], v = io->in[1][o], g1, g2;
			if (kind == PAIR_CONTRASTIVE) {
				/* PyTorch's norm backward: 0 where the norm is 0 */
				g1 = t[0] == 0 ? 0 : g * (u - v + a->eps) / t[0];
				g2 = -g1;
			} else {
				g1 = g * (v / t[1] - t[0] * u / t[2]);
				g2 = g * (u / t[1] - t[0] * v / t[3]);
			}
			if (io->grad_in[0])
				io->grad_in[0][o] = g1;
			if (io->grad_in[1])
				io->grad_in[1][o] = g2;
		}
	}
}

static void pair_options(const struct clcnn_op *op, char *buf, size_t n)
{
	snprintf(buf, n, "-DPAIR=%d -DPDIM=%d", pair_kind(op), pair_dim(op));
}

static int pair_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct pair_args *a = op->args;
	int N = pair_rows(op);
	float margin = (float)a->margin, eps = (float)a->eps;
	char opts[64];
	pair_options(op, opts, sizeof opts);
	cl_kernel k;
	if (a->reduction == CLCNN_LOSS_NONE) {
		int rc = clcnn_kernel_get(op->ctx, "loss", opts, "pair_none", &k);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(io->in[2]),
					       KARG(margin), KARG(eps), KARG(io->out), KARG(N));
		return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)N);
	}
	int np, chunk;
	clcnn_loss_split((size_t)N, &np, &chunk);
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "pair_partial", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(io->in[2]), KARG(margin),
				       KARG(eps), KARG(io->scratch), KARG(N), KARG(chunk));
	if (!rc)
		rc = clcnn_op_run1d(op->ctx, k, (size_t)np);
	return rc ? rc
		  : clcnn_loss_finish(op, io, opts, (size_t)N, 0, a->reduction == CLCNN_LOSS_MEAN ? (float)N : 1.0f);
}

static int pair_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct pair_args *a = op->args;
	int want = (io->grad_in[0] ? 1 : 0) | (io->grad_in[1] ? 2 : 0);
	if (!want)
		return 0;
	int N = pair_rows(op), per_elem = a->reduction == CLCNN_LOSS_NONE;
	float margin = (float)a->margin, eps = (float)a->eps;
	float gdiv = a->reduction == CLCNN_LOSS_MEAN ? (float)N : 1.0f;
	/* a gradient not wanted gets the other buffer, never written (its want bit is clear) */
	cl_mem g1 = io->grad_in[0] ? io->grad_in[0] : io->grad_in[1], g2 = io->grad_in[1] ? io->grad_in[1] : g1;
	char opts[64];
	pair_options(op, opts, sizeof opts);
	cl_kernel k;
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "pair_backward", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(io->in[2]), KARG(margin),
				       KARG(eps), KARG(io->grad_out), KARG(per_elem), KARG(gdiv), KARG(g1), KARG(g2),
				       KARG(want), KARG(N));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)N);
}

/*
 * Test data: row i is built around a fixed pattern b (a function of i and j only, so that x1's
 * and x2's fills agree without sharing state) and a unit vector e orthogonal to b:
 *   x1 = b + jitter,  x2 = b + r e + jitter (contrastive),  x2 = |b| (c b/|b| + sqrt(1-c^2) e) + jitter
 * (cosine), jitter within +-0.01 per element. By row i % 3, contrastive distances are r = 0.4 m,
 * 2 m + 0.5 and 0.7 m (m = the margin, or 1 when it is below 0.25): the hinge active, inactive,
 * active; the jitter moves d by <= 0.02 sqrt(D) <= 0.073 (D <= 13), so d stays >= 0.07 away from the
 * margin and from 0. Cosines are c = 0.8, -0.7, 0.3 (moved by < 0.06 by the jitter for |b| >= 1.1),
 * >= 0.2 away from the margins of the cases (0, 0.5, -0.25). The labels: contrastive 0 or 1,
 * cosine mostly +-1 and a few 0 (loss 0 in PyTorch). No finite difference (h <= 1e-2) crosses a kink.
 */
static double pattern(int i, int j, int which)
{
	return which ? 0.25 * (((i * 3 + j * 11) % 7) - 3) + 0.1 : 0.25 * (((i * 7 + j * 5) % 9) - 4) + 0.125;
}

static void pair_fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	(void)param;
	const struct pair_args *a = op->args;
	int kind = pair_kind(op);
	if (input == 2) {
		for (size_t i = 0; i < n; i++) {
			double r = clcnn_test_uniform(rng, 0, 1);
			x[i] = kind == PAIR_CONTRASTIVE ? (r < 0.5 ? 0 : 1) : r < 0.45 ? -1 : r < 0.9 ? 1 : 0;
		}
		return;
	}
	int D = pair_dim(op), N = (int)(n / (size_t)D);
	double m = a->margin >= 0.25 ? a->margin : 1;
	for (int i = 0; i < N; i++) {
		/* |b|, and e = (p - (p.b) b / |b|^2) / |...| */
		double bb = 0, bp = 0, pp = 0;
		for (int j = 0; j < D; j++) {
			bb += pattern(i, j, 0) * pattern(i, j, 0);
			bp += pattern(i, j, 0) * pattern(i, j, 1);
			pp += pattern(i, j, 1) * pattern(i, j, 1);
		}
		/* D = 1 has no orthogonal direction: e = 1 (x2 = b + r, or +-b for the cosine) */
		double en = D > 1 ? sqrt(pp - bp * bp / bb) : 0;
		static const double r_of[3] = {0.4, 2, 0.7}, c_of[3] = {0.8, -0.7, 0.3};
		double r = r_of[i % 3] * m + (i % 3 == 1 ? 0.5 : 0), c = c_of[i % 3];
		for (int j = 0; j < D; j++) {
			double b = pattern(i, j, 0), e = en > 0 ? (pattern(i, j, 1) - bp / bb * b) / en : 1, v = b;
			if (input == 1)
				v = kind == PAIR_CONTRASTIVE ? b + r * e : c * b + sqrt(1 - c * c) * sqrt(bb) * e;
			x[(size_t)i * D + j] = v + clcnn_test_uniform(rng, -0.01, 0.01);
		}
	}
}

/*
 * Tolerance: a row sums D <= 13 products of values up to ~3 (within 2^-24 each) before one sqrt and
 * a division, ~(D + 4) * 2^-24 ~ 1e-6 relative; the mean/sum over <= 8 rows adds little. The
 * cosine's gradient v/den - cos u/m1 subtracts terms of size <= 1/|x| <= 2 for these data, keeping
 * an absolute error ~4e-6. 1e-5 * (1 + |ref|) covers both.
 */
#define PAIR_TOL 1e-5

static const struct clcnn_op_case contrastive_cases[] = {
	{"", "3x5;3x5;3", CLCNN_CASE_TRAIN, 0},
	{"margin=2, reduction=sum", "6x7;6x7;6", CLCNN_CASE_TRAIN, 0},
	{"margin=0.5, reduction=none", "7x13;7x13;7", CLCNN_CASE_TRAIN, 0},
	{"eps=0, reduction=mean", "5x3;5x3;5", CLCNN_CASE_TRAIN, 0},
	{"reduction=none", "1x1;1x1;1", CLCNN_CASE_TRAIN, 0},
	{"", "13;13;scalar", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case cosine_cases[] = {
	{"", "3x5;3x5;3", CLCNN_CASE_TRAIN, 0},
	{"margin=0.5, reduction=sum", "6x7;6x7;6", CLCNN_CASE_TRAIN, 0},
	{"margin=-0.25, reduction=none", "7x13;7x13;7", CLCNN_CASE_TRAIN, 0},
	{"reduction=mean", "5x3;5x3;5", CLCNN_CASE_TRAIN, 0},
	{"margin=0.5", "11;11;scalar", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/*
 * Per row. contrastive: per element u - v + eps and a squared sum (4 D), the root, margin - d and
 * its max (2), y d d / 2 (3), (1 - y) h h / 2 (4) and their sum (1): 4 D + 11. cosine: three
 * multiply-adds per element (6 D), two EPS additions, the product, the root and the division (5),
 * the comparisons with 1 and -1, 1 - cos or cos - margin and its max (4): 6 D + 9. Then the reduction.
 */
static double pair_flops(const struct clcnn_op *op)
{
	const struct pair_args *a = op->args;
	double rows = pair_rows(op), D = pair_dim(op);
	double per_row = pair_kind(op) == PAIR_CONTRASTIVE ? 4 * D + 11 : 6 * D + 9;
	return rows * per_row + clcnn_loss_reduce_flops(a->reduction, rows);
}

/* a distance or a cosine reads every feature */
static void pair_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	(void)op;
	w->kernel[0] = w->kernel[1] = 0;
}

#define PAIR_CLASS(cname, doc_, keys_, cases_) \
	const struct clcnn_op_class clcnn_op_##cname = { \
		.name = #cname, \
		.family = "loss", \
		.doc = doc_, \
		.args_size = sizeof(struct pair_args), \
		.args = keys_, \
		.min_in = 3, \
		.max_in = 3, \
		.setup = pair_setup, \
		.ref_forward = pair_ref_forward, \
		.ref_backward = pair_ref_backward, \
		.forward = pair_forward, \
		.backward = pair_backward, \
		.saves = clcnn_saves_inputs, \
		.fill = pair_fill, \
		.cases = cases_, \
		.tol = PAIR_TOL, \
		.flops = pair_flops, \
		.window = pair_window, \
	}

PAIR_CLASS(contrastive_loss,
	   "y d^2/2 + (1-y) max(0, margin - d)^2/2, d = ||x1 - x2 + eps||_2, y = 1 similar, 0 dissimilar "
	   "(Hadsell, Chopra, LeCun 2006)",
	   contrastive_keys, contrastive_cases);
PAIR_CLASS(cosine_embedding_loss,
	   "1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1, 0 for other y "
	   "(torch.nn.CosineEmbeddingLoss)",
	   cosine_keys, cosine_cases);
