/*
 * Data parallelism, the transport-independent half: the trainer's gradient reduction through a
 * collective (include/clcnn/parallel.h) and the collective of threads in one process.
 *
 * Reduction: every gradient and the loss are read into one host arena (parameter order, loss
 * last), scaled by the member's weight, summed by the collective and written back. One arena and
 * one collective call per step: the fusion buffer of Horovod and the flat diff of Caffe's MPI
 * fork, host-staged because OpenCL has no peer-to-peer transport.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/parallel.h"
#include "train/train-private.h"

static size_t arena_count(const struct clcnn_graph *g)
{
	size_t n = 1; /* the loss */
	for (int i = 0; i < g->nparams; i++)
		n += g->params[i].grad ? g->params[i].count : 0;
	return n;
}

/* (Re)make the bucket plan for the current collective and size; the graph calls the right collective. */
static int rebucket(struct clcnn_trainer *t)
{
	trainer_buckets_free(t->bk);
	t->bk = NULL;
	if (t->coll && t->bucket_bytes) {
		int rc = trainer_buckets_new(t, t->bucket_bytes, &t->bk);
		if (rc) {
			clcnn_graph_set_collective(t->g, t->coll);
			return rc;
		}
	}
	clcnn_graph_set_collective(t->g, t->bk ? trainer_buckets_collective(t->bk) : t->coll);
	return 0;
}

int clcnn_trainer_set_collective(struct clcnn_trainer *t, const struct clcnn_collective *c, double weight)
{
	clcnn_buffer_host_free(t->ctx, t->arena_mem, t->arena);
	t->arena = NULL;
	t->arena_mem = NULL;
	t->coll = NULL;
	if (!c)
		return rebucket(t);
	if (c->size < 1 || c->rank < 0 || c->rank >= c->size || !c->allreduce_sum || !c->broadcast)
		return clcnn_fail(t->ctx, CLCNN_ERR_INVALID, "collective: rank %d of %d, or a missing function",
				  c->rank, c->size);
	t->arena_n = arena_count(t->g);
	void *arena;
	int rc = clcnn_buffer_host_new(t->ctx, t->arena_n * sizeof *t->arena, &t->arena_mem, &arena);
	if (rc)
		return rc;
	t->arena = arena;
	t->coll = c;
	rc = rebucket(t);
	return rc ? rc : clcnn_trainer_set_weight(t, weight);
}

int clcnn_trainer_set_weight(struct clcnn_trainer *t, double weight)
{
	if (!(weight >= 0 && weight <= 1))
		return clcnn_fail(t->ctx, CLCNN_ERR_INVALID, "data-parallel weight %g: must be in [0, 1]", weight);
	t->weight = (float)weight;
	return 0;
}

int clcnn_trainer_set_buckets(struct clcnn_trainer *t, size_t bytes)
{
	t->bucket_bytes = bytes;
	return rebucket(t);
}

/* The collective's message after a failed call, in front of the member. */
static int coll_failed(struct clcnn_trainer *t, int rc, const char *what)
{
	const char *why = t->coll->error ? t->coll->error(t->coll->user) : NULL;
	return clcnn_fail(t->ctx, rc ? rc : CLCNN_ERR_INVALID, "%s (member %d of %d): %s", what, t->coll->rank,
			  t->coll->size, why ? why : "the collective failed");
}

int trainer_reduce(struct clcnn_trainer *t, float *loss)
{
	struct clcnn_graph *g = t->g;
	float *a = t->arena;
	size_t k = 0;
	int rc = 0;
	double t0 = clcnn_now();
	for (int i = 0; i < g->nparams && !rc; i++) {
		const struct graph_param *p = &g->params[i];
		if (!p->grad)
			continue;
		rc = clcnn_buffer_read(t->ctx, p->grad, 0, p->count * sizeof(float), a + k);
		k += p->count;
	}
	if (!rc)
		rc = clcnn_graph_loss(g, &a[k]);
	if (rc) {
		if (t->coll->abort)
			t->coll->abort(t->coll->user, clcnn_context_error(t->ctx));
		return rc;
	}
	double t1 = clcnn_now();
	for (size_t j = 0; j < t->arena_n; j++)
		a[j] *= t->weight;
	rc = t->coll->allreduce_sum(t->coll->user, a, t->arena_n);
	if (rc)
		return coll_failed(t, rc, "gradient allreduce");
	double t2 = clcnn_now();
	t->tm.d2h = t1 - t0;
	t->tm.allreduce = t2 - t1;
	t->tm.exposed = t2 - t0;
	k = 0;
	for (int i = 0; i < g->nparams && !rc; i++) {
		const struct graph_param *p = &g->params[i];
		if (!p->grad)
			continue;
		rc = clcnn_buffer_write(t->ctx, p->grad, 0, p->count * sizeof(float), a + k);
		k += p->count;
	}
	*loss = a[k];
	if (!rc)
		rc = clcnn_context_finish(t->ctx);
	t->tm.h2d = clcnn_now() - t2;
	return rc;
}

