/*
 * Element-wise activations (PyTorch 1.13 names, arguments and defaults). One table row per
 * activation; the device side is one kernel source (cl/activation.cl) specialised by -DACT=<id>,
 * so adding an activation is an id in cl/activation.h, a row here, a case in act_f/act_df below and
 * the same in the .cl.
 * prelu adds a learned weight (shared or per channel, dim 1) and its deterministic reduction.
 */
#include <math.h>
#include <string.h>

#include "../../cl/activation.h" /* ACT_*: the kernel ids, shared with the kernels */
#include "ops/op.h"

struct act_args {
	double negative_slope;
	double beta, threshold;
	double alpha;
	double min_val, max_val;
	int approximate;
	int num_parameters;
	double init;
};

/* Kernel float arguments p0, p1 of each activation (offsets into act_args; -1: unused). */
struct act_def {
	const char *name;
	int act; /* ACT_* */
	int p0, p1;
};

#define OFF(f) ((int)offsetof(struct act_args, f))
static const struct act_def defs[] = {
	{"sigmoid", ACT_SIGMOID, -1, -1},
	{"tanh", ACT_TANH, -1, -1},
	{"relu", ACT_RELU, -1, -1},
	{"leaky_relu", ACT_LEAKY_RELU, OFF(negative_slope), -1},
	{"softplus", ACT_SOFTPLUS, OFF(beta), OFF(threshold)},
	{"logsigmoid", ACT_LOGSIGMOID, -1, -1},
	{"elu", ACT_ELU, OFF(alpha), -1},
	{"gelu", ACT_GELU, -1, -1},
	{"silu", ACT_SILU, -1, -1},
	{"hardtanh", ACT_HARDTANH, OFF(min_val), OFF(max_val)},
	{"prelu", ACT_PRELU, -1, -1},
};

static const char *const gelu_choices[] = {"none", "tanh", NULL};

static const struct clcnn_arg no_keys[] = {{NULL, 0, 0, NULL, NULL, NULL}};
static const struct clcnn_arg leaky_keys[] = {
	{"negative_slope", CLCNN_ARG_FLOAT, OFF(negative_slope), "0.01", NULL, "slope for x < 0"},
	{NULL, 0, 0, NULL, NULL, NULL},
};
static const struct clcnn_arg softplus_keys[] = {
	{"beta", CLCNN_ARG_FLOAT, OFF(beta), "1", NULL, "log(1 + exp(beta x)) / beta"},
	{"threshold", CLCNN_ARG_FLOAT, OFF(threshold), "20", NULL, "linear where beta x > threshold"},
	{NULL, 0, 0, NULL, NULL, NULL},
};
static const struct clcnn_arg elu_keys[] = {
	{"alpha", CLCNN_ARG_FLOAT, OFF(alpha), "1", NULL, "alpha (exp(x) - 1) for x <= 0"},
	{NULL, 0, 0, NULL, NULL, NULL},
};
static const struct clcnn_arg gelu_keys[] = {
	{"approximate", CLCNN_ARG_ENUM, OFF(approximate), "none", gelu_choices, "none (erf) or tanh"},
	{NULL, 0, 0, NULL, NULL, NULL},
};
static const struct clcnn_arg hardtanh_keys[] = {
	{"min_val", CLCNN_ARG_FLOAT, OFF(min_val), "-1", NULL, "lower clamp"},
	{"max_val", CLCNN_ARG_FLOAT, OFF(max_val), "1", NULL, "upper clamp"},
	{NULL, 0, 0, NULL, NULL, NULL},
};
static const struct clcnn_arg prelu_keys[] = {
	{"num_parameters", CLCNN_ARG_INT, OFF(num_parameters), "1", NULL, "1 (shared) or the channel count"},
	{"init", CLCNN_ARG_FLOAT, OFF(init), "0.25", NULL, "initial slope"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct act_def *def_of(const struct clcnn_op *op)
{
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(defs); i++)
		if (!strcmp(defs[i].name, op->cls->name))
			return &defs[i];
	return &defs[0]; /* unreachable: every class below has a row */
}

static int act_of(const struct clcnn_op *op)
{
	const struct act_def *d = def_of(op);
	const struct act_args *a = op->args;
	return d->act == ACT_GELU && a->approximate ? ACT_GELU_TANH : d->act;
}

static double arg_at(const struct clcnn_op *op, int off)
{
	return off < 0 ? 0.0 : *(const double *)((const char *)op->args + off);
}

/* PReLU's channel view: dim 1 is the channel; inputs with fewer than 2 dims have one channel. */
static void prelu_view(const struct clcnn_op *op, int *channels, int *inner)
{
	const struct clcnn_shape *s = &op->in[0];
	size_t count = clcnn_shape_count(s);
	*channels = s->ndim >= 2 ? s->d[1] : 1;
	*inner = s->ndim >= 2 ? (int)(count / ((size_t)s->d[0] * (size_t)s->d[1])) : (int)count;
}

/* Elements summed by one work-item in the first pass of prelu's weight gradient. */
#define PRELU_CHUNK 1024

static int setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct act_args *a = op->args;
	op->out = op->in[0];
	switch (def_of(op)->act) {
	case ACT_SOFTPLUS:
		/* PyTorch divides by beta without a check; 0 would give inf/nan everywhere */
		if (a->beta == 0)
			return clcnn_op_invalid(err, errlen, "softplus: beta must be nonzero, got 0");
		break;
	case ACT_HARDTANH:
		if (!(a->max_val > a->min_val))
			return clcnn_op_invalid(err, errlen, "hardtanh: max_val=%g must be greater than min_val=%g",
						a->max_val, a->min_val);
		break;
	case ACT_PRELU: {
		int channels, inner;
		prelu_view(op, &channels, &inner);
		if (a->num_parameters != 1 && a->num_parameters != channels)
			return clcnn_op_invalid(err, errlen,
						"prelu: num_parameters=%d must be 1 or the channel count (dim 1) %d",
						a->num_parameters, channels);
		struct clcnn_param_spec *w = &op->param[0];
		memset(w, 0, sizeof *w);
		snprintf(w->name, sizeof w->name, "weight");
		w->shape = (struct clcnn_shape){1, {a->num_parameters, 0, 0, 0}};
		w->kind = CLCNN_PARAM_WEIGHT;
		w->init = CLCNN_INIT_CONST;
		w->init_value = a->init;
		op->nparam = 1;
		size_t planes = clcnn_shape_count(&op->in[0]) / (size_t)inner;
		size_t chunks = ((size_t)inner + PRELU_CHUNK - 1) / PRELU_CHUNK;
		op->scratch_bytes = planes * chunks * sizeof(float);
		break;
	}
	default: break;
	}
	return 0;
}

