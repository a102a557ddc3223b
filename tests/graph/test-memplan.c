/*
 * The memory plan (src/graph/plan.c): what is freed when on a small chain conv -> batchnorm ->
 * relu -> maxpool -> flatten -> linear -> cross_entropy, which values share a buffer, that relu
 * runs in place, that values the plan does not keep refuse to be read; and that the plan leaves
 * every result bitwise unchanged: forward + backward of shipped models (fmnist.net, resnet.net,
 * the Siamese model with share=, fmnist-dropout.net) and of a net with fan-out, concat, in-place
 * leaky_relu and dropout, each against the same graph with clcnn_graph_keep(g, NULL) (every value
 * kept, nothing in place): the loss, the output, every parameter after forward (running
 * statistics) and every parameter gradient compared with memcmp, with operator fusion on and off.
 * models/resnet18.net: torchvision's parameter count, every relu in place.
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

static void expect_fail(struct clcnn_context *ctx, int rc, int want, const char *msg)
{
	ck_assert_msg(rc == want, "expected %d, got %d (%s)", want, rc, clcnn_context_error(ctx));
	ck_assert_str_eq(clcnn_context_error(ctx), msg);
}

static int value_of(struct clcnn_graph *g, const char *name)
{
	int v = graph_find_value(g, name);
	ck_assert_msg(v >= 0, "no value %s", name);
	return v;
}

/* Forward time of node `name` on the plan's timeline (graph-private.h): 1 + its schedule index. */
static int t_forward(struct clcnn_graph *g, const char *name)
{
	int i = graph_find_node(g, name);
	for (int k = 0; k < g->nnodes; k++)
		if (g->order[k] == i)
			return 1 + k;
	ck_abort_msg("no node %s", name);
	return -1;
}

/* Backward time of node `name`: 1 + F + its index among the nodes that run backward, last first. */
static int t_backward(struct clcnn_graph *g, const char *name)
{
	int i = graph_find_node(g, name), t = 0;
	for (int k = g->nnodes - 1; k >= 0; k--) {
		if (!g->nodes[g->order[k]].run_backward)
			continue;
		if (g->order[k] == i)
			return 1 + g->nnodes + t;
		t++;
	}
	ck_abort_msg("node %s runs no backward", name);
	return -1;
}

static const char *chain = "x = input(shape=(3,9,7))\n"
			   "label = input()\n"
			   "c = conv2d(x, out_channels=4, kernel_size=3, padding=1)\n"
			   "bn = batchnorm2d\n"
			   "r = relu\n"
			   "p = maxpool2d(kernel_size=2)\n"
			   "f = flatten\n"
			   "fc = linear(out_features=5)\n"
			   "loss = cross_entropy(fc, label)\n";

