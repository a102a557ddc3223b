/*
 * Checkpoints and weights in safetensors. Parameters are stored under their state-dict names as
 * F32 (num_batches_tracked and other int64 specs as I64, as PyTorch stores them), optimizer state
 * as "optimizer.<param>.<slot>", and scalars (epoch, step, RNG state, seed, graph hash, optimizer
 * and schedule settings) as "__metadata__" strings.
 *
 * Loading compares the whole file with the graph before touching a single parameter and reports
 * every mismatch in one message: a half-loaded model is worse than a refused one.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "train/train-private.h"

#define FORMAT_NAME "clcnn-checkpoint"

/* Host copies that a writer borrows until clcnn_st_write. */
struct hold {
	void **p;
	int n, cap;
};

static void *hold_alloc(struct hold *h, size_t bytes)
{
	if (h->n == h->cap) {
		int cap = h->cap ? 2 * h->cap : 32;
		void **q = realloc(h->p, (size_t)cap * sizeof *q);
		if (!q)
			return NULL;
		h->p = q;
		h->cap = cap;
	}
	void *m = malloc(bytes ? bytes : 1);
	if (m)
		h->p[h->n++] = m;
	return m;
}

static void hold_free(struct hold *h)
{
	for (int i = 0; i < h->n; i++)
		free(h->p[i]);
	free(h->p);
}

static int add_tensor(struct clcnn_context *ctx, struct clcnn_st_writer *w, struct hold *h, const char *name,
		      const struct clcnn_shape *shape, int int64, cl_mem mem, size_t count)
{
	float *x = hold_alloc(h, count * sizeof *x);
	if (!x)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = clcnn_buffer_read(ctx, mem, 0, count * sizeof *x, x);
	if (rc)
		return rc;
	int64_t dims[CLCNN_ST_MAX_DIMS];
	for (int d = 0; d < shape->ndim; d++)
		dims[d] = shape->d[d];
	const void *data = x;
	if (int64) {
		int64_t *y = hold_alloc(h, count * sizeof *y);
		if (!y)
			return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
		for (size_t i = 0; i < count; i++)
			y[i] = (int64_t)llround((double)x[i]);
		data = y;
	}
	char err[512];
	if (clcnn_st_writer_add(w, name, int64 ? "I64" : "F32", shape->ndim, dims, data, err, sizeof err))
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "%s", err);
	return 0;
}

static int meta(struct clcnn_context *ctx, struct clcnn_st_writer *w, const char *k, const char *v)
{
	char err[512];
	return clcnn_st_writer_meta(w, k, v, err, sizeof err) ? clcnn_fail(ctx, CLCNN_ERR_INVALID, "%s", err) : 0;
}

static int write_common(struct clcnn_graph *g, struct clcnn_st_writer *w, struct hold *h, const char *const *kv)
{
	char buf[64];
	int rc = meta(g->ctx, w, "format", FORMAT_NAME);
	snprintf(buf, sizeof buf, "%016" PRIx64, clcnn_graph_hash(g));
	if (!rc)
		rc = meta(g->ctx, w, "graph_hash", buf);
	for (int i = 0; kv && kv[i] && kv[i + 1] && !rc; i += 2)
		rc = meta(g->ctx, w, kv[i], kv[i + 1]);
	for (int i = 0; i < g->nparams && !rc; i++) {
		const struct graph_param *p = &g->params[i];
		rc = add_tensor(g->ctx, w, h, p->name, &p->spec.shape, p->spec.int64, p->mem, p->count);
	}
	return rc;
}

static int finish(struct clcnn_context *ctx, struct clcnn_st_writer *w, struct hold *h, const char *path, int rc)
{
	char err[1024];
	if (!rc && clcnn_st_write(w, path, err, sizeof err))
		rc = clcnn_fail(ctx, CLCNN_ERR_IO, "%s", err);
	clcnn_st_writer_free(w);
	hold_free(h);
	return rc;
}

int clcnn_graph_save_weights(struct clcnn_graph *g, const char *path, const char *const *meta_kv)
{
	if (!g->params_created)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "save weights: build the graph first");
	struct clcnn_st_writer *w;
	struct hold h = {0};
	if (clcnn_st_writer_new(&w))
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	return finish(g->ctx, w, &h, path, write_common(g, w, &h, meta_kv));
}

