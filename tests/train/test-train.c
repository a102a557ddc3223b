/*
 * Training: optimizer updates and learning-rate schedules against PyTorch golden values
 * (tools/golden/train.py), PyTorch checkpoints loaded and run, bitwise determinism and resume,
 * checkpoint mismatch reports, and the ResNet of models/ learning on random data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/train.h"
#include "io/io.h"
#include "testutil.h"
#include "train/train-private.h"

static char *data_path(const char *rel)
{
	static char buf[4][4096];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", getenv("CLCNN_DATA_DIR"), rel);
	return buf[k];
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	return s;
}

/* Values after the first word of a line; returns the count. */
static int line_values(const char *line, double *v, int max)
{
	const char *p = strchr(line, ' ');
	int n = 0;
	while (p && *p && *p != '\n' && n < max) {
		char *end;
		v[n] = strtod(p, &end);
		if (end == p)
			break;
		n++;
		p = end;
	}
	return n;
}

static const char *kv(const char *line, const char *key, char *buf, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=", key);
	const char *p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	size_t k = strcspn(p, " \n");
	snprintf(buf, n, "%.*s", (int)k, p);
	return buf;
}

static double kvd(const char *line, const char *key, double def)
{
	char b[128];
	return kv(line, key, b, sizeof b) ? strtod(b, NULL) : def;
}

static struct clcnn_graph *parse(struct clcnn_context *ctx, const char *text, int batch)
{
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, text, "test.net", &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s", clcnn_context_error(ctx));
	return g;
}

static struct clcnn_graph *load(struct clcnn_context *ctx, const char *path, int batch)
{
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s", clcnn_context_error(ctx));
	return g;
}

/*
 * Each case: p0, then (g, p) per step. The parameter is fc.weight (2x5 = 10 floats) of a tiny graph;
 * gradients are written straight into its gradient buffer and applied with trainer_apply. Bound:
 * PyTorch and the kernel both compute in float32 with the same operation order except for fused
 * multiply-adds, a few ulps per step over 6 steps: 2e-6 relative (+1e-7 absolute near 0).
 */
