/*
 * Foundation: device selection (every selector form, on a fake multi-platform list and on the real
 * device), the on-disk program cache (miss, hit, corruption, concurrent writers, unusable dir),
 * the kernel-dir override, build-failure logs, allocation failures, contexts without a device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clcnn-private.h"
#include "clcnn/graph.h"
#include "device/device-private.h"
#include "testutil.h"

/* ---------------------------------------------------------------- selection on a fake list */

static struct clcnn_device_list *fake_list(void)
{
	static struct clcnn_device_entry e[4];
	static struct clcnn_device_list l = {4, 2, e};
	const char *names[4] = {"Intel(R) UHD Graphics 630", "Intel(R) Core(TM) i7", "NVIDIA H100 80GB HBM3",
				"pthread-skylake-avx512"};
	const char *types[4] = {"gpu", "cpu", "gpu", "cpu"};
	const char *plats[4] = {"Intel(R) OpenCL", "Intel(R) OpenCL", "NVIDIA CUDA", "Portable Computing Language"};
	int pi[4] = {0, 0, 1, 2}, di[4] = {0, 1, 0, 0};
	for (int i = 0; i < 4; i++) {
		memset(&e[i], 0, sizeof e[i]);
		e[i].info.index = i;
		e[i].info.platform_index = pi[i];
		e[i].info.device_index = di[i];
		e[i].info.name = names[i];
		e[i].info.type = types[i];
		e[i].info.platform_name = plats[i];
		e[i].info.vendor = "v";
	}
	l.nplatforms = 3;
	return &l;
}

static int pick(const char *dev, const char *plat, const char **rule, char *err)
{
	struct clcnn_options o = {0};
	o.device = dev;
	o.platform = plat;
	int idx = -1;
	int rc = clcnn_device_select(fake_list(), &o, &idx, rule, err, 2048);
	return rc ? rc : idx;
}

START_TEST(select_forms)
{
	const char *rule;
	char err[2048];
	ck_assert_int_eq(pick(NULL, NULL, &rule, err), 0);
	ck_assert_str_eq(rule, "default: first GPU");
	ck_assert_int_eq(pick("gpu", NULL, &rule, err), 0);
	ck_assert_int_eq(pick("GPU", "nvidia", &rule, err), 2);
	ck_assert_int_eq(pick("cpu", NULL, &rule, err), 1);
	ck_assert_str_eq(rule, "CLCNN_DEVICE type");
	ck_assert_int_eq(pick("3", NULL, &rule, err), 3);
	ck_assert_str_eq(rule, "CLCNN_DEVICE index");
	ck_assert_int_eq(pick("0:1", NULL, &rule, err), 1);
	ck_assert_str_eq(rule, "CLCNN_DEVICE platform:device");
	ck_assert_int_eq(pick("2:0", NULL, &rule, err), 3);
	ck_assert_int_eq(pick("nvidia", NULL, &rule, err), 2);
	ck_assert_str_eq(rule, "CLCNN_DEVICE name");
	ck_assert_int_eq(pick("POCL", NULL, &rule, err), -2); /* "pocl" is not in "Portable Computing Language" */
	ck_assert_int_eq(pick("portable", NULL, &rule, err), 3);
	ck_assert_int_eq(pick("skylake", NULL, &rule, err), 3);
	ck_assert_int_eq(pick(NULL, "2", &rule, err), 3);
	ck_assert_str_eq(rule, "default: no GPU, first CPU");
	ck_assert_int_eq(pick(NULL, "intel", &rule, err), 0);
	ck_assert_int_eq(pick("cpu", "1", &rule, err), CLCNN_ERR_NO_DEVICE);
	ck_assert_msg(strstr(err, "CLCNN_DEVICE=cpu with CLCNN_PLATFORM=1 matches no device"), "%s", err);
}
END_TEST

