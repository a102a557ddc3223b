/*
 * Class losses (PyTorch 1.13 semantics): nll_loss on log-probabilities and cross_entropy on logits
 * (log-softmax over dim 1 fused with nll, plus label smoothing). Input (N, C) or (N, C, d1[, d2]),
 * or unbatched (C); target (N[, d1, d2]) of class indices stored as floats.
 *
 * With class weights w, a target t and smoothing eps, the loss of one sample is
 *     (1 - eps) * -w_t logp_t + eps / C * -sum_c w_c logp_c,
 * 0 when t == ignore_index, and mean divides the summed samples by the sum of w_t over the
 * non-ignored samples (both terms: LossNLL.cpp's cross_entropy_loss_label_smoothing); everything
 * ignored gives 0/0 = NaN as in PyTorch. A target outside [0, C) or not an integer is refused by
 * clcnn_graph_set_input (check_input) when it comes from a graph input; one that reaches the loss
 * another way gives that sample NaN (PyTorch raises) and the kernels never read outside the classes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../cl/loss.h" /* LOSS_GRAD_*, shared with the kernels */
#include "ops/loss.h"

struct cls_args {
	struct clcnn_floats weight;
	int ignore_index;
	int reduction;
	double label_smoothing;
};

#define CLS_COMMON_KEYS \
	{"weight", \
	 CLCNN_ARG_FLOATS, \
	 offsetof(struct cls_args, weight), \
	 "()", \
	 NULL, \
	 "one weight per class, e.g. (1, 2.5, 1); () = all 1"}, \
		{"ignore_index", CLCNN_ARG_INT, offsetof(struct cls_args, ignore_index), \
		 "-100",         NULL,          "targets with this value contribute nothing"}, \
		CLCNN_LOSS_REDUCTION_KEY(struct cls_args)

