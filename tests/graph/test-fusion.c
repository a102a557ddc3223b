/*
 * Operator fusion (src/graph/plan.c, plan_fusion): a batchnorm, linear layer or add whose only reader is a
 * relu (or a leaky_relu with slope >= 0) applies it itself, and the activation runs no pass.
 *
 * - Which nodes fuse: fmnist.net (r1 into bn1, r2 into bn2, r3 into fc1), resnet.net (the four
 *   relus right after a batchnorm and the three after a residual add), and the cases
 *   that must not: a batchnorm output with two readers, one kept (clcnn_graph_keep), the graph's
 *   output, keep-all, leaky_relu with a negative slope, fusion off (clcnn_graph_set_fusion,
 *   CLCNN_FUSE=off in the options). A kept relu output may fuse.
 * - What it saves: on fmnist.net the relus' outputs after batchnorm are no longer kept for backward
 *   (batchnorm's backward recomputes the mask from its input), so the plan's peak and kept bytes drop
 *   by those two tensors; `clcnn graph --plan` (clcnn_graph_describe) prints the fused count and the
 *   marker.
 * - Exactness: fused against unfused graphs of one context with fixed convolution algorithms, two
 *   training steps with an SGD update between them (so the second runs on other weights and on
 *   updated running statistics), then an eval-mode forward: the loss, the output, every parameter
 *   and buffer and every parameter gradient compared with memcmp. Models: fmnist.net, resnet.net,
 *   mlp-csv.net (batch 3: the small-m GEMM kernel applies bias and relu) and a small net (batch 6:
 *   the tiled GEMM does) with batchnorm1d on (N, F) (float8 feature lanes and scalar ones),
 *   leaky_relu, affine=false, a kept fused relu, linear layers with a fused leaky_relu (no bias)
 *   and relu (before the loss), and a residual add with a fused leaky_relu.
 */
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

static struct clcnn_graph *must_load(struct clcnn_context *ctx, const char *model)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/%s", getenv("CLCNN_DATA_DIR"), model);
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
	return g;
}

static struct clcnn_context *host_context(const char *fuse)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.fuse = fuse;
	struct clcnn_context *host;
	ck_assert_int_eq(clcnn_context_open_host(&host, &o, NULL, 0), 0);
	return host;
}

/* The node that applies node `name` (-1: it runs itself). */
static int fused_by(struct clcnn_graph *g, const char *name)
{
	int i = graph_find_node(g, name);
	ck_assert_msg(i >= 0, "no node %s", name);
	return g->nodes[i].fused_by;
}

static int node(struct clcnn_graph *g, const char *name)
{
	int i = graph_find_node(g, name);
	ck_assert_msg(i >= 0, "no node %s", name);
	return i;
}

/* Exactly the nodes of `fused` (NULL-terminated pairs activation, producer) are fused. */
static void expect_fused(struct clcnn_graph *g, const char *const *fused, int inplace, const char *what)
{
	int n = 0;
	for (; fused[2 * n]; n++) {
		ck_assert_msg(fused_by(g, fused[2 * n]) == node(g, fused[2 * n + 1]), "%s: %s is not fused into %s",
			      what, fused[2 * n], fused[2 * n + 1]);
		ck_assert_int_eq(g->nodes[node(g, fused[2 * n + 1])].fuses, node(g, fused[2 * n]));
		ck_assert(!g->nodes[node(g, fused[2 * n])].run_backward);
		ck_assert_int_eq(g->nodes[node(g, fused[2 * n + 1])].op->fused.kind, CLCNN_FUSED_RELU);
	}
	struct clcnn_graph_plan_info pi;
	ck_assert_int_eq(clcnn_graph_plan_info(g, &pi), 0);
	ck_assert_msg(pi.fused_nodes == n, "%s: %d fused, expected %d", what, pi.fused_nodes, n);
	ck_assert_msg(pi.inplace_nodes == inplace, "%s: %d in place, expected %d", what, pi.inplace_nodes, inplace);
}

