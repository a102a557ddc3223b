/*
 * What `clcnn graph` reports per node (clcnn_graph_node_cost, docs/cost.md): forward FLOPs against
 * numbers computed by hand from the conventions (a multiply-add = 2, every other operation 1),
 * receptive fields of known stacks (Araujo et al. 2019), totals against the sum over the nodes, and
 * every registered op class declaring its FLOPs. Host contexts only: no device needed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "graph/graph-private.h"
#include "ops/op.h"
#include "testutil.h"

static struct clcnn_context *host(void)
{
	struct clcnn_context *ctx;
	char err[512];
	ck_assert_msg(clcnn_context_open_host(&ctx, NULL, err, sizeof err) == 0, "%s", err);
	return ctx;
}

static struct clcnn_graph *build(struct clcnn_context *ctx, const char *text, int batch)
{
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, text, "cost.net", &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s", clcnn_context_error(ctx));
	return g;
}

/* The cost of node `name`. */
static struct clcnn_node_cost node(struct clcnn_graph *g, const char *name)
{
	struct clcnn_node_cost c;
	for (int i = 0; i < clcnn_graph_node_count(g); i++) {
		ck_assert_int_eq(clcnn_graph_node_cost(g, i, &c), 0);
		if (!strcmp(c.name, name))
			return c;
	}
	ck_abort_msg("no node %s", name);
	return c;
}

/* FLOPs of node `name` of the graph `text` built at batch. */
static double flops_of(const char *text, int batch, const char *name)
{
	struct clcnn_context *ctx = host();
	struct clcnn_graph *g = build(ctx, text, batch);
	double f = node(g, name).flops;
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	return f;
}

START_TEST(flops_by_hand)
{
	/* 8 -> 4 channels in 2 groups, 3x3 dilation 2 stride 2 padding 2 on 9x9: output (9+4-5)/2+1 = 5;
	 * each output 4 input channels x 9 taps multiply-adds: 2 x (2x4x5x5) x 36 */
	ck_assert_double_eq(flops_of("x = input(shape=(8,9,9))\n"
				     "c = conv2d(out_channels=4, kernel_size=3, stride=2, dilation=2, padding=2, "
				     "groups=2)\n",
				     2, "c"),
			    2.0 * 200 * 36);
	/* 3x3 windows at stride 2 on 7x7: 3x3 outputs x 3 channels x 2 images = 54, 9 taps each;
	 * average pooling adds one division per output */
	ck_assert_double_eq(flops_of("x = input(shape=(3,7,7))\np = maxpool2d(kernel_size=3, stride=2)\n", 2, "p"),
			    54 * 9);
	ck_assert_double_eq(flops_of("x = input(shape=(3,7,7))\np = avgpool2d(kernel_size=3, stride=2)\n", 2, "p"),
			    54 * 10);
	/* global average of 4x5 planes: 20 adds + 1 division for each of 2x3 planes */
	ck_assert_double_eq(flops_of("x = input(shape=(3,4,5))\np = global_avgpool2d\n", 2, "p"), 6 * 21);
	/* batchnorm2d eval over 2x3x4x5 = 120 elements, 3 channels: per channel 1/sqrt(var+eps) (3),
	 * per element normalise (2) and affine (2); without affine 2; with batch statistics
	 * (track_running_stats=false) 4 more per element and 2 more per channel */
	ck_assert_double_eq(flops_of("x = input(shape=(3,4,5))\nb = batchnorm2d\n", 2, "b"), 120 * 4 + 3 * 3);
	ck_assert_double_eq(flops_of("x = input(shape=(3,4,5))\nb = batchnorm2d(affine=false)\n", 2, "b"),
			    120 * 2 + 3 * 3);
	ck_assert_double_eq(flops_of("x = input(shape=(3,4,5))\nb = batchnorm2d(track_running_stats=false)\n", 2, "b"),
			    120 * 8 + 3 * 5);
	/* linear 400 -> 120 at batch 2: 2 x 2 x 400 x 120 */
	ck_assert_double_eq(flops_of("x = input(shape=(400))\nf = linear(out_features=120)\n", 2, "f"),
			    2.0 * 2 * 400 * 120);
	/* add of 3 inputs: 2 adds per element of 2x4 */
	ck_assert_double_eq(flops_of("a = input(shape=(4))\nb = input(shape=(4))\nc = input(shape=(4))\n"
				     "s = add(a, b, c)\n",
				     2, "s"),
			    16);
	ck_assert_double_eq(flops_of("x = input(shape=(3))\nr = relu\n", 2, "r"), 6);
	ck_assert_double_eq(flops_of("x = input(shape=(3))\nr = gelu(approximate=tanh)\n", 2, "r"), 6 * 9);
	/* softmax over 10 classes of 2 rows: 5 per element; logsoftmax adds one log per row */
	ck_assert_double_eq(flops_of("x = input(shape=(10))\ns = softmax\n", 2, "s"), 100);
	ck_assert_double_eq(flops_of("x = input(shape=(10))\ns = logsoftmax\n", 2, "s"), 102);
	/* mse_loss mean over 2x5: 2 per element (subtract, square), 10 adds and 1 division */
	ck_assert_double_eq(flops_of("x = input(shape=(5))\ny = input(shape=(5))\nl = mse_loss(x, y)\n", 2, "l"),
			    10 * 2 + 11);
	ck_assert_double_eq(flops_of("x = input(shape=(5))\ny = input(shape=(5))\nl = mse_loss(x, y, reduction=sum)\n",
				     2, "l"),
			    10 * 2 + 10);
	/* cross_entropy over 10 classes, 2 samples: log-softmax 5 x 10 + 1, the weighted term and its
	 * weight 2, then the mean: 2 adds and 1 division; label smoothing adds 2 x 10 + 3 per sample */
	const char *ce = "x = input(shape=(10))\nt = input()\nl = cross_entropy(x, t%s)\n";
	char text[256];
	snprintf(text, sizeof text, ce, "");
	ck_assert_double_eq(flops_of(text, 2, "l"), 2 * (51 + 2) + 3);
	snprintf(text, sizeof text, ce, ", label_smoothing=0.1");
	ck_assert_double_eq(flops_of(text, 2, "l"), 2 * (51 + 2 + 23) + 3);
	/* dropout is the identity in eval; copies are free */
	ck_assert_double_eq(flops_of("x = input(shape=(3,4,5))\nd = dropout\nf = flatten\n", 2, "d"), 0);
}
END_TEST

