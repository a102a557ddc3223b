#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ci(void)
{
	const char *c = getenv("CI");
	return c && (!strcmp(c, "true") || !strcmp(c, "1"));
}

/*
 * Probe for a device in a child process: initialising an OpenCL driver in the parent (POCL starts
 * worker threads) and then forking for each check test deadlocks the children.
 */
void test_require_device(void)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct clcnn_device_list *l;
		char err[4096];
		if (clcnn_device_list_new(&l, err, sizeof err) == 0)
			_exit(0);
		fprintf(stderr, "no OpenCL device: %s\n", err);
		_exit(3);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		exit(ci() ? 1 : 77);
}

struct clcnn_context *test_context_with(const struct clcnn_options *opt)
{
	struct clcnn_context *ctx;
	char err[8192];
	int rc = clcnn_context_open(&ctx, opt, err, sizeof err);
	ck_assert_msg(rc == 0, "context: %s", err);
	return ctx;
}

struct clcnn_context *test_context_logged(const char *cache, const char *kdir, clcnn_log_fn fn, void *user)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.cache_dir = cache;
	o.kernel_dir = kdir;
	o.log_fn = fn;
	o.log_user = user;
	o.log_level = CLCNN_LOG_INFO;
	return test_context_with(&o);
}

struct clcnn_context *test_context_fixed(void)
{
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.tune = "off";
	o.cache_dir = "off";
	return test_context_with(&o);
}

char *test_slurp(const char *rel)
{
	const char *dir = getenv("CLCNN_DATA_DIR");
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/data", rel);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	ck_assert(s != NULL);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	return s;
}

struct clcnn_context *test_context(void)
{
	return test_context_with(NULL);
}

int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char buf[4096];
	snprintf(buf, sizeof buf, "%s/clcnn-test-XXXXXX", base && *base ? base : "/tmp");
	char *d = mkdtemp(buf);
	ck_assert_msg(d != NULL, "mkdtemp failed");
	return strdup(d);
}

static int rm_cb(const char *p, const struct stat *s, int flag, struct FTW *f)
{
	(void)s;
	(void)flag;
	(void)f;
	return remove(p);
}

void test_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void test_fill_inputs(struct clcnn_graph *g, int batch, uint64_t seed, int zero_every)
{
	for (int i = 0; i < clcnn_graph_input_count(g); i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(g, i, &name, &nd, dims);
		size_t n = (size_t)batch;
		for (int d = 0; d < nd; d++)
			n *= (size_t)dims[d];
		float *x = malloc(n * sizeof *x);
		ck_assert_ptr_nonnull(x);
		for (size_t k = 0; k < n; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			x[k] = nd ? (float)((seed >> 40) & 0xFFFF) / 32768.0f - 1.0f : (float)((k * 7 + 3) % 3);
		}
		for (size_t k = 0; nd && zero_every > 0 && k < n; k += (size_t)zero_every)
			x[k] = 0.0f;
		ck_assert_int_eq(clcnn_graph_set_input(g, name, x), 0);
		free(x);
	}
}
