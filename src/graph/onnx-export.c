/*
 * clcnn_graph_export_onnx: the nodes the graph's output depends on (the loss and its label inputs
 * are left out), the graph inputs they read, the parameters as initializers (read back from the
 * device), the batch dimension symbolic ("N"), then the model written atomically by io/onnx. The
 * per-layer mappings are in onnx-export-ops.c.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn/onnx.h"
#include "graph/onnx-export.h"

#define DEFAULT_OPSET 14 /* what PyTorch 1.13 exports by default */
#define MIN_OPSET 13     /* Softmax/LogSoftmax over one axis (older opsets flatten to 2-D first) */
#define MAX_OPSET 17     /* Debian's onnx 1.12 checker knows up to 17 */

/* ------------------------------------------------------------------ helpers for the mappings */

int ex_nomem(struct onnx_export *ex)
{
	if (!ex->status)
		ex->status = clcnn_fail(ex->g->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory exporting node '%s'",
					ex->path, ex->g->nodes[ex->node].name);
	return ex->status;
}

static void ex_check(struct onnx_export *ex, int rc)
{
	if (rc && !ex->status)
		ex_nomem(ex);
}

int ex_refuse(struct onnx_export *ex, const char *fmt, ...)
{
	if (ex->status)
		return ex->status;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const struct graph_node *n = &ex->g->nodes[ex->node];
	ex->status = clcnn_fail(ex->g->ctx, CLCNN_ERR_INVALID, "%s: cannot export node '%s' (%s) to ONNX: %s", ex->path,
				n->name, n->type, msg);
	return ex->status;
}

const char *ex_tmp(struct onnx_export *ex, const char *what)
{
	char *buf = ex->name[ex->next_name++ % CLCNN_ARRAY_LEN(ex->name)];
	snprintf(buf, sizeof ex->name[0], "%s/%s", ex->g->nodes[ex->node].name, what);
	return buf;
}

const char *ex_value(const struct onnx_export *ex, int v)
{
	return graph_value_name(ex->g, v);
}

const char *ex_in(const struct onnx_export *ex, int j)
{
	return ex_value(ex, ex->g->nodes[ex->node].in_ref[j]);
}

const char *ex_out(const struct onnx_export *ex)
{
	return ex->g->nodes[ex->node].name;
}

struct onnx_node *ex_op(struct onnx_export *ex, const char *op_type, const char *out, const char *const *in, int nin)
{
	if (ex->status)
		return NULL;
	/* ONNX node names are only labels: the output's name keeps them unique */
	struct onnx_node *n = clcnn_onnx_add_node(ex->og, op_type, out, in, nin, &out, 1);
	if (!n)
		ex_nomem(ex);
	return n;
}

struct onnx_node *ex_op1(struct onnx_export *ex, const char *op_type, const char *out, const char *in)
{
	return ex_op(ex, op_type, out, &in, 1);
}

struct onnx_node *ex_op2(struct onnx_export *ex, const char *op_type, const char *out, const char *a, const char *b)
{
	const char *in[2] = {a, b};
	return ex_op(ex, op_type, out, in, 2);
}

void ex_attr_int(struct onnx_export *ex, struct onnx_node *n, const char *name, int64_t v)
{
	if (n)
		ex_check(ex, clcnn_onnx_attr_int(n, name, v));
}

void ex_attr_float(struct onnx_export *ex, struct onnx_node *n, const char *name, float v)
{
	if (n)
		ex_check(ex, clcnn_onnx_attr_float(n, name, v));
}

void ex_attr_string(struct onnx_export *ex, struct onnx_node *n, const char *name, const char *v)
{
	if (n)
		ex_check(ex, clcnn_onnx_attr_string(n, name, v));
}

void ex_attr_ints(struct onnx_export *ex, struct onnx_node *n, const char *name, const int64_t *v, int count)
{
	if (n)
		ex_check(ex, clcnn_onnx_attr_ints(n, name, v, count));
}

void ex_init_f(struct onnx_export *ex, const char *name, const int64_t *dims, int ndim, const float *data)
{
	if (!ex->status)
		ex_check(ex, clcnn_onnx_add_init(ex->og, name, ONNX_FLOAT, dims, ndim, data));
}

void ex_scalar(struct onnx_export *ex, const char *name, float v)
{
	ex_init_f(ex, name, NULL, 0, &v);
}

void ex_init_bool(struct onnx_export *ex, const char *name, int v)
{
	unsigned char b = v != 0;
	if (!ex->status)
		ex_check(ex, clcnn_onnx_add_init(ex->og, name, ONNX_BOOL, NULL, 0, &b));
}

void ex_init_i64(struct onnx_export *ex, const char *name, const int64_t *dims, int ndim, const int64_t *data)
{
	if (!ex->status)
		ex_check(ex, clcnn_onnx_add_init(ex->og, name, ONNX_INT64, dims, ndim, data));
}

