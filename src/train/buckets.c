/*
 * Gradient buckets reduced while backward still runs (clcnn_trainer_set_buckets), as PyTorch DDP
 * does: the graph's schedule is fixed, so the step at which backward has produced every gradient
 * of a parameter is known before the first step.
 *
 * Plan: the trainable parameters in the order backward finishes them, cut into buckets of about
 * the requested bytes; the loss is one more bucket, last. During backward the executor's hook
 * (after node k's kernels are enqueued) puts a marker behind the kernels of every bucket whose
 * last parameter is done and hands the bucket to this trainer's communication thread. That thread
 * takes the buckets strictly in plan order (every member issues the same collective calls in the
 * same order): it waits for the marker, reads the bucket's gradients on a second command queue
 * (so the copy overlaps the compute queue's later kernels), scales them by the member's weight,
 * calls allreduce_sum, and writes the sums back on the second queue. Each value is still the sum
 * over members in member order: the result is bitwise that of one bucket.
 *
 * Collective calls of the graph itself (sync_bn) go through a wrapper that first waits until the
 * thread has finished every bucket handed to it, so each member's sequence of collective calls
 * stays the program order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "train/train-private.h"

struct bucket {
	int first, count; /* params of the plan: order[first .. first + count) */
	size_t off, n;    /* arena slice (floats) */
	int ready;        /* backward step k (counting down) after which every gradient is final */
	cl_event marker;
	int posted;
};

struct trainer_buckets {
	struct clcnn_trainer *t;
	int nb; /* gradient buckets; bucket nb is the loss */
	struct bucket *b;
	int *order; /* graph parameter indices in plan order */
	cl_command_queue copyq;
	struct clcnn_collective wrap; /* what the graph calls (sync_bn) */

	pthread_t thread;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int next_post; /* first bucket not yet handed to the thread */
	int done;      /* buckets the thread has finished */
	int stop;      /* the step failed: the thread leaves */
	int rc;
	char err[512];
	double d2h, allreduce, h2d;
};

/* ------------------------------------------------------------------ plan */

/* Backward step (position in the schedule) after which param i's gradient is final: its first user. */
static void param_ready(const struct clcnn_graph *g, int *ready)
{
	for (int i = 0; i < g->nparams; i++)
		ready[i] = g->nnodes;
	for (int k = 0; k < g->nnodes; k++) {
		const struct graph_node *n = &g->nodes[g->order[k]];
		if (!n->run_backward)
			continue;
		for (int j = 0; j < n->op->nparam; j++)
			if (ready[n->param0 + j] > k)
				ready[n->param0 + j] = k;
	}
}

static int plan(struct trainer_buckets *bk, size_t bytes)
{
	struct clcnn_graph *g = bk->t->g;
	int *ready = malloc(((size_t)g->nparams + 1) * sizeof *ready);
	bk->order = malloc(((size_t)g->nparams + 1) * sizeof *bk->order);
	bk->b = calloc((size_t)g->nparams + 2, sizeof *bk->b);
	if (!ready || !bk->order || !bk->b) {
		free(ready);
		return -1;
	}
	param_ready(g, ready);
	int np = 0;
	for (int i = 0; i < g->nparams; i++)
		if (g->params[i].grad)
			bk->order[np++] = i;
	/* backward runs k downwards: the latest position is ready first; ties keep parameter order */
	for (int a = 1; a < np; a++)
		for (int c = a; c > 0 && ready[bk->order[c]] > ready[bk->order[c - 1]]; c--) {
			int tmp = bk->order[c];
			bk->order[c] = bk->order[c - 1];
			bk->order[c - 1] = tmp;
		}
	size_t off = 0;
	bk->nb = 0;
	for (int p = 0; p < np; p++) {
		struct bucket *b = &bk->b[bk->nb];
		const struct graph_param *gp = &g->params[bk->order[p]];
		if (!b->count) {
			b->first = p;
			b->off = off;
		}
		b->count++;
		b->n += gp->count;
		b->ready = ready[bk->order[p]];
		off += gp->count;
		if (b->n * sizeof(float) >= bytes || p == np - 1)
			bk->nb++;
	}
	bk->b[bk->nb].off = off; /* the loss */
	bk->b[bk->nb].n = 1;
	bk->b[bk->nb].ready = -1;
	free(ready);
	return 0;
}

/* ------------------------------------------------------------------ the communication thread */

static void thread_fail(struct trainer_buckets *bk, int rc, const char *fmt, const char *why)
{
	pthread_mutex_lock(&bk->mu);
	if (!bk->rc) {
		bk->rc = rc ? rc : CLCNN_ERR_INVALID;
		snprintf(bk->err, sizeof bk->err, fmt, why ? why : "");
	}
	pthread_mutex_unlock(&bk->mu);
}

