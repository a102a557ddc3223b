/*
 * ONNX import: the value table, netfile text and weights the op mappings (onnx-import-ops.c) fill,
 * and the entry points: clcnn_onnx_import (netfile + safetensors files) and onnx_graph_load (the
 * ".onnx" branch of clcnn_graph_load: the graph built from the same text, with the initializers
 * kept as pending parameter values applied when the build creates the parameters).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcnn-private.h"
#include "clcnn/onnx.h"
#include "graph/graph-build.h"
#include "io/io.h"
#include "io/onnx-import.h"

int imp_fail(struct onnx_imp *im, const struct onnx_node *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n)
		return clcnn_io_fail(im->err, im->errlen, CLCNN_ERR_FORMAT, "%s: node '%s' (%s): %s", im->file,
				     n->name && *n->name ? n->name : "(unnamed)", n->op_type, msg);
	return clcnn_io_fail(im->err, im->errlen, CLCNN_ERR_FORMAT, "%s: %s", im->file, msg);
}

int imp_nomem(struct onnx_imp *im)
{
	im->nomem = 1;
	return clcnn_io_fail(im->err, im->errlen, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", im->file);
}

void onnx_import_sanitize(const char *name, char *buf, size_t len)
{
	size_t o = 0;
	int under = 1; /* drop leading '_' and collapse runs ("/conv1/Conv" -> "conv1_Conv") */
	for (const char *s = name ? name : ""; *s && o + 2 < len; s++) {
		unsigned char c = (unsigned char)*s;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (ok) {
			if (o == 0 && c >= '0' && c <= '9')
				buf[o++] = 'n', buf[o++] = '_';
			if (o + 1 < len)
				buf[o++] = (char)c;
			under = 0;
		} else if (!under) {
			buf[o++] = '_';
			under = 1;
		}
	}
	while (o > 0 && buf[o - 1] == '_')
		o--;
	if (!o && len > 1)
		buf[o++] = 'x';
	buf[len ? (o < len ? o : len - 1) : 0] = 0;
}

static int name_used(const struct onnx_imp *im, const char *s)
{
	for (int i = 0; i < im->nnames; i++)
		if (!strcmp(im->names[i], s))
			return 1;
	return 0;
}

/* Reserve a unique name built from base (appending _2, _3, ...); NULL when out of memory. */
static const char *unique_name(struct onnx_imp *im, const char *base)
{
	char buf[160];
	onnx_import_sanitize(base, buf, 140);
	char cand[180];
	snprintf(cand, sizeof cand, "%s", buf);
	for (int k = 2; name_used(im, cand); k++)
		snprintf(cand, sizeof cand, "%s_%d", buf, k);
	if (im->nnames == im->capnames) {
		int cap = im->capnames ? 2 * im->capnames : 64;
		char **p = realloc(im->names, (size_t)cap * sizeof *p);
		if (!p)
			return NULL;
		im->names = p;
		im->capnames = cap;
	}
	char *s = clcnn_strdup(cand);
	if (!s)
		return NULL;
	im->names[im->nnames++] = s;
	return s;
}

/*
 * PyTorch (1.13 on) names a node "/<scope>/.../<OpType>[_k]", the scopes being the submodules that
 * ran it: "/layer1/layer1.0/relu/Relu", "/layer2/layer2.0/downsample/downsample.0/Conv". Their
 * module path ("layer1.0.relu", "layer2.0.downsample.0": a scope "x.0" under "x" replaces it) is
 * the name of the torch.nn module, as a netfile names nodes. A functional op (x + y, torch.cat,
 * x.view) runs in its parent's scope: the op type is appended ("layer1.0.add"); at the top level
 * it is the op type alone ("add"). Returns 0 when the name has another form.
 */