START_TEST(optimizers_golden)
{
	struct clcnn_context *ctx = test_context();
	char *text = read_text(data_path("train/optim.txt"));
	int cases = 0;
	struct clcnn_graph *g = NULL;
	struct clcnn_trainer *t = NULL;
	char name[64] = "";
	int step = 0;
	for (char *sv = NULL, *line = strtok_r(text, "\n", &sv); line; line = strtok_r(NULL, "\n", &sv)) {
		double v[16];
		float f[10];
		if (!strncmp(line, "case ", 5)) {
			snprintf(name, sizeof name, "%s", line + 5);
			continue;
		}
		if (!strncmp(line, "config ", 7)) {
			char kind[16];
			kv(line, "kind", kind, sizeof kind);
			struct clcnn_optimizer_config oc;
			clcnn_optimizer_defaults(&oc, !strcmp(kind, "sgd")    ? CLCNN_OPT_SGD
						      : !strcmp(kind, "adam") ? CLCNN_OPT_ADAM
									      : CLCNN_OPT_ADAMW);
			oc.lr = kvd(line, "lr", 0);
			oc.momentum = kvd(line, "momentum", 0);
			oc.dampening = kvd(line, "dampening", 0);
			oc.nesterov = (int)kvd(line, "nesterov", 0);
			oc.weight_decay = kvd(line, "weight_decay", 0);
			oc.beta1 = kvd(line, "beta1", 0.9);
			oc.beta2 = kvd(line, "beta2", 0.999);
			oc.eps = kvd(line, "eps", 1e-8);
			clcnn_trainer_free(t);
			clcnn_graph_free(g);
			g = parse(
				ctx,
				"x = input(shape=(5))\nt = input(shape=(2))\nfc = linear(x, out_features=2, bias=false)\n"
				"loss = mse_loss(fc, t)\n",
				1);
			ck_assert_msg(clcnn_trainer_new(g, &oc, NULL, 1, &t) == 0, "%s", clcnn_context_error(ctx));
			cases++;
			step = 0;
			continue;
		}
		int n = line_values(line, v, 16);
		if (line[0] == '#' || n != 10)
			continue;
		for (int i = 0; i < 10; i++)
			f[i] = (float)v[i];
		if (!strncmp(line, "p0 ", 3)) {
			ck_assert_int_eq(clcnn_graph_param_write(g, 0, f), 0);
		} else if (!strncmp(line, "g ", 2)) {
			ck_assert_int_eq(clcnn_buffer_write(ctx, g->params[0].grad, 0, sizeof f, f), 0);
			ck_assert_msg(trainer_apply(t) == 0, "%s", clcnn_context_error(ctx));
			step++;
		} else if (!strncmp(line, "p ", 2)) {
			ck_assert_int_eq(clcnn_graph_param_read(g, 0, f), 0);
			for (int i = 0; i < 10; i++)
				ck_assert_msg(fabs(f[i] - v[i]) <= 1e-7 + 2e-6 * fabs(v[i]),
					      "%s step %d [%d]: got %.9g, torch %.9g", name, step, i, (double)f[i],
					      v[i]);
		}
	}
	ck_assert_int_eq(cases, 6);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	free(text);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * The batched update (cl/train.cl: up to 8 tensors a launch, 16 floats a work-item, the rest of a
 * tensor one by one) against the same formulas on the host in float: 11 trainable tensors (two
 * launches) of 3 to 703 floats, multiples of 16 and not, with batchnorm's buffers (no gradient) among
 * them, which must stay as they were. Three steps with momentum, nesterov and weight decay, without
 * momentum, Adam with L2 and AdamW. Bound as optimizers_golden's (fused multiply-adds on the device).
 */
static void host_step(const struct clcnn_optimizer_config *o, int step, float *p, const float *g, float *m, float *v,
		      size_t n, float lr)
{
	double bc1 = 1.0 - pow(o->beta1, step + 1), bc2 = 1.0 - pow(o->beta2, step + 1);
	int adamw = o->kind == CLCNN_OPT_ADAMW;
	float wd = (float)o->weight_decay, mom = (float)o->momentum, omd = (float)(1.0 - o->dampening);
	float decay = adamw ? (float)(1.0 - lr * o->weight_decay) : 1.0f, l2 = adamw ? 0.0f : wd;
	float step_size = (float)(lr / bc1), bc2s = (float)sqrt(bc2);
	for (size_t i = 0; i < n; i++) {
		float d = g[i];
		if (o->kind == CLCNN_OPT_SGD) {
			if (wd != 0.0f)
				d = d + wd * p[i];
			if (mom != 0.0f) {
				m[i] = step == 0 ? d : m[i] * mom + omd * d;
				d = o->nesterov ? d + mom * m[i] : m[i];
			}
			p[i] = p[i] - lr * d;
		} else {
			float x = p[i] * decay;
			if (l2 != 0.0f)
				d = d + l2 * p[i];
			m[i] = m[i] * (float)o->beta1 + (float)(1.0 - o->beta1) * d;
			v[i] = v[i] * (float)o->beta2 + (float)(1.0 - o->beta2) * (d * d);
			p[i] = x - step_size * (m[i] / (sqrtf(v[i]) / bc2s + (float)o->eps));
		}
	}
}

START_TEST(optimizers_batched)
{
	static const char *net = "x = input(shape=(7))\nt = input(shape=(3))\n"
				 "fc1 = linear(x, out_features=19)\nbn = batchnorm1d\nfc2 = linear(out_features=37)\n"
				 "fc3 = linear(out_features=16)\nfc4 = linear(out_features=5, bias=false)\n"
				 "fc5 = linear(out_features=3)\nloss = mse_loss(fc5, t)\n";
	struct clcnn_context *ctx = test_context();
	enum {
		STEPS = 3,
		MAXP = 16
	};
	for (int c = 0; c < 4; c++) {
		struct clcnn_optimizer_config oc;
		clcnn_optimizer_defaults(&oc, c < 2 ? CLCNN_OPT_SGD : c == 2 ? CLCNN_OPT_ADAM : CLCNN_OPT_ADAMW);
		oc.lr = c < 2 ? 0.05 : 0.01;
		oc.weight_decay = c == 1 ? 0.0 : 0.02;
		oc.momentum = c == 0 ? 0.9 : 0.0;
		oc.nesterov = c == 0;
		struct clcnn_graph *g = parse(ctx, net, 2);
		struct clcnn_trainer *t;
		ck_assert_msg(clcnn_trainer_new(g, &oc, NULL, 1, &t) == 0, "%s", clcnn_context_error(ctx));
		int np = clcnn_graph_param_count(g), trainable = 0;
		ck_assert_int_le(np, MAXP);
		float *p[MAXP], *m[MAXP], *v[MAXP], *gr[MAXP];
		struct clcnn_param_info info[MAXP];
		uint32_t seed = 77;
		for (int i = 0; i < np; i++) {
			clcnn_graph_param_info(g, i, &info[i]);
			size_t n = info[i].count;
			trainable += info[i].trainable;
			p[i] = malloc(n * sizeof(float)), gr[i] = malloc(n * sizeof(float));
			m[i] = calloc(n, sizeof(float)), v[i] = calloc(n, sizeof(float));
			ck_assert(p[i] && gr[i] && m[i] && v[i]);
			ck_assert_int_eq(clcnn_graph_param_read(g, i, p[i]), 0);
		}
		ck_assert_int_eq(trainable, 11);
		for (int step = 0; step < STEPS; step++) {
			for (int i = 0; i < np; i++) {
				if (!info[i].trainable)
					continue;
				for (size_t k = 0; k < info[i].count; k++) {
					seed = seed * 1664525u + 1013904223u;
					gr[i][k] = (float)(seed >> 8) * (2.0f / 16777216.0f) - 1.0f;
				}
				ck_assert_int_eq(clcnn_buffer_write(ctx, g->params[i].grad, 0,
								    info[i].count * sizeof(float), gr[i]),
						 0);
				host_step(&oc, step, p[i], gr[i], m[i], v[i], info[i].count, (float)oc.lr);
			}
			ck_assert_msg(trainer_apply(t) == 0, "%s", clcnn_context_error(ctx));
		}
		for (int i = 0; i < np; i++) {
			float *got = malloc(info[i].count * sizeof(float));
			ck_assert_int_eq(clcnn_graph_param_read(g, i, got), 0);
			for (size_t k = 0; k < info[i].count; k++)
				ck_assert_msg(info[i].trainable
						      ? fabsf(got[k] - p[i][k]) <= 1e-7f + 2e-6f * fabsf(p[i][k])
						      : !memcmp(&got[k], &p[i][k], sizeof(float)),
					      "optimizer %d, parameter %s [%zu]: got %.9g, want %.9g", c, info[i].name,
					      k, (double)got[k], (double)p[i][k]);
			free(got);
			free(p[i]), free(gr[i]), free(m[i]), free(v[i]);
		}
		clcnn_trainer_free(t);
		clcnn_graph_free(g);
	}
	clcnn_context_close(ctx);
}
END_TEST

/*
 * OneCycleLR for runs too short for a warm-up phase (pct_start * total_steps <= 1): 256 images at
 * batch 128 for one epoch are 2 steps. Values of torch 1.13's OneCycleLR.get_lr (max_lr 0.1,
 * pct_start 0.3, div 25, final div 1e4), printed by Debian's python3-torch 1.13.1 stepping
 * OneCycleLR(SGD, max_lr=0.1, total_steps=N) N times. end1 = 0.3 * total - 1 < 0: every
 * step is in the annealing phase, at pct (step - end1) / (total - 1 - end1). Where end1 is exactly 0
 * torch divides by zero; clcnn gives step 0 the initial lr (max_lr / 25), as for longer schedules.
 */
START_TEST(onecycle_short)
{
	static const struct {
		int total;
		double lr[5];
	} cases[] = {
		{1, {3.9999999999999998e-07}},
		{2, {0.081174565394976306, 3.9999999999999998e-07}},
		{3, {0.099441543545091188, 0.046263710266697504, 3.9999999999999998e-07}},
		{5,
		 {0.0040000000000000036, 0.095048463201347383, 0.06112620219362893, 0.018825834605023701,
		  3.9999999999999998e-07}},
	};
	struct clcnn_schedule_config sc;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		clcnn_schedule_defaults(&sc, CLCNN_SCHED_ONECYCLE);
		sc.total_steps = cases[c].total;
		for (int s = 0; s < cases[c].total; s++) {
			double lr = clcnn_schedule_lr(&sc, 0.1, s);
			ck_assert_msg(fabs(lr - cases[c].lr[s]) <= 1e-12 * cases[c].lr[s],
				      "%d steps, step %d: %.17g, torch %.17g", cases[c].total, s, lr, cases[c].lr[s]);
		}
	}
	/* end1 == 0 (10 steps at pct_start 0.1): initial lr, then the annealing phase from max_lr */
	sc.total_steps = 10;
	sc.pct_start = 0.1;
	ck_assert(fabs(clcnn_schedule_lr(&sc, 0.1, 0) - 0.004) <= 1e-15);
	ck_assert(fabs(clcnn_schedule_lr(&sc, 0.1, 1) - 0.09698464310077128) <= 1e-12); /* pct 1/9 of phase 2 */

	/* and the trainer takes such a schedule */
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g;
	ck_assert(clcnn_graph_parse(ctx,
				    "x = input(shape=(4))\ny = input()\nfc = linear(x, out_features=3)\n"
				    "loss = cross_entropy(fc, y)\n",
				    "short.net", &g) == 0);
	ck_assert(clcnn_graph_build(g, 2) == 0);
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_ONECYCLE);
	sc.total_steps = 2;
	struct clcnn_trainer *t;
	ck_assert_msg(clcnn_trainer_new(g, &oc, &sc, 1, &t) == 0, "%s", clcnn_context_error(ctx));
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* Closed forms against PyTorch's chained updates: they differ by rounding of doubles only. */
START_TEST(schedules_golden)
{
	char *text = read_text(data_path("train/schedules.txt"));
	struct clcnn_schedule_config sc;
	double base = 0;
	int cases = 0;
	for (char *sv = NULL, *line = strtok_r(text, "\n", &sv); line; line = strtok_r(NULL, "\n", &sv)) {
		char b[128];
		if (!strncmp(line, "sched ", 6)) {
			const char *k = kv(line, "kind", b, sizeof b);
			enum clcnn_schedule_kind kind = !strcmp(k, "step")        ? CLCNN_SCHED_STEP
							: !strcmp(k, "multistep") ? CLCNN_SCHED_MULTISTEP
							: !strcmp(k, "cosine")    ? CLCNN_SCHED_COSINE
							: !strcmp(k, "onecycle")  ? CLCNN_SCHED_ONECYCLE
										  : CLCNN_SCHED_CONSTANT;
			clcnn_schedule_defaults(&sc, kind);
			base = kvd(line, "base_lr", 0);
			sc.step_size = (int)kvd(line, "step_size", 1);
			sc.gamma = kvd(line, "gamma", 0.1);
			sc.total_steps = (int)kvd(line, "total_steps", 1);
			sc.eta_min = kvd(line, "eta_min", 0);
			sc.pct_start = kvd(line, "pct_start", 0.3);
			sc.div_factor = kvd(line, "div_factor", 25);
			sc.final_div_factor = kvd(line, "final_div_factor", 1e4);
			sc.warmup_steps = (int)kvd(line, "warmup_steps", 0);
			if (kv(line, "milestones", b, sizeof b))
				for (char *sv = NULL, *s = strtok_r(b, ",", &sv); s; s = strtok_r(NULL, ",", &sv))
					sc.milestones[sc.nmilestones++] = atoi(s);
			cases++;
			continue;
		}
		if (strncmp(line, "lr ", 3))
			continue;
		double v[64];
		int n = line_values(line, v, 64);
		ck_assert_int_eq(n, 40);
		for (int s = 0; s < n; s++) {
			double lr = clcnn_schedule_lr(&sc, base, s);
			ck_assert_msg(fabs(lr - v[s]) <= 1e-12 * fabs(v[s]) + 1e-18,
				      "schedule %d (kind %d) step %d: %.17g, torch %.17g", cases, (int)sc.kind, s, lr,
				      v[s]);
		}
	}
	ck_assert_int_eq(cases, 8);
	free(text);
}
END_TEST

