/*
 * conv2d autotuning: per (device, geometry, direction) the applicable algorithms are timed once, on the
 * op's real buffers at its first call in that direction, and the fastest is remembered in the cache
 * directory ("tune-<key>.bin", written atomically by src/device/cache.c, so concurrent processes at worst
 * tune twice). The key covers the device, driver and platform, the whole geometry including the batch,
 * the direction, the kernel sources the algorithms run, the set of algorithms and a version, so a
 * changed kernel, driver or candidate list tunes again. A warm start only reads the record.
 *
 * Timing compiles every candidate's kernels for the geometry, which costs far more than the one
 * inference it serves (a cold `clcnn predict` of models/fmnist.net sat 31 s, mostly here). So by
 * default (CLCNN_TUNE=train) only training-mode calls time: an eval-mode forward without a record
 * uses the fixed preference of untimed() and records nothing, and a later training step still
 * times. CLCNN_TUNE=all times eval-mode forwards too; CLCNN_TUNE=off never times.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/conv-private.h"

/*
 * Bump when the record's meaning or an algorithm's host code changes (kernel sources and the list of
 * algorithms, in order, are in the key already). 3: the record names its algorithm (ids follow the
 * list's order, which may change), and implicit's chunks follow the one chunk policy.
 */
#define TUNE_VERSION 3u

/* Most candidates of one convolution (arrays below are sized by it). */
#define MAX_CAND 16
_Static_assert(CONV_ALGO_COUNT <= MAX_CAND, "MAX_CAND must cover every algorithm of conv-algos.h");

struct tune_record {
	uint32_t version;
	char algo[28];            /* its name, NUL-terminated */
	double seconds[MAX_CAND]; /* measured time per candidate, in candidate order (information only) */
};
#define X(name, NAME, doc) \
	_Static_assert(sizeof #name <= sizeof(((struct tune_record *)0)->algo), "algorithm name too long: " #name);
CLCNN_CONV_ALGO_LIST(X)
#undef X

/* Algorithms worth timing: direct only where nothing else applies (it is a correctness baseline). */
static int candidates(const struct clcnn_context *ctx, const struct conv_geom *g, const struct conv_algo **out)
{
	int n = 0;
	for (int i = 0; clcnn_conv_algos[i] && n < MAX_CAND; i++) {
		const struct conv_algo *a = clcnn_conv_algos[i];
		if (a != &clcnn_conv_algo_direct && a->applicable(ctx, g))
			out[n++] = a;
	}
	if (!n)
		out[n++] = &clcnn_conv_algo_direct;
	return n;
}

size_t clcnn_conv_tune_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir d)
{
	const struct conv_algo *c[MAX_CAND];
	int n = candidates(ctx, g, c);
	size_t most = 0;
	for (int i = 0; i < n; i++) {
		size_t s = c[i]->scratch_bytes(ctx, g, nb, d);
		most = s > most ? s : most;
	}
	return most;
}

/*
 * The kernel families (cl/<family>.cl) that the algorithms run, each once in list order: common
 * (every program's prelude) and conv (the bias gradient every algorithm shares), then each
 * algorithm's own.
 */
#define MAX_FAMILIES (2 + CONV_ALGO_COUNT * CONV_ALGO_MAX_PROGRAMS)
static int families(const char **out)
{
	int n = 0;
	out[n++] = "common";
	out[n++] = "conv";
	for (int i = 0; clcnn_conv_algos[i]; i++)
		for (int j = 0; j < CONV_ALGO_MAX_PROGRAMS && clcnn_conv_algos[i]->programs[j]; j++) {
			const char *f = clcnn_conv_algos[i]->programs[j];
			int k = 0;
			while (k < n && strcmp(out[k], f))
				k++;
			if (k == n)
				out[n++] = f;
		}
	return n;
}

/*
 * The choice without timing: on a GPU (profile), the GPU implicit GEMM, which applies to every
 * geometry it can index; on CPUs the first that applies of shallow (a first layer), implicit (stride
 * 1), im2col (anything). They won the forward rows of BENCHMARKS.md's CPU table where they apply
 * (lanes wins some 14x14 layers by its batch-in-lanes layout, which a batch of one cannot fill).
 */
