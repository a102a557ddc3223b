/*
 * Inputs that are valid in form but hostile in size (no device needed: suite unit):
 *  - the graph checks (unknown inputs, cycles, dangling nodes) walk a 20000-node chain inside a
 *    thread with a 256 KiB stack: they must not recurse once per node;
 *  - a netfile read from an endless source (/dev/zero) stops at the size limit;
 *  - a 16384-statement netfile (the most allowed) parses, and its cost stays bounded.
 * Malformed files with exact messages live in tests/data/bad/ (test-bad-inputs).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph-private.h"
#include "testutil.h"

enum {
	CHAIN = 20000
};

struct job {
	struct clcnn_context *ctx;
	struct clcnn_graph *g;
	int rc_check, rc_cycle;
};

static void *check_in_small_stack(void *arg)
{
	struct job *j = arg;
	j->rc_check = graph_check(j->g);
	/* close the chain into a cycle through every node: the search must still find it */
	free(j->g->nodes[0].in_name[0]);
	j->g->nodes[0].in_name[0] = strdup(j->g->nodes[CHAIN - 1].name);
	j->rc_cycle = graph_check(j->g);
	return NULL;
}

START_TEST(deep_chain_small_stack)
{
	struct clcnn_context ctx = {0};
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_new(&ctx, &g), 0);
	int dims[1] = {4};
	ck_assert_int_eq(clcnn_graph_input(g, "x", 1, dims), 0);
	for (int i = 0; i < CHAIN; i++) {
		char name[32];
		snprintf(name, sizeof name, "r%d", i);
		ck_assert_int_eq(clcnn_graph_add(g, name, "relu", NULL, NULL), 0);
	}
	struct job j = {&ctx, g, 1, 1};
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, &a, check_in_small_stack, &j), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	pthread_attr_destroy(&a);
	ck_assert_msg(j.rc_check == 0, "%s", clcnn_context_error(&ctx));
	ck_assert_int_eq(j.rc_cycle, CLCNN_ERR_INVALID);
	ck_assert_msg(!strncmp(clcnn_context_error(&ctx), "cycle: r0 -> r1 -> r2 -> ", 25), "%.200s",
		      clcnn_context_error(&ctx));
	clcnn_graph_free(g);
	free(ctx.error);
}
END_TEST

START_TEST(endless_netfile)
{
	struct clcnn_context ctx = {0};
	struct clcnn_graph *g = NULL;
	ck_assert_int_eq(clcnn_graph_load(&ctx, "/dev/zero", &g), CLCNN_ERR_FORMAT);
	ck_assert_str_eq(clcnn_context_error(&ctx), "/dev/zero: larger than 16 MiB: not a netfile");
	ck_assert_ptr_null(g);
	free(ctx.error);
}
END_TEST

START_TEST(most_statements)
{
	size_t cap = 16384 * 24 + 64, len = 0;
	char *text = malloc(cap);
	len += (size_t)snprintf(text + len, cap - len, "x = input(shape=(2))\n");
	for (int i = 1; i < 16384; i++)
		len += (size_t)snprintf(text + len, cap - len, "n%d = relu\n", i);
	struct clcnn_context ctx = {0};
	struct clcnn_graph *g = NULL;
	double t0 = clcnn_now();
	ck_assert_msg(clcnn_graph_parse(&ctx, text, "big.net", &g) == 0, "%s", clcnn_context_error(&ctx));
	ck_assert_int_eq(graph_infer(g, 2), 0);
	printf("16384 statements parsed and checked in %.2f s\n", clcnn_now() - t0);
	clcnn_graph_free(g);
	/* one more is refused where it starts */
	snprintf(text + len, cap - len, "last = relu\n");
	ck_assert_int_eq(clcnn_graph_parse(&ctx, text, "big.net", &g), CLCNN_ERR_FORMAT);
	ck_assert_str_eq(clcnn_context_error(&ctx), "big.net:16385:1: more than 16384 statements");
	free(text);
	free(ctx.error);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, deep_chain_small_stack);
	tcase_add_test(tc, endless_netfile);
	tcase_add_test(tc, most_statements);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
