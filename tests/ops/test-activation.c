/*
 * Activations and softmax: PyTorch 1.13's values exactly at the kinks (which side the gradient
 * takes), its NaN conventions, stability at large |x|, argument defaults, and every invalid
 * configuration's message. Each value runs on the device and on the C reference. Expected numbers
 * come from torch 1.13 (F.relu, F.leaky_relu, F.prelu, F.elu, F.hardtanh, F.softplus, ...).
 */
#include <math.h>
#include <string.h>

#include "ops/op.h"
#include "testutil.h"

#define MAXV 16

struct result {
	double y[MAXV], gx[MAXV], gw[MAXV];
};

/*
 * Forward and backward of `type` on x (shape s) with grad_out g (NULL: ones) and prelu weight w,
 * on the device (dev) and the reference (ref).
 */
static void run_op(const char *type, const char *args, struct clcnn_shape s, const double *x, const double *g,
		   const double *w, struct result *dev, struct result *ref)
{
	char err[512];
	struct clcnn_op *op;
	ck_assert_msg(clcnn_op_new(type, args, 1, &s, &op, err, sizeof err) == 0, "%s(%s): %s", type, args, err);
	size_t n = clcnn_shape_count(&s), nw = op->nparam ? clcnn_shape_count(&op->param[0].shape) : 0;
	ck_assert(n <= MAXV && nw <= MAXV);
	double ones[MAXV], param[MAXV] = {0}, gparam[MAXV] = {0};
	for (size_t i = 0; i < MAXV; i++)
		ones[i] = 1;
	g = g ? g : ones;
	for (size_t i = 0; i < nw; i++)
		param[i] = w[i];

	struct clcnn_ref_io rio = {.out = ref->y, .grad_out = g, .train = 1};
	rio.in[0] = x;
	rio.param[0] = param;
	rio.grad_param[0] = gparam;
	rio.grad_in[0] = ref->gx;
	op->cls->ref_forward(op, &rio);
	op->cls->ref_backward(op, &rio);
	for (size_t i = 0; i < nw; i++)
		ref->gw[i] = gparam[i];

	struct clcnn_context *ctx = test_context();
	ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s", clcnn_context_error(ctx));
	float fx[MAXV], fg[MAXV], fw[MAXV];
	for (size_t i = 0; i < MAXV; i++) {
		fx[i] = i < n ? (float)x[i] : 0;
		fg[i] = i < n ? (float)g[i] : 0;
		fw[i] = i < nw ? (float)w[i] : 0;
	}
	cl_mem bx, by, bg, bgx, bw, bgw, bscratch;
	size_t scratch = op->scratch_bytes ? op->scratch_bytes : sizeof(float);
	ck_assert(clcnn_buffer_new(ctx, MAXV * sizeof(float), &bx) == 0);
	ck_assert(clcnn_buffer_new(ctx, MAXV * sizeof(float), &by) == 0);
	ck_assert(clcnn_buffer_new(ctx, MAXV * sizeof(float), &bg) == 0);
	ck_assert(clcnn_buffer_new(ctx, MAXV * sizeof(float), &bgx) == 0);
	ck_assert(clcnn_buffer_new(ctx, MAXV * sizeof(float), &bw) == 0);
	ck_assert(clcnn_buffer_new(ctx, MAXV * sizeof(float), &bgw) == 0);
	ck_assert(clcnn_buffer_new(ctx, scratch, &bscratch) == 0);
	ck_assert(clcnn_buffer_write(ctx, bx, 0, sizeof fx, fx) == 0);
	ck_assert(clcnn_buffer_write(ctx, bg, 0, sizeof fg, fg) == 0);
	ck_assert(clcnn_buffer_write(ctx, bw, 0, sizeof fw, fw) == 0);
	struct clcnn_dev_io dio = {.out = by, .grad_out = bg, .scratch = bscratch, .train = 1};
	dio.in[0] = bx;
	dio.param[0] = bw;
	dio.grad_param[0] = nw ? bgw : NULL;
	dio.grad_in[0] = bgx;
	ck_assert_msg(op->cls->forward(op, &dio) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(op->cls->backward(op, &dio) == 0, "%s", clcnn_context_error(ctx));
	float fy[MAXV], fgx[MAXV], fgw[MAXV];
	ck_assert(clcnn_buffer_read(ctx, by, 0, sizeof fy, fy) == 0);
	ck_assert(clcnn_buffer_read(ctx, bgx, 0, sizeof fgx, fgx) == 0);
	ck_assert(clcnn_buffer_read(ctx, bgw, 0, sizeof fgw, fgw) == 0);
	for (size_t i = 0; i < MAXV; i++) {
		dev->y[i] = fy[i];
		dev->gx[i] = fgx[i];
		dev->gw[i] = fgw[i];
	}
	cl_mem all[] = {bx, by, bg, bgx, bw, bgw, bscratch};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(all); i++)
		clcnn_buffer_free(all[i]);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
}