static int scoped_name(const struct onnx_node *n, char *base, size_t len)
{
	static const char *const functional[] = {"Add", "Concat", "Reshape", "Squeeze", "Mul", "Div"};
	char path[160] = "";
	size_t plen = 0, last = 0; /* where the last component of path starts */
	const char *s = n->name + 1;
	for (;;) {
		const char *slash = strchr(s, '/');
		if (!slash)
			break; /* s is the op's own component */
		size_t cl = (size_t)(slash - s);
		if (!cl || plen + cl + 2 >= sizeof path)
			return 0;
		size_t lastlen = plen - last;
		if (plen && cl > lastlen && !strncmp(s, path + last, lastlen) && s[lastlen] == '.') {
			plen = last; /* "layer1" then "layer1.0": the child replaces it */
		} else if (plen) {
			path[plen++] = '.';
		}
		last = plen;
		memcpy(path + plen, s, cl);
		plen += cl;
		path[plen] = 0;
		s = slash + 1;
	}
	int func = 0;
	for (size_t i = 0; i < CLCNN_ARRAY_LEN(functional); i++)
		func |= !strcmp(n->op_type, functional[i]);
	char op[64];
	snprintf(op, sizeof op, "%s", n->op_type);
	for (char *c = op; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (!plen)
		snprintf(base, len, "%s", op);
	else
		snprintf(base, len, "%s%s%s", path, func ? "." : "", func ? op : "");
	return 1;
}

const char *imp_name(struct onnx_imp *im, const struct onnx_node *n, const char *weight)
{
	char base[160];
	size_t wl = weight ? strlen(weight) : 0;
	/* "layer1.0.conv1.weight" -> "layer1_0_conv1": the PyTorch module path, when the export kept it */
	if (wl > 7 && wl < sizeof base && !strcmp(weight + wl - 7, ".weight") && strncmp(weight, "onnx::", 6)) {
		memcpy(base, weight, wl - 7);
		base[wl - 7] = 0;
	} else if (n->name && n->name[0] == '/' && scoped_name(n, base, sizeof base)) {
		/* PyTorch's scope path, see scoped_name */
	} else if (n->name && *n->name) {
		snprintf(base, sizeof base, "%s", n->name);
	} else {
		snprintf(base, sizeof base, "%s", n->op_type);
		for (char *c = base; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	const char *s = unique_name(im, base);
	if (!s)
		imp_nomem(im);
	return s;
}

void imp_printf(struct onnx_imp *im, const char *fmt, ...)
{
	if (im->nomem)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = im->cap - im->len;
		int k = im->text ? vsnprintf(im->text + im->len, room, fmt, ap) : -2;
		va_end(ap);
		if (k >= 0 && (size_t)k < room) {
			im->len += (size_t)k;
			return;
		}
		if (k == -1) {
			im->nomem = 1;
			return;
		}
		size_t cap = im->cap ? 2 * im->cap : 4096;
		while (k > 0 && cap < im->len + (size_t)k + 1)
			cap *= 2;
		char *t = realloc(im->text, cap);
		if (!t) {
			im->nomem = 1;
			return;
		}
		im->text = t;
		im->cap = cap;
	}
}

int imp_consumers(const struct onnx_imp *im, const char *onnx)
{
	int c = 0;
	for (int i = 0; i < im->g->nnodes; i++)
		for (int j = 0; j < im->g->nodes[i].ninputs; j++)
			c += !strcmp(im->g->nodes[i].inputs[j], onnx);
	for (int i = 0; i < im->g->noutputs; i++)
		c += !strcmp(im->g->outputs[i].name, onnx);
	return c;
}

int imp_find(struct onnx_imp *im, const char *onnx)
{
	for (int i = im->nvals - 1; i >= 0; i--)
		if (!strcmp(im->vals[i].onnx, onnx))
			return i;
	return -1;
}

int imp_add(struct onnx_imp *im, const char *onnx, int kind, int from)
{
	if (im->nvals == im->capvals) {
		int cap = im->capvals ? 2 * im->capvals : 64;
		struct onnx_imp_val *p = realloc(im->vals, (size_t)cap * sizeof *p);
		if (!p)
			return imp_nomem(im), -1;
		im->vals = p;
		im->capvals = cap;
	}
	struct onnx_imp_val *v = &im->vals[im->nvals];
	memset(v, 0, sizeof *v);
	v->onnx = clcnn_strdup(onnx);
	if (!v->onnx)
		return imp_nomem(im), -1;
	v->kind = kind;
	v->from = from;
	v->src = -1;
	return im->nvals++;
}

int imp_set_runtime(struct onnx_imp *im, int v, const char *name, const int64_t *dims, int ndim)
{
	struct onnx_imp_val *x = &im->vals[v];
	x->kind = IMP_RUNTIME;
	x->node = clcnn_strdup(name);
	if (!x->node)
		return imp_nomem(im);
	x->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		x->dims[d] = dims[d];
	return 0;
}

int imp_input(struct onnx_imp *im, const struct onnx_node *n, int k, int *v)
{
	if (k >= n->ninputs || !*n->inputs[k])
		return imp_fail(im, n, "input %d is missing", k + 1);
	*v = imp_find(im, n->inputs[k]);
	if (*v < 0)
		return imp_fail(im, n,
				"input '%s' is neither a graph input, an initializer nor an earlier node's output",
				n->inputs[k]);
	if (im->vals[*v].kind == IMP_UNUSED)
		return imp_fail(im, n, "reads '%s', an output clcnn does not compute", n->inputs[k]);
	return 0;
}

int imp_const(struct onnx_imp *im, const struct onnx_node *n, int k, int *v)
{
	int rc = imp_input(im, n, k, v);
	if (!rc && im->vals[*v].kind != IMP_CONST)
		rc = imp_fail(im, n, "input '%s' must be a constant (an initializer or computed from static shapes)",
			      n->inputs[k]);
	return rc;
}

int imp_runtime(struct onnx_imp *im, const struct onnx_node *n, int k, int *v)
{
	int rc = imp_input(im, n, k, v);
	if (rc)
		return rc;
	struct onnx_imp_val *x = &im->vals[*v];
	if (x->kind == IMP_MATMUL) {
		/* a MatMul not followed by a bias Add: a linear layer without bias */
		const struct onnx_node *mm = &im->g->nodes[x->from];
		const char *name = imp_name(im, mm, NULL);
		if (!name)
			return CLCNN_ERR_NO_MEMORY;
		int src = x->src;
		imp_begin(im, name, "linear", &src, 1);
		imp_printf(im, ", out_features=%lld, bias=false", (long long)x->wout);
		imp_end(im, mm);
		int64_t wd[2] = {x->wout, x->win};
		rc = imp_weight(im, name, "weight", x->w, wd, 2, 0);
		int64_t od[2] = {-1, x->wout};
		x = &im->vals[*v];
		free(x->w);
		x->w = NULL;
		return rc ? rc : imp_set_runtime(im, *v, name, od, 2);
	}
	if (x->kind == IMP_RUNTIME)
		return 0;
	if (x->kind == IMP_CONST)
		return imp_fail(im, n, "input '%s' is a constant; clcnn layers take computed tensors here",
				n->inputs[k]);
	if (x->kind == IMP_PAD)
		return imp_fail(im, n,
				"reads the Pad '%s': only a constant-zero Pad directly before Conv or AveragePool is "
				"supported (folded into their padding)",
				n->inputs[k]);
	return imp_fail(im, n,
			"reads '%s', part of an arithmetic pattern clcnn does not know (only GELU's "
			"x*0.5*(1+erf(x/sqrt(2))) is recognised)",
			n->inputs[k]);
}

void imp_begin(struct onnx_imp *im, const char *name, const char *op, const int *ins, int nins)
{
	imp_printf(im, "%s = %s(", name, op);
	for (int i = 0; i < nins; i++)
		imp_printf(im, "%s%s", i ? ", " : "", im->vals[ins[i]].node);
}

void imp_end(struct onnx_imp *im, const struct onnx_node *n)
{
	/* the source node as a comment: printable ASCII only, so that the line stays one line */
	char src[160];
	size_t o = 0;
	for (const char *s = n->name ? n->name : ""; *s && o + 1 < sizeof src; s++)
		src[o++] = (*s >= 32 && *s < 127) ? *s : '?';
	src[o] = 0;
	imp_printf(im, ")  # ONNX %s%s%s\n", n->op_type, o ? " " : "", src);
}

int imp_weight(struct onnx_imp *im, const char *node, const char *what, const float *data, const int64_t *dims,
	       int ndim, int int64)
{
	if (im->nw == im->capw) {
		int cap = im->capw ? 2 * im->capw : 32;
		struct onnx_imp_weight *p = realloc(im->w, (size_t)cap * sizeof *p);
		if (!p)
			return imp_nomem(im);
		im->w = p;
		im->capw = cap;
	}
	struct onnx_imp_weight *w = &im->w[im->nw];
	memset(w, 0, sizeof *w);
	w->count = 1;
	w->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		w->dims[d] = dims[d], w->count *= (size_t)dims[d];
	size_t len = strlen(node) + strlen(what) + 2;
	w->name = malloc(len);
	w->data = malloc((w->count ? w->count : 1) * sizeof(float));
	if (!w->name || !w->data) {
		free(w->name);
		free(w->data);
		return imp_nomem(im);
	}
	snprintf(w->name, len, "%s.%s", node, what);
	w->int64 = int64;
	if (data)
		memcpy(w->data, data, w->count * sizeof(float));
	else
		memset(w->data, 0, w->count * sizeof(float));
	im->nw++;
	return 0;
}

float imp_attr_f(const struct onnx_node *n, const char *name, float def)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	return a && a->type == ONNX_ATTR_FLOAT ? a->f : a && a->type == ONNX_ATTR_INT ? (float)a->i : def;
}

const char *imp_attr_s(const struct onnx_node *n, const char *name)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	return a && a->type == ONNX_ATTR_STRING ? (a->s ? a->s : "") : NULL;
}

