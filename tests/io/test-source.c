/*
 * Data sources of IDX, CIFAR and CSV files: shapes, values and labels read back from small files
 * written here, the held-out split, statistics, format detection and the messages of malformed files.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/io.h"
#include "io/source.h"
#include "testutil.h"

static char *dir; /* per test (each test runs in its own process) */

/* A byte as a sample value: scaled as clcnn_dataset_load does, so that both paths train alike. */
static float u8(int v)
{
	return (float)(unsigned char)v * (1.0f / 255.0f);
}

static void put(const char *name, const void *data, size_t n, int gz)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	if (gz) {
		gzFile g = gzopen(p, "wb6");
		ck_assert_ptr_nonnull(g);
		ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
		ck_assert_int_eq(gzclose(g), Z_OK);
		return;
	}
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void put_text(const char *name, const char *text)
{
	put(name, text, strlen(text), 0);
}

/* An IDX file of uint8 with the given dims and data. */
static void put_idx(const char *name, int ndim, const int *dims, const unsigned char *data, int gz)
{
	size_t count = 1, k = 0;
	for (int d = 0; d < ndim; d++)
		count *= (size_t)dims[d];
	unsigned char *b = malloc(4 + 4 * (size_t)ndim + count);
	ck_assert_ptr_nonnull(b);
	b[k++] = 0, b[k++] = 0, b[k++] = 8, b[k++] = (unsigned char)ndim;
	for (int d = 0; d < ndim; d++)
		for (int s = 24; s >= 0; s -= 8)
			b[k++] = (unsigned char)(dims[d] >> s);
	memcpy(b + k, data, count);
	put(name, b, k + count, gz);
	free(b);
}

static void setup(void)
{
	dir = test_tmpdir();
}

static void teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

static struct clcnn_source *open_ok(const char *path, const struct clcnn_source_options *o)
{
	struct clcnn_source *s = NULL;
	char err[4096] = "";
	int rc = clcnn_source_open(path, o, &s, err, sizeof err);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Open must fail with status and exactly the message want (every "%s" standing for dir). */
static void open_fails(const char *path, const struct clcnn_source_options *o, int status, const char *want)
{
	struct clcnn_source *s = (void *)1;
	char err[4096] = "", msg[8192] = "";
	int rc = clcnn_source_open(path, o, &s, err, sizeof err);
	for (const char *p = want, *q; *p; p = q + 2) {
		q = strstr(p, "%s");
		if (!q) {
			snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s", p);
			break;
		}
		snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%.*s%s", (int)(q - p), p, dir);
	}
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, msg);
	ck_assert_int_eq(rc, status);
}

static float read_ok(struct clcnn_source *s, int i, float *dst)
{
	float label = -1;
	char err[1024] = "";
	ck_assert_msg(clcnn_source_read(s, i, dst, &label, err, sizeof err) == 0, "%s", err);
	return label;
}

/* ------------------------------------------------------------------------ IDX */

/* Three 4 x 5 images, pixel q of image i = 20 i + q; labels 2, 0, 5. */
static void put_mnist(const char *prefix, int gz)
{
	unsigned char px[60], lb[3] = {2, 0, 5};
	for (int q = 0; q < 60; q++)
		px[q] = (unsigned char)q;
	char a[256], b[256];
	snprintf(a, sizeof a, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
	snprintf(b, sizeof b, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
	put_idx(a, 3, (int[]){3, 4, 5}, px, gz);
	put_idx(b, 1, (int[]){3}, lb, gz);
}

static void check_mnist(const struct clcnn_source_options *o)
{
	struct clcnn_source *s = open_ok(dir, o);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->format, CLCNN_DATA_IDX);
	ck_assert_int_eq(in->n, 3);
	ck_assert_int_eq(in->nd, 3);
	ck_assert_int_eq(in->c, 1);
	ck_assert_int_eq(in->h, 4);
	ck_assert_int_eq(in->w, 5);
	ck_assert_int_eq(in->classes, 6);
	ck_assert_ptr_null(in->class_names);
	ck_assert_str_eq(in->layout, "NCHW");
	float x[20];
	ck_assert_float_eq(read_ok(s, 1, x), 0.0f);
	for (int q = 0; q < 20; q++)
		ck_assert_float_eq(x[q], u8(20 + q));
	ck_assert_float_eq(read_ok(s, 2, x), 5.0f);
	ck_assert_float_eq(x[19], u8(59));
	clcnn_source_close(s);
}

START_TEST(idx_plain_and_gzip)
{
	put_mnist("train", 0);
	put_mnist("t10k", 1);
	check_mnist(NULL);
	check_mnist(&(struct clcnn_source_options){.split = "test"});
	check_mnist(&(struct clcnn_source_options){.split = "t10k", .format = CLCNN_DATA_IDX});
}
END_TEST

START_TEST(idx_test_names)
{
	put_mnist("train", 1);
	put_mnist("test", 0);
	check_mnist(&(struct clcnn_source_options){.split = "test"});
}
END_TEST

/* IDX names from classes.txt: at least max label + 1 of them, which then is the class count */
START_TEST(idx_classes_txt)
{
	put_mnist("train", 0);
	const char names[] = "zero\n one \r\n\ntwo\nthree\nfour\nfive\nsix\n";
	put("classes.txt", names, sizeof names - 1, 0);
	struct clcnn_source *s = open_ok(dir, NULL);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->classes, 7);
	ck_assert_str_eq(in->class_names[1], "one");
	ck_assert_str_eq(in->class_names[6], "six");
	clcnn_source_close(s);
	put("classes.txt", "a\nb\n", 4, 0);
	char msg[4400];
	snprintf(msg, sizeof msg, "%s/classes.txt: 2 class names, but the labels go up to 5", dir);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT, msg);
}
END_TEST

