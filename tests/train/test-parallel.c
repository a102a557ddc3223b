/*
 * Data parallelism through a collective (include/clcnn/parallel.h), with the threads collective of
 * one process: two members, each with its own context, graph and trainer on its half of the batch.
 *
 * Tier 1 (bitwise): after 3 SGD-with-momentum steps the members' parameters equal, bit for bit,
 * those of one trainer that runs the same two micro-batches one after the other and applies
 * 0.5 g0 + 0.5 g1 (scaled in float, summed in member order): the documented order.
 * Tier 2 (tolerance): they match one trainer on the joined batch of 6 within 1e-5 after 20 steps;
 * the only difference is the order of the float sums inside the mean.
 * Also: the members' losses are the global loss; an abort releases the other member with the why.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/parallel.h"
#include "train/train-private.h"
#include "testutil.h"

#define BATCH 6
#define HALF 3
#define IN 5
#define OUT 3

static const char *const net = "x = input(shape=(5))\n"
			       "t = input(shape=(3))\n"
			       "h = linear(x, out_features=7)\n"
			       "a = tanh\n"
			       "y = linear(out_features=3)\n"
			       "loss = mse_loss(y, t)\n";

/* Batch of step s: BATCH samples, the same on every run. */
static void batch_data(int s, float *x, float *t)
{
	uint64_t r = 0x1234u + (uint64_t)s * 977u;
	for (int i = 0; i < BATCH * IN; i++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = (float)((r >> 40) & 0xFFFF) / 32768.0f - 1.0f;
	}
	for (int i = 0; i < BATCH * OUT; i++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		t[i] = (float)((r >> 40) & 0xFFFF) / 65536.0f;
	}
}

static struct clcnn_trainer *make(struct clcnn_context *ctx, int batch, struct clcnn_graph **g)
{
	ck_assert_int_eq(clcnn_graph_parse(ctx, net, "mlp.net", g), 0);
	ck_assert_msg(clcnn_graph_build(*g, batch) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_init_params(*g, 7, "default"), 0);
	struct clcnn_optimizer_config o;
	clcnn_optimizer_defaults(&o, CLCNN_OPT_SGD);
	o.lr = 0.1;
	o.momentum = 0.9;
	struct clcnn_trainer *t;
	ck_assert_int_eq(clcnn_trainer_new(*g, &o, NULL, 3, &t), 0);
	return t;
}

static float *params(struct clcnn_graph *g, size_t *n)
{
	size_t total = 0;
	for (int i = 0; i < g->nparams; i++)
		total += g->params[i].count;
	float *p = malloc(total * sizeof *p), *q = p;
	for (int i = 0; i < g->nparams; i++) {
		clcnn_graph_param_read(g, i, q);
		q += g->params[i].count;
	}
	*n = total;
	return p;
}

struct member {
	struct clcnn_context *ctx; /* opened by the main thread: the ICD loader's first call is not thread-safe */
	struct clcnn_local_group *grp;
	int rank, steps;
	float *params, loss[20];
	size_t nparams;
	int rc;
	char err[512];
};

static void *member_run(void *arg)
{
	struct member *m = arg;
	struct clcnn_context *ctx = m->ctx;
	struct clcnn_graph *g;
	struct clcnn_trainer *t = make(ctx, HALF, &g);
	m->rc = clcnn_trainer_set_collective(t, clcnn_local_group_member(m->grp, m->rank), 0.5);
	if (!m->rc)
		m->rc = clcnn_trainer_broadcast(t);
	float x[BATCH * IN], y[BATCH * OUT];
	for (int s = 0; s < m->steps && !m->rc; s++) {
		batch_data(s, x, y);
		clcnn_graph_set_input(g, "x", x + m->rank * HALF * IN);
		clcnn_graph_set_input(g, "t", y + m->rank * HALF * OUT);
		m->rc = clcnn_trainer_step(t, &m->loss[s]);
	}
	snprintf(m->err, sizeof m->err, "%s", m->rc ? clcnn_context_error(ctx) : "");
	m->params = params(g, &m->nparams);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	return NULL;
}

static void run_members(struct member *m, int steps)
{
	struct clcnn_local_group *grp;
	ck_assert_int_eq(clcnn_local_group_new(2, &grp), 0);
	pthread_t th[2];
	for (int k = 0; k < 2; k++)
		m[k] = (struct member){.ctx = test_context(), .grp = grp, .rank = k, .steps = steps};
	for (int k = 0; k < 2; k++)
		pthread_create(&th[k], NULL, member_run, &m[k]);
	for (int k = 0; k < 2; k++) {
		pthread_join(th[k], NULL);
		clcnn_context_close(m[k].ctx);
	}
	clcnn_local_group_free(grp);
	for (int k = 0; k < 2; k++)
		ck_assert_msg(m[k].rc == 0, "member %d: %s", k, m[k].err);
	ck_assert_uint_eq(m[0].nparams, m[1].nparams);
	ck_assert(memcmp(m[0].params, m[1].params, m[0].nparams * sizeof(float)) == 0);
}

