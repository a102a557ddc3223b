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
	float *arena; /* host copy of every gradient, then the loss */
	size_t arena_n;
	struct clcnn_step_timing tm; /* of the last step */
	int timed;                   /* tm is set */
	size_t bucket_bytes;         /* clcnn_trainer_set_buckets; 0: one bucket */
};

/* The optimizer update of the current step with the gradients already in the graph; advances the
 * step (clcnn_trainer_step = forward + backward + this; tests feed fixed gradients through it). */
int trainer_apply(struct clcnn_trainer *t);

/* With a collective: read gradients and loss, scale, sum over the members, write back; *loss = the global loss. */
int trainer_reduce(struct clcnn_trainer *t, float *loss);

/* Names of the optimizer and the schedule with their settings, for checkpoint metadata. */
void trainer_describe(const struct clcnn_trainer *t, char *opt, size_t optn, char *sched, size_t schedn);

#endif