/* 4-D files: value of (n, c, y, x) = 100 n + 30 c + 5 y + x, whatever order the file stores. */
START_TEST(idx_four_dims)
{
	enum {
		N = 2,
		C = 3,
		H = 4,
		W = 5
	};
	unsigned char nhwc[N * H * W * C], nchw[N * C * H * W];
	unsigned char lb[N] = {1, 3};
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++) {
					unsigned char v = (unsigned char)(100 * n + 30 * c + 5 * y + x);
					nhwc[((n * H + y) * W + x) * C + c] = v;
					nchw[((n * C + c) * H + y) * W + x] = v;
				}
	const char *layouts[2] = {"NHWC", "NCHW"};
	for (int t = 0; t < 2; t++) {
		/* t 0: NHWC in an idx4 file (auto: dim 3 is 3, so not NCHW); t 1: NCHW under an idx3 name */
		put_idx(t ? "train-images-idx3-ubyte" : "train-images-idx4-ubyte", 4,
			t ? (int[]){N, C, H, W} : (int[]){N, H, W, C}, t ? nchw : nhwc, 0);
		put_idx("train-labels-idx1-ubyte", 1, (int[]){N}, lb, 0);
		struct clcnn_source_options o = {.layout = CLCNN_LAYOUT_AUTO};
		struct clcnn_source *s = open_ok(dir, &o);
		const struct clcnn_source_info *in = clcnn_source_info(s);
		ck_assert_str_eq(in->layout, layouts[t]);
		ck_assert_int_eq(in->c, C);
		ck_assert_int_eq(in->h, H);
		ck_assert_int_eq(in->w, W);
		ck_assert_int_eq(in->classes, 4);
		float x[C * H * W];
		ck_assert_float_eq(read_ok(s, 1, x), 3.0f);
		for (int c = 0; c < C; c++)
			for (int q = 0; q < H * W; q++)
				ck_assert_float_eq(x[c * H * W + q], u8(100 + 30 * c + 5 * (q / W) + q % W));
		clcnn_source_close(s);
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", dir, t ? "train-images-idx3-ubyte" : "train-images-idx4-ubyte");
		ck_assert_int_eq(remove(p), 0);
	}
	/* the layout option overrides the guess: the NHWC bytes read as NCHW give 4 x 5 x 3 */
	put_idx("train-images-idx4-ubyte", 4, (int[]){N, H, W, C}, nhwc, 1);
	struct clcnn_source *s = open_ok(dir, &(struct clcnn_source_options){.layout = CLCNN_LAYOUT_NCHW});
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_str_eq(in->layout, "NCHW");
	ck_assert_int_eq(in->c, H);
	ck_assert_int_eq(in->h, W);
	ck_assert_int_eq(in->w, C);
	float x[C * H * W];
	read_ok(s, 0, x);
	for (int q = 0; q < C * H * W; q++)
		ck_assert_float_eq(x[q], u8(nhwc[q]));
	clcnn_source_close(s);
}
END_TEST