/*
 * A state_dict written by PyTorch loads here and gives PyTorch's eval-mode output. Bound: float32
 * sums of a few hundred products of O(1) values: 2e-5 relative to the largest output + 2e-5.
 */
/* Compare n values of a fixture record with what clcnn computed. */
static void expect_close(const char *key, const char *node, const float *got, const double *want, int n)
{
	double scale = 0;
	for (int i = 0; i < n; i++)
		scale = fmax(scale, fabs(want[i]));
	for (int i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - want[i]) <= 2e-5 * (1 + scale), "%s %s[%d]: %.7g, torch %.7g", key, node, i,
			      (double)got[i], want[i]);
}

/*
 * A torch.nn fixture of tools/golden/train.py: weights, inputs and the output node's values; with
 * "mode train" the forward runs in training mode and is followed by backward, and the loss, every
 * parameter gradient and the buffers after the step are compared too (torch judged in float64).
 */
static void torch_fixture(const char *net, const char *base)
{
	struct clcnn_context *ctx = test_context();
	char name[256];
	struct clcnn_graph *g = load(ctx, net, 3);
	snprintf(name, sizeof name, "train/%s.safetensors", base);
	ck_assert_msg(clcnn_graph_load_weights(g, data_path(name)) == 0, "%s", clcnn_context_error(ctx));
	snprintf(name, sizeof name, "train/%s.txt", base);
	char *text = read_text(data_path(name));
	int train = strstr(text, "\nmode train\n") != NULL, compared = 0;
	static double v[20000];
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) { /* the inputs are set */
			ck_assert_int_eq(clcnn_graph_forward(g, train, 0), 0);
			if (train)
				ck_assert_msg(clcnn_graph_backward(g) == 0, "%s", clcnn_context_error(ctx));
		}
		for (const char *line = text; line && *line; line = strchr(line, '\n'), line += line != NULL) {
			char key[16], node[64];
			if (sscanf(line, "%15s %63s", key, node) != 2 || (pass == 0) != !strcmp(key, "input"))
				continue;
			const char *vals = strchr(strchr(line, ' ') + 1, ' ') + 1; /* the shape word, skipped */
			int n = line_values(vals, v, 20000), k = clcnn_graph_param_find(g, node), rc = -1;
			float *got = malloc((size_t)n * sizeof *got);
			for (int i = 0; i < n; i++)
				got[i] = (float)v[i];
			if (pass == 0)
				rc = clcnn_graph_set_input(g, node, got);
			else if (!strcmp(key, "output"))
				rc = clcnn_graph_read(g, node, got);
			else if (!strcmp(key, "loss"))
				rc = clcnn_graph_loss(g, got);
			else if (!strcmp(key, "grad"))
				rc = clcnn_graph_grad_read(g, k, got);
			else if (!strcmp(key, "buffer"))
				rc = clcnn_graph_param_read(g, k, got);
			if (rc != -1) {
				ck_assert_msg(rc == 0, "%s %s: %s", key, node, clcnn_context_error(ctx));
				if (pass)
					expect_close(key, node, got, v, n), compared++;
			}
			free(got);
		}
	}
	ck_assert_int_ge(compared, 1);
	/* num_batches_tracked came in as I64 and reads back as its value */
	int nbt = clcnn_graph_param_find(g, "bn1.num_batches_tracked");
	if (nbt >= 0) {
		float x;
		clcnn_graph_param_read(g, nbt, &x);
		ck_assert_float_eq(x, 3.0f);
	}
	free(text);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}