int64_t imp_attr_i(const struct onnx_node *n, const char *name, int64_t def)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	return a && a->type == ONNX_ATTR_INT ? a->i : def;
}

int imp_attr_ints(const struct onnx_node *n, const char *name, int64_t *v, int max)
{
	const struct onnx_attr *a = clcnn_onnx_attr(n, name);
	if (!a || a->type != ONNX_ATTR_INTS)
		return 0;
	int k = a->nints < max ? a->nints : max;
	for (int i = 0; i < k; i++)
		v[i] = a->ints[i];
	return a->nints;
}

double imp_cval(const struct onnx_imp_val *v, size_t k)
{
	return v->is_int ? (double)v->i[k] : (double)v->f[k];
}

/* An initializer as a constant value (float or int64 kept; other types converted or refused). */
int imp_add_tensor(struct onnx_imp *im, const char *onnx, const struct onnx_tensor *t, int from)
{
	int v = imp_add(im, onnx, IMP_CONST, from);
	if (v < 0)
		return CLCNN_ERR_NO_MEMORY;
	struct onnx_imp_val *x = &im->vals[v];
	x->ndim = t->ndim;
	for (int d = 0; d < t->ndim; d++)
		x->dims[d] = t->dims[d];
	x->count = t->count;
	size_t n = t->count ? t->count : 1;
	switch (t->dtype) {
	case ONNX_FLOAT:
	case ONNX_DOUBLE:
		x->f = malloc(n * sizeof *x->f);
		if (!x->f)
			return imp_nomem(im);
		for (size_t i = 0; i < t->count; i++)
			x->f[i] = t->dtype == ONNX_FLOAT ? ((const float *)t->data)[i]
							 : imp_to_float(((const double *)t->data)[i]);
		return 0;
	case ONNX_INT64:
	case ONNX_INT32:
	case ONNX_INT8:
	case ONNX_UINT8:
	case ONNX_BOOL:
		x->is_int = 1;
		x->i = malloc(n * sizeof *x->i);
		if (!x->i)
			return imp_nomem(im);
		for (size_t i = 0; i < t->count; i++)
			x->i[i] = t->dtype == ONNX_INT64   ? ((const int64_t *)t->data)[i]
				  : t->dtype == ONNX_INT32 ? ((const int32_t *)t->data)[i]
				  : t->dtype == ONNX_INT8  ? ((const int8_t *)t->data)[i]
							   : ((const uint8_t *)t->data)[i];
		return 0;
	default:
		return imp_fail(im, NULL, "tensor '%s': data type %d is not supported (float, double and integers are)",
				onnx, t->dtype);
	}
}

