/*
 * conv2d and linear edge cases beside the generic op test: every invalid configuration's message,
 * output sizes, the conventions a user compares with PyTorch (cross-correlation vs flip=true, where
 * 'same' puts the odd padding), hand-computed values on every algorithm, bitwise determinism, how
 * CLCNN_CONV_ALGO and algo= pick the algorithm, and autotuning's record in the cache directory.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "device/gemm.h"
#include "ops/conv-private.h"
#include "testutil.h"

/* Winograd's tolerance per sqrt(terms summed per transformed point): see WINOGRAD_TOL in src/ops/conv.c. */
#define WINOGRAD_TOL_PER_SQRT_L 1.2e-5
#define WINOGRAD5_TOL_PER_SQRT_L 2.5e-5 /* F(2x2, 5x5): WINOGRAD5_TOL */

static void expect_invalid(const char *type, const char *args, struct clcnn_shape in, const char *msg)
{
	struct clcnn_op *op = NULL;
	char err[512] = "";
	int rc = clcnn_op_new(type, args, 1, &in, &op, err, sizeof err);
	ck_assert_msg(rc == CLCNN_ERR_INVALID, "%s(%s) accepted", type, args);
	ck_assert_msg(op == NULL, "%s(%s) returned an op", type, args);
	ck_assert_msg(!strcmp(err, msg), "%s(%s):\n got  '%s'\n want '%s'", type, args, err, msg);
}

/*
 * A context for op's forced algorithm: the environment's, or one with the GPU device profile for an
 * algorithm that only GPU profiles offer (igemm_gpu, im2col_clblast), so that every run of the suite
 * exercises them as a GPU would.
 */
static struct clcnn_context *context_for(const struct clcnn_op *op, const struct conv_algo *a)
{
	struct clcnn_context *ctx = test_context();
	if (a->applicable(ctx, &((const struct conv_priv *)op->priv)->g))
		return ctx;
	clcnn_context_close(ctx);
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.device_profile = "gpu";
	return test_context_with(&opt);
}

static struct clcnn_op *make(const char *type, const char *args, struct clcnn_shape in)
{
	struct clcnn_op *op;
	char err[512];
	ck_assert_msg(clcnn_op_new(type, args, 1, &in, &op, err, sizeof err) == 0, "%s(%s): %s", type, args, err);
	return op;
}

START_TEST(test_invalid_conv)
{
	struct clcnn_shape x = clcnn_shape4(2, 4, 7, 5);
	expect_invalid("conv2d", "out_channels=6, kernel_size=3, groups=3", x,
		       "conv2d: groups=3 does not divide in_channels=4");
	expect_invalid("conv2d", "out_channels=6, kernel_size=3, groups=4", x,
		       "conv2d: groups=4 does not divide out_channels=6");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, groups=0", x, "conv2d: groups must be >= 1, got 0");
	expect_invalid("conv2d", "out_channels=4, kernel_size=9", x,
		       "conv2d: kernel height 9 larger than padded input height 7 (7 + padding 0 + 0)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=(3,7), padding=(0,0,1,0)", x,
		       "conv2d: kernel width 7 larger than padded input width 6 (5 + padding 1 + 0)");
	expect_invalid(
		"conv2d", "out_channels=4, kernel_size=3, dilation=4", x,
		"conv2d: kernel height 3 (9 with dilation 4) larger than padded input height 7 (7 + padding 0 + 0)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, stride=0", x,
		       "conv2d: stride must be >= 1, got (0,0)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, stride=(1,-2)", x,
		       "conv2d: stride must be >= 1, got (1,-2)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, dilation=(0,1)", x,
		       "conv2d: dilation must be >= 1, got (0,1)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, padding=-1", x,
		       "conv2d: padding must be >= 0, got (top -1, bottom -1, left -1, right -1)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, padding=(0,0,1,-1)", x,
		       "conv2d: padding must be >= 0, got (top 0, bottom 0, left 1, right -1)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, padding=same, stride=2", x,
		       "conv2d: padding=same needs stride 1, got stride (2,2)");
	expect_invalid("conv2d", "out_channels=4, kernel_size=0", x, "conv2d: kernel_size must be >= 1, got (0,0)");
	expect_invalid("conv2d", "out_channels=0, kernel_size=3", x, "conv2d: out_channels must be >= 1, got 0");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, in_channels=3", x,
		       "conv2d: in_channels=3 but the input 2x4x7x5 has 4 channels");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3", clcnn_shape2(2, 12),
		       "conv2d: input must be 4-D (N, C, H, W), got 2x12");
	expect_invalid(
		"conv2d", "out_channels=4, kernel_size=3, algo=gemm1x1", x,
		"conv2d: algo=gemm1x1 does not apply to kernel 3x3, stride (1,1), padding (0,0,0,0), groups 1 of "
		"in_channels 4");
	expect_invalid(
		"conv2d", "out_channels=4, kernel_size=1, padding=1, algo=gemm1x1", x,
		"conv2d: algo=gemm1x1 does not apply to kernel 1x1, stride (1,1), padding (1,1,1,1), groups 1 of "
		"in_channels 4");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, groups=2, algo=depthwise", x,
		       "conv2d: algo=depthwise does not apply to kernel 3x3, stride (1,1), padding (0,0,0,0), groups 2 "
		       "of in_channels 4");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, im2col_batch=-1", x,
		       "conv2d: im2col_batch must be >= 0, got -1");
	expect_invalid("conv2d", "out_channels=4, kernel_size=3, padding_mode=reflect", x,
		       "bad value 'reflect' for padding_mode: expected one of zeros");
	expect_invalid("conv2d", "kernel_size=3", x, "conv2d needs out_channels (output channels)");
}
END_TEST

START_TEST(test_invalid_linear)
{
	expect_invalid("linear", "out_features=3", clcnn_shape4(2, 3, 4, 5),
		       "linear: input must be 2-D (N, in_features), got 2x3x4x5; put a flatten before it");
	expect_invalid("linear", "out_features=3, in_features=5", clcnn_shape2(2, 4),
		       "linear: in_features=5 but the input 2x4 has 4 features");
	expect_invalid("linear", "out_features=0", clcnn_shape2(2, 4), "linear: out_features must be >= 1, got 0");
}
END_TEST

static void expect_shape(const char *args, struct clcnn_shape in, int c, int h, int w)
{
	struct clcnn_op *op = make("conv2d", args, in);
	struct clcnn_shape want = clcnn_shape4(in.d[0], c, h, w);
	char a[64], b[64];
	ck_assert_msg(clcnn_shape_equal(&op->out, &want), "conv2d(%s): output %s, want %s", args,
		      clcnn_shape_str(&op->out, a, sizeof a), clcnn_shape_str(&want, b, sizeof b));
	clcnn_op_free(op);
}