START_TEST(torch_checkpoint_lenet5)
{
	torch_fixture(data_path("../../models/lenet5.net"), "torch-lenet5");
}
END_TEST

START_TEST(torch_checkpoint_tiny_bn)
{
	torch_fixture(data_path("train/tiny-bn.net"), "torch-tiny-bn");
}
END_TEST

/* share=: three branches of one embedding; gradients summed over the users, buffers updated by each */
START_TEST(torch_shared_branches)
{
	torch_fixture(data_path("train/siamese-tiny.net"), "torch-siamese-tiny");
}
END_TEST

static void fill_batch(struct clcnn_graph *g, int batch, uint64_t seed)
{
	for (int i = 0; i < clcnn_graph_input_count(g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(g, i, &name, &nd, dims);
		size_t c = (size_t)batch;
		for (int d = 0; d < nd; d++)
			c *= (size_t)dims[d];
		float *x = malloc(c * sizeof *x);
		for (size_t k = 0; k < c; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			x[k] = nd ? (float)((seed >> 40) & 0xFFFF) / 32768.0f - 1.0f
				  : (float)((seed >> 33) % 4); /* every net here has >= 4 classes */
		}
		ck_assert_int_eq(clcnn_graph_set_input(g, name, x), 0);
		free(x);
	}
}

/* Every parameter (buffers included) of a graph, concatenated. */
static float *all_params(struct clcnn_graph *g, size_t *n)
{
	size_t total = 0;
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		clcnn_graph_param_info(g, i, &pi);
		total += pi.count;
	}
	float *x = malloc(total * sizeof *x), *p = x;
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		clcnn_graph_param_info(g, i, &pi);
		ck_assert_int_eq(clcnn_graph_param_read(g, i, p), 0);
		p += pi.count;
	}
	*n = total;
	return x;
}

