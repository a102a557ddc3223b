/*
 * clcnn train --pairs: the model's inputs fed with triplets (anchor, positive, negative) or pairs
 * (x1, x2, same) drawn from the class labels of the training split (pairs.h), by random mining or
 * batch-hard mining, and the recall@1 that replaces the test accuracy after each epoch.
 *
 * Per step the loader delivers one batch of `per_step` samples in the order train_pairs_order
 * wrote: random triplets 3B (B anchors, their B positives, their B negatives), random pairs 2B (B
 * first, B partners), batch-hard B (P classes x K samples), where B is --batch.
 */
#ifndef CLCNN_CLI_TRAIN_PAIRS_H
#define CLCNN_CLI_TRAIN_PAIRS_H
#include "embed.h"
#include "pairs.h"
#include "train-cli.h"

struct train_pairs {
	int triplet, batch_hard;
	int B, per_step, P, K;
	size_t per; /* floats per sample */
	struct embed_inputs ei;
	const char *data[3], *same; /* anchor, positive, negative or x1, x2; same: the contrastive target */
	struct pair_index ix;
	float *gather, *emb, *dist, *target; /* batch-hard's positives + negatives, embeddings; pairs' same */
	int *pos, *neg;
};

/*
 * Check the model's inputs and loss against --pairs (before any data is opened). Prints; 0,
 * CLI_USAGE or CLI_ERROR. train_pairs_close in every case.
 */
int train_pairs_inputs(struct train_pairs *tp, const struct train_opts *o, const struct cli_model *m);
/*
 * After train_pairs_inputs: read the labels of the first ntrain training samples and index them,
 * allocate. Prints; 0, CLI_USAGE or CLI_ERROR.
 */
int train_pairs_open(struct train_pairs *tp, const struct train_opts *o, struct clcnn_source *train, int ntrain);
void train_pairs_close(struct train_pairs *tp);
/* The loader order of an epoch of steps steps (steps * per_step indices), anchors from perm. */
void train_pairs_order(struct train_pairs *tp, const int *perm, int steps, uint64_t *rng, int *order);
/*
 * Set the graph's inputs from one loader batch (img, lab: per_step samples). Batch-hard first embeds
 * the batch (a forward in training mode with dropout seed `seed`) and gathers the hardest positive
 * and negative of each anchor. 0, or a clcnn status (the message in the context).
 */
int train_pairs_feed(struct train_pairs *tp, struct cli_model *m, const float *img, const float *lab, uint32_t seed);
#endif
