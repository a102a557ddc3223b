/*
 * The ImageFolder source: torchvision's class and file order, classes from the train folder,
 * hidden entries and other files skipped, the sample shape (given, or from the first training
 * image), center crop, reads from several threads, and the errors that name the folder or file.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/image.h"
#include "testutil.h"

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "%s", path);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* mkdir -p of root/rel's folders, then root/rel as a w x h gray PGM of one value (or text). */
static void put(const char *root, const char *rel, int w, int h, int value)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0777);
			*p = '/';
		}
	if (value < 0) {
		write_bytes(path, "not an image\n", 13);
		return;
	}
	unsigned char buf[64];
	int n = snprintf((char *)buf, sizeof buf, "P5 %d %d 255\n", w, h);
	ck_assert_int_le(n + w * h, (int)sizeof buf);
	memset(buf + n, value, (size_t)(w * h));
	write_bytes(path, buf, (size_t)(n + w * h));
}

static void mkdirs(const char *root, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	ck_assert_int_eq(mkdir(path, 0777), 0);
}

static struct clcnn_source *open_ok(const char *root, const char *split, int c, int h, int w, int crop)
{
	struct clcnn_source_options o = {.format = CLCNN_DATA_AUTO,
					 .split = split,
					 .channels = c,
					 .height = h,
					 .width = w,
					 .center_crop = crop};
	struct clcnn_source *s = NULL;
	char err[4096];
	int rc = clcnn_source_open(root, &o, &s, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	return s;
}

static void open_fails(const char *root, const char *split, int status, const char *what)
{
	struct clcnn_source_options o = {.format = CLCNN_DATA_IMAGEFOLDER, .split = split};
	struct clcnn_source *s = NULL;
	char err[4096] = "";
	int rc = clcnn_source_open(root, &o, &s, err, sizeof err);
	ck_assert_msg(rc == status, "rc %d (want %d): %s", rc, status, err);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, what) != NULL, "message \"%s\" lacks \"%s\"", err, what);
}

/* The value (x 255) and label of each sample, in order. */
static void expect_samples(struct clcnn_source *s, const int *values, const int *labels, int n)
{
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->n, n);
	float x[3 * 8 * 8], label;
	char err[4096];
	for (int i = 0; i < n; i++) {
		ck_assert_msg(clcnn_source_read(s, i, x, &label, err, sizeof err) == 0, "%s", err);
		ck_assert_msg(label == (float)labels[i], "sample %d: label %g, want %d", i, label, labels[i]);
		ck_assert_msg(fabsf(x[0] * 255 - (float)values[i]) < 1e-3, "sample %d: value %g, want %d", i,
			      x[0] * 255, values[i]);
	}
}

START_TEST(layout_and_order)
{
	char *root = test_tmpdir();
	/* class "b" sorts after "a"; ".hidden" and the file "c" are not classes */
	put(root, "train/b/name with spaces & \xc3\xbc.pgm", 2, 2, 50);
	put(root, "train/a/b.pgm", 2, 2, 11);
	put(root, "train/a/a.PGM", 2, 2, 10); /* extensions in any case */
	/* sorted(os.walk): the folder "a" before "a/a-dir", though "a-dir/..." < "a.pgm" as full paths */
	put(root, "train/a/a-dir/x.pgm", 2, 2, 12);
	put(root, "train/a/a-dir/deeper/y.ppm", 2, 2, 13);
	put(root, "train/a/notes.txt", 0, 0, -1);
	put(root, "train/a/.hidden.pgm", 2, 2, 99);
	put(root, "train/.hidden/z.pgm", 2, 2, 99);
	put(root, "train/c", 0, 0, -1);
	put(root, "test/b/t.pgm", 2, 2, 60);
	char fifo[4096];
	snprintf(fifo, sizeof fifo, "%s/train/b/fifo.png", root);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0); /* not a file: skipped, never opened (it would block) */
	/* a test split may lack a class: labels still come from train */
	struct clcnn_source *s = open_ok(root, "train", 0, 0, 0, 0);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->format, CLCNN_DATA_IMAGEFOLDER);
	ck_assert_int_eq(in->nd, 3);
	ck_assert_int_eq(in->classes, 2);
	ck_assert_str_eq(in->class_names[0], "a");
	ck_assert_str_eq(in->class_names[1], "b");
	ck_assert_str_eq(in->layout, "files");
	/* the first file, a.PGM, is gray 2x2; y.ppm is a PGM in content (the content decides) */
	ck_assert_int_eq(in->c, 1);
	ck_assert_int_eq(in->h, 2);
	ck_assert_int_eq(in->w, 2);
	expect_samples(s, (const int[]){10, 11, 12, 13, 50}, (const int[]){0, 0, 0, 0, 1}, 5);
	clcnn_source_close(s);
	s = open_ok(root, "test", 0, 0, 0, 0);
	ck_assert_int_eq(clcnn_source_info(s)->classes, 2);
	expect_samples(s, (const int[]){60}, (const int[]){1}, 1);
	clcnn_source_close(s);
	test_rmtree(root);
	free(root);
}
END_TEST

