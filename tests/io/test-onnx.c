/*
 * ONNX codec: builder -> serialise -> parse round trip, and the protobuf wire traps written byte by
 * byte (packed and unpacked scalars, 10-byte negative varints, unaligned raw_data, typed data fields,
 * unknown fields, groups, bad lengths, nesting). Files on disk: test-onnx-files.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "io/io.h"
#include "io/onnx.h"
#include "onnx-pb.h"
#include "testutil.h"

/* ------------------------------------------------------------- round trip */

static struct onnx_model *build_model(void)
{
	struct onnx_model *m;
	ck_assert_int_eq(clcnn_onnx_new(14, &m), 0);
	struct onnx_graph *g = &m->graph;
	const char *in[] = {"X", "W", ""}, *out[] = {"C"};
	struct onnx_node *n = clcnn_onnx_add_node(g, "Conv", "conv1", in, 3, out, 1);
	ck_assert_ptr_nonnull(n);
	int64_t pads[] = {1, 0, -1, 2}, big[] = {INT64_MIN, INT64_MAX, -1, 0};
	float fl[] = {0.5f, -1.25f, 3e-8f};
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "pads", pads, 4), 0);
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "big", big, 4), 0);
	ck_assert_int_eq(clcnn_onnx_attr_ints(n, "none", NULL, 0), 0);
	ck_assert_int_eq(clcnn_onnx_attr_int(n, "group", -7), 0);
	ck_assert_int_eq(clcnn_onnx_attr_float(n, "alpha", 0.0f), 0);
	ck_assert_int_eq(clcnn_onnx_attr_floats(n, "scales", fl, 3), 0);
	ck_assert_int_eq(clcnn_onnx_attr_string(n, "auto_pad", "NOTSET"), 0);
	const char *in2[] = {"C"}, *out2[] = {"Y", "mask"};
	ck_assert_ptr_nonnull(clcnn_onnx_add_node(g, "Dropout", NULL, in2, 1, out2, 2));
	float w[2 * 1 * 3 * 3];
	for (int i = 0; i < 18; i++)
		w[i] = (float)i * 0.25f - 2;
	int64_t wd[] = {2, 1, 3, 3}, sd[] = {3}, shape[] = {-1, 0, 5};
	ck_assert_int_eq(clcnn_onnx_add_init(g, "W", ONNX_FLOAT, wd, 4, w), 0);
	ck_assert_int_eq(clcnn_onnx_add_init(g, "shape", ONNX_INT64, sd, 1, shape), 0);
	double pi = 3.14159;
	ck_assert_int_eq(clcnn_onnx_add_init(g, "scalar", ONNX_DOUBLE, NULL, 0, &pi), 0);
	int64_t zd[] = {0, 4};
	ck_assert_int_eq(clcnn_onnx_add_init(g, "empty", ONNX_FLOAT, zd, 2, NULL), 0);
	int64_t xd[] = {-1, 1, 5, 5}, yd[] = {-1, 2, 5, 5};
	const char *xp[] = {"N", NULL, NULL, NULL};
	ck_assert_int_eq(clcnn_onnx_add_io(g, 0, "X", ONNX_FLOAT, xd, 4, xp), 0);
	ck_assert_int_eq(clcnn_onnx_add_io(g, 1, "Y", ONNX_FLOAT, yd, 4, NULL), 0);
	ck_assert_int_eq(clcnn_onnx_add_io(g, 1, "mask", ONNX_BOOL, NULL, -1, NULL), 0);
	ck_assert_int_eq(clcnn_onnx_add_meta(m, "clcnn.netfile", "conv 3x3\nrelu"), 0);
	ck_assert_int_eq(clcnn_onnx_add_meta(m, "empty", ""), 0);
	return m;
}

static void same_tensor(const struct onnx_tensor *a, const struct onnx_tensor *b)
{
	ck_assert_str_eq(a->name, b->name);
	ck_assert_int_eq(a->dtype, b->dtype);
	ck_assert_int_eq(a->ndim, b->ndim);
	for (int d = 0; d < a->ndim; d++)
		ck_assert_int_eq(a->dims[d], b->dims[d]);
	ck_assert_uint_eq(a->count, b->count);
	ck_assert_uint_eq(a->nbytes, b->nbytes);
	if (a->nbytes)
		ck_assert_int_eq(memcmp(a->data, b->data, a->nbytes), 0);
}