static int add_graph_input(struct onnx_imp *im, const struct onnx_value_info *vi)
{
	if (vi->ndim < 1 || vi->ndim > 4)
		return imp_fail(im, NULL,
				"graph input '%s' has %s%d dims: clcnn takes 1 to 4 (the batch, then up to 3)",
				vi->name, vi->ndim < 0 ? "no shape, " : "", vi->ndim < 0 ? 0 : vi->ndim);
	if (vi->elem_type && vi->elem_type != ONNX_FLOAT)
		return imp_fail(im, NULL, "graph input '%s' has data type %d: clcnn inputs are float", vi->name,
				vi->elem_type);
	for (int d = 1; d < vi->ndim; d++)
		if (vi->dims[d] <= 0)
			return imp_fail(im, NULL,
					"graph input '%s': dim %d is %s%s%s: clcnn needs static shapes except the "
					"batch (dim 0)",
					vi->name, d, vi->dim_params[d] ? "symbolic ('" : "unknown",
					vi->dim_params[d] ? vi->dim_params[d] : "", vi->dim_params[d] ? "')" : "");
	int64_t per = 1;
	for (int d = 1; d < vi->ndim; d++)
		if (vi->dims[d] > INT32_MAX || (per *= vi->dims[d]) > INT32_MAX)
			return imp_fail(im, NULL, "graph input '%s': more than %d values per sample", vi->name,
					INT32_MAX);
	int v = imp_add(im, vi->name, IMP_RUNTIME, -1);
	if (v < 0)
		return CLCNN_ERR_NO_MEMORY;
	const char *name = unique_name(im, vi->name);
	if (!name)
		return imp_nomem(im);
	int64_t dims[ONNX_MAX_DIMS];
	dims[0] = -1;
	for (int d = 1; d < vi->ndim; d++)
		dims[d] = vi->dims[d];
	if (im->export_batch < 0 && vi->dims[0] > 0)
		im->export_batch = vi->dims[0];
	imp_printf(im, "%s = input(", name);
	if (vi->ndim > 1) {
		imp_printf(im, "shape=(");
		for (int d = 1; d < vi->ndim; d++)
			imp_printf(im, "%s%lld", d > 1 ? "," : "", (long long)vi->dims[d]);
		imp_printf(im, ")");
	}
	imp_printf(im, ")  # ONNX graph input %s\n", vi->name);
	return imp_set_runtime(im, v, name, dims, vi->ndim);
}