static const struct clcnn_arg nll_keys[] = {
	CLS_COMMON_KEYS,
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg ce_keys[] = {
	CLS_COMMON_KEYS,
	{"label_smoothing", CLCNN_ARG_FLOAT, offsetof(struct cls_args, label_smoothing), "0.0", NULL,
	 "mix eps of the uniform distribution into the target, 0 <= eps <= 1"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

/* Sizes of the (N, C, S) view of the input; S = product of the spatial dims. */
struct cls_dims {
	int n, c, s;
};

static struct cls_dims cls_dims(const struct clcnn_op *op)
{
	const struct clcnn_shape *in = &op->in[0];
	struct cls_dims d = {1, in->d[0], 1};
	if (in->ndim >= 2) {
		d.n = in->d[0];
		d.c = in->d[1];
		for (int i = 2; i < in->ndim; i++)
			d.s *= in->d[i];
	}
	return d;
}

static int is_ce(const struct clcnn_op *op)
{
	return !strcmp(op->cls->name, "cross_entropy");
}

static int cls_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct cls_args *a = op->args;
	const char *name = op->cls->name;
	const struct clcnn_shape *in = &op->in[0], *t = &op->in[1];
	char s0[64], s1[64], s2[64];
	if (in->ndim < 1)
		return clcnn_op_invalid(err, errlen, "%s: input must be (N,C), (N,C,d1,...) or (C), got a scalar",
					name);
	/* the target is the input without its class dim */
	struct clcnn_shape want = {0, {0}};
	for (int i = 0; i < in->ndim; i++)
		if (i != (in->ndim >= 2 ? 1 : 0))
			want.d[want.ndim++] = in->d[i];
	if (clcnn_shape_equal(t, in) && is_ce(op))
		return clcnn_op_invalid(err, errlen,
					"cross_entropy: probability targets (target shape %s = input shape) are "
					"not supported; give class indices of shape %s",
					clcnn_shape_str(t, s1, sizeof s1), clcnn_shape_str(&want, s2, sizeof s2));
	if (!clcnn_shape_equal(t, &want))
		return clcnn_op_invalid(err, errlen, "%s: target shape %s does not match input %s: expected %s", name,
					clcnn_shape_str(t, s1, sizeof s1), clcnn_shape_str(in, s0, sizeof s0),
					clcnn_shape_str(&want, s2, sizeof s2));
	struct cls_dims d = cls_dims(op);
	if (a->weight.n > 0 && a->weight.n != d.c)
		return clcnn_op_invalid(err, errlen, "%s: weight has %d values, input has C=%d classes", name,
					a->weight.n, d.c);
	if (!(a->label_smoothing >= 0 && a->label_smoothing <= 1))
		return clcnn_op_invalid(err, errlen, "%s: label_smoothing must be between 0.0 and 1.0, got %g", name,
					a->label_smoothing);
	op->nograd_in = 1u << 1; /* class indices */
	clcnn_loss_reduce_setup(op, a->reduction, *t, (size_t)d.n * (size_t)d.s, 1);
	return 0;
}

static int cls_prepare(struct clcnn_op *op)
{
	const struct cls_args *a = op->args;
	return clcnn_loss_prepare_weight(op, &a->weight);
}

static double class_weight(const struct cls_args *a, int c)
{
	return a->weight.n ? a->weight.v[c] : 1.0;
}

/*
 * Reference for sample q: its loss, and through *wt its target weight (0 when ignored). With grad
 * non-NULL, also writes g times d loss / d x_c for every class c.
 */
static double ref_sample(const struct clcnn_op *op, const double *x, const double *target, size_t q, double *wt,
			 double g, double *grad)
{
	const struct cls_args *a = op->args;
	struct cls_dims d = cls_dims(op);
	size_t n = q / (size_t)d.s, s = q % (size_t)d.s, S = (size_t)d.s;
	const double *xs = x + n * (size_t)d.c * S + s;
	double *gs = grad ? grad + n * (size_t)d.c * S + s : NULL;
	double tv = target[q];
	*wt = 0;
	if (tv == (double)a->ignore_index) {
		for (int c = 0; gs && c < d.c; c++)
			gs[(size_t)c * S] = 0;
		return 0;
	}
	if (!(tv >= 0 && tv < d.c) || tv != floor(tv)) {
		for (int c = 0; gs && c < d.c; c++)
			gs[(size_t)c * S] = NAN;
		return NAN;
	}
	int k = (int)tv;
	double wk = class_weight(a, k), eps = is_ce(op) ? a->label_smoothing : 0;
	*wt = wk;
	if (!is_ce(op)) {
		for (int c = 0; gs && c < d.c; c++)
			gs[(size_t)c * S] = c == k ? -wk * g : 0;
		return -wk * xs[(size_t)k * S];
	}
	double m = xs[0], se = 0, wsum = 0, smooth = 0;
	for (int c = 1; c < d.c; c++)
		m = fmax(m, xs[(size_t)c * S]);
	for (int c = 0; c < d.c; c++) {
		se += exp(xs[(size_t)c * S] - m);
		wsum += class_weight(a, c);
	}
	double lse = m + log(se);
	for (int c = 0; c < d.c; c++)
		smooth -= class_weight(a, c) * (xs[(size_t)c * S] - lse);
	for (int c = 0; gs && c < d.c; c++) {
		double p = exp(xs[(size_t)c * S] - lse);
		gs[(size_t)c * S] = g * ((1 - eps) * wk * (p - (c == k)) + eps / d.c * (p * wsum - class_weight(a, c)));
	}
	return (1 - eps) * -wk * (xs[(size_t)k * S] - lse) + eps / d.c * smooth;
}

static void cls_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct cls_args *a = op->args;
	struct cls_dims d = cls_dims(op);
	size_t ns = (size_t)d.n * (size_t)d.s;
	double sum = 0, wsum = 0, wt;
	for (size_t q = 0; q < ns; q++) {
		double l = ref_sample(op, io->in[0], io->in[1], q, &wt, 0, NULL);
		if (a->reduction == CLCNN_LOSS_NONE)
			io->out[q] = l;
		sum += l;
		wsum += wt;
	}
	if (a->reduction != CLCNN_LOSS_NONE)
		io->out[0] = a->reduction == CLCNN_LOSS_MEAN ? sum / wsum : sum;
}

static void cls_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct cls_args *a = op->args;
	if (!io->grad_in[0])
		return;
	struct cls_dims d = cls_dims(op);
	size_t ns = (size_t)d.n * (size_t)d.s;
	double wsum = 0, wt;
	for (size_t q = 0; q < ns; q++) {
		ref_sample(op, io->in[0], io->in[1], q, &wt, 0, NULL);
		wsum += wt;
	}
	for (size_t q = 0; q < ns; q++) {
		double g = a->reduction == CLCNN_LOSS_NONE  ? io->grad_out[q]
			   : a->reduction == CLCNN_LOSS_SUM ? io->grad_out[0]
							    : io->grad_out[0] / wsum;
		ref_sample(op, io->in[0], io->in[1], q, &wt, g, io->grad_in[0]);
	}
}

