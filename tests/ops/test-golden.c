/*
 * PyTorch golden values: every fixture tests/data/golden/NAME.txt (written by the tools/golden scripts with
 * Debian's torch 1.13) runs through the device kernels AND the C reference; both must match torch
 * within the fixture's tolerance. The format is documented in tools/golden/golden_common.py.
 * Prints the worst error per fixture so closing notes can quote them.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "testutil.h"

#define MAXREC 64

struct rec {
	char kind[16], key[64];
	struct clcnn_shape shape;
	double *v;
	size_t n;
};

struct fixture {
	char op[64], args[4096];
	int train;
	double tol;
	int nrec;
	struct rec r[MAXREC];
};

static int parse_shape(const char *s, struct clcnn_shape *sh)
{
	*sh = (struct clcnn_shape){0, {0}};
	if (!strcmp(s, "scalar"))
		return 0;
	char buf[64];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *sv = NULL, *d = strtok_r(buf, "x", &sv); d; d = strtok_r(NULL, "x", &sv)) {
		if (sh->ndim == 4)
			return -1;
		sh->d[sh->ndim++] = atoi(d);
	}
	return 0;
}

static void load_fixture(const char *path, struct fixture *f)
{
	FILE *fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	memset(f, 0, sizeof *f);
	f->tol = 1e-5;
	size_t cap = 1 << 20;
	char *line = malloc(cap);
	while (fgets(line, (int)cap, fp)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		char kind[16] = "";
		int off = 0;
		sscanf(line, "%15s %n", kind, &off);
		const char *rest = line + off;
		if (!strcmp(kind, "op")) {
			snprintf(f->op, sizeof f->op, "%s", rest);
		} else if (!strcmp(kind, "args")) {
			snprintf(f->args, sizeof f->args, "%s", rest);
		} else if (!strcmp(kind, "train")) {
			f->train = atoi(rest);
		} else if (!strcmp(kind, "tol")) {
			f->tol = atof(rest);
		} else {
			ck_assert_msg(f->nrec < MAXREC, "%s: too many records", path);
			struct rec *r = &f->r[f->nrec++];
			snprintf(r->kind, sizeof r->kind, "%s", kind);
			char key[64] = "", shape[64] = "";
			int o2 = 0;
			if (!strcmp(kind, "grad_out") || !strcmp(kind, "out"))
				sscanf(rest, "%63s %n", shape, &o2);
			else
				sscanf(rest, "%63s %63s %n", key, shape, &o2);
			snprintf(r->key, sizeof r->key, "%s", key);
			ck_assert_msg(parse_shape(shape, &r->shape) == 0, "%s: bad shape %s", path, shape);
			r->n = clcnn_shape_count(&r->shape);
			r->v = calloc(r->n ? r->n : 1, sizeof(double));
			const char *p = rest + o2;
			for (size_t i = 0; i < r->n; i++) {
				char *end;
				r->v[i] = strtod(p, &end);
				ck_assert_msg(end != p, "%s: %s %s has fewer than %zu values", path, kind, key, r->n);
				p = end;
			}
		}
	}
	free(line);
	fclose(fp);
}

static struct rec *find(struct fixture *f, const char *kind, const char *key)
{
	for (int i = 0; i < f->nrec; i++)
		if (!strcmp(f->r[i].kind, kind) && (!key || !strcmp(f->r[i].key, key)))
			return &f->r[i];
	return NULL;
}

static double worst_err(const double *got, const double *want, size_t n, size_t *at)
{
	double w = 0;
	for (size_t i = 0; i < n; i++) {
		double e = fabs(got[i] - want[i]) / (1 + fabs(want[i]));
		if (!(e <= w)) {
			w = e;
			*at = i;
		}
	}
	return w;
}

static void check(const char *name, const char *who, const char *what, const double *got, const struct rec *want,
		  double tol, double *worst)
{
	size_t at = 0;
	double e = worst_err(got, want->v, want->n, &at);
	if (e > *worst)
		*worst = e;
	ck_assert_msg(e <= tol, "%s: %s %s differs from PyTorch at %zu: %.9g vs %.9g (rel %.3g > %.3g)", name, who,
		      what, at, got[at], want->v[at], e, tol);
}

static cl_mem upload(struct clcnn_context *ctx, const double *v, size_t n)
{
	cl_mem m;
	ck_assert(clcnn_buffer_new(ctx, (n ? n : 1) * sizeof(float), &m) == 0);
	float *f = calloc(n ? n : 1, sizeof(float));
	for (size_t i = 0; i < n; i++)
		f[i] = (float)v[i];
	if (n)
		ck_assert(clcnn_buffer_write(ctx, m, 0, n * sizeof(float), f) == 0);
	free(f);
	return m;
}

static double *download(struct clcnn_context *ctx, cl_mem m, size_t n)
{
	float *f = calloc(n ? n : 1, sizeof(float));
	double *d = calloc(n ? n : 1, sizeof(double));
	if (n)
		ck_assert_msg(clcnn_buffer_read(ctx, m, 0, n * sizeof(float), f) == 0, "%s", clcnn_context_error(ctx));
	for (size_t i = 0; i < n; i++)
		d[i] = f[i];
	free(f);
	return d;
}

static char **list_fixtures(int *count)
{
	const char *dir = getenv("CLCNN_DATA_DIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/golden", dir ? dir : "tests/data");
	DIR *d = opendir(path);
	char **names = NULL;
	*count = 0;
	if (!d)
		return NULL;
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".txt"))
			continue;
		names = realloc(names, (size_t)(*count + 1) * sizeof *names);
		char full[8192];
		snprintf(full, sizeof full, "%s/%s", path, e->d_name);
		names[(*count)++] = strdup(full);
	}
	closedir(d);
	return names;
}

static char **fixtures;
static int nfixtures;

static void run_fixture(const char *path)
{
	struct fixture F, *f = &F;
	load_fixture(path, f);
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct clcnn_shape in[CLCNN_OP_MAX_IN];
	int nin = 0;
	for (;;) {
		char key[8];
		snprintf(key, sizeof key, "%d", nin);
		struct rec *r = find(f, "input", key);
		if (!r || nin == CLCNN_OP_MAX_IN)
			break;
		in[nin++] = r->shape;
	}
	struct clcnn_op *op;
	char err[2048];
	ck_assert_msg(clcnn_op_new(f->op, f->args, nin, in, &op, err, sizeof err) == 0, "%s: %s", name, err);
	struct clcnn_context *ctx = test_context();
	ck_assert_msg(clcnn_op_prepare(op, ctx) == 0, "%s: %s", name, clcnn_context_error(ctx));
	struct clcnn_ref_io rio = {.train = f->train, .seed = 1};
	struct clcnn_dev_io dio = {.train = f->train, .seed = 1};
	size_t out_n = clcnn_shape_count(&op->out);
	double *ref_out = calloc(out_n ? out_n : 1, sizeof(double));
	double *pcopy[CLCNN_OP_MAX_PARAM] = {0};
	for (int i = 0; i < nin; i++) {
		char key[8];
		snprintf(key, sizeof key, "%d", i);
		struct rec *r = find(f, "input", key);
		rio.in[i] = r->v;
		dio.in[i] = upload(ctx, r->v, r->n);
	}
	for (int j = 0; j < op->nparam; j++) {
		struct rec *r = find(f, "param", op->param[j].name);
		ck_assert_msg(r != NULL, "%s: fixture lacks param %s", name, op->param[j].name);
		ck_assert_msg(r->n == clcnn_shape_count(&op->param[j].shape), "%s: param %s size", name, r->key);
		pcopy[j] = malloc(r->n * sizeof(double) + 8);
		memcpy(pcopy[j], r->v, r->n * sizeof(double));
		rio.param[j] = pcopy[j];
		dio.param[j] = upload(ctx, r->v, r->n);
	}
	rio.out = ref_out;
	ck_assert(clcnn_buffer_new(ctx, (out_n ? out_n : 1) * sizeof(float), &dio.out) == 0);
	ck_assert(clcnn_buffer_new(ctx, op->state_bytes + 4, &dio.state) == 0);
	ck_assert(clcnn_buffer_new(ctx, op->scratch_bytes + 4, &dio.scratch) == 0);
	double worst_dev = 0, worst_ref = 0;

	op->cls->ref_forward(op, &rio);
	ck_assert_msg(op->cls->forward(op, &dio) == 0, "%s: %s", name, clcnn_context_error(ctx));
	struct rec *want = find(f, "out", NULL);
	ck_assert_msg(want && want->n == out_n, "%s: fixture output size", name);
	double *dev_out = download(ctx, dio.out, out_n);
	check(name, "device", "output", dev_out, want, f->tol, &worst_dev);
	check(name, "reference", "output", ref_out, want, f->tol, &worst_ref);
	for (int j = 0; j < op->nparam; j++) {
		struct rec *pa = find(f, "param_after", op->param[j].name);
		if (!pa)
			continue;
		double *d = download(ctx, dio.param[j], pa->n);
		check(name, "device", op->param[j].name, d, pa, f->tol, &worst_dev);
		check(name, "reference", op->param[j].name, pcopy[j], pa, f->tol, &worst_ref);
		free(d);
	}
	struct rec *gout = find(f, "grad_out", NULL);
	if (gout && op->cls->backward) {
		/* restore parameters (forward may have updated buffers) and run backward */
		for (int j = 0; j < op->nparam; j++) {
			struct rec *r = find(f, "param", op->param[j].name);
			memcpy(pcopy[j], r->v, r->n * sizeof(double));
		}
		rio.grad_out = gout->v;
		dio.grad_out = upload(ctx, gout->v, gout->n);
		for (int i = 0; i < nin; i++) {
			char key[8];
			snprintf(key, sizeof key, "%d", i);
			struct rec *g = find(f, "grad_in", key);
			if (!g)
				continue;
			rio.grad_in[i] = calloc(g->n ? g->n : 1, sizeof(double));
			ck_assert(clcnn_buffer_new(ctx, (g->n ? g->n : 1) * sizeof(float), &dio.grad_in[i]) == 0);
		}
		for (int j = 0; j < op->nparam; j++) {
			struct rec *g = find(f, "grad_param", op->param[j].name);
			if (!g)
				continue;
			rio.grad_param[j] = calloc(g->n ? g->n : 1, sizeof(double));
			ck_assert(clcnn_buffer_new(ctx, (g->n ? g->n : 1) * sizeof(float), &dio.grad_param[j]) == 0);
		}
		op->cls->ref_backward(op, &rio);
		ck_assert_msg(op->cls->backward(op, &dio) == 0, "%s: %s", name, clcnn_context_error(ctx));
		for (int i = 0; i < nin; i++) {
			char key[8], what[32];
			snprintf(key, sizeof key, "%d", i);
			struct rec *g = find(f, "grad_in", key);
			if (!g)
				continue;
			snprintf(what, sizeof what, "grad of input %d", i);
			double *d = download(ctx, dio.grad_in[i], g->n);
			check(name, "device", what, d, g, f->tol, &worst_dev);
			check(name, "reference", what, rio.grad_in[i], g, f->tol, &worst_ref);
			free(d);
		}
		for (int j = 0; j < op->nparam; j++) {
			struct rec *g = find(f, "grad_param", op->param[j].name);
			if (!g)
				continue;
			double *d = download(ctx, dio.grad_param[j], g->n);
			check(name, "device", g->key, d, g, f->tol, &worst_dev);
			check(name, "reference", g->key, rio.grad_param[j], g, f->tol, &worst_ref);
			free(d);
		}
	}
	printf("golden %-40s worst rel error vs PyTorch: device %.2e, reference %.2e\n", name, worst_dev, worst_ref);
	fflush(stdout);
	free(ref_out);
	free(dev_out);
	for (int i = 0; i < CLCNN_OP_MAX_IN; i++) {
		free(rio.grad_in[i]);
		clcnn_buffer_free(dio.in[i]);
		clcnn_buffer_free(dio.grad_in[i]);
	}
	for (int j = 0; j < CLCNN_OP_MAX_PARAM; j++) {
		free(pcopy[j]);
		free(rio.grad_param[j]);
		clcnn_buffer_free(dio.param[j]);
		clcnn_buffer_free(dio.grad_param[j]);
	}
	clcnn_buffer_free(dio.out);
	clcnn_buffer_free(dio.state);
	clcnn_buffer_free(dio.scratch);
	clcnn_buffer_free(dio.grad_out);
	for (int i = 0; i < f->nrec; i++)
		free(f->r[i].v);
	clcnn_op_free(op);
	clcnn_context_close(ctx);
}

START_TEST(test_fixture)
{
	run_fixture(fixtures[_i]);
}
END_TEST

START_TEST(test_fixtures_exist)
{
	ck_assert_msg(nfixtures > 0, "no golden fixtures found under $CLCNN_DATA_DIR/golden");
}
END_TEST

int main(void)
{
	test_require_device();
	fixtures = list_fixtures(&nfixtures);
	Suite *s = suite_create("golden");
	TCase *tc = tcase_create("pytorch fixtures");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_fixtures_exist);
	if (nfixtures)
		tcase_add_loop_test(tc, test_fixture, 0, nfixtures);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
