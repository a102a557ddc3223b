/*
 * Netfile parsing: every error path with its exact "path:line:column: message", the syntax
 * features (comments, default inputs, forward references, directives, continuation lines) and the
 * shipped models/ (they parse, build, and have the parameter names and counts of torch.nn).
 */
#include <stdio.h>
#include <string.h>

#include "clcnn/graph.h"
#include "ops/op.h"
#include "testutil.h"

/* Parse text; expect failure with exactly msg (NULL: expect success and return the graph). */
static struct clcnn_graph *parse(struct clcnn_context *ctx, const char *text, const char *msg)
{
	struct clcnn_graph *g = NULL;
	int rc = clcnn_graph_parse(ctx, text, "t.net", &g);
	if (!msg) {
		ck_assert_msg(rc == 0, "parse failed: %s", clcnn_context_error(ctx));
		return g;
	}
	ck_assert_msg(rc == CLCNN_ERR_FORMAT, "expected a format error '%s', got %d (%s)", msg, rc,
		      clcnn_context_error(ctx));
	ck_assert_ptr_null(g);
	ck_assert_str_eq(clcnn_context_error(ctx), msg);
	return NULL;
}

#define HDR "x = input(shape=(1,8,8))\n"

START_TEST(errors_syntax)
{
	struct clcnn_context *ctx = test_context();
	parse(ctx, HDR "c1 conv2d(out_channels=2, kernel_size=3)\n",
	      "t.net:2:4: expected '=' after 'c1', found 'conv2d(out_channels='");
	parse(ctx, HDR "c1 = (x)\n", "t.net:2:6: expected a layer name after '=', found '(x)'");
	parse(ctx, HDR "= relu(x)\n", "t.net:2:1: expected a statement 'name = layer(...)', found '= relu(x)'");
	parse(ctx, HDR "3c = relu(x)\n", "t.net:2:1: expected a statement 'name = layer(...)', found '3c = relu(x)'");
	parse(ctx, HDR "r = relu(x) y\n", "t.net:2:13: unexpected 'y' after the statement");
	parse(ctx, HDR "c = conv2d(x, out_channels=2 kernel_size=3)\n",
	      "t.net:2:28: bad value '2 kernel_size=3' for out_channels: expected an integer");
	parse(ctx, HDR "c = add(x x)\n", "t.net:2:11: expected ',' or ')', found 'x)'");
	parse(ctx, HDR "c = conv2d(x, out_channels=2,\n  kernel_size=3\n", "t.net:2:11: '(' is never closed");
	parse(ctx, HDR "c = conv2d(x, out_channels=2, kernel_size=(3,3)\n", "t.net:2:11: '(' is never closed");
	parse(ctx, HDR "c = conv2d(x, 5)\n", "t.net:2:15: expected an input name or key=value, found '5)'");
	parse(ctx, HDR "c = conv2d(x, out_channels=, kernel_size=3)\n", "t.net:2:28: missing value for out_channels");
	parse(ctx, HDR "c = add(x, stride=1, x)\n",
	      "t.net:2:22: input 'x' after key=value arguments: inputs come first");
	parse(ctx, HDR "@outptu x\n", "t.net:2:1: unknown directive; known: @output NODE, @loss NODE");
	parse(ctx, HDR "r = relu\n@output\n", "t.net:3:8: @output needs a node name, found 'end of line'");
	parse(ctx, "", "t.net: no statements");
	parse(ctx, "# only a comment\n\n", "t.net: no statements");
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(errors_layers)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = NULL;
	/* the list of known layers comes from the registry: check the start and that relu is in it */
	ck_assert_int_eq(clcnn_graph_parse(ctx, HDR "c = conv3d(x)\n", "t.net", &g), CLCNN_ERR_FORMAT);
	ck_assert_msg(!strncmp(clcnn_context_error(ctx), "t.net:2:5: unknown layer 'conv3d'; known layers: input, ",
			       56),
		      "%s", clcnn_context_error(ctx));
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), ", relu,"));
	parse(ctx, HDR "f = flatten(x, start=1)\n",
	      "t.net:2:16: unknown key 'start' for flatten; known keys: start_dim, end_dim");
	parse(ctx, HDR "r = relu(x, inplace=true)\n", "t.net:2:13: unknown key 'inplace' for relu; known keys: (none)");
	parse(ctx, HDR "f = flatten(x, start_dim=one)\n",
	      "t.net:2:26: bad value 'one' for start_dim: expected an integer");
	parse(ctx, HDR "f = flatten(x, start_dim=1, start_dim=2)\n", "t.net:2:29: key 'start_dim' given twice");
	parse(ctx, HDR "m = maxpool2d(x)\n", "t.net:2:5: maxpool2d needs kernel_size (window (h,w))");
	parse(ctx, HDR "a = add(x)\n", "t.net:2:5: add takes 2 to 8 inputs, got 1");
	parse(ctx, HDR "r = relu(x, x)\n", "t.net:2:5: relu takes 1 input, got 2");
	parse(ctx, "r = relu\n",
	      "t.net:1:5: relu has no input: name one, e.g. relu(x); there is no previous statement");
	parse(ctx, "x = input(shape=(1,0,8))\n",
	      "t.net:1:17: bad value '(1,0,8)' for shape: expected up to 3 positive integers like (1,28,28) or 1x28x28");
	parse(ctx, "x = input(shape=(1,2,3,4))\n",
	      "t.net:1:17: bad value '(1,2,3,4)' for shape: expected up to 3 positive integers like (1,28,28) or 1x28x28");
	/* the tuple grammar of every key (tests/ops/test-args.c), with positive dims up to 2^30 */
	static const char *const bad_shapes[] = {"(8,)",  "(1,,8)", "(1,-8)",  "(2147483648)", "(1073741825)",
						 "(2 3)", "((2))",  "1x2x3x4", "2x",           "(1.5)"};
	for (size_t k = 0; k < sizeof bad_shapes / sizeof bad_shapes[0]; k++) {
		char text[128], msg[256];
		snprintf(text, sizeof text, "x = input(shape=%s)\n", bad_shapes[k]);
		snprintf(msg, sizeof msg,
			 "t.net:1:17: bad value '%s' for shape: expected up to 3 positive integers like (1,28,28) or "
			 "1x28x28",
			 bad_shapes[k]);
		parse(ctx, text, msg);
	}
	static const struct {
		const char *shape;
		int ndim, d0;
	} good_shapes[] = {{"( 2 , 3 )", 2, 2}, {"()", 0, 0}, {"7", 1, 7}, {"(1073741824)", 1, 1 << 30}, {"4x1", 2, 4}};
	for (size_t k = 0; k < sizeof good_shapes / sizeof good_shapes[0]; k++) {
		char text[128];
		snprintf(text, sizeof text, "x = input(shape=%s)\nr = relu\n", good_shapes[k].shape);
		struct clcnn_graph *g = parse(ctx, text, NULL);
		int nd = -1, dims[CLCNN_MAX_DIMS];
		ck_assert_int_eq(clcnn_graph_input_info(g, 0, NULL, &nd, dims), 0);
		ck_assert_int_eq(nd, good_shapes[k].ndim);
		ck_assert_int_eq(dims[0], good_shapes[k].d0);
		clcnn_graph_free(g);
	}
	parse(ctx, "x = input(size=3)\n", "t.net:1:11: unknown key 'size' for input; known keys: shape");
	parse(ctx, "y = input(shape=3)\nx = input(y)\n", "t.net:2:11: input takes no inputs; its only key is shape");
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(errors_graph)
{
	struct clcnn_context *ctx = test_context();
	parse(ctx, HDR "r = relu(x)\nr = tanh(x)\n", "t.net:3:1: duplicate name 'r' (first defined at line 2)");
	parse(ctx, HDR "x = relu(x)\n", "t.net:2:1: duplicate name 'x' (first defined at line 1)");
	parse(ctx, HDR "r = relu(y)\n", "t.net:2:10: node 'r' (relu): unknown input 'y'");
	parse(ctx, HDR "a = relu(c)\nb = tanh(a)\nc = sigmoid(b)\n", "t.net:2:1: cycle: a -> b -> c -> a");
	parse(ctx, HDR "a = relu(a)\n", "t.net:2:1: cycle: a -> a");
	parse(ctx, HDR "a = relu(x)\nb = tanh(x)\n",
	      "t.net:2:1: node 'a' (relu) is dangling: its output does not reach the output 'b' (choose it with "
	      "@output, or clcnn_graph_set_output)");
	parse(ctx, HDR "t = input(shape=(1,8,8))\na = relu(x)\nb = tanh(x)\nloss = mse_loss(b, t)\n",
	      "t.net:3:1: node 'a' (relu) is dangling: its output reaches neither the loss 'loss' nor the output 'b' "
	      "(choose them with @loss / @output, or clcnn_graph_set_loss/_output)");
	parse(ctx, HDR "r = relu\n@output q\n", "t.net:3:9: @output: unknown node 'q'");
	parse(ctx, HDR "r = relu\n@loss x\n", "t.net:3:7: @loss: unknown node 'x'");
	clcnn_context_close(ctx);
}
END_TEST

