/*
 * ONNX writer: the subset of onnx.h to protobuf bytes. Each message is emitted by one function run
 * twice, once counting (w->p NULL) and once writing, so a length prefix is known before its
 * message is written and the output is allocated once; tensors are measured in O(1) (raw_data).
 * Repeated scalars are packed, which every protobuf parser accepts for proto2 and proto3 fields
 * alike; tensor data is always raw_data, little-endian.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx-wire.h"

struct wr {
	unsigned char *p; /* a buffer of the full size, or */
	FILE *f;          /* a stream (a large model is not held twice in memory); both NULL: only count */
	size_t n;
	int failed; /* a write to f failed */
};

typedef void (*emit_fn)(struct wr *w, const void *arg);

static void put_raw(struct wr *w, const void *b, size_t n)
{
	if (w->p && n)
		memcpy(w->p + w->n, b, n);
	else if (w->f && n && fwrite(b, 1, n, w->f) != n)
		w->failed = 1;
	w->n += n;
}

static void put_varint(struct wr *w, uint64_t v)
{
	unsigned char b[10];
	size_t n = 0;
	do {
		b[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	put_raw(w, b, n);
}

static void put_key(struct wr *w, unsigned field, int wt)
{
	put_varint(w, (uint64_t)field << 3 | (unsigned)wt);
}

static void put_int(struct wr *w, unsigned field, int64_t v)
{
	put_key(w, field, 0);
	put_varint(w, (uint64_t)v); /* negative: ten bytes, as protobuf's int64 */
}

static void put_bytes(struct wr *w, unsigned field, const void *b, size_t n)
{
	put_key(w, field, 2);
	put_varint(w, n);
	put_raw(w, b, n);
}

static void put_str(struct wr *w, unsigned field, const char *s)
{
	put_bytes(w, field, s ? s : "", s ? strlen(s) : 0);
}

/* Optional strings are left out when empty, as proto3 writers do. */
static void put_opt_str(struct wr *w, unsigned field, const char *s)
{
	if (s && *s)
		put_str(w, field, s);
}

static void put_msg(struct wr *w, unsigned field, emit_fn fn, const void *arg)
{
	struct wr m = {0};
	fn(&m, arg);
	put_key(w, field, 2);
	put_varint(w, m.n);
	fn(w, arg);
}

static void put_packed_ints(struct wr *w, unsigned field, const int64_t *v, int n)
{
	struct wr m = {0};
	for (int i = 0; i < n; i++)
		put_varint(&m, (uint64_t)v[i]);
	put_key(w, field, 2);
	put_varint(w, m.n);
	for (int i = 0; i < n; i++)
		put_varint(w, (uint64_t)v[i]);
}

static void put_packed_floats(struct wr *w, unsigned field, const float *v, int n)
{
	put_key(w, field, 2);
	put_varint(w, (uint64_t)n * 4);
	for (int i = 0; i < n; i++) {
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
				      (unsigned char)(bits >> 24)};
		put_raw(w, b, 4);
	}
}

/* ---------------------------------------------------------------- messages */

/* TensorProto: dims=1, data_type=2, name=8, raw_data=9. */
static void emit_tensor(struct wr *w, const void *arg)
{
	const struct onnx_tensor *t = arg;
	if (t->ndim > 0)
		put_packed_ints(w, 1, t->dims, t->ndim);
	put_int(w, 2, t->dtype);
	put_opt_str(w, 8, t->name);
	size_t es = clcnn_onnx_dtype_size(t->dtype);
	if (es <= 1 || onnx_host_le() || (!w->p && !w->f)) {
		put_bytes(w, 9, t->data, t->nbytes);
		return;
	}
	/* a big-endian host: each element reversed into little-endian */
	put_key(w, 9, 2);
	put_varint(w, t->nbytes);
	const unsigned char *p = t->data;
	for (size_t i = 0; i < t->count; i++, p += es) {
		unsigned char le[8];
		for (size_t b = 0; b < es; b++)
			le[b] = p[es - 1 - b];
		put_raw(w, le, es);
	}
}

/* AttributeProto: name=1, f=2, i=3, s=4, t=5, floats=7, ints=8, strings=9, type=20. */
static void emit_attr(struct wr *w, const void *arg)
{
	const struct onnx_attr *a = arg;
	put_str(w, 1, a->name);
	switch (a->type) {
	case ONNX_ATTR_FLOAT: {
		uint32_t bits;
		memcpy(&bits, &a->f, 4);
		unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
				      (unsigned char)(bits >> 24)};
		put_key(w, 2, 5);
		put_raw(w, b, 4);
		break;
	}
	case ONNX_ATTR_INT: put_int(w, 3, a->i); break;
	case ONNX_ATTR_STRING: put_bytes(w, 4, a->s ? a->s : "", a->s ? a->slen : 0); break;
	case ONNX_ATTR_TENSOR: put_msg(w, 5, emit_tensor, a->t); break;
	case ONNX_ATTR_FLOATS: put_packed_floats(w, 7, a->floats, a->nfloats); break;
	case ONNX_ATTR_INTS: put_packed_ints(w, 8, a->ints, a->nints); break;
	case ONNX_ATTR_STRINGS:
		for (int i = 0; i < a->nstrings; i++)
			put_str(w, 9, a->strings[i]);
		break;
	}
	put_int(w, 20, a->type);
}

/* NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, domain=7. */
static void emit_node(struct wr *w, const void *arg)
{
	const struct onnx_node *n = arg;
	/* empty inputs are kept: they mark absent optional inputs by position */
	for (int i = 0; i < n->ninputs; i++)
		put_str(w, 1, n->inputs[i]);
	for (int i = 0; i < n->noutputs; i++)
		put_str(w, 2, n->outputs[i]);
	put_opt_str(w, 3, n->name);
	put_str(w, 4, n->op_type);
	for (int i = 0; i < n->nattrs; i++)
		put_msg(w, 5, emit_attr, &n->attrs[i]);
	put_opt_str(w, 7, n->domain);
}

/* TensorShapeProto.Dimension: dim_value=1 | dim_param=2 (neither: unknown). */
struct dim_arg {
	int64_t value;
	const char *param;
};

static void emit_dim(struct wr *w, const void *arg)
{
	const struct dim_arg *d = arg;
	if (d->value >= 0)
		put_int(w, 1, d->value);
	else if (d->param)
		put_str(w, 2, d->param);
}

static void emit_shape(struct wr *w, const void *arg)
{
	const struct onnx_value_info *v = arg;
	for (int d = 0; d < v->ndim; d++) {
		struct dim_arg da = {v->dims[d], v->dim_params[d]};
		put_msg(w, 1, emit_dim, &da);
	}
}

/* TypeProto.Tensor: elem_type=1, shape=2 (absent when ndim is -1: rank unknown). */
static void emit_tensor_type(struct wr *w, const void *arg)
{
	const struct onnx_value_info *v = arg;
	put_int(w, 1, v->elem_type);
	if (v->ndim >= 0)
		put_msg(w, 2, emit_shape, v);
}

static void emit_type(struct wr *w, const void *arg)
{
	put_msg(w, 1, emit_tensor_type, arg);
}

static void emit_value_info(struct wr *w, const void *arg)
{
	const struct onnx_value_info *v = arg;
	put_str(w, 1, v->name);
	put_msg(w, 2, emit_type, v);
}

/* GraphProto: node=1, name=2, initializer=5, input=11, output=12, value_info=13. */
static void emit_graph(struct wr *w, const void *arg)
{
	const struct onnx_graph *g = arg;
	for (int i = 0; i < g->nnodes; i++)
		put_msg(w, 1, emit_node, &g->nodes[i]);
	put_opt_str(w, 2, g->name);
	for (int i = 0; i < g->ninits; i++)
		put_msg(w, 5, emit_tensor, &g->inits[i]);
	for (int i = 0; i < g->ninputs; i++)
		put_msg(w, 11, emit_value_info, &g->inputs[i]);
	for (int i = 0; i < g->noutputs; i++)
		put_msg(w, 12, emit_value_info, &g->outputs[i]);
	for (int i = 0; i < g->nvalue_infos; i++)
		put_msg(w, 13, emit_value_info, &g->value_infos[i]);
}

static void emit_opset(struct wr *w, const void *arg)
{
	const struct onnx_opset *o = arg;
	put_str(w, 1, o->domain); /* "" too, as onnx.helper.make_opsetid writes it */
	put_int(w, 2, o->version);
}

struct entry_arg {
	const char *key, *value;
};

static void emit_entry(struct wr *w, const void *arg)
{
	const struct entry_arg *e = arg;
	put_str(w, 1, e->key);
	put_str(w, 2, e->value);
}

/* ModelProto: ir_version=1, producer_name=2, producer_version=3, domain=4, model_version=5,
 * doc_string=6, graph=7, opset_import=8, metadata_props=14. */
static void emit_model(struct wr *w, const void *arg)
{
	const struct onnx_model *m = arg;
	put_int(w, 1, m->ir_version);
	put_opt_str(w, 2, m->producer_name);
	put_opt_str(w, 3, m->producer_version);
	put_opt_str(w, 4, m->domain);
	if (m->model_version)
		put_int(w, 5, m->model_version);
	put_opt_str(w, 6, m->doc_string);
	put_msg(w, 7, emit_graph, &m->graph);
	for (int i = 0; i < m->nopsets; i++)
		put_msg(w, 8, emit_opset, &m->opsets[i]);
	for (int i = 0; i < m->nmeta; i++) {
		struct entry_arg e = {m->meta_keys[i], m->meta_values[i]};
		put_msg(w, 14, emit_entry, &e);
	}
}