/* Train steps [from, to) on batches seeded by the step number; returns the last loss. */
static float train(struct clcnn_trainer *t, struct clcnn_graph *g, int batch, long from, long to)
{
	float loss = 0;
	for (long s = from; s < to; s++) {
		fill_batch(g, batch, 1000 + (uint64_t)s);
		ck_assert_msg(clcnn_trainer_step(t, &loss) == 0, "%s", clcnn_context_error(g->ctx));
	}
	return loss;
}

/*
 * Same seed -> bitwise identical parameters after 4 steps; 2 steps + save + load into a fresh graph
 * and trainer + 2 steps -> bitwise identical to the 4-step run (dropout masks, batchnorm running
 * statistics, momentum/Adam state and the schedule position all carried over).
 */
static void resume_bitwise(const char *net_path, const char *text, enum clcnn_optimizer_kind kind, int batch)
{
	struct clcnn_context *ctx = test_context();
	char *dir = test_tmpdir(), ck[4096];
	snprintf(ck, sizeof ck, "%s/ck.safetensors", dir);
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, kind);
	oc.momentum = kind == CLCNN_OPT_SGD ? 0.9 : 0;
	oc.nesterov = kind == CLCNN_OPT_SGD;
	oc.weight_decay = 5e-4;
	struct clcnn_schedule_config sc;
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_ONECYCLE);
	sc.total_steps = 10;
	size_t n[3];
	float *p[3];
	for (int run = 0; run < 3; run++) {
		struct clcnn_graph *g = net_path ? load(ctx, net_path, batch) : parse(ctx, text, batch);
		clcnn_graph_init_params(g, 77, "default");
		struct clcnn_trainer *t;
		ck_assert_msg(clcnn_trainer_new(g, &oc, &sc, 5, &t) == 0, "%s", clcnn_context_error(ctx));
		if (run < 2) {
			train(t, g, batch, 0, 4);
		} else {
			train(t, g, batch, 0, 2);
			clcnn_trainer_set_rng(t, 0x1234);
			const char *meta[] = {"note", "resume test", NULL};
			ck_assert_msg(clcnn_trainer_save(t, ck, 3, meta) == 0, "%s", clcnn_context_error(ctx));
			clcnn_trainer_free(t);
			clcnn_graph_free(g);
			g = net_path ? load(ctx, net_path, batch) : parse(ctx, text, batch);
			ck_assert_int_eq(clcnn_trainer_new(g, &oc, &sc, 5, &t), 0);
			int epoch = -1;
			ck_assert_msg(clcnn_trainer_load(t, ck, &epoch) == 0, "%s", clcnn_context_error(ctx));
			ck_assert_int_eq(epoch, 3);
			ck_assert_int_eq(clcnn_trainer_steps(t), 2);
			ck_assert_uint_eq(clcnn_trainer_rng(t), 0x1234);
			train(t, g, batch, 2, 4);
		}
		ck_assert_int_eq(clcnn_trainer_steps(t), 4);
		p[run] = all_params(g, &n[run]);
		clcnn_trainer_free(t);
		clcnn_graph_free(g);
	}
	ck_assert_uint_eq(n[0], n[1]);
	ck_assert_uint_eq(n[0], n[2]);
	ck_assert_msg(!memcmp(p[0], p[1], n[0] * sizeof(float)), "two runs with the same seed differ");
	for (size_t i = 0; i < n[0]; i++)
		ck_assert_msg(!memcmp(&p[0][i], &p[2][i], sizeof(float)),
			      "resumed run differs at parameter element %zu: %.9g vs %.9g", i, (double)p[0][i],
			      (double)p[2][i]);
	for (int r = 0; r < 3; r++)
		free(p[r]);
	test_rmtree(dir);
	free(dir);
	clcnn_context_close(ctx);
}

