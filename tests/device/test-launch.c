/*
 * Launch limits (src/device/limits.c, clcnn_kernel_run): grids past a device's work-group count
 * split into several launches with global offsets, work-group limits of 256 and 64 items, a fixed
 * local size that does not fit, malformed CLCNN_DEVICE_PROFILE values, and no warp-starved launch:
 * on a GPU profile every launch of a whole model's training step has work-groups of at least
 * lim.simd items wherever its grid has that many.
 *
 * Tolerance of the model comparison: the same model under gpu and gpu,wg=64 may reduce in other
 * orders (work-group trees of other widths, other GEMM tiles), each a float32 sum of at most a few
 * thousand terms: |difference| <= n 2^-24 sum|terms| per sum, a few 1e-5 relative after the
 * chain of layers. We allow 1e-4 (|want| + the tensor's largest magnitude / 10), far below the
 * size of a wrong term; where the kernels are the same (gpu and gpu,wg=256 have the same limits)
 * the results must be bitwise equal.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clcnn-private.h"
#include "clcnn/graph.h"
#include "device/gemm.h"
#include "ops/op.h"
#include "testutil.h"

static struct clcnn_context *profile_context(const char *profile)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.device_profile = profile;
	o.tune = "off"; /* algorithms by rule, not by timing: the same choice in every run */
	return test_context_with(&o);
}

/* ---------------------------------------------------------------- split grids */

struct probe_result {
	int *visits, *where;
	size_t n;
};

/* Launch clcnn_grid_probe over nx x ny x nz (dims dimensions) with local size local. */
static struct probe_result run_probe(const char *profile, int dims, const int *size, const size_t *local)
{
	struct clcnn_context *ctx = profile_context(profile);
	cl_kernel k;
	ck_assert_msg(clcnn_kernel_get(ctx, "common", "-DCLCNN_GRID_PROBE", "clcnn_grid_probe", &k) == 0, "%s",
		      clcnn_context_error(ctx));
	struct probe_result r = {.n = (size_t)size[0] * (size_t)size[1] * (size_t)size[2]};
	cl_mem visits, where;
	ck_assert_int_eq(clcnn_buffer_new(ctx, r.n * sizeof(int), &visits), 0);
	ck_assert_int_eq(clcnn_buffer_new(ctx, 3 * r.n * sizeof(int), &where), 0);
	ck_assert_int_eq(clcnn_buffer_fill(ctx, visits, 0.0f, r.n), 0);
	ck_assert_int_eq(clcnn_buffer_fill(ctx, where, 0.0f, 3 * r.n), 0);
	ck_assert_int_eq(clcnn_kernel_args(ctx, k, KARG(visits), KARG(where), KARG(size[0]), KARG(size[1]),
					   KARG(size[2])),
			 0);
	size_t global[3] = {(size_t)size[0], (size_t)size[1], (size_t)size[2]};
	ck_assert_msg(clcnn_kernel_run(ctx, k, dims, global, local) == 0, "%s", clcnn_context_error(ctx));
	r.visits = malloc(r.n * sizeof(int));
	r.where = malloc(3 * r.n * sizeof(int));
	ck_assert(r.visits && r.where);
	ck_assert_int_eq(clcnn_buffer_read(ctx, visits, 0, r.n * sizeof(int), r.visits), 0);
	ck_assert_int_eq(clcnn_buffer_read(ctx, where, 0, 3 * r.n * sizeof(int), r.where), 0);
	clcnn_buffer_free(visits);
	clcnn_buffer_free(where);
	clcnn_context_close(ctx);
	return r;
}

/*
 * Loop index: 0 = 1-D (split in x), 1 = 2-D (split in y), 2 = 3-D (split in z), 3 = 3-D split in
 * every dimension. groups=3 against sizes of 7 to 11 groups: several launches, the last one partial.
 */