START_TEST(fused_nodes_of_models)
{
	struct clcnn_context *host = host_context(NULL);
	struct clcnn_graph *g = must_load(host, "fmnist.net");
	ck_assert_int_eq(clcnn_graph_set_fusion(g, 1), 0);
	ck_assert_msg(clcnn_graph_build(g, 128) == 0, "%s", clcnn_context_error(host));
	const char *const fm[] = {"r1", "bn1", "r2", "bn2", "r3", "fc1", NULL};
	expect_fused(g, fm, 0, "fmnist.net");
	/* a fused relu's output is its batchnorm's buffer */
	ck_assert_int_eq(g->values[graph_find_value(g, "r1")].slot, g->values[graph_find_value(g, "bn1")].slot);
	struct clcnn_graph_plan_info on, off;
	ck_assert_int_eq(clcnn_graph_plan_info(g, &on), 0);
	size_t relu_bytes = g->values[graph_find_value(g, "r1")].bytes + g->values[graph_find_value(g, "r2")].bytes;

	/* `clcnn graph --plan` says so */
	char *text;
	ck_assert_int_eq(clcnn_graph_describe(g, 1, &text), 0);
	ck_assert_msg(strstr(text, "0 nodes in place; 3 fused"), "%s", text);
	ck_assert_msg(strstr(text, "fused into bn1") && strstr(text, "fused into bn2") &&
			      strstr(text, "fused into fc1"),
		      "%s", text);
	free(text);

	/* off: plans again at once, the relus in place and kept for their own backward */
	ck_assert_int_eq(clcnn_graph_set_fusion(g, 0), 0);
	const char *const none[] = {NULL};
	expect_fused(g, none, 3, "fmnist.net, fusion off");
	ck_assert_int_eq(clcnn_graph_plan_info(g, &off), 0);
	/* batchnorm's backward recomputes the mask from its input: the relus' outputs go after forward;
	 * linear's reads the output that the relu in place kept */
	ck_assert_uint_eq(off.kept_for_backward - on.kept_for_backward, relu_bytes);
	ck_assert_uint_lt(on.peak_bytes, off.peak_bytes);
	ck_assert_uint_lt(on.backward_peak, off.backward_peak);
	ck_assert_uint_le(on.forward_peak, off.forward_peak);
	ck_assert_int_eq(clcnn_graph_describe(g, 1, &text), 0);
	ck_assert_msg(strstr(text, "3 nodes in place; 0 fused") && !strstr(text, "fused into"), "%s", text);
	free(text);
	clcnn_graph_free(g);

	g = must_load(host, "resnet.net");
	ck_assert_msg(clcnn_graph_build(g, 16) == 0, "%s", clcnn_context_error(host));
	const char *const rn[] = {"stem_r", "stem_bn", "b1a_r", "b1a_bn", "b2a_r", "b2a_bn", "b3a_r", "b3a_bn",
				  "b1",     "b1_add",  "b2",    "b2_add", "b3",    "b3_add", NULL};
	expect_fused(g, rn, 0, "resnet.net");
	/* keep-all: nothing fused, nothing in place */
	ck_assert_int_eq(clcnn_graph_keep(g, NULL), 0);
	expect_fused(g, none, 0, "resnet.net, keep all");
	clcnn_graph_free(g);
	clcnn_context_close(host);

	/* CLCNN_FUSE=off (the context's option) */
	host = host_context("off");
	g = must_load(host, "fmnist.net");
	ck_assert_int_eq(clcnn_graph_build(g, 4), 0);
	expect_fused(g, none, 3, "fmnist.net, CLCNN_FUSE=off");
	clcnn_graph_free(g);
	clcnn_context_close(host);
}
END_TEST

/* Each batchnorm is followed by a relu that must not be fused, but for `ok`. */
static const char *no_fuse = "x = input(shape=(3,6,5))\n"
			     "label = input()\n"
			     "c = conv2d(x, out_channels=4, kernel_size=3, padding=1)\n"
			     "two = batchnorm2d\n"
			     "r_two = relu(two)\n"
			     "s = add(two, r_two)\n" /* two readers */
			     "kept = batchnorm2d(s)\n"
			     "r_kept = relu(kept)\n" /* clcnn_graph_keep(g, "kept") */
			     "neg = batchnorm2d(r_kept)\n"
			     "l_neg = leaky_relu(neg, negative_slope=-0.5)\n" /* its output cannot tell the sign */
			     "sig = batchnorm2d(l_neg)\n"
			     "t_sig = sigmoid(sig)\n" /* not an activation a batchnorm can apply */
			     "ok = batchnorm2d(t_sig)\n"
			     "l_ok = leaky_relu(ok, negative_slope=0.25)\n"
			     "f = flatten\n"
			     "fc = linear(out_features=4)\n"
			     "out = batchnorm1d(fc)\n" /* the graph's output (explicit below) */
			     "r_out = relu(out)\n"
			     "loss = cross_entropy(r_out, label)\n"
			     "@output out\n";

