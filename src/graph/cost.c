/*
 * Per-node cost of a graph with inferred shapes: parameters, forward FLOPs (each op class's flops())
 * and the receptive field on the 4-D graph inputs, propagated along the schedule with each op's
 * window() as in Araujo et al. 2019: r_out = r_in + (k - 1) d j_in, j_out = j_in s. Needs no device.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/cost.h"

/* The field of one value; sizes saturate at CAP so that any chain of strides stays representable. */
struct field {
	int known, whole[2];
	long long size[2], jump[2], extent[2];
};

#define CAP (1LL << 60)

static long long capped(double v)
{
	return v >= (double)CAP ? CAP : (long long)v;
}

static long long max_ll(long long a, long long b)
{
	return a > b ? a : b;
}

/* The field of node n's output from its inputs' fields and its op's window. */
static struct field node_field(const struct graph_node *n, const struct field *f)
{
	struct field r = {0};
	for (int j = 0; j < n->nin; j++) {
		const struct field *x = &f[n->in_ref[j]];
		if (!x->known)
			continue;
		if (!r.known) {
			r = *x;
			continue;
		}
		/* merging branches: the widest field (a residual add sees what its longest branch sees) */
		for (int a = 0; a < 2; a++) {
			r.whole[a] |= x->whole[a];
			r.size[a] = max_ll(r.size[a], x->size[a]);
			r.jump[a] = max_ll(r.jump[a], x->jump[a]);
			r.extent[a] = max_ll(r.extent[a], x->extent[a]);
		}
	}
	if (!r.known)
		return r;
	struct clcnn_op_window w = {{1, 1}, {1, 1}, {1, 1}};
	if (n->op->cls->window)
		n->op->cls->window(n->op, &w);
	if (n->op->out.ndim == 0) /* a reduced loss: one number from everything */
		w.kernel[0] = w.kernel[1] = 0;
	for (int a = 0; a < 2; a++) {
		if (r.whole[a])
			continue;
		if (w.kernel[a] == 0) {
			r.whole[a] = 1;
			continue;
		}
		r.size[a] = capped((double)r.size[a] + (double)(w.kernel[a] - 1) * w.dilation[a] * (double)r.jump[a]);
		r.jump[a] = capped((double)r.jump[a] * w.stride[a]);
	}
	return r;
}

static void put_field(struct clcnn_node_cost *c, const struct field *f)
{
	c->rf_known = f->known;
	for (int a = 0; a < 2; a++) {
		c->rf_whole[a] = f->known && f->whole[a];
		c->rf_size[a] = !f->known ? 0 : f->whole[a] ? f->extent[a] : f->size[a];
		c->rf_jump[a] = !f->known || f->whole[a] ? 0 : f->jump[a];
	}
}

static void put_shape(struct clcnn_node_cost *c, const struct clcnn_shape *s)
{
	c->ndim = s->ndim;
	for (int d = 0; d < CLCNN_MAX_DIMS; d++)
		c->dims[d] = d < s->ndim ? s->d[d] : 0;
}

static int inferred(const struct clcnn_graph *g)
{
	if (!g->order || !g->values)
		return 0;
	for (int i = 0; i < g->nnodes; i++)
		if (!g->nodes[i].op)
			return 0;
	return 1;
}

int graph_cost_nodes(const struct clcnn_graph *g, struct clcnn_node_cost *out, struct clcnn_node_cost *in)
{
	if (!inferred(g))
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "graph cost: shapes are not inferred yet (call clcnn_graph_build first)");
	struct field *f = calloc((size_t)graph_nvalues(g), sizeof *f);
	if (!f)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	for (int v = 0; v < g->ninputs; v++) {
		const struct clcnn_shape *s = &g->values[v].shape;
		if (s->ndim == 4)
			f[v] = (struct field){1, {0, 0}, {1, 1}, {1, 1}, {s->d[2], s->d[3]}};
		if (in) {
			memset(&in[v], 0, sizeof in[v]);
			in[v].name = g->inputs[v].name;
			in[v].op = "input";
			put_shape(&in[v], s);
			put_field(&in[v], &f[v]);
		}
	}
	for (int k = 0; k < g->nnodes; k++) {
		int i = g->order[k];
		const struct graph_node *n = &g->nodes[i];
		const struct clcnn_op *op = n->op;
		struct clcnn_node_cost *c = &out[k];
		memset(c, 0, sizeof *c);
		f[g->ninputs + i] = node_field(n, f);
		c->name = n->name;
		c->op = n->type;
		c->shares = n->share >= 0 ? g->nodes[n->share].name : NULL;
		put_shape(c, &op->out);
		for (int j = 0; j < op->nparam; j++) {
			size_t count = clcnn_shape_count(&op->param[j].shape);
			c->params += count;
			c->trainable += op->param[j].kind == CLCNN_PARAM_WEIGHT ? count : 0;
		}
		c->flops = op->cls->flops ? op->cls->flops(op) : 0;
		put_field(c, &f[g->ninputs + i]);
	}
	free(f);
	return 0;
}

/* A node that shares another's parameters (share=OWNER) leaves them to the owner's count in totals. */
static int uses_shared_params(const struct clcnn_graph *g, int node)
{
	return g->nodes[node].share >= 0;
}

struct clcnn_graph_cost graph_cost_total(const struct clcnn_graph *g, const struct clcnn_node_cost *out)
{
	struct clcnn_graph_cost t = {0, 0, 0};
	for (int k = 0; k < g->nnodes; k++) {
		t.flops += out[k].flops;
		if (uses_shared_params(g, g->order[k]))
			continue;
		t.params += out[k].params;
		t.trainable += out[k].trainable;
	}
	return t;
}

int clcnn_graph_node_cost(const struct clcnn_graph *g, int i, struct clcnn_node_cost *cost)
{
	if (i < 0 || i >= g->nnodes)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node index %d out of range (0..%d)", i, g->nnodes - 1);
	struct clcnn_node_cost *all = calloc((size_t)g->nnodes, sizeof *all);
	if (!all)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = graph_cost_nodes(g, all, NULL);
	if (!rc)
		*cost = all[i];
	free(all);
	return rc;
}

int clcnn_graph_total_cost(const struct clcnn_graph *g, struct clcnn_graph_cost *total)
{
	struct clcnn_node_cost *all = calloc(g->nnodes ? (size_t)g->nnodes : 1, sizeof *all);
	if (!all)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = graph_cost_nodes(g, all, NULL);
	if (!rc)
		*total = graph_cost_total(g, all);
	free(all);
	return rc;
}
