/*
 * clcnn_graph_export_onnx: small graphs exported and parsed back with clcnn_onnx_read, asserting the
 * operator types, attributes (the traps: explicit pads and ceil_mode, count_include_pad always
 * written, momentum's complement, Clip bounds as inputs), initializer values against the device
 * parameters, the inputs and outputs with the symbolic batch, the metadata, the refusals; and every
 * shipped model (the netfiles in models/) exports (the round trips back to clcnn: test-onnx-round-trip.c).
 * Numerical agreement with ONNX Runtime is checked outside the
 * suite (tools/check-onnx-export.sh), which needs Python.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/onnx.h"
#include "graph/graph-private.h"
#include "io/onnx.h"
#include "testutil.h"

struct fixture {
	struct clcnn_context *ctx;
	struct clcnn_graph *g;
	char *dir;
	char path[512];
	struct onnx_model *m;
};

/* Parse text, build at batch 2 with seeded parameters. */
static void open_graph(struct fixture *f, const char *text)
{
	memset(f, 0, sizeof *f);
	f->ctx = test_context();
	ck_assert_msg(clcnn_graph_parse(f->ctx, text, "test.net", &f->g) == 0, "%s", clcnn_context_error(f->ctx));
	ck_assert_msg(clcnn_graph_build(f->g, 2) == 0, "%s", clcnn_context_error(f->ctx));
	ck_assert_msg(clcnn_graph_init_params(f->g, 5, "default") == 0, "%s", clcnn_context_error(f->ctx));
	f->dir = test_tmpdir();
	snprintf(f->path, sizeof f->path, "%s/model.onnx", f->dir);
}

/* Export with opt and read the file back. */
static void export_read(struct fixture *f, const struct clcnn_onnx_export_options *opt)
{
	char err[512];
	ck_assert_msg(clcnn_graph_export_onnx(f->g, f->path, opt) == 0, "%s", clcnn_context_error(f->ctx));
	clcnn_onnx_free(f->m);
	f->m = NULL;
	ck_assert_msg(clcnn_onnx_read(f->path, &f->m, err, sizeof err) == 0, "%s", err);
}

static void close_fixture(struct fixture *f)
{
	clcnn_onnx_free(f->m);
	clcnn_graph_free(f->g);
	clcnn_context_close(f->ctx);
	test_rmtree(f->dir);
	free(f->dir);
}

/* The node producing tensor name (fails when none does). */
static const struct onnx_node *producer(const struct onnx_model *m, const char *name)
{
	for (int i = 0; i < m->graph.nnodes; i++)
		for (int j = 0; j < m->graph.nodes[i].noutputs; j++)
			if (!strcmp(m->graph.nodes[i].outputs[j], name))
				return &m->graph.nodes[i];
	ck_abort_msg("no node produces '%s'", name);
	return NULL;
}

static int count_op(const struct onnx_model *m, const char *op_type)
{
	int n = 0;
	for (int i = 0; i < m->graph.nnodes; i++)
		n += !strcmp(m->graph.nodes[i].op_type, op_type);
	return n;
}

static void expect_ints(const struct onnx_node *n, const char *name, const int64_t *want, int count)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	ck_assert_msg(a != NULL, "node '%s' has no attribute %s", n->name, name);
	ck_assert_int_eq(a->type, ONNX_ATTR_INTS);
	ck_assert_int_eq(a->nints, count);
	for (int i = 0; i < count; i++)
		ck_assert_msg(a->ints[i] == want[i], "%s.%s[%d] = %lld, want %lld", n->name, name, i,
			      (long long)a->ints[i], (long long)want[i]);
}

static int64_t attr_i(const struct onnx_node *n, const char *name)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	ck_assert_msg(a != NULL && a->type == ONNX_ATTR_INT, "node '%s' has no int attribute %s", n->name, name);
	return a->i;
}

static float attr_f(const struct onnx_node *n, const char *name)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	ck_assert_msg(a != NULL && a->type == ONNX_ATTR_FLOAT, "node '%s' has no float attribute %s", n->name, name);
	return a->f;
}