/* ---------------------------------------------------------------- checks */

static int check_tensor(const struct onnx_tensor *t, char *msg, size_t len)
{
	const char *name = t->name ? t->name : "";
	if (t->ndim < 0 || t->ndim > ONNX_MAX_DIMS)
		return snprintf(msg, len, "tensor '%s': ndim %d out of 0..%d", name, t->ndim, ONNX_MAX_DIMS), -1;
	size_t count = 1;
	for (int d = 0; d < t->ndim; d++) {
		if (t->dims[d] < 0)
			return snprintf(msg, len, "tensor '%s': dimension %d is negative", name, d), -1;
		count *= (size_t)t->dims[d];
	}
	size_t es = clcnn_onnx_dtype_size(t->dtype);
	if (es && (count != t->count || t->nbytes != count * es))
		return snprintf(msg, len, "tensor '%s': %zu elements in %zu bytes, dims and data_type %d say %zu", name,
				t->count, t->nbytes, t->dtype, count * es),
		       -1;
	if (t->nbytes && !t->data)
		return snprintf(msg, len, "tensor '%s': no data", name), -1;
	return 0;
}

static int check_attr(const struct onnx_attr *a, char *msg, size_t len)
{
	const char *name = a->name ? a->name : "";
	int ok = 1;
	switch (a->type) {
	case ONNX_ATTR_FLOAT:
	case ONNX_ATTR_INT:
	case ONNX_ATTR_STRING: break;
	case ONNX_ATTR_TENSOR:
		if (!a->t)
			return snprintf(msg, len, "attribute '%s': no tensor", name), -1;
		return check_tensor(a->t, msg, len);
	case ONNX_ATTR_FLOATS: ok = a->nfloats >= 0 && (!a->nfloats || a->floats); break;
	case ONNX_ATTR_INTS: ok = a->nints >= 0 && (!a->nints || a->ints); break;
	case ONNX_ATTR_STRINGS: ok = a->nstrings >= 0 && (!a->nstrings || a->strings); break;
	default: return snprintf(msg, len, "attribute '%s': type %d cannot be written", name, a->type), -1;
	}
	if (!ok)
		return snprintf(msg, len, "attribute '%s': values missing", name), -1;
	return 0;
}

static int check_model(const struct onnx_model *m, char *msg, size_t len)
{
	const struct onnx_graph *g = &m->graph;
	char inner[512];
	for (int i = 0; i < g->nnodes; i++) {
		const struct onnx_node *n = &g->nodes[i];
		if (!n->op_type || !n->op_type[0])
			return snprintf(msg, len, "node %d has no op_type", i), -1;
		for (int k = 0; k < n->nattrs; k++)
			if (check_attr(&n->attrs[k], inner, sizeof inner))
				return snprintf(msg, len, "node '%s': %.400s", n->name ? n->name : "", inner), -1;
	}
	for (int i = 0; i < g->ninits; i++)
		if (check_tensor(&g->inits[i], msg, len))
			return -1;
	const struct onnx_value_info *lists[3] = {g->inputs, g->outputs, g->value_infos};
	int counts[3] = {g->ninputs, g->noutputs, g->nvalue_infos};
	for (int l = 0; l < 3; l++)
		for (int i = 0; i < counts[l]; i++)
			if (lists[l][i].ndim < -1 || lists[l][i].ndim > ONNX_MAX_DIMS)
				return snprintf(msg, len, "value '%s': ndim %d out of -1..%d",
						lists[l][i].name ? lists[l][i].name : "", lists[l][i].ndim,
						ONNX_MAX_DIMS),
				       -1;
	return 0;
}

int clcnn_onnx_serialize(const struct onnx_model *m, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
	*buf = NULL;
	*len = 0;
	char msg[768];
	if (check_model(m, msg, sizeof msg))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "onnx: %s", msg);
	struct wr w = {0};
	emit_model(&w, m);
	size_t n = w.n;
	w.p = malloc(n ? n : 1);
	if (!w.p)
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "onnx: out of memory (%zu bytes)", n);
	w.n = 0;
	emit_model(&w, m);
	*buf = w.p;
	*len = w.n;
	return 0;
}

int clcnn_onnx_write(const char *path, const struct onnx_model *m, char *err, size_t errlen)
{
	char msg[768];
	if (check_model(m, msg, sizeof msg))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: %s", path, msg);
	struct clcnn_io_atomic a;
	int rc = clcnn_io_atomic_begin(&a, path, err, errlen);
	if (rc)
		return rc;
	struct wr w = {.f = a.f};
	emit_model(&w, m);
	if (w.failed) {
		int e = errno;
		clcnn_io_atomic_abort(&a);
		return clcnn_io_fail(err, errlen, CLCNN_ERR_IO, "%s: cannot write %zu bytes: %s", path, w.n,
				     strerror(e));
	}
	return clcnn_io_atomic_commit(&a, err, errlen);
}