/* Broadcast one device buffer of n floats from member 0 through a host copy. */
static int bcast_buffer(struct clcnn_trainer *t, cl_mem m, size_t n, float *host)
{
	int rc = t->coll->rank == 0 ? clcnn_buffer_read(t->ctx, m, 0, n * sizeof(float), host) : 0;
	if (rc && t->coll->abort)
		t->coll->abort(t->coll->user, clcnn_context_error(t->ctx));
	if (rc)
		return rc;
	rc = t->coll->broadcast(t->coll->user, host, n * sizeof(float), 0);
	if (rc)
		return coll_failed(t, rc, "broadcast of the parameters");
	return t->coll->rank == 0 ? 0 : clcnn_buffer_write(t->ctx, m, 0, n * sizeof(float), host);
}

int clcnn_trainer_broadcast(struct clcnn_trainer *t)
{
	if (!t->coll)
		return clcnn_fail(t->ctx, CLCNN_ERR_INVALID, "broadcast: the trainer has no collective");
	struct clcnn_graph *g = t->g;
	size_t max = 1;
	for (int i = 0; i < g->nparams; i++)
		max = g->params[i].count > max ? g->params[i].count : max;
	float *host = malloc(max * sizeof *host);
	if (!host)
		return clcnn_fail(t->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory (%zu floats)", max);
	int rc = 0;
	for (int i = 0; i < g->nparams && !rc; i++) {
		rc = bcast_buffer(t, g->params[i].mem, g->params[i].count, host);
		for (int s = 0; s < t->nslots && !rc; s++)
			if (t->slot[s][i])
				rc = bcast_buffer(t, t->slot[s][i], g->params[i].count, host);
	}
	free(host);
	int64_t state[3] = {t->steps, (int64_t)t->rng, (int64_t)t->seed};
	if (!rc && (rc = t->coll->broadcast(t->coll->user, state, sizeof state, 0)))
		return coll_failed(t, rc, "broadcast of the trainer state");
	if (!rc) {
		t->steps = (long)state[0];
		t->rng = (uint64_t)state[1];
		t->seed = (uint64_t)state[2];
		t->lr = clcnn_schedule_lr(&t->sched, t->opt.lr, t->steps > 0 ? t->steps - 1 : 0);
	}
	return rc;
}

/* ------------------------------------------------------------------ threads of one process */

struct local_member {
	struct clcnn_collective c;
	struct clcnn_local_group *grp;
};

struct clcnn_local_group {
	int size;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int arrived;
	unsigned long generation;
	int aborted;
	char why[1024];
	const void **in; /* per member: its data of the current call */
	void *tmp;       /* the result of the current call */
	size_t tmp_bytes;
	struct local_member *member;
};

/*
 * Wait until every member reached this point (a barrier that an abort releases). The last member
 * to arrive runs `last` (under the lock) before releasing the others. Returns 0 or -1 on abort.
 */
static int gather_point(struct clcnn_local_group *grp, void (*last)(struct clcnn_local_group *, void *), void *arg)
{
	pthread_mutex_lock(&grp->mu);
	if (grp->aborted) {
		pthread_mutex_unlock(&grp->mu);
		return -1;
	}
	unsigned long gen = grp->generation;
	if (++grp->arrived == grp->size) {
		if (last)
			last(grp, arg);
		grp->arrived = 0;
		grp->generation++;
		pthread_cond_broadcast(&grp->cv);
	} else {
		while (gen == grp->generation && !grp->aborted)
			pthread_cond_wait(&grp->cv, &grp->mu);
	}
	int rc = grp->aborted ? -1 : 0;
	pthread_mutex_unlock(&grp->mu);
	return rc;
}

static int ensure_tmp(struct clcnn_local_group *grp, size_t bytes)
{
	if (grp->tmp_bytes >= bytes)
		return 0;
	void *p = realloc(grp->tmp, bytes);
	if (!p)
		return -1;
	grp->tmp = p;
	grp->tmp_bytes = bytes;
	return 0;
}

struct sum_arg {
	size_t n;
	int oom;
};

static void sum_in_order(struct clcnn_local_group *grp, void *arg)
{
	struct sum_arg *s = arg;
	if (ensure_tmp(grp, s->n * sizeof(float) + 1)) {
		s->oom = 1;
		grp->aborted = 1;
		snprintf(grp->why, sizeof grp->why, "out of host memory for %zu values", s->n);
		return;
	}
	float *out = grp->tmp;
	memcpy(out, grp->in[0], s->n * sizeof *out);
	for (int k = 1; k < grp->size; k++) {
		const float *x = grp->in[k];
		for (size_t i = 0; i < s->n; i++)
			out[i] += x[i];
	}
}

static int local_allreduce(void *user, float *data, size_t n)
{
	struct local_member *m = user;
	struct clcnn_local_group *grp = m->grp;
	struct sum_arg arg = {n, 0};
	grp->in[m->c.rank] = data;
	/* every member's data is in place, the last one to arrive sums; all copy; nobody reuses tmp early */
	if (gather_point(grp, sum_in_order, &arg))
		return CLCNN_ERR_INVALID;
	memcpy(data, grp->tmp, n * sizeof *data);
	return gather_point(grp, NULL, NULL) ? CLCNN_ERR_INVALID : 0;
}

static int local_broadcast(void *user, void *data, size_t bytes, int root)
{
	struct local_member *m = user;
	struct clcnn_local_group *grp = m->grp;
	if (root < 0 || root >= grp->size)
		return CLCNN_ERR_INVALID;
	grp->in[m->c.rank] = data;
	if (gather_point(grp, NULL, NULL))
		return CLCNN_ERR_INVALID;
	if (m->c.rank != root)
		memcpy(data, grp->in[root], bytes);
	return gather_point(grp, NULL, NULL) ? CLCNN_ERR_INVALID : 0;
}

static int local_allgather(void *user, const double *in, size_t n, double *out)
{
	struct local_member *m = user;
	struct clcnn_local_group *grp = m->grp;
	grp->in[m->c.rank] = in;
	if (gather_point(grp, NULL, NULL))
		return CLCNN_ERR_INVALID;
	for (int k = 0; k < grp->size; k++)
		memcpy(out + (size_t)k * n, grp->in[k], n * sizeof *out);
	return gather_point(grp, NULL, NULL) ? CLCNN_ERR_INVALID : 0;
}

static const char *local_error(void *user)
{
	struct local_member *m = user;
	return m->grp->aborted ? m->grp->why : NULL;
}

static void local_abort(void *user, const char *why)
{
	clcnn_local_group_abort(((struct local_member *)user)->grp, why);
}

int clcnn_local_group_new(int size, struct clcnn_local_group **out)
{
	*out = NULL;
	if (size < 1)
		return CLCNN_ERR_INVALID;
	struct clcnn_local_group *grp = calloc(1, sizeof *grp);
	if (!grp)
		return CLCNN_ERR_NO_MEMORY;
	grp->size = size;
	grp->in = calloc((size_t)size, sizeof *grp->in);
	grp->member = calloc((size_t)size, sizeof *grp->member);
	if (!grp->in || !grp->member) {
		free(grp->in);
		free(grp->member);
		free(grp);
		return CLCNN_ERR_NO_MEMORY;
	}
	pthread_mutex_init(&grp->mu, NULL);
	pthread_cond_init(&grp->cv, NULL);
	for (int k = 0; k < size; k++) {
		struct local_member *m = &grp->member[k];
		m->grp = grp;
		m->c = (struct clcnn_collective){.rank = k,
						 .size = size,
						 .user = m,
						 .allreduce_sum = local_allreduce,
						 .broadcast = local_broadcast,
						 .allgather = local_allgather,
						 .error = local_error,
						 .abort = local_abort};
	}
	*out = grp;
	return 0;
}

const struct clcnn_collective *clcnn_local_group_member(struct clcnn_local_group *grp, int k)
{
	return grp && k >= 0 && k < grp->size ? &grp->member[k].c : NULL;
}

void clcnn_local_group_abort(struct clcnn_local_group *grp, const char *why)
{
	pthread_mutex_lock(&grp->mu);
	if (!grp->aborted) {
		grp->aborted = 1;
		snprintf(grp->why, sizeof grp->why, "%s", why ? why : "a member stopped");
	}
	pthread_cond_broadcast(&grp->cv);
	pthread_mutex_unlock(&grp->mu);
}

void clcnn_local_group_free(struct clcnn_local_group *grp)
{
	if (!grp)
		return;
	pthread_mutex_destroy(&grp->mu);
	pthread_cond_destroy(&grp->cv);
	free(grp->in);
	free(grp->tmp);
	free(grp->member);
	free(grp);
}