START_TEST(sample_shape)
{
	char *root = test_tmpdir();
	char path[4096];
	/* the first training image is a 3 x 2 RGB PNG; the others differ and are resized to it */
	put(root, "train/k/b.pgm", 4, 4, 200);
	unsigned char rgb[2 * 3 * 3];
	for (int i = 0; i < 18; i++)
		rgb[i] = (unsigned char)(i % 3 == 0 ? 255 : 0); /* red */
	snprintf(path, sizeof path, "%s/train/k/a.png", root);
	char err[4096];
	ck_assert_msg(clcnn_image_write_png(path, 3, 2, 3, rgb, err, sizeof err) == 0, "%s", err);
	put(root, "test/k/c.pgm", 5, 1, 100); /* test's own first image does not decide */
	struct clcnn_source *s = open_ok(root, "test", 0, 0, 0, 0);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->c, 3);
	ck_assert_int_eq(in->h, 2);
	ck_assert_int_eq(in->w, 3);
	float x[64], label;
	ck_assert_int_eq(clcnn_source_read(s, 0, x, &label, err, sizeof err), 0);
	for (int i = 0; i < 3 * 6; i++)
		ck_assert_msg(fabsf(x[i] - 100.0f / 255) < 1e-6, "[%d] %g", i, x[i]);
	clcnn_source_close(s);
	/* train: the PNG as written, the gray one replicated */
	s = open_ok(root, "train", 0, 0, 0, 0);
	ck_assert_int_eq(clcnn_source_read(s, 0, x, &label, err, sizeof err), 0);
	ck_assert(x[0] == 1.0f && x[6] == 0.0f && x[12] == 0.0f);
	ck_assert_int_eq(clcnn_source_read(s, 1, x, &label, err, sizeof err), 0);
	ck_assert(fabsf(x[0] - 200.0f / 255) < 1e-6 && x[0] == x[6] && x[0] == x[12]);
	clcnn_source_close(s);
	/* asked for: 1 x 4 x 4 (red in luma), and with center_crop and no size, the square's side */
	s = open_ok(root, "train", 1, 4, 4, 0);
	in = clcnn_source_info(s);
	ck_assert(in->c == 1 && in->h == 4 && in->w == 4);
	ck_assert_int_eq(clcnn_source_read(s, 0, x, &label, err, sizeof err), 0);
	ck_assert_msg(fabsf(x[15] - 0.299f) < 1e-6, "%g", x[15]);
	clcnn_source_close(s);
	s = open_ok(root, "train", 0, 0, 0, 1);
	in = clcnn_source_info(s);
	ck_assert(in->c == 3 && in->h == 2 && in->w == 2);
	clcnn_source_close(s);
	test_rmtree(root);
	free(root);
}
END_TEST

START_TEST(errors)
{
	char *root = test_tmpdir();
	char want[4200];
	put(root, "train/a/x.pgm", 2, 2, 1);
	snprintf(want, sizeof want, "%s/test: no such folder", root);
	open_fails(root, "test", CLCNN_ERR_IO, want);
	open_fails(root, "test", CLCNN_ERR_IO, "the dataset has no test split; --val-split F");
	put(root, "test/zz/x.pgm", 2, 2, 1);
	snprintf(want, sizeof want, "%s/test/zz: class folder 'zz' is not in %s/train", root, root);
	open_fails(root, "test", CLCNN_ERR_FORMAT, want);
	mkdirs(root, "train/b");
	put(root, "train/b/readme.txt", 0, 0, -1);
	snprintf(want, sizeof want, "%s/train/b: no image files (.png .jpg .jpeg .ppm .pgm) in class folder 'b'", root);
	open_fails(root, "train", CLCNN_ERR_FORMAT, want);
	test_rmtree(root);
	free(root);

	/* no class folders at all; then a bad image: the read fails naming the file */
	root = test_tmpdir();
	mkdirs(root, "train");
	snprintf(want, sizeof want, "%s/train: no class folders", root);
	open_fails(root, "train", CLCNN_ERR_FORMAT, want);
	put(root, "train/a/1.pgm", 2, 2, 1);
	put(root, "train/a/2.png", 0, 0, -1); /* text in a .png */
	char link[4096];
	snprintf(link, sizeof link, "%s/train/a/3.png", root);
	ck_assert_int_eq(symlink("nowhere.png", link), 0); /* a broken link is listed and named at read */
	struct clcnn_source *s = open_ok(root, "train", 0, 0, 0, 0);
	float x[4], label;
	char err[4096];
	ck_assert_int_eq(clcnn_source_read(s, 1, x, &label, err, sizeof err), CLCNN_ERR_FORMAT);
	snprintf(want, sizeof want, "%s/train/a/2.png: unknown image format", root);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	ck_assert_int_eq(clcnn_source_read(s, 2, x, &label, err, sizeof err), CLCNN_ERR_IO);
	snprintf(want, sizeof want, "%s/train/a/3.png: cannot open: No such file or directory", root);
	ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	clcnn_source_close(s);
	test_rmtree(root);
	free(root);
}
END_TEST

struct reader {
	struct clcnn_source *s;
	float sum;
	int rc;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	float x[3 * 8 * 8], label;
	char err[256];
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < clcnn_source_info(r->s)->n && !r->rc; i++) {
			r->rc = clcnn_source_read(r->s, i, x, &label, err, sizeof err);
			for (int k = 0; k < 3 * 8 * 8; k++)
				r->sum += x[k] * (float)(i + 1);
		}
	return NULL;
}

/* Reads from several threads at once give what one thread gets (no shared decoder state). */
START_TEST(threads)
{
	char *root = test_tmpdir();
	char rel[64];
	for (int i = 0; i < 6; i++) {
		snprintf(rel, sizeof rel, "train/c%d/%d.pgm", i % 2, i);
		put(root, rel, 3 + i % 3, 5, 30 * i);
	}
	struct clcnn_source *s = open_ok(root, "train", 3, 8, 8, 0);
	struct reader one = {s, 0, 0}, r[4];
	read_all(&one);
	ck_assert_int_eq(one.rc, 0);
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){s, 0, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, read_all, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].rc, 0);
		ck_assert(r[i].sum == one.sum);
	}
	clcnn_source_close(s);
	test_rmtree(root);
	free(root);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("folder");
	TCase *tc = tcase_create("folder");
	tcase_add_test(tc, layout_and_order);
	tcase_add_test(tc, sample_shape);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