static void cls_options(const struct clcnn_op *op, char *buf, size_t n)
{
	snprintf(buf, n, "-DNCLASS=%d -DCE=%d", cls_dims(op).c, is_ce(op));
}

static int cls_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct cls_args *a = op->args;
	struct cls_dims d = cls_dims(op);
	int ns = d.n * d.s, hasw = a->weight.n > 0;
	float eps = is_ce(op) ? (float)a->label_smoothing : 0.0f;
	cl_mem w = clcnn_loss_weight(op, io->in[0]);
	char opts[64];
	cls_options(op, opts, sizeof opts);
	cl_kernel k;
	if (a->reduction == CLCNN_LOSS_NONE) {
		int rc = clcnn_kernel_get(op->ctx, "loss", opts, "cls_none", &k);
		if (!rc)
			rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(w), KARG(hasw),
					       KARG(a->ignore_index), KARG(eps), KARG(io->out), KARG(ns), KARG(d.s));
		return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)ns);
	}
	int np, chunk;
	clcnn_loss_split((size_t)ns, &np, &chunk);
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "cls_partial", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(w), KARG(hasw),
				       KARG(a->ignore_index), KARG(eps), KARG(io->scratch), KARG(np), KARG(ns),
				       KARG(d.s), KARG(chunk));
	if (!rc)
		rc = clcnn_op_run1d(op->ctx, k, (size_t)np);
	return rc ? rc : clcnn_loss_finish(op, io, opts, (size_t)ns, a->reduction == CLCNN_LOSS_MEAN, 1.0f);
}

static int cls_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct cls_args *a = op->args;
	if (!io->grad_in[0])
		return 0;
	struct cls_dims d = cls_dims(op);
	int ns = d.n * d.s, hasw = a->weight.n > 0;
	int mode = a->reduction == CLCNN_LOSS_NONE  ? LOSS_GRAD_PER_SAMPLE
		   : a->reduction == CLCNN_LOSS_SUM ? LOSS_GRAD_SUM
						    : LOSS_GRAD_MEAN;
	float eps = is_ce(op) ? (float)a->label_smoothing : 0.0f, wsum = 0.0f;
	for (int c = 0; c < d.c; c++)
		wsum += (float)class_weight(a, c);
	cl_mem w = clcnn_loss_weight(op, io->in[0]), state = mode == LOSS_GRAD_MEAN ? io->state : io->grad_out;
	char opts[64];
	cls_options(op, opts, sizeof opts);
	cl_kernel k;
	int rc = clcnn_kernel_get(op->ctx, "loss", opts, "cls_backward", &k);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->in[1]), KARG(w), KARG(hasw),
				       KARG(a->ignore_index), KARG(eps), KARG(wsum), KARG(io->grad_out), KARG(mode),
				       KARG(state), KARG(io->grad_in[0]), KARG(ns), KARG(d.s));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, (size_t)ns);
}

