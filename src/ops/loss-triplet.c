/*
 * triplet_margin_loss (PyTorch 1.13): anchor, positive, negative of shape (N, D) or (D);
 *     loss = max(d(a, p) - d(a, n) + margin, 0),  d(u, v) = || u - v + eps ||_p
 * (pairwise_distance adds eps to the difference, not to the norm); swap replaces d(a, n) by
 * min(d(a, n), d(p, n)), ties splitting the gradient in half as at::minimum does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/loss.h"

struct triplet_args {
	double margin, p, eps;
	int swap;
	int reduction;
};

static const struct clcnn_arg triplet_keys[] = {
	{"margin", CLCNN_ARG_FLOAT, offsetof(struct triplet_args, margin), "1.0", NULL, "hinge margin"},
	{"p", CLCNN_ARG_FLOAT, offsetof(struct triplet_args, p), "2.0", NULL, "norm degree of the distance, > 0"},
	{"eps", CLCNN_ARG_FLOAT, offsetof(struct triplet_args, eps), "1e-6", NULL,
	 "added to each difference before the norm"},
	{"swap", CLCNN_ARG_BOOL, offsetof(struct triplet_args, swap), "false", NULL,
	 "use min(d(a,n), d(p,n)) as the negative distance"},
	CLCNN_LOSS_REDUCTION_KEY(struct triplet_args),
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int triplet_dim(const struct clcnn_op *op)
{
	return op->in[0].d[op->in[0].ndim - 1];
}

static int triplet_rows(const struct clcnn_op *op)
{
	return op->in[0].ndim == 2 ? op->in[0].d[0] : 1;
}

static int triplet_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct triplet_args *a = op->args;
	char s0[64], s1[64], s2[64];
	if (!clcnn_shape_equal(&op->in[0], &op->in[1]) || !clcnn_shape_equal(&op->in[0], &op->in[2]))
		return clcnn_op_invalid(err, errlen,
					"triplet_margin_loss: anchor, positive and negative shapes %s, %s and %s "
					"differ",
					clcnn_shape_str(&op->in[0], s0, sizeof s0),
					clcnn_shape_str(&op->in[1], s1, sizeof s1),
					clcnn_shape_str(&op->in[2], s2, sizeof s2));
	if (op->in[0].ndim != 1 && op->in[0].ndim != 2)
		return clcnn_op_invalid(err, errlen, "triplet_margin_loss: expected (N,D) or (D) inputs, got %s",
					clcnn_shape_str(&op->in[0], s0, sizeof s0));
	if (!(a->p > 0))
		return clcnn_op_invalid(err, errlen, "triplet_margin_loss: p must be > 0, got %g", a->p);
	/* reduction none: one loss per row, (N) or a 0-dim scalar for unbatched (D) inputs */
	struct clcnn_shape none = {op->in[0].ndim - 1, {op->in[0].d[0]}};
	op->nograd_in = 0;
	clcnn_loss_reduce_setup(op, a->reduction, none, (size_t)triplet_rows(op), 0);
	return 0;
}

/* || u - v + eps ||_p */
static double ref_dist(const double *u, const double *v, int D, double p, double eps)
{
	double s = 0;
	for (int j = 0; j < D; j++) {
		double d = fabs(u[j] - v[j] + eps);
		s += p == 1 ? d : p == 2 ? d * d : pow(d, p);
	}
	return p == 1 ? s : p == 2 ? sqrt(s) : pow(s, 1 / p);
}

/* PyTorch's norm backward: sgn(v) |v|^(p-1) / norm^(p-1), 0 where v = 0 or norm = 0. */
static double ref_dnorm(double v, double norm, double p)
{
	if (v == 0 || norm == 0)
		return 0;
	return (v > 0 ? 1 : -1) * (p == 1 ? 1 : p == 2 ? fabs(v) / norm : pow(fabs(v) / norm, p - 1));
}

/* Hinge input of row i and the weights of d(a,n), d(p,n) in the negative distance. */
static double ref_z(const struct clcnn_op *op, const struct clcnn_ref_io *io, int i, double d[3], double *c_an,
		    double *c_pn)
{
	const struct triplet_args *a = op->args;
	int D = triplet_dim(op);
	const double *an = io->in[0] + (size_t)i * D, *po = io->in[1] + (size_t)i * D, *ne = io->in[2] + (size_t)i * D;
	d[0] = ref_dist(an, po, D, a->p, a->eps);
	d[1] = ref_dist(an, ne, D, a->p, a->eps);
	d[2] = a->swap ? ref_dist(po, ne, D, a->p, a->eps) : 0;
	*c_an = 1, *c_pn = 0;
	if (a->swap) {
		*c_an = d[1] < d[2] ? 1 : d[1] == d[2] ? 0.5 : 0;
		*c_pn = 1 - *c_an;
	}
	return a->margin + d[0] - (a->swap ? fmin(d[1], d[2]) : d[1]);
}

