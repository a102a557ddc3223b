/*
 * Nearest neighbours by brute force: the gallery goes through in tiles of TILE rows stored
 * transposed, so that the distances of one query to a whole tile are one unit-stride loop per
 * dimension (which compilers vectorize) over a tile that stays in cache for every query.
 */
#include "knn.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"

#define TILE 256

/* Insert (d, j) into the sorted best list of k (distance, index); equal distances keep the earlier. */
static void insert(float *bd, int *bi, int k, float d, int j)
{
	int p = k - 1;
	if (!(d < bd[p]))
		return;
	while (p > 0 && d < bd[p - 1]) {
		bd[p] = bd[p - 1];
		bi[p] = bi[p - 1];
		p--;
	}
	bd[p] = d;
	bi[p] = j;
}

int knn_search(const float *gallery, int ng, const float *queries, int nq, int dim, int k, int exclude_self, int *nn)
{
	if (k < 1 || k > KNN_MAX_K)
		return -1;
	float *tile = cli_calloc((size_t)TILE * (size_t)dim, sizeof(float));
	float *best = cli_malloc(((size_t)nq * (size_t)k + 1) * sizeof(float));
	if (!tile || !best) {
		free(tile);
		free(best);
		return -1;
	}
	for (size_t i = 0; i < (size_t)nq * (size_t)k; i++) {
		best[i] = FLT_MAX;
		nn[i] = -1;
	}
	float dist[TILE];
	for (int t0 = 0; t0 < ng; t0 += TILE) {
		int tn = ng - t0 < TILE ? ng - t0 : TILE;
		for (int j = 0; j < tn; j++)
			for (int d = 0; d < dim; d++)
				tile[(size_t)d * TILE + (size_t)j] =
					gallery[(size_t)(t0 + j) * (size_t)dim + (size_t)d];
		for (int q = 0; q < nq; q++) {
			const float *x = queries + (size_t)q * (size_t)dim;
			memset(dist, 0, sizeof dist);
			for (int d = 0; d < dim; d++) {
				const float *col = tile + (size_t)d * TILE;
				float xd = x[d];
				for (int j = 0; j < TILE; j++)
					dist[j] += (col[j] - xd) * (col[j] - xd);
			}
			float *bd = best + (size_t)q * (size_t)k;
			int *bi = nn + (size_t)q * (size_t)k;
			for (int j = 0; j < tn; j++)
				if (!(exclude_self && t0 + j == q))
					insert(bd, bi, k, dist[j], t0 + j);
		}
	}
	free(tile);
	free(best);
	return 0;
}

double knn_accuracy(const int *nn, int nq, int stride, int k, const float *gallery_labels, const float *query_labels)
{
	long correct = 0;
	for (int q = 0; q < nq; q++) {
		const int *row = nn + (size_t)q * (size_t)stride;
		/* votes per neighbour's label; the winner: most votes, then the nearest first seen */
		int best = -1, best_votes = 0;
		for (int i = 0; i < k && row[i] >= 0; i++) {
			float l = gallery_labels[row[i]];
			int votes = 0, first = 1;
			for (int j = 0; j < k && row[j] >= 0; j++) {
				if (gallery_labels[row[j]] == l) {
					votes++;
					first &= j >= i;
				}
			}
			/* counted once, at its nearest neighbour; a later label needs strictly more votes */
			if (first && votes > best_votes) {
				best = row[i];
				best_votes = votes;
			}
		}
		correct += best >= 0 && gallery_labels[best] == query_labels[q];
	}
	return nq ? (double)correct / nq : 0;
}
