/*
 * The samplers of clcnn train --pairs (tools/clcnn/pairs.c) and the nearest-neighbour evaluation of
 * embeddings (tools/clcnn/knn.c), on hand-made labels and embeddings (no device).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "pairs.h"
#include "testutil.h"

/* 3 classes of uneven sizes (5, 1, 3) and a class 3 with no sample, interleaved. */
static const float uneven[9] = {0, 2, 0, 1, 0, 2, 0, 2, 0};

START_TEST(index_groups_classes)
{
	struct pair_index ix;
	char err[256];
	ck_assert_int_eq(pair_index_build(uneven, 9, 4, &ix, err, sizeof err), 0);
	ck_assert_int_eq(ix.populated, 3);
	const int want_members[9] = {0, 2, 4, 6, 8, 3, 1, 5, 7}, want_start[5] = {0, 5, 6, 9, 9};
	ck_assert(!memcmp(ix.members, want_members, sizeof want_members));
	ck_assert(!memcmp(ix.start, want_start, sizeof want_start));
	pair_index_free(&ix);
	/* one class: no negative exists; a label out of range */
	const float one[4] = {1, 1, 1, 1}, bad[3] = {0, 3, 1}, frac[2] = {0, 0.5f};
	ck_assert_int_eq(pair_index_build(one, 4, 3, &ix, err, sizeof err), -3);
	ck_assert_msg(strstr(err, "1 class;") && strstr(err, "two classes"), "%s", err);
	ck_assert_ptr_null(ix.members);
	ck_assert_int_eq(pair_index_build(bad, 3, 3, &ix, err, sizeof err), -2);
	ck_assert_msg(strstr(err, "sample 1 has the label 3"), "%s", err);
	ck_assert_int_eq(pair_index_build(frac, 2, 3, &ix, err, sizeof err), -2);
	pair_index_free(&ix);
}
END_TEST

START_TEST(random_triplets)
{
	struct pair_index ix;
	char err[256];
	ck_assert_int_eq(pair_index_build(uneven, 9, 4, &ix, err, sizeof err), 0);
	enum {
		N = 900
	};
	int anchors[N], pos[N], neg[N], pos2[N], neg2[N], seen_pos[9] = {0}, seen_neg[9] = {0};
	for (int i = 0; i < N; i++)
		anchors[i] = i % 9;
	uint64_t rng = 7, rng2 = 7;
	pairs_random_triplets(&ix, anchors, N, &rng, pos, neg);
	for (int i = 0; i < N; i++) {
		int a = anchors[i];
		ck_assert_msg(uneven[pos[i]] == uneven[a], "triplet %d: positive %d of another class", i, pos[i]);
		ck_assert_msg(uneven[neg[i]] != uneven[a], "triplet %d: negative %d of the anchor's class", i, neg[i]);
		/* the lone sample of class 1 is its own positive; every other anchor gets another sample */
		if (a == 3)
			ck_assert_int_eq(pos[i], 3);
		else
			ck_assert_int_ne(pos[i], a);
		if (a == 0) {
			seen_pos[pos[i]]++;
			seen_neg[neg[i]]++;
		}
	}
	/* anchor 0 (100 times): each of its 4 class mates, each of the 4 samples of other classes */
	for (int j = 0; j < 9; j++) {
		int mate = uneven[j] == 0 && j != 0, other = uneven[j] != 0;
		ck_assert_msg(mate ? seen_pos[j] > 5 : seen_pos[j] == 0, "positive %d drawn %d times", j, seen_pos[j]);
		ck_assert_msg(other ? seen_neg[j] > 5 : seen_neg[j] == 0, "negative %d drawn %d times", j, seen_neg[j]);
	}
	/* deterministic by the seed, and another seed draws otherwise */
	pairs_random_triplets(&ix, anchors, N, &rng2, pos2, neg2);
	ck_assert(!memcmp(pos, pos2, sizeof pos) && !memcmp(neg, neg2, sizeof neg) && rng == rng2);
	rng2 = 8;
	pairs_random_triplets(&ix, anchors, N, &rng2, pos2, neg2);
	ck_assert(memcmp(pos, pos2, sizeof pos) || memcmp(neg, neg2, sizeof neg));
	pair_index_free(&ix);
}
END_TEST