/* floor((H + pt + pb - dil*(k-1) - 1) / stride) + 1, PyTorch's formula, on every form of padding */
START_TEST(test_shapes_and_params)
{
	struct clcnn_shape x = clcnn_shape4(3, 4, 7, 13);
	expect_shape("out_channels=8, kernel_size=3", x, 8, 5, 11);
	expect_shape("out_channels=8, kernel_size=3, padding=1", x, 8, 7, 13);
	expect_shape("out_channels=8, kernel_size=(3,5), stride=2, padding=(1,2)", x, 8, 4, 7);
	expect_shape("out_channels=8, kernel_size=3, stride=3, padding=(1,0,2,1)", x, 8, 2, 5);
	expect_shape("out_channels=8, kernel_size=4, padding=same", x, 8, 7, 13);
	expect_shape("out_channels=8, kernel_size=(2,4), dilation=3, padding=same", x, 8, 7, 13);
	expect_shape("out_channels=8, kernel_size=3, dilation=(2,3), padding=valid", x, 8, 3, 7);
	expect_shape("out_channels=8, kernel_size=(7,13)", x, 8, 1, 1);
	expect_shape("out_channels=2, kernel_size=1, stride=(2,5)", x, 2, 4, 3);

	/* state-dict names, PyTorch layouts and the fan_in of the default initialisers */
	struct clcnn_op *op = make("conv2d", "out_channels=6, kernel_size=(3,5), groups=2", x);
	struct clcnn_shape w = clcnn_shape4(6, 2, 3, 5);
	ck_assert_int_eq(op->nparam, 2);
	ck_assert_str_eq(op->param[0].name, "weight");
	ck_assert(clcnn_shape_equal(&op->param[0].shape, &w));
	ck_assert_int_eq(op->param[0].init, CLCNN_INIT_DEFAULT_WEIGHT);
	ck_assert_int_eq(op->param[0].fan_in, 2 * 3 * 5);
	ck_assert_str_eq(op->param[1].name, "bias");
	ck_assert_int_eq(op->param[1].shape.ndim, 1);
	ck_assert_int_eq(op->param[1].shape.d[0], 6);
	ck_assert_int_eq(op->param[1].init, CLCNN_INIT_DEFAULT_BIAS);
	ck_assert_int_eq(op->param[1].fan_in, 2 * 3 * 5);
	clcnn_op_free(op);
	op = make("conv2d", "out_channels=6, kernel_size=3, bias=false", x);
	ck_assert_int_eq(op->nparam, 1);
	clcnn_op_free(op);
	op = make("linear", "out_features=5", clcnn_shape2(3, 7));
	struct clcnn_shape lw = clcnn_shape2(5, 7), ly = clcnn_shape2(3, 5);
	ck_assert(clcnn_shape_equal(&op->out, &ly));
	ck_assert(clcnn_shape_equal(&op->param[0].shape, &lw));
	ck_assert_int_eq(op->param[0].fan_in, 7);
	ck_assert_int_eq(op->param[1].fan_in, 7);
	clcnn_op_free(op);
}
END_TEST

/* Forward (and optionally backward) of op on the device with float host data. */
struct run {
	float *y, *gx, *gw, *gb;
};

static struct run run_device_mode(struct clcnn_context *ctx, struct clcnn_op *op, const float *x, const float *w,
				  const float *b, const float *gy, int train)
{
	struct run r = {0};
	size_t nx = clcnn_shape_count(&op->in[0]), ny = clcnn_shape_count(&op->out);
	size_t nw = clcnn_shape_count(&op->param[0].shape), nb = op->nparam > 1 ? (size_t)op->param[1].shape.d[0] : 0;
	struct clcnn_dev_io io = {.train = train};
	ck_assert(clcnn_buffer_new(ctx, nx * 4, &io.in[0]) == 0);
	ck_assert(clcnn_buffer_new(ctx, ny * 4, &io.out) == 0);
	ck_assert(clcnn_buffer_new(ctx, nw * 4, &io.param[0]) == 0);
	ck_assert(clcnn_buffer_new(ctx, op->scratch_bytes + 4, &io.scratch) == 0);
	ck_assert(clcnn_buffer_write(ctx, io.in[0], 0, nx * 4, x) == 0);
	ck_assert(clcnn_buffer_write(ctx, io.param[0], 0, nw * 4, w) == 0);
	if (nb) {
		ck_assert(clcnn_buffer_new(ctx, nb * 4, &io.param[1]) == 0);
		ck_assert(clcnn_buffer_write(ctx, io.param[1], 0, nb * 4, b) == 0);
	}
	ck_assert_msg(op->cls->forward(op, &io) == 0, "%s", clcnn_context_error(ctx));
	r.y = malloc(ny * 4);
	ck_assert(clcnn_buffer_read(ctx, io.out, 0, ny * 4, r.y) == 0);
	if (gy) {
		ck_assert(clcnn_buffer_new(ctx, ny * 4, &io.grad_out) == 0);
		ck_assert(clcnn_buffer_write(ctx, io.grad_out, 0, ny * 4, gy) == 0);
		ck_assert(clcnn_buffer_new(ctx, nx * 4, &io.grad_in[0]) == 0);
		ck_assert(clcnn_buffer_new(ctx, nw * 4, &io.grad_param[0]) == 0);
		if (nb)
			ck_assert(clcnn_buffer_new(ctx, nb * 4, &io.grad_param[1]) == 0);
		ck_assert_msg(op->cls->backward(op, &io) == 0, "%s", clcnn_context_error(ctx));
		r.gx = malloc(nx * 4);
		r.gw = malloc(nw * 4);
		ck_assert(clcnn_buffer_read(ctx, io.grad_in[0], 0, nx * 4, r.gx) == 0);
		ck_assert(clcnn_buffer_read(ctx, io.grad_param[0], 0, nw * 4, r.gw) == 0);
		if (nb) {
			r.gb = malloc(nb * 4);
			ck_assert(clcnn_buffer_read(ctx, io.grad_param[1], 0, nb * 4, r.gb) == 0);
		}
	}
	clcnn_buffer_free(io.in[0]);
	clcnn_buffer_free(io.out);
	clcnn_buffer_free(io.param[0]);
	clcnn_buffer_free(io.param[1]);
	clcnn_buffer_free(io.scratch);
	clcnn_buffer_free(io.grad_out);
	clcnn_buffer_free(io.grad_in[0]);
	clcnn_buffer_free(io.grad_param[0]);
	clcnn_buffer_free(io.grad_param[1]);
	return r;
}

static struct run run_device(struct clcnn_context *ctx, struct clcnn_op *op, const float *x, const float *w,
			     const float *b, const float *gy)
{
	return run_device_mode(ctx, op, x, w, b, gy, 1);
}

static void run_free(struct run *r)
{
	free(r->y);
	free(r->gx);
	free(r->gw);
	free(r->gb);
}

/* Small integers: every algorithm must give these exactly (all partial sums are exact in float). */
static void expect_values(const char *args, struct clcnn_shape in, const float *x, const float *w, const float *want,
			  size_t n)
{
	for (size_t a = 0; clcnn_conv_algos[a]; a++) {
		char full[256];
		snprintf(full, sizeof full, "%s, algo=%s", args, clcnn_conv_algos[a]->name);
		struct clcnn_op *op;
		char err[512];
		if (clcnn_op_new("conv2d", full, 1, &in, &op, err, sizeof err))
			continue; /* not applicable */
		struct clcnn_context *ctx = context_for(op, clcnn_conv_algos[a]);
		ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s", clcnn_context_error(ctx));
		ck_assert_uint_eq(clcnn_shape_count(&op->out), n);
		struct run r = run_device(ctx, op, x, w, NULL, NULL);
		double *xd = malloc(clcnn_shape_count(&in) * sizeof(double)), *wd = malloc(64 * sizeof(double)),
		       *yd = malloc(n * sizeof(double));
		for (size_t i = 0; i < clcnn_shape_count(&in); i++)
			xd[i] = x[i];
		for (size_t i = 0; i < clcnn_shape_count(&op->param[0].shape); i++)
			wd[i] = w[i];
		struct clcnn_ref_io rio = {.in = {xd}, .param = {wd}, .out = yd};
		op->cls->ref_forward(op, &rio);
		for (size_t i = 0; i < n; i++) {
			ck_assert_msg(r.y[i] == want[i], "conv2d(%s) device y[%zu] = %g, want %g", full, i, r.y[i],
				      want[i]);
			ck_assert_msg(yd[i] == want[i], "conv2d(%s) reference y[%zu] = %g, want %g", full, i, yd[i],
				      want[i]);
		}
		free(xd);
		free(wd);
		free(yd);
		run_free(&r);
		clcnn_op_free(op);
		clcnn_context_close(ctx);
	}
}

/*
 * x = [[1 2 3] [4 5 6] [7 8 9]], w = [[1 2] [3 4]]: PyTorch cross-correlates, y00 = 1*1 + 2*2 + 4*3 + 5*4
 * = 37; flip=true is the textbook convolution, y00 = 1*4 + 2*3 + 4*2 + 5*1 = 23.
 */