/* Errors found at build (shape inference) carry the node's position too. */
START_TEST(errors_build)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = parse(ctx, HDR "y = input(shape=(2,8,8))\na = add(x, y)\n", NULL);
	ck_assert_int_eq(clcnn_graph_build(g, 2), CLCNN_ERR_INVALID);
	ck_assert_msg(!strncmp(clcnn_context_error(ctx), "t.net:3:1: node 'a' (add): ", 27), "%s",
		      clcnn_context_error(ctx));
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(ctx), "(inputs: x 2x1x8x8, y 2x2x8x8)"));
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(syntax_features)
{
	struct clcnn_context *ctx = test_context();
	/* forward reference, continuation inside parentheses with a comment, default inputs, directives,
	 * tuple values written three ways, a node named like a directive */
	const char *text = "# header\n"
			   "\n"
			   "   x = input(shape=1x6x6)   # a comment\n"
			   "t = input(shape=(9))\n"
			   "output = avgpool2d(x, kernel_size=(2, 2),   # continued\n"
			   "                   stride = 2)\n"
			   "f = flatten\n"
			   "h = tanh(f)\n"
			   "s = sigmoid(f)\n"
			   "both = add(h, late)\n"
			   "late = relu(s)\n"
			   "loss = mse_loss(both, t)\n"
			   "@output h\n";
	struct clcnn_graph *g = parse(ctx, text, NULL);
	ck_assert_str_eq(clcnn_graph_output_name(g), "h");
	ck_assert_str_eq(clcnn_graph_loss_name(g), "loss");
	ck_assert_msg(clcnn_graph_build(g, 3) == 0, "%s", clcnn_context_error(ctx));
	const char *name, *op;
	int nd, dims[CLCNN_MAX_DIMS];
	/* schedule: declaration order, except that 'late' must run before 'both' */
	const char *want[] = {"output", "f", "h", "s", "late", "both", "loss"};
	ck_assert_int_eq(clcnn_graph_node_count(g), 7);
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(clcnn_graph_node_info(g, i, &name, &op, &nd, dims), 0);
		ck_assert_str_eq(name, want[i]);
	}
	clcnn_graph_node_info(g, 1, &name, &op, &nd, dims);
	ck_assert_str_eq(op, "flatten");
	ck_assert_int_eq(nd, 2);
	ck_assert_int_eq(dims[0], 3);
	ck_assert_int_eq(dims[1], 9);
	clcnn_graph_free(g);

	/* @loss picks a loss that is not the last one; the other loss then dangles unless it is the output */
	g = parse(ctx, HDR "t = input(shape=(1,8,8))\nl1 = mse_loss(x, t)\nl2 = l1_loss(x, t)\n@loss l1\n@output l2\n",
		  NULL);
	ck_assert_str_eq(clcnn_graph_loss_name(g), "l1");
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(load_file_errors)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g = NULL;
	ck_assert_int_eq(clcnn_graph_load(ctx, "/nonexistent/x.net", &g), CLCNN_ERR_IO);
	ck_assert_str_eq(clcnn_context_error(ctx), "/nonexistent/x.net: cannot open: No such file or directory");
	clcnn_context_close(ctx);
}
END_TEST

