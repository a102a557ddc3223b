/*
 * The batch loader on a fake source (struct clcnn_source filled here, as a backend does): order and
 * batch cuts, the short last batch, output bitwise independent of the thread count, augmentation
 * keyed on (seed, position), normalisation, error propagation, and start() in the middle of a pass.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "io/source.h"
#include "testutil.h"

enum {
	C = 3,
	H = 6,
	W = 5,
	PER = C * H * W,
	N = 23
};

struct fake {
	int fail_at; /* this sample's read fails (-1: none) */
	int slow_us; /* each read sleeps this long */
	int nd;      /* 3: images, 1: feature vectors of PER values */
};

/* Sample i: distinct values in [0, 1] that depend on (i, channel, pixel); label i % 7. */
static float value(int i, int k)
{
	return (float)((i * 131 + k * 17) % 256) / 255.0f;
}

static int fake_read(struct clcnn_source *s, int i, float *dst, float *label, char *err, size_t errlen)
{
	const struct fake *f = s->impl;
	if (f->slow_us) {
		struct timespec ts = {0, (long)f->slow_us * 1000L};
		nanosleep(&ts, NULL);
	}
	if (i == f->fail_at) {
		snprintf(err, errlen, "fake: sample %d is broken", i);
		return CLCNN_ERR_FORMAT;
	}
	for (int k = 0; k < PER; k++)
		dst[k] = value(i, k);
	*label = (float)(i % 7);
	return 0;
}

static struct clcnn_source *fake_open(struct fake *f)
{
	struct clcnn_source *s = calloc(1, sizeof *s);
	ck_assert_ptr_nonnull(s);
	s->path = strdup("fake");
	s->impl = f;
	s->read = fake_read;
	if (f->nd == 1)
		s->info = (struct clcnn_source_info){.n = N, .nd = 1, .c = PER, .h = 1, .w = 1, .classes = 7};
	else
		s->info = (struct clcnn_source_info){.n = N, .nd = 3, .c = C, .h = H, .w = W, .classes = 7};
	return s;
}

/* Every batch of one pass, concatenated (images, labels), and the batch sizes. */
struct pass {
	float img[N * PER], lab[N];
	int sizes[N + 1], nbatches;
};

static void run_pass(struct clcnn_loader *l, const int *order, int count, uint64_t seed, struct pass *p)
{
	char err[1024];
	memset(p, 0, sizeof *p);
	ck_assert_msg(clcnn_loader_start(l, order, count, seed, err, sizeof err) == 0, "%s", err);
	int at = 0;
	for (;;) {
		const float *img, *lab;
		int n;
		double waited = -1;
		ck_assert_msg(clcnn_loader_next(l, &img, &lab, &n, &waited, err, sizeof err) == 0, "%s", err);
		ck_assert(waited >= 0);
		if (!n)
			break;
		memcpy(p->img + (size_t)at * PER, img, (size_t)n * PER * sizeof(float));
		memcpy(p->lab + at, lab, (size_t)n * sizeof(float));
		p->sizes[p->nbatches++] = n;
		at += n;
	}
	ck_assert_int_eq(at, count);
}

static struct clcnn_loader *loader(struct clcnn_source *s, int batch, int threads, int prefetch,
				   const struct clcnn_augment *a, const struct clcnn_normalize *norm)
{
	struct clcnn_loader_options o = {.batch = batch,
					 .threads = threads,
					 .prefetch = prefetch,
					 .augment = a,
					 .norm = norm};
	struct clcnn_loader *l;
	char err[1024];
	ck_assert_msg(clcnn_loader_new(s, &o, &l, err, sizeof err) == 0, "%s", err);
	return l;
}

static void reversed(int *order, int n)
{
	for (int k = 0; k < n; k++)
		order[k] = n - 1 - k;
}

