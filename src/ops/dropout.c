/*
 * dropout (torch.nn.Dropout) and gaussian_noise (x + sigma * N(0, 1), Keras' GaussianNoise): random
 * only in training, identity in eval. The randomness is the counter-based clcnn_uniform(seed, i)
 * shared with cl/common.cl, so the C reference draws exactly the device's numbers and backward
 * regenerates forward's mask from the same seed instead of storing it.
 */
#include <math.h>
#include <string.h>

#include "ops/op.h"

struct dropout_args {
	double p;
	int inplace;
};

struct noise_args {
	double sigma;
};

static const struct clcnn_arg dropout_keys[] = {
	{"p", CLCNN_ARG_FLOAT, offsetof(struct dropout_args, p), "0.5", NULL, "probability of zeroing an element"},
	{"inplace", CLCNN_ARG_BOOL, offsetof(struct dropout_args, inplace), "false", NULL,
	 "accepted for PyTorch compatibility; memory is planned by the graph"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static const struct clcnn_arg noise_keys[] = {
	{"sigma", CLCNN_ARG_FLOAT, offsetof(struct noise_args, sigma), "0.1", NULL,
	 "standard deviation of the added noise"},
	{NULL, 0, 0, NULL, NULL, NULL},
};

static int dropout_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct dropout_args *a = op->args;
	if (!(a->p >= 0 && a->p <= 1))
		return clcnn_op_invalid(err, errlen, "dropout: probability p has to be between 0 and 1, but got %g",
					a->p);
	op->out = op->in[0];
	return 0;
}

static int noise_setup(struct clcnn_op *op, char *err, size_t errlen)
{
	const struct noise_args *a = op->args;
	if (!(a->sigma >= 0))
		return clcnn_op_invalid(err, errlen, "gaussian_noise: sigma must be >= 0, got %g", a->sigma);
	op->out = op->in[0];
	return 0;
}

/* ------------------------------------------------------------------ C reference */

/* The device's scale for kept elements, as the float it receives (p = 1 keeps nothing). */
static float dropout_scale(double p)
{
	return p < 1 ? (float)(1.0 / (1.0 - p)) : 0.0f;
}

/* The global index of the first element: first_sample samples of the per-sample size come before. */
static uint32_t first_element(const struct clcnn_op *op, uint32_t first_sample)
{
	size_t n = clcnn_shape_count(&op->out), batch = op->out.ndim > 0 && op->out.d[0] > 0 ? (size_t)op->out.d[0] : 1;
	return (uint32_t)(first_sample * (n / batch));
}

/* out = mask * x / (1 - p), mask_i = clcnn_uniform(seed, first + i) >= p; used for x -> y and dy -> dx. */
static void dropout_ref_apply(const struct clcnn_op *op, const struct clcnn_ref_io *io, const double *x, double *y)
{
	const struct dropout_args *a = op->args;
	size_t n = clcnn_shape_count(&op->out);
	float p = (float)a->p;
	for (size_t i = 0; i < n; i++) {
		if (!io->train || a->p == 0)
			y[i] = x[i];
		else
			y[i] = clcnn_uniform(io->seed, first_element(op, io->first_sample) + (uint32_t)i) < p
				       ? 0.0
				       : x[i] / (1.0 - a->p);
	}
}

static void dropout_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	dropout_ref_apply(op, io, io->in[0], io->out);
}

static void dropout_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	if (io->grad_in[0])
		dropout_ref_apply(op, io, io->grad_out, io->grad_in[0]);
}

/* Box-Muller from draws 2i and 2i+1; 1 - u is in (0, 1], so the log is finite. */
static double noise_ref_normal(uint32_t seed, uint32_t i)
{
	double u1 = clcnn_uniform(seed, 2u * i), u2 = clcnn_uniform(seed, 2u * i + 1u);
	return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

static void noise_ref_forward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	const struct noise_args *a = op->args;
	size_t n = clcnn_shape_count(&op->out);
	for (size_t i = 0; i < n; i++)
		io->out[i] = io->in[0][i] +
			     (io->train ? a->sigma * noise_ref_normal(io->seed, first_element(op, io->first_sample) +
										   (uint32_t)i)
					: 0.0);
}

static void noise_ref_backward(const struct clcnn_op *op, const struct clcnn_ref_io *io)
{
	if (io->grad_in[0])
		memcpy(io->grad_in[0], io->grad_out, clcnn_shape_count(&op->out) * sizeof(double));
}

/* ------------------------------------------------------------------ device */

static int dropout_dev_apply(struct clcnn_op *op, int train, uint32_t seed, uint32_t first_sample, cl_mem x, cl_mem y)
{
	const struct dropout_args *a = op->args;
	size_t count = clcnn_shape_count(&op->out);
	if (!train || a->p == 0)
		return x == y ? 0 : clcnn_buffer_copy(op->ctx, x, y, count * sizeof(float)); /* in place */
	cl_kernel k;
	cl_uint s = seed, first = first_element(op, first_sample);
	int n = (int)count, rc;
	float p = (float)a->p, scale = dropout_scale(a->p);
	if ((rc = clcnn_kernel_get(op->ctx, "dropout", "", "dropout_apply", &k)) ||
	    (rc = clcnn_kernel_args(op->ctx, k, KARG(x), KARG(y), KARG(s), KARG(first), KARG(p), KARG(scale), KARG(n))))
		return rc;
	return clcnn_op_run1d(op->ctx, k, count);
}

