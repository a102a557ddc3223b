/* IDX reader: plain and gzip files, every malformed case, image/label pairs, real Fashion-MNIST. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/io.h"
#include "testutil.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* The bytes of an IDX file: magic, dims (big-endian), then n data bytes (i * 7 mod 256). */
static size_t idx_bytes(unsigned char *buf, uint32_t magic, int ndim, const uint32_t *dims, size_t n)
{
	size_t k = 0;
	for (int s = 24; s >= 0; s -= 8)
		buf[k++] = (unsigned char)(magic >> s);
	for (int d = 0; d < ndim; d++)
		for (int s = 24; s >= 0; s -= 8)
			buf[k++] = (unsigned char)(dims[d] >> s);
	for (size_t i = 0; i < n; i++)
		buf[k++] = (unsigned char)(i * 7);
	return k;
}

static void write_file(const char *path, const void *data, size_t n, int gz)
{
	if (gz) {
		gzFile g = gzopen(path, "wb9");
		ck_assert_ptr_nonnull(g);
		ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
		ck_assert_int_eq(gzclose(g), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(data, 1, n, f), n);
		ck_assert_int_eq(fclose(f), 0);
	}
}

static void write_idx(const char *path, uint32_t magic, int ndim, const uint32_t *dims, size_t n, int gz)
{
	static unsigned char buf[1 << 16];
	ck_assert_uint_le(4 + 4 * (size_t)ndim + n, sizeof buf);
	write_file(path, buf, idx_bytes(buf, magic, ndim, dims, n), gz);
}

static void expect_fail(const char *path, int status, const char *what)
{
	struct clcnn_idx idx;
	char err[1024] = "";
	int rc = clcnn_idx_read(path, &idx, err, sizeof err);
	ck_assert_msg(rc == status, "%s: rc %d (want %d): %s", what, rc, status, err);
	ck_assert_msg(strstr(err, what) != NULL, "message \"%s\" lacks \"%s\"", err, what);
	ck_assert_msg(strstr(err, path) != NULL, "message \"%s\" does not name the file", err);
	ck_assert_ptr_null(idx.data);
	ck_assert_int_eq(idx.ndim, 0);
	clcnn_idx_free(&idx);
}

