/*
 * Device faults seen through a whole graph, where a user meets them:
 *  - a batch whose activations exceed the device's max allocation fails to build with
 *    CLCNN_ERR_NO_MEMORY naming the size, and the same graph and context then build, run and give
 *    correct results at a batch that fits;
 *  - a kernel program that does not compile (a broken .cl in CLCNN_KERNEL_DIR) fails with
 *    CLCNN_ERR_BUILD carrying the node and the compiler's build log, and the context still runs
 *    programs that do compile;
 *  - a program cache entry whose header lies about its size is rebuilt, not trusted.
 * (tests/device/test-device.c covers single buffers, the program cache and the smoke kernel.)
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcnn/graph.h"
#include "testutil.h"

START_TEST(batch_too_large_then_usable)
{
	struct clcnn_context *ctx = test_context();
	const struct clcnn_device_info *d = clcnn_context_device(ctx);
	/* 4 MiB per sample: the smallest batch whose input alone exceeds max_alloc */
	long long per = 1024 * 1024 * 4;
	long long batch = (long long)(d->max_alloc / (unsigned long long)per) + 1;
	/* a device allowing 8 GiB per buffer meets the int limit of a tensor first (refused before allocating) */
	if (batch * (per / 4) > 2147483647LL)
		batch = 2147483647LL / (per / 4) + 1;
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_parse(ctx, "x = input(shape=(1,1024,1024))\nr = relu(x)\ns = tanh(r)\n", "big.net",
					   &g),
			 0);
	int rc = clcnn_graph_build(g, (int)batch);
	ck_assert_msg(rc == CLCNN_ERR_NO_MEMORY || rc == CLCNN_ERR_INVALID, "batch %lld built (%d): %s", batch, rc,
		      clcnn_context_error(ctx));
	printf("batch %lld: %s\n", batch, clcnn_context_error(ctx));
	ck_assert_msg(strstr(clcnn_context_error(ctx),
			     rc == CLCNN_ERR_NO_MEMORY ? "max allocation" : "the most a tensor can have"),
		      "%s", clcnn_context_error(ctx));
	ck_assert_msg(strstr(clcnn_context_error(ctx), "input 'x'"), "%s", clcnn_context_error(ctx));
	ck_assert_int_eq(clcnn_graph_batch(g), 0);
	/* the graph and the context are fine at a batch that fits */
	ck_assert_int_eq(clcnn_graph_keep(g, "r"), 0); /* read below; the memory plan keeps only what is asked */
	ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s", clcnn_context_error(ctx));
	size_t n = 2 * 1024 * 1024;
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)((long)(i % 7) - 3);
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", x), 0);
	ck_assert_int_eq(clcnn_graph_forward(g, 0, 0), 0);
	ck_assert_int_eq(clcnn_graph_read(g, "r", y), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(y[i] == (x[i] > 0 ? x[i] : 0), "relu at %zu: %g", i, (double)y[i]);
	free(x);
	free(y);
	clcnn_graph_free(g);
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	clcnn_context_close(ctx);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(broken_kernel_source_reports_build_log)
{
	char *dir = test_tmpdir();
	char path[4200], cmd[8600];
	/* every real source (families and shared headers), with the activation family broken */
	const char *src = getenv("CLCNN_KERNEL_SOURCE");
	ck_assert_msg(src != NULL, "CLCNN_KERNEL_SOURCE (the cl/ folder) is not set");
	snprintf(cmd, sizeof cmd, "cp %s/*.cl %s/*.h %s/", src, src, dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof path, "%s/activation.cl", dir);
	write_file(path, "__kernel void clcnn_relu_forward(__global float *x) { x[0] = no_such_variable; }\n");
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.kernel_dir = dir;
	o.cache_dir = "off";
	struct clcnn_context *ctx = test_context_with(&o);
	struct clcnn_graph *g;
	ck_assert_int_eq(clcnn_graph_parse(ctx, "x = input(shape=(4))\nr = relu(x)\n", "k.net", &g), 0);
	int rc = clcnn_graph_build(g, 2);
	if (!rc) {
		float x[8] = {0}, y[8];
		ck_assert_int_eq(clcnn_graph_set_input(g, "x", x), 0);
		rc = clcnn_graph_forward(g, 0, 0);
		if (!rc)
			rc = clcnn_graph_read(g, "r", y);
	}
	const char *e = clcnn_context_error(ctx);
	ck_assert_msg(rc == CLCNN_ERR_BUILD, "status %d: %s", rc, e);
	ck_assert_msg(strstr(e, "'r'") && strstr(e, "activation.cl") && strstr(e, "build log:") &&
			      strstr(e, "no_such_variable"),
		      "the message lacks the node, the file or the build log: %s", e);
	clcnn_graph_free(g);
	/* programs that compile still build and run */
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	ck_assert_int_eq(clcnn_graph_parse(ctx, "x = input(shape=(4))\nf = flatten(x)\n", "ok.net", &g), 0);
	ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s", clcnn_context_error(ctx));
	float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
	ck_assert_int_eq(clcnn_graph_set_input(g, "x", x), 0);
	ck_assert_int_eq(clcnn_graph_forward(g, 0, 0), 0);
	ck_assert_int_eq(clcnn_graph_read(g, "f", y), 0);
	ck_assert(!memcmp(x, y, sizeof x));
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * A cache entry whose header claims a 4 GiB payload (the file is small): refused as corrupt before
 * anything is allocated from the claim, and rebuilt. (Under tools/sanitize.sh, ASan aborts on any
 * allocation above 3 GiB, so trusting the header would fail there.)
 */
START_TEST(cache_entry_with_lying_size)
{
	char *dir = test_tmpdir();
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.cache_dir = dir;
	struct clcnn_context *ctx = test_context_with(&o);
	struct clcnn_build_report rep;
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DLYING_SIZE=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	clcnn_context_close(ctx);
	/* bytes 16..23 of an entry: the payload size after the magic and the key */
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".bin"))
			continue;
		char path[4400];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int fd = open(path, O_WRONLY);
		uint64_t lie = 0xFFFFFFF0u;
		ck_assert_int_eq(pwrite(fd, &lie, sizeof lie, 16), sizeof lie);
		close(fd);
		n++;
	}
	closedir(d);
	ck_assert_int_ge(n, 1);
	ctx = test_context_with(&o);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DLYING_SIZE=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	clcnn_context_close(ctx);
	ctx = test_context_with(&o);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DLYING_SIZE=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 1);
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("device-faults");
	TCase *tc = tcase_create("device-faults");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, batch_too_large_then_usable);
	tcase_add_test(tc, broken_kernel_source_reports_build_log);
	tcase_add_test(tc, cache_entry_with_lying_size);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