const char *ex_param(struct onnx_export *ex, int j, const int64_t *dims, int ndim, int flip180)
{
	if (ex->status)
		return NULL;
	const struct graph_node *n = &ex->g->nodes[ex->node];
	int pi = n->param0 + j;
	const struct graph_param *p = &ex->g->params[pi];
	/* a node sharing another's parameters (share=) reads the initializer its first user wrote */
	for (int k = 0; k < ex->og->ninits; k++)
		if (!strcmp(ex->og->inits[k].name, p->name))
			return p->name;
	int64_t own[4];
	if (ndim < 0) {
		ndim = p->spec.shape.ndim;
		for (int i = 0; i < ndim; i++)
			own[i] = p->spec.shape.d[i];
		dims = own;
	}
	float *data = malloc((p->count ? p->count : 1) * sizeof *data);
	if (!data) {
		ex_nomem(ex);
		return NULL;
	}
	int rc = clcnn_graph_param_read(ex->g, pi, data);
	if (rc) {
		free(data);
		ex->status = rc; /* the message is already in ctx */
		return NULL;
	}
	if (flip180 && p->spec.shape.ndim == 4) {
		size_t plane = (size_t)p->spec.shape.d[2] * p->spec.shape.d[3];
		for (size_t o = 0; o < p->count; o += plane)
			for (size_t a = 0, b = plane - 1; a < b; a++, b--) {
				float t = data[o + a];
				data[o + a] = data[o + b];
				data[o + b] = t;
			}
	}
	ex_init_f(ex, p->name, dims, ndim, data);
	free(data);
	return ex->status ? NULL : p->name;
}

static const struct clcnn_arg *arg_of(const struct clcnn_op *op, const char *key)
{
	for (const struct clcnn_arg *a = op->cls->args; a && a->key; a++)
		if (!strcmp(a->key, key))
			return a;
	return NULL;
}

int ex_arg_int(const struct clcnn_op *op, const char *key)
{
	const struct clcnn_arg *a = arg_of(op, key);
	return a ? *(const int *)((const char *)op->args + a->offset) : 0;
}

double ex_arg_float(const struct clcnn_op *op, const char *key)
{
	const struct clcnn_arg *a = arg_of(op, key);
	return a ? *(const double *)((const char *)op->args + a->offset) : 0;
}

const int *ex_arg_int2(const struct clcnn_op *op, const char *key)
{
	static const int zeros[2] = {0, 0};
	const struct clcnn_arg *a = arg_of(op, key);
	return a ? (const int *)((const char *)op->args + a->offset) : zeros;
}

/* ------------------------------------------------------------------ the driver */

/* Value v as a graph input or output: float, batch dimension "N". */
static int add_io(struct onnx_export *ex, int output, int v)
{
	const struct clcnn_shape *s = &ex->g->values[v].shape;
	int64_t dims[ONNX_MAX_DIMS];
	const char *params[ONNX_MAX_DIMS] = {NULL};
	for (int i = 0; i < s->ndim; i++)
		dims[i] = s->d[i];
	if (s->ndim > 0) {
		dims[0] = -1;
		params[0] = "N";
	}
	return clcnn_onnx_add_io(ex->og, output, ex_value(ex, v), ONNX_FLOAT, dims, s->ndim, params);
}

/* need[v] = 1 for every value the output depends on. */
static void mark_needed(const struct clcnn_graph *g, int v, char *need)
{
	if (need[v])
		return;
	need[v] = 1;
	if (v >= g->ninputs) {
		const struct graph_node *n = &g->nodes[v - g->ninputs];
		for (int j = 0; j < n->nin; j++)
			mark_needed(g, n->in_ref[j], need);
	}
}

static int export_graph(struct onnx_export *ex, const struct clcnn_onnx_export_options *opt)
{
	struct clcnn_graph *g = ex->g;
	int nv = graph_nvalues(g), out = g->ninputs + g->output;
	char *need = calloc((size_t)nv, 1);
	if (!need)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", ex->path);
	mark_needed(g, out, need);
	int rc = 0;
	for (int v = 0; v < nv && !rc; v++)
		if (need[v] && strlen(graph_value_name(g, v)) > EX_NAME_MAX - 64)
			rc = clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "%s: name '%.40s...' is longer than %d characters",
					ex->path, graph_value_name(g, v), EX_NAME_MAX - 64);
	int io = 0;
	for (int v = 0; v < g->ninputs && !rc && !io; v++)
		if (need[v])
			io = add_io(ex, 0, v);
	if (!rc && !io)
		io = add_io(ex, 1, out);
	if (io)
		rc = clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", ex->path);
	for (int k = 0; k < g->nnodes && !rc; k++) {
		int i = g->order[k];
		if (need[g->ninputs + i])
			rc = onnx_export_node(ex, i);
	}
	free(need);
	for (const char *const *kv = opt ? opt->meta : NULL; kv && kv[0] && kv[1] && !rc; kv += 2)
		if (clcnn_onnx_add_meta(ex->m, kv[0], kv[1]))
			rc = clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", ex->path);
	return rc;
}

int clcnn_graph_export_onnx(struct clcnn_graph *g, const char *path, const struct clcnn_onnx_export_options *opt)
{
	if (!g || !path)
		return clcnn_fail(g ? g->ctx : NULL, CLCNN_ERR_INVALID, "clcnn_graph_export_onnx: NULL graph or path");
	if (!g->batch)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "%s: the graph must be built (clcnn_graph_build) before export", path);
	int opset = opt && opt->opset ? opt->opset : DEFAULT_OPSET;
	if (opset < MIN_OPSET || opset > MAX_OPSET)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "%s: ONNX opset %d is not supported for export (%d to %d)",
				  path, opset, MIN_OPSET, MAX_OPSET);
	if (g->output < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "%s: the graph has no output node to export", path);
	struct onnx_export ex = {.g = g, .path = path, .opset = opset, .training = opt && opt->training};
	if (clcnn_onnx_new(opset, &ex.m))
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", path);
	ex.og = &ex.m->graph;
	int rc = export_graph(&ex, opt);
	if (!rc) {
		char err[512];
		rc = clcnn_onnx_write(path, ex.m, err, sizeof err);
		if (rc)
			clcnn_fail(g->ctx, rc, "%s", err);
	}
	clcnn_onnx_free(ex.m);
	return rc;
}