/* got == want within float rounding (NaN matches NaN). */
static void expect(const char *what, const char *who, const double *got, const double *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ok = isnan(want[i]) ? isnan(got[i]) : fabs(got[i] - want[i]) <= 1e-6 * (1 + fabs(want[i]));
		ck_assert_msg(ok, "%s (%s) [%zu]: got %.9g, want %.9g", what, who, i, got[i], want[i]);
	}
}

/* Checks y and gx (and gw when nw > 0) on the device and the reference. */
static void check(const char *type, const char *args, struct clcnn_shape s, const double *x, const double *g,
		  const double *w, const double *y, const double *gx, const double *gw, size_t nw)
{
	struct result dev, ref;
	run_op(type, args, s, x, g, w, &dev, &ref);
	size_t n = clcnn_shape_count(&s);
	char what[128];
	snprintf(what, sizeof what, "%s(%s) forward", type, args);
	expect(what, "device", dev.y, y, n);
	expect(what, "reference", ref.y, y, n);
	snprintf(what, sizeof what, "%s(%s) input gradient", type, args);
	expect(what, "device", dev.gx, gx, n);
	expect(what, "reference", ref.gx, gx, n);
	if (nw) {
		snprintf(what, sizeof what, "%s(%s) weight gradient", type, args);
		expect(what, "device", dev.gw, gw, nw);
		expect(what, "reference", ref.gw, gw, nw);
	}
}

static const struct clcnn_shape ROW4 = {2, {1, 4, 0, 0}};

START_TEST(relu_kink)
{
	/* relu'(0) = 0; NaN passes forward and takes the gradient (PyTorch tests result <= 0) */
	double x[] = {-1, 0, 2, NAN}, y[] = {0, 0, 2, NAN}, gx[] = {0, 0, 1, 1};
	check("relu", "", ROW4, x, NULL, NULL, y, gx, NULL, 0);
}
END_TEST

START_TEST(leaky_relu_kink)
{
	/* PyTorch: x > 0 ? g : g * slope, so the slope at 0 and at NaN */
	double x[] = {-1, 0, 2, NAN}, y[] = {-0.2, 0, 2, NAN}, gx[] = {0.2, 0.2, 1, 0.2};
	check("leaky_relu", "negative_slope=0.2", ROW4, x, NULL, NULL, y, gx, NULL, 0);
	double y1[] = {-0.01, 0, 2, NAN}, gx1[] = {0.01, 0.01, 1, 0.01};
	check("leaky_relu", "", ROW4, x, NULL, NULL, y1, gx1, NULL, 0);
}
END_TEST

