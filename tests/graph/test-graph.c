/*
 * Graphs through the C API: validation messages, the memory plan, parameter initialisation, and
 * finite-difference checks of clcnn_graph_backward on whole small graphs (residual add with
 * batchnorm, concat with a class-index target, fan-out into two heads and into both inputs of one
 * node): every parameter gradient and the input gradient against central differences of the
 * loss computed by clcnn_graph_forward in float.
 *
 * Finite-difference bound: h = 1e-2 on O(1) values. The loss (mean of O(1) terms) is computed in
 * float32, so each evaluation carries a rounding error of a few 1e-7 (relative; the sums inside
 * conv/linear/mean add ~sqrt(n) ulps); divided by 2h that is ~3e-5. Truncation is h^2/6 |L'''|,
 * with |L'''| = O(1) for these tanh/sigmoid/batchnorm nets: ~2e-5. The bound
 * |fd - analytic| <= 5e-4 + 1e-2 |analytic| keeps a margin of 10 over both, while a missing
 * fan-out contribution (an error of the size of the gradient itself) or a wrong sign fails it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "graph/graph-private.h"
#include "testutil.h"

static struct clcnn_graph *must_parse(struct clcnn_context *ctx, const char *text)
{
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, text, "test.net", &g) == 0, "%s", clcnn_context_error(ctx));
	return g;
}

static float uniform(uint64_t *s, float lo, float hi)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return lo + (hi - lo) * (float)((*s >> 40) & 0xFFFFFF) / 16777216.0f;
}

/* Fill every input: class indices for 1-value-per-sample inputs, uniform values otherwise. */
static float **set_inputs(struct clcnn_graph *g, int batch, int classes, uint64_t seed, size_t *counts)
{
	int n = clcnn_graph_input_count(g);
	float **x = calloc((size_t)n, sizeof *x);
	for (int i = 0; i < n; i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(g, i, &name, &nd, dims);
		size_t c = (size_t)batch;
		for (int d = 0; d < nd; d++)
			c *= (size_t)dims[d];
		counts[i] = c;
		x[i] = malloc(c * sizeof(float));
		for (size_t k = 0; k < c; k++)
			x[i][k] = nd ? uniform(&seed, -1, 1) : (float)((k * 7 + 3) % (size_t)classes);
		ck_assert_int_eq(clcnn_graph_set_input(g, name, x[i]), 0);
	}
	return x;
}

static double eval_loss(struct clcnn_graph *g)
{
	float l;
	ck_assert_msg(clcnn_graph_forward(g, 1, 42) == 0, "%s", clcnn_context_error(g->ctx));
	ck_assert_int_eq(clcnn_graph_loss(g, &l), 0);
	return l;
}

static int close_enough(double fd, double an)
{
	return fabs(fd - an) <= 5e-4 + 1e-2 * fabs(an);
}