/* The field of node `name` in `text` (one 1x16x16 image input unless the text says otherwise). */
static struct clcnn_node_cost field_of(const char *text, const char *name)
{
	struct clcnn_context *ctx = host();
	struct clcnn_graph *g = build(ctx, text, 1);
	struct clcnn_node_cost c = node(g, name);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	ck_assert_msg(c.rf_known, "%s has no field", name);
	return c;
}

#define CK_FIELD(c, h, w, jh, jw) \
	do { \
		struct clcnn_node_cost c_ = (c); \
		ck_assert_int_eq(c_.rf_size[0], h); \
		ck_assert_int_eq(c_.rf_size[1], w); \
		ck_assert_int_eq(c_.rf_jump[0], jh); \
		ck_assert_int_eq(c_.rf_jump[1], jw); \
	} while (0)

START_TEST(receptive_fields)
{
	const char *img = "x = input(shape=(1,16,16))\n";
	char t[1024];
	/* two 3x3 convolutions see 5x5, as one 5x5 does */
	snprintf(t, sizeof t,
		 "%sa = conv2d(out_channels=4, kernel_size=3, padding=1)\n"
		 "b = conv2d(out_channels=4, kernel_size=3, padding=1)\n",
		 img);
	struct clcnn_node_cost c = field_of(t, "b");
	CK_FIELD(c, 5, 5, 1, 1);
	ck_assert(!c.rf_whole[0] && !c.rf_whole[1]);
	snprintf(t, sizeof t, "%sa = conv2d(out_channels=4, kernel_size=5, padding=2)\n", img);
	CK_FIELD(field_of(t, "a"), 5, 5, 1, 1);
	/* 3x3 stride 2, then 3x3: 3 + (3-1) x 2 = 7, jump 2 */
	snprintf(t, sizeof t,
		 "%sa = conv2d(out_channels=4, kernel_size=3, stride=2)\n"
		 "b = conv2d(out_channels=4, kernel_size=3)\n",
		 img);
	CK_FIELD(field_of(t, "a"), 3, 3, 2, 2);
	CK_FIELD(field_of(t, "b"), 7, 7, 2, 2);
	/* dilation 2: 1 + (3-1) x 2 = 5; a (3,1) kernel after it only widens H: 5 + 2 = 7 */
	snprintf(t, sizeof t,
		 "%sa = conv2d(out_channels=4, kernel_size=3, dilation=2)\n"
		 "b = conv2d(out_channels=4, kernel_size=(3,1))\n",
		 img);
	CK_FIELD(field_of(t, "a"), 5, 5, 1, 1);
	CK_FIELD(field_of(t, "b"), 7, 5, 1, 1);
	/* 2x2 pooling at stride 2, then a 3x3 conv: 2 jump 2, then 2 + 2 x 2 = 6 jump 2; pointwise keeps */
	snprintf(t, sizeof t, "%sp = maxpool2d(kernel_size=2)\nr = relu\nc = conv2d(out_channels=2, kernel_size=3)\n",
		 img);
	CK_FIELD(field_of(t, "p"), 2, 2, 2, 2);
	CK_FIELD(field_of(t, "r"), 2, 2, 2, 2);
	CK_FIELD(field_of(t, "c"), 6, 6, 2, 2);
	/* global pooling sees the whole input: its size, no jump */
	snprintf(t, sizeof t, "%sc = conv2d(out_channels=2, kernel_size=3)\ng = global_avgpool2d\n", img);
	c = field_of(t, "g");
	ck_assert(c.rf_whole[0] && c.rf_whole[1]);
	CK_FIELD(c, 16, 16, 0, 0);
	/* flatten keeps each feature's field; a linear layer after it sees everything */
	snprintf(t, sizeof t, "%sc = conv2d(out_channels=2, kernel_size=3)\nf = flatten\nl = linear(out_features=3)\n",
		 img);
	CK_FIELD(field_of(t, "f"), 3, 3, 1, 1);
	c = field_of(t, "l");
	ck_assert(c.rf_whole[0] && c.rf_whole[1]);
	CK_FIELD(c, 16, 16, 0, 0);
	/* a residual add of a 3x3 branch and a two-3x3 branch takes the larger: 5x5 */
	snprintf(t, sizeof t,
		 "%sa = conv2d(x, out_channels=2, kernel_size=3, padding=1)\n"
		 "b1 = conv2d(x, out_channels=2, kernel_size=3, padding=1)\n"
		 "b2 = conv2d(b1, out_channels=2, kernel_size=3, padding=1)\n"
		 "s = add(a, b2)\n",
		 img);
	CK_FIELD(field_of(t, "a"), 3, 3, 1, 1);
	CK_FIELD(field_of(t, "s"), 5, 5, 1, 1);
	/* a softmax over W makes W whole and keeps H */
	snprintf(t, sizeof t, "%sc = conv2d(out_channels=2, kernel_size=3)\ns = softmax(dim=3)\n", img);
	c = field_of(t, "s");
	ck_assert(!c.rf_whole[0] && c.rf_whole[1]);
	CK_FIELD(c, 3, 16, 1, 0);
	/* maxblurpool2d: max 2x2 at stride 1, then a 3-tap blur at stride 2 = one 4x4 window, jump 2 */
	snprintf(t, sizeof t, "%sm = maxblurpool2d\n", img);
	CK_FIELD(field_of(t, "m"), 4, 4, 2, 2);
}
END_TEST

