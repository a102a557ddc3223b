/*
 * Forward-only builds (clcnn_graph_set_forward_only), what `clcnn predict` and `clcnn bench
 * --inference` run: shipped models built forward-only plan fewer bytes than their training build,
 * allocate no parameter gradient, compute the same eval-mode output bitwise (to the output node
 * and through the whole graph, loss included), refuse backward, the loss, gradient reads and a
 * trainer with a message naming the cause; built again for training they get their gradients back
 * and a backward equal to the training graph's, bitwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "clcnn/train.h"
#include "testutil.h"

#define BATCH 3

static const char *const models[] = {"fmnist.net", "resnet.net", "fmnist-dropout.net", NULL};

static struct clcnn_graph *load_built(struct clcnn_context *ctx, const char *name, int forward_only)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/../../models/%s", getenv("CLCNN_DATA_DIR"), name);
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_load(ctx, path, &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_set_forward_only(g, forward_only), 0);
	ck_assert_msg(clcnn_graph_build(g, BATCH) == 0, "%s: %s", name, clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(g, 5, "default"), 0);
	test_fill_inputs(g, BATCH, 1, 0);
	return g;
}

/* The output node's value after an eval-mode forward to it; malloc'ed, *n floats. */
static float *eval_output(struct clcnn_graph *g, size_t *n)
{
	const char *out = clcnn_graph_output_name(g);
	*n = 0;
	for (int i = 0; i < clcnn_graph_node_count(g); i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		ck_assert_int_eq(clcnn_graph_node_info(g, i, &name, &op, &nd, dims), 0);
		if (strcmp(name, out))
			continue;
		*n = 1;
		for (int d = 0; d < nd; d++)
			*n *= (size_t)dims[d];
	}
	ck_assert_uint_gt(*n, 0);
	float *y = malloc(*n * sizeof *y);
	ck_assert_ptr_nonnull(y);
	ck_assert_int_eq(clcnn_graph_forward_to(g, out, 0, 0), 0);
	ck_assert_int_eq(clcnn_graph_read(g, out, y), 0);
	return y;
}

static void expect_error(struct clcnn_context *ctx, int rc, const char *part)
{
	ck_assert_int_eq(rc, CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(clcnn_context_error(ctx), part) != NULL, "message: %s", clcnn_context_error(ctx));
}

/* The gradient of g's first trainable parameter; its element count in *count. */
static float *first_weight_grad(struct clcnn_graph *g, int *count)
{
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		ck_assert_int_eq(clcnn_graph_param_info(g, i, &pi), 0);
		if (!pi.trainable)
			continue;
		float *x = malloc(pi.count * sizeof *x);
		ck_assert_ptr_nonnull(x);
		ck_assert_int_eq(clcnn_graph_grad_read(g, i, x), 0);
		*count = (int)pi.count;
		return x;
	}
	ck_abort_msg("no trainable parameter");
	return NULL;
}

START_TEST(forward_only_models)
{
	struct clcnn_context *ctx = test_context_fixed();
	const char *name = models[_i];
	struct clcnn_graph *a = load_built(ctx, name, 0), *b = load_built(ctx, name, 1);

	struct clcnn_graph_plan_info pa, pb;
	ck_assert_int_eq(clcnn_graph_plan_info(a, &pa), 0);
	ck_assert_int_eq(clcnn_graph_plan_info(b, &pb), 0);
	/* no parameter gradients at least: the trainable parameters' bytes once more */
	size_t trainable = 0;
	for (int i = 0; i < clcnn_graph_param_count(a); i++) {
		struct clcnn_param_info pi;
		ck_assert_int_eq(clcnn_graph_param_info(a, i, &pi), 0);
		trainable += pi.trainable ? pi.count * sizeof(float) : 0;
	}
	ck_assert_msg(pb.peak_bytes + trainable <= pa.peak_bytes, "%s: forward-only %zu bytes, training %zu", name,
		      pb.peak_bytes, pa.peak_bytes);
	ck_assert_uint_eq(pb.backward_peak, 0);
	ck_assert_uint_le(pb.pool_bytes, pa.pool_bytes);
	ck_assert_str_eq(clcnn_graph_output_name(a), clcnn_graph_output_name(b));

	size_t na, nb;
	float *ya = eval_output(a, &na), *yb = eval_output(b, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(ya, yb, na * sizeof *ya);
	/* a whole forward (the loss node too) on the forward-only plan, then to the output again */
	ck_assert_msg(clcnn_graph_forward(b, 0, 0) == 0, "%s", clcnn_context_error(ctx));
	free(yb);
	yb = eval_output(b, &nb);
	ck_assert_mem_eq(ya, yb, na * sizeof *ya);

	const char *why = "built forward-only (clcnn_graph_set_forward_only)";
	expect_error(ctx, clcnn_graph_backward(b), why);
	float loss;
	expect_error(ctx, clcnn_graph_loss(b, &loss), why);
	struct clcnn_optimizer_config oc;
	struct clcnn_schedule_config sc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_CONSTANT);
	struct clcnn_trainer *tr = NULL;
	expect_error(ctx, clcnn_trainer_new(b, &oc, &sc, 1, &tr), why);
	ck_assert_ptr_null(tr);
	for (int i = 0; i < clcnn_graph_param_count(b); i++) {
		struct clcnn_param_info pi;
		ck_assert_int_eq(clcnn_graph_param_info(b, i, &pi), 0);
		float *x = malloc(pi.count * sizeof *x);
		ck_assert_ptr_nonnull(x);
		if (pi.trainable)
			expect_error(ctx, clcnn_graph_grad_read(b, i, x),
				     "has no gradient: the graph is built forward-only");
		free(x);
	}

	/* built again for training: the same plan as a's, parameters kept, the same gradients */
	ck_assert_int_eq(clcnn_graph_set_forward_only(b, 0), 0);
	ck_assert_msg(clcnn_graph_build(b, BATCH) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_plan_info(b, &pb), 0);
	ck_assert_uint_eq(pb.peak_bytes, pa.peak_bytes);
	test_fill_inputs(b, BATCH, 1, 0); /* a build loses the input values */
	free(yb);
	yb = eval_output(b, &nb);
	ck_assert_mem_eq(ya, yb, na * sizeof *ya);
	test_fill_inputs(a, BATCH, 2, 0);
	test_fill_inputs(b, BATCH, 2, 0);
	ck_assert_int_eq(clcnn_graph_forward(a, 1, 9), 0);
	ck_assert_int_eq(clcnn_graph_forward(b, 1, 9), 0);
	ck_assert_int_eq(clcnn_graph_backward(a), 0);
	ck_assert_msg(clcnn_graph_backward(b) == 0, "%s", clcnn_context_error(ctx));
	int ca, cb;
	float *ga = first_weight_grad(a, &ca), *gb = first_weight_grad(b, &cb);
	ck_assert_int_eq(ca, cb);
	ck_assert_mem_eq(ga, gb, (size_t)ca * sizeof *ga);
	float la, lb;
	ck_assert_int_eq(clcnn_graph_loss(a, &la), 0);
	ck_assert_int_eq(clcnn_graph_loss(b, &lb), 0);
	ck_assert_mem_eq(&la, &lb, sizeof la);

	free(ga);
	free(gb);
	free(ya);
	free(yb);
	clcnn_graph_free(a);
	clcnn_graph_free(b);
	clcnn_context_close(ctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("forward-only");
	TCase *tc = tcase_create("models");
	tcase_set_timeout(tc, 1200);
	tcase_add_loop_test(tc, forward_only_models, 0, (int)(sizeof models / sizeof *models) - 1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
