/*
 * clcnn train, data parallel: one replica of the model per device of this process
 * (CLCNN_DEVICE=0,1 | all | gpu:* | cpu:*, one thread each, clcnn_local_group) or one per MPI rank
 * (mpirun -np N clcnn train ...). Every member loads the same global batch (the single-process
 * batch t, augmented by its global positions) and trains on its share of it (shard.h); the shares
 * follow the members' measured speeds, re-balanced every --rebalance steps; gradients and the loss
 * are summed in member order through the collective (clcnn/parallel.h), so every replica takes the
 * same step. Member 0 of the job (rank 0, first device) is the run's own model and trainer: it
 * evaluates, reports and writes the checkpoints.
 */
#ifndef CLCNN_CLI_REPLICAS_H
#define CLCNN_CLI_REPLICAS_H
#include "model.h"
#include "train-cli.h"

struct par;

/*
 * Before the model is opened: read CLCNN_DEVICE (a list or a pattern) and the MPI launch. *out is
 * NULL when this process trains alone on one device. Prints errors: 0, CLI_USAGE or CLI_ERROR.
 */
int par_new(struct par **out);
/* The CLCNN_DEVICE value member 0 of this process opens (NULL: the environment's). */
const char *par_device(const struct par *p);
/* 1 when this process reports and writes checkpoints (always when p is NULL). */
int par_leader(const struct par *p);
/*
 * After the run's model m and trainer tr are ready (resumed or initialised): open the other
 * replicas of this process, attach the collectives, and broadcast member 0's state to all.
 */
int par_start(struct par *p, const struct train_opts *o, struct cli_model *m, struct clcnn_trainer *tr,
	      int steps_per_epoch);
/*
 * One training step of every member of this process on the global batch (img, lab: o->batch
 * samples); *loss the loss of the global batch. *stop in: this process wants to stop after the
 * step; out: some member of the job does (all stop at the same step). 0 or a clcnn error code after
 * a message (for member 0's own failure, its context holds the message instead).
 */
int par_step(struct par *p, const float *img, const float *lab, float *loss, int *stop);
/*
 * At the end of an epoch: member 0's graph back at the full batch for evaluation, and (leader) a
 * line with the step time split and the shares. 0 or CLI_ERROR after a message.
 */
int par_epoch_end(struct par *p, struct cli_model *m);
/*
 * --scaling, after training (the checkpoint is written): member 0 leaves the group and times
 * training steps alone at the full batch on random data (T1), and the leader prints T1, the last
 * epoch's data-parallel step time TN and the efficiency T1 / (N x TN). p NULL: T1 only.
 */
int par_scaling(struct par *p, struct cli_model *m, struct clcnn_trainer *tr);
void par_free(struct par *p);
#endif
