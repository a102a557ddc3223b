/*
 * Program and kernel lookup by exact key: a memo entry whose hash collides with another key's is
 * not returned for it, a cache file that holds another key under the same name is a miss and is
 * rebuilt, the file holds the whole key; the shared cl/ headers are part of every program, read
 * from CLCNN_KERNEL_DIR like the rest of the sources.
 */
#include <stdio.h>
#include <string.h>

#include "../../cl/activation.h"
#include "../../cl/batchnorm.h"
#include "../../cl/loss.h"
#include "../../cl/pool.h"
#include "../../cl/softmax.h"
#include "clcnn-private.h"
#include "testutil.h"

struct logbuf {
	char all[8192];
};

static void log_all(void *user, int level, const char *msg)
{
	(void)level;
	struct logbuf *b = user;
	size_t n = strlen(b->all);
	snprintf(b->all + n, sizeof b->all - n, "%s\n", msg);
}

static struct clcnn_context *open_with(const char *cache, const char *kdir, struct logbuf *lb)
{
	return test_context_logged(cache, kdir, log_all, lb);
}

static void build_options_of(cl_kernel k, char *buf, size_t n)
{
	cl_program p;
	ck_assert_int_eq(clGetKernelInfo(k, CL_KERNEL_PROGRAM, sizeof p, &p, NULL), CL_SUCCESS);
	cl_device_id d;
	ck_assert_int_eq(clGetProgramInfo(p, CL_PROGRAM_DEVICES, sizeof d, &d, NULL), CL_SUCCESS);
	ck_assert_int_eq(clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_OPTIONS, n, buf, NULL), CL_SUCCESS);
}

static void kernel_name_of(cl_kernel k, char *buf, size_t n)
{
	ck_assert_int_eq(clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, n, buf, NULL), CL_SUCCESS);
}

/* ---------------------------------------------------------------- in-memory memo */

/*
 * Give the entries of (common, -DMEMO=1[, clcnn_smoke]) the hashes of (common, -DMEMO=2[,
 * clcnn_axpby]): a lookup by hash alone would return the first kernel (and program) for the second
 * key. FNV collisions cannot be found in a test's time, so the collision is made by hand.
 */
START_TEST(memo_collision_is_not_a_hit)
{
	struct clcnn_context *ctx = test_context();
	cl_kernel a, b, again;
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "-DMEMO=1", "clcnn_smoke", &a), 0);
	int forced = 0;
	for (struct clcnn_kernel_entry *e = ctx->kernels; e; e = e->next)
		if (e->kernel == a) {
			e->key.hash = clcnn_memo_hash("common", "-DMEMO=2", "clcnn_axpby");
			forced++;
		}
	for (struct clcnn_program_entry *e = ctx->programs; e; e = e->next)
		if (e->key.hash == clcnn_memo_hash("common", "-DMEMO=1", NULL)) {
			e->key.hash = clcnn_memo_hash("common", "-DMEMO=2", NULL);
			forced++;
		}
	ck_assert_int_eq(forced, 2);

	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "-DMEMO=2", "clcnn_axpby", &b), 0);
	ck_assert_ptr_ne(a, b);
	char name[64], opts[256];
	kernel_name_of(b, name, sizeof name);
	ck_assert_str_eq(name, "clcnn_axpby");
	build_options_of(b, opts, sizeof opts);
	ck_assert_msg(strstr(opts, "-DMEMO=2"), "%s", opts);
	/* the second key finds its own kernel again; the first key (its entry now under the wrong
	 * hash) gets a kernel of its own program */
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "-DMEMO=2", "clcnn_axpby", &again), 0);
	ck_assert_ptr_eq(again, b);
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "-DMEMO=1", "clcnn_smoke", &again), 0);
	ck_assert_ptr_ne(again, b);
	kernel_name_of(again, name, sizeof name);
	ck_assert_str_eq(name, "clcnn_smoke");
	build_options_of(again, opts, sizeof opts);
	ck_assert_msg(strstr(opts, "-DMEMO=1"), "%s", opts);
	/* the same name in another program is another kernel; NULL options are the empty options */
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "-DMEMO=1", "clcnn_axpby", &again), 0);
	ck_assert_ptr_ne(again, b);
	build_options_of(again, opts, sizeof opts);
	ck_assert_msg(strstr(opts, "-DMEMO=1"), "%s", opts);
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", NULL, "clcnn_smoke", &a), 0);
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "", "clcnn_smoke", &again), 0);
	ck_assert_ptr_eq(a, again);
	clcnn_context_close(ctx);
}
END_TEST