int clcnn_trainer_save(struct clcnn_trainer *t, const char *path, int epoch, const char *const *meta_kv)
{
	struct clcnn_graph *g = t->g;
	struct clcnn_st_writer *w;
	struct hold h = {0};
	if (clcnn_st_writer_new(&w))
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = write_common(g, w, &h, meta_kv);
	char buf[512], sched[512];
	for (int s = 0; s < t->nslots && !rc; s++)
		for (int i = 0; i < g->nparams && !rc; i++) {
			const struct graph_param *p = &g->params[i];
			if (!t->slot[s][i])
				continue;
			snprintf(buf, sizeof buf, "optimizer.%s.%s", p->name, t->slot_name[s]);
			rc = add_tensor(g->ctx, w, &h, buf, &p->spec.shape, 0, t->slot[s][i], p->count);
		}
	snprintf(buf, sizeof buf, "%d", epoch);
	if (!rc)
		rc = meta(g->ctx, w, "epoch", buf);
	snprintf(buf, sizeof buf, "%ld", t->steps);
	if (!rc)
		rc = meta(g->ctx, w, "step", buf);
	snprintf(buf, sizeof buf, "%" PRIu64, t->rng);
	if (!rc)
		rc = meta(g->ctx, w, "rng", buf);
	snprintf(buf, sizeof buf, "%" PRIu64, t->seed);
	if (!rc)
		rc = meta(g->ctx, w, "seed", buf);
	trainer_describe(t, buf, sizeof buf, sched, sizeof sched);
	if (!rc)
		rc = meta(g->ctx, w, "optimizer", buf);
	if (!rc)
		rc = meta(g->ctx, w, "schedule", sched);
	return finish(g->ctx, w, &h, path, rc);
}

/* Accumulates mismatch lines. */
struct report {
	char *buf;
	size_t len, cap;
	int n;
};

static void problem(struct report *r, const char *fmt, const char *a, const char *b, const char *c)
{
	r->n++;
	clcnn_strcatf(&r->buf, &r->len, &r->cap, "\n  ");
	clcnn_strcatf(&r->buf, &r->len, &r->cap, fmt, a, b, c);
}

static const char *st_shape(const struct clcnn_st_entry *e, char *buf, size_t n)
{
	if (e->ndim == 0)
		return snprintf(buf, n, "scalar"), buf;
	size_t len = 0;
	for (int d = 0; d < e->ndim && len < n; d++)
		len += (size_t)snprintf(buf + len, n - len, "%s%lld", d ? "x" : "", (long long)e->shape[d]);
	return buf;
}

static void check_entry(struct report *r, const struct clcnn_st_file *f, const char *name,
			const struct clcnn_shape *shape, int int64)
{
	const struct clcnn_st_entry *e = clcnn_st_find(f, name);
	char a[64], b[64];
	if (!e) {
		problem(r, "missing '%s'%s%s", name, "", "");
		return;
	}
	int same = e->ndim == shape->ndim;
	for (int d = 0; same && d < shape->ndim; d++)
		same = e->shape[d] == shape->d[d];
	if (!same)
		problem(r, "'%s': shape %s in the file, %s in the graph", name, st_shape(e, a, sizeof a),
			clcnn_shape_str(shape, b, sizeof b));
	if (strcmp(e->dtype, int64 ? "I64" : "F32"))
		problem(r, "'%s': dtype %s in the file, %s expected", name, e->dtype, int64 ? "I64" : "F32");
	/* a NaN or Inf would silently poison every later step: refuse it here, naming where it is */
	size_t at;
	float v;
	if (clcnn_st_find_nonfinite(e, &at, &v)) {
		char idx[32], val[32];
		snprintf(idx, sizeof idx, "%zu", at);
		snprintf(val, sizeof val, "%g", (double)v);
		problem(r, "'%s': element %s is %s (weights must be finite)", name, idx, val);
	}
}

