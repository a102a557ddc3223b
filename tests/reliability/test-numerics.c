/*
 * Numerical faults in training: a non-finite loss stops clcnn_trainer_step with the step named and
 * the update not applied; with clcnn_graph_check_numerics the first node producing a NaN or Inf is
 * named, in forward (NaN input data, exploding weights) and in backward (a gradient that overflows
 * while every output is finite).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clcnn/train.h"
#include "testutil.h"

/* x(4) -> fc1 -> fc2 -> mse against t(1), batch 2. */
static const char *NET = "x = input(shape=(4))\n"
			 "t = input(shape=(1))\n"
			 "fc1 = linear(x, out_features=4)\n"
			 "fc2 = linear(fc1, out_features=1)\n"
			 "loss = mse_loss(fc2, t)\n";

struct rig {
	struct clcnn_context *ctx;
	struct clcnn_graph *g;
	struct clcnn_trainer *t;
};

static void rig_open(struct rig *r, double lr, int check)
{
	r->ctx = test_context();
	ck_assert_int_eq(clcnn_graph_parse(r->ctx, NET, "n.net", &r->g), 0);
	ck_assert_msg(clcnn_graph_build(r->g, 2) == 0, "%s", clcnn_context_error(r->ctx));
	clcnn_graph_check_numerics(r->g, check);
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.lr = lr;
	oc.momentum = 0.9;
	ck_assert_int_eq(clcnn_trainer_new(r->g, &oc, NULL, 3, &r->t), 0);
}

static void rig_close(struct rig *r)
{
	clcnn_trainer_free(r->t);
	clcnn_graph_free(r->g);
	clcnn_context_close(r->ctx);
}

static void feed(struct rig *r, float x0)
{
	float x[8] = {x0, 2, 3, 4, 5, 6, 7, 8}, t[2] = {1, -1};
	ck_assert_int_eq(clcnn_graph_set_input(r->g, "x", x), 0);
	ck_assert_int_eq(clcnn_graph_set_input(r->g, "t", t), 0);
}

/* All parameters, concatenated (the caller frees). */
static float *snapshot(struct rig *r, size_t *n)
{
	size_t total = 0;
	for (int i = 0; i < clcnn_graph_param_count(r->g); i++) {
		struct clcnn_param_info pi;
		clcnn_graph_param_info(r->g, i, &pi);
		total += pi.count;
	}
	float *all = malloc(total * sizeof *all), *p = all;
	for (int i = 0; i < clcnn_graph_param_count(r->g); i++) {
		struct clcnn_param_info pi;
		clcnn_graph_param_info(r->g, i, &pi);
		ck_assert_int_eq(clcnn_graph_param_read(r->g, i, p), 0);
		p += pi.count;
	}
	*n = total;
	return all;
}

static void set_param(struct rig *r, const char *name, float value)
{
	int i = clcnn_graph_param_find(r->g, name);
	ck_assert_int_ge(i, 0);
	struct clcnn_param_info pi;
	clcnn_graph_param_info(r->g, i, &pi);
	float *v = malloc(pi.count * sizeof *v);
	for (size_t k = 0; k < pi.count; k++)
		v[k] = value;
	ck_assert_int_eq(clcnn_graph_param_write(r->g, i, v), 0);
	free(v);
}

/*
 * Step until a failure (at most 50 steps); return its status, the step that failed and whether the
 * parameters after the failure equal those before the failing step.
 */
static int run_until_failure(struct rig *r, float x0, long *failed_step, int *params_kept)
{
	int rc = 0;
	for (int s = 0; s < 50 && !rc; s++) {
		size_t n, m;
		float *before = snapshot(r, &n), loss;
		feed(r, x0);
		long steps = clcnn_trainer_steps(r->t);
		rc = clcnn_trainer_step(r->t, &loss);
		if (rc) {
			float *after = snapshot(r, &m);
			*failed_step = steps + 1;
			*params_kept = n == m && !memcmp(before, after, n * sizeof *before);
			ck_assert_int_eq(clcnn_trainer_steps(r->t), steps);
			free(after);
		}
		free(before);
	}
	return rc;
}

static void assert_prefix(const char *msg, const char *prefix)
{
	ck_assert_msg(!strncmp(msg, prefix, strlen(prefix)), "message \"%s\" does not start with \"%s\"", msg, prefix);
}