struct model_expect {
	const char *file;
	int params;   /* state-dict entries */
	size_t count; /* trainable + buffer elements, num_batches_tracked excluded (= torch's numel) */
	const char *first, *last;
};

/* Counts from tools/check-torch-checkpoint.py's torch.nn translation of each file. */
static const struct model_expect models[] = {
	{"lenet5.net", 10, 61706, "c1.weight", "fc7.bias"},
	{"fmnist.net", 16, 824746, "c1.weight", "fc2.bias"},
	{"fmnist-dropout.net", 16, 824746, "c1.weight", "fc2.bias"},
	{"vgg-bn.net", 38, 438314, "b1c1.weight", "fc2.bias"},
	{"resnet.net", 56, 309418, "stem.weight", "fc.bias"},
	{"antialiased.net", 20, 94634, "c1.weight", "fc.bias"},
	/* shared branches (share=) hold no parameters of their own */
	{"siamese-fmnist.net", 16, 838624, "c1a.weight", "ea.bias"},
	{"siamese-fmnist-pairs.net", 16, 838624, "c1_1.weight", "e_1.bias"},
};

START_TEST(shipped_models)
{
	struct clcnn_context *ctx = test_context();
	const struct model_expect *m = &models[_i];
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/%s", getenv("CLCNN_DATA_DIR"), m->file);
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_param_count(g), m->params);
	size_t count = 0;
	struct clcnn_param_info pi;
	for (int i = 0; i < m->params; i++) {
		ck_assert_int_eq(clcnn_graph_param_info(g, i, &pi), 0);
		if (!pi.int64)
			count += pi.count;
		else
			ck_assert_int_eq(pi.ndim, 0);
	}
	ck_assert_uint_eq(count, m->count);
	clcnn_graph_param_info(g, 0, &pi);
	ck_assert_str_eq(pi.name, m->first);
	clcnn_graph_param_info(g, m->params - 1, &pi);
	ck_assert_str_eq(pi.name, m->last);
	ck_assert_str_eq(clcnn_graph_loss_name(g), "loss");
	ck_assert(clcnn_graph_peak_bytes(g) > 0);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