/* Check every trainable parameter (up to 40 elements each, evenly spread) and input `grad_input`. */
static void fd_check(struct clcnn_graph *g, const char *grad_input, int batch, int classes)
{
	const float h = 1e-2f;
	size_t counts[8];
	float **x = set_inputs(g, batch, classes, 7, counts);
	ck_assert_msg(clcnn_graph_forward(g, 1, 42) == 0, "%s", clcnn_context_error(g->ctx));
	ck_assert_msg(clcnn_graph_backward(g) == 0, "%s", clcnn_context_error(g->ctx));
	int checked = 0;
	double sumabs = 0;
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		clcnn_graph_param_info(g, i, &pi);
		if (!pi.trainable)
			continue;
		float *p = malloc(pi.count * sizeof *p), *gr = malloc(pi.count * sizeof *gr);
		ck_assert_int_eq(clcnn_graph_param_read(g, i, p), 0);
		ck_assert_int_eq(clcnn_graph_grad_read(g, i, gr), 0);
		size_t step = pi.count > 40 ? pi.count / 40 : 1;
		for (size_t k = 0; k < pi.count; k += step) {
			float keep = p[k];
			p[k] = keep + h;
			clcnn_graph_param_write(g, i, p);
			double lp = eval_loss(g);
			p[k] = keep - h;
			clcnn_graph_param_write(g, i, p);
			double lm = eval_loss(g);
			p[k] = keep;
			clcnn_graph_param_write(g, i, p);
			double fd = (lp - lm) / (2.0 * h);
			ck_assert_msg(close_enough(fd, gr[k]), "%s[%zu]: analytic %.7g, finite difference %.7g",
				      pi.name, k, (double)gr[k], fd);
			sumabs += fabs(gr[k]);
			checked++;
		}
		free(p);
		free(gr);
	}
	if (grad_input) {
		int in = -1;
		for (int i = 0; i < clcnn_graph_input_count(g); i++) {
			const char *name;
			clcnn_graph_input_info(g, i, &name, NULL, NULL);
			if (!strcmp(name, grad_input))
				in = i;
		}
		ck_assert_int_ge(in, 0);
		/* the parameters are restored, so backward from the same point gives the same gradient */
		ck_assert_int_eq(clcnn_graph_set_input(g, grad_input, x[in]), 0);
		ck_assert_int_eq(clcnn_graph_forward(g, 1, 42), 0);
		ck_assert_int_eq(clcnn_graph_backward(g), 0);
		float *gx = malloc(counts[in] * sizeof *gx);
		ck_assert_msg(clcnn_graph_read_input_grad(g, grad_input, gx) == 0, "%s", clcnn_context_error(g->ctx));
		size_t step = counts[in] > 60 ? counts[in] / 60 : 1;
		for (size_t k = 0; k < counts[in]; k += step) {
			float keep = x[in][k];
			x[in][k] = keep + h;
			clcnn_graph_set_input(g, grad_input, x[in]);
			double lp = eval_loss(g);
			x[in][k] = keep - h;
			clcnn_graph_set_input(g, grad_input, x[in]);
			double lm = eval_loss(g);
			x[in][k] = keep;
			clcnn_graph_set_input(g, grad_input, x[in]);
			double fd = (lp - lm) / (2.0 * h);
			ck_assert_msg(close_enough(fd, gx[k]),
				      "d loss / d %s[%zu]: analytic %.7g, finite difference %.7g", grad_input, k,
				      (double)gx[k], fd);
			sumabs += fabs(gx[k]);
			checked++;
		}
		free(gx);
	}
	/* the check means something only if the gradients are not all tiny */
	ck_assert_msg(sumabs / checked > 1e-3, "mean |gradient| %g is too small to test", sumabs / checked);
	for (int i = 0; i < clcnn_graph_input_count(g); i++)
		free(x[i]);
	free(x);
}