static void triplet_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct triplet_args *a = op->args;
	int N = triplet_rows(op);
	double *v = malloc((size_t)N * sizeof *v), d[3], c1, c2;
	if (!v)
		return;
	for (int i = 0; i < N; i++) {
		double z = ref_z(op, io, i, d, &c1, &c2);
		v[i] = z < 0 ? 0 : z;
	}
	clcnn_loss_ref_reduce(v, (size_t)N, a->reduction, io->out);
	free(v);
}

static void triplet_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct triplet_args *a = op->args;
	int N = triplet_rows(op), D = triplet_dim(op);
	for (int i = 0; i < N; i++) {
		double d[3], c_an, c_pn, z = ref_z(op, io, i, d, &c_an, &c_pn);
		/* clamp_min passes the gradient at z == 0 */
		double g = z >= 0 ? clcnn_loss_ref_grad(io, a->reduction, (size_t)i, (size_t)N) : 0;
		for (int j = 0; j < D; j++) {
			size_t o = (size_t)i * D + j;
			double an = io->in[0][o], po = io->in[1][o], ne = io->in[2][o];
			double u_ap = ref_dnorm(an - po + a->eps, d[0], a->p) * g;
			double u_an = ref_dnorm(an - ne + a->eps, d[1], a->p) * g * c_an;
			double u_pn = c_pn ? ref_dnorm(po - ne + a->eps, d[2], a->p) * g * c_pn : 0;
			if (io->grad_in[0])
				io->grad_in[0][o] = u_ap - u_an;
			if (io->grad_in[1])
				io->grad_in[1][o] = -u_ap - u_pn;
			if (io->grad_in[2])
				io->grad_in[2][o] = u_an + u_pn;
		}
	}
}

static void triplet_options(const struct clcnn_op *op, char *buf, size_t n)
{
	const struct triplet_args *a = op->args;
	snprintf(buf, n, "-DDIM=%d -DPNORM=%d", triplet_dim(op), a->p == 1 ? 1 : a->p == 2 ? 2 : 0);
}

static int triplet_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct triplet_args *a = op->args;
	int N = triplet_rows(op);
	float margin = (float)a->margin, p = (float)a->p, eps = (float)a->eps;
	char opts[64];
	triplet_options(op, opts, sizeof opts);
	cl_kernel k;
	if (a->reduction == CLCNN_LOSS_NONE) {
		int rc = clcnn_kernel_get(op->ctx, "loss", opts, "triplet_none", &k);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(io->in[2]),
					       KARG(margin), KARG(p), KARG(eps), KARG(a->swap), KARG(io->out), KARG(N));
		return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)N);
	}
	int np, chunk;
	clcnn_loss_split((size_t)N, &np, &chunk);
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "triplet_partial", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(io->in[2]), KARG(margin),
				       KARG(p), KARG(eps), KARG(a->swap), KARG(io->scratch), KARG(N), KARG(chunk));
	if (!rc)
		rc = clcnn_op_run1d(op->ctx, k, (size_t)np);
	return rc ? rc
		  : clcnn_loss_finish(op, io, opts, (size_t)N, 0, a->reduction == CLCNN_LOSS_MEAN ? (float)N : 1.0f);
}

static int triplet_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct triplet_args *a = op->args;
	int want = (io->grad_in[0] ? 1 : 0) | (io->grad_in[1] ? 2 : 0) | (io->grad_in[2] ? 4 : 0);
	if (!want)
		return 0;
	int N = triplet_rows(op), per_elem = a->reduction == CLCNN_LOSS_NONE;
	float margin = (float)a->margin, p = (float)a->p, eps = (float)a->eps;
	float gdiv = a->reduction == CLCNN_LOSS_MEAN ? (float)N : 1.0f;
	cl_mem any = io->grad_in[0] ? io->grad_in[0] : io->grad_in[1] ? io->grad_in[1] : io->grad_in[2];
	cl_mem g[3];
	for (int i = 0; i < 3; i++)
		g[i] = io->grad_in[i] ? io->grad_in[i] : any; /* never written: the want bit is clear */
	char opts[64];
	triplet_options(op, opts, sizeof opts);
	cl_kernel k;
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "triplet_backward", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(io->in[2]), KARG(margin),
				       KARG(p), KARG(eps), KARG(a->swap), KARG(io->grad_out), KARG(per_elem),
				       KARG(gdiv), KARG(g[0]), KARG(g[1]), KARG(g[2]), KARG(want), KARG(N));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)N);
}