/* Initializer name equals parameter name of the graph, bit for bit (perm: index map, NULL = same). */
static void expect_param(struct fixture *f, const char *name, const size_t *perm)
{
	const struct onnx_tensor *t = clcnn_onnx_init(&f->m->graph, name);
	ck_assert_msg(t != NULL, "no initializer '%s'", name);
	ck_assert_int_eq(t->dtype, ONNX_FLOAT);
	int pi = clcnn_graph_param_find(f->g, name);
	ck_assert_int_ge(pi, 0);
	struct clcnn_param_info info;
	clcnn_graph_param_info(f->g, pi, &info);
	ck_assert_uint_eq(t->count, info.count);
	float *want = malloc(info.count * sizeof *want);
	ck_assert_int_eq(clcnn_graph_param_read(f->g, pi, want), 0);
	const float *got = t->data;
	for (size_t i = 0; i < info.count; i++)
		ck_assert_msg(memcmp(&got[i], &want[perm ? perm[i] : i], sizeof(float)) == 0, "%s[%zu] = %g, want %g",
			      name, i, got[i], want[perm ? perm[i] : i]);
	free(want);
}

static void expect_dims(const int64_t *dims, int ndim, const int64_t *want, int wn)
{
	ck_assert_int_eq(ndim, wn);
	for (int i = 0; i < wn; i++)
		ck_assert_int_eq(dims[i], want[i]);
}