START_TEST(fd_residual_batchnorm)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = must_parse(ctx, "x = input(shape=(2,5,5))\n"
						"t = input(shape=(6))\n"
						"c1 = conv2d(x, out_channels=2, kernel_size=3, padding=1)\n"
						"bn = batchnorm2d\n"
						"a1 = tanh\n"
						"sum = add(a1, x)\n" /* x fans out to c1 and the skip */
						"p = avgpool2d(kernel_size=2)\n"
						"f = flatten\n"
						"fc = linear(out_features=6)\n"
						"loss = mse_loss(fc, t)\n");
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "x"), 0);
	ck_assert_msg(clcnn_graph_build(g, 3) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(g, 5, "xavier_uniform"), 0);
	fd_check(g, "x", 3, 1);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(fd_concat_cross_entropy)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = must_parse(ctx, "x = input(shape=(2,4,4))\n"
						"label = input()\n"
						"c1 = conv2d(x, out_channels=3, kernel_size=3, padding=1)\n"
						"c2 = conv2d(x, out_channels=2, kernel_size=1)\n"
						"cat = concat(c1, c2)\n"
						"s = sigmoid\n"
						"gp = global_avgpool2d\n"
						"f = flatten\n"
						"fc = linear(out_features=4)\n"
						"loss = cross_entropy(fc, label)\n");
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "x"), 0);
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "label"), 0);
	ck_assert_msg(clcnn_graph_build(g, 4) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(g, 9, "kaiming_uniform"), 0);
	fd_check(g, "x", 4, 4);
	/* class indices get no gradient: zeros, not an error */
	float gl[4] = {1, 1, 1, 1};
	ck_assert_int_eq(clcnn_graph_read_input_grad(g, "label", gl), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(gl[i], 0.0f);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(fd_fanout_two_heads)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = must_parse(ctx, "x = input(shape=(6))\n"
						"t = input(shape=(6))\n"
						"h = linear(x, out_features=5)\n"
						"a = tanh\n"
						"head1 = linear(a, out_features=3)\n"
						"twice = add(a, a)\n" /* one node reading a value through two slots */
						"head2 = linear(twice, out_features=3)\n"
						"both = concat(head1, head2)\n"
						"loss = mse_loss(both, t)\n");
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "x"), 0);
	ck_assert_msg(clcnn_graph_build(g, 3) == 0, "%s", clcnn_context_error(ctx));
	/* 'a' feeds head1 and both slots of twice: the later writers accumulate through temporaries */
	int temps = 0;
	for (int i = 0; i < g->nnodes; i++)
		for (int j = 0; j < g->nodes[i].nin; j++)
			temps += g->nodes[i].acc_tmp[j] != NULL;
	ck_assert_int_eq(temps, 2);
	fd_check(g, "x", 3, 1);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

static void expect_fail(struct clcnn_context *ctx, int rc, int want, const char *msg)
{
	ck_assert_msg(rc == want, "expected %d, got %d (%s)", want, rc, clcnn_context_error(ctx));
	ck_assert_str_eq(clcnn_context_error(ctx), msg);
}

