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
