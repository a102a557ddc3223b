/*
 * ONNX import: every fixture of tests/data/onnx (PyTorch exports, tools/gen-onnx-fixtures.py) loaded
 * with clcnn_graph_load and run on its "input.*" tensor gives PyTorch's "output.*" (eval mode) and
 * "train_output.*" (train mode) within 1e-4 relative; clcnn_onnx_import's netfile + weights give
 * bitwise the same outputs; models clcnn cannot import fail with exact messages.
 *
 * Error metric, as the fixtures' ONNX Runtime check: |got - want| / max(|want|, 1e-3). 1e-4 is
 * float32 rounding of a few hundred-term sums (3e-5 after ~200 terms) with room for the different
 * summation order of clcnn's kernels; it is the bound and never widened.
 *
 * CLCNN_ONNX_FIXTURES=DIR runs the fixtures of DIR instead (the large ones, written by
 * tools/gen-onnx-fixtures.py --big --out DIR, are never committed).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "clcnn/onnx.h"
#include "clcnn/train.h"
#include "io/io.h"
#include "io/onnx-import.h"
#include "io/onnx.h"
#include "testutil.h"

#define TOL 1e-4

/* Fixtures clcnn does not import, with the exact reason. */
static const struct {
	const char *name, *msg;
} refused[] = {
	{"linear3d", "node '/fc/MatMul' (MatMul): input 'input' has shape Nx4x6: clcnn maps this operator for "
		     "2-D tensors only"},
};

static const char *data_dir(void)
{
	const char *d = getenv("CLCNN_DATA_DIR");
	return d ? d : "tests/data";
}

static double max_err(const float *got, const float *want, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)got[i] - (double)want[i]) / fmax(fabs((double)want[i]), 1e-3);
		e = isnan(d) ? INFINITY : fmax(e, d);
	}
	return e;
}

/* Outputs of every ONNX graph output, in order, run on the fixture's input (train or eval mode). */
static float **run_outputs(struct clcnn_graph *g, const struct onnx_import_result *r, struct clcnn_st_file *io,
			   int train, const char *what)
{
	const char *in;
	int nd, dims[CLCNN_MAX_DIMS];
	ck_assert_int_eq(clcnn_graph_input_info(g, 0, &in, &nd, dims), 0);
	const struct clcnn_st_entry *x = clcnn_st_find(io, "input.input");
	ck_assert_msg(x != NULL, "%s: no input.input", what);
	float *xf = malloc(x->count * sizeof *xf);
	ck_assert_int_eq(clcnn_st_to_f32(x, xf, NULL, 0), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, in, xf), 0);
	free(xf);
	ck_assert_msg(clcnn_graph_forward(g, train, 1) == 0, "%s: %s", what, clcnn_context_error(NULL));
	float **out = calloc((size_t)r->noutputs, sizeof *out);
	for (int i = 0; i < r->noutputs; i++) {
		if (!r->outputs[i])
			continue;
		for (int k = 0; k < clcnn_graph_node_count(g); k++) {
			const char *name, *op;
			clcnn_graph_node_info(g, k, &name, &op, &nd, dims);
			if (strcmp(name, r->outputs[i]))
				continue;
			size_t cnt = 1;
			for (int d = 0; d < nd; d++)
				cnt *= (size_t)dims[d];
			out[i] = malloc(cnt * sizeof(float));
			ck_assert_int_eq(clcnn_graph_read(g, name, out[i]), 0);
		}
		ck_assert_msg(out[i] != NULL, "%s: output node %s not found", what, r->outputs[i]);
	}
	return out;
}

static void free_outputs(float **o, int n)
{
	for (int i = 0; i < n; i++)
		free(o[i]);
	free(o);
}

