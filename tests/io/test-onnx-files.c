/*
 * ONNX files on disk: external data with its path checks (relative, no "..", no symlink leaving
 * the folder, offset and length inside the file), read errors, and files written by the onnx Python
 * package (tests/data/onnx/codec, tools/gen-onnx-codec-fixtures.py).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"
#include "io/onnx.h"
#include "onnx-pb.h"
#include "testutil.h"

/* ----------------------------------------------------------- external data */

/* A model whose initializer "w" (4 floats) lives in location at offset/length (NULL: left out). */
static void external_model(const char *dir, const char *location, const char *offset, const char *length)
{
	struct pb t = {0}, e = {0}, model;
	int64_t d[] = {4};
	tensor_header(&t, "w", ONNX_FLOAT, d, 1);
	const char *keys[] = {"location", "offset", "length"}, *vals[] = {location, offset, length};
	for (int i = 0; i < 3; i++) {
		if (!vals[i])
			continue;
		e.n = 0;
		pb_str(&e, 1, keys[i]);
		pb_str(&e, 2, vals[i]);
		pb_msg(&t, 13, &e);
	}
	pb_int(&t, 14, 1);
	pb_model_tensor(&model, &t);
	char path[512];
	snprintf(path, sizeof path, "%s/m.onnx", dir);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(model.b, 1, model.n, f), model.n);
	fclose(f);
}

static void write_floats(const char *path, int n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < n; i++) {
		float v = (float)i + 0.5f;
		fwrite(&v, 4, 1, f);
	}
	fclose(f);
}

static void external_fails(const char *dir, int status, const char *want)
{
	char path[512], full[1024], err[1024] = "";
	snprintf(path, sizeof path, "%s/m.onnx", dir);
	snprintf(full, sizeof full, want, path, dir);
	struct onnx_model *m = (void *)1;
	ck_assert_int_eq(clcnn_onnx_read(path, &m, err, sizeof err), status);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, full);
}

