/*
 * The GPU convolution algorithms (igemm_gpu, igemm_gpu32, im2col_clblast) on contexts opened with the
 * GPU device profile, so that the ordinary (CPU-profile) suite runs them as a GPU would: every case of
 * conv2d's table that forces a GPU-only algorithm, against the double-precision reference, under
 * "gpu" and under lowered limits ("gpu,wg=64": tiles of 64 work-items; "gpu,local=8192": a shorter k
 * step; "gpu,groups=2": split launches), with the same bits under every tile; the weight gradient's K slices (reproducible bit for
 * bit, any slice count within tolerance); the tiles chosen; which algorithms each profile offers; and a
 * flipped convolution equal bit for bit to the unflipped one with rotated weights.
 * (test-ops runs the same cases with finite differences on the environment's profile.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/gemm.h"
#include "ops/conv-gpu.h"
#include "testutil.h"

static struct clcnn_context *profile_context(const char *profile)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.device_profile = profile;
	opt.conv_algo = NULL;
	opt.cache_dir = "off";
	return test_context_with(&opt);
}

static struct clcnn_op *make(const char *args, const char *inputs)
{
	struct clcnn_shape in = {4, {0}};
	ck_assert_int_eq(sscanf(inputs, "%dx%dx%dx%d", &in.d[0], &in.d[1], &in.d[2], &in.d[3]), 4);
	struct clcnn_op *op;
	char err[512];
	ck_assert_msg(clcnn_op_new("conv2d", args, 1, &in, &op, err, sizeof err) == 0, "conv2d(%s): %s", args, err);
	return op;
}

/* Host data of one convolution and its double-precision reference results. */
struct problem {
	size_t n[4];            /* elements of x, y, w, b */
	double *x, *w, *b, *gy; /* float-representable inputs */
	double *y, *gx, *gw, *gb;
};

static double *dalloc(size_t n)
{
	double *p = calloc(n ? n : 1, sizeof(double));
	ck_assert_ptr_nonnull(p);
	return p;
}

static void fill(double *v, size_t n, uint64_t *rng)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (float)clcnn_test_uniform(rng, -1, 1);
}

static struct problem problem_new(const struct clcnn_op *op)
{
	struct problem P;
	uint64_t rng = 0x5eed;
	P.n[0] = clcnn_shape_count(&op->in[0]);
	P.n[1] = clcnn_shape_count(&op->out);
	P.n[2] = clcnn_shape_count(&op->param[0].shape);
	P.n[3] = op->nparam > 1 ? clcnn_shape_count(&op->param[1].shape) : 0;
	P.x = dalloc(P.n[0]), P.gy = dalloc(P.n[1]), P.w = dalloc(P.n[2]), P.b = dalloc(P.n[3]);
	fill(P.x, P.n[0], &rng);
	fill(P.w, P.n[2], &rng);
	fill(P.b, P.n[3], &rng);
	fill(P.gy, P.n[1], &rng);
	P.y = dalloc(P.n[1]), P.gx = dalloc(P.n[0]), P.gw = dalloc(P.n[2]), P.gb = dalloc(P.n[3]);
	struct clcnn_ref_io f = {.in = {P.x}, .param = {P.w, P.b}, .out = P.y, .train = 1};
	op->cls->ref_forward(op, &f);
	struct clcnn_ref_io b = {.in = {P.x},
				 .param = {P.w, P.b},
				 .out = P.y,
				 .grad_out = P.gy,
				 .grad_in = {P.gx},
				 .grad_param = {P.gw, P.n[3] ? P.gb : NULL},
				 .train = 1};
	op->cls->ref_backward(op, &b);
	return P;
}

static void problem_free(struct problem *P)
{
	double *all[] = {P->x, P->w, P->b, P->gy, P->y, P->gx, P->gw, P->gb};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(all); i++)
		free(all[i]);
}

/* Device buffers of one run: x, y, w, b, gy, gx, gw, gb, scratch. */
struct dev {
	struct clcnn_context *ctx;
	struct clcnn_dev_io io;
};

static cl_mem upload(struct clcnn_context *ctx, const double *v, size_t n)
{
	cl_mem m;
	float *f = malloc((n ? n : 1) * sizeof(float));
	for (size_t i = 0; i < n; i++)
		f[i] = (float)v[i];
	ck_assert(clcnn_buffer_new(ctx, (n ? n : 1) * sizeof(float), &m) == 0);
	ck_assert(clcnn_buffer_write(ctx, m, 0, n * sizeof(float), f) == 0);
	free(f);
	return m;
}