/* ------------------------------------------------------------------ C reference (double) */

static double sigmoid(double x)
{
	double e = exp(-fabs(x)); /* never overflows */
	return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

static const double SQRT_2_OVER_PI = 0.79788456080286535588, GELU_KAPPA = 0.044715;

/* f(x); `slope` is prelu's weight for this element. */
static double act_f(const struct clcnn_op *op, int id, double x, double slope)
{
	const struct act_args *a = op->args;
	switch (id) {
	case ACT_SIGMOID: return sigmoid(x);
	case ACT_TANH: return tanh(x);
	case ACT_RELU: return x < 0 ? 0 : x;
	case ACT_LEAKY_RELU: return x > 0 ? x : a->negative_slope * x;
	case ACT_PRELU: return x > 0 ? x : slope * x;
	case ACT_SOFTPLUS:
		if (a->beta * x > a->threshold)
			return x;
		/* log1p(exp(bx)) rewritten so that a large threshold cannot overflow it (PyTorch: inf) */
		return (fmax(a->beta * x, 0) + log1p(exp(-fabs(a->beta * x)))) / a->beta;
	case ACT_LOGSIGMOID: return fmin(x, 0) - log1p(exp(-fabs(x)));
	case ACT_ELU: return x > 0 ? x : a->alpha * expm1(x);
	case ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
	case ACT_GELU_TANH: return 0.5 * x * (1 + tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x)));
	case ACT_SILU: return x * sigmoid(x);
	case ACT_HARDTANH: return x < a->min_val ? a->min_val : x > a->max_val ? a->max_val : x;
	}
	return 0;
}

