/* Sharing a global batch among data-parallel members (shard.h). */
#include "shard.h"

#include <math.h>

int shard_offset(const int *share, int k)
{
	int off = 0;
	for (int i = 0; i < k; i++)
		off += share[i];
	return off;
}

/* Member k's exact part of the samples left after one each. */
static double shard_want(int rest, int n, const double *rate, double total, int k)
{
	double r = rate && total > 0 ? (rate[k] > 0 && isfinite(rate[k]) ? rate[k] : 0) / total : 1.0 / n;
	return r * rest;
}

void shard_split(int batch, int n, const double *rate, int *share)
{
	double total = 0;
	for (int k = 0; rate && k < n; k++)
		total += rate[k] > 0 && isfinite(rate[k]) ? rate[k] : 0;
	/* one sample each first, the rest in proportion */
	int rest = batch - n, given = 0;
	for (int k = 0; k < n; k++) {
		share[k] = 1 + (int)floor(shard_want(rest, n, rate, total, k));
		given += share[k] - 1;
	}
	/* the samples floor() left: largest remainder first, the lower member on a tie, once each */
	for (; given < rest; given++) {
		int best = -1;
		double bf = -1;
		for (int k = 0; k < n; k++) {
			double w = shard_want(rest, n, rate, total, k), f = w - floor(w);
			if (share[k] == 1 + (int)floor(w) && f > bf) {
				best = k;
				bf = f;
			}
		}
		share[best]++;
	}
}

int shard_positions(int ntrain, int batch, const int *share, int k, int t, int *first, int *count)
{
	if (batch < 1 || t < 0 || t >= ntrain / batch)
		return 0;
	*first = t * batch + shard_offset(share, k);
	*count = share[k];
	return 1;
}