START_TEST(test_flip_convention)
{
	const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4};
	const float xcorr[4] = {37, 47, 67, 77}, conv[4] = {23, 33, 53, 63};
	expect_values("out_channels=1, kernel_size=2, bias=false", clcnn_shape4(1, 1, 3, 3), x, w, xcorr, 4);
	expect_values("out_channels=1, kernel_size=2, bias=false, flip=true", clcnn_shape4(1, 1, 3, 3), x, w, conv, 4);
	/* a 1x1 kernel is its own flip: the gemm1x1 path must agree */
	const float one[1] = {2}, twice[9] = {2, 4, 6, 8, 10, 12, 14, 16, 18};
	expect_values("out_channels=1, kernel_size=1, bias=false, flip=true", clcnn_shape4(1, 1, 3, 3), x, one, twice,
		      9);
}
END_TEST

/*
 * padding='same' with kernel 2: one padding row/column in total and PyTorch puts it at the bottom /
 * right, so y[i][j] = x[i][j] w00 + x[i][j+1] w01 + x[i+1][j] w10 + x[i+1][j+1] w11 with zeros past the end.
 */
START_TEST(test_same_even_kernel)
{
	const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 10, 100, 1000};
	const float want[9] = {5421, 6532, 603, 8754, 9865, 906, 87, 98, 9};
	expect_values("out_channels=1, kernel_size=2, bias=false, padding=same", clcnn_shape4(1, 1, 3, 3), x, w, want,
		      9);
	/* dilation 3, kernel 2 along H: 3 rows of padding, 1 on top and 2 at the bottom */
	const float x2[5] = {1, 2, 3, 4, 5}, w2[2] = {1, 10};
	const float want2[5] = {30, 41, 52, 3, 4};
	expect_values("out_channels=1, kernel_size=(2,1), dilation=(3,1), bias=false, padding=same",
		      clcnn_shape4(1, 1, 5, 1), x2, w2, want2, 5);
}
END_TEST

static float value(uint64_t *s)
{
	return (float)clcnn_test_uniform(s, -1, 1);
}

/* The same inputs give bit-identical results on every run (no atomics, fixed reduction order). */
START_TEST(test_deterministic)
{
	struct clcnn_shape in = clcnn_shape4(5, 3, 14, 11); /* 27 taps: shallow applies too */
	int tried = 0;
	for (size_t a = 0; clcnn_conv_algos[a]; a++) {
		char args[128], err[512];
		snprintf(args, sizeof args, "out_channels=8, kernel_size=3, padding=1, algo=%s, im2col_batch=2",
			 clcnn_conv_algos[a]->name);
		struct clcnn_op *op;
		if (clcnn_op_new("conv2d", args, 1, &in, &op, err, sizeof err))
			continue; /* not applicable (gemm1x1, depthwise) */
		tried++;
		struct clcnn_context *ctx = context_for(op, clcnn_conv_algos[a]);
		ck_assert(clcnn_op_prepare(op, ctx) == 0);
		size_t nx = clcnn_shape_count(&in), ny = clcnn_shape_count(&op->out), nw = 8 * 3 * 9;
		float *x = malloc(nx * 4), *gy = malloc(ny * 4), w[8 * 3 * 9], b[8];
		uint64_t s = 42;
		for (size_t i = 0; i < nx; i++)
			x[i] = value(&s);
		for (size_t i = 0; i < ny; i++)
			gy[i] = value(&s);
		for (size_t i = 0; i < nw; i++)
			w[i] = value(&s);
		for (size_t i = 0; i < 8; i++)
			b[i] = value(&s);
		struct run r1 = run_device(ctx, op, x, w, b, gy), r2 = run_device(ctx, op, x, w, b, gy);
		ck_assert_msg(!memcmp(r1.y, r2.y, ny * 4), "%s: forward differs between runs", args);
		ck_assert_msg(!memcmp(r1.gx, r2.gx, nx * 4), "%s: input gradient differs between runs", args);
		ck_assert_msg(!memcmp(r1.gw, r2.gw, nw * 4), "%s: weight gradient differs between runs", args);
		ck_assert_msg(!memcmp(r1.gb, r2.gb, 8 * 4), "%s: bias gradient differs between runs", args);
		run_free(&r1);
		run_free(&r2);
		free(x);
		free(gy);
		clcnn_op_free(op);
		clcnn_context_close(ctx);
	}
	ck_assert_int_ge(tried, 6);
}
END_TEST

/* Seconds of the fastest of reps runs of forward (dir 0) or backward (1: data, 2: weights, 3: both). */
static double time_dir(struct clcnn_context *ctx, struct clcnn_op *op, struct clcnn_dev_io io, int dir, int reps)
{
	if (!(dir & 1))
		io.grad_in[0] = NULL;
	if (!(dir & 2))
		io.grad_param[0] = io.grad_param[1] = NULL;
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		ck_assert(clcnn_context_finish(ctx) == 0);
		double t0 = clcnn_now();
		int rc = dir ? op->cls->backward(op, &io) : op->cls->forward(op, &io);
		ck_assert_msg(rc == 0, "%s", clcnn_context_error(ctx));
		ck_assert(clcnn_context_finish(ctx) == 0);
		double t = clcnn_now() - t0;
		best = t < best ? t : best;
	}
	return best;
}

/*
 * The two convolutions of the Fashion-MNIST model at batch 64: every applicable algorithm of the list
 * agrees with direct (the simplest kernels) on forward and both gradients, and the timings are printed, not
 * asserted (speed is for benchmarks; this keeps the numbers one command away).
 */
START_TEST(test_model_shapes)
{
	static const struct {
		struct clcnn_shape in;
		const char *args;
	} shapes[] = {
		{{4, {64, 1, 28, 28}}, "out_channels=32, kernel_size=3, padding=1"},
		{{4, {64, 32, 14, 14}}, "out_channels=64, kernel_size=3, padding=1"},
	};
	ck_assert_ptr_eq(clcnn_conv_algos[0], &clcnn_conv_algo_direct); /* the judge comes first */
	for (size_t si = 0; si < CLCNN_ARRAY_LEN(shapes); si++) {
		float *want[4] = {0};
		size_t count[4] = {0};
		for (size_t a = 0; clcnn_conv_algos[a]; a++) {
			const char *name = clcnn_conv_algos[a]->name;
			/*
			 * CLBlast's weight gradient here is one GEMM with K = 12544, summed in float in its own
			 * order: 1.4e-4 from the double reference (measured; 2.5e-4 by conv2d's L * 2e-8), beyond
			 * the 1e-4 below. The case table checks it against the reference at small sizes.
			 */
			if (clcnn_conv_algos[a] == &clcnn_conv_algo_im2col_clblast)
				continue;
			char args[160], err[512];
			snprintf(args, sizeof args, "%s, algo=%s", shapes[si].args, name);
			struct clcnn_op *op;
			if (clcnn_op_new("conv2d", args, 1, &shapes[si].in, &op, err, sizeof err))
				continue; /* not applicable */
			struct clcnn_context *ctx = context_for(op, clcnn_conv_algos[a]);
			if (!clcnn_conv_algos[a]->applicable(ctx, &((struct conv_priv *)op->priv)->g)) {
				/* a CPU design under a GPU profile: algo= would hand it to the tuner */
				clcnn_op_free(op);
				clcnn_context_close(ctx);
				continue;
			}
			ck_assert(clcnn_op_prepare(op, ctx) == 0);
			const struct conv_geom *g = &((struct conv_priv *)op->priv)->g;
			size_t n[4] = {clcnn_shape_count(&op->out), clcnn_shape_count(&op->in[0]),
				       clcnn_shape_count(&op->param[0].shape), (size_t)g->cout};
			struct clcnn_dev_io io = {.train = 1};
			cl_mem *bufs[8] = {&io.out,      &io.grad_in[0], &io.grad_param[0], &io.grad_param[1],
					   &io.grad_out, &io.in[0],      &io.param[0],      &io.param[1]};
			for (int i = 0; i < 8; i++)
				ck_assert(clcnn_buffer_new(ctx, n[i % 4] * sizeof(float), bufs[i]) == 0);
			ck_assert(clcnn_buffer_new(ctx, op->scratch_bytes + 4, &io.scratch) == 0);
			for (int i = 4; i < 8; i++) {
				uint64_t seed = 7 + (uint64_t)i;
				float *h = malloc(n[i % 4] * sizeof(float));
				for (size_t k = 0; k < n[i % 4]; k++)
					h[k] = value(&seed);
				ck_assert(clcnn_buffer_write(ctx, *bufs[i], 0, n[i % 4] * sizeof(float), h) == 0);
				free(h);
			}
			double flop = 2.0 * (double)n[0] * g->cgi * g->kh * g->kw;
			double t[4];
			for (int d = 0; d < 4; d++)
				t[d] = time_dir(ctx, op, io, d, a ? 4 : 2); /* the first run compiles */
			printf("conv2d %dx%dx%dx%d -> %d 3x3 %-10s fwd %7.3f ms %6.1f GFLOP/s | bwd data %7.3f ms %6.1f | "
			       "bwd weights %7.3f ms %6.1f | bwd both %7.3f ms %6.1f GFLOP/s\n",
			       g->n, g->cin, g->h, g->w, g->cout, name, t[0] * 1e3, flop / t[0] * 1e-9, t[1] * 1e3,
			       flop / t[1] * 1e-9, t[2] * 1e3, flop / t[2] * 1e-9, t[3] * 1e3, 2 * flop / t[3] * 1e-9);
			/* the last run was the combined backward, after a forward: all four results are current */
			for (int i = 0; i < 4; i++) {
				float *got = malloc(n[i] * sizeof(float));
				ck_assert(clcnn_buffer_read(ctx, *bufs[i], 0, n[i] * sizeof(float), got) == 0);
				if (!a) {
					want[i] = got;
					count[i] = n[i];
					continue;
				}
				/*
				 * sums of up to 64*14*14 = 12544 products in different orders. Winograd's error
				 * (both winograd algorithms: the same transforms, and winograd_fused's weight
				 * gradient is winograd's) is normwise: a value's error follows the magnitude of
				 * the terms it sums (the rms of the result here), not the value, so a value that
				 * cancels to near zero keeps its neighbours' error (measured: weight gradient
				 * 4.9e-4 off at -0.199, rms sqrt(12544 / 9) = 37): the same 1e-4, against 1 +
				 * |value| + the result's rms.
				 */
				double ss = 0;
				for (size_t k = 0; k < n[i]; k++)
					ss += (double)want[i][k] * want[i][k];
				const int wino = clcnn_conv_algos[a] == &clcnn_conv_algo_winograd ||
						 clcnn_conv_algos[a] == &clcnn_conv_algo_winograd_fused;
				const float scale = wino ? (float)sqrt(ss / (double)n[i]) : 0.0f;
				for (size_t k = 0; k < n[i]; k++)
					ck_assert_msg(fabsf(got[k] - want[i][k]) <=
							      1e-4f * (1 + fabsf(want[i][k]) + scale),
						      "%s: result %d differs from direct at %zu: %g vs %g", args, i, k,
						      got[k], want[i][k]);
				free(got);
			}
			for (int i = 0; i < 8; i++)
				clcnn_buffer_free(*bufs[i]);
			clcnn_buffer_free(io.scratch);
			clcnn_op_free(op);
			clcnn_context_close(ctx);
		}
		for (int i = 0; i < 4; i++) {
			ck_assert_uint_gt(count[i], 0);
			free(want[i]);
		}
	}
}
END_TEST

