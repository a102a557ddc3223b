/*
 * Pooling edge cases the generic op test cannot reach (its fill keeps values apart): PyTorch's
 * choice at ties (the first maximum in scan order gets the gradient), NaN and -inf windows, the
 * ceil_mode / count_include_pad / divisor_override divisors on known inputs, output shapes, and
 * every invalid configuration's message. Device and C reference are both held to the expectation.
 * Every case runs twice: on the environment's device profile, and with options.device_profile "gpu"
 * (warp-sized work-groups, narrow vectors: the GPU shapes of the launches, run on POCL).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/op.h"
#include "testutil.h"

/* The device profile of the test case being run (NULL: the environment's), set by its fixture. */
static const char *profile;

static void use_gpu_profile(void)
{
	profile = "gpu";
}

static void use_env_profile(void)
{
	profile = NULL;
}

static struct clcnn_context *pool_context(void)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	if (profile)
		o.device_profile = profile;
	return test_context_with(&o);
}

/* Device and reference results of one forward + backward. */
struct run {
	struct clcnn_op *op;
	size_t in_n, out_n;
	double dev_out[512], ref_out[512], dev_gin[512], ref_gin[512];
};

static void upload(struct clcnn_context *ctx, cl_mem m, const double *x, size_t n)
{
	float f[512];
	for (size_t i = 0; i < n; i++)
		f[i] = (float)x[i];
	ck_assert_msg(clcnn_buffer_write(ctx, m, 0, n * sizeof(float), f) == 0, "%s", clcnn_context_error(ctx));
}

static void download(struct clcnn_context *ctx, cl_mem m, double *x, size_t n)
{
	float f[512];
	ck_assert_msg(clcnn_buffer_read(ctx, m, 0, n * sizeof(float), f) == 0, "%s", clcnn_context_error(ctx));
	for (size_t i = 0; i < n; i++)
		x[i] = f[i];
}

static cl_mem dbuf(struct clcnn_context *ctx, size_t bytes)
{
	cl_mem m;
	ck_assert_msg(clcnn_buffer_new(ctx, bytes ? bytes : 4, &m) == 0, "%s", clcnn_context_error(ctx));
	return m;
}

/* Forward and backward of `type(args)` on input x (shape), with grad_out g (NULL: all ones). */
static void run_op(struct run *r, const char *type, const char *args, struct clcnn_shape shape, const double *x,
		   const double *g)
{
	char err[1024];
	ck_assert_msg(clcnn_op_new(type, args, 1, &shape, &r->op, err, sizeof err) == 0, "%s(%s): %s", type, args, err);
	struct clcnn_context *ctx = pool_context();
	ck_assert_msg(clcnn_op_prepare(r->op, ctx) == 0, "%s", clcnn_context_error(ctx));
	r->in_n = clcnn_shape_count(&shape);
	r->out_n = clcnn_shape_count(&r->op->out);
	ck_assert(r->in_n <= 512 && r->out_n <= 512);
	double ones[512];
	for (size_t i = 0; i < r->out_n; i++)
		ones[i] = 1;
	if (!g)
		g = ones;

	struct clcnn_ref_io rio = {.train = 1, .seed = 1, .out = r->ref_out, .grad_out = g};
	rio.in[0] = x;
	rio.grad_in[0] = r->ref_gin;
	r->op->cls->ref_forward(r->op, &rio);
	r->op->cls->ref_backward(r->op, &rio);

	struct clcnn_dev_io dio = {.train = 1, .seed = 1};
	dio.in[0] = dbuf(ctx, r->in_n * sizeof(float));
	dio.grad_in[0] = dbuf(ctx, r->in_n * sizeof(float));
	dio.out = dbuf(ctx, r->out_n * sizeof(float));
	dio.grad_out = dbuf(ctx, r->out_n * sizeof(float));
	dio.state = dbuf(ctx, r->op->state_bytes);
	dio.scratch = dbuf(ctx, r->op->scratch_bytes);
	upload(ctx, dio.in[0], x, r->in_n);
	upload(ctx, dio.grad_out, g, r->out_n);
	ck_assert_msg(r->op->cls->forward(r->op, &dio) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(r->op->cls->backward(r->op, &dio) == 0, "%s", clcnn_context_error(ctx));
	download(ctx, dio.out, r->dev_out, r->out_n);
	download(ctx, dio.grad_in[0], r->dev_gin, r->in_n);
	cl_mem bufs[] = {dio.in[0], dio.grad_in[0], dio.out, dio.grad_out, dio.state, dio.scratch};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(bufs); i++)
		clcnn_buffer_free(bufs[i]);
	clcnn_context_close(ctx);
}