static void same_vi(const struct onnx_value_info *a, const struct onnx_value_info *b)
{
	ck_assert_str_eq(a->name, b->name);
	ck_assert_int_eq(a->elem_type, b->elem_type);
	ck_assert_int_eq(a->ndim, b->ndim);
	for (int d = 0; d < a->ndim; d++) {
		ck_assert_int_eq(a->dims[d], b->dims[d]);
		ck_assert_int_eq(!a->dim_params[d], !b->dim_params[d]);
		if (a->dim_params[d])
			ck_assert_str_eq(a->dim_params[d], b->dim_params[d]);
	}
}

static void same_model(const struct onnx_model *a, const struct onnx_model *b)
{
	ck_assert_int_eq(a->ir_version, b->ir_version);
	ck_assert_str_eq(a->producer_name, b->producer_name);
	ck_assert_str_eq(a->producer_version, b->producer_version);
	ck_assert_int_eq(a->nopsets, b->nopsets);
	for (int i = 0; i < a->nopsets; i++) {
		ck_assert_str_eq(a->opsets[i].domain, b->opsets[i].domain);
		ck_assert_int_eq(a->opsets[i].version, b->opsets[i].version);
	}
	ck_assert_int_eq(a->nmeta, b->nmeta);
	for (int i = 0; i < a->nmeta; i++) {
		ck_assert_str_eq(a->meta_keys[i], b->meta_keys[i]);
		ck_assert_str_eq(a->meta_values[i], b->meta_values[i]);
	}
	const struct onnx_graph *ga = &a->graph, *gb = &b->graph;
	ck_assert_str_eq(ga->name, gb->name);
	ck_assert_int_eq(ga->nnodes, gb->nnodes);
	for (int i = 0; i < ga->nnodes; i++) {
		const struct onnx_node *x = &ga->nodes[i], *y = &gb->nodes[i];
		ck_assert_str_eq(x->name, y->name);
		ck_assert_str_eq(x->op_type, y->op_type);
		ck_assert_str_eq(x->domain, y->domain);
		ck_assert_int_eq(x->ninputs, y->ninputs);
		for (int k = 0; k < x->ninputs; k++)
			ck_assert_str_eq(x->inputs[k], y->inputs[k]);
		ck_assert_int_eq(x->noutputs, y->noutputs);
		for (int k = 0; k < x->noutputs; k++)
			ck_assert_str_eq(x->outputs[k], y->outputs[k]);
		ck_assert_int_eq(x->nattrs, y->nattrs);
		for (int k = 0; k < x->nattrs; k++) {
			const struct onnx_attr *p = &x->attrs[k], *q = &y->attrs[k];
			ck_assert_str_eq(p->name, q->name);
			ck_assert_int_eq(p->type, q->type);
			ck_assert_int_eq(p->i, q->i);
			ck_assert_int_eq(memcmp(&p->f, &q->f, 4), 0);
			ck_assert_int_eq(p->nints, q->nints);
			for (int j = 0; j < p->nints; j++)
				ck_assert_int_eq(p->ints[j], q->ints[j]);
			ck_assert_int_eq(p->nfloats, q->nfloats);
			for (int j = 0; j < p->nfloats; j++)
				ck_assert_int_eq(memcmp(&p->floats[j], &q->floats[j], 4), 0);
			ck_assert_uint_eq(p->slen, q->slen);
			if (p->s)
				ck_assert_int_eq(memcmp(p->s, q->s, p->slen), 0);
		}
	}
	ck_assert_int_eq(ga->ninits, gb->ninits);
	for (int i = 0; i < ga->ninits; i++)
		same_tensor(&ga->inits[i], &gb->inits[i]);
	ck_assert_int_eq(ga->ninputs, gb->ninputs);
	for (int i = 0; i < ga->ninputs; i++)
		same_vi(&ga->inputs[i], &gb->inputs[i]);
	ck_assert_int_eq(ga->noutputs, gb->noutputs);
	for (int i = 0; i < ga->noutputs; i++)
		same_vi(&ga->outputs[i], &gb->outputs[i]);
}