/* Compare outputs with the fixture's tensors prefix.<onnx output name>; returns the max error. */
static double compare(float **out, const struct onnx_model *m, struct clcnn_st_file *io, const char *prefix,
		      const char *what)
{
	double worst = 0;
	for (int i = 0; i < m->graph.noutputs; i++) {
		char key[256];
		snprintf(key, sizeof key, "%s.%s", prefix, m->graph.outputs[i].name);
		const struct clcnn_st_entry *e = clcnn_st_find(io, key);
		ck_assert_msg(e != NULL, "%s: no %s", what, key);
		ck_assert_msg(out[i] != NULL, "%s: output %s not computed", what, key);
		float *want = malloc(e->count * sizeof *want);
		ck_assert_int_eq(clcnn_st_to_f32(e, want, NULL, 0), 0);
		double err = max_err(out[i], want, e->count);
		free(want);
		ck_assert_msg(err <= TOL, "%s: %s differs from PyTorch by %.3g relative (tolerance %g)", what, key, err,
			      TOL);
		worst = fmax(worst, err);
	}
	return worst;
}

static float *tensor(struct clcnn_st_file *io, const char *key, size_t *count)
{
	const struct clcnn_st_entry *e = clcnn_st_find(io, key);
	ck_assert_msg(e != NULL, "no %s", key);
	float *x = malloc(e->count * sizeof *x);
	ck_assert_int_eq(clcnn_st_to_f32(e, x, NULL, 0), 0);
	if (count)
		*count = e->count;
	return x;
}

/*
 * Fine-tuning from the ONNX weights: 3 plain SGD steps (lr 0.05) in train mode with a mean
 * cross_entropy against finetune.label, as the fixture script did in PyTorch: the loss before each
 * step and the eval-mode output after them (which also checks the updated running statistics).
 */
static double check_finetune(struct clcnn_context *ctx, const char *path, struct clcnn_st_file *io,
			     const struct onnx_import_result *r, const char *name)
{
	struct clcnn_graph *g = NULL;
	ck_assert_int_eq(clcnn_graph_load(ctx, path, &g), 0);
	char in[300];
	snprintf(in, sizeof in, "%s, label", r->outputs[0]);
	ck_assert_int_eq(clcnn_graph_input(g, "label", 0, NULL), 0);
	ck_assert_int_eq(clcnn_graph_add(g, "loss", "cross_entropy", in, NULL), 0);
	size_t n, nl;
	float *x = tensor(io, "input.input", NULL), *lab = tensor(io, "finetune.label", &n);
	float *want_loss = tensor(io, "finetune.loss", &nl);
	ck_assert_msg(clcnn_graph_build(g, (int)n) == 0, "%s", clcnn_context_error(ctx));
	const char *iname;
	int nd, dims[CLCNN_MAX_DIMS];
	ck_assert_int_eq(clcnn_graph_input_info(g, 0, &iname, &nd, dims), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, iname, x), 0);
	ck_assert_int_eq(clcnn_graph_set_input(g, "label", lab), 0);
	struct clcnn_optimizer_config oc;
	struct clcnn_schedule_config sc;
	clcnn_optimizer_defaults(&oc, CLCNN_OPT_SGD);
	oc.lr = 0.05;
	clcnn_schedule_defaults(&sc, CLCNN_SCHED_CONSTANT);
	struct clcnn_trainer *t = NULL;
	ck_assert_int_eq(clcnn_trainer_new(g, &oc, &sc, 1, &t), 0);
	double worst = 0;
	for (size_t s = 0; s < nl; s++) {
		float loss;
		ck_assert_msg(clcnn_trainer_step(t, &loss) == 0, "%s", clcnn_context_error(ctx));
		double e = fabs((double)loss - want_loss[s]) / fmax(fabs((double)want_loss[s]), 1e-3);
		ck_assert_msg(e <= TOL, "%s: fine-tuning loss of step %zu is %.8g, PyTorch %.8g", name, s + 1, loss,
			      want_loss[s]);
		worst = fmax(worst, e);
	}
	ck_assert_int_eq(clcnn_graph_forward(g, 0, 1), 0);
	size_t no;
	float *want = tensor(io, "finetune.output.output", &no), *got = malloc(no * sizeof *got);
	ck_assert_int_eq(clcnn_graph_read(g, r->outputs[0], got), 0);
	double e = max_err(got, want, no);
	ck_assert_msg(e <= TOL, "%s: output after fine-tuning differs from PyTorch by %.3g", name, e);
	clcnn_trainer_free(t);
	clcnn_graph_free(g);
	free(x), free(lab), free(want_loss), free(want), free(got);
	return fmax(worst, e);
}

