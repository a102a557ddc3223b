/* What a weights file says about its inputs: normalisation and class names (no device needed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/data.h"
#include "clcnn/graph.h"
#include "io/io.h"
#include "testutil.h"

/* A safetensors file with one tensor and the given metadata (NULL-terminated key/value list). */
static char *write_weights(const char *dir, const char *name, const char *const *kv)
{
	static const float w[2] = {1, 2};
	const int64_t shape[1] = {2};
	char *path = malloc(strlen(dir) + strlen(name) + 2);
	ck_assert_ptr_nonnull(path);
	sprintf(path, "%s/%s", dir, name);
	struct clcnn_st_writer *wr;
	char err[512];
	ck_assert_int_eq(clcnn_st_writer_new(&wr), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "fc.weight", "F32", 1, shape, w, err, sizeof err), 0);
	for (int i = 0; kv && kv[i]; i += 2)
		ck_assert_int_eq(clcnn_st_writer_meta(wr, kv[i], kv[i + 1], err, sizeof err), 0);
	ck_assert_msg(clcnn_st_write(wr, path, err, sizeof err) == 0, "%s", err);
	clcnn_st_writer_free(wr);
	return path;
}

START_TEST(normalize_parse)
{
	struct clcnn_normalize n;
	char err[256];
	ck_assert_int_eq(clcnn_normalize_parse("0.5", "0.25", &n, err, sizeof err), 0);
	ck_assert_int_eq(n.channels, 1);
	ck_assert(n.mean[0] == 0.5f && n.std[0] == 0.25f);
	ck_assert_int_eq(clcnn_normalize_parse("0.485, 0.456,0.406", "0.229,0.224,0.225", &n, err, sizeof err), 0);
	ck_assert_int_eq(n.channels, 3);
	ck_assert(n.mean[1] == 0.456f && n.std[2] == 0.225f);
	/* a single value on one side is used for every channel */
	ck_assert_int_eq(clcnn_normalize_parse("0.1,0.2", "2", &n, err, sizeof err), 0);
	ck_assert_int_eq(n.channels, 2);
	ck_assert(n.std[0] == 2.0f && n.std[1] == 2.0f && n.mean[1] == 0.2f);

	const char *bad[][2] = {{"abc", "1"},  {"0.5", ""},  {"1,", "1"},     {"0.5", "0"},
				{"0.5", "-1"}, {"nan", "1"}, {"0.5", "1e39"}, {"1,2", "1,2,3"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n.channels = 7;
		ck_assert_int_eq(clcnn_normalize_parse(bad[i][0], bad[i][1], &n, err, sizeof err), CLCNN_ERR_INVALID);
		ck_assert_int_eq(n.channels, 7); /* untouched on failure */
		ck_assert(strlen(err) > 0);
	}
	ck_assert_int_eq(clcnn_normalize_parse("1,2", "1,2,3", &n, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "mean has 2 values and std 3"), "%s", err);
	/* CLCNN_MAX_CHANNELS values fit (a CSV's features), one more does not */
	char many[8 * (CLCNN_MAX_CHANNELS + 1)] = "";
	for (int i = 0; i < CLCNN_MAX_CHANNELS; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? "," : "", i);
	ck_assert_int_eq(clcnn_normalize_parse(many, "1", &n, err, sizeof err), 0);
	ck_assert_int_eq(n.channels, CLCNN_MAX_CHANNELS);
	ck_assert(n.mean[CLCNN_MAX_CHANNELS - 1] == (float)(CLCNN_MAX_CHANNELS - 1));
	char mtext[CLCNN_NORMALIZE_TEXT_MAX], stext[CLCNN_NORMALIZE_TEXT_MAX];
	for (int i = 0; i < CLCNN_MAX_CHANNELS; i++)
		n.mean[i] = n.std[i] = -1.17549435e-38f; /* the longest "%.9g" of a float: 15 characters */
	ck_assert_int_eq(clcnn_normalize_format(&n, mtext, stext, sizeof mtext), 0);
	snprintf(many + strlen(many), sizeof many - strlen(many), ",1");
	ck_assert_int_eq(clcnn_normalize_parse(many, "1", &n, err, sizeof err), CLCNN_ERR_INVALID);
}
END_TEST

START_TEST(normalize_format_round_trip)
{
	struct clcnn_normalize n = {3, {0.2860f, 0.1f, -2.5f}, {0.3530f, 1e-6f, 3.0f}}, back;
	char mean[64], std[64], err[256];
	ck_assert_int_eq(clcnn_normalize_format(&n, mean, std, sizeof mean), 0);
	ck_assert_str_eq(mean, "0.286,0.1,-2.5");
	ck_assert_str_eq(std, "0.353,1e-06,3");
	ck_assert_int_eq(clcnn_normalize_parse(mean, std, &back, err, sizeof err), 0);
	ck_assert(!memcmp(&n, &back, sizeof n));
	/* a float that needs 9 digits comes back exactly too */
	struct clcnn_normalize odd = {1, {0.1f + 1e-8f}, {1.0f / 3.0f}};
	ck_assert_int_eq(clcnn_normalize_format(&odd, mean, std, sizeof mean), 0);
	ck_assert_int_eq(clcnn_normalize_parse(mean, std, &back, err, sizeof err), 0);
	ck_assert(back.mean[0] == odd.mean[0] && back.std[0] == odd.std[0]);
	ck_assert_int_eq(clcnn_normalize_format(&n, mean, std, 8), CLCNN_ERR_INVALID);
	struct clcnn_normalize none = {0};
	ck_assert_int_eq(clcnn_normalize_format(&none, mean, std, sizeof mean), CLCNN_ERR_INVALID);
}
END_TEST

START_TEST(normalize_apply)
{
	float x[2 * 2 * 1] = {1, 0.5f, 1, 3};
	struct clcnn_normalize one = {1, {0.5f}, {0.25f}};
	ck_assert_int_eq(clcnn_normalize_apply(&one, x, 2, 2, 1), 0);
	ck_assert(x[0] == 2.0f && x[1] == 0.0f && x[2] == 2.0f && x[3] == 10.0f);
	float y[2 * 2] = {1, 2, 1, 2};
	struct clcnn_normalize two = {2, {1, 0}, {1, 0.5f}};
	ck_assert_int_eq(clcnn_normalize_apply(&two, y, 2, 1, 2), 0);
	ck_assert(y[0] == 0.0f && y[1] == 1.0f && y[2] == 2.0f && y[3] == 4.0f);
	/* per-channel statistics for another channel count: refused, data untouched */
	float z[3] = {1, 2, 3};
	ck_assert_int_eq(clcnn_normalize_apply(&two, z, 3, 1, 1), CLCNN_ERR_INVALID);
	ck_assert(z[0] == 1.0f && z[1] == 2.0f && z[2] == 3.0f);
	struct clcnn_normalize none = {0};
	ck_assert_int_eq(clcnn_normalize_apply(&none, z, 3, 1, 1), 0);
	ck_assert(z[0] == 1.0f && z[2] == 3.0f);
}
END_TEST

START_TEST(classes_round_trip)
{
	const char *names[] = {"T-shirt/top", "say \"hi\"", "ünïcode", ""};
	char *json;
	ck_assert_int_eq(clcnn_classes_format(names, 4, &json), 0);
	ck_assert_str_eq(json, "[\"T-shirt/top\",\"say \\\"hi\\\"\",\"ünïcode\",\"\"]");
	char **back, err[256];
	int n = -1;
	ck_assert_int_eq(clcnn_classes_parse(json, &back, &n, err, sizeof err), 0);
	ck_assert_int_eq(n, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(back[i], names[i]);
	ck_assert_ptr_null(back[4]);
	clcnn_classes_free(back);
	free(json);
	clcnn_classes_free(NULL);

	ck_assert_int_eq(clcnn_classes_parse("[\"a\", 3]", &back, &n, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_ptr_null(back);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(clcnn_classes_parse("{\"a\": 1}", &back, NULL, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_int_eq(clcnn_classes_parse("[\"a\"", &back, NULL, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_int_eq(clcnn_classes_parse("[]", &back, &n, err, sizeof err), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_ptr_null(back[0]);
	clcnn_classes_free(back);
}
END_TEST

START_TEST(from_weights)
{
	char *dir = test_tmpdir(), err[1024];
	const char *kv[] = {CLCNN_META_MEAN,
			    "0.5",
			    CLCNN_META_STD,
			    "0.25",
			    CLCNN_META_CLASSES,
			    "[\"cat\",\"dog\"]",
			    "other",
			    "x",
			    NULL};
	char *full = write_weights(dir, "full.safetensors", kv);
	struct clcnn_normalize n;
	ck_assert_msg(clcnn_normalize_from_weights(full, &n, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(n.channels, 1);
	ck_assert(n.mean[0] == 0.5f && n.std[0] == 0.25f);
	char **names;
	int count;
	ck_assert_int_eq(clcnn_classes_from_weights(full, &names, &count, err, sizeof err), 0);
	ck_assert_int_eq(count, 2);
	ck_assert_str_eq(names[0], "cat");
	ck_assert_str_eq(names[1], "dog");
	clcnn_classes_free(names);
	char *v;
	ck_assert_int_eq(clcnn_weights_meta(full, "other", &v, err, sizeof err), 0);
	ck_assert_str_eq(v, "x");
	free(v);
	ck_assert_int_eq(clcnn_weights_meta(full, "absent", &v, err, sizeof err), 0);
	ck_assert_ptr_null(v);

	/* no metadata: nothing to apply, no names, and no error */
	char *bare = write_weights(dir, "bare.safetensors", NULL);
	n.channels = 5;
	ck_assert_int_eq(clcnn_normalize_from_weights(bare, &n, err, sizeof err), 0);
	ck_assert_int_eq(n.channels, 0);
	ck_assert_int_eq(clcnn_classes_from_weights(bare, &names, &count, err, sizeof err), 0);
	ck_assert_ptr_null(names);
	ck_assert_int_eq(count, 0);

	/* malformed or half present: CLCNN_ERR_FORMAT naming the file and the key */
	const char *half[] = {CLCNN_META_MEAN, "0.5", NULL};
	char *p = write_weights(dir, "half.safetensors", half);
	ck_assert_int_eq(clcnn_normalize_from_weights(p, &n, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_msg(strstr(err, "half.safetensors") && strstr(err, CLCNN_META_STD), "%s", err);
	free(p);
	const char *bad[] = {CLCNN_META_MEAN, "0.5", CLCNN_META_STD, "zero", CLCNN_META_CLASSES, "cat,dog", NULL};
	p = write_weights(dir, "bad.safetensors", bad);
	ck_assert_int_eq(clcnn_normalize_from_weights(p, &n, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_msg(strstr(err, "bad.safetensors") && strstr(err, "zero"), "%s", err);
	ck_assert_int_eq(clcnn_classes_from_weights(p, &names, &count, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_msg(strstr(err, "bad.safetensors") && strstr(err, CLCNN_META_CLASSES), "%s", err);
	free(p);

	/* not there / not safetensors */
	ck_assert_int_eq(clcnn_normalize_from_weights("/nonexistent/x.safetensors", &n, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_msg(strstr(err, "/nonexistent/x.safetensors"), "%s", err);
	free(full);
	free(bare);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(dataset_public_api)
{
	/* the public names reach the same implementation as the internal ones */
	const char *const *fm = clcnn_dataset_fashion_mnist_classes();
	ck_assert_str_eq(fm[0], "T-shirt/top");
	ck_assert_str_eq(fm[9], "Ankle boot");
	int p[50], seen[50] = {0};
	uint64_t rng = 42, rng2 = 42;
	clcnn_dataset_shuffle(p, 50, &rng);
	int moved = 0;
	for (int i = 0; i < 50; i++) {
		ck_assert(p[i] >= 0 && p[i] < 50);
		seen[p[i]]++;
		moved += p[i] != i;
	}
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_int_gt(moved, 25);
	int q[50];
	clcnn_dataset_shuffle(q, 50, &rng2);
	ck_assert(!memcmp(p, q, sizeof p));
	ck_assert(rng == rng2 && rng != 42);
	clcnn_dataset_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("weights-meta");
	TCase *tc = tcase_create("weights-meta");
	tcase_add_test(tc, normalize_parse);
	tcase_add_test(tc, normalize_format_round_trip);
	tcase_add_test(tc, normalize_apply);
	tcase_add_test(tc, classes_round_trip);
	tcase_add_test(tc, from_weights);
	tcase_add_test(tc, dataset_public_api);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