START_TEST(conv_linear_io)
{
	struct fixture f;
	open_graph(&f, "image = input(shape=(2,7,6))\nlabel = input()\n"
		       "c1 = conv2d(image, out_channels=4, kernel_size=(3,2), padding=(0,1,2,0), dilation=(1,2), "
		       "groups=2, flip=true)\n"
		       "c2 = conv2d(out_channels=4, kernel_size=3, padding=same, bias=false)\n"
		       "flat = flatten\nfc = linear(out_features=3)\nloss = cross_entropy(fc, label)\n");
	const char *meta[] = {"clcnn.mean", "0.5", "clcnn.classes", "[\"a\",\"b\",\"c\"]", NULL};
	struct clcnn_onnx_export_options opt = {.meta = meta};
	export_read(&f, &opt);
	const struct onnx_graph *og = &f.m->graph;
	ck_assert_int_eq(clcnn_onnx_opset(f.m), 14);
	/* the label and the loss are gone: one input, the output is the loss's prediction */
	ck_assert_int_eq(og->ninputs, 1);
	ck_assert_str_eq(og->inputs[0].name, "image");
	ck_assert_int_eq(og->inputs[0].elem_type, ONNX_FLOAT);
	expect_dims(og->inputs[0].dims, og->inputs[0].ndim, (int64_t[]){-1, 2, 7, 6}, 4);
	ck_assert_str_eq(og->inputs[0].dim_params[0], "N");
	ck_assert_int_eq(og->noutputs, 1);
	ck_assert_str_eq(og->outputs[0].name, "fc");
	expect_dims(og->outputs[0].dims, og->outputs[0].ndim, (int64_t[]){-1, 3}, 2);
	ck_assert_str_eq(og->outputs[0].dim_params[0], "N");
	ck_assert_int_eq(og->nnodes, 4);
	ck_assert_int_eq(count_op(f.m, "SoftmaxCrossEntropyLoss"), 0);

	const struct onnx_node *c1 = producer(f.m, "c1");
	ck_assert_str_eq(c1->op_type, "Conv");
	ck_assert_int_eq(c1->ninputs, 3);
	ck_assert_str_eq(c1->inputs[0], "image");
	ck_assert_str_eq(c1->inputs[1], "c1.weight");
	ck_assert_str_eq(c1->inputs[2], "c1.bias");
	expect_ints(c1, "kernel_shape", (int64_t[]){3, 2}, 2);
	expect_ints(c1, "strides", (int64_t[]){1, 1}, 2);
	/* (top, bottom, left, right) = (0, 1, 2, 0) -> ONNX [top, left, bottom, right] */
	expect_ints(c1, "pads", (int64_t[]){0, 2, 1, 0}, 4);
	expect_ints(c1, "dilations", (int64_t[]){1, 2}, 2);
	ck_assert_int_eq(attr_i(c1, "group"), 2);
	/* flip=true: each 3x2 plane rotated by 180 degrees */
	size_t perm[4 * 1 * 3 * 2];
	for (size_t i = 0; i < 24; i++)
		perm[i] = i / 6 * 6 + (5 - i % 6);
	expect_param(&f, "c1.weight", perm);
	expect_param(&f, "c1.bias", NULL);

	const struct onnx_node *c2 = producer(f.m, "c2");
	ck_assert_int_eq(c2->ninputs, 2); /* bias=false: no third input */
	expect_ints(c2, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	expect_param(&f, "c2.weight", NULL);

	const struct onnx_node *flat = producer(f.m, "flat");
	ck_assert_str_eq(flat->op_type, "Flatten");
	ck_assert_int_eq(attr_i(flat, "axis"), 1);
	const struct onnx_node *fc = producer(f.m, "fc");
	ck_assert_str_eq(fc->op_type, "Gemm");
	ck_assert_int_eq(attr_i(fc, "transB"), 1);
	expect_param(&f, "fc.weight", NULL);
	expect_param(&f, "fc.bias", NULL);
	const struct onnx_tensor *w = clcnn_onnx_init(og, "fc.weight");
	expect_dims(w->dims, w->ndim, (int64_t[]){3, 4 * 6 * 6}, 2);

	ck_assert_int_eq(f.m->nmeta, 2);
	ck_assert_str_eq(f.m->meta_keys[0], "clcnn.mean");
	ck_assert_str_eq(f.m->meta_values[0], "0.5");
	ck_assert_str_eq(f.m->meta_keys[1], "clcnn.classes");
	ck_assert_str_eq(f.m->meta_values[1], "[\"a\",\"b\",\"c\"]");
	close_fixture(&f);
}
END_TEST

START_TEST(pooling)
{
	struct fixture f;
	/* 7 wide, kernel 2, stride 2, ceil: PyTorch makes 4 windows, the last one past the input */
	open_graph(&f,
		   "x = input(shape=(3,7,7))\n"
		   "mp = maxpool2d(x, kernel_size=2, stride=2, ceil_mode=true)\n"
		   "mq = maxpool2d(x, kernel_size=2, stride=2, padding=1, ceil_mode=true)\n"
		   "ap = avgpool2d(x, kernel_size=3, stride=2, padding=1)\n"
		   "apx = avgpool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=false, ceil_mode=true)\n"
		   "apc = avgpool2d(x, kernel_size=2, stride=2, ceil_mode=true)\n"
		   "out = concat(mp, ap, apx, apc, mq)\n");
	export_read(&f, NULL);
	const struct onnx_node *mp = producer(f.m, "mp");
	ck_assert_str_eq(mp->op_type, "MaxPool");
	ck_assert_int_eq(attr_i(mp, "ceil_mode"), 1);
	expect_ints(mp, "pads", (int64_t[]){0, 0, 0, 0}, 4);
	/* 7 wide, padding 1: ONNX's ceil would add a window starting in the right padding, PyTorch
	 * drops it, leaving the floor size: ceil_mode 0 */
	const struct onnx_node *mq = producer(f.m, "mq");
	ck_assert_int_eq(attr_i(mq, "ceil_mode"), 0);
	expect_ints(mq, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	expect_ints(mp, "strides", (int64_t[]){2, 2}, 2);
	const struct onnx_node *ap = producer(f.m, "ap");
	ck_assert_str_eq(ap->op_type, "AveragePool");
	ck_assert_int_eq(attr_i(ap, "count_include_pad"), 1); /* PyTorch's default, written out */
	expect_ints(ap, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	const struct onnx_node *apx = producer(f.m, "apx");
	ck_assert_str_eq(apx->op_type, "AveragePool");
	ck_assert_int_eq(attr_i(apx, "count_include_pad"), 0);
	/* 7 + 2 - 3 = 6, /2 -> 4 windows either way: ceil_mode changes nothing */
	expect_ints(apx, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	ck_assert_int_eq(attr_i(apx, "ceil_mode"), 0);
	/* count_include_pad with a window past the padding: window sums times 1/divisor */
	const struct onnx_node *apc = producer(f.m, "apc");
	ck_assert_str_eq(apc->op_type, "Mul");
	const struct onnx_node *sum = producer(f.m, "apc/window_sum");
	ck_assert_str_eq(sum->op_type, "Conv");
	ck_assert_int_eq(attr_i(sum, "group"), 3);
	expect_ints(sum, "pads", (int64_t[]){0, 0, 1, 1}, 4);
	const struct onnx_tensor *r = clcnn_onnx_init(&f.m->graph, "apc/reciprocal_divisor");
	ck_assert_ptr_nonnull(r);
	expect_dims(r->dims, r->ndim, (int64_t[]){1, 1, 4, 4}, 4);
	const float *rv = r->data;
	ck_assert_float_eq(rv[0], 0.25f); /* a full 2x2 window */
	ck_assert_float_eq(rv[3], 0.5f);  /* the last column covers 1 x 2 */
	ck_assert_float_eq(rv[15], 1.0f); /* the corner covers one element */
	ck_assert_int_eq(count_op(f.m, "MaxPool"), 2);
	const struct onnx_node *out = producer(f.m, "out");
	ck_assert_str_eq(out->op_type, "Concat");
	ck_assert_int_eq(attr_i(out, "axis"), 1);
	ck_assert_int_eq(out->ninputs, 5);
	close_fixture(&f);
}
END_TEST

static float scalar_init(const struct onnx_model *m, const char *name)
{
	const struct onnx_tensor *t = clcnn_onnx_init(&m->graph, name);
	ck_assert_msg(t != NULL, "no initializer '%s'", name);
	ck_assert_int_eq(t->ndim, 0);
	ck_assert_int_eq(t->dtype, ONNX_FLOAT);
	return *(const float *)t->data;
}

START_TEST(activations)
{
	struct fixture f;
	open_graph(&f, "x = input(shape=(3,5,5))\n"
		       "mpd = maxpool2d(x, kernel_size=3, stride=2, padding=1, dilation=2)\n"
		       "a = leaky_relu(mpd, negative_slope=0.2)\nb = elu(a, alpha=0.5)\n"
		       "c = prelu(b, num_parameters=3)\nd = gelu(c)\ne = gelu(d, approximate=tanh)\n"
		       "s = silu(e)\nh = hardtanh(s, min_val=-0.5, max_val=2)\nsp = softplus(h)\n"
		       "sp2 = softplus(sp, beta=2, threshold=10)\nls = logsigmoid(sp2)\n"
		       "sm = softmin(ls)\nlsm = logsoftmax(sm, dim=-1)\nt = tanh(lsm)\nsg = sigmoid(t)\n"
		       "gap = global_avgpool2d(sg)\ngmp = global_maxpool2d(sg)\nsum = add(gap, gmp, gap)\n");
	export_read(&f, NULL);
	const struct onnx_node *n;
	expect_ints(producer(f.m, "mpd"), "dilations", (int64_t[]){2, 2}, 2);
	n = producer(f.m, "a");
	ck_assert_str_eq(n->op_type, "LeakyRelu");
	ck_assert_float_eq(attr_f(n, "alpha"), 0.2f);
	n = producer(f.m, "b");
	ck_assert_str_eq(n->op_type, "Elu");
	ck_assert_float_eq(attr_f(n, "alpha"), 0.5f);
	n = producer(f.m, "c");
	ck_assert_str_eq(n->op_type, "PRelu");
	const struct onnx_tensor *slope = clcnn_onnx_init(&f.m->graph, "c.weight");
	expect_dims(slope->dims, slope->ndim, (int64_t[]){3, 1, 1}, 3);
	expect_param(&f, "c.weight", NULL);
	/* gelu: x * (1 + erf(x / sqrt 2)) * 0.5, no Gelu before opset 20 */
	ck_assert_str_eq(producer(f.m, "d")->op_type, "Mul");
	ck_assert_str_eq(producer(f.m, "d/erf")->op_type, "Erf");
	ck_assert_float_eq_tol(scalar_init(f.m, "d/sqrt2"), 1.41421356f, 1e-7f);
	ck_assert_str_eq(producer(f.m, "e/tanh")->op_type, "Tanh");
	ck_assert_float_eq(scalar_init(f.m, "e/c"), 0.044715f);
	n = producer(f.m, "s");
	ck_assert_str_eq(n->op_type, "Mul");
	ck_assert_str_eq(n->inputs[0], "e");
	ck_assert_str_eq(producer(f.m, n->inputs[1])->op_type, "Sigmoid");
	n = producer(f.m, "h");
	ck_assert_str_eq(n->op_type, "Clip");
	ck_assert_int_eq(n->ninputs, 3);
	ck_assert_float_eq(scalar_init(f.m, n->inputs[1]), -0.5f);
	ck_assert_float_eq(scalar_init(f.m, n->inputs[2]), 2.0f);
	ck_assert_str_eq(producer(f.m, "sp")->op_type, "Softplus");
	n = producer(f.m, "sp2");
	ck_assert_str_eq(n->op_type, "Where");
	ck_assert_float_eq(scalar_init(f.m, "sp2/beta"), 2.0f);
	ck_assert_float_eq(scalar_init(f.m, "sp2/threshold"), 10.0f);
	n = producer(f.m, "ls");
	ck_assert_str_eq(n->op_type, "Neg");
	ck_assert_str_eq(producer(f.m, n->inputs[0])->op_type, "Softplus");
	n = producer(f.m, "sm");
	ck_assert_str_eq(n->op_type, "Softmax");
	ck_assert_int_eq(attr_i(n, "axis"), 1);
	ck_assert_str_eq(producer(f.m, n->inputs[0])->op_type, "Neg");
	n = producer(f.m, "lsm");
	ck_assert_str_eq(n->op_type, "LogSoftmax");
	ck_assert_int_eq(attr_i(n, "axis"), 3);
	ck_assert_str_eq(producer(f.m, "t")->op_type, "Tanh");
	ck_assert_str_eq(producer(f.m, "sg")->op_type, "Sigmoid");
	ck_assert_str_eq(producer(f.m, "gap")->op_type, "GlobalAveragePool");
	ck_assert_str_eq(producer(f.m, "gmp")->op_type, "GlobalMaxPool");
	/* add of three: (gap + gmp) + gap */
	n = producer(f.m, "sum");
	ck_assert_str_eq(n->op_type, "Add");
	ck_assert_str_eq(n->inputs[0], "sum/sum1");
	ck_assert_str_eq(n->inputs[1], "gap");
	n = producer(f.m, "sum/sum1");
	ck_assert_str_eq(n->op_type, "Add");
	ck_assert_str_eq(n->inputs[0], "gap");
	ck_assert_str_eq(n->inputs[1], "gmp");
	close_fixture(&f);
}
END_TEST

START_TEST(batchnorm_dropout)
{
	struct fixture f;
	open_graph(&f, "x = input(shape=(4,3,3))\n"
		       "bn = batchnorm2d(x, eps=1e-3, momentum=0.2)\nd = dropout(bn, p=0.25)\n"
		       "g = gaussian_noise(d, sigma=0.3)\nbn2 = batchnorm2d(g, affine=false)\n"
		       "bt = batchnorm2d(bn2, track_running_stats=false)\n"
		       "fl = flatten(bt, start_dim=2)\nb1 = batchnorm1d(fl)\n");
	export_read(&f, NULL);
	const struct onnx_node *n = producer(f.m, "bn");
	ck_assert_str_eq(n->op_type, "BatchNormalization");
	ck_assert_int_eq(n->ninputs, 5);
	ck_assert_int_eq(n->noutputs, 1);
	const char *want[5] = {"x", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"};
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(n->inputs[i], want[i]);
	for (int i = 1; i < 5; i++)
		expect_param(&f, want[i], NULL);
	ck_assert_ptr_null(clcnn_onnx_attr(n, "training_mode"));
	ck_assert_float_eq(attr_f(n, "epsilon"), 1e-3f);
	ck_assert_float_eq_tol(attr_f(n, "momentum"), 0.8f, 1e-7f);
	ck_assert_ptr_null(clcnn_onnx_init(&f.m->graph, "bn.num_batches_tracked"));
	ck_assert_str_eq(producer(f.m, "d")->op_type, "Identity");
	ck_assert_str_eq(producer(f.m, "g")->op_type, "Identity");
	/* affine=false: scale 1 and bias 0 made up */
	n = producer(f.m, "bn2");
	const struct onnx_tensor *scale = clcnn_onnx_init(&f.m->graph, n->inputs[1]);
	const struct onnx_tensor *bias = clcnn_onnx_init(&f.m->graph, n->inputs[2]);
	ck_assert_uint_eq(scale->count, 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_float_eq(((const float *)scale->data)[i], 1.0f);
		ck_assert_float_eq(((const float *)bias->data)[i], 0.0f);
	}
	/* flatten(start_dim=2) of (N,4,3,3) is not ONNX's Flatten: Reshape to (0, 4, 9) */
	n = producer(f.m, "fl");
	ck_assert_str_eq(n->op_type, "Reshape");
	const struct onnx_tensor *shape = clcnn_onnx_init(&f.m->graph, n->inputs[1]);
	ck_assert_int_eq(shape->dtype, ONNX_INT64);
	ck_assert_uint_eq(shape->count, 3);
	const int64_t *sv = shape->data;
	ck_assert(sv[0] == 0 && sv[1] == 4 && sv[2] == 9);
	/* no running statistics: batch statistics in eval too, written out (ReduceMean over N, H, W) */
	n = producer(f.m, "bt");
	ck_assert_str_eq(n->op_type, "Add");
	ck_assert_str_eq(n->inputs[1], "bt.bias");
	n = producer(f.m, "bt/mean");
	ck_assert_str_eq(n->op_type, "ReduceMean");
	expect_ints(n, "axes", (int64_t[]){0, 2, 3}, 3);
	ck_assert_int_eq(attr_i(n, "keepdims"), 1);
	ck_assert_float_eq(scalar_init(f.m, "bt/eps"), 1e-5f);
	const struct onnx_tensor *btw = clcnn_onnx_init(&f.m->graph, "bt.weight");
	expect_dims(btw->dims, btw->ndim, (int64_t[]){4, 1, 1}, 3);
	expect_param(&f, "bt.weight", NULL);
	ck_assert_str_eq(producer(f.m, "b1")->op_type, "BatchNormalization");
	expect_dims(f.m->graph.outputs[0].dims, f.m->graph.outputs[0].ndim, (int64_t[]){-1, 4, 9}, 3);

	/* training semantics: batch statistics, their update with momentum's complement, live dropout */
	struct clcnn_onnx_export_options opt = {.training = 1, .opset = 15};
	export_read(&f, &opt);
	ck_assert_int_eq(clcnn_onnx_opset(f.m), 15);
	n = producer(f.m, "bn");
	ck_assert_int_eq(attr_i(n, "training_mode"), 1);
	ck_assert_int_eq(n->noutputs, 3);
	ck_assert_float_eq_tol(attr_f(n, "momentum"), 0.8f, 1e-7f);
	/* without running statistics: placeholder mean 0 / variance 1, and all 3 outputs named (onnx's
	 * shape inference requires them in training mode) */
	n = producer(f.m, "bt");
	ck_assert_int_eq(attr_i(n, "training_mode"), 1);
	ck_assert_int_eq(n->noutputs, 3);
	const struct onnx_tensor *mean = clcnn_onnx_init(&f.m->graph, n->inputs[3]);
	const struct onnx_tensor *var = clcnn_onnx_init(&f.m->graph, n->inputs[4]);
	ck_assert(mean && var && mean->count == 4 && var->count == 4);
	ck_assert_float_eq(((const float *)mean->data)[3], 0.0f);
	ck_assert_float_eq(((const float *)var->data)[3], 1.0f);
	n = producer(f.m, "d");
	ck_assert_str_eq(n->op_type, "Dropout");
	ck_assert_int_eq(n->ninputs, 3);
	ck_assert_float_eq(scalar_init(f.m, n->inputs[1]), 0.25f);
	const struct onnx_tensor *tm = clcnn_onnx_init(&f.m->graph, n->inputs[2]);
	ck_assert_int_eq(tm->dtype, ONNX_BOOL);
	ck_assert_int_eq(*(const unsigned char *)tm->data, 1);
	n = producer(f.m, "g");
	ck_assert_str_eq(n->op_type, "Add");
	n = producer(f.m, n->inputs[1]);
	ck_assert_str_eq(n->op_type, "RandomNormalLike");
	ck_assert_float_eq_tol(attr_f(n, "scale"), 0.3f, 1e-7f);

	/* opset 13's BatchNormalization has no training_mode */
	opt.opset = 13;
	ck_assert_int_eq(clcnn_graph_export_onnx(f.g, f.path, &opt), CLCNN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(f.ctx), "'bn' (batchnorm2d)"));
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(f.ctx), "opset 14"));
	/* in eval, opset 13 is fine: the batch statistics are written out */
	opt.training = 0;
	export_read(&f, &opt);
	ck_assert_str_eq(producer(f.m, "bt/var")->op_type, "ReduceMean");
	close_fixture(&f);
}
END_TEST

START_TEST(blurpool)
{
	struct fixture f;
	open_graph(&f, "x = input(shape=(2,8,8))\nb = blurpool2d(x)\n"
		       "m = maxblurpool2d(x, kernel_size=2, filt_size=4, stride=2, pad_type=zero)\n"
		       "r = blurpool2d(x, filt_size=2, pad_type=replicate)\nout = concat(b, m, r)\n");
	export_read(&f, NULL);
	const struct onnx_node *n = producer(f.m, "b");
	ck_assert_str_eq(n->op_type, "Conv");
	ck_assert_int_eq(attr_i(n, "group"), 2);
	expect_ints(n, "strides", (int64_t[]){2, 2}, 2);
	expect_ints(n, "pads", (int64_t[]){0, 0, 0, 0}, 4);
	const struct onnx_tensor *w = clcnn_onnx_init(&f.m->graph, n->inputs[1]);
	expect_dims(w->dims, w->ndim, (int64_t[]){2, 1, 3, 3}, 4);
	const float want3[9] = {1, 2, 1, 2, 4, 2, 1, 2, 1};
	for (int i = 0; i < 18; i++)
		ck_assert_float_eq(((const float *)w->data)[i], want3[i % 9] / 16);
	const struct onnx_node *pad = producer(f.m, n->inputs[0]);
	ck_assert_str_eq(pad->op_type, "Pad");
	ck_assert_str_eq(clcnn_onnx_attr(pad, "mode")->s, "reflect");
	const struct onnx_tensor *pads = clcnn_onnx_init(&f.m->graph, pad->inputs[1]);
	const int64_t want_pads[8] = {0, 0, 1, 1, 0, 0, 1, 1};
	ck_assert_uint_eq(pads->count, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(((const int64_t *)pads->data)[i], want_pads[i]);
	/* maxblurpool2d: MaxPool at stride 1, then the blur; zero padding goes into the Conv */
	n = producer(f.m, "m");
	expect_ints(n, "pads", (int64_t[]){1, 1, 2, 2}, 4);
	const struct onnx_node *mp = producer(f.m, n->inputs[0]);
	ck_assert_str_eq(mp->op_type, "MaxPool");
	expect_ints(mp, "strides", (int64_t[]){1, 1}, 2);
	expect_ints(mp, "kernel_shape", (int64_t[]){2, 2}, 2);
	w = clcnn_onnx_init(&f.m->graph, n->inputs[1]);
	ck_assert_float_eq(((const float *)w->data)[5], 9.0f / 64); /* row 1 3 3 1, (1,1) = 3 * 3 / 64 */
	pad = producer(f.m, producer(f.m, "r")->inputs[0]);
	ck_assert_str_eq(clcnn_onnx_attr(pad, "mode")->s, "edge");
	close_fixture(&f);
}
END_TEST

START_TEST(refusals)
{
	struct fixture f;
	open_graph(&f, "x = input(shape=(3))\ny = input(shape=(3))\nfc = linear(x, out_features=3)\n"
		       "loss = mse_loss(fc, y)\n@output loss\n");
	ck_assert_int_eq(clcnn_graph_export_onnx(f.g, f.path, NULL), CLCNN_ERR_INVALID);
	const char *e = clcnn_context_error(f.ctx);
	ck_assert_ptr_nonnull(strstr(e, f.path));
	ck_assert_ptr_nonnull(strstr(e, "'loss' (mse_loss)"));
	struct clcnn_onnx_export_options opt = {.opset = 12};
	ck_assert_int_eq(clcnn_graph_export_onnx(f.g, f.path, &opt), CLCNN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(f.ctx), "opset 12"));
	opt.opset = 18;
	ck_assert_int_eq(clcnn_graph_export_onnx(f.g, f.path, &opt), CLCNN_ERR_INVALID);
	FILE *fp = fopen(f.path, "rb");
	ck_assert_ptr_null(fp); /* nothing written on failure */
	close_fixture(&f);

	/* a graph that is not built */
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_parse(ctx, "x = input(shape=(3))\nr = relu(x)\n", "t.net", &g), 0);
	ck_assert_int_eq(clcnn_graph_export_onnx(g, "/nonexistent/x.onnx", NULL), CLCNN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "built"));
	ck_assert_int_eq(clcnn_graph_build(g, 1), 0);
	ck_assert_int_eq(clcnn_graph_export_onnx(g, "/nonexistent/x.onnx", NULL), CLCNN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "/nonexistent/x.onnx"));
	clcnn_graph_free(g);

	/* a name (from the C API: netfiles stop at 127 characters) too long for the tensor names built
	 * from it */
	char name[301];
	memset(name, 'r', 300);
	name[300] = 0;
	int three = 3;
	ck_assert_int_eq(clcnn_graph_new(ctx, &g), 0);
	ck_assert_int_eq(clcnn_graph_input(g, "x", 1, &three), 0);
	ck_assert_int_eq(clcnn_graph_add(g, name, "relu", "x", NULL), 0);
	ck_assert_int_eq(clcnn_graph_build(g, 1), 0);
	ck_assert_int_eq(clcnn_graph_export_onnx(g, "/nonexistent/x.onnx", NULL), CLCNN_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "is longer than 256 characters"));
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* Every shipped model exports, with its parameters as initializers and one output. */
/* The nodes the graph's output is computed from, itself included. */
static int output_ancestors(const struct clcnn_graph *g)
{
	char *need = calloc((size_t)g->nnodes, 1);
	int out = graph_find_node(g, clcnn_graph_output_name(g)), n = 0;
	ck_assert_int_ge(out, 0);
	need[out] = 1;
	for (int k = g->nnodes - 1; k >= 0; k--) { /* reverse schedule: consumers before producers */
		const struct graph_node *x = &g->nodes[g->order[k]];
		if (!need[g->order[k]])
			continue;
		n++;
		for (int j = 0; j < x->nin; j++)
			if (x->in_ref[j] >= g->ninputs)
				need[x->in_ref[j] - g->ninputs] = 1;
	}
	free(need);
	return n;
}