START_TEST(round_trip)
{
	struct onnx_model *m = build_model(), *back;
	unsigned char *buf;
	size_t len;
	char err[1024] = "";
	ck_assert_int_eq(clcnn_onnx_serialize(m, &buf, &len, err, sizeof err), 0);
	ck_assert_int_eq(clcnn_onnx_parse(buf, len, NULL, "rt.onnx", &back, err, sizeof err), 0);
	same_model(m, back);
	/* spot checks on values, independent of the builder */
	ck_assert_int_eq(clcnn_onnx_opset(back), 14);
	const struct onnx_attr *a = clcnn_onnx_attr(&back->graph.nodes[0], "big");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->ints[0], INT64_MIN);
	ck_assert_int_eq(a->ints[2], -1);
	ck_assert_int_eq(clcnn_onnx_attr(&back->graph.nodes[0], "group")->i, -7);
	ck_assert_ptr_null(clcnn_onnx_attr(&back->graph.nodes[0], "nope"));
	ck_assert_str_eq(back->graph.nodes[0].inputs[2], "");
	const struct onnx_tensor *w = clcnn_onnx_init(&back->graph, "W");
	ck_assert_ptr_nonnull(w);
	ck_assert_float_eq(((float *)w->data)[17], 17 * 0.25f - 2);
	ck_assert_int_eq(((int64_t *)clcnn_onnx_init(&back->graph, "shape")->data)[0], -1);
	ck_assert_double_eq(*(double *)clcnn_onnx_init(&back->graph, "scalar")->data, 3.14159);
	ck_assert_ptr_null(clcnn_onnx_init(&back->graph, "empty")->data);
	ck_assert_ptr_null(clcnn_onnx_init(&back->graph, "nope"));
	ck_assert_str_eq(back->graph.inputs[0].dim_params[0], "N");
	ck_assert_int_eq(back->graph.inputs[0].dims[0], -1);
	ck_assert_int_eq(back->graph.outputs[1].ndim, -1);
	ck_assert_int_eq(back->graph.outputs[1].elem_type, ONNX_BOOL);
	/* serialising the parsed model gives the same bytes */
	unsigned char *buf2;
	size_t len2;
	ck_assert_int_eq(clcnn_onnx_serialize(back, &buf2, &len2, err, sizeof err), 0);
	ck_assert_uint_eq(len2, len);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	free(buf2);
	free(buf);

	/* through a file: written atomically, nothing left beside it */
	char *dir = test_tmpdir(), path[512];
	snprintf(path, sizeof path, "%s/m.onnx", dir);
	ck_assert_int_eq(clcnn_onnx_write(path, m, err, sizeof err), 0);
	struct onnx_model *f;
	ck_assert_msg(clcnn_onnx_read(path, &f, err, sizeof err) == 0, "%s", err);
	same_model(m, f);
	/* the streamed file holds exactly the serialised bytes */
	ck_assert_int_eq(clcnn_onnx_serialize(m, &buf, &len, err, sizeof err), 0);
	FILE *fp = fopen(path, "rb");
	unsigned char *disk = malloc(len + 1);
	ck_assert_uint_eq(fread(disk, 1, len + 1, fp), len);
	fclose(fp);
	ck_assert_int_eq(memcmp(disk, buf, len), 0);
	free(disk);
	free(buf);
	DIR *d = opendir(dir);
	int entries = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		entries += e->d_name[0] != '.';
	closedir(d);
	ck_assert_int_eq(entries, 1);
	test_rmtree(dir);
	free(dir);
	clcnn_onnx_free(f);
	clcnn_onnx_free(back);
	clcnn_onnx_free(m);
}
END_TEST