START_TEST(order_and_batches)
{
	struct fake f = {.fail_at = -1, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_loader *l = loader(s, 5, 2, 0, NULL, NULL);
	int order[N];
	reversed(order, N);
	static struct pass p;
	run_pass(l, order, N, 1, &p);
	/* 23 = 5+5+5+5+3: cut at multiples of the batch, the last one short */
	ck_assert_int_eq(p.nbatches, 5);
	for (int b = 0; b < 4; b++)
		ck_assert_int_eq(p.sizes[b], 5);
	ck_assert_int_eq(p.sizes[4], 3);
	for (int k = 0; k < N; k++) {
		ck_assert(p.lab[k] == (float)(order[k] % 7));
		for (int j = 0; j < PER; j++)
			ck_assert(p.img[(size_t)k * PER + j] == value(order[k], j));
	}
	/* NULL order: 0..count-1; a pass over a prefix; the end repeats */
	run_pass(l, NULL, 10, 1, &p);
	ck_assert_int_eq(p.nbatches, 2);
	ck_assert(p.lab[9] == (float)(9 % 7) && p.img[3 * PER] == value(3, 0));
	const float *img, *lab;
	int n;
	char err[256];
	ck_assert_int_eq(clcnn_loader_next(l, &img, &lab, &n, NULL, err, sizeof err), 0);
	ck_assert_int_eq(n, 0);
	/* an empty pass, and bad orders */
	run_pass(l, order, 0, 1, &p);
	ck_assert_int_eq(p.nbatches, 0);
	int bad[2] = {0, N};
	ck_assert_int_eq(clcnn_loader_start(l, bad, 2, 1, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "position 1 of the order is sample 23, out of range (23 samples)"), "%s", err);
	ck_assert_int_eq(clcnn_loader_start(l, NULL, N + 1, 1, err, sizeof err), CLCNN_ERR_INVALID);
	clcnn_loader_free(l);
	clcnn_source_close(s);
}
END_TEST

START_TEST(normalised)
{
	struct fake f = {.fail_at = -1, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_normalize norm = {3, {0.5f, 0.25f, 0}, {0.25f, 2, 1}};
	struct clcnn_loader *l = loader(s, 4, 2, 0, NULL, &norm);
	static struct pass p;
	run_pass(l, NULL, N, 1, &p);
	float want[PER];
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < PER; j++)
			want[j] = value(i, j);
		clcnn_normalize_apply(&norm, want, C, H, W);
		ck_assert(memcmp(want, p.img + (size_t)i * PER, sizeof want) == 0);
	}
	clcnn_loader_free(l);
	/* per-channel statistics for another channel count are refused */
	struct clcnn_normalize two = {2, {0, 0}, {1, 1}};
	struct clcnn_loader_options o = {.batch = 4, .norm = &two};
	char err[512];
	ck_assert_int_eq(clcnn_loader_new(s, &o, &l, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "fake: the normalisation has 2 channels but the samples have 3"), "%s", err);
	ck_assert_ptr_null(l);
	clcnn_source_close(s);
}
END_TEST

static const struct clcnn_augment all = {.hflip = 1, .translate = 2, .rotate = 10, .scale = 0.1, .elastic = 1};