/* A metadata value that must be a whole decimal number in 0..max (absent: -1, nothing reported). */
static int meta_uint(const struct clcnn_st_file *f, const char *key, unsigned long long max, unsigned long long *out,
		     struct report *r)
{
	const char *v = clcnn_st_meta(f, key);
	if (!v)
		return -1;
	char *end = NULL;
	errno = 0;
	unsigned long long u = isdigit((unsigned char)v[0]) ? strtoull(v, &end, 10) : 0;
	if (!end || *end || errno || u > max) {
		char range[32];
		snprintf(range, sizeof range, "0..%llu", max);
		problem(r, "metadata '%s' is \"%s\", not a whole number in %s", key, v, range);
		return -1;
	}
	*out = u;
	return 0;
}

static int known_name(const struct clcnn_graph *g, const struct clcnn_trainer *t, const char *name)
{
	if (clcnn_graph_param_find(g, name) >= 0)
		return 1;
	if (strncmp(name, "optimizer.", 10))
		return 0;
	if (!t)
		return 1; /* weights only: optimizer state is ignored */
	for (int s = 0; s < t->nslots; s++)
		for (int i = 0; i < g->nparams; i++) {
			char buf[512];
			snprintf(buf, sizeof buf, "optimizer.%s.%s", g->params[i].name, t->slot_name[s]);
			if (t->slot[s][i] && !strcmp(buf, name))
				return 1;
		}
	return 0;
}

static int upload(struct clcnn_context *ctx, const struct clcnn_st_entry *e, cl_mem m)
{
	float *x = malloc((e->count ? e->count : 1) * sizeof *x);
	char err[512];
	if (!x)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory (%zu floats)", e->count);
	int rc = clcnn_st_to_f32(e, x, err, sizeof err) ? clcnn_fail(ctx, CLCNN_ERR_FORMAT, "%s", err)
							: clcnn_buffer_write(ctx, m, 0, e->count * sizeof *x, x);
	free(x);
	return rc;
}

/* The value of " total_steps=N" in a schedule description, copied without it into rest; -1 when absent. */
static long total_steps_of(const char *desc, char *rest, size_t n)
{
	snprintf(rest, n, "%s", desc);
	char *p = strstr(rest, " total_steps=");
	if (!p)
		return -1;
	char *end;
	long v = strtol(p + 13, &end, 10);
	memmove(p, end, strlen(end) + 1);
	return v;
}

/*
 * The run resumes under its own schedule settings, which may differ from the checkpoint's: most
 * often --epochs grew, so a onecycle or cosine plan spans more steps. That re-plans the schedule as
 * PyTorch does when OneCycleLR is created again with the new total_steps (the usual way to extend
 * such a run); the step count carries on, so the learning rate jumps to where the new plan is at
 * that step. Done silently this surprised users (a finished run's lr of 4e-6 became 0.07), so say it.
 */
static void note_schedule_change(const struct clcnn_trainer *t, const char *path, const char *saved, long steps)
{
	char opt[512], now[512], a[512], b[512];
	trainer_describe(t, opt, sizeof opt, now, sizeof now);
	if (!saved || !strcmp(saved, now))
		return;
	long old_total = total_steps_of(saved, a, sizeof a), new_total = total_steps_of(now, b, sizeof b);
	double lr = clcnn_schedule_lr(&t->sched, t->opt.lr, steps);
	if (old_total > 0 && new_total > 0 && !strcmp(a, b)) {
		struct clcnn_schedule_config old = t->sched;
		old.total_steps = (int)old_total;
		clcnn_log(t->g->ctx, CLCNN_LOG_WARN,
			  "%s: re-planning the %.*s schedule over %ld steps instead of the checkpoint's %ld (as a new "
			  "PyTorch scheduler with the new total_steps would); step %ld runs at lr %.3g where the old "
			  "plan %s %.3g",
			  path, (int)strcspn(a, " "), a, new_total, old_total, steps + 1, lr,
			  steps >= old_total ? "ended at" : "had", clcnn_schedule_lr(&old, t->opt.lr, steps));
	} else {
		clcnn_log(t->g->ctx, CLCNN_LOG_WARN,
			  "%s: the schedule changes from the checkpoint's '%s' to '%s'; step %ld runs at lr %.3g", path,
			  saved, now, steps + 1, lr);
	}
}