START_TEST(builder_and_writer_errors)
{
	clcnn_onnx_free(NULL);
	struct onnx_model *m;
	ck_assert_int_eq(clcnn_onnx_new(13, &m), 0);
	ck_assert_int_eq(m->ir_version, 8);
	ck_assert_str_eq(m->producer_name, "clcnn");
	ck_assert_int_eq(clcnn_onnx_opset(m), 13);
	int64_t neg[] = {2, -3};
	float x[6] = {0};
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "bad", ONNX_FLOAT, neg, 2, x), CLCNN_ERR_INVALID);
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "bad", 8 /* STRING */, NULL, 0, x), CLCNN_ERR_INVALID);
	ck_assert_int_eq(m->graph.ninits, 0);
	/* a tensor whose byte count disagrees with its dims is refused by the writer */
	int64_t d[] = {6};
	ck_assert_int_eq(clcnn_onnx_add_init(&m->graph, "t", ONNX_FLOAT, d, 1, x), 0);
	m->graph.inits[0].nbytes = 20;
	unsigned char *buf = (void *)1;
	size_t len = 1;
	char err[1024];
	ck_assert_int_eq(clcnn_onnx_serialize(m, &buf, &len, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err, "onnx: tensor 't': 6 elements in 20 bytes, dims and data_type 1 say 24");
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(clcnn_onnx_write("/nonexistent-dir/x.onnx", m, err, sizeof err), CLCNN_ERR_INVALID);
	ck_assert_str_eq(err,
			 "/nonexistent-dir/x.onnx: tensor 't': 6 elements in 20 bytes, dims and data_type 1 say 24");
	m->graph.inits[0].nbytes = 24;
	ck_assert_int_eq(clcnn_onnx_write("/nonexistent-dir/x.onnx", m, err, sizeof err), CLCNN_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.onnx: cannot create a temporary file"));
	/* a half-built node list is freed */
	for (int i = 0; i < 37; i++)
		ck_assert_ptr_nonnull(clcnn_onnx_add_node(&m->graph, "Relu", NULL, NULL, 0, NULL, 0));
	ck_assert_int_eq(m->graph.nnodes, 37);
	clcnn_onnx_free(m);
}
END_TEST

/* -------------------------------------------------------------- wire traps */

START_TEST(repeated_packed_and_unpacked)
{
	struct pb at = {0}, n = {0}, p = {0}, packed = {0}, model;
	pb_str(&at, 1, "pads");
	/* unpacked, as proto2 writers (onnx's Python package) do, one negative (10 bytes) */
	pb_int(&at, 8, 1);
	pb_int(&at, 8, -1);
	/* then a packed run appended to the same field, as protobuf merges them */
	pb_varint(&packed, 3);
	pb_varint(&packed, (uint64_t)-2);
	pb_varint(&packed, (uint64_t)INT64_MIN);
	pb_msg(&at, 8, &packed);
	pb_int(&at, 20, ONNX_ATTR_INTS);
	pb_str(&n, 4, "Pad");
	pb_msg(&n, 5, &at);
	/* floats unpacked (fixed32) */
	struct pb af = {0};
	pb_str(&af, 1, "scales");
	pb_f32(&af, 7, 1.5f);
	pb_f32(&af, 7, -2.0f);
	pb_msg(&n, 5, &af);
	pb_model_node(&model, &n);
	(void)p;
	struct onnx_model *m = parse_ok(&model);
	const struct onnx_attr *a = clcnn_onnx_attr(&m->graph.nodes[0], "pads");
	ck_assert_int_eq(a->type, ONNX_ATTR_INTS);
	ck_assert_int_eq(a->nints, 5);
	int64_t want[] = {1, -1, 3, -2, INT64_MIN};
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(a->ints[i], want[i]);
	a = clcnn_onnx_attr(&m->graph.nodes[0], "scales");
	ck_assert_int_eq(a->type, ONNX_ATTR_FLOATS); /* no type field: implied by floats */
	ck_assert_int_eq(a->nfloats, 2);
	ck_assert_float_eq(a->floats[0], 1.5f);
	ck_assert_float_eq(a->floats[1], -2.0f);
	ck_assert_str_eq(m->graph.nodes[0].name, "");
	ck_assert_str_eq(m->graph.nodes[0].domain, "");
	clcnn_onnx_free(m);
}
END_TEST

START_TEST(varint_limits)
{
	/* ir_version as a 10-byte varint is fine; an 11th byte is refused */
	struct pb g = {0}, ok, bad = {0};
	pb_model(&ok, &g);
	struct onnx_model *m = parse_ok(&ok);
	clcnn_onnx_free(m);
	unsigned char eleven[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x01};
	pb_raw(&bad, eleven, sizeof eleven);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: varint at byte 1 is longer than 10 bytes");
	unsigned char overflow[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	bad.n = 0;
	pb_raw(&bad, overflow, sizeof overflow);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: varint at byte 1 overflows 64 bits");
	unsigned char truncated[] = {0x08, 0xff, 0xff};
	bad.n = 0;
	pb_raw(&bad, truncated, sizeof truncated);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: truncated varint at byte 1");
}
END_TEST

START_TEST(tensor_data_fields)
{
	/* raw_data at an odd offset: the reader must copy, not cast */
	struct pb t = {0}, model;
	int64_t d2[] = {2};
	pb_str(&t, 8, "odd"); /* 5 bytes: raw_data's payload then starts at odd offsets */
	pb_int(&t, 1, 2);
	pb_int(&t, 2, ONNX_FLOAT);
	float raw[2] = {1.25f, -3.5f};
	pb_bytes(&t, 9, raw, sizeof raw);
	pb_model_tensor(&model, &t);
	struct onnx_model *m = parse_ok(&model);
	const struct onnx_tensor *x = clcnn_onnx_init(&m->graph, "odd");
	ck_assert_uint_eq(x->count, 2);
	ck_assert_float_eq(((float *)x->data)[0], 1.25f);
	ck_assert_float_eq(((float *)x->data)[1], -3.5f);
	clcnn_onnx_free(m);

	/* float_data, packed, instead of raw_data */
	struct pb f = {0}, fp = {0};
	tensor_header(&f, "f", ONNX_FLOAT, d2, 1);
	pb_raw(&fp, raw, sizeof raw);
	pb_msg(&f, 4, &fp);
	pb_model_tensor(&model, &f);
	m = parse_ok(&model);
	ck_assert_float_eq(((float *)m->graph.inits[0].data)[1], -3.5f);
	clcnn_onnx_free(m);

	/* int64_data unpacked with a negative value, int32_data into int8 */
	struct pb i = {0};
	tensor_header(&i, "i", ONNX_INT64, d2, 1);
	pb_int(&i, 7, -1);
	pb_int(&i, 7, 1LL << 40);
	pb_model_tensor(&model, &i);
	m = parse_ok(&model);
	ck_assert_int_eq(((int64_t *)m->graph.inits[0].data)[0], -1);
	ck_assert_int_eq(((int64_t *)m->graph.inits[0].data)[1], 1LL << 40);
	clcnn_onnx_free(m);
	struct pb i8 = {0};
	tensor_header(&i8, "i8", ONNX_INT8, d2, 1);
	pb_int(&i8, 5, -128);
	pb_int(&i8, 5, 127);
	pb_model_tensor(&model, &i8);
	m = parse_ok(&model);
	ck_assert_uint_eq(m->graph.inits[0].nbytes, 2);
	ck_assert_int_eq(((int8_t *)m->graph.inits[0].data)[0], -128);
	ck_assert_int_eq(((int8_t *)m->graph.inits[0].data)[1], 127);
	clcnn_onnx_free(m);
	struct pb u8 = {0};
	tensor_header(&u8, "u8", ONNX_UINT8, d2, 1);
	pb_int(&u8, 5, 1);
	pb_int(&u8, 5, 300);
	pb_model_tensor(&model, &u8);
	parse_fails(&model, CLCNN_ERR_FORMAT,
		    "m.onnx: tensor 'u8': int32_data value 300 at 1 is out of range for UINT8");

	/* double_data, packed */
	struct pb dd = {0}, dp = {0};
	double dv[2] = {0.1, -1e300};
	tensor_header(&dd, "d", ONNX_DOUBLE, d2, 1);
	pb_raw(&dp, dv, sizeof dv);
	pb_msg(&dd, 10, &dp);
	pb_model_tensor(&model, &dd);
	m = parse_ok(&model);
	ck_assert_double_eq(((double *)m->graph.inits[0].data)[1], -1e300);
	clcnn_onnx_free(m);

	/* float16 bits in int32_data, uint32 in uint64_data */
	struct pb h = {0};
	tensor_header(&h, "h", ONNX_FLOAT16, d2, 1);
	pb_int(&h, 5, 0x3c00);
	pb_int(&h, 5, 0xc000);
	pb_model_tensor(&model, &h);
	m = parse_ok(&model);
	ck_assert_uint_eq(m->graph.inits[0].nbytes, 4);
	ck_assert_uint_eq(((uint16_t *)m->graph.inits[0].data)[0], 0x3c00);
	ck_assert_uint_eq(((uint16_t *)m->graph.inits[0].data)[1], 0xc000);
	clcnn_onnx_free(m);
	struct pb u = {0};
	tensor_header(&u, "u", 12 /* UINT32 */, d2, 1);
	pb_int(&u, 11, 7);
	pb_int(&u, 11, 0xffffffff);
	pb_model_tensor(&model, &u);
	m = parse_ok(&model);
	ck_assert_uint_eq(((uint32_t *)m->graph.inits[0].data)[1], 0xffffffffu);
	clcnn_onnx_free(m);
	/* a data type clcnn does not know keeps its raw bytes */
	struct pb c = {0};
	tensor_header(&c, "c", 14 /* COMPLEX64 */, d2, 1);
	pb_bytes(&c, 9, "0123456789abcdef", 16);
	pb_model_tensor(&model, &c);
	m = parse_ok(&model);
	ck_assert_uint_eq(m->graph.inits[0].nbytes, 16);
	ck_assert_uint_eq(m->graph.inits[0].count, 2);
	ck_assert_int_eq(memcmp(m->graph.inits[0].data, "0123456789abcdef", 16), 0);
	clcnn_onnx_free(m);

	/* scalar (no dims): one element */
	struct pb s = {0};
	tensor_header(&s, "s", ONNX_FLOAT, NULL, 0);
	pb_f32(&s, 4, 7.0f);
	pb_model_tensor(&model, &s);
	m = parse_ok(&model);
	ck_assert_int_eq(m->graph.inits[0].ndim, 0);
	ck_assert_uint_eq(m->graph.inits[0].count, 1);
	ck_assert_float_eq(*(float *)m->graph.inits[0].data, 7.0f);
	clcnn_onnx_free(m);
}
END_TEST

START_TEST(tensor_errors)
{
	struct pb t = {0}, model;
	int64_t d[] = {10, 10};
	unsigned char raw[400] = {0};
	tensor_header(&t, "fc.weight", ONNX_FLOAT, d, 2);
	pb_bytes(&t, 9, raw, 396);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT,
		    "m.onnx: tensor 'fc.weight': raw_data holds 396 bytes, dims [10, 10] need 400");

	t.n = 0;
	tensor_header(&t, "few", ONNX_FLOAT, d, 2);
	pb_f32(&t, 4, 1.0f);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT,
		    "m.onnx: tensor 'few': float_data holds 1 values, dims [10, 10] need 100");

	t.n = 0;
	tensor_header(&t, "both", ONNX_FLOAT, NULL, 0);
	pb_f32(&t, 4, 1.0f);
	pb_bytes(&t, 9, raw, 4);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: tensor 'both': both raw_data and float_data are given");

	t.n = 0;
	tensor_header(&t, "wrong", ONNX_INT64, NULL, 0);
	pb_f32(&t, 4, 1.0f);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: tensor 'wrong': float_data given for data_type 7 (INT64)");

	t.n = 0;
	tensor_header(&t, "none", ONNX_FLOAT, d, 2);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: tensor 'none': no data (dims [10, 10] need 400 bytes)");

	/* a header that claims a huge tensor is refused before any allocation */
	int64_t huge[] = {1LL << 20, 1LL << 20, 1LL << 20};
	t.n = 0;
	tensor_header(&t, "huge", ONNX_FLOAT, huge, 3);
	pb_bytes(&t, 9, raw, 4);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT,
		    "m.onnx: tensor 'huge': dims [1048576, 1048576, 1048576] make more than the 4294967296-byte "
		    "limit of a tensor");

	int64_t neg[] = {-4};
	t.n = 0;
	tensor_header(&t, "neg", ONNX_FLOAT, neg, 1);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: tensor 'neg': dimension 0 is negative (-4)");

	int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	t.n = 0;
	tensor_header(&t, "deep", ONNX_FLOAT, nine, 9);
	pb_model_tensor(&model, &t);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: tensor 'deep': 9 dims, at most 8 are supported");
}
END_TEST