START_TEST(idx_missing_and_malformed)
{
	put_mnist("train", 0);
	struct clcnn_source_options o = {.split = "test"};
	open_fails(dir, &o, CLCNN_ERR_IO,
		   "%s/t10k-images-idx3-ubyte[.gz]: no such file (nor test-images-idx3-ubyte[.gz] or the -idx4-ubyte "
		   "names) (the dataset has no test split; --val-split F holds out a fraction of the training split)");
	/* the backend itself says that the split is missing, not the dataset */
	struct clcnn_source s = {0};
	int missing = 0;
	char err[1024];
	ck_assert_int_eq(clcnn_source_open_idx(&s, dir, "test", &o, &missing, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_int_eq(missing, 1);
	ck_assert_int_eq(clcnn_source_open_idx(&s, dir, "train", &o, &missing, err, sizeof err), 0);
	ck_assert_int_eq(missing, 0);
	s.close(&s);

	static const unsigned char lb[64] = {0};
	put_idx("train-labels-idx1-ubyte", 1, (int[]){4}, lb, 0);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT,
		   "%s/train-images-idx3-ubyte has 3 images but %s/train-labels-idx1-ubyte has 4 labels");
	put_idx("train-labels-idx1-ubyte", 2, (int[]){3, 1}, lb, 0);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT,
		   "%s/train-labels-idx1-ubyte: wrong IDX magic 0x00000802 (expected 0x00000801 for uint8 labels)");
	put_idx("train-labels-idx1-ubyte", 1, (int[]){3}, lb, 0);
	static const char trunc[] = "\0\0\x08\x03\0\0\0\x03\0\0\0\x04\0\0\0\x05xyz";
	put("train-images-idx3-ubyte", trunc, sizeof trunc - 1, 0);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT,
		   "%s/train-images-idx3-ubyte: truncated IDX data: expected 60 bytes after the 16-byte header, got 3");
	put_idx("train-images-idx3-ubyte", 2, (int[]){3, 20}, lb, 0);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT,
		   "%s/train-images-idx3-ubyte: IDX images of 2 dims (expected 3, N x H x W, or 4, N x H x W x C or N "
		   "x C x H x W)");
	char p[4200];
	snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
	ck_assert_int_eq(remove(p), 0);
	put_mnist("train", 0);
	ck_assert_int_eq(remove(p), 0);
	open_fails(dir, &(struct clcnn_source_options){.format = CLCNN_DATA_IDX}, CLCNN_ERR_IO,
		   "%s/train-labels-idx1-ubyte[.gz]: no such file (the labels of %s/train-images-idx3-ubyte)");
}
END_TEST

/* The real Fashion-MNIST test split: the source reads exactly what clcnn_dataset_load holds. */
START_TEST(idx_fashion_mnist)
{
	const char *fm = "/usr/share/datasets/fashion-mnist";
	char p[4200];
	snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", fm);
	if (access(p, R_OK)) {
		fprintf(stderr, "skipped: %s not present\n", fm);
		return;
	}
	struct clcnn_dataset d;
	char err[1024];
	ck_assert_msg(clcnn_dataset_load(fm, "t10k", 10, &d, err, sizeof err) == 0, "%s", err);
	struct clcnn_source *s = open_ok(fm, &(struct clcnn_source_options){.split = "test"});
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->n, 10000);
	ck_assert_int_eq(in->classes, 10);
	ck_assert_int_eq(in->c * in->h * in->w, 784);
	/* recognised by its labels, so the names come from the data */
	ck_assert_ptr_nonnull(in->class_names);
	ck_assert_str_eq(in->class_names[0], "T-shirt/top");
	ck_assert_str_eq(in->class_names[9], "Ankle boot");
	float x[784];
	for (int i = 0; i < d.n; i += 997) {
		ck_assert_float_eq(read_ok(s, i, x), d.labels[i]);
		ck_assert_mem_eq(x, d.images + (size_t)i * 784, sizeof x);
	}
	clcnn_source_close(s);
	clcnn_dataset_free(&d);
}
END_TEST

/* ---------------------------------------------------------------------- CIFAR */

/* Records first .. first+n-1 of a CIFAR file: label bytes, then pixel k = (7 g + k) mod 256. */
static void put_cifar(const char *name, int first, int n, int cifar100)
{
	size_t rec = 3072 + (cifar100 ? 2 : 1);
	unsigned char *b = malloc(rec * (size_t)n);
	ck_assert_ptr_nonnull(b);
	for (int r = 0; r < n; r++) {
		int g = first + r;
		unsigned char *p = b + rec * (size_t)r;
		if (cifar100) {
			p[0] = (unsigned char)(g % 20);
			p[1] = (unsigned char)(g * 37 % 100);
		} else {
			p[0] = (unsigned char)(g % 10);
		}
		for (int k = 0; k < 3072; k++)
			p[rec - 3072 + (size_t)k] = (unsigned char)(7 * g + k);
	}
	put(name, b, rec * (size_t)n, 0);
	free(b);
}

static void check_pixels(const float *x, int g)
{
	for (int k = 0; k < 3072; k += 97)
		ck_assert_float_eq(x[k], u8(7 * g + k));
	ck_assert_float_eq(x[1024], u8(7 * g + 1024)); /* G plane */
	ck_assert_float_eq(x[3071], u8(7 * g + 3071));
}