/* Check everything, then load; t == NULL loads weights only. */
static int load(struct clcnn_graph *g, struct clcnn_trainer *t, const char *path, int *epoch)
{
	struct clcnn_context *ctx = g->ctx;
	if (!g->params_created)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "%s: build the graph before loading weights", path);
	struct clcnn_st_file *f;
	char err[1024];
	int rc = clcnn_st_read(path, &f, err, sizeof err);
	if (rc)
		return clcnn_fail(ctx, rc, "%s", err);
	struct report r = {0};
	unsigned long long steps = 0, rng_state = 0, seed = 0, saved_epoch = 0;
	int have_steps = 0;
	for (int i = 0; i < g->nparams; i++)
		check_entry(&r, f, g->params[i].name, &g->params[i].spec.shape, g->params[i].spec.int64);
	for (int s = 0; t && s < t->nslots; s++)
		for (int i = 0; i < g->nparams; i++) {
			char buf[512];
			snprintf(buf, sizeof buf, "optimizer.%s.%s", g->params[i].name, t->slot_name[s]);
			if (t->slot[s][i])
				check_entry(&r, f, buf, &g->params[i].spec.shape, 0);
		}
	for (int i = 0; i < clcnn_st_count(f); i++) {
		const char *name = clcnn_st_get(f, i)->name;
		if (!known_name(g, t, name))
			problem(&r, "unexpected '%s' (not in the graph%s)", name, t ? " or this optimizer's state" : "",
				"");
	}
	char hash[32];
	snprintf(hash, sizeof hash, "%016" PRIx64, clcnn_graph_hash(g));
	const char *fh = clcnn_st_meta(f, "graph_hash");
	if (t) {
		if (!fh || strcmp(fh, hash))
			problem(&r, "graph hash %s in the file, %s for this graph (the netfile changed)",
				fh ? fh : "(none)", hash, "");
		const char *st = clcnn_st_meta(f, "step");
		const char *rng = clcnn_st_meta(f, "rng");
		if (!st || !rng)
			problem(&r, "metadata 'step' or 'rng' missing: not a checkpoint of clcnn_trainer_save%s%s%s",
				"", "", "");
		have_steps = !meta_uint(f, "step", LONG_MAX, &steps, &r);
		meta_uint(f, "rng", UINT64_MAX, &rng_state, &r);
		meta_uint(f, "seed", UINT64_MAX, &seed, &r);
	}
	if (epoch)
		meta_uint(f, "epoch", INT_MAX, &saved_epoch, &r);
	if (r.n) {
		rc = clcnn_fail(ctx, CLCNN_ERR_FORMAT, "%s does not match the graph (%d problem%s):%s", path, r.n,
				r.n == 1 ? "" : "s", r.buf ? r.buf : "");
		free(r.buf);
		clcnn_st_free(f);
		return rc;
	}
	for (int i = 0; i < g->nparams && !rc; i++)
		rc = upload(ctx, clcnn_st_find(f, g->params[i].name), g->params[i].mem);
	for (int s = 0; t && s < t->nslots && !rc; s++)
		for (int i = 0; i < g->nparams && !rc; i++) {
			char buf[512];
			snprintf(buf, sizeof buf, "optimizer.%s.%s", g->params[i].name, t->slot_name[s]);
			if (t->slot[s][i])
				rc = upload(ctx, clcnn_st_find(f, buf), t->slot[s][i]);
		}
	if (!rc && t && have_steps) {
		t->steps = (long)steps;
		t->rng = rng_state;
		if (clcnn_st_meta(f, "seed"))
			t->seed = seed;
		t->lr = clcnn_schedule_lr(&t->sched, t->opt.lr, t->steps > 0 ? t->steps - 1 : 0);
		note_schedule_change(t, path, clcnn_st_meta(f, "schedule"), t->steps);
	}
	if (!rc && epoch)
		*epoch = (int)saved_epoch;
	clcnn_st_free(f);
	return rc;
}

int clcnn_trainer_load(struct clcnn_trainer *t, const char *path, int *epoch)
{
	return load(t->g, t, path, epoch);
}

int clcnn_graph_load_weights(struct clcnn_graph *g, const char *path)
{
	return load(g, NULL, path, NULL);
}