START_TEST(api_errors)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_new(ctx, &g), 0);
	int dims[3] = {1, 4, 4};
	expect_fail(ctx, clcnn_graph_add(g, "r", "relu", NULL, NULL), CLCNN_ERR_INVALID,
		    "node 'r' (relu): no input given and there is no previous node or input");
	ck_assert_int_eq(clcnn_graph_input(g, "x", 3, dims), 0);
	expect_fail(ctx, clcnn_graph_input(g, "x", 3, dims), CLCNN_ERR_INVALID, "duplicate name 'x'");
	expect_fail(ctx, clcnn_graph_input(g, "1x", 3, dims), CLCNN_ERR_INVALID,
		    "input name '1x' is not valid: use letters, digits and '_', not starting with a digit");
	dims[1] = 0;
	expect_fail(ctx, clcnn_graph_input(g, "y", 3, dims), CLCNN_ERR_INVALID,
		    "input 'y': dim 1 is 0; dims must be positive");
	ck_assert_int_eq(clcnn_graph_add(g, "r", "relu", NULL, ""), 0);
	expect_fail(ctx, clcnn_graph_add(g, "r", "tanh", "x", ""), CLCNN_ERR_INVALID, "duplicate name 'r'");
	expect_fail(ctx, clcnn_graph_add(g, "f", "flatten", "r", "start_dim=x"), CLCNN_ERR_INVALID,
		    "node 'f' (flatten): bad value 'x' for start_dim: expected an integer");
	expect_fail(ctx, clcnn_graph_add(g, "a", "add", "r", ""), CLCNN_ERR_INVALID,
		    "node 'a' (add): takes 2 to 8 inputs, got 1");
	expect_fail(ctx, clcnn_graph_add(g, "a", "add", "r,", ""), CLCNN_ERR_INVALID,
		    "node 'a' (add): empty input name in 'r,'");
	ck_assert_int_eq(clcnn_graph_add(g, "s", "sigmoid", "later", ""), 0); /* forward reference */
	expect_fail(ctx, clcnn_graph_build(g, 2), CLCNN_ERR_INVALID, "node 's' (sigmoid): unknown input 'later'");
	ck_assert_int_eq(clcnn_graph_add(g, "later", "tanh", "s", ""), 0);
	expect_fail(ctx, clcnn_graph_build(g, 2), CLCNN_ERR_INVALID, "cycle: s -> later -> s");
	expect_fail(ctx, clcnn_graph_set_output(g, "nope"), CLCNN_ERR_INVALID, "output: no node named 'nope'");
	expect_fail(ctx, clcnn_graph_forward(g, 0, 0), CLCNN_ERR_INVALID, "the graph is not built (clcnn_graph_build)");
	expect_fail(ctx, clcnn_graph_build(g, 0), CLCNN_ERR_INVALID, "batch size 0: must be at least 1");
	clcnn_graph_free(g);

	g = must_parse(ctx, "x = input(shape=(3))\nr = relu(x)\n");
	ck_assert_int_eq(clcnn_graph_build(g, 2), 0);
	expect_fail(ctx, clcnn_graph_backward(g), CLCNN_ERR_INVALID,
		    "backward: the graph has no loss node (clcnn_graph_set_loss)");
	float buf[6];
	expect_fail(ctx, clcnn_graph_read_input_grad(g, "x", buf), CLCNN_ERR_INVALID,
		    "input 'x': its gradient was not requested (call clcnn_graph_want_input_grad before "
		    "clcnn_graph_build)");
	expect_fail(ctx, clcnn_graph_read(g, "q", buf), CLCNN_ERR_INVALID, "no node or input named 'q'");
	expect_fail(ctx, clcnn_graph_init_params(g, 1, "he"), CLCNN_ERR_INVALID,
		    "unknown init scheme 'he'; known: default, kaiming_uniform, kaiming_normal, xavier_uniform, "
		    "xavier_normal");
	/* forward runs and reads back; relu of [-1, 2, -3, 4, 0, 6] */
	float in[6] = {-1, 2, -3, 4, 0, 6}, out[6];
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", in), 0);
	ck_assert_int_eq(clcnn_graph_forward(g, 0, 0), 0);
	ck_assert_int_eq(clcnn_graph_read(g, "r", out), 0);
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq(out[i], in[i] > 0 ? in[i] : 0.0f);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * Keeping every activation (clcnn_graph_keep(g, NULL)), a chain needs two gradient buffers (one
 * written while the other is read) besides one buffer per value; peak = the parts.
 * tests/graph/test-memplan.c tests the plan that frees.
 */
