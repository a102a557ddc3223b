/*
 * ONNX models in memory: building one (export), looking things up (import), freeing it. Every free
 * accepts a half-built model: arrays are grown zeroed and counted before they are filled.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx-wire.h"

size_t clcnn_onnx_dtype_size(int dtype)
{
	switch (dtype) {
	case ONNX_UINT8:
	case ONNX_INT8:
	case ONNX_BOOL: return 1;
	case 4: /* UINT16 */
	case 5: /* INT16 */
	case ONNX_FLOAT16:
	case 16: /* BFLOAT16 */ return 2;
	case ONNX_FLOAT:
	case ONNX_INT32:
	case 12: /* UINT32 */ return 4;
	case ONNX_INT64:
	case ONNX_DOUBLE:
	case 13: /* UINT64 */ return 8;
	}
	return 0;
}

static void free_strings(char **s, int n)
{
	for (int i = 0; s && i < n; i++)
		free(s[i]);
	free(s);
}

void onnx_tensor_clear(struct onnx_tensor *t)
{
	free(t->name);
	free(t->data);
	memset(t, 0, sizeof *t);
}

static void attr_clear(struct onnx_attr *a)
{
	free(a->name);
	free(a->s);
	if (a->t) {
		onnx_tensor_clear(a->t);
		free(a->t);
	}
	free(a->floats);
	free(a->ints);
	free_strings(a->strings, a->nstrings);
}

static void node_clear(struct onnx_node *n)
{
	free(n->name);
	free(n->op_type);
	free(n->domain);
	free_strings(n->inputs, n->ninputs);
	free_strings(n->outputs, n->noutputs);
	for (int i = 0; n->attrs && i < n->nattrs; i++)
		attr_clear(&n->attrs[i]);
	free(n->attrs);
}

static void value_infos_free(struct onnx_value_info *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].name);
		for (int d = 0; d < ONNX_MAX_DIMS; d++)
			free(v[i].dim_params[d]);
	}
	free(v);
}

void clcnn_onnx_free(struct onnx_model *m)
{
	if (!m)
		return;
	free(m->producer_name);
	free(m->producer_version);
	free(m->domain);
	free(m->doc_string);
	for (int i = 0; m->opsets && i < m->nopsets; i++)
		free(m->opsets[i].domain);
	free(m->opsets);
	struct onnx_graph *g = &m->graph;
	free(g->name);
	for (int i = 0; g->nodes && i < g->nnodes; i++)
		node_clear(&g->nodes[i]);
	free(g->nodes);
	for (int i = 0; g->inits && i < g->ninits; i++)
		onnx_tensor_clear(&g->inits[i]);
	free(g->inits);
	value_infos_free(g->inputs, g->ninputs);
	value_infos_free(g->outputs, g->noutputs);
	value_infos_free(g->value_infos, g->nvalue_infos);
	free_strings(m->meta_keys, m->nmeta);
	free_strings(m->meta_values, m->nmeta);
	free(m);
}

/* ---------------------------------------------------------------- lookups */

int64_t clcnn_onnx_opset(const struct onnx_model *m)
{
	for (int i = 0; i < m->nopsets; i++) {
		const char *d = m->opsets[i].domain;
		if (!d || !d[0] || !strcmp(d, "ai.onnx"))
			return m->opsets[i].version;
	}
	return 0;
}

const struct onnx_attr *clcnn_onnx_attr(const struct onnx_node *n, const char *name)
{
	for (int i = 0; i < n->nattrs; i++)
		if (n->attrs[i].name && !strcmp(n->attrs[i].name, name))
			return &n->attrs[i];
	return NULL;
}

const struct onnx_tensor *clcnn_onnx_init(const struct onnx_graph *g, const char *name)
{
	for (int i = 0; i < g->ninits; i++)
		if (g->inits[i].name && !strcmp(g->inits[i].name, name))
			return &g->inits[i];
	return NULL;
}

/* ---------------------------------------------------------------- builder */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/* Make room for one more zeroed element of size es in *arr (*n used); the caller counts it. */
static int grow(void **arr, int n, size_t es)
{
	/* capacity is not stored: grow at powers of two, which n passes through one by one */
	if (n && (n & (n - 1)))
		return 0;
	if (n >= INT_MAX / 2)
		return CLCNN_ERR_NO_MEMORY;
	size_t cap = n ? (size_t)n * 2 : 1;
	void *p = realloc(*arr, cap * es);
	if (!p)
		return CLCNN_ERR_NO_MEMORY;
	memset((char *)p + (size_t)n * es, 0, (cap - (size_t)n) * es);
	*arr = p;
	return 0;
}