/* The algorithms prepare() settles on for every direction (one name when they agree), or the error. */
static const char *chosen(const char *env, const char *args, struct clcnn_shape in, int *rc)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.conv_algo = env;
	struct clcnn_context *ctx = test_context_with(&opt);
	struct clcnn_op *op = make("conv2d", args, in);
	*rc = clcnn_op_prepare(op, ctx);
	const char *name = *rc ? clcnn_context_error(ctx) : ((struct conv_priv *)op->priv)->algo[CONV_FWD]->name;
	static char buf[512];
	snprintf(buf, sizeof buf, "%s", name);
	for (int d = CONV_FWD; !*rc && d <= CONV_BWD_WEIGHTS; d++)
		ck_assert_str_eq(((struct conv_priv *)op->priv)->algo[d]->name, buf);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
	return buf;
}

/* Each conv's algo callback names its own choice, direction by direction (a shared buffer once made
 * every conv of `clcnn bench` print the last one's names). */
START_TEST(test_algo_names)
{
	struct clcnn_shape x = clcnn_shape4(2, 4, 9, 9);
	struct clcnn_op *a = make("conv2d", "out_channels=8, kernel_size=1", x);
	struct clcnn_op *b = make("conv2d", "out_channels=8, kernel_size=1", x);
	struct conv_priv *pa = a->priv, *pb = b->priv;
	const struct conv_algo *const mix_a[3] = {&clcnn_conv_algo_gemm1x1, &clcnn_conv_algo_im2col,
						 &clcnn_conv_algo_direct},
				  *const mix_b[3] = {&clcnn_conv_algo_direct, &clcnn_conv_algo_gemm1x1,
						 &clcnn_conv_algo_im2col};
	for (int d = 0; d < 3; d++) {
		pa->algo[d] = mix_a[d];
		pb->algo[d] = mix_b[d];
	}
	const char *na = a->cls->algo(a), *nb = b->cls->algo(b);
	ck_assert_str_eq(na, "gemm1x1/im2col/direct");
	ck_assert_str_eq(nb, "direct/gemm1x1/im2col");
	for (int d = 0; d < 3; d++)
		pb->algo[d] = &clcnn_conv_algo_im2col;
	ck_assert_str_eq(b->cls->algo(b), "im2col");
	ck_assert_str_eq(a->cls->algo(a), "gemm1x1/im2col/direct");
	clcnn_op_free(a);
	clcnn_op_free(b);
}
END_TEST

START_TEST(test_algo_choice)
{
	struct clcnn_shape x = clcnn_shape4(2, 4, 9, 9);
	int rc;
	/* CLCNN_CONV_ALGO forces where it applies and is ignored (left to tuning) where it does not */
	ck_assert_str_eq(chosen("direct", "out_channels=8, kernel_size=1", x, &rc), "direct");
	ck_assert_str_eq(chosen("gemm1x1", "out_channels=8, kernel_size=3", x, &rc), "im2col");
	ck_assert_str_eq(chosen("depthwise", "out_channels=8, kernel_size=3, groups=4", x, &rc), "depthwise");
	/* implicit is a CPU design: on a GPU profile it does not apply and is ignored too */
	const char *prof = getenv("CLCNN_DEVICE_PROFILE");
	if (prof && !strncmp(prof, "gpu", 3))
		ck_assert_str_ne(chosen("implicit", "out_channels=8, kernel_size=3", x, &rc), "implicit");
	else
		ck_assert_str_eq(chosen("implicit", "out_channels=8, kernel_size=3", x, &rc), "implicit");
	ck_assert_str_eq(chosen("implicit", "out_channels=8, kernel_size=3, stride=2", x, &rc), "im2col");
	/* winograd: 3x3 and 5x5, stride 1, no dilation or groups, padding up to r - 1; elsewhere the
	 * environment's choice is left to tuning and algo= is refused when the netfile is read (applicable()
	 * without a device) */
	ck_assert_str_eq(chosen("winograd", "out_channels=8, kernel_size=3, padding=same", x, &rc), "winograd");
	ck_assert_str_eq(chosen("winograd", "out_channels=8, kernel_size=3, stride=2", x, &rc), "im2col");
	ck_assert_str_eq(chosen("winograd", "out_channels=8, kernel_size=5, padding=2", x, &rc), "winograd");
	ck_assert_str_eq(chosen("winograd", "out_channels=8, kernel_size=5, padding=(4,0,1,3)", x, &rc), "winograd");
	ck_assert_str_eq(chosen("winograd", "out_channels=8, kernel_size=7, padding=3", x, &rc), "im2col");
	ck_assert_str_eq(chosen("winograd", "out_channels=8, kernel_size=(5,3), padding=1", x, &rc), "im2col");
	expect_invalid("conv2d", "out_channels=8, kernel_size=3, dilation=2, algo=winograd", x,
		       "conv2d: algo=winograd does not apply to kernel 3x3, stride (1,1), padding (0,0,0,0), groups 1 "
		       "of in_channels 4");
	expect_invalid("conv2d", "out_channels=8, kernel_size=3, padding=3, algo=winograd", x,
		       "conv2d: algo=winograd does not apply to kernel 3x3, stride (1,1), padding (3,3,3,3), groups 1 "
		       "of in_channels 4");
	expect_invalid("conv2d", "out_channels=8, kernel_size=5, padding=5, algo=winograd", x,
		       "conv2d: algo=winograd does not apply to kernel 5x5, stride (1,1), padding (5,5,5,5), groups 1 "
		       "of in_channels 4");
	expect_invalid("conv2d", "out_channels=8, kernel_size=7, padding=3, algo=winograd", x,
		       "conv2d: algo=winograd does not apply to kernel 7x7, stride (1,1), padding (3,3,3,3), groups 1 "
		       "of in_channels 4");
	/* algo= on the layer wins over the environment */
	ck_assert_str_eq(chosen("direct", "out_channels=8, kernel_size=3, algo=im2col", x, &rc), "im2col");
	/* an unknown name is an error that lists the known ones: every algorithm of the table, in order */
	char want[512] = "CLCNN_CONV_ALGO=fft: unknown convolution algorithm (";
	for (int i = 0; clcnn_conv_algos[i]; i++)
		snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? ", " : "",
			 clcnn_conv_algos[i]->name);
	strcat(want, ")");
	ck_assert_str_eq(chosen("fft", "out_channels=8, kernel_size=3", x, &rc), want);
	ck_assert_int_eq(rc, CLCNN_ERR_INVALID);
}
END_TEST