static int dropout_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	return dropout_dev_apply(op, io->train, io->seed, io->first_sample, io->in[0], io->out);
}

static int dropout_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	if (!io->grad_in[0])
		return 0;
	return dropout_dev_apply(op, io->train, io->seed, io->first_sample, io->grad_out, io->grad_in[0]);
}

static int noise_forward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	const struct noise_args *a = op->args;
	size_t count = clcnn_shape_count(&op->out);
	if (!io->train || a->sigma == 0)
		return clcnn_buffer_copy(op->ctx, io->in[0], io->out, count * sizeof(float));
	cl_kernel k;
	cl_uint s = io->seed, first = first_element(op, io->first_sample);
	int n = (int)count, rc;
	float sigma = (float)a->sigma;
	if ((rc = clcnn_kernel_get(op->ctx, "dropout", "", "gaussian_noise_add", &k)) ||
	    (rc = clcnn_kernel_args(op->ctx, k, KARG(io->in[0]), KARG(io->out), KARG(s), KARG(first), KARG(sigma),
				    KARG(n))))
		return rc;
	return clcnn_op_run1d(op->ctx, k, count);
}

static int noise_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	if (!io->grad_in[0])
		return 0;
	return clcnn_buffer_copy(op->ctx, io->grad_out, io->grad_in[0], clcnn_shape_count(&op->out) * sizeof(float));
}

/* ------------------------------------------------------------------ tests */

/* Backward draws the mask again from the seed; forward may run in place (the memory plan). */
static unsigned dropout_saves(const struct clcnn_op *op)
{
	(void)op;
	return CLCNN_SAVES_NOTHING | CLCNN_SAVES_INPLACE;
}

static const struct clcnn_op_case dropout_cases[] = {
	{"", "3x3x7x13", 0, 0},   {"p=0.2", "1x1x7x5", 0, 0},           {"p=0", "2x3x5x7", 0, 0},
	{"p=1", "2x3x5x7", 0, 0}, {"p=0.9, inplace=true", "4x9", 0, 0}, {"p=0.3", "1x3x13x7", 0, 0},
	{NULL, NULL, 0, 0},
};

static const struct clcnn_op_case noise_cases[] = {
	{"", "3x3x7x13", 0, 0},     {"sigma=1", "1x1x7x5", 0, 0},  {"sigma=0", "2x3x5x7", 0, 0},
	{"sigma=0.5", "4x9", 0, 0}, {"sigma=2", "1x3x13x7", 0, 0}, {NULL, NULL, 0, 0},
};

/* identity in eval, the mode FLOPs are counted in (docs/cost.md) */
static double eval_identity_flops(const struct clcnn_op *op)
{
	(void)op;
	return 0;
}

const struct clcnn_op_class clcnn_op_dropout = {
	.name = "dropout",
	.family = "dropout",
	.doc = "zero elements with probability p in training, scale the rest by 1/(1-p) (torch.nn.Dropout)",
	.args_size = sizeof(struct dropout_args),
	.args = dropout_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = dropout_setup,
	.ref_forward = dropout_ref_forward,
	.ref_backward = dropout_ref_backward,
	.forward = dropout_forward,
	.backward = dropout_backward,
	.saves = dropout_saves, /* the mask comes again from the seed */
	.cases = dropout_cases,
	/* one product x * scale with scale rounded to float: <= 2 * 2^-24 relative */
	.tol = 1e-6,
	.stochastic = 1,
	.flops = eval_identity_flops,
};

const struct clcnn_op_class clcnn_op_gaussian_noise = {
	.name = "gaussian_noise",
	.family = "dropout",
	.doc = "add sigma * N(0, 1) noise in training (Box-Muller from the shared counter RNG), identity in eval",
	.args_size = sizeof(struct noise_args),
	.args = noise_keys,
	.min_in = 1,
	.max_in = 1,
	.setup = noise_setup,
	.ref_forward = noise_ref_forward,
	.ref_backward = noise_ref_backward,
	.forward = noise_forward,
	.backward = noise_backward,
	.saves = clcnn_saves_nothing,
	.cases = noise_cases,
	/*
	 * float log (<= 3 ulp), sqrt (<= 3 ulp) and cospi (<= 4 ulp, exact argument) give |z| (<= 5.8)
	 * a relative error of ~10 * 2^-24, so |error| <= sigma * 3.5e-6; the cases have sigma <= 2
	 * and the error is measured relative to 1 + |out| with |out| ~ sigma * |z|.
	 */
	.tol = 4e-6,
	.stochastic = 1,
	.flops = eval_identity_flops,
};