/* ---------------------------------------------------------------- on-disk cache */

struct entry {
	char path[4400];
	unsigned char *bytes;
	size_t size;
};

/* The only program entry in dir. */
static struct entry only_entry(const char *dir)
{
	struct entry e = {{0}, NULL, 0};
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "ls %s/prog-*.bin", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(e.path, sizeof e.path, p));
	e.path[strcspn(e.path, "\n")] = 0;
	char extra[4400];
	ck_assert_msg(!fgets(extra, sizeof extra, p), "a second entry %s", extra);
	pclose(p);
	FILE *f = fopen(e.path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	e.size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	e.bytes = malloc(e.size);
	ck_assert_uint_eq(fread(e.bytes, 1, e.size, f), e.size);
	fclose(f);
	return e;
}

enum {
	MAGIC = 8,
	H_HASH = 0,
	H_SIZE = 1,
	H_SUM = 2,
	H_KEYLEN = 3,
	HEADER = MAGIC + 4 * 8
};

static uint64_t word(const struct entry *e, int i)
{
	uint64_t v;
	memcpy(&v, e->bytes + MAGIC + 8 * i, sizeof v);
	return v;
}

static void set_word(struct entry *e, int i, uint64_t v)
{
	memcpy(e->bytes + MAGIC + 8 * i, &v, sizeof v);
}

START_TEST(cache_entry_holds_and_checks_the_key)
{
	char *dir = test_tmpdir();
	struct logbuf lb = {{0}};
	struct clcnn_build_report rep;
	struct clcnn_context *ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DKEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	clcnn_context_close(ctx);

	/* the whole key is in the file: options, device and every source in full */
	struct entry e = only_entry(dir);
	size_t klen = (size_t)word(&e, H_KEYLEN);
	ck_assert_uint_eq(e.size, HEADER + klen + word(&e, H_SIZE));
	char *key = strndup((const char *)e.bytes + HEADER, klen);
	ck_assert_msg(strstr(key, "\noptions -cl-std=CL1.2 -DKEY=1\n"), "%s", key);
	ck_assert_ptr_nonnull(strstr(key, clcnn_context_device(ctx = test_context())->name));
	clcnn_context_close(ctx);
	int parts = 0;
	for (size_t i = 0; i < clcnn_embedded_source_count; i++) {
		const struct clcnn_source *s = &clcnn_embedded_sources[i];
		if (strcmp(s->name, "common") && !strstr(s->name, ".h"))
			continue; /* another family */
		char *text = strndup((const char *)s->data, s->size);
		ck_assert_msg(strstr(key, text), "source %s is not in the key", s->name);
		free(text);
		parts++;
	}
	ck_assert_int_ge(parts, 1);
	free(key);

	/* the same file name and a valid checksum, but the key of other options: a miss */
	char *opt = memmem(e.bytes + HEADER, klen, "-DKEY=1", 7);
	ck_assert_ptr_nonnull(opt);
	opt[6] = '9';
	set_word(&e, H_SUM, clcnn_hash(CLCNN_HASH_INIT, e.bytes + HEADER, e.size - HEADER));
	FILE *f = fopen(e.path, "wb");
	ck_assert_uint_eq(fwrite(e.bytes, 1, e.size, f), e.size);
	fclose(f);
	ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DKEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	ck_assert_msg(strstr(lb.all, "holds another key"), "%s", lb.all);
	ck_assert_ptr_null(strstr(lb.all, "truncated or corrupt"));
	clcnn_context_close(ctx);

	/* rebuilt under the right key: a hit again, and the file is what the first build wrote */
	ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DKEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 1);
	clcnn_context_close(ctx);
	struct entry again = only_entry(dir);
	ck_assert_str_eq(again.path, e.path);
	ck_assert_uint_eq(word(&again, H_HASH), word(&e, H_HASH));
	ck_assert(memmem(again.bytes + HEADER, klen, "-DKEY=1", 7));
	free(again.bytes);
	free(e.bytes);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------------- shared headers */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4400];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static float run_value_kernel(struct clcnn_context *ctx, const char *family)
{
	cl_kernel k;
	ck_assert_msg(clcnn_kernel_get(ctx, family, "", "value", &k) == 0, "%s", clcnn_context_error(ctx));
	cl_int err;
	cl_mem out = clCreateBuffer(ctx->cl, CL_MEM_WRITE_ONLY, sizeof(float), NULL, &err);
	ck_assert_int_eq(err, CL_SUCCESS);
	ck_assert_int_eq(clcnn_kernel_args(ctx, k, KARG(out)), 0);
	size_t one = 1;
	ck_assert_int_eq(clcnn_kernel_run(ctx, k, 1, &one, &one), 0);
	float v = 0;
	ck_assert_int_eq(clEnqueueReadBuffer(ctx->queue, out, CL_TRUE, 0, sizeof v, &v, 0, NULL, NULL), CL_SUCCESS);
	clReleaseMemObject(out);
	return v;
}

