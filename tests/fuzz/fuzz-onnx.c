/*
 * ONNX reader: any byte string is read without a crash; an accepted model keeps every promise of
 * io/onnx.h (strings present, tensor sizes agreeing with dims and data type, shapes in range), and
 * the writer turns it into bytes that read back and serialise to the very same bytes again.
 */
#include <string.h>

#include "fuzz.h"
#include "io/io.h"
#include "io/onnx.h"

static void check_tensor(const struct onnx_tensor *t, size_t size)
{
	FUZZ_ASSERT(t->name, "tensor without a name string");
	FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= ONNX_MAX_DIMS, "ndim %d", t->ndim);
	size_t c = 1;
	for (int d = 0; d < t->ndim; d++) {
		FUZZ_ASSERT(t->dims[d] >= 0, "negative dim");
		c *= (size_t)t->dims[d];
	}
	FUZZ_ASSERT(c == t->count, "count %zu, dims product %zu", t->count, c);
	size_t es = clcnn_onnx_dtype_size(t->dtype);
	if (es)
		FUZZ_ASSERT(t->nbytes == t->count * es, "tensor '%s': %zu bytes for %zu elements", t->name, t->nbytes,
			    t->count);
	/*
	 * every element came from the input (external files cannot resolve inside /proc/self/fd): at
	 * most 8 bytes of data (an int64) per input byte (a one-byte varint)
	 */
	FUZZ_ASSERT(t->nbytes <= 8 * size, "tensor '%s' holds %zu bytes from a %zu-byte file", t->name, t->nbytes,
		    size);
	FUZZ_ASSERT(!t->nbytes || t->data, "tensor '%s' without data", t->name);
}

/* Attributes the writer cannot emit: a type it does not know, or a tensor type without a tensor. */
static int writable(const struct onnx_attr *a)
{
	if (a->type == ONNX_ATTR_TENSOR)
		return a->t != NULL;
	return a->type >= ONNX_ATTR_FLOAT && a->type <= ONNX_ATTR_STRINGS && a->type != ONNX_ATTR_GRAPH;
}

static int check_model(const struct onnx_model *m, size_t size)
{
	int ok = 1;
	FUZZ_ASSERT(m->producer_name && m->producer_version && m->domain && m->doc_string, "model strings");
	for (int i = 0; i < m->nopsets; i++)
		FUZZ_ASSERT(m->opsets[i].domain, "opset domain");
	for (int i = 0; i < m->nmeta; i++)
		FUZZ_ASSERT(m->meta_keys[i] && m->meta_values[i], "metadata %d", i);
	const struct onnx_graph *g = &m->graph;
	FUZZ_ASSERT(g->name, "graph name");
	for (int i = 0; i < g->nnodes; i++) {
		const struct onnx_node *n = &g->nodes[i];
		FUZZ_ASSERT(n->name && n->domain && n->op_type && n->op_type[0], "node %d strings", i);
		for (int k = 0; k < n->ninputs; k++)
			FUZZ_ASSERT(n->inputs[k], "node %d input %d", i, k);
		for (int k = 0; k < n->noutputs; k++)
			FUZZ_ASSERT(n->outputs[k], "node %d output %d", i, k);
		for (int k = 0; k < n->nattrs; k++) {
			const struct onnx_attr *a = &n->attrs[k];
			FUZZ_ASSERT(a->name && clcnn_onnx_attr(n, a->name), "attribute %d", k);
			FUZZ_ASSERT(a->nints >= 0 && a->nfloats >= 0 && a->nstrings >= 0, "attribute counts");
			FUZZ_ASSERT((size_t)a->nints <= size && (size_t)a->nfloats <= size / 4, "attribute %s sizes",
				    a->name);
			if (a->t)
				check_tensor(a->t, size);
			ok &= writable(a);
		}
	}
	size_t total = 0;
	for (int i = 0; i < g->ninits; i++) {
		check_tensor(&g->inits[i], size);
		FUZZ_ASSERT(clcnn_onnx_init(g, g->inits[i].name), "lookup of '%s'", g->inits[i].name);
		total += g->inits[i].nbytes;
	}
	FUZZ_ASSERT(total <= 8 * size, "initializers hold %zu bytes of a %zu-byte file", total, size);
	const struct onnx_value_info *lists[3] = {g->inputs, g->outputs, g->value_infos};
	int counts[3] = {g->ninputs, g->noutputs, g->nvalue_infos};
	for (int l = 0; l < 3; l++)
		for (int i = 0; i < counts[l]; i++) {
			const struct onnx_value_info *v = &lists[l][i];
			FUZZ_ASSERT(v->name && v->ndim >= -1 && v->ndim <= ONNX_MAX_DIMS, "value info %d", i);
			for (int d = 0; d < v->ndim; d++)
				FUZZ_ASSERT(v->dims[d] >= -1 && (v->dims[d] == -1 || !v->dim_params[d]), "dim %d", d);
		}
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct onnx_model *m = (void *)1;
	char err[2048] = "";
	int rc = clcnn_onnx_read(path, &m, err, sizeof err);
	if (rc) {
		FUZZ_ASSERT(!m, "failed read returned a model");
		FUZZ_ASSERT(rc == CLCNN_ERR_FORMAT || rc == CLCNN_ERR_NO_MEMORY || rc == CLCNN_ERR_IO, "status %d", rc);
		FUZZ_ASSERT(strstr(err, path) == err, "message does not start with the path: %s", err);
		FUZZ_ASSERT(strlen(err) > strlen(path) + 2, "empty message: %s", err);
		return 0;
	}
	int ok = check_model(m, size);
	unsigned char *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	rc = clcnn_onnx_serialize(m, &buf, &len, err, sizeof err);
	FUZZ_ASSERT(ok ? rc == 0 : rc == CLCNN_ERR_INVALID, "serialise: %d %s", rc, err);
	if (!rc) {
		struct onnx_model *back;
		rc = clcnn_onnx_parse(buf, len, NULL, "again", &back, err, sizeof err);
		FUZZ_ASSERT(rc == 0 || rc == CLCNN_ERR_NO_MEMORY, "written model does not read back: %s", err);
		if (!rc) {
			FUZZ_ASSERT(back->graph.nnodes == m->graph.nnodes && back->graph.ninits == m->graph.ninits,
				    "counts changed");
			FUZZ_ASSERT(clcnn_onnx_serialize(back, &buf2, &len2, err, sizeof err) == 0, "%s", err);
			FUZZ_ASSERT(len2 == len && !memcmp(buf, buf2, len), "second serialisation differs");
			clcnn_onnx_free(back);
		}
	}
	free(buf);
	free(buf2);
	clcnn_onnx_free(m);
	return 0;
}
