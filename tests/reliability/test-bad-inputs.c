/*
 * The malformed-input corpus: every file of tests/data/bad/<kind>/ is read by its reader and must
 * fail with exactly the status and message of <file>.expect (first line the status name, then the
 * message; a message ending in "..." only has to start with the text before it). Files are opened
 * by bare name from inside their folder, so messages read as a user would see them.
 *
 *   test-bad-inputs             safetensors, idx, cifar, csv, image, netfile, onnx + shape inference (no
 *                               device: unit)
 *   test-bad-inputs --device    weights loaded into tests/data/cli/tiny.net, and checkpoints with
 *                               broken metadata or non-finite optimizer state (suite device)
 *
 * Besides the message, a failed weights load must leave the graph's parameters untouched.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcnn/train.h"
#include "graph/graph-private.h"
#include "io/io.h"
#include "io/onnx.h"
#include "testutil.h"

/* ------------------------------------------------------------------ the corpus */

struct mismatch {
	char *buf;
	size_t len, cap;
	int n, cases;
};

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 16);
	size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}

static int is_data_file(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && strncmp(name, "README", 6) && !(n > 7 && !strcmp(name + n - 7, ".expect"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted data file names of the current directory; every one must have an .expect and vice versa. */
static char **list_cases(int *count, struct mismatch *m)
{
	DIR *d = opendir(".");
	ck_assert_ptr_nonnull(d);
	char **names = NULL;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(e->d_name);
		if (len > 7 && !strcmp(e->d_name + len - 7, ".expect")) {
			char data[1024];
			snprintf(data, sizeof data, "%.*s", (int)(len - 7), e->d_name);
			if (access(data, F_OK)) {
				m->n++;
				clcnn_strcatf(&m->buf, &m->len, &m->cap, "\n%s: no data file for this .expect",
					      e->d_name);
			}
			continue;
		}
		if (!is_data_file(e->d_name))
			continue;
		names = realloc(names, (size_t)(n + 1) * sizeof *names);
		ck_assert_ptr_nonnull(names);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	*count = n;
	return names;
}

/* Compare one outcome with <name>.expect. */
static void expect(struct mismatch *m, const char *name, int status, const char *msg)
{
	char path[1100];
	snprintf(path, sizeof path, "%s.expect", name);
	char *want = read_text(path);
	m->cases++;
	if (!want) {
		m->n++;
		clcnn_strcatf(&m->buf, &m->len, &m->cap, "\n%s: no .expect file (got %s: %s)", name,
			      clcnn_status_name(status), msg);
		return;
	}
	char *nl = strchr(want, '\n');
	const char *want_msg = nl ? nl + 1 : "";
	if (nl)
		*nl = 0;
	size_t wl = strlen(want_msg);
	while (wl && want_msg[wl - 1] == '\n')
		wl--;
	int prefix = wl >= 3 && !strncmp(want_msg + wl - 3, "...", 3);
	size_t cmp = prefix ? wl - 3 : wl;
	int ok = !strcmp(want, clcnn_status_name(status)) && !strncmp(msg, want_msg, cmp) && (prefix || !msg[cmp]);
	if (!ok) {
		m->n++;
		clcnn_strcatf(&m->buf, &m->len, &m->cap, "\n%s:\n  want %s: %.*s\n  got  %s: %s", name, want, (int)wl,
			      want_msg, clcnn_status_name(status), msg);
	}
	free(want);
}

typedef int (*reader_fn)(const char *name, char *err, size_t errlen, void *user);

/* Run reader over tests/data/bad/<kind>; fail the test with every mismatch at once. */
static void run_kind(const char *kind, reader_fn reader, void *user)
{
	const char *data = getenv("CLCNN_DATA_DIR");
	ck_assert_msg(data != NULL, "CLCNN_DATA_DIR is not set");
	char dir[4096], cwd[4096];
	snprintf(dir, sizeof dir, "%s/bad/%s", data, kind);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	ck_assert_msg(chdir(dir) == 0, "%s: cannot enter", dir);
	struct mismatch m = {0};
	int n;
	char **names = list_cases(&n, &m);
	for (int i = 0; i < n; i++) {
		char err[8192] = "";
		int rc = reader(names[i], err, sizeof err, user);
		expect(&m, names[i], rc, rc ? err : "(accepted)");
		free(names[i]);
	}
	free(names);
	ck_assert_int_eq(chdir(cwd), 0);
	printf("%s: %d malformed cases, %d mismatches\n", kind, m.cases, m.n);
	ck_assert_msg(m.cases > 0, "%s: no cases", dir);
	ck_assert_msg(m.n == 0, "%s: %d mismatch(es):%s", dir, m.n, m.buf ? m.buf : "");
	free(m.buf);
}

/* ------------------------------------------------------------------ readers without a device */

static int read_safetensors(const char *name, char *err, size_t errlen, void *user)
{
	(void)user;
	struct clcnn_st_file *f = NULL;
	int rc = clcnn_st_read(name, &f, err, errlen);
	ck_assert(rc ? f == NULL : f != NULL);
	clcnn_st_free(f);
	return rc;
}

static int read_idx(const char *name, char *err, size_t errlen, void *user)
{
	(void)user;
	struct clcnn_idx a;
	int rc = clcnn_idx_read(name, &a, err, errlen);
	if (rc)
		ck_assert(a.data == NULL && a.count == 0);
	clcnn_idx_free(&a);
	/* the data sources map plain files instead of reading them: same verdict, same words */
	struct clcnn_idx_view v;
	char err2[8192] = "";
	int rc2 = clcnn_idx_map(name, 0, NULL, &v, err2, sizeof err2);
	ck_assert_int_eq(rc2, rc);
	if (rc)
		ck_assert_str_eq(err2, err);
	clcnn_idx_unmap(&v);
	return rc;
}

/* A data source (CIFAR folders, CSV files), its format detected from the name. */
static int read_source(const char *name, char *err, size_t errlen, void *user)
{
	(void)user;
	struct clcnn_source *s = NULL;
	int rc = clcnn_source_open(name, NULL, &s, err, errlen);
	ck_assert(rc ? s == NULL : s != NULL);
	clcnn_source_close(s);
	return rc;
}

static int read_image(const char *name, char *err, size_t errlen, void *user)
{
	(void)user;
	float px[3 * 8 * 8];
	return clcnn_image_load(name, 3, 8, 8, px, err, errlen);
}

/*
 * The netfile parser only records its message in the context: a zeroed one needs no device. A
 * file that parses goes on to shape inference at batch 2 (graph_infer, the host half of
 * clcnn_graph_build), so setup errors of ops and size limits are part of the corpus too.
 */
static int read_netfile(const char *name, char *err, size_t errlen, void *user)
{
	(void)user;
	struct clcnn_context host = {0};
	struct clcnn_graph *g = NULL;
	int rc = clcnn_graph_load(&host, name, &g);
	ck_assert(rc ? g == NULL : g != NULL);
	if (!rc)
		rc = graph_infer(g, 2);
	snprintf(err, errlen, "%s", clcnn_context_error(&host));
	clcnn_graph_free(g);
	free(host.error);
	return rc;
}

START_TEST(corpus_safetensors)
{
	run_kind("safetensors", read_safetensors, NULL);
}
END_TEST

START_TEST(corpus_idx)
{
	run_kind("idx", read_idx, NULL);
}
END_TEST

START_TEST(corpus_cifar)
{
	run_kind("cifar", read_source, NULL);
}
END_TEST

START_TEST(corpus_csv)
{
	run_kind("csv", read_source, NULL);
}
END_TEST

START_TEST(corpus_image)
{
	run_kind("image", read_image, NULL);
}
END_TEST

START_TEST(corpus_netfile)
{
	run_kind("netfile", read_netfile, NULL);
}
END_TEST

static int read_onnx(const char *name, char *err, size_t errlen, void *user)
{
	(void)user;
	struct onnx_model *m = NULL;
	int rc = clcnn_onnx_read(name, &m, err, errlen);
	ck_assert(rc ? m == NULL : m != NULL);
	clcnn_onnx_free(m);
	return rc;
}

START_TEST(corpus_onnx)
{
	run_kind("onnx", read_onnx, NULL);
}
END_TEST

/* ------------------------------------------------------------------ on the device */

struct loaded {
	struct clcnn_context *ctx;
	struct clcnn_graph *g;
	struct clcnn_trainer *t;
};

static void open_tiny(struct loaded *l)
{
	char net[4096];
	snprintf(net, sizeof net, "%s/cli/tiny.net", getenv("CLCNN_DATA_DIR"));
	l->ctx = test_context();
	ck_assert_msg(clcnn_graph_load(l->ctx, net, &l->g) == 0, "%s", clcnn_context_error(l->ctx));
	ck_assert_msg(clcnn_graph_build(l->g, 2) == 0, "%s", clcnn_context_error(l->ctx));
	struct clcnn_optimizer_config oc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.momentum = 0.9;
	ck_assert_int_eq(clcnn_trainer_new(l->g, &oc, NULL, 5, &l->t), 0);
}

static void close_tiny(struct loaded *l)
{
	clcnn_trainer_free(l->t);
	clcnn_graph_free(l->g);
	clcnn_context_close(l->ctx);
}

/* Sum of |parameter| over the graph, to prove a refused load changed nothing. */
static double param_fingerprint(struct clcnn_graph *g)
{
	double s = 0;
	for (int i = 0; i < clcnn_graph_param_count(g); i++) {
		struct clcnn_param_info pi;
		ck_assert_int_eq(clcnn_graph_param_info(g, i, &pi), 0);
		float *x = malloc(pi.count * sizeof *x);
		ck_assert_int_eq(clcnn_graph_param_read(g, i, x), 0);
		for (size_t k = 0; k < pi.count; k++)
			s += fabs((double)x[k]) * (double)(k + 1);
		free(x);
	}
	return s;
}

static int load_weights(const char *name, char *err, size_t errlen, void *user)
{
	struct loaded *l = user;
	double before = param_fingerprint(l->g);
	int rc = clcnn_graph_load_weights(l->g, name);
	snprintf(err, errlen, "%s", clcnn_context_error(l->ctx));
	if (rc)
		ck_assert_msg(param_fingerprint(l->g) == before, "%s: a refused load changed the parameters", name);
	return rc;
}

START_TEST(corpus_weights)
{
	struct loaded l;
	open_tiny(&l);
	run_kind("weights", load_weights, &l);
	close_tiny(&l);
}
END_TEST

/* Copy of checkpoint src with metadata key set to value (NULL: removed) and, if poison names a
 * tensor, its element 3 set to NaN. */
static void variant(const char *src, const char *dst, const char *key, const char *value, const char *poison)
{
	struct clcnn_st_file *f;
	char err[1024];
	ck_assert_msg(clcnn_st_read(src, &f, err, sizeof err) == 0, "%s", err);
	struct clcnn_st_writer *w;
	ck_assert_int_eq(clcnn_st_writer_new(&w), 0);
	float *copies[64] = {0};
	for (int i = 0; i < clcnn_st_count(f); i++) {
		const struct clcnn_st_entry *e = clcnn_st_get(f, i);
		const void *data = e->data;
		if (poison && !strcmp(e->name, poison)) {
			ck_assert_int_lt(i, 64);
			copies[i] = malloc(e->nbytes);
			memcpy(copies[i], e->data, e->nbytes);
			copies[i][3] = NAN;
			data = copies[i];
		}
		ck_assert_int_eq(clcnn_st_writer_add(w, e->name, e->dtype, e->ndim, e->shape, data, err, sizeof err),
				 0);
	}
	for (int i = 0; i < clcnn_st_meta_count(f); i++) {
		const char *k, *v;
		clcnn_st_meta_get(f, i, &k, &v);
		if (key && !strcmp(k, key)) {
			if (!value)
				continue;
			v = value;
		}
		ck_assert_int_eq(clcnn_st_writer_meta(w, k, v, err, sizeof err), 0);
	}
	ck_assert_msg(clcnn_st_write(w, dst, err, sizeof err) == 0, "%s", err);
	clcnn_st_writer_free(w);
	for (int i = 0; i < 64; i++)
		free(copies[i]);
	clcnn_st_free(f);
}

/* Checkpoints whose metadata or optimizer state is broken: refused with the reason, state kept. */
START_TEST(checkpoint_metadata)
{
	static const struct {
		const char *key, *value, *poison, *msg;
	} cases[] = {
		{"step", "-1", NULL, "metadata 'step' is \"-1\", not a whole number in 0..9223372036854775807"},
		{"step", "12abc", NULL, "metadata 'step' is \"12abc\", not a whole number in 0..9223372036854775807"},
		{"step", "", NULL, "metadata 'step' is \"\", not a whole number in 0..9223372036854775807"},
		{"step", "99999999999999999999", NULL,
		 "metadata 'step' is \"99999999999999999999\", not a whole number in 0..9223372036854775807"},
		{"rng", "18446744073709551616", NULL,
		 "metadata 'rng' is \"18446744073709551616\", not a whole number in 0..18446744073709551615"},
		{"seed", "0x10", NULL, "metadata 'seed' is \"0x10\", not a whole number in 0..18446744073709551615"},
		{"epoch", "two", NULL, "metadata 'epoch' is \"two\", not a whole number in 0..2147483647"},
		{"epoch", "3000000000", NULL,
		 "metadata 'epoch' is \"3000000000\", not a whole number in 0..2147483647"},
		{"rng", NULL, NULL, "metadata 'step' or 'rng' missing: not a checkpoint of clcnn_trainer_save"},
		{NULL, NULL, "optimizer.fc.weight.momentum_buffer",
		 "'optimizer.fc.weight.momentum_buffer': element 3 is nan (weights must be finite)"},
	};
	struct loaded l;
	open_tiny(&l);
	char *dir = test_tmpdir();
	char good[4200], bad[4200];
	snprintf(good, sizeof good, "%s/good.safetensors", dir);
	snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
	ck_assert_int_eq(clcnn_trainer_save(l.t, good, 4, NULL), 0);
	double before = param_fingerprint(l.g);
	int n = (int)(sizeof cases / sizeof cases[0]);
	for (int i = 0; i < n; i++) {
		variant(good, bad, cases[i].key, cases[i].value, cases[i].poison);
		int epoch = -5;
		ck_assert_int_eq(clcnn_trainer_load(l.t, bad, &epoch), CLCNN_ERR_FORMAT);
		char want[8192];
		snprintf(want, sizeof want, "%s does not match the graph (1 problem):\n  %s", bad, cases[i].msg);
		ck_assert_str_eq(clcnn_context_error(l.ctx), want);
		ck_assert_int_eq(epoch, -5);
		ck_assert_int_eq(clcnn_trainer_steps(l.t), 0);
		ck_assert(param_fingerprint(l.g) == before);
	}
	printf("checkpoint: %d malformed cases\n", n);
	int epoch = 0;
	ck_assert_msg(clcnn_trainer_load(l.t, good, &epoch) == 0, "%s", clcnn_context_error(l.ctx));
	ck_assert_int_eq(epoch, 4);
	test_rmtree(dir);
	free(dir);
	close_tiny(&l);
}
END_TEST

int main(int argc, char **argv)
{
	int device = argc > 1 && !strcmp(argv[1], "--device");
	Suite *s = suite_create("bad-inputs");
	TCase *tc = tcase_create(device ? "device" : "readers");
	if (device) {
		test_require_device();
		tcase_set_timeout(tc, 600);
		tcase_add_test(tc, corpus_weights);
		tcase_add_test(tc, checkpoint_metadata);
	} else {
		tcase_add_test(tc, corpus_safetensors);
		tcase_add_test(tc, corpus_idx);
		tcase_add_test(tc, corpus_cifar);
		tcase_add_test(tc, corpus_csv);
		tcase_add_test(tc, corpus_image);
		tcase_add_test(tc, corpus_netfile);
		tcase_add_test(tc, corpus_onnx);
	}
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
