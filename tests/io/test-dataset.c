/* Datasets in memory, augmentation and shuffling. */
#include <math.h>
#include <string.h>

#include "io/dataset.h"
#include "testutil.h"

START_TEST(augment_parse)
{
	struct clcnn_augment a;
	char err[512];
	ck_assert_int_eq(clcnn_augment_parse("flip,translate=3,rotate=5,scale=0.2,elastic=1", &a, err, sizeof err), 0);
	ck_assert_int_eq(a.hflip, 1);
	ck_assert_int_eq(a.translate, 3);
	ck_assert(a.rotate == 5 && a.scale == 0.2 && a.elastic == 1);
	ck_assert_int_eq(clcnn_augment_parse("none", &a, err, sizeof err), 0);
	ck_assert_int_eq(a.hflip + a.translate, 0);
	ck_assert_int_eq(clcnn_augment_parse("flip,spin=3", &a, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "bad augmentation 'spin=3'"), "%s", err);
	ck_assert_int_eq(clcnn_augment_parse("scale=1.5", &a, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_augment_parse("rotate=-1", &a, err, sizeof err), CLCNN_ERR_INVALID);
}
END_TEST

START_TEST(flip_and_translate)
{
	enum {
		H = 5,
		W = 7
	};
	float img[H * W], tmp[H * W], orig[H * W];
	for (int i = 0; i < H * W; i++)
		orig[i] = (float)i;
	/* flip: with probability 1/2 per image; over 64 draws both outcomes appear and are exact */
	struct clcnn_augment a = {.hflip = 1};
	uint64_t rng = 7;
	int flipped = 0, kept = 0;
	for (int t = 0; t < 64; t++) {
		memcpy(img, orig, sizeof img);
		clcnn_augment_batch(&a, img, 1, 1, H, W, tmp, &rng);
		if (!memcmp(img, orig, sizeof img)) {
			kept++;
			continue;
		}
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				ck_assert(img[y * W + x] == orig[y * W + (W - 1 - x)]);
		flipped++;
	}
	ck_assert_int_gt(flipped, 10);
	ck_assert_int_gt(kept, 10);
	/* translation moves content by whole pixels and fills zeros */
	struct clcnn_augment b = {.translate = 2};
	for (int t = 0; t < 20; t++) {
		memcpy(img, orig, sizeof img);
		clcnn_augment_batch(&b, img, 1, 1, H, W, tmp, &rng);
		int found = 0;
		for (int dy = -2; dy <= 2 && !found; dy++)
			for (int dx = -2; dx <= 2 && !found; dx++) {
				int ok = 1;
				for (int y = 0; y < H && ok; y++)
					for (int x = 0; x < W && ok; x++) {
						int sy = y - dy, sx = x - dx;
						float want =
							sy >= 0 && sy < H && sx >= 0 && sx < W ? orig[sy * W + sx] : 0;
						ok = fabsf(img[y * W + x] - want) < 1e-5f;
					}
				found = ok;
			}
		ck_assert_msg(found, "translated image is not a whole-pixel shift");
	}
}
END_TEST

START_TEST(shuffle_is_permutation)
{
	int p[100], seen[100] = {0};
	uint64_t r1 = 42, r2 = 42;
	clcnn_shuffle(p, 100, &r1);
	for (int i = 0; i < 100; i++)
		seen[p[i]]++;
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(seen[i], 1);
	int q[100];
	clcnn_shuffle(q, 100, &r2);
	ck_assert(memcmp(p, q, sizeof p) == 0);
	ck_assert(r1 == r2);
}
END_TEST

START_TEST(load_errors)
{
	struct clcnn_dataset d;
	char err[1024];
	ck_assert_int_eq(clcnn_dataset_load("/nonexistent/dir", "train", 10, &d, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_msg(strstr(err, "/nonexistent/dir: dataset directory does not exist"), "%s", err);
	const char *fm = "/usr/share/datasets/fashion-mnist";
	if (clcnn_dataset_load(fm, "t10k", 10, &d, err, sizeof err) == 0) {
		ck_assert_int_eq(d.n, 10000);
		ck_assert_int_eq(d.h, 28);
		ck_assert(d.images[0] >= 0 && d.images[0] <= 1);
		float img[2 * 784], lab[2];
		int perm[2] = {5, 0};
		clcnn_dataset_gather(&d, perm, 0, 2, 0.5f, 2.0f, img, lab);
		ck_assert(lab[0] == d.labels[5]);
		ck_assert(fabsf(img[784 + 100] - (d.images[100] - 0.5f) / 2.0f) < 1e-6f);
		clcnn_dataset_free(&d);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dataset");
	TCase *tc = tcase_create("dataset");
	tcase_add_test(tc, augment_parse);
	tcase_add_test(tc, flip_and_translate);
	tcase_add_test(tc, shuffle_is_permutation);
	tcase_add_test(tc, load_errors);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