START_TEST(feature_model_has_no_field)
{
	struct clcnn_context *ctx = host();
	struct clcnn_graph *g = build(ctx, "x = input(shape=(8))\nf = linear(out_features=3)\n", 4);
	struct clcnn_node_cost c = node(g, "f");
	ck_assert_int_eq(c.rf_known, 0);
	ck_assert_int_eq(c.rf_size[0], 0);
	ck_assert_int_eq(c.ndim, 2);
	ck_assert_int_eq(c.dims[0], 4);
	ck_assert_int_eq(c.dims[1], 3);
	ck_assert_uint_eq(c.params, 27);
	ck_assert_double_eq(c.flops, 2.0 * 4 * 8 * 3);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(totals_are_the_sum)
{
	struct clcnn_context *ctx = host();
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/lenet5.net", getenv("CLCNN_DATA_DIR"));
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
	/* not built: no shapes to cost */
	struct clcnn_node_cost c;
	struct clcnn_graph_cost t;
	ck_assert_int_eq(clcnn_graph_node_cost(g, 0, &c), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_graph_total_cost(g, &t), CLCNN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "clcnn_graph_build"));
	/* shape inference alone (what the netfile fuzz target runs) is enough */
	ck_assert_int_eq(graph_infer(g, 2), 0);
	ck_assert_int_eq(clcnn_graph_node_cost(g, 0, &c), 0);
	ck_assert_str_eq(c.name, "c1");
	ck_assert_double_eq(c.flops, 2.0 * 2 * 6 * 28 * 28 * 25);
	CK_FIELD(c, 5, 5, 1, 1);
	ck_assert_int_eq(clcnn_graph_build(g, 3), 0);
	ck_assert_int_eq(clcnn_graph_node_cost(g, clcnn_graph_node_count(g), &c), CLCNN_ERR_INVALID);
	double flops = 0;
	size_t params = 0, trainable = 0;
	for (int i = 0; i < clcnn_graph_node_count(g); i++) {
		ck_assert_int_eq(clcnn_graph_node_cost(g, i, &c), 0);
		flops += c.flops;
		params += c.params;
		trainable += c.trainable;
	}
	ck_assert_int_eq(clcnn_graph_total_cost(g, &t), 0);
	ck_assert_double_eq(t.flops, flops);
	ck_assert_uint_eq(t.params, params);
	ck_assert_uint_eq(t.trainable, trainable);
	ck_assert_uint_eq(t.params, 61706); /* the netfile's comment */
	/* c1 at batch 3: 3 x 6 x 28 x 28 outputs x 25 taps x 2 */
	c = node(g, "c1");
	ck_assert_double_eq(c.flops, 2.0 * 3 * 6 * 28 * 28 * 25);
	ck_assert_uint_eq(c.params, 6 * 25 + 6);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* A node that shares another's parameters (share=OWNER) reports them, but the totals count them once. */
START_TEST(shared_parameters_count_once)
{
	struct clcnn_context *ctx = host();
	struct clcnn_graph *g = build(ctx,
				      "a = input(shape=(1,8,8))\nb = input(shape=(1,8,8))\n"
				      "ca = conv2d(a, out_channels=4, kernel_size=3)\ncb = conv2d(b, share=ca)\n"
				      "s = add(ca, cb)\n",
				      2);
	struct clcnn_node_cost ca = node(g, "ca"), cb = node(g, "cb");
	ck_assert_ptr_null(ca.shares);
	ck_assert_str_eq(cb.shares, "ca");
	ck_assert_uint_eq(ca.params, 4 * 9 + 4);
	ck_assert_uint_eq(cb.params, 4 * 9 + 4);
	/* the FLOPs are both nodes' own: 2 x (2x4x6x6) x 9 each */
	ck_assert_double_eq(cb.flops, 2.0 * 288 * 9);
	struct clcnn_graph_cost t;
	ck_assert_int_eq(clcnn_graph_total_cost(g, &t), 0);
	ck_assert_uint_eq(t.params, 40);
	ck_assert_uint_eq(t.trainable, 40);
	ck_assert_double_eq(t.flops, 2 * 2.0 * 288 * 9 + 288);
	char *text;
	ck_assert_int_eq(clcnn_graph_describe(g, 0, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "shares ca"));
	ck_assert_ptr_nonnull(strstr(text, "\n  total "));
	free(text);
	ck_assert_int_eq(clcnn_graph_dot(g, &text), 0);
	ck_assert_ptr_nonnull(strstr(text, "\\nshares ca\\n5.2 kFLOPs\\nfield 3x3/1\""));
	free(text);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* "2x3x7x5;2x3x7x5" (as tests/ops/test-ops.c reads case inputs) */
static int parse_shapes(const char *text, struct clcnn_shape *s)
{
	int n = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", text);
	for (char *save = NULL, *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		s[n] = (struct clcnn_shape){0, {0}};
		if (strcmp(tok, "scalar") != 0)
			for (char *sv = NULL, *d = strtok_r(tok, "x", &sv); d; d = strtok_r(NULL, "x", &sv))
				s[n].d[s[n].ndim++] = atoi(d);
		n++;
	}
	return n;
}

/* Every class counts its FLOPs; on every case of its table they are finite, >= 0, and windows sane. */
START_TEST(every_class_has_flops)
{
	for (int i = 0; clcnn_op_classes[i]; i++) {
		const struct clcnn_op_class *cls = clcnn_op_classes[i];
		ck_assert_msg(cls->flops != NULL, "%s declares no flops()", cls->name);
		for (const struct clcnn_op_case *k = cls->cases; k && k->inputs; k++) {
			struct clcnn_shape in[CLCNN_OP_MAX_IN];
			struct clcnn_op *op;
			char err[1024];
			int nin = parse_shapes(k->inputs, in);
			ck_assert_msg(clcnn_op_new(cls->name, k->args, nin, in, &op, err, sizeof err) == 0, "%s: %s",
				      cls->name, err);
			double f = cls->flops(op);
			ck_assert_msg(isfinite(f) && f >= 0, "%s(%s): flops %g", cls->name, k->args, f);
			if (cls->window) {
				struct clcnn_op_window w = {{1, 1}, {1, 1}, {1, 1}};
				cls->window(op, &w);
				for (int a = 0; a < 2; a++)
					ck_assert_msg(w.kernel[a] >= 0 && w.stride[a] >= 1 && w.dilation[a] >= 1,
						      "%s(%s): window axis %d kernel %d stride %d dilation %d",
						      cls->name, k->args, a, w.kernel[a], w.stride[a], w.dilation[a]);
			}
			clcnn_op_free(op);
		}
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("cost");
	TCase *tc = tcase_create("cost");
	tcase_add_test(tc, flops_by_hand);
	tcase_add_test(tc, receptive_fields);
	tcase_add_test(tc, feature_model_has_no_field);
	tcase_add_test(tc, totals_are_the_sum);
	tcase_add_test(tc, shared_parameters_count_once);
	tcase_add_test(tc, every_class_has_flops);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