START_TEST(memory_plan)
{
	struct clcnn_context *ctx = test_context();
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/lenet5.net", getenv("CLCNN_DATA_DIR"));
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_keep(g, NULL), 0);
	ck_assert_msg(clcnn_graph_build(g, 4) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(g->nslots, graph_nvalues(g) + 2);
	size_t acts = 0, largest = 0, params = 0;
	for (int v = 0; v < graph_nvalues(g); v++) {
		acts += g->values[v].bytes;
		if (v >= g->ninputs && g->values[v].bytes > largest && g->values[v].grad)
			largest = g->values[v].bytes;
	}
	for (int i = 0; i < g->nparams; i++)
		params += 2 * g->params[i].count * sizeof(float);
	ck_assert_uint_eq(g->act_total, acts);
	ck_assert_uint_eq(g->param_total, params);
	/* the two gradient buffers hold c1's and r1's gradients (the two largest, 4x6x28x28 floats) */
	ck_assert_uint_eq(g->grad_total, 0);
	ck_assert_uint_eq(g->pool_total, acts + 2 * largest);
	ck_assert_uint_eq(clcnn_graph_peak_bytes(g),
			  acts + 2 * largest + params + g->state_total + g->scratch_bytes + sizeof(float));
	/* the image gradient was not asked for, so nothing is planned for it */
	ck_assert_ptr_null(g->values[0].grad);
	char *text;
	ck_assert_int_eq(clcnn_graph_describe(g, 1, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "graph: 2 inputs, 13 nodes, batch 4, 61706 parameters (61706 trainable)"));
	char want[64];
	snprintf(want, sizeof want, "in %d reused buffers", graph_nvalues(g) + 2);
	ck_assert_ptr_nonnull(strstr(text, want));
	ck_assert_ptr_nonnull(strstr(text, "backward: loss fc7 r6 fc6 r5 fc5 flat p3 r3 c3 p1 r1 c1\n"));
	free(text);
	ck_assert_int_eq(clcnn_graph_dot(g, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"c1\" -> \"r1\";"));
	free(text);

	/* rebuilding with another batch keeps the parameter values */
	float before[6], after[6];
	ck_assert_int_eq(clcnn_graph_param_read(g, 1, before), 0);
	ck_assert_int_eq(clcnn_graph_build(g, 7), 0);
	ck_assert_int_eq(clcnn_graph_batch(g), 7);
	ck_assert_int_eq(clcnn_graph_param_read(g, 1, after), 0);
	ck_assert_mem_eq(before, after, sizeof before);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(init_params)
{
	struct clcnn_context *ctx = test_context();
	const char *net = "x = input(shape=(50))\nfc = linear(x, out_features=30)\nbn = batchnorm1d\n";
	struct clcnn_graph *a = must_parse(ctx, net), *b = must_parse(ctx, net);
	ck_assert_int_eq(clcnn_graph_init_params(a, 11, "default"), 0); /* before build: applied at build */
	ck_assert_int_eq(clcnn_graph_build(a, 2), 0);
	ck_assert_int_eq(clcnn_graph_build(b, 3), 0);
	float wa[1500], wb[1500], ba[30];
	ck_assert_int_eq(clcnn_graph_param_find(a, "fc.weight"), 0);
	ck_assert_int_eq(clcnn_graph_param_find(a, "bn.running_var"), 5);
	ck_assert_int_eq(clcnn_graph_param_find(a, "bn.nope"), -1);
	clcnn_graph_param_read(a, 0, wa);
	clcnn_graph_init_params(b, 11, "default");
	clcnn_graph_param_read(b, 0, wb);
	ck_assert_mem_eq(wa, wb, sizeof wa); /* same seed, same weights */
	clcnn_graph_init_params(b, 12, "default");
	clcnn_graph_param_read(b, 0, wb);
	ck_assert(memcmp(wa, wb, sizeof wa) != 0);
	/* PyTorch default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias; mean ~0, spread ~bound/sqrt(3) */
	const struct {
		const char *scheme;
		double bound, std;
	} sc[] = {{"default", 1 / sqrt(50.0), 1 / sqrt(150.0)},
		  {"kaiming_uniform", sqrt(6.0 / 50), sqrt(2.0 / 50)},
		  {"xavier_uniform", sqrt(6.0 / 80), sqrt(2.0 / 80)},
		  {"kaiming_normal", 1e9, sqrt(2.0 / 50)},
		  {"xavier_normal", 1e9, sqrt(2.0 / 80)}};
	for (int s = 0; s < 5; s++) {
		ck_assert_int_eq(clcnn_graph_init_params(a, 3, sc[s].scheme), 0);
		clcnn_graph_param_read(a, 0, wa);
		double m = 0, v = 0;
		for (int i = 0; i < 1500; i++) {
			ck_assert_msg(fabs(wa[i]) <= sc[s].bound, "%s: |w| = %g > %g", sc[s].scheme, (double)wa[i],
				      sc[s].bound);
			m += wa[i];
			v += (double)wa[i] * wa[i];
		}
		m /= 1500;
		double sd = sqrt(v / 1500 - m * m);
		/* 1500 samples: the standard deviation is within 10 % with overwhelming probability */
		ck_assert_msg(fabs(sd / sc[s].std - 1) < 0.1, "%s: std %g, expected %g", sc[s].scheme, sd, sc[s].std);
		ck_assert_msg(fabs(m) < 4 * sc[s].std / sqrt(1500.0), "%s: mean %g", sc[s].scheme, m);
		clcnn_graph_param_read(a, 1, ba);
		for (int i = 0; i < 30; i++)
			ck_assert(fabs(ba[i]) <= 1 / sqrt(50.0)); /* biases keep the default */
	}
	float ones[30], zeros[30];
	clcnn_graph_param_read(a, 2, ones);  /* bn.weight */
	clcnn_graph_param_read(a, 3, zeros); /* bn.bias */
	for (int i = 0; i < 30; i++) {
		ck_assert_float_eq(ones[i], 1.0f);
		ck_assert_float_eq(zeros[i], 0.0f);
	}
	struct clcnn_param_info pi;
	clcnn_graph_param_info(a, 6, &pi);
	ck_assert_str_eq(pi.name, "bn.num_batches_tracked");
	ck_assert(!pi.trainable && pi.int64 && pi.ndim == 0 && pi.count == 1);
	clcnn_graph_free(a);
	clcnn_graph_free(b);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * Weight sharing (share=): three branches of one embedding (conv + batchnorm + linear) under a
 * triplet loss. Every user's gradient is summed into the one parameter, checked by finite
 * differences; the checkpoint holds the owner's tensors only.
 */
static const char *const triplet_net = "a = input(shape=(2,5,5))\n"
				       "p = input(shape=(2,5,5))\n"
				       "n = input(shape=(2,5,5))\n"
				       "ca = conv2d(a, out_channels=3, kernel_size=3, padding=1)\n"
				       "ba = batchnorm2d\n"
				       "ta = tanh\n"
				       "fa = flatten\n"
				       "ea = linear(out_features=4)\n"
				       "cp = conv2d(p, share=ca)\n"
				       "bp = batchnorm2d(share=ba)\n"
				       "tp = tanh\n"
				       "fp = flatten\n"
				       "ep = linear(share=ea)\n"
				       "cn = conv2d(n, share=cp)\n" /* a sharer's name stands for its owner */
				       "bn = batchnorm2d(share=ba)\n"
				       "tn = tanh\n"
				       "fn = flatten\n"
				       "en = linear(share=ea)\n"
				       "loss = triplet_margin_loss(ea, ep, en, margin=2)\n";

START_TEST(fd_shared_branches)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = must_parse(ctx, triplet_net);
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "p"), 0);
	ck_assert_msg(clcnn_graph_build(g, 3) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(g, 3, "xavier_uniform"), 0);
	/* one set: conv weight + bias, bn weight, bias, running_mean, running_var, count, linear weight + bias */
	ck_assert_int_eq(clcnn_graph_param_count(g), 9);
	struct clcnn_param_info pi;
	ck_assert_int_eq(clcnn_graph_param_info(g, 8, &pi), 0);
	ck_assert_str_eq(pi.name, "ea.bias");
	ck_assert_int_lt(clcnn_graph_param_find(g, "cp.weight"), 0);
	fd_check(g, "p", 3, 1);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* The shared gradient is exactly the sum of the gradients that separate copies of the layer get. */