static void imp_release(struct onnx_imp *im)
{
	for (int i = 0; i < im->nvals; i++) {
		free(im->vals[i].onnx);
		free(im->vals[i].i);
		free(im->vals[i].f);
		free(im->vals[i].node);
		free(im->vals[i].w);
	}
	free(im->vals);
	for (int i = 0; i < im->nnames; i++)
		free(im->names[i]);
	free(im->names);
	free(im->text);
	for (int i = 0; i < im->nw; i++) {
		free(im->w[i].name);
		free(im->w[i].data);
	}
	free(im->w);
	for (int i = 0; im->outs && i < im->g->noutputs; i++)
		free(im->outs[i]);
	free(im->outs);
}

void onnx_import_result_free(struct onnx_import_result *r)
{
	if (!r)
		return;
	free(r->text);
	for (int i = 0; i < r->nw; i++) {
		free(r->w[i].name);
		free(r->w[i].data);
	}
	free(r->w);
	for (int i = 0; r->outputs && i < r->noutputs; i++)
		free(r->outputs[i]);
	free(r->outputs);
	for (int i = 0; i < 2 * r->nmeta; i++)
		free(r->meta[i]);
	free(r->meta);
	memset(r, 0, sizeof *r);
}

static int translate(struct onnx_imp *im)
{
	const struct onnx_graph *g = im->g;
	int64_t op = im->opset;
	if (op && (op < 7 || op > 17))
		return imp_fail(im, NULL, "opset %lld: clcnn imports opsets 7 to 17", (long long)op);
	imp_printf(im, "# imported from %s by clcnn (ONNX opset %lld, producer %s %s)\n", im->file, (long long)op,
		   im->m->producer_name ? im->m->producer_name : "?",
		   im->m->producer_version ? im->m->producer_version : "");
	for (int i = 0; i < g->ninits; i++) {
		int rc = imp_add_tensor(im, g->inits[i].name, &g->inits[i], -1);
		if (rc)
			return rc;
	}
	for (int i = 0; i < g->ninputs; i++) {
		if (clcnn_onnx_init(g, g->inputs[i].name))
			continue; /* IR < 4 lists initializers as inputs too */
		int rc = add_graph_input(im, &g->inputs[i]);
		if (rc)
			return rc;
	}
	for (int k = 0, used; k < g->nnodes; k += used) {
		int rc = imp_match_pattern(im, k, &used);
		if (!rc && !used)
			rc = imp_map_node(im, k), used = 1;
		if (rc)
			return rc;
		if (im->nomem)
			return imp_nomem(im);
	}
	/* the clcnn node of each graph output (NULL: not computed), kept for the caller */
	im->outs = calloc((size_t)(g->noutputs ? g->noutputs : 1), sizeof *im->outs);
	if (!im->outs)
		return imp_nomem(im);
	int ins[8], nout = 0;
	for (int i = 0; i < g->noutputs; i++) {
		int v = imp_find(im, g->outputs[i].name);
		if (v < 0)
			return imp_fail(im, NULL, "graph output '%s' is computed by no node", g->outputs[i].name);
		if (im->vals[v].kind == IMP_UNUSED)
			continue; /* e.g. BatchNormalization's running statistics of a training-mode export */
		struct onnx_node fake = {.name = g->outputs[i].name, .op_type = "graph output"};
		char *in[1] = {g->outputs[i].name};
		fake.inputs = in;
		fake.ninputs = 1;
		int rc = imp_runtime(im, &fake, 0, &v);
		if (rc)
			return rc;
		for (int j = 0; j < im->nvals; j++)
			if (im->vals[j].from < 0 && im->vals[j].kind == IMP_RUNTIME &&
			    !strcmp(im->vals[j].node, im->vals[v].node))
				return imp_fail(im, NULL,
						"graph output '%s' is the graph input '%s': nothing to compute",
						g->outputs[i].name, im->vals[j].onnx);
		if (!(im->outs[i] = clcnn_strdup(im->vals[v].node)))
			return imp_nomem(im);
		int dup = 0;
		for (int j = 0; j < nout; j++)
			dup |= !strcmp(im->vals[ins[j]].node, im->vals[v].node);
		if (dup)
			continue;
		if (nout == 8)
			return imp_fail(im, NULL, "more than 8 graph outputs");
		ins[nout++] = v;
	}
	if (!nout)
		return imp_fail(im, NULL, "the graph has no output clcnn can compute");
	if (nout == 1) {
		imp_printf(im, "@output %s\n", im->vals[ins[0]].node);
		return im->nomem ? imp_nomem(im) : 0;
	}
	/*
	 * A clcnn graph has one output and every node must reach it: several ONNX outputs are each
	 * computed by their own node and also concatenated (flattened) into one output node.
	 */
	imp_printf(im, "# the %d ONNX outputs, flattened and concatenated: a clcnn graph has one output\n", nout);
	for (int j = 0; j < nout; j++) {
		if (im->vals[ins[j]].ndim == 2)
			continue;
		char base[200];
		snprintf(base, sizeof base, "%s_flat", im->vals[ins[j]].node);
		const char *name = unique_name(im, base);
		if (!name)
			return imp_nomem(im);
		imp_printf(im, "%s = flatten(%s)\n", name, im->vals[ins[j]].node);
		int v = imp_add(im, "", IMP_RUNTIME, -2);
		int64_t dims[2] = {-1, 0};
		if (v < 0 || imp_set_runtime(im, v, name, dims, 2))
			return imp_nomem(im);
		ins[j] = v;
	}
	const char *name = unique_name(im, "onnx_outputs");
	if (!name)
		return imp_nomem(im);
	imp_begin(im, name, "concat", ins, nout);
	imp_printf(im, ", dim=1)\n@output %s\n", name);
	return im->nomem ? imp_nomem(im) : 0;
}

