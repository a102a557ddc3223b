/*
 * Edge cases of the normalisation and structural ops (batchnorm2d/1d, dropout, gaussian_noise, add,
 * concat) beyond the generic op test: every invalid configuration's exact message, parameter specs
 * (state-dict names, shapes, initialisers), PyTorch's conventions at the edges (p = 0 and 1, a
 * constant channel, one value per channel in training), running statistics over several steps, the
 * dropout mask's statistics and its reuse in backward, and the noise's distribution.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "testutil.h"

static int parse_shapes(const char *text, struct clcnn_shape *s)
{
	int n = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", text);
	for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		s[n] = (struct clcnn_shape){0, {0}};
		if (strcmp(tok, "scalar") != 0)
			for (char *sv = NULL, *d = strtok_r(tok, "x", &sv); d; d = strtok_r(NULL, "x", &sv))
				s[n].d[s[n].ndim++] = atoi(d);
		n++;
	}
	return n;
}

static struct clcnn_op *make(const char *type, const char *args, const char *shapes)
{
	struct clcnn_shape in[16];
	struct clcnn_op *op = NULL;
	char err[1024];
	int nin = parse_shapes(shapes, in);
	ck_assert_msg(clcnn_op_new(type, args, nin, in, &op, err, sizeof err) == 0, "%s(%s) %s: %s", type, args, shapes,
		      err);
	return op;
}

static void expect_error(const char *type, const char *args, const char *shapes, const char *msg)
{
	struct clcnn_shape in[16];
	struct clcnn_op *op = NULL;
	char err[1024] = "";
	int nin = parse_shapes(shapes, in);
	int rc = clcnn_op_new(type, args, nin, in, &op, err, sizeof err);
	ck_assert_msg(rc == CLCNN_ERR_INVALID && op == NULL, "%s(%s) %s: accepted, expected '%s'", type, args, shapes,
		      msg);
	ck_assert_msg(!strcmp(err, msg), "%s(%s) %s:\n  got      '%s'\n  expected '%s'", type, args, shapes, err, msg);
}

/* ------------------------------------------------------------------ device harness */

struct run {
	struct clcnn_context *ctx;
	struct clcnn_op *op;
	struct clcnn_dev_io io;
	size_t in_n[CLCNN_OP_MAX_IN], out_n, param_n[CLCNN_OP_MAX_PARAM];
};

static cl_mem dbuf(struct run *r, size_t floats)
{
	cl_mem m;
	ck_assert_msg(clcnn_buffer_new(r->ctx, (floats ? floats : 1) * sizeof(float), &m) == 0, "%s",
		      clcnn_context_error(r->ctx));
	ck_assert(clcnn_buffer_fill(r->ctx, m, 0.0f, floats ? floats : 1) == 0);
	return m;
}

/* An op on the device with zeroed buffers; parameters get their initialisers. */
static void run_open(struct run *r, const char *type, const char *args, const char *shapes)
{
	memset(r, 0, sizeof *r);
	r->op = make(type, args, shapes);
	r->ctx = test_context();
	ck_assert_msg(clcnn_op_prepare(r->op, r->ctx) == 0, "%s", clcnn_context_error(r->ctx));
	for (int i = 0; i < r->op->nin; i++) {
		r->in_n[i] = clcnn_shape_count(&r->op->in[i]);
		r->io.in[i] = dbuf(r, r->in_n[i]);
		r->io.grad_in[i] = dbuf(r, r->in_n[i]);
	}
	r->out_n = clcnn_shape_count(&r->op->out);
	r->io.out = dbuf(r, r->out_n);
	r->io.grad_out = dbuf(r, r->out_n);
	for (int j = 0; j < r->op->nparam; j++) {
		const struct clcnn_param_spec *p = &r->op->param[j];
		r->param_n[j] = clcnn_shape_count(&p->shape);
		r->io.param[j] = dbuf(r, r->param_n[j]);
		if (p->init == CLCNN_INIT_ONES)
			ck_assert(clcnn_buffer_fill(r->ctx, r->io.param[j], 1.0f, r->param_n[j]) == 0);
		r->io.grad_param[j] = p->kind == CLCNN_PARAM_WEIGHT ? dbuf(r, r->param_n[j]) : NULL;
	}
	r->io.state = dbuf(r, r->op->state_bytes / sizeof(float) + 1);
	r->io.scratch = dbuf(r, r->op->scratch_bytes / sizeof(float) + 1);
}