/*
 * Class indices from the host (clcnn_graph_set_input): an integer in [0, C) or ignore_index, else an
 * error naming the sample (and its position when targets have spatial dims) and the value. PyTorch
 * raises "Target 12 is out of bounds" here; without this check the kernels give the sample a NaN.
 */
static int cls_check_input(const struct clcnn_op *op, int input, const float *host, size_t n, const char *who,
			   char *err, size_t errlen)
{
	const struct cls_args *a = op->args;
	if (input != 1)
		return 0;
	int C = cls_dims(op).c;
	const struct clcnn_shape *t = &op->in[1];
	size_t per = t->ndim >= 1 && t->d[0] > 0 ? n / (size_t)t->d[0] : n;
	for (size_t q = 0; q < n; q++) {
		double v = host[q];
		if (v == (double)a->ignore_index || (v >= 0 && v < C && v == floor(v)))
			continue;
		char where[96];
		if (per > 1)
			snprintf(where, sizeof where, "sample %zu (position %zu of %zu)", q / per, q % per, per);
		else
			snprintf(where, sizeof where, "sample %zu", q);
		if (v == floor(v))
			return clcnn_op_invalid(err, errlen,
						"%s has class %.9g, but %s has %d class%s (0..%d, or ignore_index %d)",
						where, v, who, C, C == 1 ? "" : "es", C - 1, a->ignore_index);
		return clcnn_op_invalid(err, errlen,
					"%s has label %.9g, which is not a class index: %s takes integers 0..%d (or "
					"ignore_index %d)",
					where, v, who, C - 1, a->ignore_index);
	}
	return 0;
}

/*
 * Test data: nll gets log-probability-like inputs in [-3, -0.05], cross_entropy logits in [-2, 2];
 * targets are class indices, ~20 % of them ignore_index (sample 0 never, so a mean never divides
 * by 0 here; the all-ignored NaN is tested in tests/ops/test-loss.c).
 */
static void cls_fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	(void)param;
	const struct cls_args *a = op->args;
	int C = cls_dims(op).c;
	for (size_t i = 0; i < n; i++) {
		if (input == 0) {
			x[i] = is_ce(op) ? clcnn_test_uniform(rng, -2, 2) : clcnn_test_uniform(rng, -3, -0.05);
			continue;
		}
		int k = (int)floor(clcnn_test_uniform(rng, 0, C));
		if (i == 0 && k == a->ignore_index && C > 1)
			k = (k + 1) % C;
		x[i] = i > 0 && clcnn_test_uniform(rng, 0, 1) < 0.2 ? a->ignore_index : k;
	}
}

/*
 * Tolerance: a sample's log-sum-exp adds C exponentials (each within 4 ulp), so a term carries
 * ~(C + 8) * 2^-24 relative error; sums over the <= 300 samples of the tables run in chains of
 * <= 2 sqrt(300) ~ 35 additions (clcnn_loss_split). With C <= 10 that is < 3e-6; 1e-5 leaves room
 * for the division by the float total weight.
 */
#define CLS_TOL 1e-5

