/*
 * Receptive fields for clcnn probe: where each node's output positions sit on the image input (jump,
 * first input position and size per axis), composed along the graph from the ops' own arguments
 * (read through each class's key table, so the names are the netfile's: kernel_size, stride,
 * padding, dilation, filt_size). Ops that keep positions (activations, normalisation, add, channel
 * concat) pass the geometry on; ops not modelled here make their node, and what follows, unknown.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph-private.h"
#include "probe.h"

/* The value of key in an op's argument struct, or NULL when the class has no such key of that type. */
static const void *arg_of(const struct clcnn_op *op, const char *key, enum clcnn_arg_type type)
{
	for (const struct clcnn_arg *a = op->cls->args; a && a->key; a++)
		if (!strcmp(a->key, key) && a->type == type)
			return (const char *)op->args + a->offset;
	return NULL;
}

/* The pair of an INT2 key, or def for both axes when the class has none. */
static void int2_or(const struct clcnn_op *op, const char *key, int def, int v[2])
{
	const int *p = arg_of(op, key, CLCNN_ARG_INT2);
	v[0] = p ? p[0] : def;
	v[1] = p ? p[1] : def;
}

/* A window of k taps dilated by dil, at stride s, starting pad positions before the input's first. */
static void window(struct probe_geom *g, const int k[2], const int s[2], const int pad[2], const int dil[2])
{
	for (int ax = 0; ax < 2; ax++) {
		g->start[ax] -= pad[ax] * g->jump[ax];
		g->size[ax] += dil[ax] * (k[ax] - 1) * g->jump[ax];
		g->jump[ax] *= s[ax];
	}
}

/* The ops that keep every position where it is. */
static int pointwise(const struct clcnn_op *op)
{
	static const char *const names[] = {"identity", "sigmoid",  "tanh",        "relu",    "leaky_relu",
					    "prelu",    "softplus", "logsigmoid",  "elu",     "gelu",
					    "silu",     "hardtanh", "batchnorm2d", "dropout", "gaussian_noise",
					    "add",      NULL};
	for (int i = 0; names[i]; i++)
		if (!strcmp(op->cls->name, names[i]))
			return 1;
	const int *dim = arg_of(op, "dim", CLCNN_ARG_INT);
	int is_dim_op = !strcmp(op->cls->name, "concat") || !strcmp(op->cls->name, "softmax") ||
			!strcmp(op->cls->name, "logsoftmax") || !strcmp(op->cls->name, "softmin");
	/* along the channels of a 4-D tensor (dim 1, or -3 from the end) */
	return is_dim_op && dim && (*dim == 1 || *dim == -3);
}

/* The geometry of one node from its inputs'; known 0 when it cannot be had. */
static struct probe_geom node_geom(const struct graph_node *n, const struct probe_geom *in)
{
	struct probe_geom g = {0};
	const struct clcnn_op *op = n->op;
	if (!op || op->out.ndim != 4)
		return g;
	const char *name = op->cls->name;
	if (!strcmp(name, "global_avgpool2d") || !strcmp(name, "global_maxpool2d")) {
		g.known = in[0].known || in[0].global;
		g.global = g.known;
		return g;
	}
	/* the first input carries the image (ops with several inputs: all must agree) */
	g = in[0];
	if (!g.known || g.global)
		return (struct probe_geom){0};
	if (pointwise(op)) {
		for (int i = 1; i < n->nin; i++) {
			if (!in[i].known || in[i].global || in[i].jump[0] != g.jump[0] || in[i].jump[1] != g.jump[1])
				return (struct probe_geom){0};
			for (int ax = 0; ax < 2; ax++) {
				int end = g.start[ax] + g.size[ax], iend = in[i].start[ax] + in[i].size[ax];
				if (in[i].start[ax] < g.start[ax])
					g.start[ax] = in[i].start[ax];
				g.size[ax] = (iend > end ? iend : end) - g.start[ax];
			}
		}
		return g;
	}
	int k[2], s[2], pad[2], dil[2], one[2] = {1, 1}, zero[2] = {0, 0};
	if (!strcmp(name, "conv2d")) {
		const struct clcnn_pad *p = arg_of(op, "padding", CLCNN_ARG_PAD);
		int2_or(op, "kernel_size", 1, k);
		int2_or(op, "stride", 1, s);
		int2_or(op, "dilation", 1, dil);
		if (!p)
			return (struct probe_geom){0};
		/* 'same' as conv.c resolves it: the odd one of dilation * (k - 1) goes after */
		pad[0] = p->same ? dil[0] * (k[0] - 1) / 2 : p->t;
		pad[1] = p->same ? dil[1] * (k[1] - 1) / 2 : p->l;
		window(&g, k, s, pad, dil);
		return g;
	}
	if (!strcmp(name, "maxpool2d") || !strcmp(name, "avgpool2d")) {
		int2_or(op, "kernel_size", 1, k);
		int2_or(op, "stride", 0, s);
		int2_or(op, "padding", 0, pad);
		int2_or(op, "dilation", 1, dil);
		for (int ax = 0; ax < 2; ax++)
			if (!s[ax])
				s[ax] = k[ax];
		window(&g, k, s, pad, dil);
		return g;
	}
	if (!strcmp(name, "blurpool2d") || !strcmp(name, "maxblurpool2d")) {
		const int *fs = arg_of(op, "filt_size", CLCNN_ARG_INT), *st = arg_of(op, "stride", CLCNN_ARG_INT);
		if (!fs || !st)
			return (struct probe_geom){0};
		if (!strcmp(name, "maxblurpool2d")) {
			int2_or(op, "kernel_size", 1, k);
			window(&g, k, one, zero, one); /* the max at stride 1, no padding */
		}
		/* the blur: filt_size taps, (filt_size - 1) / 2 padded before */
		int f[2] = {*fs, *fs}, bs[2] = {*st, *st}, bp[2] = {(*fs - 1) / 2, (*fs - 1) / 2};
		window(&g, f, bs, bp, one);
		return g;
	}
	return (struct probe_geom){0};
}

void probe_geometry(const struct clcnn_graph *g, const char *input, struct probe_geom *out)
{
	int nv = graph_nvalues(g);
	/* per value index: inputs first, then nodes by index (not schedule order) */
	struct probe_geom *val = calloc((size_t)nv, sizeof *val);
	for (int i = 0; i < g->nnodes; i++)
		memset(&out[i], 0, sizeof out[i]);
	if (!val)
		return;
	for (int i = 0; i < g->ninputs; i++)
		if (!strcmp(g->inputs[i].name, input) && g->inputs[i].shape.ndim == 3)
			val[i] = (struct probe_geom){.known = 1, .jump = {1, 1}, .start = {0, 0}, .size = {1, 1}};
	for (int i = 0; i < g->nnodes; i++) {
		int ni = g->order ? g->order[i] : i;
		const struct graph_node *n = &g->nodes[ni];
		struct probe_geom in[CLCNN_OP_MAX_IN] = {{0}};
		for (int k = 0; k < n->nin && k < CLCNN_OP_MAX_IN; k++)
			if (n->in_ref[k] >= 0 && n->in_ref[k] < nv)
				in[k] = val[n->in_ref[k]];
		val[g->ninputs + ni] = n->nin > 0 ? node_geom(n, in) : (struct probe_geom){0};
		out[i] = val[g->ninputs + ni];
	}
	free(val);
}