static int is_refused(const char *name, const char **msg)
{
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		if (!strcmp(refused[i].name, name)) {
			*msg = refused[i].msg;
			return 1;
		}
	return 0;
}

static void check_fixture(struct clcnn_context *ctx, const char *dir, const char *name, const char *tmp)
{
	char path[1100], iopath[1100], msg[2048], err[1024];
	snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
	snprintf(iopath, sizeof iopath, "%s/%s.io.safetensors", dir, name);
	struct clcnn_graph *g = NULL;
	const char *why;
	int rc = clcnn_graph_load(ctx, path, &g);
	if (is_refused(name, &why)) {
		snprintf(msg, sizeof msg, "%s: %s", path, why);
		ck_assert_int_eq(rc, CLCNN_ERR_FORMAT);
		ck_assert_str_eq(clcnn_context_error(ctx), msg);
		fprintf(stderr, "%-26s refused: %s\n", name, why);
		return;
	}
	ck_assert_msg(rc == 0, "%s: %s", name, clcnn_context_error(ctx));
	struct onnx_model *m = NULL;
	struct onnx_import_result r;
	ck_assert_int_eq(clcnn_onnx_read(path, &m, err, sizeof err), 0);
	ck_assert_int_eq(onnx_import_model(m, path, &r, err, sizeof err), 0);
	struct clcnn_st_file *io = NULL;
	ck_assert_msg(clcnn_st_read(iopath, &io, err, sizeof err) == 0, "%s", err);
	int batch = (int)clcnn_st_find(io, "input.input")->shape[0];
	for (int i = 0; i < r.noutputs; i++) /* every ONNX output is read (the memory plan keeps them) */
		ck_assert_int_eq(r.outputs[i] ? clcnn_graph_keep(g, r.outputs[i]) : 0, 0);
	ck_assert_msg(clcnn_graph_build(g, batch) == 0, "%s: %s", name, clcnn_context_error(ctx));

	float **eval = run_outputs(g, &r, io, 0, name);
	double e_eval = compare(eval, m, io, "output", name), e_train = -1;
	char key[256];
	snprintf(key, sizeof key, "train_output.%s", m->graph.outputs[0].name);
	if (clcnn_st_find(io, key)) {
		float **tr = run_outputs(g, &r, io, 1, name);
		e_train = compare(tr, m, io, "train_output", name);
		free_outputs(tr, r.noutputs);
	}

	/* clcnn_onnx_import's files: the same graph and parameters, so bitwise the same outputs */
	char net[1200], wts[1200];
	snprintf(net, sizeof net, "%s/%s.net", tmp, name);
	snprintf(wts, sizeof wts, "%s/%s.safetensors", tmp, name);
	ck_assert_msg(clcnn_onnx_import(ctx, path, net, wts) == 0, "%s", clcnn_context_error(ctx));
	struct clcnn_graph *g2 = NULL;
	ck_assert_msg(clcnn_graph_load(ctx, net, &g2) == 0, "%s", clcnn_context_error(ctx));
	for (int i = 0; i < r.noutputs; i++)
		ck_assert_int_eq(r.outputs[i] ? clcnn_graph_keep(g2, r.outputs[i]) : 0, 0);
	ck_assert_msg(clcnn_graph_build(g2, batch) == 0, "%s", clcnn_context_error(ctx));
	ck_assert_msg(clcnn_graph_load_weights(g2, wts) == 0, "%s", clcnn_context_error(ctx));
	float **again = run_outputs(g2, &r, io, 0, name);
	for (int i = 0; i < r.noutputs; i++) {
		const struct clcnn_st_entry *e = NULL;
		snprintf(key, sizeof key, "output.%s", m->graph.outputs[i].name);
		e = clcnn_st_find(io, key);
		ck_assert_msg(!memcmp(again[i], eval[i], e->count * sizeof(float)),
			      "%s: netfile + weights differ from the direct load", name);
	}
	free_outputs(again, r.noutputs);
	clcnn_graph_free(g2);

	double e_ft = clcnn_st_find(io, "finetune.loss") ? check_finetune(ctx, path, io, &r, name) : -1;
	fprintf(stderr, "%-26s eval max rel err %.2e", name, e_eval);
	if (e_train >= 0)
		fprintf(stderr, ", train %.2e", e_train);
	if (e_ft >= 0)
		fprintf(stderr, ", fine-tuning %.2e", e_ft);
	fprintf(stderr, "\n");
	free_outputs(eval, r.noutputs);
	onnx_import_result_free(&r);
	clcnn_onnx_free(m);
	clcnn_st_free(io);
	clcnn_graph_free(g);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(fixtures)
{
	struct clcnn_context *ctx = test_context();
	char dir[1024];
	const char *own = getenv("CLCNN_ONNX_FIXTURES");
	snprintf(dir, sizeof dir, "%s", own ? own : "");
	if (!own)
		snprintf(dir, sizeof dir, "%s/onnx", data_dir());
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: cannot open", dir);
	char *names[256];
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256) {
		size_t l = strlen(e->d_name);
		if (l > 5 && !strcmp(e->d_name + l - 5, ".onnx")) {
			names[n] = strdup(e->d_name);
			names[n][l - 5] = 0;
			n++;
		}
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, by_name);
	ck_assert_int_ge(n, own ? 1 : 20); /* the committed fixtures are there */
	char *tmp = test_tmpdir();
	for (int i = 0; i < n; i++) {
		check_fixture(ctx, dir, names[i], tmp);
		free(names[i]);
	}
	test_rmtree(tmp);
	free(tmp);
	clcnn_context_close(ctx);
}
END_TEST