/* The case names algorithm `name` as algo=name (a whole value). */
static int case_forces(const struct clcnn_op_case *c, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(c->args, "algo="); p; p = strstr(p + 1, "algo="))
		if (!strncmp(p + 5, name, n) && (p[5 + n] == ',' || p[5 + n] == 0))
			return 1;
	return 0;
}

/*
 * The list of conv-algos.h is the one place: the table, the lookups and the algo key's choices agree
 * with it; every algorithm is complete and has cases in conv2d's case table (which the generic op
 * test runs against the reference), and every algo= of that table names one of the list.
 */
START_TEST(test_algo_list)
{
	const struct clcnn_op_class *conv = clcnn_op_find("conv2d");
	ck_assert_ptr_nonnull(conv);
	const struct clcnn_arg *key = conv->args;
	while (key->key && strcmp(key->key, "algo"))
		key++;
	ck_assert_ptr_nonnull(key->key);
	ck_assert_str_eq(key->choices[0], "auto");
	int n = 0;
	for (; clcnn_conv_algos[n]; n++) {
		const struct conv_algo *a = clcnn_conv_algos[n];
		ck_assert_ptr_eq(clcnn_conv_algo_find(a->name), a);
		ck_assert_ptr_eq(clcnn_conv_algo_by_id((enum conv_algo_id)(n + 1)), a);
		ck_assert_str_eq(key->choices[n + 1], a->name);
		ck_assert_msg(clcnn_conv_algo_docs[n] && clcnn_conv_algo_docs[n][0], "%s has no doc line", a->name);
		ck_assert_msg(a->applicable && a->forward && a->backward_data && a->backward_weights &&
				      a->scratch_bytes,
			      "%s lacks an entry", a->name);
		ck_assert_msg(a->programs[0] != NULL, "%s names no kernel family", a->name);
		ck_assert_msg(strstr(key->doc, a->name) != NULL, "the algo key's doc lacks %s", a->name);
		int cases = 0;
		for (const struct clcnn_op_case *c = conv->cases; c->args; c++)
			cases += case_forces(c, a->name);
		if (a == &clcnn_conv_algo_im2col_clblast && !clcnn_gemm_algo_available(CLCNN_GEMM_CLBLAST))
			continue; /* a build without CLBlast: its cases are left out */
		ck_assert_msg(cases > 0, "conv2d's case table forces %s nowhere (add its cases in src/ops/conv.c)",
			      a->name);
	}
	ck_assert_int_eq(n, CONV_ALGO_COUNT);
	ck_assert_ptr_null(key->choices[n + 1]);
	ck_assert_ptr_null(clcnn_conv_algo_find("auto"));
	ck_assert_ptr_null(clcnn_conv_algo_by_id(CONV_ALGO_AUTO));
	ck_assert_ptr_null(clcnn_conv_algo_by_id(CONV_ALGO_END));
	for (const struct clcnn_op_case *c = conv->cases; c->args; c++) {
		const char *p = strstr(c->args, "algo=");
		if (!p)
			continue;
		int known = 0;
		for (int i = 0; clcnn_conv_algos[i]; i++)
			known += case_forces(c, clcnn_conv_algos[i]->name);
		ck_assert_msg(known == 1, "case '%s' forces no algorithm of the list", c->args);
	}
}
END_TEST

/* im2col's chunk after prepare() (images per chunk). */
static int im2col_chunk(struct clcnn_context *ctx, const char *args, struct clcnn_shape in)
{
	char full[256];
	snprintf(full, sizeof full, "%s, algo=im2col", args);
	struct clcnn_op *op = make("conv2d", full, in);
	ck_assert(clcnn_op_prepare(op, ctx) == 0);
	int nb = ((struct conv_priv *)op->priv)->nb;
	clcnn_op_free(op);
	return nb;
}

/*
 * The one chunk policy: im2col_batch wins; otherwise as many images as 32 MB of workspace hold, in
 * whole groups, at least one group; on CPUs im2col stops at 1536 output pixels, which gives the
 * chunks measured on the shapes of models/ (1536 / 784 -> 2 images at 28x28, 8 at 14x14).
 */
START_TEST(test_chunk_policy)
{
	struct clcnn_context *ctx = test_context();
	const size_t mb = (size_t)1 << 20;
	struct conv_geom g = {.n = 128, .ho = 28, .wo = 28};
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, mb, 1, 0), 32);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, 5 * mb, 1, 0), 6);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, 40 * mb, 1, 0), 1);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, mb / 2, 16, 0), 64);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, 3 * mb, 16, 0), 16);  /* 10 -> one whole group */
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, mb / 8, 16, 0), 128); /* the batch at the most */
	g.chunk = 3;
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, mb, 16, 1536), 3);
	g.chunk = 200;
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, mb, 1, 0), 128);
	g.chunk = 0;
	int cpu = !clcnn_is_gpu(ctx);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, 1024, 1, 1536), cpu ? 2 : 128);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, 16 * mb, 1, 1536), 2);
	ck_assert_int_eq(clcnn_conv_chunk(ctx, &g, 20 * mb, 1, 1536), 1);
	if (cpu) {
		static const struct {
			const char *args;
			struct clcnn_shape in;
			int nb;
		} measured[] = {
			{"out_channels=32, kernel_size=3, padding=1", {4, {128, 1, 28, 28}}, 2},
			{"out_channels=64, kernel_size=3, padding=1", {4, {128, 32, 14, 14}}, 8},
			{"out_channels=128, kernel_size=3, padding=1", {4, {128, 64, 7, 7}}, 32},
			{"out_channels=256, kernel_size=3, padding=1", {4, {32, 256, 14, 14}}, 8},
			{"out_channels=64, kernel_size=3, padding=1", {4, {32, 64, 56, 56}}, 1},
		};
		for (size_t i = 0; i < CLCNN_ARRAY_LEN(measured); i++)
			ck_assert_int_eq(im2col_chunk(ctx, measured[i].args, measured[i].in), measured[i].nb);
	}
	clcnn_context_close(ctx);
}
END_TEST

/* Progress events heard by a context (clcnn_progress). */
struct heard {
	int compile, tune, done, last_compiled, last_tuned;
};

static void hear(void *user, const struct clcnn_progress *p)
{
	struct heard *h = user;
	h->compile += p->event == CLCNN_PROGRESS_COMPILE;
	h->tune += p->event == CLCNN_PROGRESS_TUNE;
	h->done += p->event == CLCNN_PROGRESS_DONE;
	h->last_compiled = p->compiled;
	h->last_tuned = p->tuned;
}