static struct dev dev_new(struct clcnn_context *ctx, const struct problem *P, size_t scratch)
{
	struct dev d = {.ctx = ctx, .io = {.train = 1}};
	d.io.in[0] = upload(ctx, P->x, P->n[0]);
	d.io.out = upload(ctx, P->y, P->n[1]); /* overwritten */
	d.io.param[0] = upload(ctx, P->w, P->n[2]);
	d.io.grad_out = upload(ctx, P->gy, P->n[1]);
	d.io.grad_in[0] = upload(ctx, P->x, P->n[0]);    /* overwritten */
	d.io.grad_param[0] = upload(ctx, P->w, P->n[2]); /* overwritten */
	if (P->n[3]) {
		d.io.param[1] = upload(ctx, P->b, P->n[3]);
		d.io.grad_param[1] = upload(ctx, P->b, P->n[3]);
	}
	ck_assert(clcnn_buffer_new(ctx, scratch + 4, &d.io.scratch) == 0);
	return d;
}

static void dev_free(struct dev *d)
{
	cl_mem all[] = {d->io.in[0],      d->io.out,           d->io.param[0],      d->io.param[1], d->io.grad_out,
			d->io.grad_in[0], d->io.grad_param[0], d->io.grad_param[1], d->io.scratch};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(all); i++)
		clcnn_buffer_free(all[i]);
}

static float *download(struct clcnn_context *ctx, cl_mem m, size_t n)
{
	float *f = malloc((n ? n : 1) * sizeof(float));
	ck_assert_msg(clcnn_buffer_read(ctx, m, 0, n * sizeof(float), f) == 0, "%s", clcnn_context_error(ctx));
	return f;
}

/* Worst |dev - ref| / (1 + |ref|) must stay within tol. */
static void compare(const char *label, const char *what, const float *dev, const double *ref, size_t n, double tol)
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

/* Forward and both gradients of case (args, inputs) on a context of this profile; results in out[4]. */
static void run_case(const char *profile, const char *args, const char *inputs, double tol, float **out)
{
	char label[512];
	snprintf(label, sizeof label, "conv2d(%s) inputs %s profile %s", args, inputs, profile);
	struct clcnn_op *op = make(args, inputs);
	struct problem P = problem_new(op);
	struct clcnn_context *ctx = profile_context(profile);
	ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s: %s", label, clcnn_context_error(ctx));
	struct dev d = dev_new(ctx, &P, op->scratch_bytes);
	ck_assert_msg(op->cls->forward(op, &d.io) == 0, "%s: forward: %s", label, clcnn_context_error(ctx));
	ck_assert_msg(op->cls->backward(op, &d.io) == 0, "%s: backward: %s", label, clcnn_context_error(ctx));
	out[0] = download(ctx, d.io.out, P.n[1]);
	out[1] = download(ctx, d.io.grad_in[0], P.n[0]);
	out[2] = download(ctx, d.io.grad_param[0], P.n[2]);
	out[3] = P.n[3] ? download(ctx, d.io.grad_param[1], P.n[3]) : NULL;
	compare(label, "forward output", out[0], P.y, P.n[1], tol);
	compare(label, "input gradient", out[1], P.gx, P.n[0], tol);
	compare(label, "weight gradient", out[2], P.gw, P.n[2], tol);
	if (P.n[3])
		compare(label, "bias gradient", out[3], P.gb, P.n[3], tol);
	dev_free(&d);
	problem_free(&P);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
}