START_TEST(resume_small_adam)
{
	resume_bitwise(
		NULL,
		"image = input(shape=(2,6,6))\nlabel = input()\n"
		"c = conv2d(image, out_channels=4, kernel_size=3, padding=1, bias=false)\nbn = batchnorm2d\nr = relu\n"
		"d = dropout(p=0.3)\nf = flatten\nfc = linear(out_features=10)\nloss = cross_entropy(fc, label)\n",
		CLCNN_OPT_ADAM, 4);
}
END_TEST

START_TEST(resume_small_sgd)
{
	resume_bitwise(data_path("train/tiny-bn.net"), NULL, CLCNN_OPT_SGD, 4);
}
END_TEST

/* Done-when of the graph issue: the ResNet of models/ learns, resumes bitwise, and its checkpoint has
 * exactly the keys, dtypes and shapes of the torch.nn model (tools/golden/train.py lists them). */
START_TEST(resnet_trains)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = load(ctx, data_path("../../models/resnet.net"), 8);
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.lr = 0.05;
	oc.momentum = 0.9;
	struct clcnn_trainer *t;
	ck_assert_int_eq(clcnn_trainer_new(g, &oc, NULL, 1, &t), 0);
	float first = 0, last = 0;
	fill_batch(g, 8, 4242); /* one fixed random batch: the net must fit it */
	for (int s = 0; s < 12; s++) {
		float l;
		ck_assert_msg(clcnn_trainer_step(t, &l) == 0, "%s", clcnn_context_error(ctx));
		if (s == 0)
			first = l;
		last = l;
	}
	ck_assert_msg(last < 0.5f * first, "loss went from %g to %g in 12 steps", (double)first, (double)last);

	char *dir = test_tmpdir(), ck[4096];
	snprintf(ck, sizeof ck, "%s/resnet.safetensors", dir);
	ck_assert_int_eq(clcnn_trainer_save(t, ck, 1, NULL), 0);
	struct clcnn_st_file *f;
	char err[512];
	ck_assert_msg(clcnn_st_read(ck, &f, err, sizeof err) == 0, "%s", err);
	char *keys = read_text(data_path("train/torch-resnet-keys.txt"));
	int nkeys = 0, weights = 0;
	for (char *sv = NULL, *line = strtok_r(keys, "\n", &sv); line; line = strtok_r(NULL, "\n", &sv)) {
		char key[128], dtype[8], shape[64];
		if (line[0] == '#' || sscanf(line, "%127s %7s %63s", key, dtype, shape) != 3)
			continue;
		nkeys++;
		const struct clcnn_st_entry *e = clcnn_st_find(f, key);
		ck_assert_msg(e != NULL, "checkpoint lacks %s", key);
		ck_assert_str_eq(e->dtype, dtype);
		char got[64] = "scalar";
		size_t len = 0;
		for (int d = 0; d < e->ndim; d++)
			len += (size_t)snprintf(got + len, sizeof got - len, "%s%lld", d ? "x" : "",
						(long long)e->shape[d]);
		ck_assert_msg(!strcmp(got, shape), "%s: shape %s, torch %s", key, got, shape);
	}
	for (int i = 0; i < clcnn_st_count(f); i++)
		weights += strncmp(clcnn_st_get(f, i)->name, "optimizer.", 10) != 0;
	ck_assert_int_eq(nkeys, 56);
	ck_assert_int_eq(weights, nkeys); /* exactly the torch keys, nothing else besides optimizer state */
	ck_assert_str_eq(clcnn_st_meta(f, "step"), "12");
	ck_assert_str_eq(clcnn_st_meta(f, "format"), "clcnn-checkpoint");
	clcnn_st_free(f);
	free(keys);
	test_rmtree(dir);
	free(dir);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(resnet_resumes)
{
	resume_bitwise(data_path("../../models/resnet.net"), NULL, CLCNN_OPT_SGD, 4);
}
END_TEST