static int reduce_bucket(struct trainer_buckets *bk, int i)
{
	struct clcnn_trainer *t = bk->t;
	struct graph_param *params = t->g->params;
	struct bucket *b = &bk->b[i];
	float *a = t->arena + b->off;
	cl_int e = CL_SUCCESS;
	double t0 = clcnn_now();
	if (i < bk->nb) {
		e = clWaitForEvents(1, &b->marker);
		t0 = clcnn_now();
		size_t o = 0;
		for (int p = b->first; p < b->first + b->count && e == CL_SUCCESS; p++) {
			const struct graph_param *gp = &params[bk->order[p]];
			e = clEnqueueReadBuffer(bk->copyq, gp->grad, CL_FALSE, 0, gp->count * sizeof(float), a + o, 0,
						NULL, NULL);
			o += gp->count;
		}
		if (e == CL_SUCCESS)
			e = clFinish(bk->copyq);
	}
	if (e != CL_SUCCESS) {
		char code[32];
		snprintf(code, sizeof code, "%d", (int)e);
		thread_fail(bk, CLCNN_ERR_OPENCL, "reading gradient bucket: OpenCL error %s", code);
		return -1;
	}
	double t1 = clcnn_now();
	for (size_t j = 0; j < b->n; j++)
		a[j] *= t->weight;
	int rc = t->coll->allreduce_sum(t->coll->user, a, b->n);
	if (rc) {
		const char *why = t->coll->error ? t->coll->error(t->coll->user) : NULL;
		thread_fail(bk, rc, "gradient allreduce: %s", why ? why : "the collective failed");
		return -1;
	}
	double t2 = clcnn_now();
	size_t o = 0;
	for (int p = b->first; p < b->first + b->count && i < bk->nb && e == CL_SUCCESS; p++) {
		const struct graph_param *gp = &params[bk->order[p]];
		e = clEnqueueWriteBuffer(bk->copyq, gp->grad, CL_FALSE, 0, gp->count * sizeof(float), a + o, 0, NULL,
					 NULL);
		o += gp->count;
	}
	if (e == CL_SUCCESS && i < bk->nb)
		e = clFinish(bk->copyq);
	if (e != CL_SUCCESS) {
		char code[32];
		snprintf(code, sizeof code, "%d", (int)e);
		thread_fail(bk, CLCNN_ERR_OPENCL, "writing gradient bucket: OpenCL error %s", code);
		return -1;
	}
	bk->d2h += t1 - t0;
	bk->allreduce += t2 - t1;
	bk->h2d += clcnn_now() - t2;
	return 0;
}

static void *comm_main(void *arg)
{
	struct trainer_buckets *bk = arg;
	for (int i = 0; i <= bk->nb; i++) {
		pthread_mutex_lock(&bk->mu);
		while (bk->next_post <= i && !bk->stop)
			pthread_cond_wait(&bk->cv, &bk->mu);
		int stop = bk->stop && bk->next_post <= i;
		pthread_mutex_unlock(&bk->mu);
		if (stop || reduce_bucket(bk, i))
			break;
		pthread_mutex_lock(&bk->mu);
		bk->done = i + 1;
		pthread_cond_broadcast(&bk->cv);
		pthread_mutex_unlock(&bk->mu);
	}
	pthread_mutex_lock(&bk->mu);
	bk->done = bk->nb + 1; /* also after a failure: nobody waits for more */
	pthread_cond_broadcast(&bk->cv);
	pthread_mutex_unlock(&bk->mu);
	return NULL;
}

/* Hand bucket i to the thread. */
static void post(struct trainer_buckets *bk, int i)
{
	pthread_mutex_lock(&bk->mu);
	bk->next_post = i + 1;
	pthread_cond_broadcast(&bk->cv);
	pthread_mutex_unlock(&bk->mu);
}

/* Executor hook: node k's backward kernels are enqueued. */
static void backward_hook(void *user, int k)
{
	struct trainer_buckets *bk = user;
	struct clcnn_context *ctx = bk->t->ctx;
	int i = bk->next_post;
	while (i < bk->nb && bk->b[i].ready >= k) {
		if (clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &bk->b[i].marker) != CL_SUCCESS) {
			bk->b[i].marker = NULL;
			thread_fail(bk, CLCNN_ERR_OPENCL, "%s", "enqueueing a gradient bucket's marker failed");
			return;
		}
		clFlush(ctx->queue);
		post(bk, i++);
	}
}

/* Wait until the thread finished every bucket handed to it (before a direct collective call). */
static void drain(struct trainer_buckets *bk)
{
	pthread_mutex_lock(&bk->mu);
	while (bk->running && bk->done < bk->next_post)
		pthread_cond_wait(&bk->cv, &bk->mu);
	pthread_mutex_unlock(&bk->mu);
}

static int wrap_allreduce(void *user, float *data, size_t n)
{
	struct trainer_buckets *bk = user;
	drain(bk);
	return bk->t->coll->allreduce_sum(bk->t->coll->user, data, n);
}

static int wrap_broadcast(void *user, void *data, size_t bytes, int root)
{
	struct trainer_buckets *bk = user;
	drain(bk);
	return bk->t->coll->broadcast(bk->t->coll->user, data, bytes, root);
}

static int wrap_allgather(void *user, const double *in, size_t n, double *out)
{
	struct trainer_buckets *bk = user;
	drain(bk);
	return bk->t->coll->allgather(bk->t->coll->user, in, n, out);
}