/* df/dx at x, with PyTorch's choices at the kinks and for NaN (tests/ops/test-activation.c). */
static double act_df(const struct clcnn_op *op, int id, double x, double slope)
{
	const struct act_args *a = op->args;
	switch (id) {
	case ACT_SIGMOID: return sigmoid(x) * (1 - sigmoid(x));
	case ACT_TANH: return 1 - tanh(x) * tanh(x);
	case ACT_RELU: return x <= 0 ? 0 : 1;
	case ACT_LEAKY_RELU: return x > 0 ? 1 : a->negative_slope;
	case ACT_PRELU: return x > 0 ? 1 : slope;
	case ACT_SOFTPLUS: return a->beta * x > a->threshold ? 1 : sigmoid(a->beta * x);
	case ACT_LOGSIGMOID: return sigmoid(-x);
	case ACT_ELU: return x <= 0 ? a->alpha * exp(x) : 1;
	case ACT_GELU: return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
	case ACT_GELU_TANH: {
		double t = tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * x * x * x));
		return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_KAPPA * x * x);
	}
	case ACT_SILU: return sigmoid(x) * (1 + x * (1 - sigmoid(x)));
	case ACT_HARDTANH: return x <= a->min_val || x >= a->max_val ? 0 : 1;
	}
	return 0;
}

/* prelu's weight index of flat element i (0 when shared). */
static size_t slope_index(const struct clcnn_op *op, size_t i)
{
	const struct act_args *a = op->args;
	int channels, inner;
	prelu_view(op, &channels, &inner);
	return a->num_parameters == 1 ? 0 : i / (size_t)inner % (size_t)channels;
}

static void ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	int id = act_of(op);
	size_t n = clcnn_shape_count(&op->out);
	for (size_t i = 0; i < n; i++) {
		double slope = id == ACT_PRELU ? io->param[0][slope_index(op, i)] : 0;
		io->out[i] = act_f(op, id, io->in[0][i], slope);
	}
}

static void ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	int id = act_of(op);
	size_t n = clcnn_shape_count(&op->out);
	if (id == ACT_PRELU && io->grad_param[0]) {
		const struct act_args *a = op->args;
		memset(io->grad_param[0], 0, (size_t)a->num_parameters * sizeof(double));
		for (size_t i = 0; i < n; i++) {
			double x = io->in[0][i];
			io->grad_param[0][slope_index(op, i)] += x > 0 ? 0 : x * io->grad_out[i];
		}
	}
	if (!io->grad_in[0])
		return;
	for (size_t i = 0; i < n; i++) {
		double slope = id == ACT_PRELU ? io->param[0][slope_index(op, i)] : 0;
		io->grad_in[0][i] = io->grad_out[i] * act_df(op, id, io->in[0][i], slope);
	}
}

/* ------------------------------------------------------------------ device */

/* Elements per work-item: a full AVX-512 register on CPUs (POCL), float4 loads on GPUs. */
static int vector_width(const struct clcnn_op *op)
{
	return op->ctx && clcnn_is_gpu(op->ctx) ? op->ctx->lim.vector_width : 16;
}

static int get_kernel(struct clcnn_op *op, const char *name, cl_kernel *k)
{
	char opts[64];
	snprintf(opts, sizeof opts, "-DACT=%d -DVW=%d", (int)act_of(op), vector_width(op));
	return clcnn_kernel_get(op->ctx, "activation", opts, name, k);
}

/* Builds the kernels now so that the first forward does not pay for the compile. */
static int prepare(struct clcnn_op *op)
{
	cl_kernel k;
	int rc = get_kernel(op, "act_forward", &k);
	return rc ? rc : get_kernel(op, "act_backward", &k);
}

/* Work-items covering n elements, VW per item. */
static size_t items(const struct clcnn_op *op, size_t n)
{
	size_t vw = (size_t)vector_width(op);
	return (n + vw - 1) / vw;
}

static int forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct act_def *d = def_of(op);
	cl_kernel k;
	int rc = get_kernel(op, "act_forward", &k);
	if (rc)
		return rc;
	cl_int n = (cl_int)clcnn_shape_count(&op->out), channels = 1, inner = 1, wstep = 0;
	cl_float p0 = (cl_float)arg_at(op, d->p0), p1 = (cl_float)arg_at(op, d->p1);
	cl_mem w = io->in[0]; /* any valid buffer when there is no weight */
	if (d->act == ACT_PRELU) {
		prelu_view(op, &channels, &inner);
		wstep = ((const struct act_args *)op->args)->num_parameters == 1 ? 0 : 1;
		w = io->param[0];
	}
	rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->out), KARG(w), KARG(n), KARG(p0), KARG(p1),
			       KARG(inner), KARG(channels), KARG(wstep));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, items(op, (size_t)n));
}