START_TEST(select_errors_list_devices)
{
	const char *rule;
	char err[2048];
	ck_assert_int_eq(pick("nosuchdevice", NULL, &rule, err), CLCNN_ERR_NO_DEVICE);
	ck_assert_msg(strstr(err, "CLCNN_DEVICE=nosuchdevice matches no device; devices present:"), "%s", err);
	ck_assert_msg(strstr(err, "2 (1:0) gpu: NVIDIA H100 80GB HBM3 [NVIDIA CUDA]"), "%s", err);
	ck_assert_msg(strstr(err, "3 (2:0) cpu: pthread-skylake-avx512"), "%s", err);
	ck_assert_int_eq(pick("9", NULL, &rule, err), CLCNN_ERR_NO_DEVICE);
	ck_assert_int_eq(pick("5:0", NULL, &rule, err), CLCNN_ERR_NO_DEVICE);
	ck_assert_int_eq(pick("accelerator", NULL, &rule, err), CLCNN_ERR_NO_DEVICE);
	ck_assert_int_eq(pick(NULL, "amd", &rule, err), CLCNN_ERR_NO_DEVICE);
	ck_assert_msg(strstr(err, "CLCNN_PLATFORM=amd matches no platform"), "%s", err);
}
END_TEST

/* ---------------------------------------------------------------- the real device */

START_TEST(real_device_selectors)
{
	const char *sels[] = {"0", "0:0", "cpu", "pthread"};
	for (size_t i = 0; i < 4; i++) {
		struct clcnn_options o;
		clcnn_options_from_env(&o);
		o.device = sels[i];
		o.platform = NULL;
		struct clcnn_context *ctx = NULL;
		char err[4096];
		int rc = clcnn_context_open(&ctx, &o, err, sizeof err);
		if (!strcmp(sels[i], "cpu") || !strcmp(sels[i], "pthread")) {
			/* only POCL CPU machines must have these */
			if (rc) {
				clcnn_context_close(ctx);
				continue;
			}
		}
		ck_assert_msg(rc == 0, "%s: %s", sels[i], err);
		ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
		clcnn_context_close(ctx);
	}
	struct clcnn_options o = {0};
	o.device = "nosuchdevice";
	struct clcnn_context *ctx = NULL;
	char err[4096];
	ck_assert_int_eq(clcnn_context_open(&ctx, &o, err, sizeof err), CLCNN_ERR_NO_DEVICE);
	ck_assert_msg(strstr(err, "devices present:\n  0 (0:0)"), "%s", err);
	clcnn_context_close(ctx);
}
END_TEST

/* ---------------------------------------------------------------- cache */

struct logbuf {
	int warnings;
	char last[1024];
};

static void log_cb(void *user, int level, const char *msg)
{
	struct logbuf *b = user;
	if (level == CLCNN_LOG_WARN)
		b->warnings++;
	snprintf(b->last, sizeof b->last, "%s", msg);
}

static struct clcnn_context *open_with(const char *cache, const char *kdir, struct logbuf *lb)
{
	return test_context_logged(cache, kdir, log_cb, lb);
}

static int count_entries(const char *dir, const char *suffix)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "ls %s 2>/dev/null | grep -c '%s$'", dir, suffix);
	FILE *p = popen(cmd, "r");
	int n = 0;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

