/*
 * The batch loader: a pool of worker threads fills a ring of `prefetch` batch slots while the caller
 * computes. Batch k of a pass lives in slot k % prefetch; a worker claims the next batch whose slot
 * the caller has released, reads, augments and normalises its samples outside the lock, and marks it
 * ready. One mutex guards the state; `work` wakes workers (a slot freed, a pass started, quit), `ready`
 * wakes the caller (a batch done, an error) and start() (the last busy worker went idle).
 *
 * Determinism: a sample's augmentation draws from an RNG keyed on (seed, position in the pass), so
 * neither the thread that prepares it nor the timing changes a single bit of the batches.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/dataset.h"
#include "io/io.h"
#include "io/source.h"

#define LOADER_ERR_MAX 1024

struct slot {
	float *images, *labels;
	int ready; /* batch (of the current pass) held, complete */
};

struct clcnn_loader {
	struct clcnn_source *src;
	struct clcnn_augment aug;
	struct clcnn_normalize norm;
	int augment, batch, nslots, nthreads, per;
	struct slot *slots;
	pthread_t *threads;
	int nstarted; /* threads created (free joins these) */
	pthread_mutex_t mu;
	pthread_cond_t work, ready;
	int mutex_ok, work_ok, ready_ok;

	/* the pass, under mu */
	int *order; /* count positions -> sample indices */
	int count, nbatches;
	uint64_t seed;
	int next_claim; /* next batch a worker takes */
	int next_out;   /* next batch next() returns */
	int released;   /* batches whose slot the caller gave back */
	int busy;       /* workers filling a slot */
	int quit;
	int err_batch; /* lowest batch that failed (nbatches: none) */
	int err_rc;
	char err[LOADER_ERR_MAX];
	/* bumped by start(); a worker that sees it change stops early (read without the lock) */
	atomic_uint gen;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The augmentation RNG of position p: splitmix64 over a hash of (seed, p), independent of threads. */
static uint64_t position_rng(uint64_t seed, int p)
{
	uint64_t st = seed ^ (0xD1B54A32D192ED03ULL * ((uint64_t)p + 1));
	clcnn_rng_next(&st);
	return st;
}

/* Fill slot with batch b of generation gen; 0, 1 when abandoned, or a status (message in err). */
static int fill(struct clcnn_loader *l, float *tmp, int b, unsigned gen, char *err, size_t errlen)
{
	struct slot *s = &l->slots[b % l->nslots];
	const struct clcnn_source_info *in = clcnn_source_info(l->src);
	int first = b * l->batch;
	int n = l->count - first < l->batch ? l->count - first : l->batch;
	for (int i = 0; i < n; i++) {
		if (atomic_load_explicit(&l->gen, memory_order_relaxed) != gen)
			return 1;
		float *x = s->images + (size_t)i * (size_t)l->per;
		int rc = clcnn_source_read(l->src, l->order[first + i], x, &s->labels[i], err, errlen);
		if (rc)
			return rc;
		if (l->augment) {
			uint64_t rng = position_rng(l->seed, first + i);
			clcnn_augment_sample(&l->aug, x, in->c, in->h, in->w, tmp, &rng);
		}
		if (l->norm.channels)
			clcnn_normalize_apply(&l->norm, x, in->c, in->h, in->w);
	}
	return 0;
}

static void *worker(void *arg)
{
	struct clcnn_loader *l = arg;
	const struct clcnn_source_info *in = clcnn_source_info(l->src);
	/* the augmentation's scratch: one sample plus the two planes of an elastic field */
	float *tmp = malloc(((size_t)in->c + 2) * (size_t)in->h * (size_t)in->w * sizeof *tmp);
	char err[LOADER_ERR_MAX];
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->quit && !(l->next_claim < l->nbatches && l->next_claim < l->err_batch &&
				     l->next_claim < l->released + l->nslots))
			pthread_cond_wait(&l->work, &l->mu);
		if (l->quit)
			break;
		int b = l->next_claim++;
		unsigned gen = atomic_load(&l->gen);
		l->busy++;
		pthread_mutex_unlock(&l->mu);
		int rc = tmp ? fill(l, tmp, b, gen, err, sizeof err)
			     : clcnn_io_fail(err, sizeof err, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a sample",
					     l->src->path);
		pthread_mutex_lock(&l->mu);
		l->busy--;
		if (atomic_load(&l->gen) == gen) {
			if (rc == 0) {
				l->slots[b % l->nslots].ready = 1;
			} else if (rc < 0 && b < l->err_batch) {
				l->err_batch = b;
				l->err_rc = rc;
				memcpy(l->err, err, sizeof l->err);
			}
		}
		pthread_cond_broadcast(&l->ready);
	}
	pthread_mutex_unlock(&l->mu);
	free(tmp);
	return NULL;
}