START_TEST(test_split_grid)
{
	static const struct {
		int dims, size[3];
		size_t local[3];
	} g[] = {
		{1, {1000, 1, 1}, {32, 1, 1}},
		{2, {40, 37, 1}, {32, 4, 1}},
		{3, {33, 5, 23}, {32, 1, 2}},
		{3, {70, 9, 11}, {8, 2, 1}},
	};
	const int *size = g[_i].size;
	struct probe_result whole = run_probe("gpu", g[_i].dims, size, g[_i].local);
	struct probe_result split = run_probe("gpu,groups=3", g[_i].dims, size, g[_i].local);
	for (int z = 0; z < size[2]; z++)
		for (int y = 0; y < size[1]; y++)
			for (int x = 0; x < size[0]; x++) {
				size_t i = ((size_t)z * size[1] + y) * size[0] + x;
				int id[3] = {x, y, z};
				ck_assert_msg(whole.visits[i] == 1 && split.visits[i] == 1,
					      "case %d: item (%d, %d, %d) ran %d times unsplit, %d times split", _i, x,
					      y, z, whole.visits[i], split.visits[i]);
				for (int d = 0; d < 3; d++) {
					int l = (int)g[_i].local[d];
					int want = id[d] / l * 1024 + id[d] % l;
					ck_assert_msg(
						split.where[i * 3 + d] == want && whole.where[i * 3 + d] == want,
						"case %d: item (%d, %d, %d) dimension %d: group/local %d split, %d "
						"unsplit, want %d",
						_i, x, y, z, d, split.where[i * 3 + d], whole.where[i * 3 + d], want);
				}
			}
	free(whole.visits);
	free(whole.where);
	free(split.visits);
	free(split.where);
}
END_TEST

/* gemm_gpu over a grid split into blocks of two work-groups equals the unsplit launch, bitwise. */
static float *gemm_under(const char *profile, int m, int n, int k, int batch)
{
	struct clcnn_context *ctx = profile_context(profile);
	size_t na = (size_t)m * k * batch, nb = (size_t)k * n * batch, nc = (size_t)m * n * batch;
	float *h = malloc((na + nb) * sizeof(float)), *c = malloc(nc * sizeof(float));
	ck_assert(h && c);
	uint32_t s = 7;
	for (size_t i = 0; i < na + nb; i++) {
		s = s * 1664525u + 1013904223u;
		h[i] = (float)(s >> 8) * (2.0f / 16777216.0f) - 1.0f;
	}
	cl_mem a, b, cm;
	ck_assert_int_eq(clcnn_buffer_new(ctx, na * sizeof(float), &a), 0);
	ck_assert_int_eq(clcnn_buffer_new(ctx, nb * sizeof(float), &b), 0);
	ck_assert_int_eq(clcnn_buffer_new(ctx, nc * sizeof(float), &cm), 0);
	ck_assert_int_eq(clcnn_buffer_write(ctx, a, 0, na * sizeof(float), h), 0);
	ck_assert_int_eq(clcnn_buffer_write(ctx, b, 0, nb * sizeof(float), h + na), 0);
	struct clcnn_gemm_config cf = {.algo = CLCNN_GEMM_GPU_TILED};
	struct clcnn_gemm_args args = {.m = m,
				       .n = n,
				       .k = k,
				       .batch = batch,
				       .alpha = 1.0f,
				       .a = {a, 0, k, (size_t)m * k},
				       .b = {b, 0, n, (size_t)k * n},
				       .c = {cm, 0, n, (size_t)m * n}};
	ck_assert_msg(clcnn_gemm_with(ctx, &cf, NULL, &args) == 0, "%s: %s", profile, clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_buffer_read(ctx, cm, 0, nc * sizeof(float), c), 0);
	clcnn_buffer_free(a);
	clcnn_buffer_free(b);
	clcnn_buffer_free(cm);
	clcnn_context_close(ctx);
	free(h);
	return c;
}

