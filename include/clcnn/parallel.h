/*
 * Data-parallel training: several replicas of one model — one per OpenCL device in this process,
 * or one per MPI rank — each run forward and backward on their part of the global batch; their
 * gradients are summed through a collective in a fixed member order, and every replica takes the
 * same optimizer step, so the replicas stay identical.
 *
 * The library does not depend on a transport: a collective is a small table of functions. clcnn
 * ships one for threads of one process (clcnn_local_group) and the command-line tool one over MPI.
 *
 * Order and scaling (documented because sum-then-scale and scale-then-sum round differently):
 * member k multiplies its gradients and its loss by its weight w_k (its batch / the global batch,
 * in float), then the collective sums the members' values in member order 0, 1, ..., N-1. A
 * single process that runs the same micro-batches one after the other and adds w_k * g_k in that
 * order gets bitwise the same gradients.
 */
#ifndef CLCNN_PARALLEL_H
#define CLCNN_PARALLEL_H

#include <stddef.h>

#include "clcnn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * How the members of a data-parallel group talk. Every function is collective: all members call it
 * in the same order with the same sizes. Each returns 0, or a clcnn error code after writing a
 * message naming the failed member (rank, host) that error() returns.
 */
struct clcnn_collective {
	int rank, size; /* this member, and the number of members */
	void *user;
	/* In place: data[i] = the sum over members, in member order, of their data[i]; identical bits everywhere. */
	int (*allreduce_sum)(void *user, float *data, size_t n);
	/* bytes from member root to every member (in place). */
	int (*broadcast)(void *user, void *data, size_t bytes, int root);
	/* out[k * n + i] = member k's in[i], for every member (SyncBN statistics, timings). */
	int (*allgather)(void *user, const double *in, size_t n, double *out);
	/* The message of the last failure, or NULL. */
	const char *(*error)(void *user);
	/*
	 * A member that fails outside a collective call (a device error in its forward) calls this, so
	 * that the others stop with `why` instead of waiting for it forever.
	 */
	void (*abort)(void *user, const char *why);
};

/**
 * Make t's steps data-parallel through c (borrowed: must outlive t, or be detached with c = NULL).
 * weight: this member's share of the global batch (its batch / the global batch). From then on
 * clcnn_trainer_step reads the gradients and the loss back, scales them by weight, sums them over
 * the members and writes the sums back before the update: every member's loss is the loss of the
 * global batch, and a non-finite loss fails the step on every member alike.
 */
CLCNN_API int clcnn_trainer_set_collective(struct clcnn_trainer *t, const struct clcnn_collective *c, double weight);

/** Change this member's weight (after re-balancing the batch split). */
CLCNN_API int clcnn_trainer_set_weight(struct clcnn_trainer *t, double weight);

/**
 * Make every member start identical: parameters, buffers (batchnorm running statistics), optimizer
 * state, the step count and the data RNG are broadcast from member 0. Collective.
 */
CLCNN_API int clcnn_trainer_broadcast(struct clcnn_trainer *t);

/**
 * Where the time of the last clcnn_trainer_step went, in seconds of wall time on this member, so
 * that a caller can print the per-step overhead of data parallelism and the scaling efficiency
 * T1 / (N x TN). Without a collective only compute, update and total are set (the rest is 0), and
 * compute ends with the read of the loss (with loss == NULL nothing waits: it is the enqueue time).
 *
 *   compute   forward and backward until the device finished them (sync_bn's statistics exchange
 *             inside forward and backward counts here);
 *   d2h       reading the gradients and the loss to the host;
 *   allreduce inside the collective's allreduce_sum for the gradients;
 *   h2d       writing the sums back to the device;
 *   update    the optimizer step;
 *   total     the whole step.
 *   exposed   the part of d2h + allreduce that did not overlap backward: the time from the end of
 *             backward until the last gradient bucket was summed.
 *
 * With buckets overlapped with backward (clcnn_trainer_set_buckets), d2h and allreduce run while
 * backward still runs: compute + exposed + h2d + update is then about total, and d2h + allreduce
 * may exceed exposed. Without overlap (one bucket) exposed = d2h + allreduce.
 */
struct clcnn_step_timing {
	double compute, d2h, allreduce, h2d, update, total, exposed;
};

/** The timing of t's last step into *out; CLCNN_ERR_INVALID before the first step. */
CLCNN_API int clcnn_trainer_last_timing(const struct clcnn_trainer *t, struct clcnn_step_timing *out);

/**
 * Split the gradient reduction into buckets of about `bytes` (0: one bucket, the default) in the
 * order backward finishes the gradients, and reduce each bucket on a communication thread as soon
 * as backward has produced it, while later nodes' backward still runs (PyTorch DDP's bucketing).
 * Every member must use the same size (the buckets are collective calls in a fixed order). The
 * sums are bitwise those of one bucket: each value is still the sum over members in member order.
 */
CLCNN_API int clcnn_trainer_set_buckets(struct clcnn_trainer *t, size_t bytes);

/**
 * Synchronised batch normalisation. clcnn_graph_set_collective gives the graph the collective of
 * its data-parallel group (borrowed; NULL detaches; clcnn_trainer_set_collective sets it too).
 * clcnn_graph_set_sync_bn(g, 1) makes every batchnorm node of g behave as with sync_bn=true (the
 * netfile key turns it on for one node). In training with a collective of more than one member,
 * such a node merges the per-channel (count, mean, M2) of every member in member order (Chan's
 * parallel algorithm) through allgather, normalises with the global statistics and updates the
 * running statistics (unbiased with the global count) identically on every member; its backward
 * sums the channel sums of dy and dy * xhat over the members (each weighted by its share of the
 * values), so the input gradient is that of the joined batch. This assumes what
 * clcnn_trainer_set_collective documents: each member's loss is the mean over its samples and its
 * weight is its share of the global batch. Eval, and groups of one member: plain batchnorm. Every
 * member must run the same graph with the same setting: the exchanges are collective calls.
 */
CLCNN_API void clcnn_graph_set_collective(struct clcnn_graph *g, const struct clcnn_collective *c);
CLCNN_API void clcnn_graph_set_sync_bn(struct clcnn_graph *g, int on);

/**
 * A group of `size` members that are threads of this process (one replica per device). Member k's
 * collective is clcnn_local_group_member(grp, k); each member's calls must come from its own
 * thread, since a collective call waits for every member. clcnn_local_group_abort wakes every
 * waiting member (and fails every later call) with CLCNN_ERR_INVALID and `why`; it is also the
 * members' abort().
 */
struct clcnn_local_group;
CLCNN_API int clcnn_local_group_new(int size, struct clcnn_local_group **out);
CLCNN_API const struct clcnn_collective *clcnn_local_group_member(struct clcnn_local_group *grp, int k);
CLCNN_API void clcnn_local_group_abort(struct clcnn_local_group *grp, const char *why);
CLCNN_API void clcnn_local_group_free(struct clcnn_local_group *grp);

#ifdef __cplusplus
}
#endif
#endif
