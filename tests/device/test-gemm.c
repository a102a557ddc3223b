/*
 * Device GEMM: every algorithm x every transposition x odd shapes x alpha/beta, batched, with offsets,
 * padded leading dimensions and gaps between batch entries, against a double-precision reference.
 *
 * Tolerance: a float32 dot product of length k accumulated in any order (sequential, vector partial
 * sums, tiles) has |err| <= gamma_k * sum|a||b| with gamma_k ~ k * 2^-24; alpha and beta add a few
 * more roundings. We allow (k + 4) * 2^-23 * (|alpha| sum|a||b| + |beta c|), twice that bound, so
 * fused and unfused mad both pass while a dropped or repeated term (>= one |a||b|) cannot.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "device/gemm.h"
#include "testutil.h"

#define SENTINEL 12345.0f

/*
 * shared_a: every batch entry uses the same A (stride 0), as a convolution's weights do; bias: with
 * clcnn_gemm_args.bias (n values added to every row); act: the epilogue's activation after it
 * (enum clcnn_gemm_act; leaky_relu with the slope LEAKY_SLOPE)
 */
struct gemm_case {
	int m, n, k, batch, shared_a, bias, act;
};

#define LEAKY_SLOPE 0.3f

static const struct gemm_case cases[] = {
	{1, 1, 1, 1, 0, 0, 0},
	{7, 13, 5, 3, 1, 0, 0},
	{33, 65, 17, 2, 0, 0, 0},
	{100, 37, 129, 1, 0, 0, 0},
	{128, 300, 576, 1, 0, 0, 0},
	{4, 5, 0, 1, 0, 0, 0},
	{9, 70, 40, 2, 1, 0, 0},
	/* small m or n (A * B^T runs gemm_gemv on CPU_VEC): a linear layer at batch 1, and both sides;
	 * with a bias, there and (a pass after the product) past the small-m kernel */
	{1, 257, 3137, 1, 0, 0, 0},
	{3, 7, 5, 2, 1, 0, 0},
	{65, 2, 33, 2, 0, 0, 0},
	{1, 257, 3137, 1, 0, 1, 0},
	{3, 7, 5, 2, 1, 1, 0},
	{65, 2, 33, 2, 0, 1, 0},
	{17, 37, 70, 2, 0, 1, 0},
	/* m >= 256 and a column panel past 32 KiB: CPU_VEC packs B (gemm_pack), the last panel partial, and
	 * A^T in row tiles (n >= 64), the last one partial; A shared (packed once) and not */
	{257, 70, 131, 2, 1, 0, 0},
	{258, 66, 140, 2, 0, 0, 0},
	/* the epilogue's activations, with and without a bias, through every kernel that stores C (the
	 * tiles, the transposed store, the k-vectorised kernel, both small-m kernels) or the pass after it */
	{17, 37, 70, 2, 0, 1, CLCNN_GEMM_ACT_RELU},
	{33, 65, 17, 2, 0, 0, CLCNN_GEMM_ACT_LEAKY_RELU},
	{3, 7, 5, 2, 1, 1, CLCNN_GEMM_ACT_LEAKY_RELU},
	{65, 2, 33, 2, 0, 0, CLCNN_GEMM_ACT_RELU},
};
/* the first of the cases above (test_gemm_gpu_limits runs them) */
#define FIRST_ACT_CASE 16

/* Each algorithm with a workspace, and CPU_VEC also without one (its A * B^T path differs). */
static const struct {
	enum clcnn_gemm_algo algo;
	int use_ws;
} algos[] = {
	{CLCNN_GEMM_CPU_VEC, 1}, {CLCNN_GEMM_CPU_VEC, 0}, {CLCNN_GEMM_GPU_TILED, 1},
	{CLCNN_GEMM_CLBLAST, 1}, {CLCNN_GEMM_NAIVE, 1},
};