/* ---- models clcnn refuses, built in memory */

static struct onnx_model *model_with_input(int64_t opset)
{
	struct onnx_model *m = NULL;
	ck_assert_int_eq(clcnn_onnx_new(opset, &m), 0);
	int64_t dims[4] = {-1, 2, 4, 4};
	const char *dp[4] = {"N", NULL, NULL, NULL};
	ck_assert_int_eq(clcnn_onnx_add_io(&m->graph, 0, "x", ONNX_FLOAT, dims, 4, dp), 0);
	return m;
}

static void expect_error(struct onnx_model *m, const char *out, const char *msg)
{
	int64_t dims[2] = {-1, 32};
	const char *dp[2] = {"N", NULL};
	ck_assert_int_eq(clcnn_onnx_add_io(&m->graph, 1, out, ONNX_FLOAT, dims, 2, dp), 0);
	struct onnx_import_result r;
	char err[1024];
	int rc = onnx_import_model(m, "m.onnx", &r, err, sizeof err);
	ck_assert_int_eq(rc, CLCNN_ERR_FORMAT);
	ck_assert_str_eq(err, msg);
	clcnn_onnx_free(m);
}

START_TEST(errors)
{
	/* an unsupported operator: node, op type, opset and the supported list */
	struct onnx_model *m = model_with_input(14);
	const char *in[] = {"x"}, *out[] = {"y"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Abs", "abs1", in, 1, out, 1));
	char want[1024];
	snprintf(want, sizeof want, "m.onnx: node 'abs1': unsupported operator Abs (opset 14); clcnn imports: %s",
		 onnx_imp_supported);
	expect_error(m, "y", want);

	/* a Conv whose weight is no initializer */
	m = model_with_input(14);
	const char *cin[] = {"x", "w"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Conv", "conv1", cin, 2, out, 1));
	expect_error(m, "y",
		     "m.onnx: node 'conv1' (Conv): input 'w' is neither a graph input, an initializer nor an "
		     "earlier node's output");

	/* a Reshape that is no flatten of adjacent dims: [N,2,4,4] -> [N,4,8] ([N,2,16] is one) */
	m = model_with_input(14);
	int64_t shape[3] = {0, 4, 8}, sd = 3;
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "shape", ONNX_INT64, &sd, 1, shape), 0);
	const char *rin[] = {"x", "shape"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Reshape", "reshape1", rin, 2, out, 1));
	expect_error(m, "y",
		     "m.onnx: node 'reshape1' (Reshape): Reshape of Nx2x4x4 to Nx4x8 cannot be folded: clcnn maps "
		     "only a flatten of adjacent dims after the batch (and a reshape that changes nothing)");

	/* a Reshape whose shape is computed at run time */
	m = model_with_input(14);
	const char *r2[] = {"x", "x"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Reshape", "reshape2", r2, 2, out, 1));
	expect_error(m, "y",
		     "m.onnx: node 'reshape2' (Reshape): input 'x' must be a constant (an initializer or computed "
		     "from static shapes)");

	/* asymmetric MaxPool pads */
	m = model_with_input(14);
	struct onnx_node *n = clcnn_onnx_add_node(&m->graph, "MaxPool", "pool1", in, 1, out, 1);
	int64_t k[2] = {2, 2}, pads[4] = {0, 0, 1, 1};
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "kernel_shape", k, 2), 0);
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "pads", pads, 4), 0);
	expect_error(m, "y",
		     "m.onnx: node 'pool1' (MaxPool): asymmetric pads (top 0, left 0, bottom 1, right 1): clcnn's "
		     "maxpool2d pads both sides equally");

	/* found by fuzzing: a node without outputs, a string attribute without bytes */
	m = model_with_input(14);
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Relu", "r0", in, 1, NULL, 0));
	expect_error(m, "y", "m.onnx: node 'r0' (Relu): no output");
	m = model_with_input(14);
	const char *pin[] = {"x", "pads"};
	int64_t pv[8] = {0, 0, 1, 1, 0, 0, 1, 1}, pn = 8;
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "pads", ONNX_INT64, &pn, 1, pv), 0);
	n = clcnn_onnx_add_node(&m->graph, "Pad", "pad1", pin, 2, out, 1);
	ck_assert_int_eq(clcnn_onnx_attr_string(n, "mode", "reflect"), 0);
	free(n->attrs[0].s);
	n->attrs[0].s = NULL;
	n->attrs[0].slen = 0;
	const char *rout[] = {"z"}, *rin2[] = {"y"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Relu", "r1", rin2, 1, rout, 1));
	expect_error(m, "z",
		     "m.onnx: node 'pad1' (Pad): mode '': only a constant zero Pad is folded (into Conv or "
		     "AveragePool)");

	/* an opset outside 7..17 */
	m = model_with_input(18);
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Relu", "r", in, 1, out, 1));
	expect_error(m, "y", "m.onnx: opset 18: clcnn imports opsets 7 to 17");
}
END_TEST