START_TEST(shipped_models)
{
	DIR *d = opendir(MODELS_DIR);
	ck_assert_ptr_nonnull(d);
	int count = 0;
	struct dirent *de;
	char *dir = test_tmpdir();
	struct clcnn_context *ctx = test_context();
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".net"))
			continue;
		char net[512], out[512], err[512];
		snprintf(net, sizeof net, "%s/%s", MODELS_DIR, de->d_name);
		snprintf(out, sizeof out, "%s/%s.onnx", dir, de->d_name);
		struct clcnn_graph *g;
		ck_assert_msg(clcnn_graph_load(ctx, net, &g) == 0, "%s", clcnn_context_error(ctx));
		ck_assert_msg(clcnn_graph_build(g, 1) == 0, "%s", clcnn_context_error(ctx));
		ck_assert_int_eq(clcnn_graph_init_params(g, 1, "default"), 0);
		ck_assert_msg(clcnn_graph_export_onnx(g, out, NULL) == 0, "%s: %s", net, clcnn_context_error(ctx));
		struct onnx_model *m;
		ck_assert_msg(clcnn_onnx_read(out, &m, err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(m->graph.noutputs, 1);
		ck_assert_str_eq(m->graph.outputs[0].name, clcnn_graph_output_name(g));
		int params = 0;
		for (int i = 0; i < clcnn_graph_param_count(g); i++) {
			struct clcnn_param_info info;
			clcnn_graph_param_info(g, i, &info);
			if (info.int64)
				continue;
			params++;
			ck_assert_msg(clcnn_onnx_init(&m->graph, info.name) != NULL, "%s: no initializer %s", net,
				      info.name);
		}
		ck_assert_int_ge(m->graph.ninits, params);
		/* every node the output depends on is there (a Siamese model's other branches feed only the loss) */
		ck_assert_int_ge(m->graph.nnodes, output_ancestors(g));
		clcnn_onnx_free(m);
		clcnn_graph_free(g);
		count++;
	}
	closedir(d);
	ck_assert_int_ge(count, 7);
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("onnx-export");
	TCase *tc = tcase_create("onnx-export");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, conv_linear_io);
	tcase_add_test(tc, pooling);
	tcase_add_test(tc, activations);
	tcase_add_test(tc, batchnorm_dropout);
	tcase_add_test(tc, blurpool);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, shipped_models);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