START_TEST(prelu_kink)
{
	/* like leaky_relu: the slope at 0; the weight gradient sums x * g over x <= 0 */
	double x[] = {-1, 0, 2, -3}, w[] = {0.25}, y[] = {-0.25, 0, 2, -0.75}, gx[] = {0.25, 0.25, 1, 0.25};
	double gw[] = {-4};
	check("prelu", "", ROW4, x, NULL, w, y, gx, gw, 1);
	/* per channel: 1x4x1x1, channel c gets w[c] */
	struct clcnn_shape s = {4, {1, 4, 1, 1}};
	double wc[] = {0.1, 0.2, 0.3, 0.4}, g[] = {1, 2, 3, 4};
	double yc[] = {-0.1, 0, 2, -1.2}, gxc[] = {0.1, 0.4, 3, 1.6}, gwc[] = {-1, 0, 0, -12};
	check("prelu", "num_parameters=4", s, x, g, wc, yc, gxc, gwc, 4);
}
END_TEST

START_TEST(elu_kink)
{
	/* PyTorch: x <= 0 ? g * alpha * exp(x) : g, so alpha at 0 */
	double x[] = {-1, 0, 2, NAN}, y[] = {-1.26424110, 0, 2, NAN}, gx[] = {0.735758882, 2, 1, 1};
	check("elu", "alpha=2", ROW4, x, NULL, NULL, y, gx, NULL, 0);
}
END_TEST

START_TEST(hardtanh_edges)
{
	/* the gradient passes only strictly inside (min_val, max_val); NaN passes both ways */
	struct clcnn_shape s = {2, {1, 6, 0, 0}};
	double x[] = {-0.5, 0.25, 0, -1, 1, NAN}, y[] = {-0.5, 0.25, 0, -0.5, 0.25, NAN}, gx[] = {0, 0, 1, 0, 0, 1};
	check("hardtanh", "min_val=-0.5, max_val=0.25", s, x, NULL, NULL, y, gx, NULL, 0);
	double x1[] = {-1, 1, 0.5, -2, 2, NAN}, y1[] = {-1, 1, 0.5, -1, 1, NAN}, gx1[] = {0, 0, 1, 0, 0, 1};
	check("hardtanh", "", s, x1, NULL, NULL, y1, gx1, NULL, 0);
}
END_TEST

START_TEST(softplus_threshold)
{
	/* beta x == threshold stays on the smooth branch; the next float up is linear */
	struct clcnn_shape s = {2, {1, 3, 0, 0}};
	double x[] = {0.5, (double)nextafterf(0.5f, 1.0f), (double)nextafterf(0.5f, 0.0f)};
	double y[] = {0.656630814, x[1], 0.656630814}, gx[] = {0.731058598, 1, 0.731058598};
	check("softplus", "beta=2, threshold=1", s, x, NULL, NULL, y, gx, NULL, 0);
}
END_TEST

/*
 * Large |x|: finite everywhere and the limits PyTorch gives, with one deliberate difference:
 * softplus with a threshold above 88 / beta, where PyTorch's log1p(exp(beta x)) overflows to inf.
 */
START_TEST(large_magnitudes)
{
	static const struct {
		const char *type, *args;
		double y[4], gx[4];
	} t[] = {
		{"sigmoid", "", {0, 0, 1, 1}, {0, 0, 0, 0}},
		{"tanh", "", {-1, -1, 1, 1}, {0, 0, 0, 0}},
		{"logsigmoid", "", {-1000, -100, 0, 0}, {1, 1, 0, 0}},
		{"softplus", "", {0, 0, 100, 1000}, {0, 0, 1, 1}},
		{"softplus", "threshold=1000", {0, 0, 100, 1000}, {0, 0, 1, 1}},
		{"elu", "", {-1, -1, 100, 1000}, {0, 0, 1, 1}},
		{"gelu", "", {0, 0, 100, 1000}, {0, 0, 1, 1}},
		{"gelu", "approximate=tanh", {0, 0, 100, 1000}, {0, 0, 1, 1}},
		{"silu", "", {0, 0, 100, 1000}, {0, 0, 1, 1}},
	};
	double x[] = {-1000, -100, 100, 1000};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(t); i++)
		check(t[i].type, t[i].args, ROW4, x, NULL, NULL, t[i].y, t[i].gx, NULL, 0);
}
END_TEST