int onnx_import_model(const struct onnx_model *m, const char *file, struct onnx_import_result *out, char *err,
		      size_t errlen)
{
	memset(out, 0, sizeof *out);
	struct onnx_imp im = {.err = err, .errlen = errlen, .file = file, .m = m, .g = &m->graph, .export_batch = -1};
	im.opset = clcnn_onnx_opset(m);
	int rc = translate(&im);
	if (!rc) {
		out->text = im.text;
		out->w = im.w;
		out->nw = im.nw;
		/* what a clcnn export keeps in metadata_props (normalisation, class names) goes to the weights */
		for (int i = 0; i < m->nmeta && !rc; i++) {
			if (!m->meta_keys[i] || strncmp(m->meta_keys[i], "clcnn.", 6) || !m->meta_values[i])
				continue;
			char **p = realloc(out->meta, (size_t)(2 * out->nmeta + 2) * sizeof *p);
			if (!p) {
				rc = imp_nomem(&im);
				break;
			}
			out->meta = p;
			p[2 * out->nmeta] = clcnn_strdup(m->meta_keys[i]);
			p[2 * out->nmeta + 1] = clcnn_strdup(m->meta_values[i]);
			out->nmeta++;
			if (!p[2 * out->nmeta - 2] || !p[2 * out->nmeta - 1])
				rc = imp_nomem(&im);
		}
		out->outputs = im.outs;
		out->noutputs = m->graph.noutputs;
		im.outs = NULL;
		im.text = NULL;
		im.w = NULL;
		im.nw = 0;
		if (rc)
			onnx_import_result_free(out);
	}
	imp_release(&im);
	return rc;
}