START_TEST(cifar10)
{
	put_cifar("data_batch_1.bin", 0, 3, 0);
	put_cifar("data_batch_2.bin", 3, 2, 0);
	put_cifar("test_batch.bin", 40, 1, 0);
	put_text("batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\r\ndog\nfrog\n\nhorse\nship\ntruck\n\n\n");
	struct clcnn_source *s = open_ok(dir, NULL);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->format, CLCNN_DATA_CIFAR10);
	ck_assert_int_eq(in->n, 5);
	ck_assert_int_eq(in->c, 3);
	ck_assert_int_eq(in->h, 32);
	ck_assert_int_eq(in->w, 32);
	ck_assert_int_eq(in->classes, 10);
	ck_assert_str_eq(in->layout, "NCHW");
	ck_assert_ptr_nonnull(in->class_names);
	ck_assert_str_eq(in->class_names[3], "cat");
	ck_assert_str_eq(in->class_names[4], "deer");
	ck_assert_str_eq(in->class_names[9], "truck");
	float x[3072];
	for (int g = 0; g < 5; g++) {
		ck_assert_float_eq(read_ok(s, g, x), (float)(g % 10));
		check_pixels(x, g);
	}
	clcnn_source_close(s);
	s = open_ok(dir, &(struct clcnn_source_options){.split = "test"});
	ck_assert_int_eq(clcnn_source_info(s)->n, 1);
	ck_assert_float_eq(read_ok(s, 0, x), 0.0f);
	check_pixels(x, 40);
	clcnn_source_close(s);
	/* a class list of the wrong length is an error, not a guess */
	put_text("batches.meta.txt", "airplane\nautomobile\n");
	open_fails(dir, NULL, CLCNN_ERR_FORMAT, "%s/batches.meta.txt: 2 class names, expected 10 (one per line)");
}
END_TEST

START_TEST(cifar100)
{
	put_cifar("train.bin", 0, 4, 1);
	char names[2048] = "";
	for (int c = 0; c < 20; c++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "super%d\n", c);
	put_text("coarse_label_names.txt", names);
	struct clcnn_source *s = open_ok(dir, NULL);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->format, CLCNN_DATA_CIFAR100);
	ck_assert_int_eq(in->n, 4);
	ck_assert_int_eq(in->classes, 100);
	ck_assert_ptr_null(in->class_names); /* no fine_label_names.txt */
	float x[3072];
	ck_assert_float_eq(read_ok(s, 3, x), (float)(3 * 37 % 100));
	check_pixels(x, 3);
	clcnn_source_close(s);
	s = open_ok(dir, &(struct clcnn_source_options){.cifar100_coarse = 1});
	in = clcnn_source_info(s);
	ck_assert_int_eq(in->classes, 20);
	ck_assert_str_eq(in->class_names[19], "super19");
	ck_assert_float_eq(read_ok(s, 3, x), 3.0f);
	check_pixels(x, 3);
	clcnn_source_close(s);
	open_fails(dir, &(struct clcnn_source_options){.split = "test"}, CLCNN_ERR_IO,
		   "%s/test.bin: no such file (the dataset has no test split; --val-split F holds out a fraction of "
		   "the training split)");
}
END_TEST

START_TEST(cifar_malformed)
{
	put_cifar("data_batch_1.bin", 0, 2, 0);
	unsigned char junk[100] = {0};
	put("data_batch_2.bin", junk, sizeof junk, 0);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT,
		   "%s/data_batch_2.bin: 100 bytes, not a whole number of 3073-byte records (1 label byte + 3072 pixel "
		   "bytes)");
	put_cifar("data_batch_2.bin", 9, 3, 0); /* labels 9, 0, 1 */
	put_cifar("test_batch.bin", 0, 1, 0);
	char p[4200];
	snprintf(p, sizeof p, "%s/data_batch_2.bin", dir);
	FILE *f = fopen(p, "r+b");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 2 * 3073, SEEK_SET), 0);
	ck_assert_int_eq(fputc(10, f), 10);
	ck_assert_int_eq(fclose(f), 0);
	open_fails(dir, NULL, CLCNN_ERR_FORMAT, "%s/data_batch_2.bin: record 2: label 10 is not below 10");
	/* the test split does not read the training batches */
	struct clcnn_source *s = open_ok(dir, &(struct clcnn_source_options){.split = "test"});
	clcnn_source_close(s);
	snprintf(p, sizeof p, "%s/data_batch_1.bin", dir);
	ck_assert_int_eq(remove(p), 0);
	snprintf(p, sizeof p, "%s/data_batch_2.bin", dir);
	ck_assert_int_eq(remove(p), 0);
	open_fails(dir, &(struct clcnn_source_options){.format = CLCNN_DATA_CIFAR10}, CLCNN_ERR_IO,
		   "%s/data_batch_1.bin: no such file (nor data_batch_2..5.bin)");
}
END_TEST