static const struct clcnn_op_case nll_cases[] = {
	{"", "3x4;3", CLCNN_CASE_TRAIN, 0},
	{"weight=(0.5, 2, 1.5, 1), reduction=sum", "3x4;3", CLCNN_CASE_TRAIN, 0},
	{"ignore_index=1, reduction=none", "3x3x7x13;3x7x13", CLCNN_CASE_TRAIN, 0},
	{"weight=(0.5, 2, 1.5), ignore_index=2", "1x3x7x5;1x7x5", CLCNN_CASE_TRAIN, 0},
	{"weight=(0.25, 3, 1, 2, 0.5), reduction=mean", "3x5x7;3x7", CLCNN_CASE_TRAIN, 0},
	{"weight=(2, 0.5, 1), reduction=none", "13x3;13", CLCNN_CASE_TRAIN, 0},
	{"", "1x1;1", CLCNN_CASE_TRAIN, 0},
	{"reduction=sum", "7;scalar", CLCNN_CASE_TRAIN, 0},
	{"", "13x10;13", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case ce_cases[] = {
	{"", "3x4;3", CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.1, weight=(0.5, 2, 1.5, 1)", "3x4;3", CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.1, weight=(0.5, 2, 1.5, 1), ignore_index=2, reduction=sum", "3x4x7x5;3x7x5",
	 CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.1, weight=(0.5, 2, 1.5, 1), reduction=none", "1x4x5x7;1x5x7", CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.1, weight=(0.5, 2, 1.5), ignore_index=0", "3x3x13x7;3x13x7", CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.2", "1x3x7x13;1x7x13", CLCNN_CASE_TRAIN, 0},
	{"weight=(2, 0.5, 1), reduction=sum", "13x3;13", CLCNN_CASE_TRAIN, 0},
	{"", "3x1;3", CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.3, reduction=none", "3x1;3", CLCNN_CASE_TRAIN, 0},
	{"reduction=none", "13x10;13", CLCNN_CASE_TRAIN, 0},
	{"label_smoothing=0.05", "7;scalar", CLCNN_CASE_TRAIN, 0},
	{NULL, NULL, 0, 0},
};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/*
 * Per sample (N x d1 x ...): the weighted term w_t logp_t and its weight added to the mean's
 * denominator (2); cross_entropy first takes the log-softmax over the C classes (5 C + 1, as
 * logsoftmax), and with label smoothing also sum_c w_c logp_c (2 C) and the mix of both terms (3).
 * Then the reduction over the samples.
 */
static double cls_flops(const struct clcnn_op *op)
{
	const struct cls_args *a = op->args;
	struct cls_dims d = cls_dims(op);
	double samples = (double)d.n * d.s, per = 2;
	if (is_ce(op))
		per += 5.0 * d.c + 1 + (a->label_smoothing > 0 ? 2.0 * d.c + 3 : 0);
	return samples * per + clcnn_loss_reduce_flops(a->reduction, samples);
}

/* each loss term reads all C classes: the features of an (N, C) input, one pixel of an image's */
static void cls_window(const struct clcnn_op *op, struct clcnn_op_window *w)
{
	if (op->in[0].ndim <= 2)
		w->kernel[0] = w->kernel[1] = 0;
}

const struct clcnn_op_class clcnn_op_nll_loss = {
	.name = "nll_loss",
	.family = "loss",
	.doc = "negative log likelihood of class targets given log-probabilities (torch.nn.NLLLoss)",
	.args_size = sizeof(struct cls_args),
	.args = nll_keys,
	.min_in = 2,
	.max_in = 2,
	.setup = cls_setup,
	.prepare = cls_prepare,
	.ref_forward = cls_ref_forward,
	.ref_backward = cls_ref_backward,
	.forward = cls_forward,
	.backward = cls_backward,
	.saves = clcnn_saves_inputs,
	.destroy = clcnn_loss_destroy,
	.fill = cls_fill,
	.cases = nll_cases,
	.tol = CLS_TOL,
	.check_input = cls_check_input,
	.flops = cls_flops,
	.window = cls_window,
};

const struct clcnn_op_class clcnn_op_cross_entropy = {
	.name = "cross_entropy",
	.family = "loss",
	.doc = "log-softmax over dim 1 + nll_loss, with label smoothing (torch.nn.CrossEntropyLoss)",
	.args_size = sizeof(struct cls_args),
	.args = ce_keys,
	.min_in = 2,
	.max_in = 2,
	.setup = cls_setup,
	.prepare = cls_prepare,
	.ref_forward = cls_ref_forward,
	.ref_backward = cls_ref_backward,
	.forward = cls_forward,
	.backward = cls_backward,
	.saves = clcnn_saves_inputs,
	.destroy = clcnn_loss_destroy,
	.fill = cls_fill,
	.cases = ce_cases,
	.tol = CLS_TOL,
	.check_input = cls_check_input,
	.flops = cls_flops,
	.window = cls_window,
};
