/*
 * clcnn doctor: on the selected device, compile every program with its default options, run the smoke
 * kernel, then a forward + backward of a small built-in model using every layer family with each
 * convolution algorithm forced in turn (results finite and the same across algorithms), a second model
 * with the layers the first lacks (noise, channel softmax, triplet, pair and elementwise losses,
 * reduction=none) trained one SGD and one Adam step, both again on the other device profile (CPU <->
 * GPU kernels), and list which of the sources' kernels were compiled and why the rest were not.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"
#include "clcnn/graph.h"
#include "clcnn/train.h"
#include "cli.h"
#include "ops/conv-algos.h"

#define ALGO_NAME(name, NAME, doc) #name,
static const char *const conv_algos[] = {CLCNN_CONV_ALGO_LIST(ALGO_NAME) NULL};

/* conv (first layer, depthwise, 1x1, strided), batchnorm, activations, max/avg/blur/global pooling,
 * add, concat, dropout, linear, log-softmax, NLL loss: every layer family at small odd-ish sizes; relus
 * fused into a batchnorm, an add and a linear layer. */
static const char smoke_net[] = "image = input(shape=(3,12,12))\n"
				"label = input()\n"
				"c1 = conv2d(image, out_channels=8, kernel_size=3, padding=1)\n"
				"n1 = batchnorm2d\n"
				"r1 = relu\n"
				"dw = conv2d(r1, out_channels=8, kernel_size=3, padding=1, groups=8)\n"
				"pw = conv2d(r1, out_channels=8, kernel_size=1)\n"
				"m1 = add(dw, pw)\n"
				"a1 = prelu(num_parameters=8)\n"
				"p1 = maxpool2d(kernel_size=2)\n"
				"c2 = conv2d(p1, out_channels=6, kernel_size=3, stride=2, padding=1)\n"
				"t2 = tanh\n"
				"u = avgpool2d(p1, kernel_size=2)\n"
				"cat = concat(t2, u)\n"
				"bp = blurpool2d(filt_size=3, stride=1)\n"
				"gmax = global_maxpool2d(bp)\n"
				"gavg = global_avgpool2d(bp)\n"
				"g = add(gmax, gavg)\n"
				"gr = relu\n" /* fused into g */
				"flat = flatten\n"
				"drop = dropout(p=0.25)\n"
				"fh = linear(out_features=7)\n"
				"fr = relu\n" /* fused into fh: the GEMM applies it */
				"fc = linear(out_features=5)\n"
				"lp = logsoftmax(fc)\n"
				"loss = nll_loss(lp, label)\n";

/* The layers a model can have beyond the smoke model's, trained one SGD (momentum) and one Adam step:
 * gaussian noise, softmax over channels, the triplet, pair and elementwise losses, every loss with
 * reduction=none (read per sample by a further loss), and a 1x1 convolution of 16 -> 32 channels on
 * a 16x16 plane, whose weight gradient takes im2col's transpose, implicit's GEMM over the columns and
 * igemm_gpu's K slices. */
static const char extras_net[] = "x = input(shape=(3,5,5))\n"
				 "y = input(shape=(16,16,16))\n"
				 "label = input()\n"
				 "same = input()\n"
				 "sign = input()\n"
				 "nz = gaussian_noise(x, sigma=0.1)\n"
				 "sm = softmax(nz, dim=1)\n"
				 "f = flatten(sm)\n"
				 "a = linear(f, out_features=4)\n"
				 "p = linear(f, out_features=4)\n"
				 "q = linear(f, out_features=4)\n"
				 "cy = conv2d(y, out_channels=32, kernel_size=1)\n"
				 "gy = global_avgpool2d(cy)\n"
				 "fy = flatten(gy)\n"
				 "ly = linear(fy, out_features=4)\n"
				 "t = triplet_margin_loss(a, p, q)\n"
				 "c = contrastive_loss(a, p, same)\n"
				 "e = cosine_embedding_loss(a, q, sign)\n"
				 "m = mse_loss(p, ly)\n"
				 "tn = triplet_margin_loss(a, q, p, reduction=none)\n"
				 "cn = contrastive_loss(p, q, same, reduction=none)\n"
				 "ln = nll_loss(a, label, reduction=none)\n"
				 "en = mse_loss(a, q, reduction=none)\n"
				 "sn = add(tn, cn, ln)\n"
				 "r = smooth_l1_loss(sn, same)\n"
				 "r2 = l1_loss(en, p)\n"
				 "total = add(t, c, e, m, r, r2)\n"
				 "@loss total\n"
				 "@output a\n";