/* ------------------------------------------------------------------------ CSV */

static struct clcnn_source *open_csv(const char *name, const char *label, const char *split)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return open_ok(p, &(struct clcnn_source_options){.label_column = label, .split = split});
}

START_TEST(csv_header_and_columns)
{
	put_text("a.csv", "x, y ,label\n1,2,0\n3.5,-4e1,2\n");
	struct clcnn_source *s = open_csv("a.csv", NULL, NULL);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->format, CLCNN_DATA_CSV);
	ck_assert_int_eq(in->n, 2);
	ck_assert_int_eq(in->nd, 1);
	ck_assert_int_eq(in->c, 2);
	ck_assert_int_eq(in->h, 1);
	ck_assert_int_eq(in->w, 1);
	ck_assert_int_eq(in->classes, 3);
	ck_assert_ptr_null(in->class_names);
	ck_assert_str_eq(in->layout, "CSV");
	float x[2];
	ck_assert_float_eq(read_ok(s, 1, x), 2.0f);
	ck_assert_float_eq(x[0], 3.5f);
	ck_assert_float_eq(x[1], -40.0f);
	clcnn_source_close(s);
	/* by name and by index: column y (1) is the label */
	for (int k = 0; k < 2; k++) {
		put_text("b.csv", "x, y ,label\n1,2,0\n3.5,4,2\n");
		s = open_csv("b.csv", k ? "1" : "y", NULL);
		ck_assert_int_eq(clcnn_source_info(s)->classes, 5);
		ck_assert_float_eq(read_ok(s, 1, x), 4.0f);
		ck_assert_float_eq(x[0], 3.5f);
		ck_assert_float_eq(x[1], 2.0f);
		clcnn_source_close(s);
	}
	/* no header: the first row is data; label column 0 */
	put_text("c.csv", "7,0.25,0.5\n1,1,1\n");
	s = open_csv("c.csv", "0", NULL);
	ck_assert_int_eq(clcnn_source_info(s)->n, 2);
	ck_assert_int_eq(clcnn_source_info(s)->classes, 8);
	ck_assert_float_eq(read_ok(s, 0, x), 7.0f);
	ck_assert_float_eq(x[0], 0.25f);
	ck_assert_float_eq(x[1], 0.5f);
	clcnn_source_close(s);
	char p[4200];
	snprintf(p, sizeof p, "%s/a.csv", dir);
	open_fails(p, &(struct clcnn_source_options){.split = "test"}, CLCNN_ERR_IO,
		   "%s/a.csv: one CSV file, which holds only the training split (the dataset has no test split; "
		   "--val-split F holds out a fraction of the training split)");
}
END_TEST

/* Quotes, spaces, CRLF, empty lines, a last line without newline, headerless string labels. */
START_TEST(csv_syntax)
{
	put_text("q.csv",
		 "\r\n \"f1\" , f2,\"kind\"\r\n\r\n1, \"2\" ,\"setosa\"\r\n   \r\n3,4, versicolor\r\n5,6,setosa");
	struct clcnn_source *s = open_csv("q.csv", "kind", NULL);
	const struct clcnn_source_info *in = clcnn_source_info(s);
	ck_assert_int_eq(in->n, 3);
	ck_assert_int_eq(in->classes, 2);
	ck_assert_str_eq(in->class_names[0], "setosa");
	ck_assert_str_eq(in->class_names[1], "versicolor");
	float x[2];
	ck_assert_float_eq(read_ok(s, 0, x), 0.0f);
	ck_assert_float_eq(x[1], 2.0f);
	ck_assert_float_eq(read_ok(s, 1, x), 1.0f);
	ck_assert_float_eq(x[0], 3.0f);
	ck_assert_float_eq(read_ok(s, 2, x), 0.0f);
	ck_assert_float_eq(x[1], 6.0f);
	clcnn_source_close(s);
	/* like UCI's iris.data: no header, string labels */
	put_text("iris.csv", "5.1,3.5,Iris-setosa\n6.2,2.9,Iris-virginica\n");
	s = open_csv("iris.csv", NULL, NULL);
	ck_assert_int_eq(clcnn_source_info(s)->n, 2);
	ck_assert_float_eq(read_ok(s, 0, x), 0.0f);
	ck_assert_float_eq(x[0], 5.1f);
	clcnn_source_close(s);
	/* a header naming only the label, numbered feature columns: still a header */
	put_text("n.csv", "0,1,digit\n0.5,1,3\n0.25,0,9\n");
	s = open_csv("n.csv", NULL, NULL);
	ck_assert_int_eq(clcnn_source_info(s)->n, 2);
	ck_assert_int_eq(clcnn_source_info(s)->classes, 10);
	ck_assert_float_eq(read_ok(s, 1, x), 9.0f);
	ck_assert_float_eq(x[0], 0.25f);
	clcnn_source_close(s);
}
END_TEST