/*
 * Test data, by row i % 3 (anchors near 0 in [-1, 1]):
 *   0: positive near 0, negative near 10 -> hinge far below 0 (no gradient, with or without swap);
 *   1: positive near 10, negative near 0 -> hinge far above 0, d(a,n) << d(p,n);
 *   2: positive and negative near 10, 0.06..0.10 apart per element -> d(p,n) << d(a,n), so swap
 *      changes the loss, and without swap |d(a,p) - d(a,n)| <= d(p,n) < margin (cases keep
 *      0.1 * D^(1/p) below the margin) keeps the hinge active.
 * Differences of a pair never come closer than 0.06 to 0 (p = 1's kink).
 */
static void triplet_fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	(void)param;
	int D = triplet_dim(op);
	for (size_t i = 0; i < n; i++) {
		int kind = (int)(i / (size_t)D % 3);
		if (input == 0)
			x[i] = clcnn_loss_grid_value(rng, 0, -1, 1);
		else if (input == 1)
			x[i] = kind == 0   ? clcnn_loss_grid_value(rng, 1, -1, 1)
			       : kind == 1 ? 10 + clcnn_loss_grid_value(rng, 0, -1, 1)
					   : 10.04 + clcnn_test_uniform(rng, -0.01, 0.01);
		else
			x[i] = kind == 0   ? 10 + clcnn_loss_grid_value(rng, 0, -1, 1)
			       : kind == 1 ? clcnn_loss_grid_value(rng, 1, -1, 1)
					   : 9.96 + clcnn_test_uniform(rng, -0.01, 0.01);
	}
}

/*
 * Tolerance: a distance sums D <= 13 terms (pow within 16 ulp) of values up to ~11, so it carries
 * ~(D + 16) * 2^-24 ~ 2e-6 relative error on a magnitude up to ~40; the hinge d(a,p) - d(a,n)
 * cancels two such distances, leaving an absolute error up to ~1.5e-4 in the worst case against an
 * output of 1..40. 2e-5 * (1 + |ref|) covers the typical (random-walk) case with margin.
 */
#define TRIPLET_TOL 2e-5

static const struct clcnn_op_case triplet_cases[] = {
	{"", "3x5;3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"p=1, reduction=sum", "3x5;3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"swap=true, reduction=none", "6x7;6x7;6x7", CLCNN_CASE_TRAIN, 0},
	{"swap=true, p=1, margin=2", "3x7;3x7;3x7", CLCNN_CASE_TRAIN, 0},
	{"p=3, eps=0, margin=0.5, reduction=sum", "3x5;3x5;3x5", CLCNN_CASE_TRAIN, 0},
	{"p=1.5, swap=true, reduction=none", "4x13;4x13;4x13", CLCNN_CASE_TRAIN, 0},
	{"reduction=none", "1x1;1x1;1x1", CLCNN_CASE_TRAIN, 0},
	{"", "13;13;13", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/*
 * Per row: two distances (three with swap, and a min), each per element u - v + eps, abs, power
 * (a square for p = 2), the sum (4 D) and one root; then the hinge d_ap - d_an + margin, max (3).
 * Then the reduction over the rows.
 */
static double triplet_flops(const struct clcnn_op *op)
{
	const struct triplet_args *a = op->args;
	double rows = triplet_rows(op), dists = a->swap ? 3 : 2;
	double per_row = dists * (4.0 * triplet_dim(op) + 1) + 3 + (a->swap ? 1 : 0);
	return rows * per_row + clcnn_loss_reduce_flops(a->reduction, rows);
}

/* a distance reads every feature */
static void triplet_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	(void)op;
	w->kernel[0] = w->kernel[1] = 0;
}

const struct clcnn_op_class clcnn_op_triplet_margin_loss = {
	.name = "triplet_margin_loss",
	.family = "loss",
	.doc = "max(d(a,p) - d(a,n) + margin, 0), d = p-norm of the difference + eps (torch.nn.TripletMarginLoss)",
	.args_size = sizeof(struct triplet_args),
	.args = triplet_keys,
	.min_in = 3,
	.max_in = 3,
	.setup = triplet_setup,
	.prepare = NULL,
	.ref_forward = triplet_ref_forward,
	.ref_backward = triplet_ref_backward,
	.forward = triplet_forward,
	.backward = triplet_backward,
	.saves = clcnn_saves_inputs,
	.fill = triplet_fill,
	.cases = triplet_cases,
	.tol = TRIPLET_TOL,
	.flops = triplet_flops,
	.window = triplet_window,
};