START_TEST(test_split_gemm)
{
	/* 32 x 32 blocks under wg=64: 4 x 5 blocks x 3 batch entries, so groups=2 splits x, y and z */
	const int m = 150, n = 101, k = 37, batch = 3;
	float *whole = gemm_under("gpu,wg=64", m, n, k, batch);
	float *split = gemm_under("gpu,wg=64,groups=2", m, n, k, batch);
	size_t nc = (size_t)m * n * batch;
	for (size_t i = 0; i < nc; i++)
		ck_assert_msg(memcmp(&whole[i], &split[i], sizeof(float)) == 0, "C[%zu]: %.9g unsplit, %.9g split", i,
			      (double)whole[i], (double)split[i]);
	/* and the values are a product, not zeros left by skipped blocks: C[0][0] in double */
	float *again = gemm_under("gpu", m, n, k, batch);
	for (size_t i = 0; i < nc; i++)
		ck_assert_msg(fabsf(again[i] - split[i]) <= 1e-5f * (float)k, "C[%zu]: %g with 256-item groups, %g", i,
			      (double)again[i], (double)split[i]);
	ck_assert(fabsf(split[0]) > 0.0f);
	free(whole);
	free(split);
	free(again);
}
END_TEST

/* ---------------------------------------------------------------- a model under work-group limits */

static const char small_net[] = "x = input(shape=(3,9,11))\n"
				"y = input()\n"
				"c1 = conv2d(x, out_channels=6, kernel_size=3, padding=1)\n"
				"bn = batchnorm2d\n"
				"r = relu\n"
				"p = maxpool2d(kernel_size=2)\n"
				"c2 = conv2d(out_channels=5, kernel_size=3, bias=false)\n"
				"g = gelu\n"
				"flat = flatten\n"
				"fc1 = linear(out_features=17)\n"
				"t = tanh\n"
				"drop = dropout(p=0.25)\n"
				"fc2 = linear(out_features=10)\n"
				"loss = cross_entropy(fc2, y)\n";

struct model_run {
	float loss;
	float *out;  /* fc2 */
	float *gx;   /* d loss / d x */
	float *grad; /* every trainable parameter's gradient, concatenated */
	size_t nout, ngx, ngrad;
};

static struct model_run run_model(const char *profile)
{
	const int batch = 7;
	struct clcnn_context *ctx = profile_context(profile);
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, small_net, "limits.net", &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "x"), 0);
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s: %s", profile, clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(g, 3, "default"), 0);
	struct model_run r = {.nout = (size_t)batch * 10, .ngx = (size_t)batch * 3 * 9 * 11};
	float *x = malloc(r.ngx * sizeof(float)), y[7];
	ck_assert(x != NULL);
	uint64_t s = 11;
	for (size_t i = 0; i < r.ngx; i++)
		x[i] = (float)clcnn_test_uniform(&s, -2, 2);
	for (int i = 0; i < batch; i++)
		y[i] = (float)((i * 3 + 1) % 10);
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", x), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "y", y), 0);
	ck_assert_msg(clcnn_graph_forward(g, 1, 5) == 0, "%s: %s", profile, clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_backward(g) == 0, "%s: %s", profile, clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_loss(g, &r.loss), 0);
	r.out = malloc(r.nout * sizeof(float));
	r.gx = malloc(r.ngx * sizeof(float));
	ck_assert(r.out && r.gx);
	ck_assert_int_eq(clcnn_graph_read(g, "fc2", r.out), 0);
	ck_assert_int_eq(clcnn_graph_read_input_grad(g, "x", r.gx), 0);
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		ck_assert_int_eq(clcnn_graph_param_info(g, i, &pi), 0);
		if (!pi.trainable)
			continue;
		r.grad = realloc(r.grad, (r.ngrad + pi.count) * sizeof(float));
		ck_assert(r.grad != NULL);
		ck_assert_int_eq(clcnn_graph_grad_read(g, i, r.grad + r.ngrad), 0);
		r.ngrad += pi.count;
	}
	free(x);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	return r;
}

static void free_run(struct model_run *r)
{
	free(r->out);
	free(r->gx);
	free(r->grad);
}