/* An export with a fixed batch of 1 baking it into the Reshape: still a flatten for any batch. */
START_TEST(fixed_batch)
{
	struct onnx_model *m = NULL;
	ck_assert_int_eq(clcnn_onnx_new(13, &m), 0);
	int64_t dims[4] = {1, 2, 4, 4}, shape[2] = {1, 32}, sd = 2, od[2] = {1, 32};
	ck_assert_int_eq(clcnn_onnx_add_io(&m->graph, 0, "x", ONNX_FLOAT, dims, 4, NULL), 0);
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "shape", ONNX_INT64, &sd, 1, shape), 0);
	const char *in[] = {"x", "shape"}, *out[] = {"y"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Reshape", "/view/Reshape", in, 2, out, 1));
	ck_assert_int_eq(clcnn_onnx_add_io(&m->graph, 1, "y", ONNX_FLOAT, od, 2, NULL), 0);
	struct onnx_import_result r;
	char err[1024];
	ck_assert_msg(onnx_import_model(m, "m.onnx", &r, err, sizeof err) == 0, "%s", err);
	ck_assert_msg(
		strstr(r.text,
		       "x = input(shape=(2,4,4))  # ONNX graph input x\n"
		       "# ONNX Reshape /view/Reshape: its shape fixes the batch at 1 (the export's); any batch runs\n"
		       "view_reshape = flatten(x)  # ONNX Reshape /view/Reshape\n@output view_reshape\n"),
		"%s", r.text);
	onnx_import_result_free(&r);
	clcnn_onnx_free(m);
}
END_TEST

