/*
 * clcnn_graph_set_sample_offset: a graph running samples 2..3 of a batch of 4 with offset 2 draws
 * the dropout mask and the gaussian noise that one graph running the whole batch draws for them,
 * bit for bit, forward and backward (the input gradient); with offset 0 it draws other values
 * (the check can fail).
 */
#include <math.h>
#include <string.h>

#include "clcnn/graph.h"
#include "testutil.h"

#define F 6

static const char *const net = "x = input(shape=(6))\n"
			       "t = input(shape=(6))\n"
			       "d = dropout(x, p=0.5)\n"
			       "n = gaussian_noise(d, sigma=0.3)\n"
			       "loss = mse_loss(n, t)\n";

/* Forward and backward of samples first .. first + batch - 1 of the fixed global batch of 4. */
static void run(int batch, int first, int offset, float *out, float *dx)
{
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_parse(ctx, net, "offset.net", &g), 0);
	ck_assert_int_eq(clcnn_graph_want_input_grad(g, "x"), 0);
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s", clcnn_context_error(ctx));
	float x[4 * F], t[4 * F];
	for (int i = 0; i < 4 * F; i++) {
		x[i] = 1.0f + 0.25f * (float)i;
		t[i] = 0.5f;
	}
	clcnn_graph_set_sample_offset(g, (uint32_t)offset);
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", x + first * F), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "t", t + first * F), 0);
	ck_assert_msg(clcnn_graph_forward(g, 1, 1234u) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_backward(g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_read(g, "n", out), 0);
	ck_assert_int_eq(clcnn_graph_read_input_grad(g, "x", dx), 0);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}

START_TEST(offset_draws_the_global_samples)
{
	float all[4 * F], dall[4 * F], part[2 * F], dpart[2 * F];
	run(4, 0, 0, all, dall);
	int zeros = 0;
	for (int i = 0; i < 4 * F; i++)
		zeros += all[i] == 0.0f || fabsf(all[i]) < 1.0f; /* dropped, noise only */
	ck_assert_msg(zeros > 0 && zeros < 4 * F, "dropout dropped %d of %d", zeros, 4 * F);
	for (int first = 0; first < 4; first += 2) {
		run(2, first, first, part, dpart);
		ck_assert_msg(memcmp(part, all + first * F, sizeof part) == 0, "output of samples %d..%d", first,
			      first + 1);
		/* the loss is a mean over the batch: the part's gradient is twice the joined batch's */
		for (int i = 0; i < 2 * F; i++)
			ck_assert_msg(dpart[i] == 2.0f * dall[first * F + i], "input gradient %d of sample %d: %g, %g",
				      i % F, first + i / F, (double)dpart[i], (double)dall[first * F + i]);
	}
	/* without the offset, samples 2..3 draw samples 0..1's values: other ones */
	run(2, 2, 0, part, dpart);
	ck_assert(memcmp(part, all + 2 * F, sizeof part) != 0);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("sample-offset");
	TCase *tc = tcase_create("sample-offset");
	tcase_add_test(tc, offset_draws_the_global_samples);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