/* prelu's weight gradient: per-(plane, chunk) partial sums into scratch, then per weight in order. */
static int prelu_weight_grad(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct act_args *a = op->args;
	cl_kernel k1, k2;
	int rc = get_kernel(op, "prelu_weight_partial", &k1);
	if (!rc)
		rc = get_kernel(op, "prelu_weight_sum", &k2);
	if (rc)
		return rc;
	int channels, inner;
	prelu_view(op, &channels, &inner);
	cl_int c_inner = inner, chunk = PRELU_CHUNK, nchunk = (inner + PRELU_CHUNK - 1) / PRELU_CHUNK;
	cl_int planes = (cl_int)(clcnn_shape_count(&op->out) / (size_t)inner);
	cl_int nw = a->num_parameters, pstep = a->num_parameters == 1 ? 1 : channels;
	cl_int npartial = planes * nchunk;
	rc = clcnn_kernel_args(op->ctx, k1, KARG(io->in[0]), KARG(io->grad_out), KARG(io->scratch), KARG(c_inner),
			       KARG(chunk), KARG(nchunk), KARG(npartial));
	if (!rc)
		rc = clcnn_op_run1d(op->ctx, k1, (size_t)npartial);
	if (!rc)
		rc = clcnn_kernel_args(op->ctx, k2, KARG(io->scratch), KARG(io->grad_param[0]), KARG(nw), KARG(planes),
				       KARG(pstep), KARG(nchunk));
	if (!rc) {
		size_t g = (size_t)nw, l = nw < 64 ? (size_t)(nw + 7) / 8 * 8 : 64;
		if (clcnn_is_gpu(op->ctx))
			l = clcnn_op_local1d(op->ctx, k2);
		rc = clcnn_kernel_run(op->ctx, k2, 1, &g, &l);
	}
	return rc;
}

static int backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct act_def *d = def_of(op);
	int rc = 0;
	if (d->act == ACT_PRELU && io->grad_param[0])
		rc = prelu_weight_grad(op, io);
	if (rc || !io->grad_in[0])
		return rc;
	cl_kernel k;
	rc = get_kernel(op, "act_backward", &k);
	if (rc)
		return rc;
	cl_int n = (cl_int)clcnn_shape_count(&op->out), channels = 1, inner = 1, wstep = 0;
	cl_float p0 = (cl_float)arg_at(op, d->p0), p1 = (cl_float)arg_at(op, d->p1);
	cl_mem w = io->in[0];
	if (d->act == ACT_PRELU) {
		prelu_view(op, &channels, &inner);
		wstep = ((const struct act_args *)op->args)->num_parameters == 1 ? 0 : 1;
		w = io->param[0];
	}
	rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->grad_out), KARG(io->grad_in[0]), KARG(w), KARG(n),
			       KARG(p0), KARG(p1), KARG(inner), KARG(channels), KARG(wstep));
	return rc ? rc : clcnn_op_run1d(op->ctx, k, items(op, (size_t)n));
}

/* ------------------------------------------------------------------ tests */

/*
 * Test inputs: uniform in [-3, 3] (reaching gelu's erfc branch at |x| > 1.31; hardtanh: [-1, 1],
 * so that most values are inside), kept more than 2e-2 from the op's kinks (0; hardtanh's edges;
 * softplus's switch to linear), so that finite differences (device step 1e-2) never straddle one;
 * the kinks themselves are pinned in tests/ops/test-activation.c. Cases with batch 2 are the
 * large-magnitude cases: |x| in [30, 50], where naive sigmoid/softplus/logsigmoid overflow.
 */
static void fill(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng)
{
	const struct act_args *a = op->args;
	(void)param;
	if (input < 0) {
		for (size_t i = 0; i < n; i++)
			x[i] = clcnn_test_uniform(rng, -1, 1);
		return;
	}
	double kinks[2] = {0, 0};
	int nk = 0;
	switch (def_of(op)->act) {
	case ACT_RELU:
	case ACT_LEAKY_RELU:
	case ACT_PRELU:
	case ACT_ELU: kinks[nk++] = 0; break;
	case ACT_HARDTANH:
		kinks[nk++] = a->min_val;
		kinks[nk++] = a->max_val;
		break;
	case ACT_SOFTPLUS: kinks[nk++] = a->threshold / a->beta; break;
	default: break;
	}
	int large = op->in[0].ndim >= 1 && op->in[0].d[0] == 2;
	double range = def_of(op)->act == ACT_HARDTANH ? 1 : 3;
	for (size_t i = 0; i < n; i++) {
		double v;
		for (;;) {
			if (large) {
				v = clcnn_test_uniform(rng, 30, 50);
				v = clcnn_test_uniform(rng, 0, 1) < 0.5 ? -v : v;
			} else {
				v = clcnn_test_uniform(rng, -range, range);
			}
			int near = 0;
			for (int k = 0; k < nk; k++)
				near |= fabs(v - kinks[k]) <= 2e-2;
			if (!near)
				break;
		}
		x[i] = v;
	}
}