static int has_hw_fma(void)
{
	struct clcnn_context *ctx = profile_context("gpu");
	cl_device_fp_config fp = 0;
	clGetDeviceInfo(ctx->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
	clcnn_context_close(ctx);
	return (fp & CL_FP_FMA) != 0;
}

/* The algorithm a case forces when it is one that only GPU profiles offer, else NULL. */
static const struct conv_algo *gpu_only(const struct clcnn_op_case *c, struct clcnn_context *cpu,
					struct clcnn_context *gpu)
{
	const char *p = strstr(c->args, "algo=");
	if (!p)
		return NULL;
	struct clcnn_op *op = make(c->args, c->inputs);
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_algo *a = NULL;
	for (int i = 0; clcnn_conv_algos[i]; i++) {
		size_t n = strlen(clcnn_conv_algos[i]->name);
		if (!strncmp(p + 5, clcnn_conv_algos[i]->name, n) && (p[5 + n] == ',' || !p[5 + n]))
			a = clcnn_conv_algos[i];
	}
	ck_assert_ptr_nonnull(a);
	int only = !a->applicable(cpu, g) && a->applicable(gpu, g);
	clcnn_op_free(op);
	return only ? a : NULL;
}

/*
 * Case _i of conv2d's table, when it forces a GPU-only algorithm, under four profiles (one check loop
 * iteration per case, each with its own timeout): "gpu", tiles of 64 work-items, 8 KiB of __local,
 * and at most 2 work-groups a launch and dimension (grids split with offsets: GROUP_ID). Tolerance:
 * the case's or conv2d's (see its .tol: float32 sums of L products in [-1, 1]). Every output is one
 * work-item's fma chain over k in order and the slices do not depend on the tile, so with hardware
 * fma the four runs agree bit for bit.
 */
START_TEST(test_gpu_case)
{
	static const char *const profiles[] = {"gpu", "gpu,wg=64", "gpu,local=8192", "gpu,groups=2"};
	const struct clcnn_op_class *conv = clcnn_op_find("conv2d");
	const struct clcnn_op_case *c = &conv->cases[_i];
	struct clcnn_context *cpu = profile_context("cpu"), *gpu = profile_context("gpu");
	const struct conv_algo *a = gpu_only(c, cpu, gpu);
	clcnn_context_close(cpu);
	clcnn_context_close(gpu);
	if (!a)
		return;
	const int fma = has_hw_fma();
	double tol = c->tol > 0 ? c->tol : conv->tol;
	int tiled = strcmp(a->name, "im2col_clblast") != 0; /* CLBlast has no tiles of ours */
	float *first[4] = {0};
	for (size_t p = 0; p < (tiled ? CLCNN_ARRAY_LEN(profiles) : 1); p++) {
		float *r[4];
		run_case(profiles[p], c->args, c->inputs, tol, r);
		struct clcnn_op *op = make(c->args, c->inputs);
		size_t n[4] = {clcnn_shape_count(&op->out), clcnn_shape_count(&op->in[0]),
			       clcnn_shape_count(&op->param[0].shape),
			       op->nparam > 1 ? clcnn_shape_count(&op->param[1].shape) : 0};
		clcnn_op_free(op);
		for (int i = 0; i < 4; i++) {
			if (!p) {
				first[i] = r[i];
				continue;
			}
			ck_assert_msg(!fma || !n[i] || !memcmp(r[i], first[i], n[i] * sizeof(float)),
				      "conv2d(%s): result %d under %s differs from the same under gpu", c->args, i,
				      profiles[p]);
			free(r[i]);
		}
	}
	for (int i = 0; i < 4; i++)
		free(first[i]);
}
END_TEST

/* The table has cases for every GPU-only algorithm (20 of igemm_gpu, igemm_gpu32 and igemm_gpu128). */
START_TEST(test_gpu_case_count)
{
	const struct clcnn_op_class *conv = clcnn_op_find("conv2d");
	struct clcnn_context *cpu = profile_context("cpu"), *gpu = profile_context("gpu");
	int cases = 0;
	for (const struct clcnn_op_case *c = conv->cases; c->args; c++)
		cases += gpu_only(c, cpu, gpu) != NULL;
	clcnn_context_close(cpu);
	clcnn_context_close(gpu);
	ck_assert_int_ge(cases, 20);
}
END_TEST

/*
 * The weight gradient's fixed split of K = 5 x 17 x 17 = 1445: each slice count gives the same bits
 * twice, and every count agrees with the reference within the case tolerance (sums of 1445 products,
 * conv.c's IGEMM_TOL) and so with each other.
 */
START_TEST(test_weight_slices)
{
	const char *args = "out_channels=13, kernel_size=3, padding=1, algo=igemm_gpu";
	struct clcnn_op *op = make(args, "5x13x17x17");
	struct problem P = problem_new(op);
	struct clcnn_context *ctx = profile_context("gpu");
	ck_assert(clcnn_op_prepare(op, ctx) == 0);
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	ck_assert_int_eq(clcnn_conv_gpu_slices(g), 2); /* 1445 / 512 */
	static const int counts[] = {1, 2, 3, 7, 40, 2000};
	struct dev d = dev_new(ctx, &P, clcnn_conv_gpu_weights_scratch(g, 2000));
	float *one = NULL;
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(counts); i++)
		for (int size = 0; size < CONV_GPU_SIZES; size++) {
			float *r[2];
			for (int rep = 0; rep < 2; rep++) {
				ck_assert(clcnn_buffer_fill(ctx, d.io.grad_param[0], NAN, P.n[2]) == 0);
				ck_assert_msg(clcnn_conv_gpu_weights(op, &d.io, size, counts[i]) == 0, "%s",
					      clcnn_context_error(ctx));
				r[rep] = download(ctx, d.io.grad_param[0], P.n[2]);
			}
			ck_assert_msg(!memcmp(r[0], r[1], P.n[2] * sizeof(float)),
				      "%d slices (tile %d): weight gradient differs between runs", counts[i], size);
			char label[64];
			snprintf(label, sizeof label, "%d slices, tile %d", counts[i], size);
			compare(label, "weight gradient", r[0], P.gw, P.n[2], 5e-5);
			/* 1 slice: one fma chain over K in order; every other count adds its slices in order */
			if (!one) {
				one = r[0];
			} else {
				double *d1 = dalloc(P.n[2]);
				for (size_t k = 0; k < P.n[2]; k++)
					d1[k] = one[k];
				compare(label, "weight gradient against 1 slice", r[0], d1, P.n[2], 5e-5);
				free(d1);
				free(r[0]);
			}
			free(r[1]);
		}
	free(one);
	/* 2000 slices of 16 values: 91 of them, a sum kernel over the scratch */
	ck_assert_uint_eq(clcnn_conv_gpu_weights_scratch(g, 2000), (size_t)91 * P.n[2] * sizeof(float));
	ck_assert_uint_eq(clcnn_conv_gpu_weights_scratch(g, 1), 0);
	dev_free(&d);
	problem_free(&P);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
}
END_TEST