static const struct conv_algo *untimed(const struct clcnn_context *ctx, const struct conv_geom *g)
{
	static const struct conv_algo *const pref[] = {&clcnn_conv_algo_shallow, &clcnn_conv_algo_implicit,
						       &clcnn_conv_algo_im2col};
	if (clcnn_is_gpu(ctx) && clcnn_conv_algo_igemm_gpu.applicable(ctx, g))
		return &clcnn_conv_algo_igemm_gpu;
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(pref); i++)
		if (pref[i]->applicable(ctx, g))
			return pref[i];
	return &clcnn_conv_algo_direct;
}

static const char *dir_name(int d)
{
	return d == CONV_FWD           ? "forward"
	       : d == CONV_BWD_DATA    ? "input gradient"
	       : d == CONV_BWD_WEIGHTS ? "weight gradient"
				       : "gradients";
}

/* Say that a convolution is about to be timed (clcnn_progress). */
static void note_tuning(struct clcnn_op *op, int d)
{
	const struct conv_priv *p = op->priv;
	char what[96];
	snprintf(what, sizeof what, "conv2d %dx%dx%dx%d -> %d %s", p->g.n, p->g.cin, p->g.h, p->g.w, p->g.cout,
		 dir_name(d));
	clcnn_progress_note(op->ctx, CLCNN_PROGRESS_TUNE, what);
}

static uint64_t tune_key(const struct clcnn_op *op, enum conv_dir d)
{
	const struct conv_priv *p = op->priv;
	const struct conv_geom *g = &p->g;
	struct clcnn_context *ctx = op->ctx;
	uint64_t h = CLCNN_HASH_INIT;
	const unsigned v = TUNE_VERSION;
	h = clcnn_hash(h, &v, sizeof v);
	h = clcnn_hash_str(h, ctx->info.name);
	h = clcnn_hash_str(h, ctx->info.driver_version);
	h = clcnn_hash_str(h, ctx->info.platform_version);
	h = clcnn_hash_str(h, ctx->lim.profile); /* CLCNN_DEVICE_PROFILE changes the candidates */
	h = clcnn_hash(h, g, sizeof *g); /* plain ints, no padding */
	h = clcnn_hash(h, &p->nb, sizeof p->nb);
	h = clcnn_hash(h, &d, sizeof d);
	for (int i = 0; clcnn_conv_algos[i]; i++)
		h = clcnn_hash_str(h, clcnn_conv_algos[i]->name);
	const char *fam[MAX_FAMILIES];
	int nf = families(fam);
	for (int i = 0; i < nf; i++) {
		char *src;
		size_t len;
		if (clcnn_source_load(ctx, fam[i], &src, &len) == 0) {
			h = clcnn_hash(h, src, len);
			free(src);
		}
	}
	return h;
}

int clcnn_conv_tune_lookup(struct clcnn_op *op, enum conv_dir d, const struct conv_algo **out)
{
	const struct conv_geom *g = &((const struct conv_priv *)op->priv)->g;
	struct tune_record r;
	if (clcnn_cache_load_blob(op->ctx, "tune", tune_key(op, d), &r, sizeof r) || r.version != TUNE_VERSION ||
	    !memchr(r.algo, 0, sizeof r.algo))
		return -1;
	const struct conv_algo *a = clcnn_conv_algo_find(r.algo);
	if (!a || !a->applicable(op->ctx, g))
		return -1;
	*out = a;
	return 0;
}

/* d = 3: both gradients (in one pass where the algorithm has one) */
static int run(const struct conv_algo *a, struct clcnn_op *op, const struct clcnn_dev_io *io, int d)
{
	int rc;
	switch (d) {
	case CONV_FWD: return a->forward(op, io);
	case CONV_BWD_DATA: return a->backward_data(op, io);
	case CONV_BWD_WEIGHTS: return a->backward_weights(op, io);
	default:
		if (a->backward)
			return a->backward(op, io);
		rc = a->backward_data(op, io);
		return rc ? rc : a->backward_weights(op, io);
	}
}

/* Seconds of one call (queue drained before and after); *rc on failure. */
static double timed(const struct conv_algo *a, struct clcnn_op *op, const struct clcnn_dev_io *io, int d, int *rc)
{
	double t0 = clcnn_now();
	*rc = run(a, op, io, d);
	if (!*rc)
		*rc = clcnn_context_finish(op->ctx);
	return clcnn_now() - t0;
}