START_TEST(cache_miss_hit_corrupt)
{
	char *dir = test_tmpdir();
	struct logbuf lb = {0};
	struct clcnn_build_report rep;
	struct clcnn_context *ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DTEST_KEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	clcnn_context_close(ctx);
	ck_assert_int_eq(count_entries(dir, ".bin"), 1);

	ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DTEST_KEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 1);
	/* other options are another key */
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DTEST_KEY=2", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	clcnn_context_close(ctx);

	/* truncate every entry: detected, rebuilt, and the rebuilt entry is whole again */
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "for f in %s/*.bin; do head -c 40 \"$f\" > \"$f.x\" && mv \"$f.x\" \"$f\"; done",
		 dir);
	ck_assert_int_eq(system(cmd), 0);
	ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DTEST_KEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	ck_assert_msg(strstr(lb.last, "truncated or corrupt"), "%s", lb.last);
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	clcnn_context_close(ctx);
	/* flip a byte in the payload: checksum catches it */
	snprintf(cmd, sizeof cmd,
		 "for f in %s/*.bin; do printf 'Z' | dd of=\"$f\" bs=1 seek=100 conv=notrunc status=none; done", dir);
	ck_assert_int_eq(system(cmd), 0);
	ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DTEST_KEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 0);
	clcnn_context_close(ctx);
	ctx = open_with(dir, NULL, &lb);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DTEST_KEY=1", &rep), 0);
	ck_assert_int_eq(rep.cache_hit, 1);
	clcnn_context_close(ctx);
	ck_assert_int_eq(lb.warnings, 0);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(cache_concurrent_writers)
{
	char *dir = test_tmpdir();
	enum {
		NPROC = 6
	};
	pid_t pids[NPROC];
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			/*
			 * clcnn's cache is what is shared here. POCL's own kernel cache is not safe for several
			 * processes compiling at once (pocl/pocl#1480, #430: clBuildProgram fails at random on a
			 * cold cache, seen once in CI), so each writer gets a private one before OpenCL loads.
			 */
			char pocl[4200];
			snprintf(pocl, sizeof pocl, "%s/pocl-%d", dir, i);
			setenv("POCL_CACHE_DIR", pocl, 1);
			struct logbuf lb = {0};
			struct clcnn_options o;
			clcnn_options_from_env(&o);
			o.cache_dir = dir;
			o.log_fn = log_cb;
			o.log_user = &lb;
			struct clcnn_context *ctx;
			char err[4096];
			if (clcnn_context_open(&ctx, &o, err, sizeof err)) {
				fprintf(stderr, "writer %d: %s\n", i, err);
				_exit(2);
			}
			struct clcnn_build_report rep;
			for (int k = 0; k < 3; k++) {
				char opts[64];
				snprintf(opts, sizeof opts, "-DCONCURRENT=%d", k);
				if (clcnn_program_build(ctx, "common", opts, &rep)) {
					/* the parent only sees the status: say why here */
					fprintf(stderr, "writer %d: %s\n", i, clcnn_context_error(ctx));
					_exit(3);
				}
			}
			int bad = clcnn_context_smoke_test(ctx) != 0 || lb.warnings != 0;
			clcnn_context_close(ctx);
			_exit(bad ? 4 : 0);
		}
	}
	for (int i = 0; i < NPROC; i++) {
		int st;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed (%d)", i, st);
	}
	/* exactly the three entries plus the smoke test's program, no temp files left, each a valid hit */
	ck_assert_int_eq(count_entries(dir, ".bin"), 4);
	ck_assert_int_eq(count_entries(dir, "tmp.*"), 0);
	struct logbuf lb = {0};
	struct clcnn_context *ctx = open_with(dir, NULL, &lb);
	for (int k = 0; k < 3; k++) {
		char opts[64];
		struct clcnn_build_report rep;
		snprintf(opts, sizeof opts, "-DCONCURRENT=%d", k);
		ck_assert_int_eq(clcnn_program_build(ctx, "common", opts, &rep), 0);
		ck_assert_int_eq(rep.cache_hit, 1);
	}
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(cache_unusable_dir_warns_once)
{
	/* a directory that cannot exist (below a regular file) works as root too */
	char *dir = test_tmpdir();
	char file[4200], bad[4300];
	snprintf(file, sizeof file, "%s/file", dir);
	FILE *f = fopen(file, "w");
	fclose(f);
	snprintf(bad, sizeof bad, "%s/cache", file);
	struct logbuf lb = {0};
	struct clcnn_context *ctx = open_with(bad, NULL, &lb);
	struct clcnn_build_report rep;
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DUNUSABLE=1", &rep), 0);
	ck_assert_int_eq(clcnn_program_build(ctx, "common", "-DUNUSABLE=2", &rep), 0);
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	ck_assert_int_eq(lb.warnings, 1);
	ck_assert_msg(strstr(lb.last, "continuing without caching"), "%s", lb.last);
	clcnn_context_close(ctx);
	/* "off" disables */
	struct clcnn_options o;
	clcnn_options_from_env(&o);
	o.cache_dir = "off";
	ctx = test_context_with(&o);
	ck_assert_ptr_null(clcnn_context_cache_dir(ctx));
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------------- kernel dir, build failures */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert(f != NULL);
	fputs(text, f);
	fclose(f);
}