int clcnn_loader_new(struct clcnn_source *s, const struct clcnn_loader_options *opt, struct clcnn_loader **out,
		     char *err, size_t errlen)
{
	*out = NULL;
	if (!s || !opt || opt->batch < 1 || opt->threads < 0 || opt->prefetch < 0)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "clcnn_loader_new: NULL source or options, or batch < 1, threads or prefetch < 0");
	const struct clcnn_source_info *in = clcnn_source_info(s);
	const struct clcnn_augment *a = opt->augment;
	int augment = a && (a->hflip || a->translate || a->rotate > 0 || a->scale > 0 || a->elastic > 0);
	if (augment && in->nd != 3)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "%s: augmentation works on images, but this source holds feature vectors of %d "
				     "values; use --augment none",
				     s->path, in->c);
	if (opt->norm && opt->norm->channels > 1 && opt->norm->channels != in->c)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
				     "%s: the normalisation has %d channels but the samples have %d", s->path,
				     opt->norm->channels, in->c);
	struct clcnn_loader *l = calloc(1, sizeof *l);
	if (!l)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for a loader", s->path);
	l->src = s;
	l->augment = augment;
	if (augment)
		l->aug = *a;
	if (opt->norm)
		l->norm = *opt->norm;
	l->batch = opt->batch;
	l->nthreads = opt->threads ? opt->threads : 2;
	/* at least one slot per thread, so that every worker can be busy */
	l->nslots = opt->prefetch ? opt->prefetch : l->nthreads > 2 ? l->nthreads : 2;
	l->per = in->c * in->h * in->w;
	atomic_init(&l->gen, 0);
	l->mutex_ok = !pthread_mutex_init(&l->mu, NULL);
	l->work_ok = !pthread_cond_init(&l->work, NULL);
	l->ready_ok = !pthread_cond_init(&l->ready, NULL);
	l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
	l->threads = calloc((size_t)l->nthreads, sizeof *l->threads);
	int ok = l->mutex_ok && l->work_ok && l->ready_ok && l->slots && l->threads;
	for (int i = 0; ok && i < l->nslots; i++) {
		l->slots[i].images = malloc((size_t)l->batch * (size_t)l->per * sizeof(float));
		l->slots[i].labels = malloc((size_t)l->batch * sizeof(float));
		ok = l->slots[i].images && l->slots[i].labels;
	}
	if (!ok) {
		clcnn_loader_free(l);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for %d batches of %d samples",
				     s->path, l->nslots, opt->batch);
	}
	for (; l->nstarted < l->nthreads; l->nstarted++)
		if (pthread_create(&l->threads[l->nstarted], NULL, worker, l)) {
			clcnn_loader_free(l);
			return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: cannot start loader thread %d",
					     s->path, l->nstarted + 1);
		}
	*out = l;
	return 0;
}

int clcnn_loader_start(struct clcnn_loader *l, const int *order, int count, uint64_t seed, char *err, size_t errlen)
{
	if (!l || count < 0)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "clcnn_loader_start: NULL loader or count < 0");
	int n = clcnn_source_info(l->src)->n;
	for (int k = 0; order && k < count; k++)
		if (order[k] < 0 || order[k] >= n)
			return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID,
					     "%s: position %d of the order is sample %d, out of range (%d samples)",
					     l->src->path, k, order[k], n);
	if (!order && count > n)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: a pass of %d samples over %d", l->src->path,
				     count, n);
	int *copy = malloc((size_t)(count ? count : 1) * sizeof *copy);
	if (!copy)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of memory for an order of %d",
				     l->src->path, count);
	for (int k = 0; k < count; k++)
		copy[k] = order ? order[k] : k;
	pthread_mutex_lock(&l->mu);
	/* abandon the pass in progress: workers stop at their next sample; wait until none holds a slot */
	atomic_fetch_add(&l->gen, 1);
	l->nbatches = 0;
	while (l->busy > 0)
		pthread_cond_wait(&l->ready, &l->mu);
	free(l->order);
	l->order = copy;
	l->count = count;
	l->nbatches = (count + l->batch - 1) / l->batch;
	l->seed = seed;
	l->next_claim = l->next_out = l->released = 0;
	l->err_batch = l->nbatches;
	l->err_rc = 0;
	l->err[0] = 0;
	for (int i = 0; i < l->nslots; i++)
		l->slots[i].ready = 0;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int clcnn_loader_next(struct clcnn_loader *l, const float **images, const float **labels, int *count, double *waited,
		      char *err, size_t errlen)
{
	*images = *labels = NULL;
	*count = 0;
	if (waited)
		*waited = 0;
	pthread_mutex_lock(&l->mu);
	/* the batch returned last time is the caller's no longer: free its slot */
	if (l->released < l->next_out) {
		l->slots[l->released % l->nslots].ready = 0;
		l->released = l->next_out;
		pthread_cond_broadcast(&l->work);
	}
	int b = l->next_out, rc = 0;
	if (b < l->nbatches) {
		struct slot *s = &l->slots[b % l->nslots];
		if (!s->ready && b < l->err_batch) {
			double t0 = now_s();
			while (!s->ready && b < l->err_batch)
				pthread_cond_wait(&l->ready, &l->mu);
			if (waited)
				*waited = now_s() - t0;
		}
		if (b >= l->err_batch) {
			rc = clcnn_io_fail(err, errlen, l->err_rc, "%s", l->err);
		} else {
			*images = s->images;
			*labels = s->labels;
			*count = l->count - b * l->batch < l->batch ? l->count - b * l->batch : l->batch;
			l->next_out++;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void clcnn_loader_free(struct clcnn_loader *l)
{
	if (!l)
		return;
	if (l->nstarted) {
		pthread_mutex_lock(&l->mu);
		l->quit = 1;
		atomic_fetch_add(&l->gen, 1);
		pthread_cond_broadcast(&l->work);
		pthread_mutex_unlock(&l->mu);
		for (int i = 0; i < l->nstarted; i++)
			pthread_join(l->threads[i], NULL);
	}
	for (int i = 0; l->slots && i < l->nslots; i++) {
		free(l->slots[i].images);
		free(l->slots[i].labels);
	}
	if (l->ready_ok)
		pthread_cond_destroy(&l->ready);
	if (l->work_ok)
		pthread_cond_destroy(&l->work);
	if (l->mutex_ok)
		pthread_mutex_destroy(&l->mu);
	free(l->slots);
	free(l->threads);
	free(l->order);
	free(l);
}
