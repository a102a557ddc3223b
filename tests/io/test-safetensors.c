/* safetensors reader and writer: round trip, a file written by PyTorch, every malformed case. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "testutil.h"

/* Number of entries in dir besides . and .. (to prove no temporary file was left behind). */
static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

/* A file whose length field says hlen (normally strlen(header)), then header, then ndata data bytes. */
static void write_st(const char *path, uint64_t hlen, const char *header, size_t ndata)
{
	size_t n = strlen(header);
	unsigned char buf[8192] = {0};
	ck_assert_uint_le(8 + n + ndata, sizeof buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(hlen >> (8 * i));
	memcpy(buf + 8, header, n);
	for (size_t i = 0; i < ndata; i++)
		buf[8 + n + i] = (unsigned char)i;
	write_bytes(path, buf, 8 + n + ndata);
}

static void expect_fail(const char *path, int status, const char *what)
{
	struct clcnn_st_file *f = (void *)1;
	char err[1024] = "";
	int rc = clcnn_st_read(path, &f, err, sizeof err);
	ck_assert_msg(rc == status, "%s: rc %d (want %d): %s", what, rc, status, err);
	ck_assert_ptr_null(f);
	ck_assert_msg(strstr(err, what) != NULL, "message \"%s\" lacks \"%s\"", err, what);
	ck_assert_msg(strstr(err, path) != NULL, "message \"%s\" does not name the file", err);
}

START_TEST(round_trip)
{
	char *dir = test_tmpdir();
	char path[4096], err[1024];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	float w[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
	int64_t steps = 123456789012345LL;
	int64_t ids[3] = {-1, INT64_MAX, 16777217};
	float ones[1] = {42.0f};
	const int64_t s23[] = {2, 3}, s3[] = {3}, s04[] = {0, 4}, s8[] = {1, 1, 1, 1, 1, 1, 1, 1};
	struct clcnn_st_writer *wr;
	ck_assert_int_eq(clcnn_st_writer_new(&wr), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "fc.weight", "F32", 2, s23, w, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "bn.num_batches_tracked", "I64", 0, NULL, &steps, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "ids", "I64", 1, s3, ids, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "empty", "F32", 2, s04, NULL, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "deep", "F32", 8, s8, ones, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_meta(wr, "format", "pt", err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_meta(wr, "note", "old", err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_meta(wr, "note", "quote\" backslash\\ newline\n ü", err, sizeof err), 0);
	/* write twice: the second replaces the first through rename */
	ck_assert_int_eq(clcnn_st_write(wr, path, err, sizeof err), 0);
	ck_assert_msg(clcnn_st_write(wr, path, err, sizeof err) == 0, "%s", err);
	clcnn_st_writer_free(wr);
	ck_assert_int_eq(dir_entries(dir), 1);

	/* header length is a multiple of 8, so the data section is 8-byte aligned */
	FILE *fp = fopen(path, "rb");
	unsigned char lenb[8];
	ck_assert_uint_eq(fread(lenb, 1, 8, fp), 8);
	fclose(fp);
	ck_assert_uint_eq(lenb[0] % 8, 0);

	struct clcnn_st_file *f;
	ck_assert_msg(clcnn_st_read(path, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(clcnn_st_count(f), 5);
	/* header order is the order added */
	ck_assert_str_eq(clcnn_st_get(f, 0)->name, "fc.weight");
	ck_assert_str_eq(clcnn_st_get(f, 1)->name, "bn.num_batches_tracked");
	ck_assert_str_eq(clcnn_st_get(f, 4)->name, "deep");
	ck_assert_ptr_null(clcnn_st_get(f, 5));
	ck_assert_ptr_null(clcnn_st_get(f, -1));

	const struct clcnn_st_entry *e = clcnn_st_find(f, "fc.weight");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->dtype, "F32");
	ck_assert_int_eq(e->ndim, 2);
	ck_assert_int_eq(e->shape[0], 2);
	ck_assert_int_eq(e->shape[1], 3);
	ck_assert_uint_eq(e->count, 6);
	ck_assert_uint_eq(e->nbytes, 24);
	float got[6];
	ck_assert_int_eq(clcnn_st_to_f32(e, got, err, sizeof err), 0);
	ck_assert_mem_eq(got, w, sizeof w); /* bit-exact, -0.0 included */

	e = clcnn_st_find(f, "bn.num_batches_tracked");
	ck_assert_int_eq(e->ndim, 0);
	ck_assert_uint_eq(e->count, 1);
	int64_t s;
	memcpy(&s, e->data, 8);
	ck_assert_int_eq(s, steps);

	e = clcnn_st_find(f, "ids");
	int64_t gi[3];
	memcpy(gi, e->data, sizeof gi);
	ck_assert_int_eq(gi[1], INT64_MAX);
	ck_assert_int_eq(gi[2], 16777217);
	ck_assert_int_eq(clcnn_st_to_f32(e, got, err, sizeof err), 0);
	ck_assert(got[0] == -1.0f && got[1] == 9223372036854775808.0f && got[2] == 16777216.0f);

	e = clcnn_st_find(f, "empty");
	ck_assert_uint_eq(e->count, 0);
	ck_assert_uint_eq(e->nbytes, 0);
	ck_assert_int_eq(clcnn_st_to_f32(e, NULL, err, sizeof err), 0);
	e = clcnn_st_find(f, "deep");
	ck_assert_int_eq(e->ndim, 8);
	ck_assert_int_eq(clcnn_st_to_f32(e, got, err, sizeof err), 0);
	ck_assert(got[0] == 42.0f);
	ck_assert_ptr_null(clcnn_st_find(f, "nope"));

	ck_assert_int_eq(clcnn_st_meta_count(f), 2);
	ck_assert_str_eq(clcnn_st_meta(f, "format"), "pt");
	ck_assert_str_eq(clcnn_st_meta(f, "note"), "quote\" backslash\\ newline\n ü");
	ck_assert_ptr_null(clcnn_st_meta(f, "absent"));
	const char *k, *v;
	ck_assert_int_eq(clcnn_st_meta_get(f, 0, &k, &v), 0);
	ck_assert_str_eq(k, "format");
	ck_assert_int_eq(clcnn_st_meta_get(f, 2, &k, &v), CLCNN_ERR_INVALID);
	clcnn_st_free(f);
	clcnn_st_free(NULL);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(empty_writer)
{
	char *dir = test_tmpdir();
	char path[4096], err[512];
	snprintf(path, sizeof path, "%s/empty.safetensors", dir);
	struct clcnn_st_writer *wr;
	ck_assert_int_eq(clcnn_st_writer_new(&wr), 0);
	ck_assert_int_eq(clcnn_st_write(wr, path, err, sizeof err), 0);
	clcnn_st_writer_free(wr);
	clcnn_st_writer_free(NULL);
	struct clcnn_st_file *f;
	ck_assert_msg(clcnn_st_read(path, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(clcnn_st_count(f), 0);
	ck_assert_ptr_null(clcnn_st_find(f, "x"));
	clcnn_st_free(f);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(writer_rejects)
{
	char err[512];
	float x[4] = {0};
	const int64_t s2[] = {2}, neg[] = {2, -1}, s9[] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	struct clcnn_st_writer *wr;
	ck_assert_int_eq(clcnn_st_writer_new(&wr), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "a", "F32", 1, s2, x, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "a", "F32", 1, s2, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "safetensors: duplicate tensor name \"a\"");
	ck_assert_int_eq(clcnn_st_writer_add(wr, "b", "F31", 1, s2, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "safetensors: tensor \"b\": unknown dtype \"F31\"");
	ck_assert_int_eq(clcnn_st_writer_add(wr, "b", "F32", 2, neg, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "safetensors: tensor \"b\": dim 1 is negative (-1)");
	ck_assert_int_eq(clcnn_st_writer_add(wr, "b", "F32", 9, s9, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "safetensors: tensor \"b\": 9 dims (0..8 allowed)");
	ck_assert_int_eq(clcnn_st_writer_add(wr, "__metadata__", "F32", 1, s2, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "bad\xff", "F32", 1, s2, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_msg(strstr(err, "not UTF-8") != NULL, "%s", err);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "\xed\xa0\x80", "F32", 1, s2, x, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "gewicht.\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", "F32", 1, s2, x, err,
					     sizeof err),
			 0);
	ck_assert_int_eq(clcnn_st_writer_meta(wr, "k", "\xc0\x80", err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "b", "F32", 1, s2, NULL, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "safetensors: tensor \"b\": NULL data");
	clcnn_st_writer_free(wr);
}
END_TEST

/* A failed write leaves neither the destination changed nor a temporary file. */
START_TEST(atomic_failure)
{
	char *dir = test_tmpdir();
	char path[4096], err[1024];
	float x[2] = {1, 2};
	const int64_t s2[] = {2};
	struct clcnn_st_writer *wr;
	ck_assert_int_eq(clcnn_st_writer_new(&wr), 0);
	ck_assert_int_eq(clcnn_st_writer_add(wr, "x", "F32", 1, s2, x, err, sizeof err), 0);

	snprintf(path, sizeof path, "%s/missing/x.safetensors", dir);
	ck_assert_int_eq(clcnn_st_write(wr, path, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_msg(strstr(err, "cannot create a temporary file") != NULL, "%s", err);

	/* the destination is a non-empty directory: rename fails after the data was written */
	snprintf(path, sizeof path, "%s/sub", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	char inner[4200];
	snprintf(inner, sizeof inner, "%s/keep", path);
	write_bytes(inner, "k", 1);
	ck_assert_int_eq(clcnn_st_write(wr, path, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_msg(strstr(err, "cannot rename") != NULL, "%s", err);
	ck_assert_int_eq(dir_entries(dir), 1);
	ck_assert_int_eq(dir_entries(path), 1);
	clcnn_st_writer_free(wr);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* Written by tools/gen-io-fixtures.py with PyTorch 1.13 and safetensors. */
START_TEST(torch_fixture)
{
	const char *data = getenv("CLCNN_DATA_DIR");
	ck_assert_ptr_nonnull(data);
	char path[4096], err[1024];
	snprintf(path, sizeof path, "%s/io/torch.safetensors", data);
	struct clcnn_st_file *f;
	ck_assert_msg(clcnn_st_read(path, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(clcnn_st_count(f), 13);
	ck_assert_str_eq(clcnn_st_meta(f, "format"), "pt");
	ck_assert_str_eq(clcnn_st_meta(f, "producer"), "gen-io-fixtures");

	float v[16];
	const struct clcnn_st_entry *e = clcnn_st_find(f, "conv.weight");
	ck_assert_str_eq(e->dtype, "F32");
	ck_assert_int_eq(e->ndim, 4);
	ck_assert(e->shape[0] == 2 && e->shape[1] == 1 && e->shape[2] == 2 && e->shape[3] == 2);
	ck_assert_int_eq(clcnn_st_to_f32(e, v, err, sizeof err), 0);
	for (int i = 0; i < 8; i++)
		ck_assert(v[i] == i * 0.25f - 1.0f);

	e = clcnn_st_find(f, "bn.num_batches_tracked");
	ck_assert_str_eq(e->dtype, "I64");
	ck_assert_int_eq(e->ndim, 0);
	ck_assert_uint_eq(e->count, 1);
	ck_assert_int_eq(clcnn_st_to_f32(e, v, err, sizeof err), 0);
	ck_assert(v[0] == 7.0f);

	/* expected floats of each converted dtype, in the order of the script */
	static const struct {
		const char *name, *dtype;
		int n;
		float v[4];
	} want[] = {
		{"conv.bias", "F32", 2, {0.5f, -0.5f}},
		{"i64", "I64", 3, {1099511627777.0f, -2147483648.0f, 16777216.0f}},
		{"f64", "F64", 2, {1e-3f, -2.5f}},
		{"f16", "F16", 4, {1.0f, -2.5f, 65504.0f, 5.9604644775390625e-08f}},
		{"bf16", "BF16", 3, {1.0f, -3.0f, 0.15625f}},
		{"i32", "I32", 2, {-5.0f, 2147483648.0f}},
		{"i16", "I16", 2, {-300.0f, 300.0f}},
		{"i8", "I8", 2, {-128.0f, 127.0f}},
		{"u8", "U8", 2, {0.0f, 255.0f}},
		{"bool", "BOOL", 3, {1.0f, 0.0f, 1.0f}},
	};
	for (size_t t = 0; t < sizeof want / sizeof want[0]; t++) {
		e = clcnn_st_find(f, want[t].name);
		ck_assert_msg(e != NULL, "%s missing", want[t].name);
		ck_assert_str_eq(e->dtype, want[t].dtype);
		ck_assert_uint_eq(e->count, (size_t)want[t].n);
		ck_assert_int_eq(clcnn_st_to_f32(e, v, err, sizeof err), 0);
		for (int i = 0; i < want[t].n; i++)
			ck_assert_msg(v[i] == want[t].v[i], "%s[%d] = %.9g, want %.9g", want[t].name, i, v[i],
				      want[t].v[i]);
	}
	e = clcnn_st_find(f, "empty");
	ck_assert_int_eq(e->ndim, 2);
	ck_assert(e->shape[0] == 0 && e->shape[1] == 3);
	ck_assert_uint_eq(e->count, 0);
	clcnn_st_free(f);
}
END_TEST

/* Conversions of values the fixture does not hold: specials of the small float formats, unsigned types. */
START_TEST(conversions)
{
	char err[256];
	float v[8];
	static const unsigned char f16[] = {0x00, 0x7c, 0x00, 0xfc, 0x01, 0x7e, 0x01, 0x00, 0x00, 0x80};
	struct clcnn_st_entry e =
		{.name = "t", .dtype = "F16", .ndim = 1, .shape = {5}, .count = 5, .nbytes = 10, .data = f16};
	ck_assert_int_eq(clcnn_st_to_f32(&e, v, err, sizeof err), 0);
	ck_assert(isinf(v[0]) && v[0] > 0);
	ck_assert(isinf(v[1]) && v[1] < 0);
	ck_assert(isnan(v[2]));
	ck_assert(v[3] == ldexpf(1, -24));
	ck_assert(v[4] == 0.0f && signbit(v[4]));

	/* E4M3: 1.0 = 0x38, max 448 = 0x7e, NaN = 0x7f, smallest subnormal 2^-9 = 0x01, -2 = 0xc0 */
	static const unsigned char e4[] = {0x38, 0x7e, 0x7f, 0x01, 0xc0};
	struct clcnn_st_entry e8 =
		{.name = "t", .dtype = "F8_E4M3", .ndim = 1, .shape = {5}, .count = 5, .nbytes = 5, .data = e4};
	ck_assert_int_eq(clcnn_st_to_f32(&e8, v, err, sizeof err), 0);
	ck_assert(v[0] == 1.0f && v[1] == 448.0f && isnan(v[2]) && v[3] == ldexpf(1, -9) && v[4] == -2.0f);
	/* E5M2 is the high byte of F16: 0x3c = 1.0, 0x7b = 57344 (max), 0x7c = inf */
	static const unsigned char e5[] = {0x3c, 0x7b, 0x7c};
	struct clcnn_st_entry e52 =
		{.name = "t", .dtype = "F8_E5M2", .ndim = 1, .shape = {3}, .count = 3, .nbytes = 3, .data = e5};
	ck_assert_int_eq(clcnn_st_to_f32(&e52, v, err, sizeof err), 0);
	ck_assert(v[0] == 1.0f && v[1] == 57344.0f && isinf(v[2]));

	static const unsigned char u[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct clcnn_st_entry eu = {.name = "t", .dtype = "U64", .ndim = 0, .count = 1, .nbytes = 8, .data = u};
	ck_assert_int_eq(clcnn_st_to_f32(&eu, v, err, sizeof err), 0);
	ck_assert(v[0] == 18446744073709551616.0f);
	struct clcnn_st_entry eu16 =
		{.name = "t", .dtype = "U16", .ndim = 1, .shape = {4}, .count = 4, .nbytes = 8, .data = u};
	ck_assert_int_eq(clcnn_st_to_f32(&eu16, v, err, sizeof err), 0);
	ck_assert(v[3] == 65535.0f);
	/* an entry whose byte size disagrees with its dtype is refused, not overrun */
	struct clcnn_st_entry bad =
		{.name = "t", .dtype = "F32", .ndim = 1, .shape = {4}, .count = 4, .nbytes = 8, .data = u};
	ck_assert_int_eq(clcnn_st_to_f32(&bad, v, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_uint_eq(clcnn_st_dtype_size("BF16"), 2);
	ck_assert_uint_eq(clcnn_st_dtype_size("X"), 0);
}
END_TEST

#define T(s) "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," s "}"

/* Each malformed header, with the data bytes after it and the message expected. */
static const struct {
	const char *header;
	size_t ndata;
	const char *msg;
} bad_headers[] = {
	{"{\"a\":", 0, "header is not valid JSON (error at byte"},
	{"[1, 2]", 0, "header is not a JSON object"},
	{"{}  x", 0, "header has data after the JSON value (at byte 4 of 5)"},
	{"{\"a\":5}", 0, "tensor \"a\": entry is not an object"},
	{"{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor \"a\": missing \"dtype\""},
	{"{\"a\":{\"dtype\":3,\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor \"a\": \"dtype\" is not a string"},
	{"{\"a\":{\"dtype\":\"F33\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor \"a\": unknown dtype \"F33\""},
	{"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor \"a\": missing \"shape\""},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": \"shape\" is not an array"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,-2],\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": shape[1] = -2 is negative"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": shape[0] is not an integer"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": shape[0] is not an integer"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": shape has 9 dims, more than 8"},
	{"{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": shape [4294967296, 4294967296, 4294967296] has too many elements (overflow)"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648,2],\"data_offsets\":[0,4]}}", 4,
	 "tensor \"a\": shape [2147483648, 2147483648, 2] of F32 is too many bytes (overflow)"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", 4, "tensor \"a\": missing \"data_offsets\""},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", 4,
	 "tensor \"a\": \"data_offsets\" is not an array of two non-negative integers"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[-4,0]}}", 4,
	 "tensor \"a\": \"data_offsets\" is not an array of two non-negative integers"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,0]}}", 4,
	 "tensor \"a\": data_offsets [4, 0] end before begin"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,400]}}", 8,
	 "tensor \"a\": data_offsets [0, 400] outside the 8-byte data section"},
	{"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
	 "tensor \"a\": data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12"},
	{T("\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}"), 16,
	 "data of tensors \"t\" [0, 8] and \"b\" [4, 12] overlap"},
	{T("\"b\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[2,4]}"), 16,
	 "data of tensors \"t\" [0, 8] and \"b\" [2, 4] overlap"},
	{T("\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}"), 16, "duplicate tensor name \"t\""},
	{T("\"__metadata__\":[]"), 8, "\"__metadata__\" is not an object"},
	{T("\"__metadata__\":{\"a\":\"x\",\"k\":1}"), 8, "\"__metadata__\" value of \"k\" is not a string"},
	{T("\"__metadata__\":{},\"__metadata__\":{}"), 8, "duplicate \"__metadata__\""},
};

START_TEST(malformed_header)
{
	char *dir = test_tmpdir();
	char path[4096];
	snprintf(path, sizeof path, "%s/bad-%d.safetensors", dir, _i);
	write_st(path, strlen(bad_headers[_i].header), bad_headers[_i].header, bad_headers[_i].ndata);
	expect_fail(path, CLCNN_ERR_FORMAT, bad_headers[_i].msg);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(malformed_file)
{
	char *dir = test_tmpdir();
	char path[4096], err[512];
	snprintf(path, sizeof path, "%s/x.safetensors", dir);
	expect_fail(path, CLCNN_ERR_IO, "cannot open: No such file or directory");
	write_bytes(path, "\x05\0\0\0\0", 5);
	expect_fail(path, CLCNN_ERR_FORMAT, "file is 5 bytes, shorter than the 8-byte header length");
	write_st(path, 0, "{}", 0);
	expect_fail(path, CLCNN_ERR_FORMAT, "header length is 0");
	write_st(path, 1000, "{}      ", 2);
	expect_fail(path, CLCNN_ERR_FORMAT, "header length 1000 is larger than the 10 bytes after it");
	/* a sparse file just over the limit: the length is refused before anything is read */
	write_st(path, 100000001, "{}", 0);
	ck_assert_int_eq(truncate(path, 100000100), 0);
	expect_fail(path, CLCNN_ERR_FORMAT, "header length 100000001 exceeds the 100000000-byte limit");
	expect_fail(dir, CLCNN_ERR_IO, "not a regular file");

	/* accepted oddities: holes between regions, empty tensors anywhere, whitespace padding */
	write_st(path, 0, "", 0);
	const char *ok = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
			 "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[7,7]},"
			 "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\n  \t";
	write_st(path, strlen(ok), ok, 8);
	struct clcnn_st_file *f;
	ck_assert_msg(clcnn_st_read(path, &f, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(clcnn_st_count(f), 3);
	ck_assert_uint_eq(((const unsigned char *)clcnn_st_find(f, "a")->data)[1], 7);
	clcnn_st_free(f);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("safetensors");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, empty_writer);
	tcase_add_test(tc, writer_rejects);
	tcase_add_test(tc, atomic_failure);
	tcase_add_test(tc, torch_fixture);
	tcase_add_test(tc, conversions);
	tcase_add_loop_test(tc, malformed_header, 0, (int)(sizeof bad_headers / sizeof bad_headers[0]));
	tcase_add_test(tc, malformed_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