START_TEST(what_does_not_fuse)
{
	struct clcnn_context *host = host_context(NULL);
	struct clcnn_graph *g = must_parse(host, no_fuse);
	ck_assert_int_eq(clcnn_graph_keep(g, "kept"), 0);
	ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s", clcnn_context_error(host));
	const char *const not [] = {"r_two", "r_kept", "l_neg", "t_sig", "r_out", NULL};
	for (int k = 0; not [k]; k++) {
		ck_assert_msg(fused_by(g, not [k]) == -1, "%s is fused", not [k]);
		ck_assert_msg(g->nodes[node(g, not [k])].run_backward, "%s runs no backward", not [k]);
	}
	ck_assert_int_eq(fused_by(g, "l_ok"), node(g, "ok"));
	ck_assert_int_eq(g->nodes[node(g, "ok")].op->fused.kind, CLCNN_FUSED_LEAKY_RELU);
	ck_assert(g->nodes[node(g, "ok")].op->fused.slope == 0.25f);
	struct clcnn_graph_plan_info pi;
	ck_assert_int_eq(clcnn_graph_plan_info(g, &pi), 0);
	ck_assert_int_eq(pi.fused_nodes, 1);
	clcnn_graph_free(g);
	clcnn_context_close(host);
}
END_TEST

/* ------------------------------------------------------------------ exactness on a device */

/* Loss, output, every parameter (buffers included) and every parameter gradient, in one buffer. */
static float *results(struct clcnn_graph *g, int train, size_t *count, const char *extra)
{
	int np = clcnn_graph_param_count(g);
	struct clcnn_param_info info;
	size_t n = 1;
	for (int i = 0; i < np; i++) {
		clcnn_graph_param_info(g, i, &info);
		n += info.count * (train && info.trainable ? 2 : 1);
	}
	const char *names[2] = {clcnn_graph_output_name(g), extra};
	size_t on[2] = {0, 0};
	for (int k = 0; k < 2 && names[k]; k++)
		n += on[k] = g->values[graph_find_value(g, names[k])].bytes / sizeof(float);
	float *r = calloc(n, sizeof *r), *w = r;
	ck_assert_int_eq(clcnn_graph_loss(g, w++), 0);
	for (int k = 0; k < 2 && names[k]; k++) {
		ck_assert_msg(clcnn_graph_read(g, names[k], w) == 0, "%s", clcnn_context_error(g->ctx));
		w += on[k];
	}
	for (int i = 0; i < np; i++) {
		clcnn_graph_param_info(g, i, &info);
		ck_assert_int_eq(clcnn_graph_param_read(g, i, w), 0);
		w += info.count;
		if (train && info.trainable) {
			ck_assert_int_eq(clcnn_graph_grad_read(g, i, w), 0);
			w += info.count;
		}
	}
	ck_assert_uint_eq((size_t)(w - r), n);
	*count = n;
	return r;
}

/* p -= 0.05 * grad for every trainable parameter: the next step runs on other weights. */
static void sgd(struct clcnn_graph *g)
{
	struct clcnn_param_info info;
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		clcnn_graph_param_info(g, i, &info);
		if (!info.trainable)
			continue;
		float *p = malloc(info.count * sizeof *p), *d = malloc(info.count * sizeof *d);
		ck_assert_int_eq(clcnn_graph_param_read(g, i, p), 0);
		ck_assert_int_eq(clcnn_graph_grad_read(g, i, d), 0);
		for (size_t k = 0; k < info.count; k++)
			p[k] -= 0.05f * d[k];
		ck_assert_int_eq(clcnn_graph_param_write(g, i, p), 0);
		free(p);
		free(d);
	}
}

static void compare(const float *a, const float *b, size_t n, const char *what, const char *phase)
{
	size_t first = n;
	for (size_t k = 0; k < n && first == n; k++)
		if (memcmp(&a[k], &b[k], sizeof(float)))
			first = k;
	ck_assert_msg(first == n, "%s, %s: result %zu of %zu differs: %.9g (fused) vs %.9g (not fused)", what, phase,
		      first, n, (double)a[first], (double)b[first]);
}