static void compare(const char *what, const char *profile, const float *got, const float *want, size_t n, int bitwise)
{
	float big = 0;
	for (size_t i = 0; i < n; i++)
		big = fmaxf(big, fabsf(want[i]));
	ck_assert_msg(big > 0, "%s: all zero", what);
	for (size_t i = 0; i < n; i++) {
		if (bitwise)
			ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0,
				      "%s under %s: [%zu] = %.9g, gpu %.9g", what, profile, i, (double)got[i],
				      (double)want[i]);
		else
			ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-4f * (fabsf(want[i]) + big / 10),
				      "%s under %s: [%zu] = %.9g, gpu %.9g", what, profile, i, (double)got[i],
				      (double)want[i]);
	}
}

/* Loop index 0: gpu,wg=256 (the gpu profile's own limit: bitwise), 1: gpu,wg=64. */
START_TEST(test_model_wg)
{
	static const char *const profiles[] = {"gpu,wg=256", "gpu,wg=64"};
	struct model_run want = run_model("gpu"), got = run_model(profiles[_i]);
	int bitwise = _i == 0;
	ck_assert_msg(isfinite(want.loss) && want.loss > 0, "loss %g", (double)want.loss);
	compare("loss", profiles[_i], &got.loss, &want.loss, 1, bitwise);
	compare("fc2", profiles[_i], got.out, want.out, want.nout, bitwise);
	compare("d loss / d x", profiles[_i], got.gx, want.gx, want.ngx, bitwise);
	ck_assert_uint_eq(got.ngrad, want.ngrad);
	compare("parameter gradients", profiles[_i], got.grad, want.grad, want.ngrad, bitwise);
	free_run(&want);
	free_run(&got);
}
END_TEST

/*
 * A training step (forward, backward, SGD with momentum) of each model on the gpu profile: no launch
 * whose grid has at least simd work-items runs in groups of fewer (clcnn_kernel_run counts them in
 * ctx->narrow_launches). Loop index: 0 the small net above, 1 models/fmnist.net, 2 models/resnet.net.
 */
