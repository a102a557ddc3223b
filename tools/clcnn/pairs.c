/* Pairs and triplets from class labels (pairs.h says what is drawn how). */
#include "pairs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "io/dataset.h"

/* Uniform in [0, n), n > 0 (the modulo bias of 64 random bits is below 2^-32 for any n here). */
static int below(uint64_t *rng, int n)
{
	return (int)(clcnn_rng_next(rng) % (uint64_t)n);
}

int pair_index_build(const float *labels, int n, int classes, struct pair_index *ix, char *err, size_t errlen)
{
	memset(ix, 0, sizeof *ix);
	ix->n = n;
	ix->classes = classes;
	ix->members = cli_malloc((size_t)(n ? n : 1) * sizeof(int));
	ix->class_of = cli_malloc((size_t)(n ? n : 1) * sizeof(int));
	ix->start = cli_calloc((size_t)classes + 2, sizeof(int));
	ix->scratch = cli_malloc(((size_t)n + (size_t)classes + 1) * sizeof(int));
	if (!ix->members || !ix->class_of || !ix->start || !ix->scratch) {
		pair_index_free(ix);
		snprintf(err, errlen, "out of host memory for the class index of %d samples", n);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		float l = labels[i];
		if (!(l >= 0 && l < (float)classes) || l != (float)(int)l) {
			snprintf(err, errlen, "sample %d has the label %g, not a class index below %d", i, (double)l,
				 classes);
			pair_index_free(ix);
			return -2;
		}
		ix->class_of[i] = (int)l;
		ix->start[(int)l + 1]++;
	}
	for (int c = 0; c < classes; c++) {
		ix->populated += ix->start[c + 1] > 0;
		ix->start[c + 1] += ix->start[c];
	}
	/* a counting sort: members ascending within each class */
	int *fill = ix->scratch;
	memcpy(fill, ix->start, (size_t)classes * sizeof(int));
	for (int i = 0; i < n; i++)
		ix->members[fill[ix->class_of[i]]++] = i;
	if (ix->populated < 2) {
		snprintf(err, errlen,
			 "the training data has samples of %d class%s; pairs and triplets need two classes or more "
			 "(a negative is a sample of another class)",
			 ix->populated, ix->populated == 1 ? "" : "es");
		pair_index_free(ix);
		return -3;
	}
	return 0;
}

void pair_index_free(struct pair_index *ix)
{
	free(ix->members);
	free(ix->class_of);
	free(ix->start);
	free(ix->scratch);
	memset(ix, 0, sizeof *ix);
}

/* Position of sample a in its class's block of members (the block is ascending). */
static int position(const struct pair_index *ix, int a)
{
	int c = ix->class_of[a], lo = ix->start[c], hi = ix->start[c + 1] - 1;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (ix->members[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int draw_positive(const struct pair_index *ix, int a, uint64_t *rng)
{
	int c = ix->class_of[a], size = ix->start[c + 1] - ix->start[c];
	if (size < 2)
		return a;
	int j = below(rng, size - 1), self = position(ix, a) - ix->start[c];
	return ix->members[ix->start[c] + j + (j >= self)];
}

static int draw_negative(const struct pair_index *ix, int a, uint64_t *rng)
{
	int c = ix->class_of[a], size = ix->start[c + 1] - ix->start[c];
	int j = below(rng, ix->n - size);
	return ix->members[j < ix->start[c] ? j : j + size];
}

void pairs_random_triplets(const struct pair_index *ix, const int *anchors, int count, uint64_t *rng, int *pos,
			   int *neg)
{
	for (int i = 0; i < count; i++) {
		pos[i] = draw_positive(ix, anchors[i], rng);
		neg[i] = draw_negative(ix, anchors[i], rng);
	}
}

void pairs_random_pairs(const struct pair_index *ix, const int *anchors, int count, uint64_t *rng, int *partner,
			float *same)
{
	for (int i = 0; i < count; i++) {
		same[i] = i % 2 == 0;
		partner[i] = same[i] ? draw_positive(ix, anchors[i], rng) : draw_negative(ix, anchors[i], rng);
	}
}

int pairs_sample_pk(struct pair_index *ix, int P, int K, uint64_t *rng, int *out)
{
	int *cls = ix->scratch, np = 0;
	for (int c = 0; c < ix->classes; c++)
		if (ix->start[c + 1] > ix->start[c])
			cls[np++] = c;
	if (P > np)
		P = np;
	/* partial Fisher-Yates: the first P of cls are the classes drawn */
	for (int p = 0; p < P; p++) {
		int j = p + below(rng, np - p), t = cls[p];
		cls[p] = cls[j];
		cls[j] = t;
	}
	for (int p = 0; p < P; p++) {
		int c = cls[p], s = ix->start[c], size = ix->start[c + 1] - s;
		int *o = out + (size_t)p * (size_t)K;
		if (size < K) {
			for (int k = 0; k < K; k++)
				o[k] = ix->members[s + below(rng, size)];
			continue;
		}
		/* K of the class without replacement: a partial Fisher-Yates over a copy of its block */
		int *block = ix->scratch + ix->classes;
		memcpy(block, ix->members + s, (size_t)size * sizeof(int));
		for (int k = 0; k < K; k++) {
			int j = k + below(rng, size - k), t = block[k];
			block[k] = block[j];
			block[j] = t;
			o[k] = block[k];
		}
	}
	return P * K;
}

void pairs_batch_hard(const float *emb, int n, int dim, const float *labels, int *pos, int *neg, float *dist)
{
	for (int i = 0; i < n; i++) {
		const float *a = emb + (size_t)i * (size_t)dim;
		for (int j = 0; j < n; j++) {
			const float *b = emb + (size_t)j * (size_t)dim;
			double s = 0;
			for (int d = 0; d < dim; d++)
				s += (double)(a[d] - b[d]) * (double)(a[d] - b[d]);
			dist[j] = (float)s;
		}
		int p = i, q = -1;
		for (int j = 0; j < n; j++) {
			if (j == i)
				continue;
			if (labels[j] == labels[i]) {
				if (p == i || dist[j] > dist[p])
					p = j;
			} else if (q < 0 || dist[j] < dist[q]) {
				q = j;
			}
		}
		pos[i] = p;
		neg[i] = q;
	}
}