/* An exploding learning rate: the loss becomes non-finite; the failing update is not applied. */
START_TEST(exploding_loss_names_step)
{
	struct rig r;
	rig_open(&r, 1e30, 0);
	long step = 0;
	int kept = 0;
	ck_assert_int_eq(run_until_failure(&r, 1, &step, &kept), CLCNN_ERR_NUMERIC);
	char want[256];
	snprintf(want, sizeof want, "training step %ld: the loss is ", step);
	assert_prefix(clcnn_context_error(r.ctx), want);
	ck_assert_ptr_nonnull(strstr(clcnn_context_error(r.ctx), "(lr 1e+30); lower the learning rate"));
	ck_assert_msg(kept, "the failing step changed the parameters");
	printf("exploding lr: %s\n", clcnn_context_error(r.ctx));
	/* the trainer is still usable: a sane step succeeds from the kept state once weights are reset */
	ck_assert_int_eq(clcnn_graph_init_params(r.g, 1, "default"), 0);
	rig_close(&r);
}
END_TEST

/*
 * The same with the checks on: the first node whose output is not finite is named. After one step
 * at lr 1e30 both weights are ~1e30: fc1's output (~1e31) is still finite, fc2's (~1e61) is not.
 */
START_TEST(exploding_forward_names_node)
{
	struct rig r;
	rig_open(&r, 1e30, 1);
	long step = 0;
	int kept = 0;
	ck_assert_int_eq(run_until_failure(&r, 1, &step, &kept), CLCNN_ERR_NUMERIC);
	char want[256];
	snprintf(want, sizeof want, "training step %ld: forward: node 'fc2' (linear): output[", step);
	assert_prefix(clcnn_context_error(r.ctx), want);
	ck_assert(kept);
	printf("exploding lr, checked: %s\n", clcnn_context_error(r.ctx));
	rig_close(&r);
}
END_TEST

/* NaN in the input data: step 1 fails; with the checks, at the first layer reading it. */
START_TEST(nan_input)
{
	for (int check = 0; check < 2; check++) {
		struct rig r;
		rig_open(&r, 0.01, check);
		long step = 0;
		int kept = 0;
		ck_assert_int_eq(run_until_failure(&r, NAN, &step, &kept), CLCNN_ERR_NUMERIC);
		ck_assert_int_eq(step, 1);
		ck_assert(kept);
		assert_prefix(clcnn_context_error(r.ctx),
			      check ? "training step 1: forward: node 'fc1' (linear): output[0] = nan"
				    : "training step 1: the loss is nan (lr 0.01)");
		rig_close(&r);
	}
}
END_TEST

/*
 * A gradient that overflows while every output is finite: fc1 makes tiny features, fc2's huge
 * weights bring them back to a finite prediction, but fc2's input gradient W2^T dy is inf. With
 * the checks, step 1 names fc2 in backward; without, the inf reaches fc1's weights through the
 * update and the loss of step 2 is not finite.
 */
START_TEST(backward_overflow)
{
	for (int check = 0; check < 2; check++) {
		struct rig r;
		rig_open(&r, 0.01, check);
		set_param(&r, "fc1.weight", 1e-37f);
		set_param(&r, "fc1.bias", 0);
		set_param(&r, "fc2.weight", 3e38f);
		set_param(&r, "fc2.bias", 0);
		long step = 0;
		int kept = 0;
		ck_assert_int_eq(run_until_failure(&r, 1, &step, &kept), CLCNN_ERR_NUMERIC);
		ck_assert(kept);
		if (check) {
			ck_assert_int_eq(step, 1);
			assert_prefix(clcnn_context_error(r.ctx),
				      "training step 1: backward: node 'fc2' (linear): gradient of input 0[0] = ");
		} else {
			ck_assert_int_eq(step, 2);
			assert_prefix(clcnn_context_error(r.ctx), "training step 2: the loss is ");
		}
		printf("backward overflow, checks %s: %s\n", check ? "on" : "off", clcnn_context_error(r.ctx));
		rig_close(&r);
	}
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("numerics");
	TCase *tc = tcase_create("numerics");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, exploding_loss_names_step);
	tcase_add_test(tc, exploding_forward_names_node);
	tcase_add_test(tc, nan_input);
	tcase_add_test(tc, backward_overflow);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