static void run_close(struct run *r)
{
	for (int i = 0; i < r->op->nin; i++) {
		clcnn_buffer_free(r->io.in[i]);
		clcnn_buffer_free(r->io.grad_in[i]);
	}
	for (int j = 0; j < r->op->nparam; j++) {
		clcnn_buffer_free(r->io.param[j]);
		clcnn_buffer_free(r->io.grad_param[j]);
	}
	clcnn_buffer_free(r->io.out);
	clcnn_buffer_free(r->io.grad_out);
	clcnn_buffer_free(r->io.state);
	clcnn_buffer_free(r->io.scratch);
	clcnn_op_free(r->op);
	clcnn_context_close(r->ctx);
}

static void put(struct run *r, cl_mem m, const float *x, size_t n)
{
	ck_assert_msg(clcnn_buffer_write(r->ctx, m, 0, n * sizeof(float), x) == 0, "%s", clcnn_context_error(r->ctx));
}

static float *get(struct run *r, cl_mem m, size_t n)
{
	float *x = malloc((n ? n : 1) * sizeof(float));
	ck_assert(x != NULL);
	ck_assert_msg(clcnn_buffer_read(r->ctx, m, 0, n * sizeof(float), x) == 0, "%s", clcnn_context_error(r->ctx));
	return x;
}

static void forward(struct run *r, int train, uint32_t seed)
{
	r->io.train = train;
	r->io.seed = seed;
	ck_assert_msg(r->op->cls->forward(r->op, &r->io) == 0, "forward: %s", clcnn_context_error(r->ctx));
}

static void backward(struct run *r, int train, uint32_t seed)
{
	r->io.train = train;
	r->io.seed = seed;
	ck_assert_msg(r->op->cls->backward(r->op, &r->io) == 0, "backward: %s", clcnn_context_error(r->ctx));
}

static float *uniform(size_t n, double lo, double hi, uint64_t seed)
{
	float *x = malloc(n * sizeof(float));
	ck_assert(x != NULL);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)clcnn_test_uniform(&seed, lo, hi);
	return x;
}

/* ------------------------------------------------------------------ setup errors and specs */

START_TEST(test_batchnorm_errors)
{
	expect_error("batchnorm2d", "", "2x3x5", "batchnorm2d: expected 4D input (got 3D input)");
	expect_error("batchnorm2d", "", "2x3", "batchnorm2d: expected 4D input (got 2D input)");
	expect_error("batchnorm1d", "", "2x3x4x5", "batchnorm1d: expected 2D or 3D input (got 4D input)");
	expect_error("batchnorm1d", "", "scalar", "batchnorm1d: expected 2D or 3D input (got 0D input)");
	expect_error("batchnorm2d", "num_features=4", "2x3x5x5",
		     "batchnorm2d: num_features=4 but the input 2x3x5x5 has 3 channels");
	expect_error("batchnorm1d", "num_features=8", "4x7",
		     "batchnorm1d: num_features=8 but the input 4x7 has 7 channels");
	expect_error("batchnorm2d", "eps=-1e-5", "2x3x5x5", "batchnorm2d: eps must be >= 0, got -1e-05");
	expect_error("batchnorm2d", "momentum=1.5", "2x3x5x5",
		     "batchnorm2d: momentum must be in [0, 1] or none, got 1.5");
	expect_error("batchnorm1d", "momentum=-0.1", "4x3",
		     "batchnorm1d: momentum must be in [0, 1] or none, got -0.1");
	expect_error("batchnorm2d", "momentum=fast", "2x3x5x5",
		     "bad value 'fast' for momentum: expected a finite number or none");
	expect_error("batchnorm2d", "affine=maybe", "2x3x5x5", "bad value 'maybe' for affine: expected true or false");
	/* without running statistics every mode normalises with the batch: one value per channel is an error */
	expect_error("batchnorm1d", "track_running_stats=false", "1x3",
		     "batchnorm1d: expected more than 1 value per channel when training, got input size 1x3 "
		     "(track_running_stats=false uses batch statistics in eval too)");
	expect_error("batchnorm2d", "track_running_stats=false", "1x3x1x1",
		     "batchnorm2d: expected more than 1 value per channel when training, got input size 1x3x1x1 "
		     "(track_running_stats=false uses batch statistics in eval too)");
	expect_error("batchnorm2d", "", "2x3x5x5;2x3x5x5", "batchnorm2d takes 1 input, got 2");
}
END_TEST