START_TEST(threads_do_not_matter)
{
	struct fake f = {.fail_at = -1, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_normalize norm = {1, {0.3f}, {0.4f}};
	int order[N];
	uint64_t rng = 3;
	clcnn_dataset_shuffle(order, N, &rng);
	static struct pass one, three, again, other;
	struct clcnn_loader *l1 = loader(s, 4, 1, 1, &all, &norm), *l3 = loader(s, 4, 3, 5, &all, &norm);
	run_pass(l1, order, N, 42, &one);
	run_pass(l3, order, N, 42, &three);
	ck_assert(memcmp(&one, &three, sizeof one) == 0);
	/* the same seed again: the same bits; another seed: other augmentations, same labels */
	run_pass(l3, order, N, 42, &again);
	ck_assert(memcmp(&one, &again, sizeof one) == 0);
	run_pass(l3, order, N, 43, &other);
	/* more threads than slots: the extra ones wait their turn */
	struct clcnn_loader *l4 = loader(s, 4, 4, 1, &all, &norm);
	run_pass(l4, order, N, 42, &again);
	ck_assert(memcmp(&one, &again, sizeof one) == 0);
	clcnn_loader_free(l4);
	ck_assert(memcmp(one.img, other.img, sizeof one.img) != 0);
	ck_assert(memcmp(one.lab, other.lab, sizeof one.lab) == 0);
	clcnn_loader_free(l1);
	clcnn_loader_free(l3);
	clcnn_source_close(s);
}
END_TEST

START_TEST(augmentation_keyed_on_position)
{
	struct fake f = {.fail_at = -1, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	int order[N];
	reversed(order, N);
	static struct pass b4, b7, plain;
	/* another batch size moves samples between batches, not their augmentation */
	struct clcnn_loader *l4 = loader(s, 4, 2, 0, &all, NULL), *l7 = loader(s, 7, 3, 0, &all, NULL);
	struct clcnn_loader *ln = loader(s, 7, 1, 0, NULL, NULL);
	run_pass(l4, order, N, 9, &b4);
	run_pass(l7, order, N, 9, &b7);
	run_pass(ln, order, N, 9, &plain);
	ck_assert(memcmp(b4.img, b7.img, sizeof b4.img) == 0);
	/* and it does augment: most samples differ from the plain ones, and stay finite */
	int changed = 0;
	for (int i = 0; i < N; i++)
		changed += memcmp(b4.img + (size_t)i * PER, plain.img + (size_t)i * PER, PER * sizeof(float)) != 0;
	ck_assert_int_ge(changed, N - 2);
	for (int k = 0; k < N * PER; k++)
		ck_assert(isfinite(b4.img[k]));
	/* the augmentation follows the position, not the sample: with positions 0 and 1 swapped,
	 * sample 0 keeps position 22 and its bits, sample 22 moves to position 1 and changes */
	int other[N];
	reversed(other, N);
	other[0] = order[1];
	other[1] = order[0];
	static struct pass q;
	run_pass(l4, other, N, 9, &q);
	ck_assert(memcmp(q.img + 22 * PER, b4.img + 22 * PER, PER * sizeof(float)) == 0);
	ck_assert(memcmp(q.img + 1 * PER, b4.img + 0 * PER, PER * sizeof(float)) != 0);
	ck_assert(q.lab[1] == b4.lab[0]);
	clcnn_loader_free(l4);
	clcnn_loader_free(l7);
	clcnn_loader_free(ln);
	clcnn_source_close(s);
}
END_TEST

START_TEST(read_error_stops_the_pass)
{
	struct fake f = {.fail_at = 9, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_loader *l = loader(s, 4, 3, 3, NULL, NULL);
	char err[1024];
	const float *img, *lab;
	int n;
	ck_assert_int_eq(clcnn_loader_start(l, NULL, N, 1, err, sizeof err), 0);
	/* batches 0 and 1 (samples 0..7) come out; batch 2 holds sample 9 */
	for (int b = 0; b < 2; b++) {
		ck_assert_msg(clcnn_loader_next(l, &img, &lab, &n, NULL, err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(n, 4);
		ck_assert(lab[0] == (float)((4 * b) % 7));
	}
	strcpy(err, "");
	ck_assert_int_eq(clcnn_loader_next(l, &img, &lab, &n, NULL, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_str_eq(err, "fake: sample 9 is broken");
	ck_assert_int_eq(n, 0);
	ck_assert_ptr_null(img);
	/* it stays stopped, and a new pass without the sample runs */
	ck_assert_int_eq(clcnn_loader_next(l, &img, &lab, &n, NULL, err, sizeof err), CLCNN_ERR_FORMAT);
	static struct pass p;
	run_pass(l, NULL, 8, 1, &p);
	ck_assert_int_eq(p.nbatches, 2);
	clcnn_loader_free(l);
	clcnn_source_close(s);
}
END_TEST

START_TEST(restart_mid_pass)
{
	struct fake f = {.fail_at = -1, .slow_us = 200, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_loader *l = loader(s, 3, 3, 2, &all, NULL);
	static struct pass ref, p;
	int order[N];
	reversed(order, N);
	run_pass(l, order, N, 5, &ref);
	char err[256];
	const float *img, *lab;
	int n;
	for (int t = 0; t < 20; t++) {
		/* abandon a pass after t % 4 batches, with workers busy on the next ones */
		ck_assert_int_eq(clcnn_loader_start(l, NULL, N, 77, err, sizeof err), 0);
		for (int b = 0; b < t % 4; b++) {
			ck_assert_int_eq(clcnn_loader_next(l, &img, &lab, &n, NULL, err, sizeof err), 0);
			ck_assert_int_eq(n, 3);
		}
		run_pass(l, order, N, 5, &p);
		ck_assert(memcmp(&p, &ref, sizeof p) == 0);
	}
	/* free in the middle of a pass joins the workers */
	ck_assert_int_eq(clcnn_loader_start(l, NULL, N, 1, err, sizeof err), 0);
	clcnn_loader_free(l);
	clcnn_source_close(s);
}
END_TEST

START_TEST(reports_waiting)
{
	/* one slow worker: the first batch is not ready at once */
	struct fake f = {.fail_at = -1, .slow_us = 5000, .nd = 3};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_loader *l = loader(s, 4, 1, 1, NULL, NULL);
	char err[256];
	const float *img, *lab;
	int n;
	double waited = 0;
	ck_assert_int_eq(clcnn_loader_start(l, NULL, 8, 1, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_loader_next(l, &img, &lab, &n, &waited, err, sizeof err), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_msg(waited > 0.005 && waited < 10, "waited %g s", waited);
	clcnn_loader_free(l);
	clcnn_source_close(s);
}
END_TEST

START_TEST(feature_vectors)
{
	struct fake f = {.fail_at = -1, .nd = 1};
	struct clcnn_source *s = fake_open(&f);
	struct clcnn_loader_options o = {.batch = 4, .augment = &all};
	struct clcnn_loader *l;
	char err[512];
	ck_assert_int_eq(clcnn_loader_new(s, &o, &l, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "fake: augmentation works on images, but this source holds feature vectors of 90 "
				  "values"),
		      "%s", err);
	/* an augmentation that does nothing is no augmentation */
	struct clcnn_augment none = {0};
	o.augment = &none;
	ck_assert_msg(clcnn_loader_new(s, &o, &l, err, sizeof err) == 0, "%s", err);
	static struct pass p;
	run_pass(l, NULL, N, 1, &p);
	ck_assert(p.img[5 * PER + 89] == value(5, 89));
	clcnn_loader_free(l);
	clcnn_loader_free(NULL);
	clcnn_source_close(s);
}
END_TEST

START_TEST(crop_is_padded_translate)
{
	struct clcnn_augment a;
	char err[512];
	ck_assert_int_eq(clcnn_augment_parse("flip,crop=4", &a, err, sizeof err), 0);
	ck_assert_int_eq(a.translate, 4);
	ck_assert_int_eq(a.hflip, 1);
	ck_assert_int_eq(clcnn_augment_parse("crop", &a, err, sizeof err), 0);
	ck_assert_int_eq(a.translate, 4);
	ck_assert_int_eq(clcnn_augment_parse("crop=x", &a, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "bad augmentation 'crop=x'"), "%s", err);
	/* on RGB: every channel moves by the same shift, zeros come in */
	struct clcnn_augment t = {.translate = 2};
	float img[PER], tmp[(C + 2) * H * W];
	int shifted = 0;
	for (uint64_t seed = 1; seed < 40; seed++) {
		for (int k = 0; k < PER; k++)
			img[k] = 1 + (float)(k % (H * W));
		uint64_t rng = seed;
		clcnn_augment_sample(&t, img, C, H, W, tmp, &rng);
		for (int k = 0; k < H * W; k++) {
			ck_assert(img[k] == img[H * W + k] && img[k] == img[2 * H * W + k]);
			ck_assert(img[k] == 0 || img[k] == floorf(img[k]));
		}
		shifted += img[0] == 0 || img[H * W - 1] == 0;
	}
	ck_assert_int_gt(shifted, 10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, order_and_batches);
	tcase_add_test(tc, normalised);
	tcase_add_test(tc, threads_do_not_matter);
	tcase_add_test(tc, augmentation_keyed_on_position);
	tcase_add_test(tc, read_error_stops_the_pass);
	tcase_add_test(tc, restart_mid_pass);
	tcase_add_test(tc, reports_waiting);
	tcase_add_test(tc, feature_vectors);
	tcase_add_test(tc, crop_is_padded_translate);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
