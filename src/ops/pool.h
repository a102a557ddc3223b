/* Shared by the pooling family (pool.c, blurpool.c): window geometry and the max-pool launchers. */
#ifndef CLCNN_OPS_POOL_H
#define CLCNN_OPS_POOL_H

#include "ops/op.h"

/* A resolved 2-D pooling window over NCHW planes (stride/dilation defaults applied). */
struct clcnn_pool_geom {
	int n, c, h, w, oh, ow;
	int kh, kw, sh, sw, ph, pw, dh, dw;
};

/* Reference argmax of window (oh, ow) in one input plane: PyTorch's scan (first maximum wins, NaN
 * propagates); the index is ih * w + iw. */
int clcnn_pool_ref_argmax(const struct clcnn_pool_geom *g, const double *plane, int oh, int ow);
/* Device max pooling: y and argmax (int per output) from x; backward gathers gy into gx. */
int clcnn_pool_dev_max_forward(struct clcnn_context *ctx, const struct clcnn_pool_geom *g, cl_mem x, cl_mem y,
			       cl_mem arg);
int clcnn_pool_dev_max_backward(struct clcnn_context *ctx, const struct clcnn_pool_geom *g, cl_mem gy, cl_mem arg,
				cl_mem gx);
/* Kernel `name` of cl/pool.cl, compiled alone (-DPOOL_KERNEL_<name>) with options. */
int clcnn_pool_kernel(struct clcnn_context *ctx, const char *name, const char *options, cl_kernel *k);
/* Launch k over (x, y, plane) = (w, h, planes) with a 64-item work-group along x (then y). */
int clcnn_pool_run3d(struct clcnn_context *ctx, cl_kernel k, int w, int h, int planes);
/* Input must be 4-D NCHW; the message names the layer. */
int clcnn_pool_check_4d(const struct clcnn_op *op, char *err, size_t errlen);
/* Test data for max pooling: each plane a shuffled ladder of step 0.05 (+-0.004 jitter), so a
 * finite-difference step of 1e-2 never changes an argmax. */
void clcnn_pool_fill_distinct(const struct clcnn_op *op, int input, int param, double *x, size_t n, uint64_t *rng);

#endif