/* clcnn.* metadata_props (a clcnn export's normalisation) travel into the imported weights */
START_TEST(metadata)
{
	char src[1100], err[1024];
	snprintf(src, sizeof src, "%s/onnx/lenet5.onnx", data_dir());
	struct onnx_model *m = NULL;
	ck_assert_int_eq(clcnn_onnx_read(src, &m, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_onnx_add_meta(m, "clcnn.mean", "0.5"), 0);
	ck_assert_int_eq(clcnn_onnx_add_meta(m, "clcnn.std", "0.25"), 0);
	ck_assert_int_eq(clcnn_onnx_add_meta(m, "author", "someone"), 0);
	struct onnx_import_result r;
	ck_assert_int_eq(onnx_import_model(m, src, &r, err, sizeof err), 0);
	char *tmp = test_tmpdir(), path[1100];
	snprintf(path, sizeof path, "%s/w.safetensors", tmp);
	ck_assert_msg(onnx_import_write_weights(&r, path, err, sizeof err) == 0, "%s", err);
	struct clcnn_st_file *f = NULL;
	ck_assert_int_eq(clcnn_st_read(path, &f, err, sizeof err), 0);
	ck_assert_str_eq(clcnn_st_meta(f, "clcnn.mean"), "0.5");
	ck_assert_str_eq(clcnn_st_meta(f, "clcnn.std"), "0.25");
	ck_assert_str_eq(clcnn_st_meta(f, "clcnn.source"), "onnx");
	ck_assert_ptr_null(clcnn_st_meta(f, "author"));
	/* every parameter under its PyTorch name: models/lenet5.net's 5 layers, weight and bias each */
	ck_assert_int_eq(clcnn_st_count(f), 10);
	ck_assert_ptr_nonnull(clcnn_st_find(f, "c1.weight"));
	ck_assert_ptr_nonnull(clcnn_st_find(f, "fc7.bias"));
	clcnn_st_free(f);
	onnx_import_result_free(&r);
	clcnn_onnx_free(m);
	test_rmtree(tmp);
	free(tmp);
}
END_TEST

START_TEST(names)
{
	char b[64];
	onnx_import_sanitize("/layer1/layer1.0/conv1/Conv", b, sizeof b);
	ck_assert_str_eq(b, "layer1_layer1_0_conv1_Conv");
	onnx_import_sanitize("0", b, sizeof b);
	ck_assert_str_eq(b, "n_0");
	onnx_import_sanitize("::", b, sizeof b);
	ck_assert_str_eq(b, "x");
	onnx_import_sanitize("input.1", b, sizeof b);
	ck_assert_str_eq(b, "input_1");
}
END_TEST

/*
 * The exporter's blur pooling, x -> Pad(reflect, 1 each side) -> depthwise Conv(blur 3x3, stride
 * 2), with one thing changed by `what`: 0 nothing, 1 one filter tap one ulp off, 2 the Pad's end
 * amounts 2, 3 mode "constant" (zero Pad then Conv: a conv2d), 4 the Conv's pads non-zero.
 * Returns the import's status; the netfile text in text (or the error).
 */
static int blur_model(int what, char *text, size_t len)
{
	struct onnx_model *m = model_with_input(14);
	static const float row[3] = {0.25f, 0.5f, 0.25f};
	float w[2 * 9];
	for (int c = 0; c < 2; c++)
		for (int i = 0; i < 9; i++)
			w[c * 9 + i] = row[i / 3] * row[i % 3];
	if (what == 1)
		w[13] = nextafterf(w[13], 1.0f);
	int64_t wd[4] = {2, 1, 3, 3}, pn = 8, pads[8] = {0, 0, 1, 1, 0, 0, 1, 1};
	if (what == 2)
		pads[6] = pads[7] = 2;
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "blur", ONNX_FLOAT, wd, 4, w), 0);
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "pads", ONNX_INT64, &pn, 1, pads), 0);
	const char *pin[] = {"x", "pads"}, *pout[] = {"padded"}, *cin[] = {"padded", "blur"}, *cout[] = {"y"};
	struct onnx_node *n = clcnn_onnx_add_node(&m->graph, "Pad", "p/padded", pin, 2, pout, 1);
	ck_assert_int_eq(clcnn_onnx_attr_string(n, "mode", what == 3 ? "constant" : "reflect"), 0);
	n = clcnn_onnx_add_node(&m->graph, "Conv", "p", cin, 2, cout, 1);
	int64_t k[2] = {3, 3}, st[2] = {2, 2}, cp[4] = {0, 0, 0, 0};
	if (what == 4)
		cp[0] = cp[2] = 1;
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "kernel_shape", k, 2), 0);
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "strides", st, 2), 0);
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "pads", cp, 4), 0);
	ck_assert_int_eq(clcnn_onnx_attr_int(n, "group", 2), 0);
	int64_t od[4] = {-1, 2, 2, 2};
	const char *dp[4] = {"N", NULL, NULL, NULL};
	ck_assert_int_eq(clcnn_onnx_add_io(&m->graph, 1, "y", ONNX_FLOAT, od, 4, dp), 0);
	struct onnx_import_result r;
	char err[1024];
	int rc = onnx_import_model(m, "m.onnx", &r, err, sizeof err);
	snprintf(text, len, "%s", rc ? err : r.text);
	if (!rc)
		onnx_import_result_free(&r);
	clcnn_onnx_free(m);
	return rc;
}