/* Loading weights of another graph: one message with every problem. */
START_TEST(load_mismatch)
{
	struct clcnn_context *ctx = test_context();
	char *dir = test_tmpdir(), path[4096];
	snprintf(path, sizeof path, "%s/a.safetensors", dir);
	struct clcnn_graph *a = parse(ctx,
				      "x = input(shape=(4))\nfc = linear(x, out_features=3)\nbn = batchnorm1d\n"
				      "extra = linear(bn, out_features=2)\n",
				      2);
	const char *meta[] = {"who", "test", NULL};
	ck_assert_int_eq(clcnn_graph_save_weights(a, path, meta), 0);
	struct clcnn_graph *b = parse(ctx,
				      "x = input(shape=(4))\nfc = linear(x, out_features=5)\nbn = batchnorm1d\n"
				      "other = linear(bn, out_features=2, bias=false)\n",
				      2);
	float before[20];
	clcnn_graph_param_read(b, 0, before);
	char want[8192];
	snprintf(want, sizeof want,
		 "%s does not match the graph (9 problems):\n"
		 "  'fc.weight': shape 3x4 in the file, 5x4 in the graph\n"
		 "  'fc.bias': shape 3 in the file, 5 in the graph\n"
		 "  'bn.weight': shape 3 in the file, 5 in the graph\n"
		 "  'bn.bias': shape 3 in the file, 5 in the graph\n"
		 "  'bn.running_mean': shape 3 in the file, 5 in the graph\n"
		 "  'bn.running_var': shape 3 in the file, 5 in the graph\n"
		 "  missing 'other.weight'\n"
		 "  unexpected 'extra.weight' (not in the graph)\n"
		 "  unexpected 'extra.bias' (not in the graph)",
		 path);
	ck_assert_int_eq(clcnn_graph_load_weights(b, path), CLCNN_ERR_FORMAT);
	ck_assert_str_eq(clcnn_context_error(ctx), want);
	/* nothing was loaded */
	float after[20];
	clcnn_graph_param_read(b, 0, after);
	ck_assert_mem_eq(before, after, sizeof before);

	/* a dtype mismatch (F32 where I64 belongs) and a checkpoint without trainer metadata */
	struct clcnn_st_writer *w;
	clcnn_st_writer_new(&w);
	float vals[32] = {0};
	int64_t s34[2] = {3, 4}, s3[1] = {3};
	clcnn_st_writer_add(w, "fc.weight", "F32", 2, s34, vals, NULL, 0);
	clcnn_st_writer_add(w, "fc.bias", "F32", 1, s3, vals, NULL, 0);
	clcnn_st_writer_add(w, "bn.weight", "F32", 1, s3, vals, NULL, 0);
	clcnn_st_writer_add(w, "bn.bias", "F32", 1, s3, vals, NULL, 0);
	clcnn_st_writer_add(w, "bn.running_mean", "F32", 1, s3, vals, NULL, 0);
	clcnn_st_writer_add(w, "bn.running_var", "F32", 1, s3, vals, NULL, 0);
	clcnn_st_writer_add(w, "bn.num_batches_tracked", "F32", 0, s3, vals, NULL, 0);
	clcnn_st_writer_add(w, "extra.weight", "F32", 2, (int64_t[]){2, 3}, vals, NULL, 0);
	clcnn_st_writer_add(w, "extra.bias", "F32", 1, (int64_t[]){2}, vals, NULL, 0);
	ck_assert_int_eq(clcnn_st_write(w, path, NULL, 0), 0);
	clcnn_st_writer_free(w);
	ck_assert_int_eq(clcnn_graph_load_weights(a, path), CLCNN_ERR_FORMAT);
	snprintf(
		want, sizeof want,
		"%s does not match the graph (1 problem):\n  'bn.num_batches_tracked': dtype F32 in the file, I64 expected",
		path);
	ck_assert_str_eq(clcnn_context_error(ctx), want);
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	struct clcnn_trainer *t;
	struct clcnn_graph *c = parse(ctx,
				      "x = input(shape=(4))\nt = input(shape=(3))\nfc = linear(x, out_features=3)\n"
				      "loss = mse_loss(fc, t)\n",
				      2);
	ck_assert_int_eq(clcnn_trainer_new(c, &oc, NULL, 1, &t), 0);
	ck_assert_int_eq(clcnn_graph_save_weights(c, path, NULL), 0);
	ck_assert_int_eq(clcnn_trainer_load(t, path, NULL), CLCNN_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx),
				     "metadata 'step' or 'rng' missing: not a checkpoint of clcnn_trainer_save"));
	clcnn_trainer_free(t);
	clcnn_graph_free(c);
	clcnn_graph_free(a);
	clcnn_graph_free(b);
	test_rmtree(dir);
	free(dir);
	clcnn_context_close(ctx);
}
END_TEST

/* Warnings heard by a context. */
struct warnings {
	int n;
	char last[5120];
};

static void keep_warning(void *user, int level, const char *msg)
{
	struct warnings *w = user;
	if (level != CLCNN_LOG_WARN)
		return;
	w->n++;
	snprintf(w->last, sizeof w->last, "%s", msg);
}

/* A one-layer trainer with a onecycle schedule over total steps, on a context logging to w. */
static struct clcnn_trainer *onecycle_trainer(struct clcnn_context *ctx, int total, struct clcnn_graph **g)
{
	*g = parse(ctx,
		   "x = input(shape=(4))\nt = input(shape=(3))\nfc = linear(x, out_features=3)\n"
		   "loss = mse_loss(fc, t)\n",
		   2);
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.lr = 0.1;
	struct clcnn_schedule_config sc;
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_ONECYCLE);
	sc.total_steps = total;
	struct clcnn_trainer *t;
	ck_assert_msg(clcnn_trainer_new(*g, &oc, &sc, 1, &t) == 0, "%s", clcnn_context_error(ctx));
	return t;
}

/*
 * --resume with more epochs: the schedule is re-planned over the new total (a new OneCycleLR with
 * the new total_steps), the step count carries on, and the library says so once as a warning with
 * both plans' learning rates; the same settings resume silently.
 */