START_TEST(test_whole_warps)
{
	static const char *const models[] = {NULL, "fmnist.net", "resnet.net"};
	struct clcnn_context *ctx = profile_context("gpu");
	char path[256];
	snprintf(path, sizeof path, "../../models/%s", models[_i] ? models[_i] : "");
	char *text = models[_i] ? test_slurp(path) : NULL;
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, text ? text : small_net, models[_i] ? models[_i] : "limits.net", &g) == 0,
		      "%s", clcnn_context_error(ctx));
	const int batch = 5;
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(g, 3, "default"), 0);
	/* input 0 the images (dims without the batch), input 1 the class labels */
	const char *xname, *yname;
	int ndim, dims[CLCNN_MAX_DIMS];
	ck_assert_int_eq(clcnn_graph_input_count(g), 2);
	ck_assert_int_eq(clcnn_graph_input_info(g, 1, &yname, &ndim, dims), 0);
	ck_assert_int_eq(clcnn_graph_input_info(g, 0, &xname, &ndim, dims), 0);
	size_t nx = (size_t)batch;
	for (int d = 0; d < ndim; d++)
		nx *= (size_t)dims[d];
	float *x = malloc(nx * sizeof(float)), y[5];
	ck_assert(x != NULL);
	uint64_t s = 5;
	for (size_t i = 0; i < nx; i++)
		x[i] = (float)clcnn_test_uniform(&s, -1, 1);
	for (int i = 0; i < batch; i++)
		y[i] = (float)(i % 10);
	ck_assert_int_eq(clcnn_graph_set_input(g, xname, x), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, yname, y), 0);
	ctx->narrow_launches = 0;
	ck_assert_msg(clcnn_graph_forward(g, 1, 5) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_backward(g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_context_finish(ctx), 0);
	ck_assert_msg(ctx->narrow_launches == 0, "%s: %zu launches in groups narrower than %d, the first of kernel %s",
		      models[_i] ? models[_i] : "the small net", ctx->narrow_launches, ctx->lim.simd,
		      ctx->narrow_kernel);
	free(x);
	free(text);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

/* A local size fixed by the caller (or by a kernel's tiles) beyond the limit fails naming the kernel. */
START_TEST(test_fixed_local_too_big)
{
	struct clcnn_context *ctx = profile_context("gpu,wg=64");
	cl_kernel k;
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "-DCLCNN_GRID_PROBE", "clcnn_grid_probe", &k), 0);
	cl_mem m;
	ck_assert_int_eq(clcnn_buffer_new(ctx, 4096 * sizeof(int), &m), 0);
	int one = 1, n = 1024;
	ck_assert_int_eq(clcnn_kernel_args(ctx, k, KARG(m), KARG(m), KARG(n), KARG(one), KARG(one)), 0);
	size_t global = 1024, local = 128;
	ck_assert_int_eq(clcnn_kernel_run(ctx, k, 1, &global, &local), CLCNN_ERR_INVALID);
	const char *e = clcnn_context_error(ctx);
	ck_assert_msg(strstr(e, "kernel clcnn_grid_probe") && strstr(e, "128") && strstr(e, "64"), "message: %s", e);
	/* a picked local size is lowered instead */
	local = 0;
	ck_assert_msg(clcnn_kernel_run(ctx, k, 1, &global, &local) == 0, "%s", clcnn_context_error(ctx));
	/* gemm_gpu with its 256-item tiles fixed by the caller */
	struct clcnn_gemm_config cf = {.algo = CLCNN_GEMM_GPU_TILED, .tsm = 64, .tsn = 64, .wptm = 4, .wptn = 4};
	struct clcnn_gemm_args args =
		{.m = 8, .n = 8, .k = 8, .alpha = 1.0f, .a = {m, 0, 8}, .b = {m, 0, 8}, .c = {m, 512, 8}};
	ck_assert_int_eq(clcnn_gemm_with(ctx, &cf, NULL, &args), CLCNN_ERR_INVALID);
	e = clcnn_context_error(ctx);
	ck_assert_msg(strstr(e, "kernel gemm_gpu") && strstr(e, "256"), "message: %s", e);
	/* the default tiles fit */
	cf = (struct clcnn_gemm_config){.algo = CLCNN_GEMM_GPU_TILED};
	ck_assert_msg(clcnn_gemm_with(ctx, &cf, NULL, &args) == 0, "%s", clcnn_context_error(ctx));
	clcnn_buffer_free(m);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(test_bad_profile)
{
	static const struct {
		const char *profile, *says;
	} bad[] = {
		{"gpu,bad=3", "unknown key 'bad'"}, {"gpu,vw=3", "vw=3"},
		{"gpx", "'gpx' is not a profile"},  {"gpu,wg=0", "'wg=0' is not key=N"},
		{"gpu,wg", "'wg' is not key=N"},    {"gpu,local=8k", "'local=8k' is not key=N"},
	};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(bad); i++) {
		struct clcnn_options o;
		clcnn_options_from_env(&o);
		o.device_profile = bad[i].profile;
		struct clcnn_context *ctx = NULL;
		char err[1024] = "";
		ck_assert_int_eq(clcnn_context_open(&ctx, &o, err, sizeof err), CLCNN_ERR_INVALID);
		ck_assert_msg(strstr(err, "CLCNN_DEVICE_PROFILE") && strstr(err, bad[i].says), "%s: message %s",
			      bad[i].profile, err);
		clcnn_context_close(ctx); /* a failed open leaves the half-built context to close */
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_split_grid, 0, 4);
	tcase_add_test(tc, test_split_gemm);
	tcase_add_loop_test(tc, test_model_wg, 0, 2);
	tcase_add_loop_test(tc, test_whole_warps, 0, 3);
	tcase_add_test(tc, test_fixed_local_too_big);
	tcase_add_test(tc, test_bad_profile);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