static void run_free(struct run *r)
{
	clcnn_op_free(r->op);
}

/* Both device and reference equal `want` (NaN matches NaN). */
static void expect(const char *what, const double *dev, const double *ref, const double *want, size_t n, double tol)
{
	for (size_t i = 0; i < n; i++) {
		if (isnan(want[i])) {
			ck_assert_msg(isnan(dev[i]) && isnan(ref[i]), "%s[%zu]: want NaN, device %g, reference %g",
				      what, i, dev[i], ref[i]);
			continue;
		}
		ck_assert_msg(fabs(dev[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s[%zu]: device %.9g, want %.9g",
			      what, i, dev[i], want[i]);
		ck_assert_msg(fabs(ref[i] - want[i]) <= tol * (1 + fabs(want[i])), "%s[%zu]: reference %.9g, want %.9g",
			      what, i, ref[i], want[i]);
	}
}

static void fill(double *x, size_t n, double v)
{
	for (size_t i = 0; i < n; i++)
		x[i] = v;
}

START_TEST(test_max_all_equal_window)
{
	/* one window, all equal: the gradient goes to its first element */
	struct run r;
	double x[4] = {0.5, 0.5, 0.5, 0.5}, g[1] = {2}, gin[4] = {2, 0, 0, 0}, out[1] = {0.5};
	run_op(&r, "maxpool2d", "kernel_size=2", clcnn_shape4(1, 1, 2, 2), x, g);
	expect("out", r.dev_out, r.ref_out, out, 1, 0);
	expect("grad", r.dev_gin, r.ref_gin, gin, 4, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_max_tie_first_of_equal_maxima)
{
	/* [1, 3, 3, 2]: the first 3 wins, the second gets nothing */
	struct run r;
	double x[4] = {1, 3, 3, 2}, gin[4] = {0, 1, 0, 0}, out[1] = {3};
	run_op(&r, "maxpool2d", "kernel_size=(1,4)", clcnn_shape4(1, 1, 1, 4), x, NULL);
	expect("out", r.dev_out, r.ref_out, out, 1, 0);
	expect("grad", r.dev_gin, r.ref_gin, gin, 4, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_max_ties_overlapping_padded)
{
	/* constant 3x3, k3 s1 p1: each window's first in-bounds element takes its gradient (PyTorch:
	 * grad [[12, 9, 0], [15, 9, 0], [0, 0, 0]] for grad_out 1..9) */
	struct run r;
	double x[9], g[9], gin[9] = {12, 9, 0, 15, 9, 0, 0, 0, 0};
	fill(x, 9, 1.0);
	for (int i = 0; i < 9; i++)
		g[i] = i + 1;
	run_op(&r, "maxpool2d", "kernel_size=3, stride=1, padding=1", clcnn_shape4(1, 1, 3, 3), x, g);
	expect("grad", r.dev_gin, r.ref_gin, gin, 9, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_max_all_neg_inf)
{
	/* -inf everywhere: output -inf, gradient to each window's first in-bounds element (PyTorch:
	 * [[12, 9, 0], [0, 0, 0]] for grad_out 1..6) */
	struct run r;
	double x[6], g[6], gin[6] = {12, 9, 0, 0, 0, 0}, out[6];
	fill(x, 6, -INFINITY);
	fill(out, 6, -INFINITY);
	for (int i = 0; i < 6; i++)
		g[i] = i + 1;
	run_op(&r, "maxpool2d", "kernel_size=3, stride=1, padding=1", clcnn_shape4(1, 1, 2, 3), x, g);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(r.dev_out[i] == -INFINITY && r.ref_out[i] == -INFINITY, "out[%d] not -inf", i);
	expect("grad", r.dev_gin, r.ref_gin, gin, 6, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_max_nan_propagates)
{
	/* PyTorch: `val > max || isnan(val)`: [1, NaN, 5, 2] gives NaN, gradient to the NaN */
	struct run r;
	double x[4] = {1, NAN, 5, 2}, gin[4] = {0, 1, 0, 0}, out[1] = {NAN};
	run_op(&r, "maxpool2d", "kernel_size=(1,4)", clcnn_shape4(1, 1, 1, 4), x, NULL);
	expect("out", r.dev_out, r.ref_out, out, 1, 0);
	expect("grad", r.dev_gin, r.ref_gin, gin, 4, 0);
	run_free(&r);
	run_op(&r, "global_maxpool2d", "", clcnn_shape4(1, 1, 2, 2), x, NULL);
	expect("global out", r.dev_out, r.ref_out, out, 1, 0);
	expect("global grad", r.dev_gin, r.ref_gin, gin, 4, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_global_max_ties)
{
	struct run r;
	double x[8] = {0, 2, 1, 2, 7, 7, 7, 7}, g[2] = {3, 5}, gin[8] = {0, 3, 0, 0, 5, 0, 0, 0}, out[2] = {2, 7};
	run_op(&r, "global_maxpool2d", "", clcnn_shape4(1, 2, 2, 2), x, g);
	expect("out", r.dev_out, r.ref_out, out, 2, 0);
	expect("grad", r.dev_gin, r.ref_gin, gin, 8, 0);
	run_free(&r);
}
END_TEST

START_TEST(test_maxblur_ties)
{
	/* constant 4x4, max 2x2 at stride 1: every max window's top-left element wins, so the last row
	 * and column get nothing; the reflect blur's taps sum to 1, so the gradients add up to sum(g) */
	struct run r;
	double x[16], g[4] = {1, 2, 3, 4};
	fill(x, 16, 1.0);
	run_op(&r, "maxblurpool2d", "", clcnn_shape4(1, 1, 4, 4), x, g);
	ck_assert_int_eq((int)r.out_n, 4);
	double sd = 0, sr = 0;
	for (int i = 0; i < 16; i++) {
		ck_assert_msg(fabs(r.dev_gin[i] - r.ref_gin[i]) <= 1e-6, "grad[%d]: device %g, reference %g", i,
			      r.dev_gin[i], r.ref_gin[i]);
		if (i / 4 == 3 || i % 4 == 3)
			ck_assert_msg(r.dev_gin[i] == 0 && r.ref_gin[i] == 0, "grad[%d] should be 0", i);
		sd += r.dev_gin[i];
		sr += r.ref_gin[i];
	}
	ck_assert_msg(fabs(sd - 10) < 1e-5 && fabs(sr - 10) < 1e-12, "gradient sums %g, %g, want 10", sd, sr);
	run_free(&r);
}
END_TEST

START_TEST(test_avg_divisors)
{
	/* all-ones 6x5, k(3,2) s2 p1 ceil: out = real elements / divisor (values from PyTorch) */
	struct run r;
	double x[30];
	fill(x, 30, 1.0);
	double incl[12] = {1. / 3, 2. / 3, 2. / 3, .5, 1, 1, .5, 1, 1, .25, .5, .5}, excl[12];
	fill(excl, 12, 1.0);
	run_op(&r, "avgpool2d", "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true", clcnn_shape4(1, 1, 6, 5), x,
	       NULL);
	ck_assert_int_eq((int)r.out_n, 12);
	expect("count_include_pad", r.dev_out, r.ref_out, incl, 12, 1e-6);
	run_free(&r);
	run_op(&r, "avgpool2d", "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true, count_include_pad=false",
	       clcnn_shape4(1, 1, 6, 5), x, NULL);
	expect("exclude pad", r.dev_out, r.ref_out, excl, 12, 1e-6);
	run_free(&r);
	/* divisor_override=5: real element count / 5; the windows hold 2,3,3,1 real rows and 1,2,2 real columns */
	double over[12];
	int rows[4] = {2, 3, 3, 1}, cols[3] = {1, 2, 2};
	for (int i = 0; i < 12; i++)
		over[i] = rows[i / 3] * cols[i % 3] / 5.0;
	run_op(&r, "avgpool2d", "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true, divisor_override=5",
	       clcnn_shape4(1, 1, 6, 5), x, NULL);
	expect("divisor_override", r.dev_out, r.ref_out, over, 12, 1e-6);
	/* backward with grad 1: each input gets 1/5 per window covering it */
	double gin[30] = {0};
	for (int oh = 0; oh < 4; oh++)
		for (int ow = 0; ow < 3; ow++)
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 2; j++) {
					int ih = oh * 2 - 1 + i, iw = ow * 2 - 1 + j;
					if (ih >= 0 && ih < 6 && iw >= 0 && iw < 5)
						gin[ih * 5 + iw] += 0.2;
				}
	expect("divisor_override grad", r.dev_gin, r.ref_gin, gin, 30, 1e-6);
	run_free(&r);
}
END_TEST

static struct clcnn_shape out_shape(const char *type, const char *args, struct clcnn_shape in)
{
	struct clcnn_op *op;
	char err[1024];
	ck_assert_msg(clcnn_op_new(type, args, 1, &in, &op, err, sizeof err) == 0, "%s(%s): %s", type, args, err);
	struct clcnn_shape s = op->out;
	clcnn_op_free(op);
	return s;
}

static void expect_shape(const char *type, const char *args, struct clcnn_shape in, int oh, int ow)
{
	struct clcnn_shape s = out_shape(type, args, in);
	ck_assert_msg(s.ndim == 4 && s.d[0] == in.d[0] && s.d[1] == in.d[1] && s.d[2] == oh && s.d[3] == ow,
		      "%s(%s): output %dx%d, want %dx%d", type, args, s.d[2], s.d[3], oh, ow);
}

START_TEST(test_output_shapes)
{
	/* values from PyTorch 1.13 */
	expect_shape("maxpool2d", "kernel_size=2, stride=2, padding=1, ceil_mode=true", clcnn_shape4(1, 1, 5, 6), 3, 4);
	expect_shape("maxpool2d", "kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=true",
		     clcnn_shape4(1, 1, 8, 7), 4, 3);
	expect_shape("maxpool2d", "kernel_size=3", clcnn_shape4(2, 3, 7, 9), 2, 3);
	expect_shape("maxpool2d", "kernel_size=2, ceil_mode=true", clcnn_shape4(1, 1, 7, 9), 4, 5);
	expect_shape("avgpool2d", "kernel_size=(3,2), stride=2, padding=1, ceil_mode=true", clcnn_shape4(1, 1, 6, 5), 4,
		     3);
	expect_shape("global_avgpool2d", "", clcnn_shape4(2, 3, 7, 9), 1, 1);
	expect_shape("global_maxpool2d", "", clcnn_shape4(2, 3, 7, 9), 1, 1);
	expect_shape("blurpool2d", "", clcnn_shape4(1, 2, 7, 9), 4, 5);
	expect_shape("blurpool2d", "filt_size=4, stride=3", clcnn_shape4(1, 2, 7, 9), 3, 3);
	expect_shape("blurpool2d", "filt_size=5, pad_type=zero", clcnn_shape4(1, 1, 1, 1), 1, 1);
	expect_shape("maxblurpool2d", "", clcnn_shape4(1, 2, 7, 9), 3, 4);
}
END_TEST

static void expect_invalid(const char *type, const char *args, struct clcnn_shape in, const char *msg)
{
	struct clcnn_op *op = NULL;
	char err[1024] = "";
	int rc = clcnn_op_new(type, args, 1, &in, &op, err, sizeof err);
	ck_assert_msg(rc == CLCNN_ERR_INVALID && op == NULL, "%s(%s) accepted", type, args);
	ck_assert_msg(!strcmp(err, msg), "%s(%s):\n  got  '%s'\n  want '%s'", type, args, err, msg);
}

START_TEST(test_invalid_configurations)
{
	struct clcnn_shape s = clcnn_shape4(1, 1, 7, 7);
	expect_invalid("maxpool2d", "kernel_size=3, padding=2", s,
		       "maxpool2d: padding 2 is more than half of kernel_size 3 in height (PyTorch requires padding <= "
		       "kernel_size / 2)");
	expect_invalid("avgpool2d", "kernel_size=2, padding=(0,2)", s,
		       "avgpool2d: padding 2 is more than half of kernel_size 2 in width (PyTorch requires padding <= "
		       "kernel_size / 2)");
	expect_invalid("maxpool2d", "kernel_size=5", clcnn_shape4(1, 1, 3, 9),
		       "maxpool2d: kernel 5 larger than padded input height 3");
	expect_invalid("avgpool2d", "kernel_size=(2,4), padding=(0,1)", clcnn_shape4(1, 1, 3, 1),
		       "avgpool2d: kernel 4 larger than padded input width 3");
	expect_invalid("maxpool2d", "kernel_size=3, dilation=2", clcnn_shape4(1, 1, 9, 4),
		       "maxpool2d: dilated kernel 5 (kernel_size 3, dilation 2) larger than padded input width 4");
	expect_invalid("maxpool2d", "kernel_size=2, stride=-1", s,
		       "maxpool2d: stride must be >= 1 (or 0 for kernel_size), got -1");
	expect_invalid("avgpool2d", "kernel_size=2, stride=(2,0)", s,
		       "avgpool2d: stride must be >= 1 (or 0 for kernel_size), got (2,0)");
	expect_invalid("maxpool2d", "kernel_size=(2,0)", s, "maxpool2d: kernel_size must be >= 1, got (2,0)");
	expect_invalid("maxpool2d", "kernel_size=2, dilation=0", s, "maxpool2d: dilation must be >= 1, got 0");
	expect_invalid("maxpool2d", "kernel_size=2, padding=-1", s, "maxpool2d: padding must be >= 0, got -1");
	expect_invalid("maxpool2d", "stride=2", s, "maxpool2d needs kernel_size (window (h,w))");
	expect_invalid("maxpool2d", "kernel_size=2", clcnn_shape2(2, 3), "maxpool2d: input must be 4-D NCHW, got 2x3");
	expect_invalid("avgpool2d", "kernel_size=2, divisor_override=-1", s,
		       "avgpool2d: divisor_override must be >= 1 (0 = none), got -1");
	expect_invalid("avgpool2d", "kernel_size=2, dilation=2", s,
		       "unknown key 'dilation' for avgpool2d; known keys: kernel_size stride padding ceil_mode "
		       "count_include_pad divisor_override");
	expect_invalid("global_avgpool2d", "", clcnn_shape2(2, 3), "global_avgpool2d: input must be 4-D NCHW, got 2x3");
	expect_invalid("global_maxpool2d", "", clcnn_shape2(2, 3), "global_maxpool2d: input must be 4-D NCHW, got 2x3");
	expect_invalid("blurpool2d", "filt_size=8", s, "blurpool2d: filt_size must be 1 to 7, got 8");
	expect_invalid("blurpool2d", "filt_size=0", s, "blurpool2d: filt_size must be 1 to 7, got 0");
	expect_invalid("blurpool2d", "stride=0", s, "blurpool2d: stride must be >= 1, got 0");
	expect_invalid(
		"blurpool2d", "filt_size=5", clcnn_shape4(1, 1, 2, 9),
		"blurpool2d: reflect padding 2 must be smaller than the input height 2 (use pad_type=replicate or "
		"zero)");
	expect_invalid("blurpool2d", "pad_type=circular", s,
		       "bad value 'circular' for pad_type: expected one of reflect, replicate, zero");
	expect_invalid("blurpool2d", "", clcnn_shape2(2, 3), "blurpool2d: input must be 4-D NCHW, got 2x3");
	expect_invalid("maxblurpool2d", "kernel_size=3", clcnn_shape4(1, 1, 2, 5),
		       "maxblurpool2d: kernel 3 larger than input height 2");
	expect_invalid("maxblurpool2d", "kernel_size=0", s, "maxblurpool2d: kernel_size must be >= 1, got 0");
	expect_invalid("maxblurpool2d", "filt_size=5", clcnn_shape4(1, 1, 5, 3),
		       "maxblurpool2d: reflect padding 2 must be smaller than the max-pooled width 2 (use "
		       "pad_type=replicate or zero)");
	expect_invalid("maxblurpool2d", "stride=-2", s, "maxblurpool2d: stride must be >= 1, got -2");
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("pool");
	for (int gpu = 0; gpu < 2; gpu++) {
		TCase *tc = tcase_create(gpu ? "pooling edge cases, GPU profile" : "pooling edge cases");
		tcase_add_unchecked_fixture(tc, gpu ? use_gpu_profile : use_env_profile, NULL);
		tcase_set_timeout(tc, 600); /* first runs compile kernels */
		tcase_add_test(tc, test_max_all_equal_window);
		tcase_add_test(tc, test_max_tie_first_of_equal_maxima);
		tcase_add_test(tc, test_max_ties_overlapping_padded);
		tcase_add_test(tc, test_max_all_neg_inf);
		tcase_add_test(tc, test_max_nan_propagates);
		tcase_add_test(tc, test_global_max_ties);
		tcase_add_test(tc, test_maxblur_ties);
		tcase_add_test(tc, test_avg_divisors);
		tcase_add_test(tc, test_output_shapes);
		tcase_add_test(tc, test_invalid_configurations);
		suite_add_tcase(s, tc);
	}
	return test_run_suite(s);
}
