/*
 * softmax, logsoftmax and softmin over one dim (PyTorch 1.13 semantics). The tensor is viewed as
 * (outer, L, inner) around that dim. Every form subtracts the maximum before exp (log-sum-exp), so
 * inputs of any magnitude give finite results. Backward recomputes the forward from the input
 * instead of keeping it: no state, and the executor need not keep the output alive.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../cl/softmax.h" /* SM_*: the kernel ids, shared with the kernels */
#include "ops/op.h"

struct sm_args {
	int dim;
};

static const struct clcnn_arg sm_keys[] = {
	{"dim", CLCNN_ARG_INT, offsetof(struct sm_args, dim), "1", NULL, "dim to normalise; negative: from the end"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int mode_of(const struct clcnn_op *op)
{
	if (!strcmp(op->cls->name, "softmax"))
		return SM_SOFTMAX;
	return !strcmp(op->cls->name, "logsoftmax") ? SM_LOGSOFTMAX : SM_SOFTMIN;
}

/* (outer, L, inner) view of the input around the normalised dim. A 0-D input is one element. */
static void view(const struct clcnn_op *op, int *outer, int *len, int *inner)
{
	const struct clcnn_shape *s = &op->in[0];
	const struct sm_args *a = op->args;
	*outer = *len = *inner = 1;
	if (s->ndim == 0)
		return;
	int d = a->dim < 0 ? a->dim + s->ndim : a->dim;
	for (int i = 0; i < s->ndim; i++)
		*(i < d ? outer : i == d ? len : inner) *= s->d[i];
}

static int setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct sm_args *a = op->args;
	int nd = op->in[0].ndim, lo = nd ? -nd : -1, hi = nd ? nd - 1 : 0; /* PyTorch lets a 0-D tensor use 0 or -1 */
	if (a->dim < lo || a->dim > hi)
		return clcnn_op_invalid(err, errlen, "%s: dim=%d out of range for a %d-D input (expected %d..%d)",
					op->cls->name, a->dim, nd, lo, hi);
	op->out = op->in[0];
	return 0;
}

/* ------------------------------------------------------------------ C reference (double) */

static void ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	int mode = mode_of(op);
	double sign = mode == SM_SOFTMIN ? -1 : 1;
	int outer, len, inner;
	view(op, &outer, &len, &inner);
	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			const double *x = io->in[0] + (size_t)o * len * inner + i;
			double *y = io->out + (size_t)o * len * inner + i;
			double m = -INFINITY, s = 0;
			for (int k = 0; k < len; k++)
				m = fmax(m, sign * x[k * inner]);
			for (int k = 0; k < len; k++)
				s += exp(sign * x[k * inner] - m);
			for (int k = 0; k < len; k++)
				y[k * inner] = mode == SM_LOGSOFTMAX ? x[k * inner] - m - log(s)
								     : exp(sign * x[k * inner] - m) / s;
		}
}

/*
 * softmax: gx = y (g - sum(g y)); softmin = softmax(-x), so gx = -y (g - sum(g y));
 * logsoftmax: gx = g - exp(y) sum(g).
 */
static void ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	if (!io->grad_in[0])
		return;
	int mode = mode_of(op);
	double sign = mode == SM_SOFTMIN ? -1 : 1;
	int outer, len, inner;
	view(op, &outer, &len, &inner);
	size_t n = clcnn_shape_count(&op->out);
	double *y = malloc(n * sizeof *y);
	if (!y)
		return; /* reference code for tests: an allocation this small does not fail */
	struct clcnn_ref_io fio = *io;
	fio.out = y;
	ref_forward(op, &fio);
	for (int o = 0; o < outer; o++)
		for (int i = 0; i < inner; i++) {
			size_t base = (size_t)o * len * inner + (size_t)i;
			const double *g = io->grad_out + base, *yy = y + base;
			double *gx = io->grad_in[0] + base, dot = 0, gsum = 0;
			for (int k = 0; k < len; k++) {
				dot += g[k * inner] * yy[k * inner];
				gsum += g[k * inner];
			}
			for (int k = 0; k < len; k++)
				gx[k * inner] = mode == SM_LOGSOFTMAX ? g[k * inner] - exp(yy[k * inner]) * gsum
								      : sign * yy[k * inner] * (g[k * inner] - dot);
		}
	free(y);
}

/* ------------------------------------------------------------------ device */

/* Lanes per work-item: along inner (columns kernel) or along the row (rows kernel, inner == 1). */
static int vector_width(const struct clcnn_op *op)
{
	return op->ctx && clcnn_is_gpu(op->ctx) ? op->ctx->lim.vector_width : 16;
}

static int get_kernel(struct clcnn_op *op, const char *name, cl_kernel *k)
{
	char opts[64];
	snprintf(opts, sizeof opts, "-DMODE=%d -DVW=%d", (int)mode_of(op), vector_width(op));
	return clcnn_kernel_get(op->ctx, "softmax", opts, name, k);
}