START_TEST(external_data)
{
	char *dir = test_tmpdir(), *out = test_tmpdir(), p[512], path[512], err[1024] = "";
	snprintf(p, sizeof p, "%s/sub", dir);
	ck_assert_int_eq(mkdir(p, 0777), 0);
	snprintf(p, sizeof p, "%s/sub/w.bin", dir);
	write_floats(p, 6);
	snprintf(path, sizeof path, "%s/m.onnx", dir);

	external_model(dir, "sub/w.bin", "8", "16");
	struct onnx_model *m;
	ck_assert_msg(clcnn_onnx_read(path, &m, err, sizeof err) == 0, "%s", err);
	const float *w = m->graph.inits[0].data;
	ck_assert_float_eq(w[0], 2.5f);
	ck_assert_float_eq(w[3], 5.5f);
	clcnn_onnx_free(m);
	/* without a length: the rest of the file */
	external_model(dir, "./sub/w.bin", "8", NULL);
	ck_assert_msg(clcnn_onnx_read(path, &m, err, sizeof err) == 0, "%s", err);
	clcnn_onnx_free(m);

	external_model(dir, "sub/w.bin", "16", "16");
	external_fails(dir, CLCNN_ERR_FORMAT,
		       "%s: tensor 'w': external data 'sub/w.bin': offset 16 + length 16 runs past the end of the file "
		       "(24 bytes)");
	external_model(dir, "sub/w.bin", "0", "12");
	external_fails(dir, CLCNN_ERR_FORMAT,
		       "%s: tensor 'w': external data 'sub/w.bin' holds 12 bytes, dims [4] need 16");
	external_model(dir, "sub/w.bin", "x1", NULL);
	external_fails(dir, CLCNN_ERR_FORMAT, "%s: tensor 'w': external data offset 'x1' is not a number");
	external_model(dir, "../w.bin", NULL, NULL);
	external_fails(dir, CLCNN_ERR_FORMAT,
		       "%s: tensor 'w': external data location '../w.bin' contains '..' (it must stay in the model's "
		       "folder)");
	external_model(dir, "sub/../../x/w.bin", NULL, NULL);
	external_fails(dir, CLCNN_ERR_FORMAT,
		       "%s: tensor 'w': external data location 'sub/../../x/w.bin' contains '..' (it must stay in the "
		       "model's folder)");
	external_model(dir, "/etc/passwd", NULL, NULL);
	external_fails(dir, CLCNN_ERR_FORMAT,
		       "%s: tensor 'w': external data location '/etc/passwd' is an absolute path");
	/* a symbolic link leading out of the folder */
	snprintf(p, sizeof p, "%s/outside.bin", out);
	write_floats(p, 4);
	char link[512], rout[512];
	snprintf(link, sizeof link, "%s/link.bin", dir);
	ck_assert_int_eq(symlink(p, link), 0);
	external_model(dir, "link.bin", NULL, NULL);
	ck_assert_ptr_nonnull(realpath(p, rout));
	char rdir[512], want[1400];
	ck_assert_ptr_nonnull(realpath(dir, rdir));
	snprintf(want, sizeof want,
		 "%%s: tensor 'w': external data file 'link.bin' resolves to '%s', outside the model's folder '%s'",
		 rout, rdir);
	external_fails(dir, CLCNN_ERR_FORMAT, want);
	/* a link that stays inside is fine */
	unlink(link);
	ck_assert_int_eq(symlink("sub/w.bin", link), 0);
	external_model(dir, "link.bin", "0", "16");
	ck_assert_msg(clcnn_onnx_read(path, &m, err, sizeof err) == 0, "%s", err);
	clcnn_onnx_free(m);
	external_model(dir, "missing.bin", NULL, NULL);
	external_fails(dir, CLCNN_ERR_IO,
		       "%s: tensor 'w': external data file '%s/missing.bin': No such file or directory");
	/* from memory nothing can be resolved */
	external_model(dir, "sub/w.bin", NULL, NULL);
	FILE *f = fopen(path, "rb");
	unsigned char buf[512];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	ck_assert_int_eq(clcnn_onnx_parse(buf, n, NULL, "mem", &m, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_str_eq(
		err, "mem: tensor 'w': external data 'sub/w.bin' cannot be read: the model was not read from a file");
	test_rmtree(dir);
	test_rmtree(out);
	free(dir);
	free(out);
}
END_TEST

START_TEST(read_errors)
{
	struct onnx_model *m = (void *)1;
	char err[1024];
	ck_assert_int_eq(clcnn_onnx_read("/nonexistent/m.onnx", &m, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, "/nonexistent/m.onnx: cannot open: No such file or directory");
	char *dir = test_tmpdir();
	ck_assert_int_eq(clcnn_onnx_read(dir, &m, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, ": not a regular file"));
	char path[512];
	snprintf(path, sizeof path, "%s/empty.onnx", dir);
	FILE *f = fopen(path, "wb");
	fclose(f);
	ck_assert_int_eq(clcnn_onnx_read(path, &m, err, sizeof err), CLCNN_ERR_FORMAT);
	ck_assert_ptr_nonnull(strstr(err, "empty.onnx: file is empty (0 bytes)"));
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------------- files written by onnx */

static struct onnx_model *read_fixture(const char *name)
{
	const char *data = getenv("CLCNN_DATA_DIR");
	ck_assert_msg(data != NULL, "CLCNN_DATA_DIR is not set (run through meson test)");
	char path[512], err[1024] = "";
	snprintf(path, sizeof path, "%s/onnx/codec/%s", data, name);
	struct onnx_model *m;
	ck_assert_msg(clcnn_onnx_read(path, &m, err, sizeof err) == 0, "%s", err);
	return m;
}

START_TEST(onnx_python_files)
{
	struct onnx_model *m = read_fixture("gemm.onnx");
	ck_assert_int_eq(clcnn_onnx_opset(m), 13);
	ck_assert_str_eq(m->producer_name, "gen-onnx-codec-fixtures");
	ck_assert_int_eq(m->graph.nnodes, 1);
	const struct onnx_node *n = &m->graph.nodes[0];
	ck_assert_str_eq(n->op_type, "Gemm");
	ck_assert_str_eq(n->name, "fc");
	ck_assert_int_eq(clcnn_onnx_attr(n, "transB")->i, 1);
	ck_assert_float_eq(clcnn_onnx_attr(n, "alpha")->f, 1.0f);
	const struct onnx_tensor *w = clcnn_onnx_init(&m->graph, "fc.weight"),
				 *b = clcnn_onnx_init(&m->graph, "fc.bias");
	ck_assert_int_eq(w->ndim, 2);
	ck_assert_int_eq(w->dims[0], 3);
	ck_assert_int_eq(w->dims[1], 4);
	for (int i = 0; i < 12; i++)
		ck_assert_float_eq(((float *)w->data)[i], i * 0.5f - 1);
	ck_assert_float_eq(((float *)b->data)[2], 1.5f);
	ck_assert_str_eq(m->graph.inputs[0].dim_params[0], "N");
	ck_assert_int_eq(m->graph.inputs[0].dims[1], 4);
	ck_assert_int_eq(m->graph.outputs[0].dims[1], 3);
	ck_assert_int_eq(m->nmeta, 1);
	ck_assert_str_eq(m->meta_keys[0], "clcnn.note");
	ck_assert_str_eq(m->meta_values[0], "codec fixture");
	clcnn_onnx_free(m);

	m = read_fixture("conv.onnx");
	ck_assert_int_eq(clcnn_onnx_opset(m), 14);
	ck_assert_int_eq(m->graph.nnodes, 4);
	const char *ops[] = {"Conv", "LeakyRelu", "Constant", "Reshape"};
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(m->graph.nodes[i].op_type, ops[i]);
	n = &m->graph.nodes[0];
	ck_assert_int_eq(n->ninputs, 3);
	ck_assert_str_eq(n->inputs[2], "");
	const struct onnx_attr *pads = clcnn_onnx_attr(n, "pads");
	ck_assert_int_eq(pads->nints, 4);
	ck_assert_int_eq(pads->ints[3], 1);
	ck_assert_float_eq(clcnn_onnx_attr(&m->graph.nodes[1], "alpha")->f, 0.1f);
	const struct onnx_attr *v = clcnn_onnx_attr(&m->graph.nodes[2], "value");
	ck_assert_int_eq(v->type, ONNX_ATTR_TENSOR);
	ck_assert_int_eq(v->t->dtype, ONNX_INT64);
	ck_assert_int_eq(((int64_t *)v->t->data)[0], -1);
	ck_assert_int_eq(((int64_t *)v->t->data)[1], 32);
	w = clcnn_onnx_init(&m->graph, "conv.weight");
	ck_assert_int_eq(w->ndim, 4);
	ck_assert_float_eq(((float *)w->data)[0], -9.0f / 8);
	ck_assert_float_eq(((float *)w->data)[17], 8.0f / 8);
	clcnn_onnx_free(m);

	m = read_fixture("external.onnx");
	ck_assert_int_eq(m->graph.nnodes, 2);
	ck_assert_float_eq(((float *)clcnn_onnx_init(&m->graph, "a")->data)[5], 6.0f);
	ck_assert_float_eq(((float *)clcnn_onnx_init(&m->graph, "bias")->data)[0], -1.0f);
	clcnn_onnx_free(m);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("onnx-files");
	TCase *tc = tcase_create("files");
	tcase_add_test(tc, external_data);
	tcase_add_test(tc, read_errors);
	tcase_add_test(tc, onnx_python_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