START_TEST(plain_and_gzip)
{
	char *dir = test_tmpdir();
	char path[4096], err[512];
	const uint32_t dims[3] = {5, 3, 4};
	for (int gz = 0; gz < 2; gz++) {
		snprintf(path, sizeof path, "%s/images-%d", dir, gz);
		write_idx(path, 0x803, 3, dims, 60, gz);
		struct clcnn_idx idx;
		ck_assert_msg(clcnn_idx_read(path, &idx, err, sizeof err) == 0, "%s", err);
		ck_assert_int_eq(idx.ndim, 3);
		ck_assert_int_eq(idx.dims[0], 5);
		ck_assert_int_eq(idx.dims[1], 3);
		ck_assert_int_eq(idx.dims[2], 4);
		ck_assert_uint_eq(idx.count, 60);
		for (int i = 0; i < 60; i++)
			ck_assert_uint_eq(idx.data[i], (uint8_t)(i * 7));
		clcnn_idx_free(&idx);
		ck_assert_ptr_null(idx.data);
		clcnn_idx_free(&idx); /* twice is harmless */
	}
	/* larger than the first read-buffer step, to exercise growing it */
	snprintf(path, sizeof path, "%s/big.gz", dir);
	{
		const uint32_t bd[2] = {300, 4000};
		size_t n = 300 * 4000;
		unsigned char *buf = malloc(8 + 4 + n);
		write_file(path, buf, idx_bytes(buf, 0x802, 2, bd, n), 1);
		free(buf);
		struct clcnn_idx idx;
		ck_assert_msg(clcnn_idx_read(path, &idx, err, sizeof err) == 0, "%s", err);
		ck_assert_uint_eq(idx.count, n);
		ck_assert_uint_eq(idx.data[n - 1], (uint8_t)((n - 1) * 7));
		clcnn_idx_free(&idx);
	}
	clcnn_idx_free(NULL);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(malformed)
{
	char *dir = test_tmpdir();
	char path[4096];
	const uint32_t dims[3] = {2, 3, 4}, zero[3] = {2, 0, 4}, huge[4] = {65536, 65536, 65536, 65536};
	for (int gz = 0; gz < 2; gz++) {
		snprintf(path, sizeof path, "%s/bad-%d", dir, gz);
		write_idx(path, 0x12345678, 3, dims, 24, gz);
		expect_fail(path, CLCNN_ERR_FORMAT,
			    "wrong IDX magic 0x12345678 (expected 0x000008NN: uint8 with NN = 1 to 4 dims)");
		write_idx(path, 0x0d03, 3, dims, 24, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "IDX element type 0x0d is not supported (only 0x08, uint8)");
		write_idx(path, 0x0805, 3, dims, 24, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "IDX with 5 dims is not supported (1 to 4)");
		write_idx(path, 0x0800, 0, dims, 0, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "IDX with 0 dims is not supported");
		write_idx(path, 0x0803, 3, zero, 0, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "IDX dim 1 is 0 (must be 1 to 2147483647)");
		write_idx(path, 0x0803, 3, dims, 20, gz);
		expect_fail(path, CLCNN_ERR_FORMAT,
			    "truncated IDX data: expected 24 bytes after the 16-byte header, got 20");
		write_idx(path, 0x0803, 3, dims, 25, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "trailing data after the 24 declared bytes of IDX data");
		write_file(path, "\0\0\x08\x03\0\0", 6, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "truncated IDX header: expected 12 bytes of dims, got 2");
		write_file(path, "\0\0", 2, gz);
		expect_fail(path, CLCNN_ERR_FORMAT, "file is 2 bytes, too short for an IDX magic");
	}
	/* 2^64 elements: refused from the header alone, before any allocation */
	write_idx(path, 0x0804, 4, huge, 0, 0);
	expect_fail(path, CLCNN_ERR_FORMAT, "IDX dims overflow the element count");
	snprintf(path, sizeof path, "%s/absent", dir);
	expect_fail(path, CLCNN_ERR_IO, "cannot open: No such file or directory");
	expect_fail(dir, CLCNN_ERR_IO, "not a regular file");
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* Read a whole file into a heap buffer. */
static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	unsigned char *b = malloc(*n);
	ck_assert_uint_eq(fread(b, 1, *n, f), *n);
	fclose(f);
	return b;
}

START_TEST(broken_gzip)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/x.gz", dir);
	/* data that does not compress to almost nothing, so the deflate stream has real content */
	static unsigned char raw[4 + 4 + 4000];
	const uint32_t d[1] = {4000};
	size_t k = idx_bytes(raw, 0x801, 1, d, 0);
	uint32_t r = 12345;
	for (int i = 0; i < 4000; i++) {
		r = r * 1103515245u + 12345u;
		raw[k + (size_t)i] = (unsigned char)(r >> 24) % 10;
	}
	write_file(path, raw, sizeof raw, 1);
	size_t n;
	unsigned char *gz = slurp(path, &n);

	/* cut in the middle of the deflate stream */
	write_file(path, gz, n / 2, 0);
	expect_fail(path, CLCNN_ERR_FORMAT, "truncated gzip stream (zlib: unexpected end of file)");
	/* a wrong CRC in the gzip trailer: every data byte arrives, the check fails at the end */
	gz[n - 8] ^= 0xff;
	write_file(path, gz, n, 0);
	expect_fail(path, CLCNN_ERR_FORMAT, "corrupt gzip stream (zlib: incorrect data check)");
	gz[n - 8] ^= 0xff;
	/* garbage in the deflate data: an invalid block type (the 3 header bits 11x) */
	gz[10] = 0x07;
	write_file(path, gz, n, 0);
	expect_fail(path, CLCNN_ERR_FORMAT, "corrupt gzip stream (zlib: invalid block type)");
	free(gz);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(pairs)
{
	char *dir = test_tmpdir();
	char img[4096], lab[4096], err[1024];
	snprintf(img, sizeof img, "%s/img.gz", dir);
	snprintf(lab, sizeof lab, "%s/lab", dir);
	const uint32_t di[3] = {3, 2, 2}, dl[1] = {3}, dl4[1] = {4};
	write_idx(img, 0x803, 3, di, 12, 1);
	write_idx(lab, 0x801, 1, dl, 3, 0); /* labels 0, 7, 14 */
	struct clcnn_idx im, lb;
	ck_assert_msg(clcnn_idx_load_pair(img, lab, 15, &im, &lb, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(im.dims[0], 3);
	ck_assert_uint_eq(lb.count, 3);
	ck_assert_uint_eq(lb.data[2], 14);
	clcnn_idx_free(&im);
	clcnn_idx_free(&lb);

	ck_assert_int_eq(clcnn_idx_load_pair(img, lab, 10, &im, &lb, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_msg(strstr(err, "lab: label 14 at index 2 is not below the class count 10"), "%s", err);
	ck_assert_ptr_null(im.data);
	ck_assert_ptr_null(lb.data);

	write_idx(lab, 0x801, 1, dl4, 4, 0);
	ck_assert_int_eq(clcnn_idx_load_pair(img, lab, 100, &im, &lb, err, sizeof err), CLCNN_ERR_FORMAT);
	char want[9000];
	snprintf(want, sizeof want, "%s has 3 images but %s has 4 labels", img, lab);
	ck_assert_str_eq(err, want);

	/* swapped files: each magic is checked for its role */
	ck_assert_int_eq(clcnn_idx_load_pair(lab, img, 10, &im, &lb, err, sizeof err), CLCNN_ERR_FORMAT);
	snprintf(want, sizeof want, "%s: wrong IDX magic 0x00000801 (expected 0x00000803 for uint8 images)", lab);
	ck_assert_str_eq(err, want);
	write_idx(lab, 0x803, 3, di, 12, 0);
	ck_assert_int_eq(clcnn_idx_load_pair(img, lab, 10, &im, &lb, err, sizeof err), CLCNN_ERR_FORMAT);
	snprintf(want, sizeof want, "%s: wrong IDX magic 0x00000803 (expected 0x00000801 for uint8 labels)", lab);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(clcnn_idx_load_pair(img, lab, 0, &im, &lb, err, sizeof err), CLCNN_ERR_INVALID);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(fashion_mnist)
{
	const char *img = FASHION_DIR "/t10k-images-idx3-ubyte.gz", *lab = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
	if (access(img, R_OK) || access(lab, R_OK)) {
		fprintf(stderr, "skipped: %s not present\n", FASHION_DIR);
		return;
	}
	struct clcnn_idx im, lb;
	char err[1024];
	ck_assert_msg(clcnn_idx_load_pair(img, lab, 10, &im, &lb, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(im.ndim, 3);
	ck_assert_int_eq(im.dims[0], 10000);
	ck_assert_int_eq(im.dims[1], 28);
	ck_assert_int_eq(im.dims[2], 28);
	ck_assert_uint_eq(im.count, 10000u * 28 * 28);
	ck_assert_int_eq(lb.dims[0], 10000);
	/* the test split is balanced: 1000 of each class */
	int hist[10] = {0};
	for (size_t i = 0; i < lb.count; i++)
		hist[lb.data[i]]++;
	for (int c = 0; c < 10; c++)
		ck_assert_int_eq(hist[c], 1000);
	clcnn_idx_free(&im);
	clcnn_idx_free(&lb);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("idx");
	TCase *tc = tcase_create("idx");
	tcase_add_test(tc, plain_and_gzip);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, broken_gzip);
	tcase_add_test(tc, pairs);
	tcase_add_test(tc, fashion_mnist);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