/* Rows (the normalised dim is unit-stride) vectorise along the row; otherwise across inner. */
static int run(struct clcnn_op *op, int backward, cl_mem x, cl_mem g, cl_mem out)
{
	int outer, len, inner;
	view(op, &outer, &len, &inner);
	cl_kernel k;
	cl_int L = len, in_ = inner;
	int rc;
	if (inner == 1) {
		rc = get_kernel(op, backward ? "softmax_rows_backward" : "softmax_rows_forward", &k);
		cl_int rows = outer;
		if (!rc && backward)
			rc = clcnn_kernel_args(op->ctx, k, KARG(x), KARG(g), KARG(out), KARG(L), KARG(rows));
		else if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(x), KARG(out), KARG(L), KARG(rows));
		return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)rows);
	}
	int vw = vector_width(op);
	cl_int nchunk = (inner + vw - 1) / vw, total = outer * nchunk;
	rc = get_kernel(op, backward ? "softmax_cols_backward" : "softmax_cols_forward", &k);
	if (!rc && backward)
		rc = clcnn_kernel_args(op->ctx, k, KARG(x), KARG(g), KARG(out), KARG(L), KARG(in_), KARG(nchunk),
				       KARG(total));
	else if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(x), KARG(out), KARG(L), KARG(in_), KARG(nchunk), KARG(total));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)total);
}

static int prepare(struct clcnn_op *op)
{
	int outer, len, inner;
	view(op, &outer, &len, &inner);
	cl_kernel k;
	int rc = get_kernel(op, inner == 1 ? "softmax_rows_forward" : "softmax_cols_forward", &k);
	return rc ? rc : get_kernel(op, inner == 1 ? "softmax_rows_backward" : "softmax_cols_backward", &k);
}

static int forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return run(op, 0, io->in[0], io->in[0], io->out);
}

static int backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return io->grad_in[0] ? run(op, 1, io->in[0], io->grad_out, io->grad_in[0]) : 0;
}

/* ------------------------------------------------------------------ tests */

/* Uniform in [-1, 1]; batch-2 cases get |x| in [30, 50] with random signs, so exp(x) alone would
 * overflow float and rows mix values e^-100 apart. */
static void fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	(void)input;
	(void)param;
	int large = op->in[0].ndim >= 1 && op->in[0].d[0] == 2;
	for (size_t i = 0; i < n; i++) {
		if (!large) {
			x[i] = clcnn_test_uniform(rng, -1, 1);
			continue;
		}
		double v = clcnn_test_uniform(rng, 30, 50);
		x[i] = clcnn_test_uniform(rng, 0, 1) < 0.5 ? -v : v;
	}
}

/* Train and eval are the same function: train mode only. */
static const struct clcnn_op_case cases[] = {
	{"", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"dim=2", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"dim=3", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"dim=-1", "1x3x13x7", CLCNN_CASE_TRAIN, 0},
	{"dim=0", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
	{"dim=-3", "1x3x13x7", CLCNN_CASE_TRAIN, 0},
	/* inner = 35: two 16-lane chunks and a ragged one */
	{"", "3x13x7x5", CLCNN_CASE_TRAIN, 0},
	{"", "1x1x1x1", CLCNN_CASE_TRAIN, 0},
	{"", "3x13", CLCNN_CASE_TRAIN, 0},
	{"dim=0", "3x13", CLCNN_CASE_TRAIN, 0},
	{"dim=-1", "3x37", CLCNN_CASE_TRAIN, 0},
	/* large magnitudes (see fill) */
	{"", "2x9", CLCNN_CASE_TRAIN, 0},
	{"", "2x3x4x5", CLCNN_CASE_TRAIN, 0},
	{"dim=-1", "2x3x4x5", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/* per element: the max (1 comparison), x - max, exp, the sum, the division (logsoftmax: the
 * subtraction of log-sum-exp instead) = 5; logsoftmax adds one log per normalised row */
static double flops(const struct clcnn_op *op)
{
	int outer, len, inner;
	view(op, &outer, &len, &inner);
	double rows = (double)outer * inner;
	return rows * len * 5 + (mode_of(op) == SM_LOGSOFTMAX ? rows : 0);
}

/* over H or W of an image: that axis whole; over the features of a flattened tensor: everything */
static void window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	const struct sm_args *a = op->args;
	int nd = op->in[0].ndim, d = a->dim < 0 ? a->dim + nd : a->dim;
	if (nd == 4 && d >= 2)
		w->kernel[d - 2] = 0;
	else if (nd != 4 && d >= 1)
		w->kernel[0] = w->kernel[1] = 0;
}

/*
 * Tolerance: the sum of L exponentials carries ~(L + 3) * 2^-24 relative error (L <= 37 here) plus
 * exp/log's few ulp; outputs are in [0, 1] or (logsoftmax) x - lse with |x| <= 50, where one ulp of
 * 100 against 1 + |y| stays ~6e-8. Gradients add the sum(g y) dot product (another L terms):
 * ~2 * 40 * 2^-24 ~ 5e-6 worst case, so 1e-5.
 */
#define SM_TOL 1e-5

#define SM_CLASS(id, doc_) \
	const struct clcnn_op_class clcnn_op_##id = { \
		.name = #id, \
		.family = "softmax", \
		.doc = doc_, \
		.args_size = sizeof(struct sm_args), \
		.args = sm_keys, \
		.min_in = 1, \
		.max_in = 1, \
		.setup = setup, \
		.prepare = prepare, \
		.ref_forward = ref_forward, \
		.ref_backward = ref_backward, \
		.forward = forward, \
		.backward = backward, \
		.saves = clcnn_saves_input0, /* recomputed from x */ \
		.fill = fill, \
		.cases = cases, \
		.tol = SM_TOL, \
		.flops = flops, \
		.window = window, \
	}

SM_CLASS(softmax, "exp(x - max) / sum exp(x - max) over dim");
SM_CLASS(logsoftmax, "x - max - log sum exp(x - max) over dim");
SM_CLASS(softmin, "softmax(-x) over dim");