START_TEST(csv_shared_string_labels)
{
	put_text("train.csv", "a,b,animal\n1,2,dog\n3,4,cat\n5,6,dog\n");
	put_text("test.csv", "a,b,animal\n7,8,bird\n9,10,cat\n");
	const char *want[3] = {"bird", "cat", "dog"};
	for (int t = 0; t < 2; t++) {
		struct clcnn_source *s = open_ok(dir, &(struct clcnn_source_options){.split = t ? "test" : "train"});
		const struct clcnn_source_info *in = clcnn_source_info(s);
		ck_assert_int_eq(in->format, CLCNN_DATA_CSV);
		ck_assert_int_eq(in->n, t ? 2 : 3);
		ck_assert_int_eq(in->classes, 3);
		for (int c = 0; c < 3; c++)
			ck_assert_str_eq(in->class_names[c], want[c]);
		float x[2];
		ck_assert_float_eq(read_ok(s, 0, x), t ? 0.0f : 2.0f);
		ck_assert_float_eq(x[0], t ? 7.0f : 1.0f);
		ck_assert_float_eq(read_ok(s, 1, x), 1.0f);
		clcnn_source_close(s);
	}
	put_text("test.csv", "a,label\n1,cat\n");
	open_fails(dir, NULL, CLCNN_ERR_FORMAT, "%s/train.csv has 2 features but %s/test.csv has 1");
}
END_TEST

START_TEST(csv_malformed)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/bad.csv", dir);
	static const struct {
		const char *text, *label, *msg;
		int status;
	} cases[] = {
		{"a,b,c\n1,2,3\n\n4,5\n", NULL, "%s/bad.csv: line 4 has 2 fields, expected 3 (as line 1)",
		 CLCNN_ERR_FORMAT},
		{"a,b,c\n1,x2,3\n", NULL, "%s/bad.csv: line 2, column 2 (b): 'x2' is not a finite number",
		 CLCNN_ERR_FORMAT},
		{"1,2,3\n1,inf,3\n", NULL, "%s/bad.csv: line 2, column 2: 'inf' is not a finite number",
		 CLCNN_ERR_FORMAT},
		{"1,2,3\n1,2,\n", NULL, "%s/bad.csv: line 2, column 3: empty label", CLCNN_ERR_FORMAT},
		{"1,\"2\"\"\",3\n", NULL,
		 "%s/bad.csv: line 1, column 2: a quote inside a field (quoted fields may hold no quotes or commas)",
		 CLCNN_ERR_FORMAT},
		{"", NULL, "%s/bad.csv: no data rows (an empty file)", CLCNN_ERR_FORMAT},
		{"a,b\n\n", NULL, "%s/bad.csv: no data rows after the header", CLCNN_ERR_FORMAT},
		{"1\n2\n", NULL,
		 "%s/bad.csv: line 1 has 1 column: a label column and at least one feature column are needed",
		 CLCNN_ERR_FORMAT},
		{"a,b\n1,2\n", "c", "%s/bad.csv: no column named 'c' in the header", CLCNN_ERR_INVALID},
		{"a,b\n1,2\n", "2", "%s/bad.csv: label column 2 (0-based) is beyond the 2 columns of the file",
		 CLCNN_ERR_INVALID},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		put_text("bad.csv", cases[i].text);
		open_fails(p, &(struct clcnn_source_options){.label_column = cases[i].label}, cases[i].status,
			   cases[i].msg);
	}
}
END_TEST

/* --------------------------------------------------------- common behaviour */

/* Ten rows whose label is the row number: which rows a split holds, as a bit set. */
static unsigned rows_of(struct clcnn_source *s, int *order)
{
	unsigned set = 0;
	float x[1];
	for (int i = 0; i < clcnn_source_info(s)->n; i++) {
		int r = (int)read_ok(s, i, x);
		ck_assert_float_eq(x[0], (float)(r * 10));
		ck_assert(!(set & 1u << r));
		set |= 1u << r;
		order[i] = r;
	}
	return set;
}

