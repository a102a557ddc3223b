/*
 * Pairs and triplets from class labels, for training an embedding (metric learning) with
 * `clcnn train --pairs triplet|contrastive [--mining random|batch-hard]`.
 *
 * Every choice draws from a caller's 64-bit RNG state (clcnn_rng_next, splitmix64), so the same
 * state, labels and anchors give the same pairs on every machine: training with --pairs is as
 * deterministic by --seed as plain training.
 *
 *   random triplets   anchor a (the caller's order), positive: uniform among the other samples of
 *                     a's class (a itself when its class has no other), negative: uniform among
 *                     the samples of every other class (so larger classes are drawn more often).
 *   random pairs      pair i similar (same = 1) for even i, dissimilar (same = 0) for odd i: exactly
 *                     balanced for an even batch; the partner drawn as the positive or the negative.
 *   P x K batches     P classes drawn without replacement among those with samples, K samples of
 *                     each drawn without replacement (with replacement when the class has fewer).
 *   batch-hard        (Hermans, Beyer, Leibe 2017) for each sample of a batch, the farthest sample of
 *                     its class (itself when it is alone) and the nearest of another class, by
 *                     Euclidean distance of the embeddings; ties go to the lower index.
 */
#ifndef CLCNN_CLI_PAIRS_H
#define CLCNN_CLI_PAIRS_H
#include <stddef.h>
#include <stdint.h>

/* The samples of each class: members[start[c] .. start[c + 1]) are those of class c, ascending. */
struct pair_index {
	int n, classes;
	int *members;  /* n sample indices */
	int *start;    /* classes + 1 offsets */
	int *class_of; /* n labels */
	int populated; /* classes with at least one sample */
	int *scratch;  /* classes + n ints for the samplers */
};

/*
 * Index n labels (class indices stored as floats, 0 <= label < classes). Returns 0; -1 when out of
 * memory, -2 when a label is out of range, -3 when fewer than two classes have samples (no
 * negative can be drawn), with a message in err (errlen bytes).
 */
int pair_index_build(const float *labels, int n, int classes, struct pair_index *ix, char *err, size_t errlen);
void pair_index_free(struct pair_index *ix);

/* For count anchors (sample indices), a positive and a negative each (random triplets above). */
void pairs_random_triplets(const struct pair_index *ix, const int *anchors, int count, uint64_t *rng, int *pos,
			   int *neg);
/* For count anchors, a partner each and its target same[i] (1 similar, 0 dissimilar; random pairs above). */
void pairs_random_pairs(const struct pair_index *ix, const int *anchors, int count, uint64_t *rng, int *partner,
			float *same);
/*
 * P x K sample indices into out (P * K of them, class after class). P is capped at the populated
 * classes; returns the number written (min(P, populated) * K).
 */
int pairs_sample_pk(struct pair_index *ix, int P, int K, uint64_t *rng, int *out);
/*
 * Batch-hard mining on n embeddings of dim values (row after row) with labels: pos[i] and neg[i]
 * are batch positions (batch-hard above). A sample with no other class in the batch gets neg[i] =
 * -1. Needs n floats of scratch in dist (the caller's).
 */
void pairs_batch_hard(const float *emb, int n, int dim, const float *labels, int *pos, int *neg, float *dist);
#endif