START_TEST(test_batchnorm_specs)
{
	struct clcnn_op *op = make("batchnorm2d", "", "2x5x3x3");
	static const char *names[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
	static const enum clcnn_init inits[] = {CLCNN_INIT_ONES, CLCNN_INIT_ZEROS, CLCNN_INIT_ZEROS, CLCNN_INIT_ONES,
						CLCNN_INIT_ZEROS};
	ck_assert_int_eq(op->nparam, 5);
	for (int j = 0; j < 5; j++) {
		const struct clcnn_param_spec *p = &op->param[j];
		ck_assert_str_eq(p->name, names[j]);
		ck_assert_int_eq(p->init, inits[j]);
		ck_assert_int_eq(p->kind, j < 2 ? CLCNN_PARAM_WEIGHT : CLCNN_PARAM_BUFFER);
		ck_assert_int_eq(p->int64, j == 4);
		ck_assert_int_eq(p->shape.ndim, j == 4 ? 0 : 1);
		if (j < 4)
			ck_assert_int_eq(p->shape.d[0], 5);
	}
	ck_assert(clcnn_shape_equal(&op->out, &op->in[0]));
	clcnn_op_free(op);
	op = make("batchnorm1d", "affine=false", "4x6");
	ck_assert_int_eq(op->nparam, 3);
	ck_assert_str_eq(op->param[0].name, "running_mean");
	clcnn_op_free(op);
	op = make("batchnorm1d", "track_running_stats=false", "4x6x2");
	ck_assert_int_eq(op->nparam, 2);
	ck_assert_str_eq(op->param[1].name, "bias");
	clcnn_op_free(op);
	op = make("batchnorm2d", "affine=false, track_running_stats=false, num_features=2", "2x2x1x1");
	ck_assert_int_eq(op->nparam, 0);
	clcnn_op_free(op);
	/* single sample: legal to build (eval is fine; training is refused by forward) */
	op = make("batchnorm1d", "", "1x3");
	clcnn_op_free(op);
}
END_TEST

START_TEST(test_structural_errors)
{
	expect_error("dropout", "p=1.5", "2x3", "dropout: probability p has to be between 0 and 1, but got 1.5");
	expect_error("dropout", "p=-0.1", "2x3", "dropout: probability p has to be between 0 and 1, but got -0.1");
	expect_error("gaussian_noise", "sigma=-1", "2x3", "gaussian_noise: sigma must be >= 0, got -1");
	expect_error("add", "", "2x3x4x5;2x3x4x6", "add: input 1 has shape 2x3x4x6 but input 0 has shape 2x3x4x5");
	expect_error("add", "", "2x3;2x3;3x2", "add: input 2 has shape 3x2 but input 0 has shape 2x3");
	expect_error("add", "", "6;2x3", "add: input 1 has shape 2x3 but input 0 has shape 6");
	expect_error("add", "", "2x3", "add takes 2 to 8 inputs, got 1");
	expect_error("add", "", "1;1;1;1;1;1;1;1;1", "add takes 2 to 8 inputs, got 9");
	expect_error("concat", "dim=4", "2x3x5x5;2x3x5x5",
		     "concat: dim=4 is out of range for 4-D inputs (expected -4..3)");
	expect_error("concat", "dim=-3", "2x3;2x3", "concat: dim=-3 is out of range for 2-D inputs (expected -2..1)");
	expect_error(
		"concat", "", "2x3x5x6;2x4x5x5",
		"concat: input 1 has shape 2x4x5x5 but input 0 has shape 2x3x5x6: shapes must match except in dim 1");
	expect_error(
		"concat", "dim=-1", "2x3x5x6;2x3x4x6",
		"concat: input 1 has shape 2x3x4x6 but input 0 has shape 2x3x5x6: shapes must match except in dim 3");
	expect_error(
		"concat", "", "2x3x5x5;2x3x5",
		"concat: input 1 has shape 2x3x5 but input 0 has shape 2x3x5x5: shapes must match except in dim 1");
	expect_error("concat", "", "scalar;scalar", "concat: zero-dimensional inputs cannot be concatenated");
	expect_error("concat", "axis=1", "2x3;2x3", "unknown key 'axis' for concat; known keys: dim");

	struct clcnn_op *op = make("concat", "dim=-2", "2x3x5x6;2x3x1x6;2x3x2x6");
	ck_assert_int_eq(op->out.ndim, 4);
	ck_assert_int_eq(op->out.d[2], 8);
	ck_assert_int_eq(op->nparam, 0);
	clcnn_op_free(op);
	op = make("add", "", "4x9;4x9;4x9");
	ck_assert(clcnn_shape_equal(&op->out, &op->in[0]));
	clcnn_op_free(op);
}
END_TEST

/* ------------------------------------------------------------------ batchnorm on the device */

/* PyTorch raises in training when a channel has one value; eval of that batch is fine. */
START_TEST(test_batchnorm_single_value_training)
{
	struct run r;
	run_open(&r, "batchnorm1d", "", "1x3");
	float x[3] = {1, 2, 3};
	put(&r, r.io.in[0], x, 3);
	r.io.train = 1;
	ck_assert_int_eq(r.op->cls->forward(r.op, &r.io), CLCNN_ERR_INVALID);
	ck_assert_str_eq(clcnn_context_error(r.ctx),
			 "batchnorm1d: expected more than 1 value per channel when training, got input size 1x3");
	forward(&r, 0, 1); /* running mean 0, var 1: y = x / sqrt(1 + eps) */
	float *y = get(&r, r.io.out, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_float_eq_tol(y[i], x[i] / sqrtf(1 + 1e-5f), 1e-6);
	free(y);
	run_close(&r);
}
END_TEST

/*
 * A constant channel has variance 0: PyTorch outputs the bias and its gradient stays finite,
 * w / sqrt(eps) * (dy - mean(dy)); a near-constant one must not give a negative variance.
 */
START_TEST(test_batchnorm_constant_channel)
{
	struct run r;
	run_open(&r, "batchnorm2d", "", "2x2x3x5");
	float x[60], dy[60], w[2] = {2, 2}, b[2] = {0.25f, -0.5f};
	for (int i = 0; i < 60; i++) {
		int c = (i / 15) % 2;
		x[i] = c == 0 ? 3.0f : 1000.0f + (i % 2 ? 1e-4f : 0.0f);
		dy[i] = (float)(i % 7) - 3.0f;
	}
	put(&r, r.io.in[0], x, 60);
	put(&r, r.io.grad_out, dy, 60);
	put(&r, r.io.param[0], w, 2);
	put(&r, r.io.param[1], b, 2);
	forward(&r, 1, 1);
	backward(&r, 1, 1);
	float *y = get(&r, r.io.out, 60), *dx = get(&r, r.io.grad_in[0], 60), *rv = get(&r, r.io.param[3], 2);
	double mdy = 0;
	for (int i = 0; i < 60; i++)
		if ((i / 15) % 2 == 0)
			mdy += dy[i] / 30.0;
	for (int i = 0; i < 60; i++) {
		ck_assert_msg(isfinite(y[i]) && isfinite(dx[i]), "element %d: y %g dx %g", i, y[i], dx[i]);
		if ((i / 15) % 2 == 0) {
			ck_assert_float_eq_tol(y[i], 0.25f, 1e-6);
			double want = 2 / sqrt(1e-5) * (dy[i] - mdy);
			ck_assert_msg(fabs(dx[i] - want) <= 1e-5 * (1 + fabs(want)), "dx[%d] = %g, want %g", i, dx[i],
				      want);
		}
	}
	ck_assert_float_eq_tol(rv[0], 0.9f, 1e-7); /* 0.9 * 1 + 0.1 * 0 */
	ck_assert(rv[1] >= 0.9f && rv[1] < 0.9f + 1e-7f);
	free(y);
	free(dx);
	free(rv);
	run_close(&r);
}
END_TEST

/*
 * momentum=none over three steps: running_mean is the plain average of the three batch means and
 * running_var of the unbiased variances; num_batches_tracked counts the steps; eval steps change
 * nothing.
 */
START_TEST(test_batchnorm_cumulative_average)
{
	struct run r;
	run_open(&r, "batchnorm2d", "momentum=none", "2x3x4x5");
	enum {
		N = 120,
		PER = 40
	};
	double want_mean[3] = {0}, want_var[3] = {0};
	for (int step = 0; step < 3; step++) {
		float *x = uniform(N, -1 + step, 2 + 2 * step, 77 + (uint64_t)step);
		put(&r, r.io.in[0], x, N);
		for (int c = 0; c < 3; c++) {
			double s = 0, q = 0;
			for (int n = 0; n < 2; n++)
				for (int k = 0; k < 20; k++)
					s += x[(n * 3 + c) * 20 + k];
			s /= PER;
			for (int n = 0; n < 2; n++)
				for (int k = 0; k < 20; k++) {
					double d = x[(n * 3 + c) * 20 + k] - s;
					q += d * d;
				}
			want_mean[c] += s / 3;
			want_var[c] += q / (PER - 1) / 3;
		}
		forward(&r, 1, 1);
		forward(&r, 0, 1);
		free(x);
	}
	float *rm = get(&r, r.io.param[2], 3), *rv = get(&r, r.io.param[3], 3), *nbt = get(&r, r.io.param[4], 1);
	/* the initial running_mean 0 / running_var 1 have weight 0 after the first step's factor 1 */
	for (int c = 0; c < 3; c++) {
		ck_assert_msg(fabs(rm[c] - want_mean[c]) <= 2e-6 * (1 + fabs(want_mean[c])), "mean %d: %g vs %g", c,
			      rm[c], want_mean[c]);
		ck_assert_msg(fabs(rv[c] - want_var[c]) <= 2e-6 * (1 + fabs(want_var[c])), "var %d: %g vs %g", c, rv[c],
			      want_var[c]);
	}
	ck_assert_float_eq(nbt[0], 3.0f);
	free(rm);
	free(rv);
	free(nbt);
	run_close(&r);
}
END_TEST

/*
 * Data far from zero (mean 1000, spread 1): a one-pass E[x^2] - E[x]^2 variance would lose ~6 % in
 * float; the two-pass planes and Chan merge keep the output within float rounding of the inputs.
 */
START_TEST(test_batchnorm_large_offset)
{
	struct run r;
	run_open(&r, "batchnorm2d", "", "4x2x9x11");
	size_t n = r.in_n[0];
	float *x = uniform(n, 999, 1001, 5);
	put(&r, r.io.in[0], x, n);
	forward(&r, 1, 1);
	float *y = get(&r, r.io.out, n), *rv = get(&r, r.io.param[3], 2);
	for (int c = 0; c < 2; c++) {
		double s = 0, q = 0;
		for (int b = 0; b < 4; b++)
			for (int k = 0; k < 99; k++)
				s += x[(b * 2 + c) * 99 + k];
		s /= 396;
		for (int b = 0; b < 4; b++)
			for (int k = 0; k < 99; k++)
				q += (x[(b * 2 + c) * 99 + k] - s) * (x[(b * 2 + c) * 99 + k] - s);
		double inv = 1 / sqrt(q / 396 + 1e-5);
		for (int b = 0; b < 4; b++)
			for (int k = 0; k < 99; k++) {
				size_t i = (size_t)(b * 2 + c) * 99 + k;
				ck_assert_msg(fabs(y[i] - (x[i] - s) * inv) < 1e-3, "y[%zu] = %g, want %g", i, y[i],
					      (x[i] - s) * inv);
			}
		ck_assert_msg(fabs(rv[c] - (0.9 + 0.1 * q / 395)) < 1e-4, "running_var %g", rv[c]);
	}
	free(x);
	free(y);
	free(rv);
	run_close(&r);
}
END_TEST

/* ------------------------------------------------------------------ dropout and noise */

START_TEST(test_dropout_edges)
{
	struct run r;
	run_open(&r, "dropout", "p=0", "3x7x13");
	size_t n = r.in_n[0];
	float *x = uniform(n, -1, 1, 9);
	put(&r, r.io.in[0], x, n);
	put(&r, r.io.grad_out, x, n);
	forward(&r, 1, 42); /* p = 0: identity in training (no 1/(1-0) rounding) */
	backward(&r, 1, 42);
	float *y = get(&r, r.io.out, n), *dx = get(&r, r.io.grad_in[0], n);
	ck_assert(!memcmp(y, x, n * sizeof(float)) && !memcmp(dx, x, n * sizeof(float)));
	free(y);
	free(dx);
	run_close(&r);

	run_open(&r, "dropout", "p=1", "3x7x13");
	put(&r, r.io.in[0], x, n);
	put(&r, r.io.grad_out, x, n);
	forward(&r, 1, 42); /* p = 1: zeros (PyTorch), not NaN from 0 * inf */
	backward(&r, 1, 42);
	y = get(&r, r.io.out, n);
	dx = get(&r, r.io.grad_in[0], n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(y[i] == 0 && dx[i] == 0 && !signbit(y[i]), "element %zu: %g %g", i, y[i], dx[i]);
	free(y);
	free(dx);
	forward(&r, 0, 42); /* eval: identity even at p = 1 */
	y = get(&r, r.io.out, n);
	ck_assert(!memcmp(y, x, n * sizeof(float)));
	free(y);
	run_close(&r);
	free(x);
}
END_TEST

/* The mask: fraction p dropped, kept values scaled by exactly 1/(1-p), the same mask in backward. */
START_TEST(test_dropout_mask)
{
	struct run r;
	run_open(&r, "dropout", "p=0.25", "8x16x32x32");
	size_t n = r.in_n[0], dropped = 0, differ = 0;
	float *x = uniform(n, 0.5, 1.5, 3), *g = uniform(n, 0.5, 1.5, 4);
	put(&r, r.io.in[0], x, n);
	put(&r, r.io.grad_out, g, n);
	forward(&r, 1, 7);
	backward(&r, 1, 7);
	float *y = get(&r, r.io.out, n), *dx = get(&r, r.io.grad_in[0], n);
	float scale = (float)(1.0 / 0.75);
	for (size_t i = 0; i < n; i++) {
		int drop = clcnn_uniform(7, (uint32_t)i) < 0.25f;
		dropped += y[i] == 0;
		ck_assert_msg((y[i] == 0) == drop && (dx[i] == 0) == drop, "element %zu: mask differs", i);
		if (!drop) {
			ck_assert_msg(y[i] == x[i] * scale && dx[i] == g[i] * scale, "element %zu scaled wrongly", i);
		}
	}
	/* binomial: sd = sqrt(n p (1-p)) ~ 277 of n = 131072; allow 6 sd */
	ck_assert_msg(fabs((double)dropped - 0.25 * (double)n) < 6 * sqrt(n * 0.25 * 0.75), "dropped %zu of %zu",
		      dropped, n);
	free(y);
	forward(&r, 1, 8); /* another seed: another mask */
	y = get(&r, r.io.out, n);
	for (size_t i = 0; i < n; i++)
		differ += (y[i] == 0) != (dx[i] == 0);
	ck_assert_msg(differ > n / 4, "masks of seeds 7 and 8 differ in only %zu places", differ);
	free(x);
	free(g);
	free(y);
	free(dx);
	run_close(&r);
}
END_TEST

START_TEST(test_gaussian_noise)
{
	struct run r;
	run_open(&r, "gaussian_noise", "sigma=0.5", "4x8x64x64");
	size_t n = r.in_n[0];
	float *g = uniform(n, -1, 1, 11);
	put(&r, r.io.grad_out, g, n);
	forward(&r, 1, 99); /* on zeros: the noise itself */
	backward(&r, 1, 99);
	float *y = get(&r, r.io.out, n), *dx = get(&r, r.io.grad_in[0], n);
	double s = 0, q = 0, k4 = 0;
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(isfinite(y[i]), "noise %zu is %g", i, y[i]);
		s += y[i];
		q += (double)y[i] * y[i];
		k4 += pow(y[i] / 0.5, 4);
	}
	double mean = s / n, sd = sqrt(q / n - mean * mean);
	/* n = 131072: sd of the mean 0.5 / 362; of the sd ~ 0.5 / 512; fourth moment 3 (normal) */
	ck_assert_msg(fabs(mean) < 6 * 0.5 / sqrt(n), "mean %g", mean);
	ck_assert_msg(fabs(sd - 0.5) < 0.01, "sd %g", sd);
	ck_assert_msg(fabs(k4 / n - 3) < 0.15, "fourth moment %g", k4 / n);
	ck_assert(!memcmp(dx, g, n * sizeof(float))); /* gradient: identity */
	free(y);
	forward(&r, 0, 99); /* eval: identity */
	y = get(&r, r.io.out, n);
	for (size_t i = 0; i < n; i++)
		ck_assert(y[i] == 0);
	free(y);
	free(dx);
	free(g);
	run_close(&r);
}
END_TEST

/* ------------------------------------------------------------------ add and concat values */

START_TEST(test_concat_values)
{
	struct run r;
	/* torch.cat([a (2x1x2), b (2x2x2)], dim=1) */
	run_open(&r, "concat", "dim=1", "2x1x2;2x2x2");
	float a[4] = {1, 2, 3, 4}, b[8] = {10, 11, 12, 13, 14, 15, 16, 17};
	float want[12] = {1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17};
	put(&r, r.io.in[0], a, 4);
	put(&r, r.io.in[1], b, 8);
	forward(&r, 1, 1);
	float *y = get(&r, r.io.out, 12);
	ck_assert(!memcmp(y, want, sizeof want));
	put(&r, r.io.grad_out, want, 12);
	backward(&r, 1, 1);
	float *ga = get(&r, r.io.grad_in[0], 4), *gb = get(&r, r.io.grad_in[1], 8);
	ck_assert(!memcmp(ga, a, sizeof a) && !memcmp(gb, b, sizeof b));
	free(y);
	free(ga);
	free(gb);
	run_close(&r);

	run_open(&r, "add", "", "2x3;2x3;2x3");
	float p[6] = {1, 2, 3, 4, 5, 6}, q[6] = {10, 20, 30, 40, 50, 60}, s[6] = {-1, -1, -1, -1, -1, 0.5f};
	put(&r, r.io.in[0], p, 6);
	put(&r, r.io.in[1], q, 6);
	put(&r, r.io.in[2], s, 6);
	forward(&r, 0, 1);
	y = get(&r, r.io.out, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq(y[i], p[i] + q[i] + s[i]);
	free(y);
	run_close(&r);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("norm");
	TCase *tc = tcase_create("setup");
	tcase_add_test(tc, test_batchnorm_errors);
	tcase_add_test(tc, test_batchnorm_specs);
	tcase_add_test(tc, test_structural_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("device");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_batchnorm_single_value_training);
	tcase_add_test(tc, test_batchnorm_constant_channel);
	tcase_add_test(tc, test_batchnorm_cumulative_average);
	tcase_add_test(tc, test_batchnorm_large_offset);
	tcase_add_test(tc, test_dropout_edges);
	tcase_add_test(tc, test_dropout_mask);
	tcase_add_test(tc, test_gaussian_noise);
	tcase_add_test(tc, test_concat_values);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