/* docs/netfile.md: every netfile block parses and builds; every layer and key is documented. */
START_TEST(doc_examples)
{
	struct clcnn_context *ctx = test_context();
	char path[4096];
	snprintf(path, sizeof path, "%s/../../docs/netfile.md", getenv("CLCNN_DATA_DIR"));
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	static char doc[1 << 20];
	size_t n = fread(doc, 1, sizeof doc - 1, f);
	doc[n] = 0;
	fclose(f);
	int blocks = 0;
	for (char *p = strstr(doc, "```netfile\n"); p; p = strstr(p, "```netfile\n")) {
		p += 11;
		char *end = strstr(p, "```");
		ck_assert_ptr_nonnull(end);
		char block[4096];
		snprintf(block, sizeof block, "%.*s", (int)(end - p), p);
		struct clcnn_graph *g;
		ck_assert_msg(clcnn_graph_parse(ctx, block, "doc", &g) == 0, "%s\nin:\n%s", clcnn_context_error(ctx),
			      block);
		ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s\nin:\n%s", clcnn_context_error(ctx), block);
		clcnn_graph_free(g);
		blocks++;
		p = end;
	}
	int classes = 0;
	for (int i = 0; clcnn_op_classes[i]; i++, classes++) {
		char h[128];
		snprintf(h, sizeof h, "\n### %s\n", clcnn_op_classes[i]->name);
		ck_assert_msg(strstr(doc, h) != NULL, "docs/netfile.md lacks layer %s (run tests/graph/netfile-keys)",
			      clcnn_op_classes[i]->name);
		for (const struct clcnn_arg *a = clcnn_op_classes[i]->args; a && a->key; a++) {
			char k[128];
			snprintf(k, sizeof k, "| `%s` |", a->key);
			ck_assert_msg(strstr(strstr(doc, h), k) != NULL, "docs/netfile.md lacks key %s of %s", a->key,
				      clcnn_op_classes[i]->name);
		}
	}
	ck_assert_int_ge(blocks, classes + 3);
	clcnn_context_close(ctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("netfile");
	TCase *tc = tcase_create("netfile");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, errors_syntax);
	tcase_add_test(tc, errors_layers);
	tcase_add_test(tc, errors_graph);
	tcase_add_test(tc, errors_build);
	tcase_add_test(tc, syntax_features);
	tcase_add_test(tc, load_file_errors);
	tcase_add_test(tc, doc_examples);
	tcase_add_loop_test(tc, shipped_models, 0, (int)(sizeof models / sizeof models[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