/* The BatchNorm nodes' counters: PyTorch's state dict has them, ONNX does not. */
static int is_bn_mean(const struct onnx_imp_weight *w)
{
	size_t l = strlen(w->name);
	return l > 13 && !strcmp(w->name + l - 13, ".running_mean");
}

int onnx_import_write_weights(const struct onnx_import_result *r, const char *path, char *err, size_t errlen)
{
	struct clcnn_st_writer *w = NULL;
	if (clcnn_st_writer_new(&w))
		return clcnn_io_fail(err, errlen, CLCNN_ERR_NO_MEMORY, "%s: out of host memory", path);
	/* the writer keeps pointers to the data until clcnn_st_write: the zero must outlive the loop */
	static const int64_t zero = 0;
	int rc = 0;
	for (int i = 0; i < r->nw && !rc; i++) {
		rc = clcnn_st_writer_add(w, r->w[i].name, "F32", r->w[i].ndim, r->w[i].dims, r->w[i].data, err, errlen);
		if (!rc && is_bn_mean(&r->w[i])) {
			char name[256];
			snprintf(name, sizeof name, "%.*s.num_batches_tracked", (int)(strlen(r->w[i].name) - 13),
				 r->w[i].name);
			rc = clcnn_st_writer_add(w, name, "I64", 0, NULL, &zero, err, errlen);
		}
	}
	if (!rc)
		rc = clcnn_st_writer_meta(w, "clcnn.source", "onnx", err, errlen);
	for (int i = 0; i < r->nmeta && !rc; i++)
		if (strcmp(r->meta[2 * i], "clcnn.source"))
			rc = clcnn_st_writer_meta(w, r->meta[2 * i], r->meta[2 * i + 1], err, errlen);
	if (!rc)
		rc = clcnn_st_write(w, path, err, errlen);
	clcnn_st_writer_free(w);
	return rc;
}

static int read_and_translate(struct clcnn_context *ctx, const char *path, struct onnx_import_result *r)
{
	char err[1024];
	struct onnx_model *m = NULL;
	int rc = clcnn_onnx_read(path, &m, err, sizeof err);
	if (!rc)
		rc = onnx_import_model(m, path, r, err, sizeof err);
	clcnn_onnx_free(m);
	return rc ? clcnn_fail(ctx, rc, "%s", err) : 0;
}

int clcnn_onnx_import(struct clcnn_context *ctx, const char *onnx_path, const char *netfile_out,
		      const char *weights_out)
{
	struct onnx_import_result r;
	int rc = read_and_translate(ctx, onnx_path, &r);
	if (rc)
		return rc;
	/* parse what we wrote before writing anything: a file clcnn cannot load is never left behind */
	struct clcnn_graph *g = NULL;
	rc = clcnn_graph_parse(ctx, r.text, onnx_path, &g);
	clcnn_graph_free(g);
	char err[1024];
	if (!rc && netfile_out) {
		FILE *f = fopen(netfile_out, "wb");
		if (!f) {
			rc = clcnn_fail(ctx, CLCNN_ERR_IO, "%s: cannot create: %s", netfile_out, strerror(errno));
		} else {
			size_t len = strlen(r.text);
			int bad = fwrite(r.text, 1, len, f) != len;
			bad |= fclose(f) != 0;
			if (bad)
				rc = clcnn_fail(ctx, CLCNN_ERR_IO, "%s: write error", netfile_out);
		}
	}
	if (!rc && weights_out && (rc = onnx_import_write_weights(&r, weights_out, err, sizeof err)))
		rc = clcnn_fail(ctx, rc, "%s", err);
	onnx_import_result_free(&r);
	return rc;
}

int onnx_graph_load(struct clcnn_context *ctx, const char *path, struct clcnn_graph **out)
{
	*out = NULL;
	struct onnx_import_result r;
	int rc = read_and_translate(ctx, path, &r);
	if (rc)
		return rc;
	rc = clcnn_graph_parse(ctx, r.text, path, out);
	for (int i = 0; i < r.nw && !rc; i++)
		rc = graph_set_pending_param(*out, r.w[i].name, r.w[i].data, r.w[i].count);
	if (rc) {
		clcnn_graph_free(*out);
		*out = NULL;
	}
	onnx_import_result_free(&r);
	return rc;
}