/* A fresh context on cache directory dir with CLCNN_TUNE=tune, reporting to h; its op after prepare(). */
static struct clcnn_op *tuned_op_mode(const char *dir, const char *args, struct clcnn_shape in,
				      struct clcnn_context **ctx, const char *tune, struct heard *h)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.conv_algo = NULL;
	opt.cache_dir = dir;
	opt.tune = tune;
	opt.progress_fn = h ? hear : NULL;
	opt.progress_user = h;
	*ctx = test_context_with(&opt);
	struct clcnn_op *op = make("conv2d", args, in);
	ck_assert_msg(clcnn_op_prepare(op, *ctx) == 0, "%s", clcnn_context_error(*ctx));
	return op;
}

static struct clcnn_op *tuned_op(const char *dir, const char *args, struct clcnn_shape in, struct clcnn_context **ctx)
{
	return tuned_op_mode(dir, args, in, ctx, NULL, NULL);
}

/*
 * Autotuning: a first prepare() leaves every direction to be tuned; the first forward and backward
 * time the applicable algorithms, keep one per direction, write the records, and compute the same
 * values as a forced algorithm; a second process (context) on the same cache directory reads the
 * choice in prepare() without tuning; without a cache directory it tunes again.
 */
START_TEST(test_autotune_record)
{
	char dir[] = "/tmp/clcnn-test-tune-XXXXXX";
	ck_assert(mkdtemp(dir) != NULL);
	struct clcnn_shape in = clcnn_shape4(3, 5, 11, 10);
	const char *args = "out_channels=7, kernel_size=3, padding=1";
	float x[3 * 5 * 11 * 10], w[7 * 5 * 9], b[7], gy[3 * 7 * 11 * 10];
	uint64_t s = 3;
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(x); i++)
		x[i] = value(&s);
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(w); i++)
		w[i] = value(&s);
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(b); i++)
		b[i] = value(&s);
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(gy); i++)
		gy[i] = value(&s);

	struct clcnn_context *ctx;
	struct clcnn_op *op = tuned_op(dir, args, in, &ctx);
	struct conv_priv *p = op->priv;
	for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++)
		ck_assert_msg(p->pending[d], "direction %d decided before any tuning", d);
	struct run r = run_device(ctx, op, x, w, b, gy);
	const char *picked[3];
	for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++) {
		ck_assert_msg(!p->pending[d], "direction %d not tuned by its first call", d);
		picked[d] = p->algo[d]->name;
		ck_assert_msg(p->algo[d]->applicable(ctx, &p->g), "tuning chose %s, which does not apply", picked[d]);
	}
	clcnn_op_free(op);
	clcnn_context_close(ctx);

	/* the forced algorithms give the same values as the tuned ones (same kernels) */
	for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++) {
		char full[160];
		snprintf(full, sizeof full, "%s, algo=%s", args, picked[d]);
		struct clcnn_op *f = make("conv2d", full, in);
		ctx = test_context();
		ck_assert(clcnn_op_prepare(f, ctx) == 0);
		struct run rf = run_device(ctx, f, x, w, b, gy);
		size_t n = d == CONV_FWD        ? CLCNN_ARRAY_LEN(gy)
			   : d == CONV_BWD_DATA ? CLCNN_ARRAY_LEN(x)
						: CLCNN_ARRAY_LEN(w);
		const float *got = d == CONV_FWD ? r.y : d == CONV_BWD_DATA ? r.gx : r.gw;
		const float *want = d == CONV_FWD ? rf.y : d == CONV_BWD_DATA ? rf.gx : rf.gw;
		ck_assert_msg(!memcmp(got, want, n * sizeof(float)), "direction %d: tuned %s differs from forced", d,
			      picked[d]);
		run_free(&rf);
		clcnn_op_free(f);
		clcnn_context_close(ctx);
	}
	run_free(&r);

	/* a warm start reads the records in prepare() */
	op = tuned_op(dir, args, in, &ctx);
	p = op->priv;
	for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++) {
		ck_assert_msg(!p->pending[d], "direction %d not read from the cache", d);
		ck_assert_str_eq(p->algo[d]->name, picked[d]);
	}
	clcnn_op_free(op);
	clcnn_context_close(ctx);
	/* another batch size is another geometry; no cache directory: nothing is read */
	op = tuned_op(dir, args, clcnn_shape4(4, 5, 11, 10), &ctx);
	ck_assert(((struct conv_priv *)op->priv)->pending[CONV_FWD]);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
	op = tuned_op("off", args, in, &ctx);
	ck_assert(((struct conv_priv *)op->priv)->pending[CONV_FWD]);
	clcnn_op_free(op);
	clcnn_context_close(ctx);

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Tuning records ("tune-*.bin") in dir. */
static int tune_records(const char *dir)
{
	char cmd[160];
	snprintf(cmd, sizeof cmd, "exit $(ls %s | grep -c '^tune-')", dir);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * CLCNN_TUNE: by default an eval-mode forward without a record runs the untimed preference
 * (implicit for this stride-1 layer of 45 taps, too many for shallow; igemm_gpu on a GPU profile), records nothing and leaves
 * the direction to a training step, which times it; "all" times eval-mode forwards; "off" never
 * times. Compiling from an empty cache and timing are reported to progress_fn, and the first
 * read-back after them ends the wait (DONE).
 */
START_TEST(test_tune_modes)
{
	struct clcnn_shape in = clcnn_shape4(2, 5, 11, 10);
	const char *args = "out_channels=7, kernel_size=3, padding=1";
	/* values do not matter here (test_autotune_record compares them): which algorithm runs does */
	static const float x[2 * 5 * 11 * 10], w[7 * 5 * 9], b[7], gy[2 * 7 * 11 * 10];
	static const char *const modes[] = {NULL, "all", "off"};
	for (int m = 0; m < 3; m++) {
		char dir[] = "/tmp/clcnn-test-tune-XXXXXX";
		ck_assert(mkdtemp(dir) != NULL);
		struct heard h = {0};
		struct clcnn_context *ctx;
		struct clcnn_op *op = tuned_op_mode(dir, args, in, &ctx, modes[m], &h);
		struct conv_priv *p = op->priv;
		struct run r = run_device_mode(ctx, op, x, w, b, NULL, 0);
		run_free(&r);
		ck_assert_msg(h.compile >= 1 && h.last_compiled == h.compile, "mode %d: %d compile events, count %d", m,
			      h.compile, h.last_compiled);
		ck_assert_int_eq(h.done, 1);
		if (m == 1) {
			ck_assert_msg(!p->pending[CONV_FWD] && h.tune == 1, "CLCNN_TUNE=all: eval forward not timed");
			ck_assert_int_eq(tune_records(dir), 1);
		} else {
			ck_assert_msg(h.tune == 0, "mode %d: an eval-mode forward was timed", m);
			ck_assert_str_eq(p->algo[CONV_FWD]->name, clcnn_is_gpu(ctx) ? "igemm_gpu" : "implicit");
			ck_assert_int_eq(p->pending[CONV_FWD], m == 0);
			ck_assert_int_eq(tune_records(dir), 0);
		}
		/* a training step: the default and "all" time what is left (forward, the backward pair) */
		r = run_device_mode(ctx, op, x, w, b, gy, 1);
		run_free(&r);
		for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++)
			ck_assert_msg(!p->pending[d], "mode %d: direction %d left pending after training", m, d);
		ck_assert_int_eq(h.tune, m == 2 ? 0 : 2);
		ck_assert_int_eq(h.last_tuned, h.tune);
		ck_assert_int_eq(tune_records(dir), m == 2 ? 0 : 3);
		ck_assert_int_eq(h.done, m == 0 ? 3 : 2); /* default: the forward's timing ends one wait */
		clcnn_op_free(op);
		clcnn_context_close(ctx);
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

/* ------------------------------------------------------------------ the case table under GPU profiles */

/*
 * CLCNN_DEVICE_PROFILE=gpu makes POCL take every GPU code path (GPU=1 programs of cl/conv.cl, flat
 * launches, __local reductions): the forced-algorithm cases of conv2d's table through GPU profiles,
 * checked as the generic op test checks them (test-ops.c) — forward and every gradient against the
 * double C reference within the op's tolerance, and float finite differences on the device against
 * its own analytic gradients. "gpu" runs every case; the vector-width and work-group variants every
 * step-th (offset so that they cover different cases). Algorithms that say they do not apply on GPUs
 * (CPU register-tile designs) are skipped, but direct, im2col, gemm1x1 and depthwise must all run.
 */
static const struct {
	const char *profile;
	int step, offset;
} gpu_profiles[] = {
	{"gpu", 1, 0},      {"gpu,vw=1", 5, 0},  {"gpu,vw=2", 9, 4},
	{"gpu,vw=8", 5, 2}, {"gpu,vw=16", 9, 8}, {"gpu,wg=64", 2, 1},
};

extern const struct clcnn_op_class clcnn_op_conv2d;

static double *to_double(const float *f, size_t n)
{
	double *d = malloc((n ? n : 1) * sizeof *d);
	ck_assert(d != NULL);
	for (size_t i = 0; i < n; i++)
		d[i] = f[i];
	return d;
}

static void gpu_compare(const char *label, const char *what, const float *dev, const double *ref, size_t n, double tol)
{
	double worst = 0;
	size_t wi = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(dev[i] - ref[i]) / (1 + fabs(ref[i]));
		if (!(e <= worst)) {
			worst = e;
			wi = i;
		}
	}
	ck_assert_msg(worst <= tol, "%s: %s differs at %zu: device %.9g, reference %.9g (rel err %.3g > tol %.3g)",
		      label, what, wi, n ? dev[wi] : 0.0, n ? ref[wi] : 0.0, worst, tol);
}

static double dot_f(const float *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* The case's op (not prepared), or NULL when its algorithm does not apply on ctx. */
static struct clcnn_op *gpu_op(struct clcnn_context *ctx, const struct clcnn_op_case *c)
{
	struct clcnn_shape in = {4, {0}};
	ck_assert_int_eq(sscanf(c->inputs, "%dx%dx%dx%d", &in.d[0], &in.d[1], &in.d[2], &in.d[3]), 4);
	struct clcnn_op *op = make("conv2d", c->args, in);
	const struct conv_algo *al =
		clcnn_conv_algo_by_id((enum conv_algo_id)((const struct conv_args *)op->args)->algo);
	if (!al->applicable(ctx, &((const struct conv_priv *)op->priv)->g)) {
		clcnn_op_free(op);
		return NULL;
	}
	return op;
}

/* Every check of one case on ctx; frees op. Returns its algorithm's id. */
static int gpu_case(struct clcnn_context *ctx, const char *profile, const struct clcnn_op_case *c, struct clcnn_op *op)
{
	const int id = ((const struct conv_args *)op->args)->algo;
	const struct conv_algo *al = clcnn_conv_algo_by_id((enum conv_algo_id)id);
	const struct conv_priv *p = op->priv;
	char label[400];
	snprintf(label, sizeof label, "conv2d(%s) inputs %s, profile %s", c->args, c->inputs, profile);
	ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s: %s", label, clcnn_context_error(ctx));
	for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++)
		ck_assert_msg(p->algo[d] == al && !p->pending[d], "%s: direction %d runs %s", label, d,
			      p->algo[d]->name);
	const double tol = c->tol > 0 ? c->tol : clcnn_op_conv2d.tol; /* as test-ops: the case's, else the op's */
	const size_t nx = clcnn_shape_count(&op->in[0]), ny = clcnn_shape_count(&op->out);
	const size_t nw = clcnn_shape_count(&op->param[0].shape),
		     nb = op->nparam > 1 ? (size_t)op->param[1].shape.d[0] : 0;
	float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(nb * 4 + 4), *gy = malloc(ny * 4);
	uint64_t s = 0x5eed ^ strlen(label);
	for (size_t i = 0; i < nx; i++)
		x[i] = value(&s);
	for (size_t i = 0; i < nw; i++)
		w[i] = value(&s);
	for (size_t i = 0; i < nb; i++)
		b[i] = value(&s);
	for (size_t i = 0; i < ny; i++)
		gy[i] = value(&s);
	double *xd = to_double(x, nx), *wd = to_double(w, nw), *bd = to_double(b, nb), *gyd = to_double(gy, ny);
	double *y = calloc(ny, sizeof *y), *gx = calloc(nx, sizeof *gx), *gw = calloc(nw, sizeof *gw),
	       *gb = calloc(nb + 1, sizeof *gb);
	struct clcnn_ref_io rio = {.train = 1,
				   .in = {xd},
				   .param = {wd, bd},
				   .out = y,
				   .grad_out = gyd,
				   .grad_in = {gx},
				   .grad_param = {gw, nb ? gb : NULL}};
	op->cls->ref_forward(op, &rio);
	op->cls->ref_backward(op, &rio);

	struct run r = run_device(ctx, op, x, w, b, gy);
	gpu_compare(label, "forward output", r.y, y, ny, tol);
	gpu_compare(label, "gradient of input 0", r.gx, gx, nx, tol);
	gpu_compare(label, "gradient of weight", r.gw, gw, nw, tol);
	if (nb)
		gpu_compare(label, "gradient of bias", r.gb, gb, nb, tol);

	/* float central differences of L = sum(y * gy) on the device, two elements of x and of w */
	double gsum = 0;
	for (size_t i = 0; i < ny; i++)
		gsum += fabs(gyd[i]) * (1 + fabs(y[i]));
	const double h = 1e-2;
	for (int t = 0; t < 4; t++) {
		float *v = t < 2 ? x : w;
		const float *an = t < 2 ? r.gx : r.gw;
		const size_t n = t < 2 ? nx : nw, k = (size_t)(t % 2 ? n - 1 : n / 3);
		const float v0 = v[k], vs[2] = {(float)(v0 + h), (float)(v0 - h)};
		double L[2];
		for (int sgn = 0; sgn < 2; sgn++) {
			v[k] = vs[sgn];
			struct run rr = run_device(ctx, op, x, w, b, NULL);
			L[sgn] = dot_f(rr.y, gyd, ny);
			run_free(&rr);
		}
		v[k] = v0;
		const double fd = (L[0] - L[1]) / ((double)vs[0] - vs[1]);
		/* conv is linear in x and in w: the reference's difference has no truncation error */
		const double bound = 2 * tol * gsum / (2 * h) + tol * (1 + fabs(an[k])) + 1e-6;
		ck_assert_msg(
			fabs(fd - an[k]) <= bound,
			"%s: device gradient of %s[%zu]: analytic %.7g, float finite difference %.7g (bound %.3g)",
			label, t < 2 ? "input 0" : "weight", k, an[k], fd, bound);
	}
	run_free(&r);
	free(x);
	free(w);
	free(b);
	free(gy);
	free(xd);
	free(wd);
	free(bd);
	free(gyd);
	free(y);
	free(gx);
	free(gw);
	free(gb);
	clcnn_op_free(op);
	return id;
}

START_TEST(test_gpu_profiles)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.conv_algo = NULL;
	opt.device_profile = gpu_profiles[_i].profile;
	struct clcnn_context *ctx = test_context_with(&opt);
	ck_assert_msg(clcnn_is_gpu(ctx), "profile %s: not a GPU context", gpu_profiles[_i].profile);
	int ran[CONV_ALGO_END] = {0}, index = 0;
	for (const struct clcnn_op_case *c = clcnn_op_conv2d.cases; c->inputs; c++) {
		if (!strstr(c->args, "algo="))
			continue;
		struct clcnn_op *op = gpu_op(ctx, c);
		if (op && index++ % gpu_profiles[_i].step == gpu_profiles[_i].offset)
			ran[gpu_case(ctx, gpu_profiles[_i].profile, c, op)]++;
		else
			clcnn_op_free(op);
	}
	if (gpu_profiles[_i].step == 1) {
		const enum conv_algo_id must[] = {CONV_ALGO_DIRECT, CONV_ALGO_IM2COL, CONV_ALGO_GEMM1X1,
						  CONV_ALGO_DEPTHWISE};
		for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
			ck_assert_msg(ran[must[i]] > 0, "profile gpu: no %s case ran",
				      clcnn_conv_algo_by_id(must[i])->name);
		/* a netfile's algo= naming a CPU design: the tuner chooses among the GPU-shaped ones instead */
		struct clcnn_op *op = make("conv2d", "out_channels=4, kernel_size=3, padding=1, algo=lanes",
					   clcnn_shape4(2, 3, 6, 5));
		ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s", clcnn_context_error(ctx));
		const struct conv_priv *p = op->priv;
		for (int d = CONV_FWD; d <= CONV_BWD_WEIGHTS; d++)
			ck_assert_msg(p->pending[d] || p->algo[d]->applicable(ctx, &p->g),
				      "algo=lanes on a GPU: direction %d runs %s", d, p->algo[d]->name);
		clcnn_op_free(op);
	} else {
		int total = 0;
		for (int i = 0; i < CONV_ALGO_END; i++)
			total += ran[i];
		ck_assert_msg(total >= 5, "profile %s: only %d cases ran", gpu_profiles[_i].profile, total);
	}
	clcnn_context_close(ctx);
}
END_TEST