START_TEST(random_pairs_balanced)
{
	struct pair_index ix;
	char err[256];
	ck_assert_int_eq(pair_index_build(uneven, 9, 3, &ix, err, sizeof err), 0);
	enum {
		N = 64
	};
	int anchors[N], partner[N], partner2[N];
	float same[N], same2[N];
	for (int i = 0; i < N; i++)
		anchors[i] = (i * 5) % 9;
	uint64_t rng = 3, rng2 = 3;
	pairs_random_pairs(&ix, anchors, N, &rng, partner, same);
	int similar = 0;
	for (int i = 0; i < N; i++) {
		ck_assert(same[i] == 0 || same[i] == 1);
		similar += same[i] == 1;
		ck_assert_msg((uneven[partner[i]] == uneven[anchors[i]]) == (same[i] == 1),
			      "pair %d: %d and %d, same %g", i, anchors[i], partner[i], (double)same[i]);
	}
	ck_assert_int_eq(similar, N / 2);
	pairs_random_pairs(&ix, anchors, N, &rng2, partner2, same2);
	ck_assert(!memcmp(partner, partner2, sizeof partner) && !memcmp(same, same2, sizeof same));
	pair_index_free(&ix);
}
END_TEST

START_TEST(pk_batches)
{
	/* 4 classes: 6, 1, 3 and 2 samples */
	const float labels[12] = {0, 0, 1, 2, 0, 3, 2, 0, 3, 0, 2, 0};
	struct pair_index ix;
	char err[256];
	ck_assert_int_eq(pair_index_build(labels, 12, 5, &ix, err, sizeof err), 0);
	int out[40], out2[40];
	uint64_t rng = 11, rng2 = 11;
	for (int round = 0; round < 50; round++) {
		ck_assert_int_eq(pairs_sample_pk(&ix, 3, 3, &rng, out), 9);
		int classes_seen[5] = {0};
		for (int p = 0; p < 3; p++) {
			int c = (int)labels[out[p * 3]];
			ck_assert_int_eq(classes_seen[c]++, 0);
			for (int k = 0; k < 3; k++)
				ck_assert_int_eq((int)labels[out[p * 3 + k]], c);
			/* without replacement when the class has K or more */
			if (c == 0 || c == 2)
				ck_assert(out[p * 3] != out[p * 3 + 1] && out[p * 3] != out[p * 3 + 2] &&
					  out[p * 3 + 1] != out[p * 3 + 2]);
		}
	}
	/* P above the populated classes: capped, every class once (the one-sample class repeated) */
	ck_assert_int_eq(pairs_sample_pk(&ix, 9, 2, &rng, out), 8);
	int seen[4] = {0};
	for (int i = 0; i < 8; i++)
		seen[(int)labels[out[i]]]++;
	ck_assert(seen[0] == 2 && seen[1] == 2 && seen[2] == 2 && seen[3] == 2);
	ck_assert(out[2 * ((int)labels[out[0]] == 1 ? 0 : 1)] >= 0);
	/* deterministic */
	rng = rng2 = 99;
	pairs_sample_pk(&ix, 3, 4, &rng, out);
	pairs_sample_pk(&ix, 3, 4, &rng2, out2);
	ck_assert(!memcmp(out, out2, 12 * sizeof(int)));
	pair_index_free(&ix);
}
END_TEST

START_TEST(batch_hard_picks_hardest)
{
	/* 1-D embeddings: class 0 at 0, 1, 5; class 1 at 2, 9; class 2 alone at 100 */
	const float emb[6] = {0, 1, 5, 2, 9, 100}, labels[6] = {0, 0, 0, 1, 1, 2};
	int pos[6], neg[6];
	float dist[6];
	pairs_batch_hard(emb, 6, 1, labels, pos, neg, dist);
	const int want_pos[6] = {2, 2, 0, 4, 3, 5}, want_neg[6] = {3, 3, 3, 1, 2, 4};
	for (int i = 0; i < 6; i++) {
		ck_assert_msg(pos[i] == want_pos[i], "sample %d: positive %d, wanted %d", i, pos[i], want_pos[i]);
		ck_assert_msg(neg[i] == want_neg[i], "sample %d: negative %d, wanted %d", i, neg[i], want_neg[i]);
	}
	/* 2-D, ties to the lower index; a batch of one class has no negative */
	const float e2[8] = {0, 0, 3, 4, -3, 4, 0, 1}, l2[4] = {0, 0, 0, 0};
	pairs_batch_hard(e2, 4, 2, l2, pos, neg, dist);
	ck_assert(pos[0] == 1 && pos[1] == 2 && pos[3] == 1 && neg[0] == -1 && neg[3] == -1);
}
END_TEST