static void expect_tile(int size, size_t wg, uint64_t local, struct conv_gpu_tile want)
{
	struct conv_gpu_tile t;
	ck_assert_msg(clcnn_conv_gpu_fit(size, wg, local, &t), "no tile for wg %zu, local %llu", wg,
		      (unsigned long long)local);
	ck_assert_msg(!memcmp(&t, &want, sizeof t), "wg %zu local %llu: tile %dx%d k %d, %dx%d per item", wg,
		      (unsigned long long)local, t.tsm, t.tsn, t.tsk, t.wptm, t.wptn);
	ck_assert_uint_le((size_t)clcnn_conv_gpu_threads(&t), wg);
	ck_assert_uint_le(clcnn_conv_gpu_local_bytes(&t), local);
}

/* Tiles shrink to the limits: more outputs per work-item first, then a shorter k step, then smaller tiles. */
START_TEST(test_tiles)
{
	expect_tile(0, 256, 32768, (struct conv_gpu_tile){64, 64, 16, 4, 4});
	expect_tile(1, 256, 32768, (struct conv_gpu_tile){32, 32, 16, 4, 4});
	expect_tile(CONV_GPU_128, 256, 32768, (struct conv_gpu_tile){128, 128, 8, 8, 8});
	expect_tile(CONV_GPU_128, 64, 32768, (struct conv_gpu_tile){64, 64, 8, 8, 8});
	expect_tile(CONV_GPU_128, 256, 4096, (struct conv_gpu_tile){128, 128, 2, 8, 8});
	expect_tile(0, 64, 32768, (struct conv_gpu_tile){64, 64, 16, 8, 8});
	expect_tile(0, 256, 8192, (struct conv_gpu_tile){64, 64, 8, 4, 4});
	expect_tile(1, 32, 32768, (struct conv_gpu_tile){32, 32, 16, 4, 8});
	expect_tile(0, 16, 1024, (struct conv_gpu_tile){32, 32, 2, 8, 8});
	ck_assert_uint_eq(clcnn_conv_gpu_local_bytes(&(struct conv_gpu_tile){64, 64, 16, 4, 4}), 16 * 130 * 4);
	struct conv_gpu_tile t;
	ck_assert(!clcnn_conv_gpu_fit(0, 1, 4, &t));
	ck_assert(!clcnn_conv_gpu_fit(CONV_GPU_SIZES, 256, 32768, &t));
	/* the profiles' limits reach the choice */
	struct clcnn_context *ctx = profile_context("gpu,wg=64,local=8192");
	ck_assert_uint_eq(ctx->lim.max_wg, 64);
	ck_assert(clcnn_conv_gpu_fit(0, ctx->lim.max_wg, ctx->lim.local_mem, &t));
	ck_assert_int_le(clcnn_conv_gpu_threads(&t), 64);
	ck_assert_uint_le(clcnn_conv_gpu_local_bytes(&t), 8192);
	clcnn_context_close(ctx);
}
END_TEST