START_TEST(shared_gradient_is_the_sum)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *s = must_parse(ctx, "x = input(shape=(3))\n"
						"y = input(shape=(3))\n"
						"t = input(shape=(2))\n"
						"l1 = linear(x, out_features=2)\n"
						"l2 = linear(y, share=l1)\n"
						"sum = add(l1, l2)\n"
						"h = tanh\n"
						"loss = mse_loss(h, t)\n");
	struct clcnn_graph *u = must_parse(ctx, "x = input(shape=(3))\n"
						"y = input(shape=(3))\n"
						"t = input(shape=(2))\n"
						"l1 = linear(x, out_features=2)\n"
						"l2 = linear(y, out_features=2)\n"
						"sum = add(l1, l2)\n"
						"h = tanh\n"
						"loss = mse_loss(h, t)\n");
	ck_assert_int_eq(clcnn_graph_build(s, 5), 0);
	ck_assert_int_eq(clcnn_graph_build(u, 5), 0);
	ck_assert_int_eq(clcnn_graph_param_count(s), 2);
	ck_assert_int_eq(clcnn_graph_param_count(u), 4);
	float w[6], b[2];
	clcnn_graph_param_read(s, 0, w);
	clcnn_graph_param_read(s, 1, b);
	for (int k = 0; k < 4; k += 2) {
		clcnn_graph_param_write(u, k, w);
		clcnn_graph_param_write(u, k + 1, b);
	}
	size_t counts[3];
	float **xs = set_inputs(s, 5, 1, 11, counts), **xu = set_inputs(u, 5, 1, 11, counts);
	for (int m = 0; m < 2; m++) {
		struct clcnn_graph *g = m ? u : s;
		ck_assert_int_eq(clcnn_graph_forward(g, 1, 1), 0);
		ck_assert_int_eq(clcnn_graph_backward(g), 0);
	}
	float gs[6], gu1[6], gu2[6];
	for (int j = 0; j < 2; j++) {
		int n = j ? 2 : 6;
		clcnn_graph_grad_read(s, j, gs);
		clcnn_graph_grad_read(u, j, gu1);
		clcnn_graph_grad_read(u, j + 2, gu2);
		for (int k = 0; k < n; k++) {
			ck_assert_float_ne(gu1[k], 0.0f);
			ck_assert_msg(gs[k] == gu1[k] + gu2[k], "parameter %d[%d]: shared %.9g, separate %.9g + %.9g",
				      j, k, (double)gs[k], (double)gu1[k], (double)gu2[k]);
		}
	}
	for (int i = 0; i < 3; i++)
		free(xs[i]), free(xu[i]);
	free(xs);
	free(xu);
	clcnn_graph_free(s);
	clcnn_graph_free(u);
	clcnn_context_close(ctx);
}
END_TEST