START_TEST(kernel_dir_override_and_build_log)
{
	char *dir = test_tmpdir();
	char path[4200];
	/* the shared headers are read from the directory too (tests/device/test-program.c) */
	for (size_t i = 0; i < clcnn_embedded_source_count; i++)
		if (strstr(clcnn_embedded_sources[i].name, ".h")) {
			snprintf(path, sizeof path, "%s/%s", dir, clcnn_embedded_sources[i].name);
			write_file(path, "");
		}
	snprintf(path, sizeof path, "%s/common.cl", dir);
	write_file(path, "__kernel void clcnn_smoke(__global float *o, int n) { int i = get_global_id(0);"
			 " if (i < n) o[i] = (float)i * 0.5f + 1.0f; }\n"
			 "__kernel void only_here(__global float *o) { o[0] = 42.0f; }\n");
	struct logbuf lb = {0};
	struct clcnn_context *ctx = open_with("off", dir, &lb);
	cl_kernel k;
	ck_assert_int_eq(clcnn_kernel_get(ctx, "common", "", "only_here", &k), 0);
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	/* a family missing from the directory is an error naming the path */
	ck_assert_int_eq(clcnn_program_build(ctx, "nosuchfamily", "", NULL), CLCNN_ERR_IO);
	snprintf(path, sizeof path, "%s/nosuchfamily.cl cannot be read", dir);
	ck_assert_msg(strstr(clcnn_context_error(ctx), path), "%s", clcnn_context_error(ctx));
	/* a syntax error returns CLCNN_ERR_BUILD with the device's build log */
	snprintf(path, sizeof path, "%s/broken.cl", dir);
	write_file(path, "__kernel void broken(__global float *o) { o[0] = undeclared_thing; }\n");
	ck_assert_int_eq(clcnn_program_build(ctx, "broken", "-DX=1", NULL), CLCNN_ERR_BUILD);
	const char *e = clcnn_context_error(ctx);
	ck_assert_msg(strstr(e, "building kernel program broken.cl") && strstr(e, "build log:") &&
			      strstr(e, "undeclared_thing"),
		      "%s", e);
	clcnn_context_close(ctx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(embedded_families_build)
{
	struct clcnn_context *ctx = test_context();
	const char *const *fam = clcnn_program_families();
	int n = 0, has_common = 0;
	for (; fam[n]; n++) {
		ck_assert_msg(clcnn_program_build(ctx, fam[n], "", NULL) == 0, "%s: %s", fam[n],
			      clcnn_context_error(ctx));
		has_common |= !strcmp(fam[n], "common");
	}
	ck_assert_int_ge(n, 2);
	ck_assert(has_common);
	clcnn_context_close(ctx);
}
END_TEST

/* ---------------------------------------------------------------- allocation */

START_TEST(allocation_failure_names_size)
{
	struct clcnn_context *ctx = test_context();
	const struct clcnn_device_info *d = clcnn_context_device(ctx);
	struct clcnn_tensor *t = NULL;
	/* one float more than the device's max allocation */
	long long want = (long long)(d->max_alloc / 4) + 1;
	int dims[2] = {(int)(want / 1024 + 1), 1024};
	ck_assert_int_eq(clcnn_tensor_new(ctx, 2, dims, &t), CLCNN_ERR_NO_MEMORY);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(clcnn_context_error(ctx), "exceeds the device's max allocation"), "%s",
		      clcnn_context_error(ctx));
	char bytes[64];
	snprintf(bytes, sizeof bytes, "%zu bytes", (size_t)dims[0] * 1024 * 4);
	ck_assert_msg(strstr(clcnn_context_error(ctx), bytes), "%s", clcnn_context_error(ctx));
	/* bad dims */
	int bad[2] = {3, 0};
	ck_assert_int_eq(clcnn_tensor_new(ctx, 2, bad, &t), CLCNN_ERR_INVALID);
	/* the context stays usable */
	int ok[3] = {2, 3, 5};
	ck_assert_int_eq(clcnn_tensor_new(ctx, 3, ok, &t), 0);
	float in[30], out[30];
	for (int i = 0; i < 30; i++)
		in[i] = (float)i - 7.5f;
	ck_assert_int_eq(clcnn_tensor_upload(t, in), 0);
	ck_assert_int_eq(clcnn_tensor_download(t, out), 0);
	ck_assert(memcmp(in, out, sizeof in) == 0);
	ck_assert_int_eq(clcnn_tensor_count(t), 30);
	clcnn_tensor_free(t);
	ck_assert_int_eq(clcnn_context_smoke_test(ctx), 0);
	clcnn_context_close(ctx);
}
END_TEST

/* ---------------------------------------------------------------- a context without a device */

static const char host_net[] =
	"image = input(shape=(1,8,8))\nlabel = input()\n"
	"c = conv2d(image, out_channels=4, kernel_size=3, padding=1)\nr = relu\n"
	"s = add(r, c)\nf = flatten(s)\nfc = linear(out_features=3)\nloss = cross_entropy(fc, label)\n";

/* describe(with_plan) without the lines that depend on the device's algorithms (peak, scratch) */
static char *plan_text(struct clcnn_context *ctx)
{
	struct clcnn_graph *g;
	ck_assert_msg(clcnn_graph_parse(ctx, host_net, "h.net", &g) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_build(g, 2) == 0, "%s", clcnn_context_error(ctx));
	char *text;
	ck_assert(clcnn_graph_describe(g, 1, &text) == 0);
	clcnn_graph_free(g);
	for (char *line = text, *next; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (!strncmp(line, "plan (batch", 11) || !strncmp(line, "  state", 7)) {
			memmove(line, next, strlen(next) + 1);
			next = line;
		}
	}
	return text;
}

/*
 * clcnn_context_open_host: netfiles parse, graphs build to the same shapes, parameters and memory
 * plan as on the device (less the workspaces algorithms choose), and everything that needs the
 * device fails with CLCNN_ERR_NO_DEVICE saying so.
 */
START_TEST(host_context_plans_without_device)
{
	struct clcnn_context *host, *dev = test_context();
	ck_assert_int_eq(clcnn_context_open_host(&host, NULL, NULL, 0), 0);
	ck_assert_int_eq(clcnn_context_has_device(host), 0);
	ck_assert_int_eq(clcnn_context_has_device(dev), 1);
	char *want = plan_text(dev), *got = plan_text(host);
	ck_assert_str_eq(got, want);
	ck_assert_ptr_nonnull(strstr(got, "(c->r sum)")); /* c feeds s and r: r adds a temporary */
	ck_assert_ptr_nonnull(strstr(got, "batch 2, 811 parameters (811 trainable)"));
	free(want);
	free(got);

	struct clcnn_graph *g;
	ck_assert(clcnn_graph_parse(host, host_net, "h.net", &g) == 0);
	ck_assert(clcnn_graph_build(g, 2) == 0);
	float x[2 * 64] = {0};
	ck_assert_int_eq(clcnn_graph_set_input(g, "image", x), CLCNN_ERR_NO_DEVICE);
	ck_assert_str_eq(clcnn_context_error(host),
			 "running a graph needs an OpenCL device, and this context has none");
	ck_assert_int_eq(clcnn_graph_forward(g, 0, 0), CLCNN_ERR_NO_DEVICE);
	ck_assert_int_eq(clcnn_graph_param_read(g, 0, x), CLCNN_ERR_NO_DEVICE);
	ck_assert_str_eq(clcnn_context_error(host),
			 "reading results needs an OpenCL device, and this context has none");
	ck_assert_int_eq(clcnn_context_smoke_test(host), CLCNN_ERR_NO_DEVICE);
	ck_assert_str_eq(clcnn_context_error(host),
			 "kernel program common needs an OpenCL device, and this context has none");
	ck_assert_int_eq(clcnn_context_finish(host), 0);
	clcnn_graph_free(g);
	clcnn_context_close(host);
	clcnn_context_close(dev);
}
END_TEST

int main(void)
{
	test_require_device();
	Suite *s = suite_create("device");
	TCase *sel = tcase_create("selection");
	tcase_add_test(sel, select_forms);
	tcase_add_test(sel, select_errors_list_devices);
	tcase_add_test(sel, real_device_selectors);
	suite_add_tcase(s, sel);
	TCase *tc = tcase_create("programs");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, cache_miss_hit_corrupt);
	tcase_add_test(tc, cache_concurrent_writers);
	tcase_add_test(tc, cache_unusable_dir_warns_once);
	tcase_add_test(tc, kernel_dir_override_and_build_log);
	tcase_add_test(tc, embedded_families_build);
	tcase_add_test(tc, allocation_failure_names_size);
	tcase_add_test(tc, host_context_plans_without_device);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