/* the extras model's runs: the tuner's choice, then the algorithms whose weight gradient it reaches
 * (each falls back to the tuner's choice on the profile it does not apply to) */
static const char *const extras_algos[] = {NULL, "im2col", "implicit", "igemm_gpu"};

/* Kernels that no layer of a model launches on one device, and why doctor does not compile them. */
static const char *const not_in_models[][3] = {
	{"common", "clcnn_grid_probe", "a probe of the launch splitting (test-launch), no layer's kernel"},
	{"batchnorm", "bn_running_update",
	 "synchronised batchnorm across devices only (clcnn train with several devices): doctor opens one"},
	{"gemm", "gemm_naive",
	 "the reference GEMM: only an explicit GEMM configuration (test-gemm, bench-gemm) or CLBlast at k = 0"},
	{"gemm", "gemm_pack",
	 "CPU GEMMs with m >= 256 and a long k pack an operand (large im2col layers); doctor's small models "
	 "stay below that (test-gemm and conv2d's table run it)"},
};

enum {
	SMOKE_BATCH = 5, /* above 4, so that linear layers take the GEMM path, not the small-batch GEMV */
	SMOKE_CLASSES = 5,
	MAX_KERNELS = 512
};
/* Algorithms agree within float32 rounding of sums of at most 72 products, amplified by batchnorm. */
static const double SMOKE_TOL = 1e-3;

/* One smoke run: the output, then every parameter gradient, flattened; the conv algorithms used. */
struct smoke {
	float *vals;
	size_t n;
	float loss;
	char used[160];
};

static void help(FILE *f)
{
	fprintf(f,
		"usage: clcnn doctor\n\n"
		"On the selected device (CLCNN_DEVICE), compile every kernel program with its default options\n"
		"(per-program compile time, cache hit or miss), run a smoke kernel, then one forward + backward\n"
		"of a small built-in model using every layer family with each convolution algorithm forced in\n"
		"turn (outputs and gradients finite and equal across algorithms within %g), one SGD and one Adam\n"
		"step of a second model with the layers the first lacks (gaussian noise, channel softmax, triplet,\n"
		"pair and elementwise losses, reduction=none), both again on the other device profile\n"
		"(CLCNN_DEVICE_PROFILE cpu <-> gpu), and list every __kernel of the sources with whether some run\n"
		"compiled it, or why none does.\n"
		"Exit status 0 when everything works on the selected profile, 1 otherwise.\n",
		SMOKE_TOL);
}

static struct clcnn_context *open_ctx(const char *profile, const char *algo, char *err, size_t errlen)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.progress_fn = NULL;
	if (profile)
		o.device_profile = profile;
	o.conv_algo = algo;
	struct clcnn_context *ctx;
	if (clcnn_context_open(&ctx, &o, err, errlen)) {
		clcnn_context_close(ctx);
		return NULL;
	}
	return ctx;
}

