/* Internal layout of a trainer, shared by the step (trainer.c) and checkpoints (checkpoint.c). */
#ifndef CLCNN_TRAIN_PRIVATE_H
#define CLCNN_TRAIN_PRIVATE_H

#include "clcnn/parallel.h"
#include "clcnn/train.h"
#include "graph/graph-private.h"

#define TRAINER_MAX_SLOTS 2

struct clcnn_trainer {
	struct clcnn_graph *g;
	struct clcnn_context *ctx;
	struct clcnn_optimizer_config opt;
	struct clcnn_schedule_config sched;
	uint64_t seed, rng;
	long steps;
	double lr;  /* of the last step (or of the next one before any step) */
	int nslots; /* optimizer state tensors per trainable parameter */
	const char *slot_name[TRAINER_MAX_SLOTS];
	cl_mem *slot[TRAINER_MAX_SLOTS]; /* per graph parameter; NULL for buffers */
	cl_kernel kernel;
	/* data parallelism (parallel.c): NULL when the trainer works alone */
	const struct clcnn_collective *coll;
	float weight; /* this member's share of the global batch */
	float *arena; /* host copy of every gradient, then the loss: pinned staging (arena_mem) */
	cl_mem arena_mem;
	size_t arena_n;
	struct clcnn_step_timing tm; /* of the last step */
	int timed;                   /* tm is set */
	size_t bucket_bytes;         /* clcnn_trainer_set_buckets; 0: one bucket */
	struct trainer_buckets *bk;  /* buckets.c: the plan and the communication thread, or NULL */
};

/* The optimizer update of the current step with the gradients already in the graph; advances the
 * step (clcnn_trainer_step = forward + backward + this; tests feed fixed gradients through it). */
int trainer_apply(struct clcnn_trainer *t);

/* With a collective: read gradients and loss, scale, sum over the members, write back; *loss = the global loss. */
int trainer_reduce(struct clcnn_trainer *t, float *loss);

/*
 * buckets.c: gradient buckets reduced on a communication thread while backward runs. _begin after
 * forward (sets the executor's hook), _end after backward with its status: the loss, the thread
 * joined, every gradient summed on the device, the timing's d2h/allreduce/h2d/exposed set.
 * _collective is what the graph must call (it keeps sync_bn's calls in program order).
 */
struct trainer_buckets;
int trainer_buckets_new(struct clcnn_trainer *t, size_t bytes, struct trainer_buckets **out);
void trainer_buckets_free(struct trainer_buckets *bk);
const struct clcnn_collective *trainer_buckets_collective(struct trainer_buckets *bk);
int trainer_buckets_count(const struct trainer_buckets *bk);
int trainer_buckets_begin(struct trainer_buckets *bk);
int trainer_buckets_end(struct trainer_buckets *bk, int rc, float *loss);

/* Names of the optimizer and the schedule with their settings, for checkpoint metadata. */
void trainer_describe(const struct clcnn_trainer *t, char *opt, size_t optn, char *sched, size_t schedn);

#endif