static double worst_err(const float *dev, const double *ref, size_t n)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(dev[i] - ref[i]) / (1 + fabs(ref[i]));
		worst = e > worst ? e : worst;
	}
	return worst;
}

/* The largest error over the rms of the reference (Winograd's error follows the terms' magnitude). */
static double normwise_err(const float *dev, const double *ref, size_t n)
{
	double worst = 0, ss = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(dev[i] - ref[i]);
		worst = e > worst ? e : worst;
		ss += ref[i] * ref[i];
	}
	return worst / sqrt(ss / (double)(n ? n : 1));
}

/*
 * Winograd's error against the double reference grows with the terms it sums per transformed point
 * (each amplified by the transforms, see WINOGRAD_TOL and WINOGRAD5_TOL in src/ops/conv.c): uniform
 * [-1, 1] data, 3, 64 and 256 input channels into 24, 2 images of 13x11 (3x3: 24 tiles, 5x5: 84), all
 * three results printed and held to 1.2e-5 sqrt(L) (3x3) or 2.5e-5 sqrt(L) (5x5), L the largest of the
 * sums (channels in, 24 channels out, the tiles). Measured on POCL (EPYC), 3x3: forward 3.8e-6, 4.6e-5,
 * 1.0e-4; input gradient 8.5e-6, 1.9e-5, 2.3e-5; weight gradient 7.4e-6, 1.5e-5, 2.6e-5. 5x5: forward
 * 6.2e-6, 3.6e-5, 1.6e-4; input gradient 1.3e-5, 2.6e-5, 3.0e-5; weight gradient 2.4e-5, 4.0e-5,
 * 5.7e-5. The largest error over the result's rms (printed, not held): at most 1.7e-5 (3x3 forward,
 * 256 channels), 2.1e-5 (5x5 weight gradient, 256 channels).
 */