/*
 * t[i * nd + j] = best time of candidate i in direction dirs[j]: one untimed round that builds the
 * kernels, then ROUNDS timed rounds, each running every candidate once, so that a burst of load on
 * a shared machine hits all of them instead of one; then EXTRA_ROUNDS more for the contenders alone
 * (within CLOSE of the best in their direction), so that a close choice does not rest on two runs
 * (this VM's speed swings 2-3x for minutes: one slow phase over both rounds of a candidate made the
 * tuner keep lanes at 35 ms for AlexNet's 5x5 forward where winograd took 20).
 */
#define ROUNDS 2
#define EXTRA_ROUNDS 2
#define CLOSE 1.25
static int time_rounds(const struct conv_algo *const *c, int n, const int *dirs, int nd, struct clcnn_op *op,
		       const struct clcnn_dev_io *io, double *t)
{
	int rc = clcnn_context_finish(op->ctx);
	for (int k = 0; k < n * nd; k++)
		t[k] = 1e30;
	for (int r = 0; !rc && r <= ROUNDS + EXTRA_ROUNDS; r++) {
		double best[3] = {1e30, 1e30, 1e30};
		for (int k = 0; k < n * nd; k++)
			best[k % nd] = t[k] < best[k % nd] ? t[k] : best[k % nd];
		for (int i = 0; !rc && i < n; i++)
			for (int j = 0; !rc && j < nd; j++) {
				if (r > ROUNDS && t[i * nd + j] > CLOSE * best[j])
					continue;
				double dt = timed(c[i], op, io, dirs[j], &rc);
				if (r > 0 && dt < t[i * nd + j])
					t[i * nd + j] = dt;
			}
	}
	return rc;
}

static void record(struct clcnn_op *op, enum conv_dir d, const struct conv_algo *a, const double *seconds, int n)
{
	struct conv_priv *p = op->priv;
	struct tune_record r;
	memset(&r, 0, sizeof r);
	r.version = TUNE_VERSION;
	snprintf(r.algo, sizeof r.algo, "%s", a->name);
	for (int i = 0; i < n && i < (int)CLCNN_ARRAY_LEN(r.seconds); i++)
		r.seconds[i] = seconds[i];
	clcnn_cache_store_blob(op->ctx, "tune", tune_key(op, d), &r, sizeof r);
	clcnn_log(op->ctx, CLCNN_LOG_DEBUG, "conv2d %dx%dx%dx%d -> %d: %s %s", p->g.n, p->g.cin, p->g.h, p->g.w,
		  p->g.cout, dir_name(d), a->name);
	p->algo[d] = a;
	p->pending[d] = 0;
}

/*
 * Both gradients wanted and at least one direction untuned: the pair (input-gradient algorithm,
 * weight-gradient algorithm) with the least total time, where one algorithm doing both counts its
 * combined pass (im2col shares the output gradient's copies between the two). Records both.
 */