/* A decomposition is read back as its layer only when every constant is the exporter's. */
START_TEST(patterns)
{
	char t[4096];
	ck_assert_int_eq(blur_model(0, t, sizeof t), 0);
	ck_assert_msg(strstr(t, "\np = blurpool2d(x, filt_size=3, stride=2, pad_type=reflect)"), "%s", t);
	/* not the blur filter, not blurpool2d's pad amounts, a conv with its own padding: the Pad
	 * stays a Pad, which clcnn cannot import */
	for (int what = 1; what <= 4; what++) {
		if (what == 3)
			continue;
		ck_assert_int_eq(blur_model(what, t, sizeof t), CLCNN_ERR_FORMAT);
		ck_assert_msg(strstr(t, "node 'p/padded' (Pad): mode 'reflect'"), "%d: %s", what, t);
	}
	/* a zero Pad before the blur Conv folds into a conv2d's padding (same numbers, no blurpool2d) */
	ck_assert_int_eq(blur_model(3, t, sizeof t), 0);
	ck_assert_msg(strstr(t, "\np = conv2d(x, out_channels=2, kernel_size=3, stride=2, padding=1, groups=2, "
				"bias=false)"),
		      "%s", t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("onnx-import");
	TCase *tc = tcase_create("errors"); /* no device: CK_RUN_CASE=errors under valgrind */
	tcase_add_test(tc, names);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, metadata);
	tcase_add_test(tc, fixed_batch);
	tcase_add_test(tc, patterns);
	suite_add_tcase(s, tc);
	tc = tcase_create("fixtures");
	tcase_add_test(tc, fixtures);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
