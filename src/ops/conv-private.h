/*
 * conv2d internals shared by conv.c (arguments, validation, reference, dispatch, the algorithm table)
 * and the algorithms' files (conv-algo.c, conv-implicit.c, conv-lanes.c). The algorithms are the
 * list of conv-algos.h; prepare() picks one per direction so that autotuning can choose per (device,
 * shape, direction) without touching the op.
 */
#ifndef CLCNN_OPS_CONV_PRIVATE_H
#define CLCNN_OPS_CONV_PRIVATE_H

#include "ops/conv-algos.h"
#include "ops/op.h"

/* 0 is auto (the tuner's choice); the algorithms follow in list order. */
enum conv_algo_id {
	CONV_ALGO_AUTO,
#define X(name, NAME, doc) CONV_ALGO_##NAME,
	CLCNN_CONV_ALGO_LIST(X)
#undef X
	CONV_ALGO_END
};
#define CONV_ALGO_COUNT (CONV_ALGO_END - 1)

/* ", direct, im2col, ..." (every name, each after ", "), for messages and the algo key's doc. */
#define CONV_ALGO_NAME_ITEM(name, NAME, doc) ", " #name
#define CONV_ALGO_NAMES CLCNN_CONV_ALGO_LIST(CONV_ALGO_NAME_ITEM)

/* Everything the kernels need to know about one convolution, resolved from args and input shape. */
struct conv_geom {
	int n, cin, h, w; /* input */
	int cout, ho, wo; /* output */
	int kh, kw, sh, sw, dh, dw;
	int pt, pb, pl, pr;   /* 'same' resolved */
	int groups, cgi, cgo; /* channels per group, in and out */
	int flip, bias;
	int chunk; /* images per chunk forced by im2col_batch (0: each algorithm sizes its own) */
};

struct conv_args {
	int in_channels; /* 0: inferred from the input */
	int out_channels;
	int kernel_size[2];
	int stride[2];
	struct clcnn_pad padding;
	int dilation[2];
	int groups;
	int bias;
	int padding_mode;
	int flip;
	int algo;         /* enum conv_algo_id */
	int im2col_batch; /* images per chunk (im2col, implicit, lanes); 0 = sized by the algorithm */
};

enum conv_dir {
	CONV_FWD,
	CONV_BWD_DATA,
	CONV_BWD_WEIGHTS
};

#define CONV_ALGO_MAX_PROGRAMS 3

struct conv_algo {
	const char *name;
	/* the kernel families (cl/<family>.cl) it runs besides common and conv: in the tuning key */
	const char *programs[CONV_ALGO_MAX_PROGRAMS];
	/* whether it can run this geometry on this context (ctx->lim: GPU-only algorithms, tiles that fit);
	 * ctx NULL (checking a netfile's algo= key): whether the geometry suits it on some device */
	int (*applicable)(const struct clcnn_context *ctx, const struct conv_geom *g);
	int (*forward)(struct clcnn_op *op, const struct clcnn_dev_io *io);
	int (*backward_data)(struct clcnn_op *op, const struct clcnn_dev_io *io);
	/* grad weight only; the bias gradient is shared by every algorithm */
	int (*backward_weights)(struct clcnn_op *op, const struct clcnn_dev_io *io);
	/* optional: both gradients in one pass, used when this algorithm serves both (shares work) */
	int (*backward)(struct clcnn_op *op, const struct clcnn_dev_io *io);
	size_t (*scratch_bytes)(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir dir);
};

struct conv_priv {
	struct conv_geom g;
	const struct conv_algo *algo[3]; /* by enum conv_dir */
	int pending[3];                  /* to be tuned at the first call in that direction */
	char opts[256];                  /* -D specialisation of cl/conv.cl: the geometry but the batch */
	int nb;                          /* images per im2col chunk */
	char algo_name[96];              /* "fwd/bwd-data/bwd-weights", as the op's algo callback returns it */
};

/*
 * prefix_backward_data, prefix_backward_weights and prefix_backward (both in one pass) for an
 * algorithm whose fn(op, io, want_data, want_weights) computes either gradient or both.
 */
#define CONV_BACKWARD_FROM(prefix, fn) \
	static int prefix##_backward_data(struct clcnn_op *op, const struct clcnn_dev_io *io) \
	{ \
		return fn(op, io, 1, 0); \
	} \
	static int prefix##_backward_weights(struct clcnn_op *op, const struct clcnn_dev_io *io) \
	{ \
		return fn(op, io, 0, 1); \
	} \
	static int prefix##_backward(struct clcnn_op *op, const struct clcnn_dev_io *io) \
	{ \
		return fn(op, io, 1, 1); \
	}

/* Defines clcnn_conv_algo_<name> (in the algorithm's own file) with its name from the list. */
#define CONV_ALGO_DEFINE(algo_name, ...) \
	const struct conv_algo clcnn_conv_algo_##algo_name = {.name = #algo_name, __VA_ARGS__}
#define X(name, NAME, doc) extern const struct conv_algo clcnn_conv_algo_##name;
CLCNN_CONV_ALGO_LIST(X)
#undef X

/* The list's algorithms in its order, NULL-terminated (conv.c): direct first, it applies everywhere. */
extern const struct conv_algo *const clcnn_conv_algos[];
/* The list's doc lines, in the same order. */
extern const char *const clcnn_conv_algo_docs[];
const struct conv_algo *clcnn_conv_algo_find(const char *name);
const struct conv_algo *clcnn_conv_algo_by_id(enum conv_algo_id id);

/*
 * Images per chunk for an algorithm that splits the batch (conv.c): the one chunk policy. bytes: the
 * workspace of one image in a chunk; multiple: chunks of whole groups of images (lanes); pixels: on
 * CPUs, stop at enough output pixels for the chunk's GEMM (0: fill the budget).
 */
int clcnn_conv_chunk(const struct clcnn_context *ctx, const struct conv_geom *g, size_t bytes, int multiple,
		     int pixels);

/*
 * Autotuning (conv-tune.c): the recorded choice for a direction, if the cache has one (0, else -1);
 * timing every candidate on the real buffers of the first call and recording the winner (sets
 * p->algo[d], clears p->pending[d]); and the scratch any candidate needs.
 */
int clcnn_conv_tune_lookup(struct clcnn_op *op, enum conv_dir d, const struct conv_algo **out);
int clcnn_conv_tune(struct clcnn_op *op, const struct clcnn_dev_io *io, enum conv_dir d);
/* Both gradients wanted: tune the pair of backward algorithms together (a shared pass counts). */
int clcnn_conv_tune_backward(struct clcnn_op *op, const struct clcnn_dev_io *io);
size_t clcnn_conv_tune_scratch(const struct clcnn_context *ctx, const struct conv_geom *g, int nb, enum conv_dir d);

/* Bias gradient (any algorithm): sums grad_out over batch and space in a fixed order. */
int clcnn_conv_bias_grad(struct clcnn_op *op, const struct clcnn_dev_io *io);
size_t clcnn_conv_bias_scratch(const struct conv_geom *g);

#endif