/* clcnn_graph_forward_to runs the node's ancestors only, with what a whole forward computes. */
START_TEST(forward_to_one_branch)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = must_parse(ctx, "x = input(shape=(3))\n"
						"y = input(shape=(3))\n"
						"t = input(shape=(2))\n"
						"a = linear(x, out_features=2)\n"
						"b = linear(y, share=a)\n"
						"s = add(a, b)\n"
						"loss = mse_loss(s, t)\n");
	ck_assert_int_eq(clcnn_graph_keep(g, "a"), 0);
	ck_assert_int_eq(clcnn_graph_keep(g, "b"), 0);
	ck_assert_int_eq(clcnn_graph_build(g, 2), 0);
	float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {-1, 0, 1, 2, 3, 4}, y2[6] = {9, 9, 9, 9, 9, 9}, t[4] = {0};
	float a_full[4], b_full[4], a_part[4], b_part[4];
	clcnn_graph_set_input(g, "x", x);
	clcnn_graph_set_input(g, "y", y);
	clcnn_graph_set_input(g, "t", t);
	ck_assert_int_eq(clcnn_graph_forward(g, 0, 0), 0);
	clcnn_graph_read(g, "a", a_full);
	clcnn_graph_read(g, "b", b_full);
	clcnn_graph_set_input(g, "y", y2); /* only the b branch would see this */
	ck_assert_int_eq(clcnn_graph_forward_to(g, "a", 0, 0), 0);
	clcnn_graph_read(g, "a", a_part);
	clcnn_graph_read(g, "b", b_part);
	ck_assert(memcmp(a_full, a_part, sizeof a_full) == 0);
	ck_assert(memcmp(b_full, b_part, sizeof b_full) == 0); /* b did not run */
	expect_fail(ctx, clcnn_graph_backward(g), CLCNN_ERR_INVALID, "backward: run clcnn_graph_forward first");
	clcnn_graph_set_input(g, "x", y2); /* and a does run */
	ck_assert_int_eq(clcnn_graph_forward_to(g, "a", 0, 0), 0);
	clcnn_graph_read(g, "a", a_part);
	ck_assert(memcmp(a_full, a_part, sizeof a_full) != 0);
	expect_fail(ctx, clcnn_graph_forward_to(g, "zz", 0, 0), CLCNN_ERR_INVALID, "forward: no node named 'zz'");
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