static const char *wrap_error(void *user)
{
	struct trainer_buckets *bk = user;
	return bk->t->coll->error ? bk->t->coll->error(bk->t->coll->user) : NULL;
}

static void wrap_abort(void *user, const char *why)
{
	struct trainer_buckets *bk = user;
	if (bk->t->coll->abort)
		bk->t->coll->abort(bk->t->coll->user, why);
}

/* ------------------------------------------------------------------ trainer side */

void trainer_buckets_free(struct trainer_buckets *bk)
{
	if (!bk)
		return;
	if (bk->copyq)
		clReleaseCommandQueue(bk->copyq);
	pthread_mutex_destroy(&bk->mu);
	pthread_cond_destroy(&bk->cv);
	free(bk->b);
	free(bk->order);
	free(bk);
}

int trainer_buckets_new(struct clcnn_trainer *t, size_t bytes, struct trainer_buckets **out)
{
	*out = NULL;
	struct trainer_buckets *bk = calloc(1, sizeof *bk);
	if (!bk)
		return clcnn_fail(t->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	bk->t = t;
	pthread_mutex_init(&bk->mu, NULL);
	pthread_cond_init(&bk->cv, NULL);
	if (plan(bk, bytes)) {
		trainer_buckets_free(bk);
		return clcnn_fail(t->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	cl_int e;
	bk->copyq = clCreateCommandQueue(t->ctx->cl, t->ctx->device, 0, &e);
	if (e != CL_SUCCESS) {
		bk->copyq = NULL;
		trainer_buckets_free(bk);
		return clcnn_fail_cl(t->ctx, e, "creating the gradient buckets' copy queue");
	}
	const struct clcnn_collective *c = t->coll;
	bk->wrap = (struct clcnn_collective){.rank = c->rank,
					     .size = c->size,
					     .user = bk,
					     .allreduce_sum = wrap_allreduce,
					     .broadcast = wrap_broadcast,
					     .allgather = c->allgather ? wrap_allgather : NULL,
					     .error = wrap_error,
					     .abort = wrap_abort};
	*out = bk;
	return 0;
}

const struct clcnn_collective *trainer_buckets_collective(struct trainer_buckets *bk)
{
	return &bk->wrap;
}

int trainer_buckets_count(const struct trainer_buckets *bk)
{
	return bk->nb;
}

int trainer_buckets_begin(struct trainer_buckets *bk)
{
	bk->next_post = bk->done = bk->stop = bk->rc = 0;
	bk->err[0] = 0;
	bk->d2h = bk->allreduce = bk->h2d = 0;
	for (int i = 0; i <= bk->nb; i++)
		bk->b[i].marker = NULL;
	if (pthread_create(&bk->thread, NULL, comm_main, bk))
		return clcnn_fail(bk->t->ctx, CLCNN_ERR_NO_MEMORY, "cannot start the communication thread");
	pthread_mutex_lock(&bk->mu);
	bk->running = 1;
	pthread_mutex_unlock(&bk->mu);
	bk->t->g->backward_hook = backward_hook;
	bk->t->g->backward_hook_user = bk;
	return 0;
}

/*
 * After backward (rc its status): hand the loss to the thread, wait for it, and report. On a
 * failure the other members are released through the collective's abort.
 */
int trainer_buckets_end(struct trainer_buckets *bk, int rc, float *loss)
{
	struct clcnn_trainer *t = bk->t;
	t->g->backward_hook = NULL;
	double t0 = clcnn_now();
	if (!rc && !bk->rc) {
		if (bk->next_post < bk->nb) /* parameters that backward never reached */
			backward_hook(bk, -1);
		rc = clcnn_graph_loss(t->g, &t->arena[bk->b[bk->nb].off]);
	}
	if (!rc && !bk->rc) {
		post(bk, bk->nb);
	} else {
		/* this member failed (rc), or its thread did (bk->rc: a collective or copy failure) */
		if (t->coll->abort)
			t->coll->abort(t->coll->user, rc ? clcnn_context_error(t->ctx) : bk->err);
		pthread_mutex_lock(&bk->mu);
		bk->stop = 1;
		pthread_cond_broadcast(&bk->cv);
		pthread_mutex_unlock(&bk->mu);
	}
	pthread_join(bk->thread, NULL);
	pthread_mutex_lock(&bk->mu);
	bk->running = 0;
	pthread_mutex_unlock(&bk->mu);
	for (int i = 0; i <= bk->nb; i++)
		if (bk->b[i].marker)
			clReleaseEvent(bk->b[i].marker);
	t->tm.d2h = bk->d2h;
	t->tm.allreduce = bk->allreduce;
	t->tm.h2d = bk->h2d;
	t->tm.exposed = clcnn_now() - t0;
	if (!rc && bk->rc) {
		if (t->coll->abort)
			t->coll->abort(t->coll->user, bk->err);
		rc = clcnn_fail(t->ctx, bk->rc, "%s (member %d of %d)", bk->err, t->coll->rank, t->coll->size);
	}
	if (!rc)
		*loss = t->arena[bk->b[bk->nb].off];
	return rc;
}