START_TEST(chain_what_is_freed_when)
{
	struct clcnn_context *ctx = test_context_fixed();
	struct clcnn_graph *g = must_parse(ctx, chain);
	/* the plan of separate passes: batchnorm + relu fused is tests/graph/test-fusion.c's */
	ck_assert_int_eq(clcnn_graph_set_fusion(g, 0), 0);
	ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s", clcnn_context_error(ctx));
	const struct graph_value *x = &g->values[value_of(g, "x")], *c = &g->values[value_of(g, "c")],
				 *bn = &g->values[value_of(g, "bn")], *r = &g->values[value_of(g, "r")],
				 *p = &g->values[value_of(g, "p")], *f = &g->values[value_of(g, "f")],
				 *fc = &g->values[value_of(g, "fc")], *loss = &g->values[value_of(g, "loss")],
				 *label = &g->values[value_of(g, "label")];
	int F = g->nnodes, END = g->time_end;
	ck_assert_int_eq(END, 1 + F + 7); /* every node runs backward */

	/* conv reads its input in backward: the image lives to the end (a graph input anyway) */
	ck_assert(x->kept && x->t_start == 0 && x->t_end == END);
	/* batchnorm reads its input (conv's output) in backward */
	ck_assert_int_eq(c->t_start, t_forward(g, "c"));
	ck_assert_int_eq(c->t_end, t_backward(g, "bn"));
	ck_assert(!c->kept);
	/* relu reads only its output in backward: batchnorm's output dies at relu's forward ... */
	ck_assert_int_eq(bn->t_end, t_forward(g, "r"));
	ck_assert_int_eq(bn->last_reader, graph_find_node(g, "r"));
	/* ... so relu writes over it, and lives to its own backward */
	ck_assert(g->nodes[graph_find_node(g, "r")].inplace);
	ck_assert_int_eq(r->slot, bn->slot);
	ck_assert_int_eq(r->t_end, t_backward(g, "r"));
	/* maxpool's backward uses its argmax (state), not its input or output */
	ck_assert(!g->nodes[graph_find_node(g, "p")].inplace);
	ck_assert_int_eq(p->t_end, t_forward(g, "f"));
	/* the linear layer reads its input (flatten's output) in backward */
	ck_assert_int_eq(f->t_end, t_backward(g, "fc"));
	/* the output and the loss are kept for the user */
	ck_assert(fc->kept && fc->t_end == END && loss->kept && label->kept);
	/* nothing else is in place: batchnorm, conv, pool are not in-place ops */
	int inplace = 0;
	for (int i = 0; i < g->nnodes; i++)
		inplace += g->nodes[i].inplace;
	ck_assert_int_eq(inplace, 1);

	/* live while backward runs: x, label, c, r (over bn), f, fc, loss; freed: bn's own life, p */
	struct clcnn_graph_plan_info pi;
	ck_assert_int_eq(clcnn_graph_plan_info(g, &pi), 0);
	ck_assert_uint_eq(pi.kept_for_backward,
			  x->bytes + label->bytes + c->bytes + r->bytes + f->bytes + fc->bytes + loss->bytes);
	ck_assert_int_eq(pi.inplace_nodes, 1);
	ck_assert_uint_eq(pi.pool_bytes, g->pool_total);
	ck_assert_uint_eq(pi.peak_bytes, clcnn_graph_peak_bytes(g));
	ck_assert(pi.backward_peak > pi.step_peak && pi.backward_peak <= pi.peak_bytes);
	ck_assert(pi.forward_peak <= pi.peak_bytes);

	/* p's buffer goes to something else once flatten has read it: a gradient or a later value */
	int shared = 0;
	for (int v = 0; v < graph_nvalues(g); v++)
		shared += v != value_of(g, "p") && g->values[v].slot == p->slot;
	for (int v = 0; v < graph_nvalues(g); v++)
		shared += g->values[v].grad_planned && g->values[v].grad_slot == p->slot;
	ck_assert_int_gt(shared, 0);

	/* the whole pool is smaller than keeping everything */
	size_t planned = pi.pool_bytes;
	ck_assert_int_eq(clcnn_graph_keep(g, NULL), 0); /* plans again at once */
	struct clcnn_graph_plan_info all;
	ck_assert_int_eq(clcnn_graph_plan_info(g, &all), 0);
	ck_assert_int_eq(all.inplace_nodes, 0);
	ck_assert_uint_lt(planned, all.pool_bytes);
	ck_assert_uint_eq(all.kept_for_backward, all.all_values_bytes);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* A value the plan frees cannot be read; clcnn_graph_keep makes it readable, with the same values. */
START_TEST(read_needs_keep)
{
	struct clcnn_context *ctx = test_context_fixed();
	struct clcnn_graph *g = must_parse(ctx, chain);
	ck_assert_int_eq(clcnn_graph_build(g, 2), 0);
	float xin[2 * 3 * 9 * 7], lab[2] = {1, 4}, p1[2 * 4 * 4 * 3], p2[2 * 4 * 4 * 3];
	for (size_t i = 0; i < sizeof xin / sizeof *xin; i++)
		xin[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", xin), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "label", lab), 0);
	ck_assert_int_eq(clcnn_graph_forward(g, 1, 3), 0);
	expect_fail(ctx, clcnn_graph_read(g, "p", p1), CLCNN_ERR_INVALID,
		    "node 'p': its output is not kept (the memory plan gives its buffer to other tensors after its "
		    "last reader); call clcnn_graph_keep(g, \"p\") to read it");
	expect_fail(ctx, clcnn_graph_keep(g, "nope"), CLCNN_ERR_INVALID, "keep: no node named 'nope'");
	ck_assert_int_eq(clcnn_graph_keep(g, "p"), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", xin), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "label", lab), 0);
	ck_assert_int_eq(clcnn_graph_forward(g, 1, 3), 0);
	ck_assert_int_eq(clcnn_graph_backward(g), 0); /* backward must not overwrite a kept value */
	ck_assert_int_eq(clcnn_graph_read(g, "p", p1), 0);
	ck_assert_int_eq(clcnn_graph_keep(g, NULL), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", xin), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "label", lab), 0);
	ck_assert_int_eq(clcnn_graph_forward(g, 1, 3), 0);
	ck_assert_int_eq(clcnn_graph_read(g, "p", p2), 0);
	ck_assert_mem_eq(p1, p2, sizeof p1);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * Fan-out (r feeds two convolutions and a concat), in-place leaky_relu and dropout (eval-safe), and
 * a leaky_relu whose input is read again afterwards (not in place).
 */
static const char *fanout = "x = input(shape=(2,8,8))\n"
			    "label = input()\n"
			    "c = conv2d(x, out_channels=3, kernel_size=3, padding=1)\n"
			    "r = relu\n"
			    "a = conv2d(r, out_channels=3, kernel_size=1)\n"
			    "la = leaky_relu(a, negative_slope=0.2)\n"
			    "b = conv2d(r, out_channels=2, kernel_size=3, padding=1)\n"
			    "bb = batchnorm2d\n"
			    "lb = leaky_relu(bb, negative_slope=0)\n"
			    "sk = add(bb, lb)\n" /* bb is read after lb: lb must not write over it */
			    "cat = concat(la, sk, r)\n"
			    "d = dropout(cat, p=0.3)\n"
			    "s = sigmoid\n"
			    "g = global_avgpool2d\n"
			    "f = flatten\n"
			    "fc = linear(out_features=4)\n"
			    "loss = cross_entropy(fc, label)\n";

/* Loss, output, parameters and parameter gradients after one training step, in one buffer. */
static float *step_results(struct clcnn_graph *g, int batch, size_t *count)
{
	size_t n = 1;
	int np = clcnn_graph_param_count(g);
	struct clcnn_param_info info;
	for (int i = 0; i < np; i++) {
		clcnn_graph_param_info(g, i, &info);
		n += info.count * (info.trainable ? 2 : 1);
	}
	const char *out = clcnn_graph_output_name(g);
	int ov = graph_find_value(g, out);
	size_t on = g->values[ov].bytes / sizeof(float);
	n += on;
	float *r = calloc(n, sizeof *r), *w = r;
	test_fill_inputs(g, batch, 99, 0);
	ck_assert_msg(clcnn_graph_forward(g, 1, 1234) == 0, "%s", clcnn_context_error(g->ctx));
	ck_assert_msg(clcnn_graph_backward(g) == 0, "%s", clcnn_context_error(g->ctx));
	ck_assert_int_eq(clcnn_graph_loss(g, w++), 0);
	ck_assert_int_eq(clcnn_graph_read(g, out, w), 0);
	w += on;
	for (int i = 0; i < np; i++) {
		clcnn_graph_param_info(g, i, &info);
		ck_assert_int_eq(clcnn_graph_param_read(g, i, w), 0);
		w += info.count;
		if (info.trainable) {
			ck_assert_int_eq(clcnn_graph_grad_read(g, i, w), 0);
			w += info.count;
		}
	}
	ck_assert_uint_eq((size_t)(w - r), n);
	*count = n;
	return r;
}

static void compare_plans(struct clcnn_graph *planned, struct clcnn_graph *all, int batch, const char *what)
{
	ck_assert_int_eq(clcnn_graph_keep(all, NULL), 0);
	ck_assert_msg(clcnn_graph_build(planned, batch) == 0, "%s", clcnn_context_error(planned->ctx));
	ck_assert_msg(clcnn_graph_build(all, batch) == 0, "%s", clcnn_context_error(all->ctx));
	ck_assert_int_eq(clcnn_graph_init_params(planned, 5, "default"), 0);
	ck_assert_int_eq(clcnn_graph_init_params(all, 5, "default"), 0);
	struct clcnn_graph_plan_info a, b;
	clcnn_graph_plan_info(planned, &a);
	clcnn_graph_plan_info(all, &b);
	ck_assert_msg(a.pool_bytes < b.pool_bytes, "%s: the plan frees nothing (%zu >= %zu)", what, a.pool_bytes,
		      b.pool_bytes);
	size_t n1, n2;
	/* two steps: the second runs on buffers the first left behind (and on updated statistics) */
	for (int step = 0; step < 2; step++) {
		float *r1 = step_results(planned, batch, &n1), *r2 = step_results(all, batch, &n2);
		ck_assert_uint_eq(n1, n2);
		size_t first = n1;
		for (size_t k = 0; k < n1 && first == n1; k++)
			if (memcmp(&r1[k], &r2[k], sizeof(float)))
				first = k;
		ck_assert_msg(first == n1, "%s, step %d: result %zu of %zu differs: %.9g (planned) vs %.9g (all kept)",
			      what, step, first, n1, (double)r1[first], (double)r2[first]);
		free(r1);
		free(r2);
	}
	/* with fusion off, the relus that fusion would take run in place */
	if (planned->fuse)
		ck_assert_msg(a.inplace_nodes + a.fused_nodes > 0, "%s: nothing in place or fused", what);
	else
		ck_assert_msg(a.inplace_nodes > 0, "%s: nothing in place", what);
}

static const char *const models[] = {"fmnist.net", "resnet.net", "siamese-fmnist.net", "fmnist-dropout.net", NULL};

START_TEST(bitwise_models)
{
	struct clcnn_context *ctx = test_context_fixed();
	const char *name = models[_i];
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/%s", getenv("CLCNN_DATA_DIR"), name);
	/* with operator fusion (the default) and without */
	for (int fuse = 1; fuse >= 0; fuse--) {
		struct clcnn_graph *a, *b;
		ck_assert_msg(clcnn_graph_load(ctx, path, &a) == 0, "%s", clcnn_context_error(ctx));
		ck_assert_msg(clcnn_graph_load(ctx, path, &b) == 0, "%s", clcnn_context_error(ctx));
		ck_assert_int_eq(clcnn_graph_set_fusion(a, fuse), 0);
		char what[96];
		snprintf(what, sizeof what, "%s, fusion %s", name, fuse ? "on" : "off");
		compare_plans(a, b, 3, what);
		clcnn_graph_free(a);
		clcnn_graph_free(b);
	}
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(bitwise_fanout_concat)
{
	struct clcnn_context *ctx = test_context_fixed();
	struct clcnn_graph *a = must_parse(ctx, fanout), *b = must_parse(ctx, fanout);
	compare_plans(a, b, 5, "fan-out net");
	/* leaky_relu la writes over a, which nothing reads later */
	ck_assert(a->nodes[graph_find_node(a, "la")].inplace);
	ck_assert(!a->nodes[graph_find_node(a, "lb")].inplace); /* sk still reads bb */
	ck_assert(a->nodes[graph_find_node(a, "d")].inplace);   /* dropout backward needs neither tensor */
	ck_assert(!a->nodes[graph_find_node(a, "s")].inplace);  /* sigmoid is not an in-place op */
	/* eval mode runs on the same plan: dropout in place copies nothing onto itself */
	test_fill_inputs(a, 5, 1, 0);
	test_fill_inputs(b, 5, 1, 0);
	ck_assert_msg(clcnn_graph_forward(a, 0, 0) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_forward(b, 0, 0), 0);
	float la, lb;
	ck_assert_int_eq(clcnn_graph_loss(a, &la), 0);
	ck_assert_int_eq(clcnn_graph_loss(b, &lb), 0);
	ck_assert_mem_eq(&la, &lb, sizeof la);
	clcnn_graph_free(a);
	clcnn_graph_free(b);
	clcnn_context_close(ctx);
}
END_TEST

/*
 * models/resnet18.net is torchvision's resnet18: 11,689,512 trainable parameters. On a host context
 * (sizes only) at batch 32 the plan needs well under what keeping everything does: docs/cost.md.
 */
START_TEST(resnet18_plan)
{
	struct clcnn_context *host;
	ck_assert_int_eq(clcnn_context_open_host(&host, NULL, NULL, 0), 0);
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/resnet18.net", getenv("CLCNN_DATA_DIR"));
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(host, path, &g) == 0, "%s", clcnn_context_error(host));
	ck_assert_msg(clcnn_graph_build(g, 32) == 0, "%s", clcnn_context_error(host));
	struct clcnn_graph_cost total;
	ck_assert_int_eq(clcnn_graph_total_cost(g, &total), 0);
	ck_assert_uint_eq(total.trainable, 11689512);
	struct clcnn_graph_plan_info plan, all;
	ck_assert_int_eq(clcnn_graph_plan_info(g, &plan), 0);
	ck_assert_int_eq(clcnn_graph_keep(g, NULL), 0);
	ck_assert_int_eq(clcnn_graph_plan_info(g, &all), 0);
	/* every relu runs in place or fused into its batchnorm (17), and what is allocated drops by a third */
	ck_assert_int_eq(plan.inplace_nodes + plan.fused_nodes, 17);
	ck_assert_int_gt(plan.fused_nodes, 0);
	ck_assert_uint_lt(plan.peak_bytes, all.peak_bytes / 3 * 2);
	ck_assert_uint_lt(plan.kept_for_backward, all.kept_for_backward);
	clcnn_graph_free(g);
	clcnn_context_close(host);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memplan");
	TCase *tc = tcase_create("plan");
	tcase_set_timeout(tc, 1200);
	tcase_add_test(tc, chain_what_is_freed_when);
	tcase_add_test(tc, read_needs_keep);
	tcase_add_loop_test(tc, bitwise_models, 0, 4);
	tcase_add_test(tc, bitwise_fanout_concat);
	tcase_add_test(tc, resnet18_plan);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