/* The algorithms prepare() and the untimed preference settle on, on a context of this profile. */
static const char *chosen(const char *profile, const char *env_algo, const char *tune)
{
	struct clcnn_options opt;
	clcnn_options_from_env(&opt);
	opt.device_profile = profile;
	opt.conv_algo = env_algo;
	opt.cache_dir = "off";
	opt.tune = tune;
	struct clcnn_context *ctx = test_context_with(&opt);
	struct clcnn_op *op = make("out_channels=8, kernel_size=3, padding=1", "2x4x9x9");
	ck_assert(clcnn_op_prepare(op, ctx) == 0);
	struct problem P = problem_new(op);
	struct dev d = dev_new(ctx, &P, op->scratch_bytes);
	ck_assert_msg(op->cls->forward(op, &d.io) == 0, "%s", clcnn_context_error(ctx));
	static char name[64];
	snprintf(name, sizeof name, "%s", ((struct conv_priv *)op->priv)->algo[CONV_FWD]->name);
	dev_free(&d);
	problem_free(&P);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
	return name;
}

/*
 * The GPU algorithms are candidates (applicable) on GPU profiles only; CLCNN_TUNE=off takes igemm_gpu
 * there and implicit on CPUs; CLCNN_CONV_ALGO=igemm_gpu forces it on a GPU profile and is ignored on
 * a CPU one (the untimed choice follows).
 */
START_TEST(test_gpu_choice)
{
	struct clcnn_context *cpu = profile_context("cpu"), *gpu = profile_context("gpu");
	struct clcnn_op *op = make("out_channels=8, kernel_size=3, stride=2", "2x4x9x9");
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	const struct conv_algo *const only[] = {&clcnn_conv_algo_igemm_gpu, &clcnn_conv_algo_igemm_gpu32,
						&clcnn_conv_algo_igemm_gpu128, &clcnn_conv_algo_im2col_clblast};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(only); i++) {
		int want = only[i] != &clcnn_conv_algo_im2col_clblast || clcnn_gemm_algo_available(CLCNN_GEMM_CLBLAST);
		ck_assert_msg(!only[i]->applicable(cpu, g), "%s applies on the CPU profile", only[i]->name);
		ck_assert_int_eq(only[i]->applicable(gpu, g), want);
		ck_assert_int_eq(only[i]->applicable(NULL, g), want); /* algo= accepts it on any profile */
	}
	clcnn_op_free(op);
	clcnn_context_close(cpu);
	clcnn_context_close(gpu);
	ck_assert_str_eq(chosen("gpu", NULL, "off"), "igemm_gpu");
	ck_assert_str_eq(chosen("gpu,wg=64", NULL, "off"), "igemm_gpu");
	ck_assert_str_eq(chosen("cpu", NULL, "off"), "implicit");
	ck_assert_str_eq(chosen("gpu", "igemm_gpu32", "off"), "igemm_gpu32");
	ck_assert_str_eq(chosen("cpu", "igemm_gpu32", "off"), "implicit");
	ck_assert_str_eq(chosen("gpu", "igemm_gpu128", "off"), "igemm_gpu128");
}
END_TEST

/*
 * A flipped convolution and the unflipped one with the weights rotated 180 degrees (what the ONNX
 * export writes) give the same bits on igemm_gpu and igemm_gpu32: the forward and the input gradient
 * sum over the taps in order whatever the flip, and the weight gradient of weight position p of the
 * flipped convolution is that of position KH x KW - 1 - p of the other. (The k loop once ran over the
 * stored weight positions, reversing the flipped convolution's order: 1 ulp apart.)
 */