int clcnn_conv_tune_backward(struct clcnn_op *op, const struct clcnn_dev_io *io)
{
	struct conv_priv *p = op->priv;
	if (clcnn_context_tune_mode(op->ctx) == 2) {
		for (int d = CONV_BWD_DATA; d <= CONV_BWD_WEIGHTS; d++)
			if (p->pending[d]) {
				p->algo[d] = untimed(op->ctx, &p->g);
				p->pending[d] = 0;
			}
		return 0;
	}
	const struct conv_algo *c[MAX_CAND], *a = NULL;
	const struct conv_algo *known[2] = {p->pending[CONV_BWD_DATA] ? NULL : p->algo[CONV_BWD_DATA],
					    p->pending[CONV_BWD_WEIGHTS] ? NULL : p->algo[CONV_BWD_WEIGHTS]};
	if (!known[0] && !clcnn_conv_tune_lookup(op, CONV_BWD_DATA, &a))
		known[0] = a;
	if (!known[1] && !clcnn_conv_tune_lookup(op, CONV_BWD_WEIGHTS, &a))
		known[1] = a;
	if (known[0] && known[1]) {
		p->algo[CONV_BWD_DATA] = known[0];
		p->algo[CONV_BWD_WEIGHTS] = known[1];
		p->pending[CONV_BWD_DATA] = p->pending[CONV_BWD_WEIGHTS] = 0;
		return 0;
	}
	int n = candidates(op->ctx, &p->g, c);
	static const int dirs[3] = {CONV_BWD_DATA, CONV_BWD_WEIGHTS, 3};
	double t[MAX_CAND * 3], td[MAX_CAND], tw[MAX_CAND], tb[MAX_CAND];
	note_tuning(op, 3);
	int rc = time_rounds(c, n, dirs, 3, op, io, t);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++) {
		td[i] = t[3 * i];
		tw[i] = t[3 * i + 1];
		tb[i] = c[i]->backward ? t[3 * i + 2] : td[i] + tw[i];
		clcnn_log(op->ctx, CLCNN_LOG_DEBUG,
			  "conv2d tuning: %s input gradient %.3f ms, weight gradient %.3f ms, "
			  "both %.3f ms",
			  c[i]->name, td[i] * 1e3, tw[i] * 1e3, tb[i] * 1e3);
	}
	int bd = -1, bw = -1;
	double best = 1e30;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			if ((known[0] && c[i] != known[0]) || (known[1] && c[j] != known[1]))
				continue;
			double t = i == j ? tb[i] : td[i] + tw[j];
			if (t < best) {
				best = t;
				bd = i;
				bw = j;
			}
		}
	if (bd < 0) /* a recorded choice that is no candidate (direct where others apply): keep it */
		bd = bw = 0;
	if (known[0]) {
		p->algo[CONV_BWD_DATA] = known[0];
		p->pending[CONV_BWD_DATA] = 0;
	} else {
		record(op, CONV_BWD_DATA, c[bd], td, n);
	}
	if (known[1]) {
		p->algo[CONV_BWD_WEIGHTS] = known[1];
		p->pending[CONV_BWD_WEIGHTS] = 0;
	} else {
		record(op, CONV_BWD_WEIGHTS, c[bw], tw, n);
	}
	return 0;
}

/*
 * Time every candidate on io (time_rounds), keep the fastest. A candidate must beat the incumbent by 3 % to replace it, so that noise on a busy
 * machine does not flip the choice between near-equal algorithms. Results are whatever the last
 * call wrote: the caller runs the winner afterwards.
 */
int clcnn_conv_tune(struct clcnn_op *op, const struct clcnn_dev_io *io, enum conv_dir d)
{
	struct conv_priv *p = op->priv;
	const struct conv_algo *c[MAX_CAND], *best = NULL;
	int mode = clcnn_context_tune_mode(op->ctx);
	if (mode == 2 || (mode == 0 && d == CONV_FWD && !io->train)) {
		/* prepare found no record; pending stays set in eval mode so that training still times */
		if (p->algo[d] != untimed(op->ctx, &p->g))
			clcnn_log(op->ctx, CLCNN_LOG_DEBUG, "conv2d %dx%dx%dx%d -> %d: %s %s (untimed, CLCNN_TUNE=%s)",
				  p->g.n, p->g.cin, p->g.h, p->g.w, p->g.cout, dir_name(d), untimed(op->ctx, &p->g)->name,
				  mode == 2 ? "off" : "train");
		p->algo[d] = untimed(op->ctx, &p->g);
		p->pending[d] = mode != 2;
		return 0;
	}
	if (!clcnn_conv_tune_lookup(op, d, &best)) {
		p->algo[d] = best;
		p->pending[d] = 0;
		return 0;
	}
	int n = candidates(op->ctx, &p->g, c), dirs[1] = {(int)d};
	double t[MAX_CAND], tbest = 0;
	note_tuning(op, d);
	int rc = time_rounds(c, n, dirs, 1, op, io, t);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++) {
		clcnn_log(op->ctx, CLCNN_LOG_DEBUG, "conv2d tuning: %s %.3f ms", c[i]->name, t[i] * 1e3);
		if (!best || t[i] < 0.97 * tbest) {
			best = c[i];
			tbest = t[i];
		}
	}
	record(op, d, best, t, n);
	return 0;
}