/* Deterministic values in [-1, 1). */
static float next_value(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)(*s >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* One stored operand with offset, padded leading dimension and a gap between batch entries. */
struct operand {
	int rows, cols, ld;
	size_t off, stride, count;
	float *host;
	cl_mem mem;
};

/* The GEMM call of case g over stored operands a, b (transposed when ta, tb) and c. */
static struct clcnn_gemm_args case_args(const struct gemm_case *g, float alpha, float beta, const struct operand *a,
					int ta, const struct operand *b, int tb, const struct operand *c)
{
	return (struct clcnn_gemm_args){.m = g->m,
					.n = g->n,
					.k = g->k,
					.batch = g->batch,
					.alpha = alpha,
					.beta = beta,
					.a = {a->mem, a->off, a->ld, a->stride, ta},
					.b = {b->mem, b->off, b->ld, b->stride, tb},
					.c = {c->mem, c->off, c->ld, c->stride}};
}

static void operand_init(struct clcnn_context *ctx, struct operand *o, int rows, int cols, int batch, uint32_t *seed,
			 int fill_nan)
{
	o->rows = rows, o->cols = cols;
	o->ld = (cols > 1 ? cols : 1) + 3;
	o->off = 5;
	o->stride = batch ? (size_t)rows * (size_t)o->ld + 7 : 0;
	batch = batch ? batch : 1; /* 0: one entry shared by the whole batch */
	o->count = o->off + ((size_t)rows * (size_t)o->ld + 7) * (size_t)batch;
	o->host = malloc(o->count * sizeof(float));
	ck_assert(o->host != NULL);
	for (size_t i = 0; i < o->count; i++)
		o->host[i] = SENTINEL;
	for (int z = 0; z < batch; z++)
		for (int r = 0; r < rows; r++)
			for (int c = 0; c < cols; c++)
				o->host[o->off + (size_t)z * o->stride + (size_t)r * o->ld + c] =
					fill_nan ? NAN : next_value(seed);
	ck_assert_int_eq(clcnn_buffer_new(ctx, o->count * sizeof(float), &o->mem), 0);
	ck_assert_int_eq(clcnn_buffer_write(ctx, o->mem, 0, o->count * sizeof(float), o->host), 0);
}

static void operand_free(struct operand *o)
{
	free(o->host);
	clcnn_buffer_free(o->mem);
}

static float at(const struct operand *o, int z, int r, int c)
{
	return o->host[o->off + (size_t)z * o->stride + (size_t)r * o->ld + c];
}

/* Run one case through algo (AUTO through clcnn_gemm itself) and compare every element of C's buffer. */
static void check_case(struct clcnn_context *ctx, enum clcnn_gemm_algo algo, struct clcnn_gemm_workspace *ws, int ta,
		       int tb, const struct gemm_case *g, float alpha, float beta)
{
	uint32_t seed = (uint32_t)(g->m * 7919 + g->n * 131 + g->k + ta * 17 + tb * 29);
	struct operand a, b, c;
	operand_init(ctx, &a, ta ? g->k : g->m, ta ? g->m : g->k, g->shared_a ? 0 : g->batch, &seed, 0);
	operand_init(ctx, &b, tb ? g->n : g->k, tb ? g->k : g->n, g->batch, &seed, 0);
	operand_init(ctx, &c, g->m, g->n, g->batch, &seed, beta == 0.0f);
	struct operand bias = {0};
	if (g->bias)
		operand_init(ctx, &bias, 1, g->n, 0, &seed, 0);
	struct clcnn_gemm_config cf = {.algo = algo};
	struct clcnn_gemm_args args = case_args(g, alpha, beta, &a, ta, &b, tb, &c);
	if (g->bias) { /* the bias vector starts at element 0 of its buffer */
		ck_assert_int_eq(clcnn_buffer_write(ctx, bias.mem, 0, (size_t)g->n * sizeof(float),
						    &bias.host[bias.off]),
				 0);
		args.bias = bias.mem;
	}
	args.act = g->act;
	args.act_slope = g->act == CLCNN_GEMM_ACT_LEAKY_RELU ? LEAKY_SLOPE : 0.0f;
	int rc = algo == CLCNN_GEMM_AUTO ? clcnn_gemm(ctx, &args) : clcnn_gemm_with(ctx, &cf, ws, &args);
	ck_assert_msg(rc == 0, "gemm: %s", clcnn_context_error(ctx));
	float *out = malloc(c.count * sizeof(float));
	ck_assert(out != NULL);
	ck_assert_int_eq(clcnn_buffer_read(ctx, c.mem, 0, c.count * sizeof(float), out), 0);

	char name[32];
	snprintf(name, sizeof name, "%s%s", clcnn_gemm_algo_name(algo), ws ? "" : " (no workspace)");
	/* everything outside the m x n windows must be untouched */
	size_t inside = 0;
	for (size_t i = 0; i < c.count; i++) {
		size_t rel = i - c.off, z = rel / c.stride, w = rel % c.stride;
		int in = i >= c.off && z < (size_t)g->batch && w / (size_t)c.ld < (size_t)g->m &&
			 w % (size_t)c.ld < (size_t)g->n;
		inside += (size_t)in;
		if (!in)
			ck_assert_msg(out[i] == SENTINEL, "%s %c%c %dx%dx%d: wrote outside C at element %zu (%g)", name,
				      ta ? 'T' : 'N', tb ? 'T' : 'N', g->m, g->n, g->k, i, (double)out[i]);
	}
	ck_assert_uint_eq(inside, (size_t)g->m * g->n * g->batch);

	for (int z = 0; z < g->batch; z++)
		for (int i = 0; i < g->m; i++)
			for (int j = 0; j < g->n; j++) {
				double s = 0, mag = 0;
				for (int p = 0; p < g->k; p++) {
					double x = ta ? at(&a, z, p, i) : at(&a, z, i, p);
					double y = tb ? at(&b, z, j, p) : at(&b, z, p, j);
					s += x * y;
					mag += fabs(x * y);
				}
				double c0 = beta == 0.0f ? 0.0 : at(&c, z, i, j);
				double bj = g->bias ? at(&bias, 0, 0, j) : 0.0;
				double want = alpha * s + beta * c0 + bj;
				if (g->act == CLCNN_GEMM_ACT_RELU)
					want = want < 0 ? 0 : want;
				else if (g->act == CLCNN_GEMM_ACT_LEAKY_RELU)
					want = want > 0 ? want : want * LEAKY_SLOPE;
				double tol = (g->k + 4) * ldexp(1.0, -23) *
						     (fabs(alpha) * mag + fabs(beta * c0) + fabs(bj)) +
					     1e-30;
				double got = out[c.off + (size_t)z * c.stride + (size_t)i * c.ld + j];
				ck_assert_msg(
					fabs(got - want) <= tol,
					"%s %c%c %dx%dx%d batch %d alpha %g beta %g: C[%d][%d][%d] = %.9g, want %.9g "
					"(tol %.3g)",
					name, ta ? 'T' : 'N', tb ? 'T' : 'N', g->m, g->n, g->k, g->batch, (double)alpha,
					(double)beta, z, i, j, got, want, tol);
			}
	free(out);
	operand_free(&a);
	operand_free(&b);
	operand_free(&c);
	if (g->bias)
		operand_free(&bias);
}

/*
 * An algorithm this build lacks (CLBlast with -Dclblast=disabled) is refused with a message that
 * says why, and C is left alone, instead of being computed by another algorithm.
 */
static void check_unavailable(struct clcnn_context *ctx, enum clcnn_gemm_algo algo, struct clcnn_gemm_workspace *ws,
			      int ta, int tb)
{
	ck_assert_int_eq(algo, CLCNN_GEMM_CLBLAST);
	uint32_t seed = 1;
	const struct gemm_case *g = &cases[1];
	struct operand a, b, c;
	operand_init(ctx, &a, ta ? g->k : g->m, ta ? g->m : g->k, g->batch, &seed, 0);
	operand_init(ctx, &b, tb ? g->n : g->k, tb ? g->k : g->n, g->batch, &seed, 0);
	operand_init(ctx, &c, g->m, g->n, g->batch, &seed, 0);
	struct clcnn_gemm_config cf = {.algo = algo};
	const struct clcnn_gemm_args args = case_args(g, 1.0f, 0.0f, &a, ta, &b, tb, &c);
	int rc = clcnn_gemm_with(ctx, &cf, ws, &args);
	ck_assert_int_eq(rc, CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(clcnn_context_error(ctx), "clcnn was built without CLBlast") != NULL, "message: %s",
		      clcnn_context_error(ctx));
	float *out = malloc(c.count * sizeof(float));
	ck_assert(out != NULL);
	ck_assert_int_eq(clcnn_buffer_read(ctx, c.mem, 0, c.count * sizeof(float), out), 0);
	ck_assert(memcmp(out, c.host, c.count * sizeof(float)) == 0);
	free(out);
	operand_free(&a);
	operand_free(&b);
	operand_free(&c);
}

/* Loop index = algorithm * 4 + transposition (bit 1: A^T, bit 0: B^T). */
START_TEST(test_gemm_algo)
{
	struct clcnn_context *ctx = test_context();
	enum clcnn_gemm_algo algo = algos[_i / 4].algo;
	struct clcnn_gemm_workspace w = {0}, *ws = algos[_i / 4].use_ws ? &w : NULL;
	int ta = (_i >> 1) & 1, tb = _i & 1;
	if (!clcnn_gemm_algo_available(algo)) {
		check_unavailable(ctx, algo, ws, ta, tb);
		clcnn_context_close(ctx);
		return;
	}
	for (size_t s = 0; s < CLCNN_ARRAY_LEN(cases); s++) {
		check_case(ctx, algo, ws, ta, tb, &cases[s], 1.0f, 0.0f);
		check_case(ctx, algo, ws, ta, tb, &cases[s], 0.5f, -1.5f);
	}
	check_case(ctx, algo, ws, ta, tb, &cases[2], -2.0f, 1.0f);
	/* the workspace is exactly the most that a call said it needs, and only grows */
	size_t need = 0;
	for (size_t s = 0; s < CLCNN_ARRAY_LEN(cases); s++) {
		size_t b = clcnn_gemm_workspace_bytes(ctx, &(struct clcnn_gemm_config){.algo = algo}, ta, tb,
						      cases[s].m, cases[s].n, cases[s].k, cases[s].batch);
		need = b > need ? b : need;
	}
	ck_assert_uint_eq(w.bytes, ws ? need : 0);
	clcnn_gemm_workspace_release(&w);
	clcnn_gemm_workspace_release(NULL);
	clcnn_context_close(ctx);
}
END_TEST

/* The default entry point picks an algorithm for the device and must agree too. */
START_TEST(test_gemm_auto)
{
	struct clcnn_context *ctx = test_context();
	int ta = (_i >> 1) & 1, tb = _i & 1;
	check_case(ctx, CLCNN_GEMM_AUTO, NULL, ta, tb, &cases[2], 1.0f, 0.0f);
	check_case(ctx, CLCNN_GEMM_AUTO, NULL, ta, tb, &cases[3], 0.5f, 2.0f);
	clcnn_context_close(ctx);
}
END_TEST

/* Tile variants the bench may pick, including the AVX2 width, must stay exact on edges. */
START_TEST(test_gemm_cpu_tiles)
{
	struct clcnn_context *ctx = test_context();
	static const struct clcnn_gemm_config tiles[] = {
		{.algo = CLCNN_GEMM_CPU_VEC, .vw = 8, .tm = 3, .tnv = 1, .lx = 4, .dm = 3, .dn = 2},
		{.algo = CLCNN_GEMM_CPU_VEC, .vw = 16, .tm = 6, .tnv = 3, .lx = 8, .dm = 2, .dn = 5},
	};
	const struct clcnn_gemm_config *t = &tiles[_i / 8];
	struct clcnn_gemm_workspace w = {0}, *ws = (_i >> 2) & 1 ? &w : NULL;
	int ta = (_i >> 1) & 1, tb = _i & 1;
	for (size_t s = 1; s < 4; s++) {
		const struct gemm_case *g = &cases[s];
		uint32_t seed = 1;
		struct operand a, b, c, r;
		operand_init(ctx, &a, ta ? g->k : g->m, ta ? g->m : g->k, g->shared_a ? 0 : g->batch, &seed, 0);
		operand_init(ctx, &b, tb ? g->n : g->k, tb ? g->k : g->n, g->batch, &seed, 0);
		operand_init(ctx, &c, g->m, g->n, g->batch, &seed, 0);
		operand_init(ctx, &r, g->m, g->n, g->batch, &seed, 0);
		struct clcnn_gemm_config naive = {.algo = CLCNN_GEMM_NAIVE};
		const struct clcnn_gemm_args tuned = case_args(g, 1.0f, 0.0f, &a, ta, &b, tb, &c);
		const struct clcnn_gemm_args ref = case_args(g, 1.0f, 0.0f, &a, ta, &b, tb, &r);
		ck_assert_int_eq(clcnn_gemm_with(ctx, t, ws, &tuned), 0);
		ck_assert_int_eq(clcnn_gemm_with(ctx, &naive, NULL, &ref), 0);
		float *x = malloc(c.count * sizeof(float)), *y = malloc(c.count * sizeof(float));
		ck_assert(x && y);
		ck_assert_int_eq(clcnn_buffer_read(ctx, c.mem, 0, c.count * sizeof(float), x), 0);
		ck_assert_int_eq(clcnn_buffer_read(ctx, r.mem, 0, r.count * sizeof(float), y), 0);
		/* |a|, |b| < 1, so sum |a||b| < k: the tolerance above with that bound, both sides rounded */
		double tol = 2.0 * (g->k + 4) * ldexp(1.0, -23) * g->k;
		for (size_t i = 0; i < c.count; i++)
			ck_assert_msg(fabs((double)x[i] - y[i]) <= tol,
				      "tile vw=%d tm=%d tnv=%d dm=%d dn=%d %dx%dx%d: "
				      "element %zu is %g, naive %g",
				      t->vw, t->tm, t->tnv, t->dm, t->dn, g->m, g->n, g->k, i, (double)x[i],
				      (double)y[i]);
		free(x);
		free(y);
		operand_free(&a);
		operand_free(&b);
		operand_free(&c);
		operand_free(&r);
	}
	clcnn_gemm_workspace_release(&w);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * GPU_TILED with the tiles it picks under a device profile's limits: a 64- or 256-item work-group
 * limit, 8 KiB or 4 KiB of __local (smaller k slices), two work-groups a launch dimension (the host
 * splits the grid). A tile that did not fit would fail the launch check; one that fits but indexes
 * wrongly fails the values. Loop index = profile * 4 + transposition.
 */
static const char *const gpu_profiles[] = {
	"gpu", "gpu,wg=64", "gpu,wg=256", "gpu,local=8192", "gpu,wg=128,local=4096", "gpu,groups=2,wg=64",
};

START_TEST(test_gemm_gpu_limits)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.device_profile = gpu_profiles[_i / 4];
	struct clcnn_context *ctx = test_context_with(&o);
	int ta = (_i >> 1) & 1, tb = _i & 1;
	/* odd m, n, k: partial blocks in both directions and a partial k slice */
	for (size_t s = 1; s < 5; s++)
		check_case(ctx, CLCNN_GEMM_GPU_TILED, NULL, ta, tb, &cases[s], 1.0f, 0.0f);
	check_case(ctx, CLCNN_GEMM_GPU_TILED, NULL, ta, tb, &cases[6], 0.5f, -1.5f);
	/* small m or n, with and without a bias (A * B^T runs gemm_gemv_gpu) */
	for (size_t s = 8; s < 14; s++)
		if (cases[s].k < 1000)
			check_case(ctx, CLCNN_GEMM_GPU_TILED, NULL, ta, tb, &cases[s], 0.5f, -1.5f);
	/* the epilogue's activations: after the tiled kernel, and inside gemm_gemv_gpu */
	for (size_t s = FIRST_ACT_CASE; s < CLCNN_ARRAY_LEN(cases); s++)
		check_case(ctx, CLCNN_GEMM_GPU_TILED, NULL, ta, tb, &cases[s], 0.5f, -1.5f);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(test_gemm_invalid)
{
	struct clcnn_context *ctx = test_context();
	cl_mem m;
	ck_assert_int_eq(clcnn_buffer_new(ctx, 64 * sizeof(float), &m), 0);
	/* lda must cover k columns of a non-transposed A */
	int rc = clcnn_gemm(ctx, &(struct clcnn_gemm_args){.m = 4,
							   .n = 4,
							   .k = 4,
							   .alpha = 1.0f,
							   .a = {m, 0, 3},
							   .b = {m, 0, 4},
							   .c = {m, 0, 4}});
	ck_assert_int_eq(rc, CLCNN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "lda=3"));
	rc = clcnn_gemm(ctx, &(struct clcnn_gemm_args){.m = -1,
						       .n = 4,
						       .k = 4,
						       .alpha = 1.0f,
						       .a = {m, 0, 4},
						       .b = {m, 0, 4},
						       .c = {m, 0, 4}});
	ck_assert_int_eq(rc, CLCNN_ERR_INVALID);
	/* an empty product is a no-op, not an error */
	ck_assert_int_eq(clcnn_gemm(ctx, &(struct clcnn_gemm_args){.m = 0,
								   .n = 4,
								   .k = 4,
								   .alpha = 1.0f,
								   .a = {m, 0, 4},
								   .b = {m, 0, 4},
								   .c = {m, 0, 4}}),
			 0);
	clcnn_buffer_free(m);
	clcnn_context_close(ctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("gemm");
	TCase *tc = tcase_create("gemm");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_gemm_algo, 0, (int)CLCNN_ARRAY_LEN(algos) * 4);
	tcase_add_loop_test(tc, test_gemm_auto, 0, 4);
	tcase_add_loop_test(tc, test_gemm_cpu_tiles, 0, 16);
	tcase_add_loop_test(tc, test_gemm_gpu_limits, 0, (int)CLCNN_ARRAY_LEN(gpu_profiles) * 4);
	tcase_add_test(tc, test_gemm_invalid);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