START_TEST(bitwise_against_accumulation)
{
	struct member m[2];
	run_members(m, 3);
	/* one trainer: micro-batch 0, micro-batch 1, 0.5 g0 + 0.5 g1, the update */
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g;
	struct clcnn_trainer *t = make(ctx, HALF, &g);
	size_t ng = 0;
	for (int i = 0; i < g->nparams; i++)
		ng += g->params[i].count;
	float *acc = malloc(ng * sizeof *acc), *gk = malloc(ng * sizeof *gk);
	float x[BATCH * IN], y[BATCH * OUT];
	for (int s = 0; s < 3; s++) {
		batch_data(s, x, y);
		float loss = 0;
		for (int k = 0; k < 2; k++) {
			clcnn_graph_set_input(g, "x", x + k * HALF * IN);
			clcnn_graph_set_input(g, "t", y + k * HALF * OUT);
			ck_assert_int_eq(clcnn_graph_forward(g, 1, 0), 0);
			ck_assert_int_eq(clcnn_graph_backward(g), 0);
			float l;
			clcnn_graph_loss(g, &l);
			loss = k ? loss + 0.5f * l : 0.5f * l;
			float *q = gk;
			for (int i = 0; i < g->nparams; i++, q += g->params[i - 1].count)
				clcnn_graph_grad_read(g, i, q);
			for (size_t i = 0; i < ng; i++)
				acc[i] = k ? acc[i] + 0.5f * gk[i] : 0.5f * gk[i];
		}
		ck_assert_msg(loss == m[0].loss[s] && loss == m[1].loss[s], "step %d: loss %.9g, members %.9g %.9g", s,
			      (double)loss, (double)m[0].loss[s], (double)m[1].loss[s]);
		float *q = acc;
		for (int i = 0; i < g->nparams; i++) {
			clcnn_buffer_write(ctx, g->params[i].grad, 0, g->params[i].count * sizeof(float), q);
			q += g->params[i].count;
		}
		ck_assert_int_eq(trainer_apply(t), 0);
	}
	size_t n;
	float *p = params(g, &n);
	ck_assert_uint_eq(n, m[0].nparams);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(p[i] == m[0].params[i], "parameter value %zu: %.9g, members %.9g", i, (double)p[i],
			      (double)m[0].params[i]);
	free(p), free(acc), free(gk), free(m[0].params), free(m[1].params);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

START_TEST(close_to_the_joined_batch)
{
	struct member m[2];
	run_members(m, 20);
	struct clcnn_context *ctx = test_context();
	struct clcnn_graph *g;
	struct clcnn_trainer *t = make(ctx, BATCH, &g);
	float x[BATCH * IN], y[BATCH * OUT];
	for (int s = 0; s < 20; s++) {
		batch_data(s, x, y);
		clcnn_graph_set_input(g, "x", x);
		clcnn_graph_set_input(g, "t", y);
		float loss;
		ck_assert_int_eq(clcnn_trainer_step(t, &loss), 0);
		ck_assert_msg(fabsf(loss - m[0].loss[s]) <= 1e-5f * (1 + fabsf(loss)), "step %d: loss %.9g, members %.9g",
			      s, (double)loss, (double)m[0].loss[s]);
	}
	size_t n;
	float *p = params(g, &n);
	double worst = 0;
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(p[i] - m[0].params[i]) / (1 + fabs(p[i])));
	ck_assert_msg(worst <= 1e-5, "after 20 steps the parameters differ by %g (relative)", worst);
	free(p), free(m[0].params), free(m[1].params);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
}
END_TEST

static void *waiting_member(void *arg)
{
	const struct clcnn_collective *c = arg;
	float v[4] = {1, 2, 3, 4};
	return (void *)(intptr_t)c->allreduce_sum(c->user, v, 4);
}

START_TEST(abort_releases_the_others)
{
	struct clcnn_local_group *grp;
	ck_assert_int_eq(clcnn_local_group_new(2, &grp), 0);
	const struct clcnn_collective *c0 = clcnn_local_group_member(grp, 0), *c1 = clcnn_local_group_member(grp, 1);
	ck_assert_ptr_null(clcnn_local_group_member(grp, 2));
	/* a working call first: member order sum, identical on both */
	pthread_t th;
	pthread_create(&th, NULL, waiting_member, (void *)c1);
	float v[4] = {10, 20, 30, 40};
	ck_assert_int_eq(c0->allreduce_sum(c0->user, v, 4), 0);
	void *r;
	pthread_join(th, &r);
	ck_assert_int_eq((int)(intptr_t)r, 0);
	ck_assert(v[0] == 11 && v[3] == 44);
	/* member 0 waits; member 1 fails instead of calling */
	pthread_create(&th, NULL, waiting_member, (void *)c0);
	c1->abort(c1->user, "member 1: device lost");
	pthread_join(th, &r);
	ck_assert_int_eq((int)(intptr_t)r, CLCNN_ERR_INVALID);
	ck_assert_str_eq(c0->error(c0->user), "member 1: device lost");
	clcnn_local_group_free(grp);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("parallel");
	TCase *tc = tcase_create("parallel");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, abort_releases_the_others);
	tcase_add_test(tc, bitwise_against_accumulation);
	tcase_add_test(tc, close_to_the_joined_batch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	test_require_device();
	return test_run_suite(make_suite());
}