/*
 * Shapes: one element; 4-D with N, C = 3 and H != W; sizes 315 and 273 that leave a ragged tail
 * for every vector width; 2-D (N, F); batch 2 = large magnitudes (see fill). Train and eval are the
 * same function, so only train mode runs.
 */
#define SHAPES(args) \
	{args, "1x1x1x1", CLCNN_CASE_TRAIN, 0}, {args, "3x3x7x5", CLCNN_CASE_TRAIN, 0}, \
		{args, "1x3x13x7", CLCNN_CASE_TRAIN, 0}, {args, "3x13", CLCNN_CASE_TRAIN, 0}, \
	{ \
		args, "2x3x4x5", CLCNN_CASE_TRAIN, 0 \
	}
#define END \
	{ \
		NULL, NULL, 0, 0 \
	}

static const struct clcnn_op_case plain_cases[] = {SHAPES(""), END};
static const struct clcnn_op_case leaky_cases[] = {SHAPES(""),
						   SHAPES("negative_slope=0.2"),
						   {"negative_slope=-0.5", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
						   END};
static const struct clcnn_op_case softplus_cases[] =
	{SHAPES(""),
	 /* beta x crosses the threshold inside the test range: both branches in one tensor */
	 SHAPES("beta=2, threshold=1"),
	 {"beta=0.5, threshold=0.25", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
	 {"threshold=2", "1x3x13x7", CLCNN_CASE_TRAIN, 0},
	 {"beta=-1.5, threshold=0.5", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
	 END};
static const struct clcnn_op_case elu_cases[] = {SHAPES(""), SHAPES("alpha=0.5"), END};
static const struct clcnn_op_case gelu_cases[] = {SHAPES("approximate=none"), SHAPES("approximate=tanh"), END};
static const struct clcnn_op_case hardtanh_cases[] = {SHAPES(""), SHAPES("min_val=-0.5, max_val=0.25"), END};
static const struct clcnn_op_case prelu_cases[] = {SHAPES(""),
						   {"num_parameters=3", "3x3x7x5", CLCNN_CASE_TRAIN, 0},
						   {"num_parameters=3, init=0.1", "1x3x13x7", CLCNN_CASE_TRAIN, 0},
						   {"num_parameters=3", "2x3x4x5", CLCNN_CASE_TRAIN, 0},
						   {"num_parameters=13", "3x13", CLCNN_CASE_TRAIN, 0},
						   /* planes longer than one reduction chunk (PRELU_CHUNK) */
						   {"num_parameters=2", "3x2x37x29", CLCNN_CASE_TRAIN, 0},
						   END};

/* ------------------------------------------------------------------ cost (docs/cost.md) */

/*
 * Per element: each arithmetic operation, comparison, abs and elementary function (exp, log, log1p,
 * tanh, erf) counts 1; a negation is free. The formulas are the ones of each class's doc line.
 */
static double flops(const struct clcnn_op *op)
{
	int per;
	switch (act_of(op)) {
	case ACT_TANH:
	case ACT_RELU:
		per = 1; /* tanh; max */
		break;
	case ACT_LEAKY_RELU:
	case ACT_PRELU:
	case ACT_HARDTANH:
		per = 2; /* compare, multiply; min, max */
		break;
	case ACT_SIGMOID:
		per = 3; /* exp, add, divide */
		break;
	case ACT_ELU:
	case ACT_SILU:
		per = 4; /* compare, exp, subtract, multiply; sigmoid (3) and a multiply */
		break;
	case ACT_LOGSIGMOID:
	case ACT_SOFTPLUS:
	case ACT_GELU:
		/* min(x, 0) - log1p(exp(-|x|)): min, abs, exp, log1p, subtract; beta x, compare, exp,
		 * log1p, divide; x / sqrt 2, erf, add 1, two multiplies */
		per = 5;
		break;
	default:
		per = 9; /* ACT_GELU_TANH: x^3 (2), mul, add, mul, tanh, add, mul, mul */
		break;
	}
	return (double)clcnn_shape_count(&op->out) * per;
}

/*
 * Tolerance: each output is one or two transcendental calls (OpenCL allows exp/log/tanh 3-5 ulp;
 * the kernel's erf and log1p add ~4 ulp) and a few roundings, i.e. <= ~20 * 2^-24 ~ 1.2e-6 relative
 * to (1 + |ref|); the gradient multiplies two such factors and g, so ~3e-6; prelu's weight gradient
 * sums up to N * H * W ~ 3000 products in sequence (~3000 * 2^-24 relative to the sum of |terms|),
 * and 1e-5 leaves room for that at these case sizes. Measured worst: 1e-6 (prelu weight), 1e-7 else.
 */
#define ACT_TOL 1e-5

/* Backward reads x; relu and leaky_relu (slope >= 0) read only its sign, which y has too (op.h). */
static unsigned act_saves(const struct clcnn_op *op)
{
	const struct act_args *a = op->args;
	if (!strcmp(op->cls->name, "relu") || (!strcmp(op->cls->name, "leaky_relu") && !((float)a->negative_slope < 0)))
		return CLCNN_SAVES_IN0_AS_OUT | CLCNN_SAVES_INPLACE;
	return CLCNN_SAVES_IN(0);
}

/*
 * Operator fusion (op.h): relu and leaky_relu (slope >= 0, whose backward the output decides) may
 * be applied by their producer; the producer's kernels use act_f and act_df of cl/activation.cl.
 */
static int act_fusable(const struct clcnn_op *op, struct clcnn_fused_act *f)
{
	const struct act_args *a = op->args;
	int id = act_of(op);
	if (id == ACT_RELU) {
		*f = (struct clcnn_fused_act){CLCNN_FUSED_RELU, 0.0f};
		return 1;
	}
	if (id == ACT_LEAKY_RELU && !((float)a->negative_slope < 0)) {
		*f = (struct clcnn_fused_act){CLCNN_FUSED_LEAKY_RELU, (float)a->negative_slope};
		return 1;
	}
	return 0;
}

#define ACT_CLASS(id, keys, cases_, doc_) \
	const struct clcnn_op_class clcnn_op_##id = { \
		.name = #id, \
		.family = "activation", \
		.doc = doc_, \
		.args_size = sizeof(struct act_args), \
		.args = keys, \
		.min_in = 1, \
		.max_in = 1, \
		.setup = setup, \
		.prepare = prepare, \
		.ref_forward = ref_forward, \
		.ref_backward = ref_backward, \
		.forward = forward, \
		.backward = backward, \
		.saves = act_saves, \
		.fusable_act = act_fusable, \
		.fill = fill, \
		.cases = cases_, \
		.tol = ACT_TOL, \
		.flops = flops, \
	}

ACT_CLASS(sigmoid, no_keys, plain_cases, "1 / (1 + exp(-x))");
ACT_CLASS(tanh, no_keys, plain_cases, "tanh(x)");
ACT_CLASS(relu, no_keys, plain_cases, "max(x, 0); gradient 0 at x = 0");
ACT_CLASS(leaky_relu, leaky_keys, leaky_cases, "x > 0 ? x : negative_slope * x");
ACT_CLASS(prelu, prelu_keys, prelu_cases, "leaky_relu with a learned slope, shared or per channel (dim 1)");
ACT_CLASS(softplus, softplus_keys, softplus_cases, "log(1 + exp(beta x)) / beta, linear where beta x > threshold");
ACT_CLASS(logsigmoid, no_keys, plain_cases, "log(sigmoid(x)), stable for large |x|");
ACT_CLASS(elu, elu_keys, elu_cases, "x > 0 ? x : alpha (exp(x) - 1)");
ACT_CLASS(gelu, gelu_keys, gelu_cases, "x * Phi(x) (approximate=none) or its tanh approximation");
ACT_CLASS(silu, no_keys, plain_cases, "x * sigmoid(x)");
ACT_CLASS(hardtanh, hardtanh_keys, hardtanh_cases, "clamp(x, min_val, max_val)");