/* a fused, b not: two training steps with an update between, then eval; `extra` is read too. */
static void fused_equals_unfused(struct clcnn_graph *a, struct clcnn_graph *b, int batch, int nfused, const char *extra,
				 const char *what)
{
	ck_assert_int_eq(clcnn_graph_set_fusion(a, 1), 0);
	ck_assert_int_eq(clcnn_graph_set_fusion(b, 0), 0);
	ck_assert_msg(clcnn_graph_build(a, batch) == 0, "%s", clcnn_context_error(a->ctx));
	ck_assert_msg(clcnn_graph_build(b, batch) == 0, "%s", clcnn_context_error(b->ctx));
	struct clcnn_graph_plan_info pa, pb;
	clcnn_graph_plan_info(a, &pa);
	clcnn_graph_plan_info(b, &pb);
	ck_assert_msg(pa.fused_nodes == nfused, "%s: %d fused, expected %d", what, pa.fused_nodes, nfused);
	ck_assert_int_eq(pb.fused_nodes, 0);
	ck_assert_int_eq(clcnn_graph_init_params(a, 7, "default"), 0);
	ck_assert_int_eq(clcnn_graph_init_params(b, 7, "default"), 0);
	size_t n1, n2;
	for (int step = 0; step < 3; step++) {
		int train = step < 2;
		struct clcnn_graph *gs[2] = {a, b};
		for (int k = 0; k < 2; k++) {
			/* every 17th input an exact 0: ties in the pooling, zeros after bias-free layers */
			test_fill_inputs(gs[k], batch, 99 + (uint64_t)step, 17);
			ck_assert_msg(clcnn_graph_forward(gs[k], train, 1234 + (uint32_t)step) == 0, "%s",
				      clcnn_context_error(gs[k]->ctx));
			if (train)
				ck_assert_msg(clcnn_graph_backward(gs[k]) == 0, "%s", clcnn_context_error(gs[k]->ctx));
		}
		float *r1 = results(a, train, &n1, extra), *r2 = results(b, train, &n2, extra);
		ck_assert_uint_eq(n1, n2);
		char phase[32];
		snprintf(phase, sizeof phase, train ? "training step %d" : "eval", step + 1);
		compare(r1, r2, n1, what, phase);
		free(r1);
		free(r2);
		if (train) {
			sgd(a);
			sgd(b);
		}
	}
}

START_TEST(bitwise_models)
{
	/* batch 3: the linear layers' forwards run the small-m GEMM kernel, with the relu */
	static const char *const models[] = {"fmnist.net", "resnet.net", "mlp-csv.net"};
	static const int fused[] = {3, 7, 2};
	struct clcnn_context *ctx = test_context_fixed();
	struct clcnn_graph *a = must_load(ctx, models[_i]), *b = must_load(ctx, models[_i]);
	fused_equals_unfused(a, b, 3, fused[_i], NULL, models[_i]);
	clcnn_graph_free(a);
	clcnn_graph_free(b);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * batchnorm1d on (N, F): F = 16 takes float8 feature lanes, F = 5 scalar ones; a leaky_relu; a
 * batchnorm without affine parameters; and a fused relu whose output is kept (read below).
 */
static const char *small = "x = input(shape=(2,6,5))\n"
			   "label = input()\n"
			   "c = conv2d(x, out_channels=3, kernel_size=3, padding=1, bias=false)\n"
			   "bn = batchnorm2d(affine=false)\n"
			   "r = relu\n"
			   "c2 = conv2d(r, out_channels=4, kernel_size=3, padding=1)\n"
			   "bn2 = batchnorm2d(momentum=none)\n"
			   "lr = leaky_relu(bn2, negative_slope=0.1)\n"
			   "c3 = conv2d(lr, out_channels=4, kernel_size=1)\n"
			   "s3 = add(c3, lr)\n"
			   "l3 = leaky_relu(s3, negative_slope=0.05)\n"
			   "f = flatten(l3)\n"
			   "fc = linear(out_features=16)\n"
			   "b16 = batchnorm1d\n"
			   "r16 = relu\n"
			   "fc2 = linear(out_features=5)\n"
			   "b5 = batchnorm1d\n"
			   "r5 = leaky_relu(b5, negative_slope=0)\n"
			   "fc3 = linear(out_features=7, bias=false)\n"
			   "l7 = leaky_relu(negative_slope=0.2)\n"
			   "fc4 = linear(out_features=4)\n"
			   "r4 = relu\n"
			   "loss = cross_entropy(r4, label)\n";

START_TEST(bitwise_small)
{
	struct clcnn_context *ctx = test_context_fixed();
	struct clcnn_graph *a = must_parse(ctx, small), *b = must_parse(ctx, small);
	ck_assert_int_eq(clcnn_graph_keep(a, "r16"), 0);
	ck_assert_int_eq(clcnn_graph_keep(b, "r16"), 0);
	fused_equals_unfused(a, b, 6, 7, "r16", "small net");
	ck_assert_int_eq(fused_by(a, "l3"), node(a, "s3"));
	ck_assert_int_eq(fused_by(a, "r16"), node(a, "b16"));
	ck_assert_int_eq(fused_by(a, "l7"), node(a, "fc3"));
	ck_assert_int_eq(fused_by(a, "r4"), node(a, "fc4"));
	clcnn_graph_free(a);
	clcnn_graph_free(b);
	clcnn_context_close(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fusion");
	TCase *plan = tcase_create("plan");
	tcase_add_test(plan, fused_nodes_of_models);
	tcase_add_test(plan, what_does_not_fuse);
	suite_add_tcase(s, plan);
	TCase *dev = tcase_create("device");
	tcase_set_timeout(dev, 1200);
	tcase_add_loop_test(dev, bitwise_models, 0, 3);
	tcase_add_test(dev, bitwise_small);
	suite_add_tcase(s, dev);
	return test_run_suite(s);
}
