/*
 * conv2d autotuning: per (device, geometry, direction) the applicable algorithms are timed once, on the
 * op's real buffers at its first call in that direction, and the fastest is remembered in the cache
 * directory ("tune-<key>.bin", written atomically by src/device/cache.c, so concurrent processes at worst
 * tune twice). The key covers the device, driver and platform, the whole geometry including the batch,
 * the direction, the kernel sources the algorithms run and a format version, so a changed kernel or
 * driver tunes again. A warm start only reads the record.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/conv-private.h"

/* Bump when the record's meaning changes. */
#define TUNE_VERSION 1u

struct tune_record {
	uint32_t version;
	uint32_t algo; /* enum conv_algo_id */
	double seconds[8]; /* measured time per candidate, in candidate order (information only) */
};

/* Algorithms worth timing: direct only where nothing else applies (it is a correctness baseline). */
static int candidates(const struct conv_geom *g, const struct conv_algo **out)
{
	int n = 0;
	for (int i = 0; clcnn_conv_algos[i]; i++) {
		const struct conv_algo *a = clcnn_conv_algos[i];
		if (a->id != CONV_ALGO_DIRECT && a->applicable(g))
			out[n++] = a;
	}
	if (!n)
		out[n++] = clcnn_conv_algo_by_id(CONV_ALGO_DIRECT);
	return n;
}

size_t clcnn_conv_tune_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir d)
{
	const struct conv_algo *c[8];
	int n = candidates(g, c);
	size_t most = 0;
	for (int i = 0; i < n; i++) {
		size_t s = c[i]->scratch_bytes(ctx, g, nb, d);
		most = s > most ? s : most;
	}
	return most;
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
	h = clcnn_hash(h, g, sizeof *g); /* plain ints, no padding */
	h = clcnn_hash(h, &p->nb, sizeof p->nb);
	h = clcnn_hash(h, &d, sizeof d);
	static const char *const families[] = {"common", "conv", "convgemm", "gemm"};
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(families); i++) {
		char *src;
		size_t len;
		if (clcnn_source_load(ctx, families[i], &src, &len) == 0) {
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
	if (clcnn_cache_load_blob(op->ctx, "tune", tune_key(op, d), &r, sizeof r) || r.version != TUNE_VERSION)
		return -1;
	const struct conv_algo *a = clcnn_conv_algo_by_id((enum conv_algo_id)r.algo);
	if (!a || !a->applicable(g))
		return -1;
	*out = a;
	return 0;
}

static int run(const struct conv_algo *a, struct clcnn_op *op, const struct clcnn_dev_io *io, enum conv_dir d)
{
	switch (d) {
	case CONV_FWD:
		return a->forward(op, io);
	case CONV_BWD_DATA:
		return a->backward_data(op, io);
	default:
		return a->backward_weights(op, io);
	}
}

/*
 * Time every candidate on io (one untimed call that builds its kernels, then the best of two), keep
 * the fastest. A candidate must beat the incumbent by 3 % to replace it, so that noise on a busy
 * machine does not flip the choice between near-equal algorithms. Results are whatever the last
 * call wrote: the caller runs the winner afterwards.
 */
int clcnn_conv_tune(struct clcnn_op *op, const struct clcnn_dev_io *io, enum conv_dir d)
{
	struct conv_priv *p = op->priv;
	const struct conv_algo *c[8], *best = NULL;
	if (!clcnn_conv_tune_lookup(op, d, &best)) {
		p->algo[d] = best;
		p->pending[d] = 0;
		return 0;
	}
	int n = candidates(&p->g, c);
	struct tune_record r;
	memset(&r, 0, sizeof r);
	r.version = TUNE_VERSION;
	double tbest = 0;
	int rc = clcnn_context_finish(op->ctx);
	for (int i = 0; !rc && i < n; i++) {
		double t = 1e30;
		for (int rep = 0; !rc && rep < 3; rep++) {
			double t0 = clcnn_now();
			rc = run(c[i], op, io, d);
			if (!rc)
				rc = clcnn_context_finish(op->ctx);
			double dt = clcnn_now() - t0;
			if (rep > 0 && dt < t)
				t = dt;
		}
		if (i < (int)CLCNN_ARRAY_LEN(r.seconds))
			r.seconds[i] = t;
		clcnn_log(op->ctx, CLCNN_LOG_DEBUG, "conv2d tuning: %s %.3f ms", c[i]->name, t * 1e3);
		if (!best || t < 0.97 * tbest) {
			best = c[i];
			tbest = t;
		}
	}
	if (rc)
		return rc;
	r.algo = (uint32_t)best->id;
	clcnn_cache_store_blob(op->ctx, "tune", tune_key(op, d), &r, sizeof r);
	clcnn_log(op->ctx, CLCNN_LOG_DEBUG, "conv2d %dx%dx%dx%d -> %d: %s %s (%.3f ms)", p->g.n, p->g.cin, p->g.h,
		  p->g.w, p->g.cout, d == CONV_FWD ? "forward" : d == CONV_BWD_DATA ? "input gradient" : "weight gradient",
		  best->name, tbest * 1e3);
	p->algo[d] = best;
	p->pending[d] = 0;
	return 0;
}
