/*
 * Shared parts of the loss family (loss.c, loss-class.c, loss-triplet.c): the reduction argument,
 * the deterministic two-pass reduction on the device, and the host-side helpers the references share.
 *
 * Device reduction: the `count` loss terms are cut into `np` contiguous chunks; pass 1 (a kernel of
 * the op) writes one partial sum per chunk into scratch (and, for class losses, the partial sums of
 * the target weights after them); pass 2 (loss_finish in cl/loss.cl) adds the partials in order in
 * one work-item. The order depends on `count` only, so results are the same on every device.
 */
#ifndef CLCNN_OPS_LOSS_H
#define CLCNN_OPS_LOSS_H

#include "ops/op.h"

enum clcnn_loss_reduction {
	CLCNN_LOSS_NONE,
	CLCNN_LOSS_MEAN,
	CLCNN_LOSS_SUM,
};

static const char *const clcnn_loss_reductions[] = {"none", "mean", "sum", NULL};

#define CLCNN_LOSS_REDUCTION_KEY(type) \
	{ \
		"reduction", CLCNN_ARG_ENUM, offsetof(type, reduction), "mean", clcnn_loss_reductions, \
			"none (per element), mean or sum" \
	}

/* Device objects an op keeps between calls (op->priv). */
struct clcnn_loss_priv {
	cl_mem weight; /* class weights or pos_weight uploaded by prepare; NULL when not given */
};

/* How `count` terms are cut into chunks: np partials of `chunk` terms (the last may be shorter). */
void clcnn_loss_split(size_t count, int *np, int *chunk);

/*
 * Output shape (`none_shape` for reduction none, else a 0-dim scalar), scratch for the partials and
 * state: `weighted` losses (nll, cross_entropy) keep the total target weight from forward for the
 * mean backward.
 */
void clcnn_loss_reduce_setup(struct clcnn_op *op, int reduction, struct clcnn_shape none_shape, size_t count,
			     int weighted);

/* Pass 2: out[0] = sum(partials) / divisor, or sum / sum(weights) for a weighted mean. */
int clcnn_loss_finish(struct clcnn_op *op, const struct clcnn_dev_io *io, const char *options, size_t count,
		      int weighted, float divisor);

/* Upload a list of floats (class weights, pos_weight) into op->priv in prepare. */
int clcnn_loss_prepare_weight(struct clcnn_op *op, const struct clcnn_floats *w);
void clcnn_loss_destroy(struct clcnn_op *op);
/* The uploaded weights, or `fallback` (any valid buffer, never read) when there are none. */
cl_mem clcnn_loss_weight(const struct clcnn_op *op, cl_mem fallback);

/* Reference: reduce terms v[0..n) into out[0] (mean divides by n), or copy them for none. */
void clcnn_loss_ref_reduce(const double *v, size_t n, int reduction, double *out);
/* Reference: d out / d term i times grad_out (mean: grad_out / n). */
double clcnn_loss_ref_grad(const struct clcnn_ref_io *io, int reduction, size_t i, size_t n);

/*
 * Test data kept away from kinks: values on a grid of pitch 0.25 with jitter +-0.04; `odd` shifts
 * the grid by 0.125, so a difference of an even and an odd value is >= 0.045 away from every
 * multiple of 0.25 (0, beta, margin when those are multiples of 0.25).
 */
double clcnn_loss_grid_value(uint64_t *rng, int odd, double lo, double hi);

/* FLOPs of reducing `terms` loss terms (docs/cost.md): sum adds each, mean also divides once. */
static inline double clcnn_loss_reduce_flops(int reduction, double terms)
{
	return reduction == CLCNN_LOSS_NONE ? 0 : reduction == CLCNN_LOSS_SUM ? terms : terms + 1;
}

#endif