/*
 * Every embedded header is compiled in front of common.cl and the family, read from CLCNN_KERNEL_DIR
 * when it is set: a macro of the last header is seen by a family; a missing header is an error.
 */
START_TEST(headers_are_the_prelude_of_every_program)
{
	const char *last = NULL;
	int headers = 0;
	for (size_t i = 0; i < clcnn_embedded_source_count; i++)
		if (strstr(clcnn_embedded_sources[i].name, ".h")) {
			last = clcnn_embedded_sources[i].name;
			headers++;
		}
	ck_assert_int_ge(headers, 5);
	char *dir = test_tmpdir();
	for (size_t i = 0; i < clcnn_embedded_source_count; i++)
		if (strstr(clcnn_embedded_sources[i].name, ".h"))
			write_file(dir, clcnn_embedded_sources[i].name, "#define HEADER_VALUE 1.0f\n");
	write_file(dir, last, "#define FROM_LAST_HEADER 42.5f\n");
	write_file(dir, "common.cl", "#define COMMON_OFFSET 0.25f\n");
	write_file(dir, "fam.cl",
		   "__kernel void value(__global float *o) { o[0] = FROM_LAST_HEADER + COMMON_OFFSET; }\n");
	struct logbuf lb = {{0}};
	struct clcnn_context *ctx = open_with("off", dir, &lb);
	ck_assert(run_value_kernel(ctx, "fam") == 42.75f);
	clcnn_context_close(ctx);

	char path[4400];
	snprintf(path, sizeof path, "%s/%s", dir, last);
	ck_assert_int_eq(remove(path), 0);
	ctx = open_with("off", dir, &lb);
	cl_kernel k;
	ck_assert_int_eq(clcnn_kernel_get(ctx, "fam", "", "value", &k), CLCNN_ERR_IO);
	strcat(path, " cannot be read");
	ck_assert_msg(strstr(clcnn_context_error(ctx), path), "%s", clcnn_context_error(ctx));
	clcnn_context_close(ctx);

	/* the real headers: the kernels see the ids the C side compiles with */
	for (size_t i = 0; i < clcnn_embedded_source_count; i++) {
		const struct clcnn_source *src = &clcnn_embedded_sources[i];
		if (strstr(src->name, ".h")) {
			char *text = strndup((const char *)src->data, src->size);
			write_file(dir, src->name, text);
			free(text);
		}
	}
	write_file(dir, "common.cl", "");
	write_file(dir, "fam.cl",
		   "__kernel void value(__global float *o) { o[0] = (float)(ACT_PRELU * 1000 + "
		   "LOSS_MARGIN * 100 + SM_SOFTMIN * 10 + BN_STATS_UPDATE + BLUR_PAD_ZERO * 0.5f); }\n");
	ctx = open_with("off", dir, &lb);
	ck_assert(run_value_kernel(ctx, "fam") == (float)(ACT_PRELU * 1000 + LOSS_MARGIN * 100 + SM_SOFTMIN * 10 +
							  BN_STATS_UPDATE + BLUR_PAD_ZERO * 0.5f));
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("program");
	TCase *tc = tcase_create("keys");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, memo_collision_is_not_a_hit);
	tcase_add_test(tc, cache_entry_holds_and_checks_the_key);
	tcase_add_test(tc, headers_are_the_prelude_of_every_program);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
