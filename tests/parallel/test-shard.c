/*
 * The batch split of data-parallel clcnn train (tools/clcnn/shard.c), no device: for dataset sizes
 * that are not multiples of the batch, member counts 1 to 5 and equal, proportional and lopsided
 * speeds, every sample position of an epoch's whole batches is read by exactly one member exactly
 * once, the members' positions at step t are exactly the single-process batch t, and only the last
 * ntrain mod batch positions (what one process drops too) are left out.
 */
#include <stdlib.h>
#include <string.h>

#include "../../tools/clcnn/shard.h"
#include "testutil.h"

START_TEST(split_sums_to_the_batch)
{
	const double rates[][4] = {{1, 1, 1, 1}, {3, 1, 1, 1}, {1e6, 1, 1, 1}, {0, 0, 0, 0}, {1, 2, 3, 4}};
	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++)
		for (int n = 1; n <= 4; n++)
			for (int batch = n; batch <= 70; batch++) {
				int share[4], sum = 0;
				shard_split(batch, n, rates[r], share);
				for (int k = 0; k < n; k++) {
					ck_assert_msg(share[k] >= 1, "rates %zu n %d batch %d: member %d gets %d", r, n,
						      batch, k, share[k]);
					sum += share[k];
				}
				ck_assert_int_eq(sum, batch);
			}
	/* equal speeds (and none): as equal as possible, the first members one more */
	int share[3];
	shard_split(32, 3, NULL, share);
	ck_assert(share[0] == 11 && share[1] == 11 && share[2] == 10);
	/* a device three times as fast gets three quarters */
	const double fast[2] = {3, 1};
	shard_split(64, 2, fast, share);
	ck_assert_msg(share[0] == 48 && share[1] == 16, "%d+%d", share[0], share[1]);
	/* a huge speed difference still leaves the slow member one sample */
	const double huge[2] = {1, 1e9};
	shard_split(10, 2, huge, share);
	ck_assert_msg(share[0] == 1 && share[1] == 9, "%d+%d", share[0], share[1]);
}
END_TEST

START_TEST(every_sample_once_per_epoch)
{
	const int sizes[] = {1, 31, 32, 33, 97, 100, 150, 1000, 1001};
	const double speeds[][5] = {{1, 1, 1, 1, 1}, {5, 1, 2, 1, 3}, {1, 100, 1, 1, 1}};
	for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
		for (int batch = 5; batch <= 40; batch += 7)
			for (int n = 1; n <= 5; n++)
				for (size_t sp = 0; sp < sizeof speeds / sizeof speeds[0]; sp++) {
					int ntrain = sizes[si], share[5];
					shard_split(batch, n, speeds[sp], share);
					int *seen = calloc((size_t)ntrain, sizeof *seen), steps = 0;
					for (int t = 0;; t++) {
						int first, count, lo = t * batch, hi = lo + batch, covered = 0;
						for (int k = 0; k < n; k++) {
							if (!shard_positions(ntrain, batch, share, k, t, &first,
									     &count))
								goto done;
							/* member k's positions lie in the single-process batch t */
							ck_assert(first >= lo && first + count <= hi);
							for (int i = first; i < first + count; i++)
								seen[i]++;
							covered += count;
						}
						ck_assert_int_eq(covered, batch);
						steps++;
					}
				done:
					ck_assert_int_eq(steps, ntrain / batch);
					for (int i = 0; i < ntrain; i++)
						ck_assert_msg(seen[i] == (i < steps * batch ? 1 : 0),
							      "n %d batch %d ntrain %d: position %d read %d times", n,
							      batch, ntrain, i, seen[i]);
					free(seen);
				}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("shard");
	tcase_add_test(tc, split_sums_to_the_batch);
	tcase_add_test(tc, every_sample_once_per_epoch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