START_TEST(test_winograd_accuracy)
{
	static const int cins[] = {3, 64, 256};
	static const struct {
		int r;
		double per_sqrt_l;
	} kernels[] = {{3, WINOGRAD_TOL_PER_SQRT_L}, {5, WINOGRAD5_TOL_PER_SQRT_L}};
	struct clcnn_context *ctx = test_context();
	for (size_t ki = 0, ci = 0; ki < CLCNN_ARRAY_LEN(kernels); ci = (ci + 1) % CLCNN_ARRAY_LEN(cins), ki += !ci) {
		const int r = kernels[ki].r, m = 7 - r;
		struct clcnn_shape in = clcnn_shape4(2, cins[ci], 13, 11);
		char args[128];
		snprintf(args, sizeof args, "out_channels=24, kernel_size=%d, padding=%d, algo=winograd", r, r / 2);
		struct clcnn_op *op = make("conv2d", args, in);
		if (!clcnn_conv_algo_winograd.applicable(ctx, &((const struct conv_priv *)op->priv)->g)) {
			clcnn_op_free(op);
			continue;
		}
		ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s", clcnn_context_error(ctx));
		const size_t nx = clcnn_shape_count(&op->in[0]), ny = clcnn_shape_count(&op->out);
		const size_t nw = clcnn_shape_count(&op->param[0].shape), nb = 24;
		float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(nb * 4), *gy = malloc(ny * 4);
		uint64_t s = 99 + ci;
		for (size_t i = 0; i < nx; i++)
			x[i] = value(&s);
		for (size_t i = 0; i < nw; i++)
			w[i] = value(&s);
		for (size_t i = 0; i < nb; i++)
			b[i] = value(&s);
		for (size_t i = 0; i < ny; i++)
			gy[i] = value(&s);
		double *xd = to_double(x, nx), *wd = to_double(w, nw), *bd = to_double(b, nb), *gyd = to_double(gy, ny);
		double *y = calloc(ny, sizeof *y), *gx = calloc(nx, sizeof *gx), *gw = calloc(nw, sizeof *gw),
		       *gb = calloc(nb, sizeof *gb);
		struct clcnn_ref_io rio = {.train = 1,
					   .in = {xd},
					   .param = {wd, bd},
					   .out = y,
					   .grad_out = gyd,
					   .grad_in = {gx},
					   .grad_param = {gw, gb}};
		op->cls->ref_forward(op, &rio);
		op->cls->ref_backward(op, &rio);
		struct run dev = run_device(ctx, op, x, w, b, gy);
		const double e[3] = {worst_err(dev.y, y, ny), worst_err(dev.gx, gx, nx), worst_err(dev.gw, gw, nw)};
		printf("winograd %dx%d 2x%dx13x11 -> 24: relative error forward %.3g, input gradient %.3g, weight "
		       "gradient %.3g; largest error / rms %.3g, %.3g, %.3g\n",
		       r, r, cins[ci], e[0], e[1], e[2], normwise_err(dev.y, y, ny), normwise_err(dev.gx, gx, nx),
		       normwise_err(dev.gw, gw, nw));
		/* L: the input channels, the 24 output channels, or the weight gradient's images x tiles */
		const int tiles = 2 * ((13 + m - 1) / m) * ((11 + m - 1) / m);
		const int L = cins[ci] > 24 ? (cins[ci] > tiles ? cins[ci] : tiles) : (24 > tiles ? 24 : tiles);
		const double tol = kernels[ki].per_sqrt_l * sqrt(L);
		for (int i = 0; i < 3; i++)
			ck_assert_msg(e[i] <= tol, "winograd %dx%d C=%d: result %d error %.3g > %.3g", r, r, cins[ci],
				      i, e[i], tol);
		run_free(&dev);
		free(x);
		free(w);
		free(b);
		free(gy);
		free(xd);
		free(wd);
		free(bd);
		free(gyd);
		free(y);
		free(gx);
		free(gw);
		free(gb);
		clcnn_op_free(op);
	}
	clcnn_context_close(ctx);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("conv");
	TCase *tc = tcase_create("conv2d and linear edge cases");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_invalid_conv);
	tcase_add_test(tc, test_invalid_linear);
	tcase_add_test(tc, test_shapes_and_params);
	tcase_add_test(tc, test_flip_convention);
	tcase_add_test(tc, test_same_even_kernel);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_algo_names);
	tcase_add_test(tc, test_algo_choice);
	tcase_add_test(tc, test_algo_list);
	tcase_add_test(tc, test_chunk_policy);
	tcase_add_test(tc, test_autotune_record);
	tcase_add_test(tc, test_tune_modes);
	tcase_add_test(tc, test_model_shapes);
	suite_add_tcase(s, tc);
	/* the GPU profiles' table sets each profile itself: a run under CLCNN_DEVICE_PROFILE (tools/test.sh's
	 * GPU-profile stage, after the suite ran it) would only repeat it */
	const char *env_profile = getenv("CLCNN_DEVICE_PROFILE");
	if (!env_profile || !*env_profile) {
		TCase *gpu = tcase_create("the case table under GPU profiles");
		tcase_set_timeout(gpu, 600);
		tcase_add_loop_test(gpu, test_gpu_profiles, 0, (int)(sizeof gpu_profiles / sizeof gpu_profiles[0]));
		suite_add_tcase(s, gpu);
	}
	TCase *wino = tcase_create("winograd accuracy");
	tcase_set_timeout(wino, 300);
	tcase_add_test(wino, test_winograd_accuracy);
	suite_add_tcase(s, wino);
	return test_run_suite(s);
}