static void share_fails(struct clcnn_context *ctx, const char *net, int build, const char *msg)
{
	struct clcnn_graph *g = NULL;
	int rc = clcnn_graph_parse(ctx, net, "share.net", &g);
	if (build && !rc)
		rc = clcnn_graph_build(g, 2);
	/* the netfile's fault at parse time, the graph's at build time */
	ck_assert_msg(rc == (build ? CLCNN_ERR_INVALID : CLCNN_ERR_FORMAT), "expected a failure for\n%s", net);
	ck_assert_msg(strstr(clcnn_context_error(ctx), msg), "'%s' lacks '%s'", clcnn_context_error(ctx), msg);
	clcnn_graph_free(g);
}

START_TEST(share_errors)
{
	struct clcnn_context *ctx = test_context();
	const char *head = "x = input(shape=(1,6,6))\nc = conv2d(x, out_channels=2, kernel_size=3)\n";
	char net[512];
	snprintf(net, sizeof net, "%sd = conv2d(x, share=c, kernel_size=3)\n", head);
	share_fails(ctx, net, 0, "share.net:3:24: share=c takes the arguments of 'c'; remove 'kernel_size'");
	snprintf(net, sizeof net, "%sd = conv2d(x, share=e)\ne = conv2d(x, out_channels=2, kernel_size=3)\n", head);
	share_fails(ctx, net, 0, "node 'd' (conv2d): share=e: no layer 'e' is declared before it");
	snprintf(net, sizeof net, "%sd = linear(x, share=c)\n", head);
	share_fails(ctx, net, 0, "share=c, but 'c' is a conv2d layer; a node shares the parameters of a layer of "
				 "its own type");
	snprintf(net, sizeof net, "%sr = relu(c)\ns = relu(r, share=r)\n", head);
	share_fails(ctx, net, 1, "share.net:4:1: node 's' (relu): share=r, but 'r' has no parameters");
	snprintf(net, sizeof net, "%sd = conv2d(c, share=c)\n", head);
	share_fails(ctx, net, 1, "node 'd' (conv2d): share=c, but its input makes weight 2x2x3x3 where 'c' has "
				 "2x1x3x3");
	/* C API: the same key in clcnn_graph_add */
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_new(ctx, &g), 0);
	int dims[1] = {4};
	ck_assert_int_eq(clcnn_graph_input(g, "v", 1, dims), 0);
	ck_assert_int_eq(clcnn_graph_add(g, "l", "linear", "v", "out_features=4"), 0);
	ck_assert_int_eq(clcnn_graph_add(g, "l2", "linear", "l", " share = l "), 0);
	ck_assert_int_eq(clcnn_graph_build(g, 2), 0);
	ck_assert_int_eq(clcnn_graph_param_count(g), 2);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("graph");
	TCase *tc = tcase_create("graph");
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, api_errors);
	tcase_add_test(tc, memory_plan);
	tcase_add_test(tc, init_params);
	tcase_add_test(tc, fd_residual_batchnorm);
	tcase_add_test(tc, fd_concat_cross_entropy);
	tcase_add_test(tc, fd_fanout_two_heads);
	tcase_add_test(tc, fd_shared_branches);
	tcase_add_test(tc, shared_gradient_is_the_sum);
	tcase_add_test(tc, share_errors);
	tcase_add_test(tc, forward_to_one_branch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