START_TEST(resume_replans_schedule)
{
	struct warnings w = {0};
	struct clcnn_context *ctx = test_context_logged(NULL, NULL, keep_warning, &w);
	char *dir = test_tmpdir(), path[4096];
	snprintf(path, sizeof path, "%s/c.safetensors", dir);
	struct clcnn_graph *g;
	struct clcnn_trainer *t = onecycle_trainer(ctx, 4, &g);
	float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[6] = {1, 0, 1, 0, 1, 0};
	clcnn_graph_set_input(g, "x", x);
	clcnn_graph_set_input(g, "t", y);
	for (int s = 0; s < 4; s++)
		ck_assert(clcnn_trainer_step(t, NULL) == 0);
	ck_assert_msg(clcnn_trainer_save(t, path, 2, NULL) == 0, "%s", clcnn_context_error(ctx));
	clcnn_trainer_free(t);
	clcnn_graph_free(g);

	t = onecycle_trainer(ctx, 4, &g);
	ck_assert(clcnn_trainer_load(t, path, NULL) == 0);
	ck_assert_int_eq(w.n, 0);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);

	t = onecycle_trainer(ctx, 6, &g);
	ck_assert(clcnn_trainer_load(t, path, NULL) == 0);
	ck_assert_int_eq(w.n, 1);
	/* step 5 of a 6-step onecycle at max_lr 0.1 (end1 0.8, pct 3.2 / 4.2) and the old plan's last lr */
	struct clcnn_schedule_config sc;
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_ONECYCLE);
	sc.total_steps = 6;
	char want[5120];
	snprintf(want, sizeof want,
		 "%s: re-planning the onecycle schedule over 6 steps instead of the checkpoint's 4 (as a new PyTorch "
		 "scheduler with the new total_steps would); step 5 runs at lr %.3g where the old plan ended at 4e-07",
		 path, clcnn_schedule_lr(&sc, 0.1, 4));
	ck_assert_str_eq(w.last, want);
	ck_assert(clcnn_trainer_step(t, NULL) == 0);
	ck_assert(fabs(clcnn_trainer_lr(t) - clcnn_schedule_lr(&sc, 0.1, 4)) <= 1e-15);
	ck_assert(clcnn_trainer_lr(t) > 0.01); /* the new plan's, not the finished run's 4e-7 */
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(trainer_errors)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = parse(ctx,
				      "x = input(shape=(4))\nt = input(shape=(3))\nfc = linear(x, out_features=3)\n"
				      "loss = mse_loss(fc, t)\n",
				      2);
	struct clcnn_optimizer_config oc;
	struct clcnn_trainer *t;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	ck_assert(oc.lr == 0.01 && oc.momentum == 0);
	oc.nesterov = 1;
	ck_assert_int_eq(clcnn_trainer_new(g, &oc, NULL, 1, &t), CLCNN_ERR_INVALID);
	ck_assert_str_eq(clcnn_context_error(ctx), "nesterov needs momentum > 0 and dampening 0 (as torch.optim.SGD)");
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_ADAMW);
	ck_assert(oc.lr == 0.001 && oc.weight_decay == 0.01 && oc.beta1 == 0.9 && oc.beta2 == 0.999 && oc.eps == 1e-8);
	struct clcnn_schedule_config sc;
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_ONECYCLE);
	sc.total_steps = 0;
	ck_assert_int_eq(clcnn_trainer_new(g, &oc, &sc, 1, &t), CLCNN_ERR_INVALID);
	ck_assert_str_eq(clcnn_context_error(ctx), "onecycle schedule: total_steps 0 must be >= 1");
	/* an exploding learning rate: the loss read back is not finite */
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.lr = 1e30;
	ck_assert_int_eq(clcnn_trainer_new(g, &oc, NULL, 1, &t), 0);
	float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[6] = {1, 1, 1, 1, 1, 1}, loss;
	clcnn_graph_set_input(g, "x", x);
	clcnn_graph_set_input(g, "t", y);
	int rc = 0;
	for (int s = 0; s < 4 && !rc; s++)
		rc = clcnn_trainer_step(t, &loss);
	ck_assert_int_eq(rc, CLCNN_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "lower the learning rate"));
	ck_assert(clcnn_trainer_lr(t) == 1e30);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("train");
	TCase *tc = tcase_create("train");
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, schedules_golden);
	tcase_add_test(tc, onecycle_short);
	tcase_add_test(tc, resume_replans_schedule);
	tcase_add_test(tc, optimizers_golden);
	tcase_add_test(tc, optimizers_batched);
	tcase_add_test(tc, trainer_errors);
	tcase_add_test(tc, load_mismatch);
	tcase_add_test(tc, torch_checkpoint_lenet5);
	tcase_add_test(tc, torch_checkpoint_tiny_bn);
	tcase_add_test(tc, torch_shared_branches);
	tcase_add_test(tc, resume_small_adam);
	tcase_add_test(tc, resume_small_sgd);
	tcase_add_test(tc, resnet_trains);
	tcase_add_test(tc, resnet_resumes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