START_TEST(val_split)
{
	char text[256] = "";
	for (int r = 0; r < 10; r++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%d\n", r * 10, r);
	put_text("train.csv", text);
	int o1[10], o2[10], o3[10];
	struct clcnn_source_options o = {.val_split = 0.3, .val_seed = 7};
	struct clcnn_source *tr = open_ok(dir, &o);
	o.split = "test";
	struct clcnn_source *te = open_ok(dir, &o);
	ck_assert_int_eq(clcnn_source_info(tr)->n, 7);
	ck_assert_int_eq(clcnn_source_info(te)->n, 3);
	unsigned a = rows_of(tr, o1), b = rows_of(te, o2);
	ck_assert_uint_eq(a & b, 0);
	ck_assert_uint_eq(a | b, 0x3ff);
	clcnn_source_close(te);
	/* the same seed gives the same split in the same order; another seed another split */
	te = open_ok(dir, &o);
	ck_assert_uint_eq(rows_of(te, o3), b);
	ck_assert_mem_eq(o2, o3, 3 * sizeof *o2);
	clcnn_source_close(te);
	int differs = 0;
	for (o.val_seed = 8; o.val_seed < 12; o.val_seed++) {
		te = open_ok(dir, &o);
		differs |= rows_of(te, o3) != b;
		clcnn_source_close(te);
	}
	ck_assert(differs);
	clcnn_source_close(tr);
	o.val_split = 0.01;
	open_fails(dir, &o, CLCNN_ERR_INVALID, "%s: --val-split 0.01 of 10 samples leaves an empty test split");
}
END_TEST

/* Statistics over a whole CIFAR source against a plain two-pass reference over the same bytes. */
START_TEST(stats)
{
	put_cifar("data_batch_1.bin", 0, 3, 0);
	put_cifar("data_batch_3.bin", 5, 2, 0);
	struct clcnn_source *s = open_ok(dir, NULL);
	struct clcnn_normalize nz;
	char err[1024];
	ck_assert_msg(clcnn_source_stats(s, 0, &nz, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(nz.channels, 3);
	const int g[5] = {0, 1, 2, 5, 6};
	for (int c = 0; c < 3; c++) {
		double sum = 0, var = 0;
		for (int i = 0; i < 5; i++)
			for (int k = 0; k < 1024; k++)
				sum += (unsigned char)(7 * g[i] + c * 1024 + k) / 255.0;
		double mean = sum / 5120;
		for (int i = 0; i < 5; i++)
			for (int k = 0; k < 1024; k++) {
				double d = (unsigned char)(7 * g[i] + c * 1024 + k) / 255.0 - mean;
				var += d * d;
			}
		ck_assert_double_eq_tol(nz.mean[c], mean, 1e-6);
		ck_assert_double_eq_tol(nz.std[c], sqrt(var / 5120), 1e-5);
	}
	clcnn_source_close(s);
	/* features: a constant one gets std 1 */
	put_text("f.csv", "1,5,0\n3,5,1\n");
	s = open_csv("f.csv", NULL, NULL);
	ck_assert_int_eq(clcnn_source_stats(s, 0, &nz, err, sizeof err), 0);
	ck_assert_int_eq(nz.channels, 2);
	ck_assert_float_eq(nz.mean[0], 2.0f);
	ck_assert_float_eq(nz.std[0], 1.0f);
	ck_assert_float_eq(nz.mean[1], 5.0f);
	ck_assert_float_eq(nz.std[1], 1.0f);
	clcnn_source_close(s);
}
END_TEST

START_TEST(detect_and_names)
{
	static const struct {
		const char *file;
		enum clcnn_data_format f;
	} cases[] = {
		{"train-images-idx3-ubyte.gz", CLCNN_DATA_IDX},
		{"t10k-images-idx4-ubyte", CLCNN_DATA_IDX},
		{"test_batch.bin", CLCNN_DATA_CIFAR10},
		{"train.bin", CLCNN_DATA_CIFAR100},
		{"test.csv", CLCNN_DATA_CSV},
	};
	char sub[4200], err[1024];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(sub, sizeof sub, "%s/d%zu", dir, i);
		ck_assert_int_eq(mkdir(sub, 0777), 0);
		snprintf(sub, sizeof sub, "d%zu/%s", i, cases[i].file);
		put_text(sub, "x");
		snprintf(sub, sizeof sub, "%s/d%zu", dir, i);
		enum clcnn_data_format f = CLCNN_DATA_AUTO;
		ck_assert_msg(clcnn_source_detect(sub, &f, err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(f, cases[i].f);
	}
	snprintf(sub, sizeof sub, "%s/folder", dir);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	snprintf(sub, sizeof sub, "%s/folder/train", dir);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	snprintf(sub, sizeof sub, "%s/folder", dir);
	enum clcnn_data_format ff = CLCNN_DATA_AUTO;
	ck_assert_int_eq(clcnn_source_detect(sub, &ff, err, sizeof err), 0);
	ck_assert_int_eq(ff, CLCNN_DATA_IMAGEFOLDER);
	put_text("x.csv", "1,2\n");
	snprintf(sub, sizeof sub, "%s/x.csv", dir);
	enum clcnn_data_format f = CLCNN_DATA_AUTO;
	ck_assert_int_eq(clcnn_source_detect(sub, &f, err, sizeof err), 0);
	ck_assert_int_eq(f, CLCNN_DATA_CSV);
	for (int k = 0; k <= CLCNN_DATA_CSV; k++) {
		ck_assert_int_eq(clcnn_data_format_parse(clcnn_data_format_name((enum clcnn_data_format)k), &f, err,
							 sizeof err),
				 0);
		ck_assert_int_eq(f, k);
	}
	ck_assert_str_eq(clcnn_data_format_name(CLCNN_DATA_CIFAR100), "cifar100");
	ck_assert_int_eq(clcnn_data_format_parse("cifar", &f, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "unknown data format 'cifar': expected auto, idx, imagefolder, cifar10, cifar100 or csv");
}
END_TEST

/* Several threads reading one source at once see what one thread sees. */
struct reader {
	struct clcnn_source *s;
	const float *want; /* n samples of per floats and their labels after them */
	int per, bad;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	int n = clcnn_source_info(r->s)->n;
	float *x = malloc((size_t)r->per * sizeof *x);
	for (int pass = 0; x && pass < 20; pass++)
		for (int k = 0; k < n; k++) {
			int i = (k * 7 + pass) % n;
			float label = -1;
			char err[256];
			if (clcnn_source_read(r->s, i, x, &label, err, sizeof err) ||
			    memcmp(x, r->want + (size_t)i * (size_t)r->per, (size_t)r->per * sizeof *x) ||
			    label != r->want[(size_t)n * (size_t)r->per + (size_t)i])
				r->bad++;
		}
	free(x);
	return NULL;
}

START_TEST(concurrent_reads)
{
	put_cifar("data_batch_1.bin", 0, 6, 0);
	char text[4096] = "a,b,c,kind\n";
	for (int r = 0; r < 50; r++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "%d,%g, \"%d\" ,k%d\r\n", r, r * 0.5, -r,
			 r % 3);
	put_text("t.csv", text);
	char p[4200];
	snprintf(p, sizeof p, "%s/t.csv", dir);
	const char *paths[2] = {dir, p};
	for (int t = 0; t < 2; t++) {
		struct clcnn_source *s = open_ok(paths[t], NULL);
		const struct clcnn_source_info *in = clcnn_source_info(s);
		int per = in->c * in->h * in->w, n = in->n;
		float *want = malloc((size_t)n * (size_t)(per + 1) * sizeof *want);
		ck_assert_ptr_nonnull(want);
		for (int i = 0; i < n; i++)
			want[(size_t)n * (size_t)per + (size_t)i] = read_ok(s, i, want + (size_t)i * (size_t)per);
		struct reader r[4];
		pthread_t th[4];
		for (int k = 0; k < 4; k++) {
			r[k] = (struct reader){s, want, per, 0};
			ck_assert_int_eq(pthread_create(&th[k], NULL, read_all, &r[k]), 0);
		}
		for (int k = 0; k < 4; k++) {
			ck_assert_int_eq(pthread_join(th[k], NULL), 0);
			ck_assert_int_eq(r[k].bad, 0);
		}
		if (t) /* the CSV values themselves */
			ck_assert_float_eq(want[49 * 3 + 1], 24.5f);
		free(want);
		clcnn_source_close(s);
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, idx_plain_and_gzip);
	tcase_add_test(tc, idx_test_names);
	tcase_add_test(tc, idx_four_dims);
	tcase_add_test(tc, idx_classes_txt);
	tcase_add_test(tc, idx_missing_and_malformed);
	tcase_add_test(tc, idx_fashion_mnist);
	tcase_add_test(tc, cifar10);
	tcase_add_test(tc, cifar100);
	tcase_add_test(tc, cifar_malformed);
	tcase_add_test(tc, csv_header_and_columns);
	tcase_add_test(tc, csv_syntax);
	tcase_add_test(tc, csv_shared_string_labels);
	tcase_add_test(tc, csv_malformed);
	tcase_add_test(tc, val_split);
	tcase_add_test(tc, stats);
	tcase_add_test(tc, detect_and_names);
	tcase_add_test(tc, concurrent_reads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