START_TEST(unknown_fields_and_bad_wire)
{
	struct pb n = {0}, model, g = {0};
	/* unknown fields of every skippable wire type, in the model, graph and node */
	pb_int(&n, 99, 5);
	pb_key(&n, 98, 1);
	pb_raw(&n, "12345678", 8);
	pb_str(&n, 97, "ignored");
	pb_key(&n, 96, 5);
	pb_raw(&n, "1234", 4);
	pb_str(&n, 4, "Relu");
	pb_str(&n, 6, "a doc string");
	pb_msg(&g, 1, &n);
	pb_int(&g, 200, 1);
	pb_model(&model, &g);
	pb_str(&model, 20, "training_info is skipped");
	struct onnx_model *m = parse_ok(&model);
	ck_assert_int_eq(m->graph.nnodes, 1);
	ck_assert_str_eq(m->graph.nodes[0].op_type, "Relu");
	clcnn_onnx_free(m);

	/* a group (wire type 3) */
	struct pb bad = {0};
	pb_int(&bad, 1, 8);
	pb_key(&bad, 9, 3);
	parse_fails(&bad, CLCNN_ERR_FORMAT,
		    "m.onnx: field 9 at byte 2 is a group (wire type 3), which ONNX does not use");
	bad.n = 0;
	pb_key(&bad, 9, 7);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: field 9 at byte 0 has invalid wire type 7");
	/* a length past the end of the file, and a node length past the end of the graph */
	bad.n = 0;
	pb_int(&bad, 1, 8);
	pb_key(&bad, 7, 2);
	pb_varint(&bad, 100);
	pb_raw(&bad, "\x0a\x00", 2);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: length 100 at byte 3 runs past the end (2 bytes left)");
	struct pb g2 = {0};
	pb_key(&g2, 1, 2);
	pb_varint(&g2, 50);
	pb_str(&g2, 2, "x");
	pb_model(&model, &g2);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: length 50 at byte 5 runs past the end (3 bytes left)");
	/* truncated length prefix */
	bad.n = 0;
	pb_key(&bad, 7, 2);
	pb_raw(&bad, "\x80", 1);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: truncated varint at byte 1");
	/* a field of the wrong wire type, named with its node */
	struct pb n2 = {0};
	pb_str(&n2, 3, "conv1");
	pb_int(&n2, 4, 5);
	pb_model_node(&model, &n2);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: node 'conv1': field 4 (op_type) has wire type 0, expected 2");
	/* a node without op_type */
	n2.n = 0;
	pb_str(&n2, 1, "x");
	pb_model_node(&model, &n2);
	parse_fails(&model, CLCNN_ERR_FORMAT, "m.onnx: node 0: no op_type");
	/* no graph at all: an empty message is a valid protobuf but not an ONNX model */
	bad.n = 0;
	pb_int(&bad, 1, 8);
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: no graph (not an ONNX model?)");
	bad.n = 0;
	parse_fails(&bad, CLCNN_ERR_FORMAT, "m.onnx: file is empty (0 bytes)");
}
END_TEST