START_TEST(test_flip_order)
{
	static const char *const algos[] = {"igemm_gpu", "igemm_gpu32", "igemm_gpu128"};
	static const char *const geoms[][2] = {
		{"out_channels=5, kernel_size=(3,5), padding=(2,0,1,2), stride=(1,2), dilation=(2,1)", "2x3x9x11"},
		{"out_channels=4, kernel_size=3, padding=1, groups=2, bias=false", "3x4x7x6"},
	};
	for (size_t a = 0; a < CLCNN_ARRAY_LEN(algos); a++)
		for (size_t gi = 0; gi < CLCNN_ARRAY_LEN(geoms); gi++) {
			char fa[256], ua[256];
			snprintf(fa, sizeof fa, "%s, flip=true, algo=%s", geoms[gi][0], algos[a]);
			snprintf(ua, sizeof ua, "%s, algo=%s", geoms[gi][0], algos[a]);
			struct clcnn_op *fop = make(fa, geoms[gi][1]), *uop = make(ua, geoms[gi][1]);
			const struct conv_geom *g = &((const struct conv_priv *)fop->priv)->g;
			const size_t khw = (size_t)g->kh * (size_t)g->kw;
			struct problem P = problem_new(fop), Q = problem_new(uop);
			for (size_t i = 0; i < P.n[2]; i++) /* Q: P's data, the weights rotated */
				Q.w[i] = P.w[i - i % khw + (khw - 1 - i % khw)];
			memcpy(Q.x, P.x, P.n[0] * sizeof(double));
			memcpy(Q.gy, P.gy, P.n[1] * sizeof(double));
			memcpy(Q.b, P.b, P.n[3] * sizeof(double));
			struct clcnn_context *ctx = profile_context("gpu");
			struct clcnn_op *ops[2] = {fop, uop};
			const struct problem *data[2] = {&P, &Q};
			float *out[2][4] = {{NULL}};
			for (int k = 0; k < 2; k++) {
				ck_assert_msg(clcnn_op_prepare(ops[k], ctx) == 0, "%s", clcnn_context_error(ctx));
				struct dev d = dev_new(ctx, data[k], ops[k]->scratch_bytes);
				ck_assert_msg(ops[k]->cls->forward(ops[k], &d.io) == 0, "%s", clcnn_context_error(ctx));
				ck_assert_msg(ops[k]->cls->backward(ops[k], &d.io) == 0, "%s",
					      clcnn_context_error(ctx));
				out[k][0] = download(ctx, d.io.out, P.n[1]);
				out[k][1] = download(ctx, d.io.grad_in[0], P.n[0]);
				out[k][2] = download(ctx, d.io.grad_param[0], P.n[2]);
				out[k][3] = P.n[3] ? download(ctx, d.io.grad_param[1], P.n[3]) : NULL;
				dev_free(&d);
			}
			static const char *const what[4] = {"forward output", "input gradient", "weight gradient",
							    "bias gradient"};
			for (int v = 0; v < 4; v++)
				for (size_t i = 0; i < P.n[v == 0 ? 1 : v == 1 ? 0 : v]; i++) {
					size_t j = v == 2 ? i - i % khw + (khw - 1 - i % khw) : i;
					ck_assert_msg(memcmp(&out[0][v][i], &out[1][v][j], sizeof(float)) == 0,
						      "%s on %s: %s[%zu] flipped %.9g, rotated weights %.9g", fa,
						      geoms[gi][1], what[v], i, out[0][v][i], out[1][v][j]);
				}
			for (int k = 0; k < 2; k++)
				for (int v = 0; v < 4; v++)
					free(out[k][v]);
			clcnn_context_close(ctx);
			problem_free(&P);
			problem_free(&Q);
			clcnn_op_free(fop);
			clcnn_op_free(uop);
		}
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("conv-gpu");
	TCase *tc = tcase_create("GPU convolution algorithms under the GPU profile");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_tiles);
	tcase_add_test(tc, test_gpu_choice);
	tcase_add_test(tc, test_weight_slices);
	tcase_add_test(tc, test_gpu_case_count);
	tcase_add_test(tc, test_flip_order);
	int ncases = 0;
	while (clcnn_op_find("conv2d")->cases[ncases].args)
		ncases++;
	tcase_add_loop_test(tc, test_gpu_case, 0, ncases);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