START_TEST(softmax_large)
{
	struct clcnn_shape s = {2, {1, 3, 0, 0}};
	double x[] = {1000, 0, -1000}, g[] = {1, 2, 3};
	double sm[] = {1, 0, 0}, smg[] = {0, 0, 0};
	check("softmax", "", s, x, g, NULL, sm, smg, NULL, 0);
	double lsm[] = {0, -1000, -2000}, lsmg[] = {-5, 2, 3};
	check("logsoftmax", "", s, x, g, NULL, lsm, lsmg, NULL, 0);
	double smin[] = {0, 0, 1}, smin_g[] = {0, 0, 0};
	check("softmin", "dim=-1", s, x, g, NULL, smin, smin_g, NULL, 0);
	/* the same along a strided dim (the column kernels): 1x3x1x2, dim 1 */
	struct clcnn_shape s4 = {4, {1, 3, 1, 2}};
	double x4[] = {1000, -1000, 0, 0, -1000, 1000}, g4[] = {1, 1, 2, 2, 3, 3};
	double l4[] = {0, -2000, -1000, -1000, -2000, 0}, lg4[] = {-5, 1, 2, 2, 3, -3};
	check("logsoftmax", "dim=1", s4, x4, g4, NULL, l4, lg4, NULL, 0);
	/* a 0-D input is one element: softmax 1, logsoftmax 0 */
	struct clcnn_shape s0 = {0, {0}};
	double one[] = {1}, zero[] = {0}, x0[] = {3};
	check("softmax", "dim=0", s0, x0, NULL, NULL, one, zero, NULL, 0);
	check("logsoftmax", "dim=-1", s0, x0, NULL, NULL, zero, zero, NULL, 0);
}
END_TEST