START_TEST(nesting)
{
	/* a graph attribute (If/Loop body) nested 1000 deep is skipped as bytes, not recursed into */
	static struct pb inner[2];
	struct pb *cur = &inner[0], *next = &inner[1];
	cur->n = 0;
	pb_str(cur, 4, "Relu");
	for (int i = 0; i < 1000; i++) {
		next->n = 0;
		pb_msg(next, 1, cur);
		struct pb *t = cur;
		cur = next;
		next = t;
	}
	struct pb at = {0}, n = {0}, model;
	pb_str(&at, 1, "then_branch");
	pb_msg(&at, 6, cur);
	pb_int(&at, 20, ONNX_ATTR_GRAPH);
	pb_str(&n, 4, "If");
	pb_msg(&n, 5, &at);
	pb_model_node(&model, &n);
	struct onnx_model *m = parse_ok(&model);
	ck_assert_int_eq(clcnn_onnx_attr(&m->graph.nodes[0], "then_branch")->type, ONNX_ATTR_GRAPH);
	clcnn_onnx_free(m);
	/* an attribute tensor with a bad length is reported with node, attribute and tensor */
	struct pb t = {0};
	int64_t d[] = {3};
	tensor_header(&t, "value", ONNX_INT64, d, 1);
	pb_int(&t, 7, 1);
	at.n = 0;
	n.n = 0;
	pb_str(&at, 1, "value");
	pb_msg(&at, 5, &t);
	pb_str(&n, 3, "shape_const");
	pb_str(&n, 4, "Constant");
	pb_msg(&n, 5, &at);
	pb_model_node(&model, &n);
	parse_fails(
		&model, CLCNN_ERR_FORMAT,
		"m.onnx: node 'shape_const': attribute 'value': tensor 'value': int64_data holds 1 values, dims [3] "
		"need 3");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("onnx");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, builder_and_writer_errors);
	tcase_add_test(tc, repeated_packed_and_unpacked);
	tcase_add_test(tc, varint_limits);
	tcase_add_test(tc, tensor_data_fields);
	tcase_add_test(tc, tensor_errors);
	tcase_add_test(tc, unknown_fields_and_bad_wire);
	tcase_add_test(tc, nesting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(make_suite());
}