int clcnn_onnx_new(int64_t opset, struct onnx_model **out)
{
	*out = NULL;
	struct onnx_model *m = calloc(1, sizeof *m);
	if (!m)
		return CLCNN_ERR_NO_MEMORY;
	m->ir_version = 8;
	m->producer_name = strdup("clcnn");
	m->producer_version = strdup(CLCNN_VERSION_STRING);
	m->domain = strdup("");
	m->doc_string = strdup("");
	m->graph.name = strdup("clcnn");
	m->opsets = calloc(1, sizeof *m->opsets);
	if (m->opsets) {
		m->nopsets = 1;
		m->opsets[0].domain = strdup("");
		m->opsets[0].version = opset;
	}
	if (!m->producer_name || !m->producer_version || !m->domain || !m->doc_string || !m->graph.name || !m->opsets ||
	    !m->opsets[0].domain) {
		clcnn_onnx_free(m);
		return CLCNN_ERR_NO_MEMORY;
	}
	*out = m;
	return 0;
}

static int copy_names(char ***dst, int *ndst, const char *const *src, int n)
{
	if (n <= 0)
		return 0;
	if (!(*dst = calloc((size_t)n, sizeof **dst)))
		return CLCNN_ERR_NO_MEMORY;
	for (; *ndst < n; (*ndst)++)
		if (!((*dst)[*ndst] = dup_or_empty(src ? src[*ndst] : NULL)))
			return CLCNN_ERR_NO_MEMORY;
	return 0;
}

struct onnx_node *clcnn_onnx_add_node(struct onnx_graph *g, const char *op_type, const char *name,
				      const char *const *inputs, int ninputs, const char *const *outputs, int noutputs)
{
	if (grow((void **)&g->nodes, g->nnodes, sizeof *g->nodes))
		return NULL;
	struct onnx_node *n = &g->nodes[g->nnodes];
	memset(n, 0, sizeof *n);
	n->op_type = dup_or_empty(op_type);
	n->name = dup_or_empty(name);
	n->domain = dup_or_empty(NULL);
	if (!n->op_type || !n->name || !n->domain || copy_names(&n->inputs, &n->ninputs, inputs, ninputs) ||
	    copy_names(&n->outputs, &n->noutputs, outputs, noutputs)) {
		node_clear(n);
		memset(n, 0, sizeof *n);
		return NULL;
	}
	g->nnodes++;
	return n;
}

/* A new attribute of n with its name set, or NULL when out of memory. */
static struct onnx_attr *new_attr(struct onnx_node *n, const char *name, int type)
{
	if (grow((void **)&n->attrs, n->nattrs, sizeof *n->attrs))
		return NULL;
	struct onnx_attr *a = &n->attrs[n->nattrs];
	memset(a, 0, sizeof *a);
	if (!(a->name = dup_or_empty(name)))
		return NULL;
	a->type = type;
	n->nattrs++;
	return a;
}

int clcnn_onnx_attr_int(struct onnx_node *n, const char *name, int64_t v)
{
	struct onnx_attr *a = new_attr(n, name, ONNX_ATTR_INT);
	if (!a)
		return CLCNN_ERR_NO_MEMORY;
	a->i = v;
	return 0;
}

int clcnn_onnx_attr_float(struct onnx_node *n, const char *name, float v)
{
	struct onnx_attr *a = new_attr(n, name, ONNX_ATTR_FLOAT);
	if (!a)
		return CLCNN_ERR_NO_MEMORY;
	a->f = v;
	return 0;
}

int clcnn_onnx_attr_ints(struct onnx_node *n, const char *name, const int64_t *v, int count)
{
	if (count < 0)
		return CLCNN_ERR_INVALID;
	struct onnx_attr *a = new_attr(n, name, ONNX_ATTR_INTS);
	if (!a || (count && !(a->ints = malloc((size_t)count * sizeof *v))))
		return CLCNN_ERR_NO_MEMORY;
	if (count)
		memcpy(a->ints, v, (size_t)count * sizeof *v);
	a->nints = count;
	return 0;
}