START_TEST(knn_hand_made)
{
	/* gallery on a line: class 0 at 0, 1, 2; class 1 at 10, 11; class 2 at 5 */
	const float g[6] = {0, 1, 2, 10, 11, 5}, gl[6] = {0, 0, 0, 1, 1, 2};
	const float q[4] = {0.4f, 9, 5.2f, 4}, ql[4] = {0, 1, 1, 0};
	int nn[4 * 3];
	ck_assert_int_eq(knn_search(g, 6, q, 4, 1, 3, 0, nn), 0);
	const int want[12] = {0, 1, 2, 3, 4, 5, 5, 2, 1, 5, 2, 1};
	for (int i = 0; i < 12; i++)
		ck_assert_msg(nn[i] == want[i], "neighbour %d: %d, wanted %d", i, nn[i], want[i]);
	/* k = 1: 0.4 -> 0 ok, 9 -> 1 ok, 5.2 -> 2 wrong, 4 -> 2 wrong */
	ck_assert(fabs(knn_accuracy(nn, 4, 3, 1, gl, ql) - 0.5) < 1e-12);
	/* k = 3: 5.2 -> {2, 0, 0}: 0, wrong; 4 -> {2, 0, 0}: 0, right */
	ck_assert(fabs(knn_accuracy(nn, 4, 3, 3, gl, ql) - 0.75) < 1e-12);
	/* a tie of votes goes to the nearer neighbour's label: {2 (5), 0 (2)} for the query 4 at k = 2 */
	ck_assert(fabs(knn_accuracy(nn, 4, 3, 2, gl, ql) - 0.5) < 1e-12);
	/* recall@1 within one set: self excluded; equal distances give the lower index */
	const float s[10] = {0, 0, 1, 0, 5, 0, 6, 0, 0.5f, 0}, sl[5] = {0, 0, 1, 1, 1};
	int n1[5];
	ck_assert_int_eq(knn_search(s, 5, s, 5, 2, 1, 1, n1), 0);
	const int w1[5] = {4, 4, 3, 2, 0};
	for (int i = 0; i < 5; i++)
		ck_assert_msg(n1[i] == w1[i], "recall neighbour of %d: %d, wanted %d", i, n1[i], w1[i]);
	ck_assert(fabs(knn_accuracy(n1, 5, 1, 1, sl, sl) - 0.4) < 1e-12);
	/* fewer gallery rows than k: -1 fills, the vote uses those there are; bad k refused */
	int n5[5];
	ck_assert_int_eq(knn_search(g, 2, q, 1, 1, 5, 0, n5), 0);
	ck_assert(n5[0] == 0 && n5[1] == 1 && n5[2] == -1 && n5[4] == -1);
	ck_assert(knn_accuracy(n5, 1, 5, 5, gl, ql) == 1.0);
	ck_assert_int_eq(knn_search(g, 6, q, 1, 1, 0, 0, nn), -1);
}
END_TEST

START_TEST(knn_many_tiles)
{
	/* 1000 gallery points in 3-D (several tiles) against a brute-force check of the nearest */
	enum {
		NG = 1000,
		NQ = 40,
		D = 3
	};
	static float g[NG * D], q[NQ * D];
	uint32_t x = 12345;
	for (int i = 0; i < NG * D; i++)
		g[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f;
	for (int i = 0; i < NQ * D; i++)
		q[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 16777216.0f;
	int nn[NQ * 2];
	ck_assert_int_eq(knn_search(g, NG, q, NQ, D, 2, 0, nn), 0);
	for (int i = 0; i < NQ; i++) {
		int b = -1;
		double bd = 1e30;
		for (int j = 0; j < NG; j++) {
			double s = 0;
			for (int d = 0; d < D; d++)
				s += (double)(g[j * D + d] - q[i * D + d]) * (g[j * D + d] - q[i * D + d]);
			if (s < bd) {
				bd = s;
				b = j;
			}
		}
		ck_assert_int_eq(nn[i * 2], b);
		ck_assert_int_ne(nn[i * 2 + 1], b);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pairs");
	TCase *tc = tcase_create("pairs");
	tcase_add_test(tc, index_groups_classes);
	tcase_add_test(tc, random_triplets);
	tcase_add_test(tc, random_pairs_balanced);
	tcase_add_test(tc, pk_batches);
	tcase_add_test(tc, batch_hard_picks_hardest);
	tcase_add_test(tc, knn_hand_made);
	tcase_add_test(tc, knn_many_tiles);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