/* 1 when the space-separated list has the word algo (im2col is not im2col_clblast). */
static int has_algo(const char *used, const char *algo)
{
	size_t n = strlen(algo);
	for (const char *p = used; (p = strstr(p, algo)); p += n)
		if ((p == used || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

/* Add algo to the space-separated list of the conv algorithms used, once. */
static void note_algo(char *used, size_t n, const char *algo)
{
	if (!has_algo(used, algo))
		snprintf(used + strlen(used), n - strlen(used), "%s%s", *used ? " " : "", algo);
}

static int smoke_run(struct clcnn_context *ctx, struct smoke *s, char *err, size_t errlen)
{
	struct clcnn_graph *g = NULL;
	float image[SMOKE_BATCH * 3 * 12 * 12], label[SMOKE_BATCH], out[SMOKE_BATCH * SMOKE_CLASSES];
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < sizeof image / sizeof image[0]; i++)
		image[i] = (float)sin(0.37 * (double)i) + 0.25f * (float)((i * 7) % 5) - 0.5f;
	for (int i = 0; i < SMOKE_BATCH; i++)
		label[i] = (float)((i * 3) % SMOKE_CLASSES);
	int rc = clcnn_graph_parse(ctx, smoke_net, "<doctor smoke model>", &g);
	if (!rc)
		rc = clcnn_graph_build(g, SMOKE_BATCH);
	if (!rc)
		rc = clcnn_graph_init_params(g, 1, "default");
	if (!rc)
		rc = clcnn_graph_set_input(g, "image", image);
	if (!rc)
		rc = clcnn_graph_set_input(g, "label", label);
	if (!rc)
		rc = clcnn_graph_forward(g, 1, 7);
	if (!rc)
		rc = clcnn_graph_backward(g);
	if (!rc)
		rc = clcnn_graph_loss(g, &s->loss);
	if (!rc)
		rc = clcnn_graph_read(g, "lp", out);
	int np = rc ? 0 : clcnn_graph_param_count(g);
	size_t total = SMOKE_BATCH * SMOKE_CLASSES;
	struct clcnn_param_info pi;
	for (int i = 0; i < np && !rc; i++)
		if (!(rc = clcnn_graph_param_info(g, i, &pi)))
			total += pi.count;
	if (!rc && !(s->vals = malloc(total * sizeof(float))))
		rc = CLCNN_ERR_NO_MEMORY;
	if (!rc) {
		memcpy(s->vals, out, sizeof out);
		s->n = SMOKE_BATCH * SMOKE_CLASSES;
	}
	for (int i = 0; i < np && !rc; i++) {
		if (!(rc = clcnn_graph_param_info(g, i, &pi)) && pi.trainable) {
			rc = clcnn_graph_grad_read(g, i, s->vals + s->n);
			s->n += pi.count;
		}
	}
	/* which algorithm each conv2d ran (profiling reruns the nodes: after the values are read) */
	struct clcnn_node_timing *t = NULL;
	int nt = 0;
	if (!rc && !(rc = clcnn_graph_profile(g, 1, &t, &nt)))
		for (int i = 0; i < nt; i++)
			if (!strcmp(t[i].op, "conv2d") && t[i].algo)
				note_algo(s->used, sizeof s->used, t[i].algo);
	free(t);
	if (rc)
		snprintf(err, errlen, "%s", clcnn_context_error(ctx));
	clcnn_graph_free(g);
	return rc;
}

/* Largest |a - b| / (1 + |b|) over the values, or INFINITY when a value is not finite. */
static double smoke_diff(const struct smoke *a, const struct smoke *b)
{
	double worst = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (!isfinite(a->vals[i]))
			return INFINITY;
		double d = fabs((double)a->vals[i] - b->vals[i]) / (1 + fabs((double)b->vals[i]));
		worst = d > worst ? d : worst;
	}
	return worst;
}

/* Every algorithm forced in turn on profile (NULL: the environment's); counts built kernels into
 * built[]; returns the number of failed or disagreeing runs. */
static int smoke_all(const char *profile, const struct clcnn_kernel_decl *k, int nk, int *built, int quiet)
{
	struct smoke ref = {0};
	int failures = 0;
	for (int a = 0; conv_algos[a]; a++) {
		char err[8192];
		struct smoke s = {0};
		struct clcnn_context *ctx = open_ctx(profile, conv_algos[a], err, sizeof err);
		int rc = ctx ? smoke_run(ctx, &s, err, sizeof err) : -1;
		for (int i = 0; ctx && i < nk; i++)
			built[i] += clcnn_kernel_built_variants(ctx, k[i].family, k[i].name);
		clcnn_context_close(ctx);
		if (!rc && !has_algo(s.used, conv_algos[a])) {
			/* a design for the other kind of device (implicit on a GPU profile, igemm_gpu on a CPU) */
			if (!quiet)
				printf("  conv algo %-11s does not apply on this profile (convs ran %s)\n",
				       conv_algos[a], s.used);
			free(s.vals);
			continue;
		}
		double d = rc ? 0 : ref.vals ? smoke_diff(&s, &ref) : smoke_diff(&s, &s);
		if (rc || !(d <= SMOKE_TOL))
			failures++;
		if (rc)
			printf("  conv algo %-11s FAILED: %s\n", conv_algos[a], err);
		else if (!(d <= SMOKE_TOL))
			printf("  conv algo %-11s FAILED: %s %.3g from algo %s (tolerance %g); convs ran %s\n",
			       conv_algos[a], isfinite(d) ? "results differ by" : "non-finite results, difference", d,
			       conv_algos[0], SMOKE_TOL, s.used);
		else if (!quiet)
			printf("  conv algo %-11s ok  loss %.6f  max diff %.2g  convs ran %s\n", conv_algos[a], s.loss,
			       d, s.used);
		if (!rc && !ref.vals)
			ref = s;
		else
			free(s.vals);
	}
	free(ref.vals);
	return failures;
}

/* The extras model on profile with conv algorithm algo (NULL: tuned): build, then one SGD step with momentum and one Adam step, losses finite;
 * counts built kernels into built[]. Returns 0 or 1 (failed, printed). */
static int extras_run(const char *profile, const char *algo, const struct clcnn_kernel_decl *k, int nk, int *built,
		      int quiet)
{
	enum {
		N = 4
	};
	float y[N * 16 * 16 * 16];
	float x[N * 3 * 5 * 5], label[N], same[N], sign[N], loss[2] = {0, 0};
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
		x[i] = (float)cos(0.29 * (double)i) - 0.2f * (float)(i % 3);
	for (size_t i = 0; i < sizeof y / sizeof y[0]; i++)
		y[i] = (float)sin(0.013 * (double)i) - 0.1f * (float)(i % 5);
	for (int i = 0; i < N; i++) {
		label[i] = (float)(i % 4);
		same[i] = (float)(i % 2);
		sign[i] = i % 3 ? 1.0f : -1.0f;
	}
	char err[8192];
	struct clcnn_context *ctx = open_ctx(profile, algo, err, sizeof err);
	struct clcnn_graph *g = NULL;
	int rc = ctx ? clcnn_graph_parse(ctx, extras_net, "<doctor extras model>", &g) : -1;
	if (!rc)
		rc = clcnn_graph_build(g, N);
	if (!rc)
		rc = clcnn_graph_init_params(g, 3, "default");
	if (!rc)
		rc = clcnn_graph_set_input(g, "x", x);
	if (!rc)
		rc = clcnn_graph_set_input(g, "y", y);
	if (!rc)
		rc = clcnn_graph_set_input(g, "label", label);
	if (!rc)
		rc = clcnn_graph_set_input(g, "same", same);
	if (!rc)
		rc = clcnn_graph_set_input(g, "sign", sign);
	static const enum clcnn_optimizer_kind kinds[2] = {CLCNN_OPT_SGD, CLCNN_OPT_ADAM};
	for (int i = 0; i < 2 && !rc; i++) {
		struct clcnn_optimizer_config opt;
		struct clcnn_schedule_config sched;
		struct clcnn_trainer *t = NULL;
		clcnn_optimizer_defaults(&opt, kinds[i]);
		opt.lr = 0.01;
		opt.momentum = 0.9;
		opt.weight_decay = 1e-4;
		clcnn_schedule_defaults(&sched, CLCNN_SCHED_CONSTANT);
		rc = clcnn_trainer_new(g, &opt, &sched, 5, &t);
		if (!rc)
			rc = clcnn_trainer_step(t, &loss[i]);
		clcnn_trainer_free(t);
	}
	if (rc && ctx)
		snprintf(err, sizeof err, "%s", clcnn_context_error(ctx));
	for (int i = 0; ctx && i < nk; i++)
		built[i] += clcnn_kernel_built_variants(ctx, k[i].family, k[i].name);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	const char *name = algo ? algo : "tuned";
	if (rc) {
		printf("  extra layers, conv %-9s FAILED: %s\n", name, err);
		return 1;
	}
	if (!(isfinite(loss[0]) && isfinite(loss[1]))) {
		printf("  extra layers, conv %-9s FAILED: non-finite loss (SGD step %g, Adam step %g)\n", name, loss[0],
		       loss[1]);
		return 1;
	}
	if (!quiet)
		printf("  extra layers, conv %-9s ok  loss %.6f at the SGD step, %.6f at the Adam step\n", name,
		       loss[0], loss[1]);
	return 0;
}

/* Why kernel (family, name) is in no model doctor runs, or NULL. */
static const char *why_not_run(const char *family, const char *name)
{
	for (size_t i = 0; i < sizeof not_in_models / sizeof not_in_models[0]; i++)
		if (!strcmp(not_in_models[i][0], family) && !strcmp(not_in_models[i][1], name))
			return not_in_models[i][2];
	return NULL;
}

int cmd_doctor(int argc, char **argv)
{
	if (argc > 1) {
		int h = cli_is_help(argv[1]);
		help(h ? stdout : stderr);
		return h ? CLI_OK : CLI_USAGE;
	}
	/* its table says what was compiled; a progress line on stderr would cut into it */
	struct clcnn_context *ctx = cli_open_context_unannounced();
	if (!ctx)
		return CLI_ERROR;
	struct clcnn_kernel_decl *k = malloc(MAX_KERNELS * sizeof *k);
	int nk = k ? clcnn_kernel_decls(k, MAX_KERNELS) : 0;
	if (nk > MAX_KERNELS)
		nk = MAX_KERNELS;
	int *here = calloc((size_t)nk + 1, sizeof(int)), *other = calloc((size_t)nk + 1, sizeof(int));
	if (!k || !here || !other) {
		free(k);
		free(here);
		free(other);
		clcnn_context_close(ctx);
		cli_error("doctor", "out of memory");
		return CLI_ERROR;
	}
	const struct clcnn_device_info *d = clcnn_context_device(ctx);
	const char *cache = clcnn_context_cache_dir(ctx);
	int gpu = clcnn_is_gpu(ctx);
	printf("device: %s [%s], driver %s\n", d->name, d->platform_name, d->driver_version);
	printf("profile: %s (%s kernels)\n", ctx->lim.profile, gpu ? "GPU" : "CPU");
	printf("cache:  %s\n", cache ? cache : "off");
	int failures = 0;
	const char *const *fam = clcnn_program_families();
	printf("programs, default options:\n");
	for (int i = 0; fam[i]; i++) {
		struct clcnn_build_report rep;
		int rc = clcnn_program_build(ctx, fam[i], "", &rep);
		if (rc) {
			failures++;
			printf("  %-14s FAILED\n%s\n", fam[i], clcnn_context_error(ctx));
		} else {
			printf("  %-14s ok  %7.3f s  %s\n", fam[i], rep.seconds,
			       rep.cache_hit ? "cache hit" : "compiled");
		}
	}
	if (clcnn_context_smoke_test(ctx)) {
		failures++;
		printf("  smoke kernel  FAILED: %s\n", clcnn_context_error(ctx));
	} else {
		printf("  smoke kernel  ok\n");
	}
	for (int i = 0; i < nk; i++)
		here[i] += clcnn_kernel_built_variants(ctx, k[i].family, k[i].name);
	clcnn_context_close(ctx);

	printf("smoke model (every layer family, batch %d), forward + backward per conv algorithm:\n", SMOKE_BATCH);
	failures += smoke_all(NULL, k, nk, here, 0);
	const char *other_name = gpu ? "cpu" : "gpu";
	int other_fail = smoke_all(other_name, k, nk, other, 1);
	printf("extra layers (gaussian noise, channel softmax, triplet, pair and elementwise losses, reduction=none,\n"
	       "a 16 -> 32 channel 1x1 conv), one SGD and one Adam step per conv algorithm:\n");
	for (size_t a = 0; a < sizeof extras_algos / sizeof extras_algos[0]; a++) {
		failures += extras_run(NULL, extras_algos[a], k, nk, here, 0);
		other_fail += extras_run(other_name, extras_algos[a], k, nk, other, 1);
	}
	printf("  the same on the %s profile: %s\n", other_name,
	       other_fail ? "FAILED (above; not this profile's kernels)" : "ok");

	int compiled = 0;
	for (int i = 0; i < nk; i++)
		compiled += here[i] || other[i];
	printf("kernels: %d of %d compiled (%s profile and %s profile)\n", compiled, nk, gpu ? "gpu" : "cpu",
	       other_name);
	for (int i = 0; i < nk; i++) {
		if (here[i])
			continue;
		if (other[i])
			printf("  %s/%s: %s-only: not chosen on a %s profile\n", k[i].family, k[i].name,
			       gpu ? "CPU" : "GPU", gpu ? "GPU" : "CPU");
		else if (why_not_run(k[i].family, k[i].name))
			printf("  %s/%s: not run: %s\n", k[i].family, k[i].name, why_not_run(k[i].family, k[i].name));
		else
			printf("  %s/%s: not compiled: no layer of doctor's models launches it on either profile\n",
			       k[i].family, k[i].name);
	}
	free(k);
	free(here);
	free(other);
	printf("verdict: %s\n", failures ? "PROBLEMS FOUND" : "device works");
	return failures ? CLI_ERROR : CLI_OK;
}