int clcnn_onnx_attr_floats(struct onnx_node *n, const char *name, const float *v, int count)
{
	if (count < 0)
		return CLCNN_ERR_INVALID;
	struct onnx_attr *a = new_attr(n, name, ONNX_ATTR_FLOATS);
	if (!a || (count && !(a->floats = malloc((size_t)count * sizeof *v))))
		return CLCNN_ERR_NO_MEMORY;
	if (count)
		memcpy(a->floats, v, (size_t)count * sizeof *v);
	a->nfloats = count;
	return 0;
}

int clcnn_onnx_attr_string(struct onnx_node *n, const char *name, const char *v)
{
	struct onnx_attr *a = new_attr(n, name, ONNX_ATTR_STRING);
	if (!a || !(a->s = dup_or_empty(v)))
		return CLCNN_ERR_NO_MEMORY;
	a->slen = strlen(a->s);
	return 0;
}

int clcnn_onnx_add_init(struct onnx_graph *g, const char *name, int dtype, const int64_t *dims, int ndim,
			const void *data)
{
	size_t es = clcnn_onnx_dtype_size(dtype);
	if (!es || ndim < 0 || ndim > ONNX_MAX_DIMS)
		return CLCNN_ERR_INVALID;
	uint64_t count = 1;
	for (int d = 0; d < ndim; d++) {
		if (dims[d] < 0 || (dims[d] && count > ONNX_MAX_TENSOR_BYTES / es / (uint64_t)dims[d]))
			return CLCNN_ERR_INVALID;
		count *= (uint64_t)dims[d];
	}
	if (count && !data)
		return CLCNN_ERR_INVALID;
	if (grow((void **)&g->inits, g->ninits, sizeof *g->inits))
		return CLCNN_ERR_NO_MEMORY;
	struct onnx_tensor *t = &g->inits[g->ninits];
	memset(t, 0, sizeof *t);
	t->dtype = dtype;
	t->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		t->dims[d] = dims[d];
	t->count = (size_t)count;
	t->nbytes = t->count * es;
	t->name = dup_or_empty(name);
	if (t->nbytes && (t->data = malloc(t->nbytes)))
		memcpy(t->data, data, t->nbytes);
	if (!t->name || (t->nbytes && !t->data)) {
		onnx_tensor_clear(t);
		return CLCNN_ERR_NO_MEMORY;
	}
	g->ninits++;
	return 0;
}

int clcnn_onnx_add_io(struct onnx_graph *g, int output, const char *name, int elem_type, const int64_t *dims, int ndim,
		      const char *const *dim_params)
{
	if (ndim > ONNX_MAX_DIMS || (ndim > 0 && !dims))
		return CLCNN_ERR_INVALID;
	struct onnx_value_info **arr = output ? &g->outputs : &g->inputs;
	int *n = output ? &g->noutputs : &g->ninputs;
	if (grow((void **)arr, *n, sizeof **arr))
		return CLCNN_ERR_NO_MEMORY;
	struct onnx_value_info *v = &(*arr)[*n];
	memset(v, 0, sizeof *v);
	v->elem_type = elem_type;
	v->ndim = ndim < 0 ? -1 : ndim;
	(*n)++; /* counted now so that a failure below leaves it to clcnn_onnx_free */
	if (!(v->name = dup_or_empty(name)))
		return CLCNN_ERR_NO_MEMORY;
	for (int d = 0; d < ndim; d++) {
		v->dims[d] = dims[d] < 0 ? -1 : dims[d];
		/* a name only where the size is unknown: a known size is what the file says */
		if (v->dims[d] < 0 && dim_params && dim_params[d] && !(v->dim_params[d] = strdup(dim_params[d])))
			return CLCNN_ERR_NO_MEMORY;
	}
	return 0;
}

int clcnn_onnx_add_meta(struct onnx_model *m, const char *key, const char *value)
{
	if (grow((void **)&m->meta_keys, m->nmeta, sizeof(char *)) ||
	    grow((void **)&m->meta_values, m->nmeta, sizeof(char *)))
		return CLCNN_ERR_NO_MEMORY;
	char *k = dup_or_empty(key), *v = dup_or_empty(value);
	if (!k || !v) {
		free(k);
		free(v);
		return CLCNN_ERR_NO_MEMORY;
	}
	m->meta_keys[m->nmeta] = k;
	m->meta_values[m->nmeta] = v;
	m->nmeta++;
	return 0;
}
