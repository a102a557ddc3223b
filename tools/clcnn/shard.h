/*
 * How a global batch is shared among the members of a data-parallel run (devices of one process,
 * or MPI ranks), pure arithmetic so that a unit test covers it (tests/parallel/test-shard.c).
 *
 * Every member draws the same permutation of the training set from (seed, epoch) (the trainer's
 * RNG, broadcast from member 0) and loads the same global batch t: positions t*B .. t*B+B-1 of the
 * permutation, augmented by (seed, position), exactly as one process does. Member k takes the
 * share[k] consecutive samples from offset share[0] + ... + share[k-1]: the union of the members'
 * samples at step t is exactly the single-process batch t. The last n mod B samples of a pass are
 * dropped, as one process drops its last partial batch (a new permutation each epoch, so no sample
 * is left out for good).
 */
#ifndef CLCNN_CLI_SHARD_H
#define CLCNN_CLI_SHARD_H

/* Offset of member k's samples in the global batch. */
int shard_offset(const int *share, int k);

/*
 * Split batch among n members in proportion to rate[k] (samples per second; rate NULL or all zero:
 * as equal as possible, the first members getting one more), every member at least 1 (batch >= n),
 * largest remainders first, ties to the lower member: share[0..n-1] sums to batch.
 */
void shard_split(int batch, int n, const double *rate, int *share);

/*
 * The epoch positions member k reads at step t of a pass over ntrain samples: [*first, *first + *count).
 * Returns 0 when step t is past the pass's whole batches (ntrain / batch of them).
 */
int shard_positions(int ntrain, int batch, const int *share, int k, int t, int *first, int *count);
#endif