START_TEST(defaults)
{
	static const struct {
		const char *type, *full;
	} t[] = {
		{"leaky_relu", "negative_slope=0.01"},
		{"softplus", "beta=1, threshold=20"},
		{"elu", "alpha=1"},
		{"gelu", "approximate=none"},
		{"hardtanh", "min_val=-1, max_val=1"},
		{"prelu", "num_parameters=1, init=0.25"},
		{"softmax", "dim=1"},
		{"logsoftmax", "dim=1"},
		{"softmin", "dim=1"},
		{"relu", ""},
	};
	struct clcnn_shape s = clcnn_shape4(2, 3, 4, 5);
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(t); i++) {
		struct clcnn_op *op;
		char err[256], buf[256];
		ck_assert_msg(clcnn_op_new(t[i].type, "", 1, &s, &op, err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(clcnn_args_format(op->cls, op->args, 0, buf, sizeof buf), 0);
		ck_assert_str_eq(buf, t[i].full);
		ck_assert(clcnn_shape_equal(&op->out, &s));
		clcnn_op_free(op);
	}
	/* prelu's weight: state-dict name "weight", shape [num_parameters], constant init */
	struct clcnn_op *op;
	char err[256];
	ck_assert(clcnn_op_new("prelu", "num_parameters=3, init=0.1", 1, &s, &op, err, sizeof err) == 0);
	ck_assert_int_eq(op->nparam, 1);
	ck_assert_str_eq(op->param[0].name, "weight");
	ck_assert_int_eq(op->param[0].shape.ndim, 1);
	ck_assert_int_eq(op->param[0].shape.d[0], 3);
	ck_assert_int_eq(op->param[0].kind, CLCNN_PARAM_WEIGHT);
	ck_assert_int_eq(op->param[0].init, CLCNN_INIT_CONST);
	ck_assert(op->param[0].init_value == 0.1);
	clcnn_op_free(op);
	ck_assert(clcnn_op_new("prelu", "", 1, &s, &op, err, sizeof err) == 0);
	ck_assert_int_eq(op->param[0].shape.d[0], 1);
	ck_assert(op->param[0].init_value == 0.25);
	clcnn_op_free(op);
	/* 2-D input: the channel is dim 1 (features) */
	struct clcnn_shape s2 = clcnn_shape2(4, 7);
	ck_assert_msg(clcnn_op_new("prelu", "num_parameters=7", 1, &s2, &op, err, sizeof err) == 0, "%s", err);
	clcnn_op_free(op);
}
END_TEST

START_TEST(invalid)
{
	static const struct {
		const char *type, *args;
		int nin;
		struct clcnn_shape s;
		const char *msg;
	} t[] = {
		{"prelu",
		 "num_parameters=2",
		 1,
		 {4, {2, 3, 4, 5}},
		 "prelu: num_parameters=2 must be 1 or the channel count (dim 1) 3"},
		{"prelu",
		 "num_parameters=0",
		 1,
		 {4, {2, 3, 4, 5}},
		 "prelu: num_parameters=0 must be 1 or the channel count (dim 1) 3"},
		{"prelu",
		 "num_parameters=4",
		 1,
		 {2, {4, 7, 0, 0}},
		 "prelu: num_parameters=4 must be 1 or the channel count (dim 1) 7"},
		{"hardtanh",
		 "min_val=1, max_val=-1",
		 1,
		 {4, {2, 3, 4, 5}},
		 "hardtanh: max_val=-1 must be greater than min_val=1"},
		{"hardtanh",
		 "min_val=0.5, max_val=0.5",
		 1,
		 {4, {2, 3, 4, 5}},
		 "hardtanh: max_val=0.5 must be greater than min_val=0.5"},
		{"softplus", "beta=0", 1, {4, {2, 3, 4, 5}}, "softplus: beta must be nonzero, got 0"},
		{"gelu",
		 "approximate=fast",
		 1,
		 {4, {2, 3, 4, 5}},
		 "bad value 'fast' for approximate: expected one of none, tanh"},
		{"leaky_relu",
		 "slope=0.1",
		 1,
		 {4, {2, 3, 4, 5}},
		 "unknown key 'slope' for leaky_relu; known keys: negative_slope"},
		{"elu", "alpha=big", 1, {4, {2, 3, 4, 5}}, "bad value 'big' for alpha: expected a finite number"},
		{"softmax",
		 "dim=4",
		 1,
		 {4, {2, 3, 4, 5}},
		 "softmax: dim=4 out of range for a 4-D input (expected -4..3)"},
		{"softmin",
		 "dim=-5",
		 1,
		 {4, {2, 3, 4, 5}},
		 "softmin: dim=-5 out of range for a 4-D input (expected -4..3)"},
		{"logsoftmax",
		 "dim=-3",
		 1,
		 {2, {4, 7, 0, 0}},
		 "logsoftmax: dim=-3 out of range for a 2-D input (expected -2..1)"},
		{"softmax", "", 1, {0, {0}}, "softmax: dim=1 out of range for a 0-D input (expected -1..0)"},
		{"relu", "", 2, {4, {2, 3, 4, 5}}, "relu takes 1 input, got 2"},
	};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(t); i++) {
		struct clcnn_shape in[2] = {t[i].s, t[i].s};
		struct clcnn_op *op = NULL;
		char err[256] = "";
		ck_assert_int_eq(clcnn_op_new(t[i].type, t[i].args, t[i].nin, in, &op, err, sizeof err),
				 CLCNN_ERR_INVALID);
		ck_assert_ptr_null(op);
		ck_assert_str_eq(err, t[i].msg);
	}
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("activation");
	TCase *tc = tcase_create("kinks and stability");
	tcase_add_test(tc, relu_kink);
	tcase_add_test(tc, leaky_relu_kink);
	tcase_add_test(tc, prelu_kink);
	tcase_add_test(tc, elu_kink);
	tcase_add_test(tc, hardtanh_edges);
	tcase_add_test(tc, softplus_threshold);
	tcase_add_test(tc, large_magnitudes);
	tcase_add_test(tc, softmax_large);
	suite_add_tcase(s, tc);
	TCase *tv = tcase_create("arguments");
	tcase_add_test(tv, defaults);
	tcase_add_test(tv, invalid);
	suite_add_tcase(s, tv);
	return test_run_suite(s);
}
