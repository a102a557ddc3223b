/*
 * Memory plan of a built graph.
 *
 * Activations (graph inputs and every node output) each get their own buffer and live for the
 * whole step: the op interface does not say which tensors a backward reads, so everything forward
 * produced is kept for it. Gradients of activations are short-lived: the gradient of value v is
 * born when the first consumer (in backward order) writes it and dies once v's producer has run
 * its backward. Those intervals over the backward schedule are packed into reusable buffers by a
 * greedy best-fit allocator. Where a value feeds several consumers, the first writes the gradient
 * buffer directly and every later one writes a temporary (an interval of one step) that is then
 * added with clcnn_axpby — a fixed order, so results are bitwise reproducible.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph-private.h"

struct interval {
	int start, end; /* backward steps, inclusive */
	size_t bytes;
	int value;      /* gradient of this value, or -1 for a temporary */
	int node, slot; /* temporary: grad_in[slot] of node */
	int buf;        /* assigned slot */
};

void graph_plan_release(struct clcnn_graph *g)
{
	for (int i = 0; i < g->nslots; i++)
		clcnn_buffer_free(g->slots[i].mem);
	free(g->slots);
	g->slots = NULL;
	g->nslots = 0;
	if (g->values)
		for (int v = 0; v < graph_nvalues(g); v++) {
			clcnn_buffer_free(g->values[v].mem);
			g->values[v].mem = NULL;
			g->values[v].grad = NULL;
			g->values[v].grad_planned = 0;
		}
	if (g->state)
		for (int i = 0; i < g->nnodes; i++)
			clcnn_buffer_free(g->state[i]);
	free(g->state);
	g->state = NULL;
	clcnn_buffer_free(g->scratch);
	clcnn_buffer_free(g->ones);
	g->scratch = g->ones = NULL;
	for (int i = 0; i < g->nnodes; i++) {
		struct graph_node *n = &g->nodes[i];
		memset(&n->fio, 0, sizeof n->fio);
		memset(&n->bio, 0, sizeof n->bio);
		memset(n->acc_tmp, 0, sizeof n->acc_tmp);
		memset(n->acc_dst, 0, sizeof n->acc_dst);
		memset(n->acc_slot, 0, sizeof n->acc_slot);
		for (int j = 0; j < CLCNN_OP_MAX_PARAM; j++)
			clcnn_buffer_free(n->pacc_tmp[j]);
		memset(n->pacc_tmp, 0, sizeof n->pacc_tmp);
		n->run_backward = 0;
	}
	g->scratch_bytes = g->state_total = g->act_total = g->grad_total = 0;
}

/* Does node i send a gradient to its input slot j? */
static int wants_grad_in(const struct clcnn_graph *g, int i, int j)
{
	const struct graph_node *n = &g->nodes[i];
	return n->run_backward && !(n->op->nograd_in & (1u << j)) && g->values[n->in_ref[j]].needs_grad;
}

static int mark_needs(struct clcnn_graph *g)
{
	struct clcnn_context *ctx = g->ctx;
	for (int i = 0; i < g->ninputs; i++)
		g->values[i].needs_grad = g->inputs[i].want_grad;
	for (int k = 0; k < g->nnodes; k++) {
		int i = g->order[k];
		const struct graph_node *n = &g->nodes[i];
		int need = 0;
		for (int j = 0; j < n->op->nparam; j++)
			need |= n->op->param[j].kind == CLCNN_PARAM_WEIGHT;
		for (int j = 0; j < n->nin; j++) {
			need |= !(n->op->nograd_in & (1u << j)) && g->values[n->in_ref[j]].needs_grad;
			g->values[n->in_ref[j]].consumers++;
		}
		g->values[g->ninputs + i].needs_grad = need;
	}
	if (g->loss < 0)
		return 0;
	g->values[g->ninputs + g->loss].reaches_loss = 1;
	for (int k = g->nnodes - 1; k >= 0; k--) {
		int i = g->order[k];
		struct graph_node *n = &g->nodes[i];
		if (!g->values[g->ninputs + i].reaches_loss)
			continue;
		for (int j = 0; j < n->nin; j++)
			g->values[n->in_ref[j]].reaches_loss = 1;
		n->run_backward = g->values[g->ninputs + i].needs_grad;
		if (n->run_backward && !n->cls->backward) {
			const char *o = graph_node_origin(g, i);
			return clcnn_fail(ctx, CLCNN_ERR_INVALID,
					  "%s%snode '%s' (%s) has no gradient, but the loss '%s' needs one through it",
					  o, *o ? ": " : "", n->name, n->type, g->nodes[g->loss].name);
		}
	}
	return 0;
}

/* Best fit among free buffers; else grow the largest free one; else a new buffer. */
static int assign(struct graph_slot **slots, int *nslots, int *cap, const struct interval *iv)
{
	int best = -1, largest = -1;
	for (int s = 0; s < *nslots; s++) {
		struct graph_slot *b = &(*slots)[s];
		if (b->free_after >= iv->start)
			continue;
		if (b->bytes >= iv->bytes && (best < 0 || b->bytes < (*slots)[best].bytes))
			best = s;
		if (largest < 0 || b->bytes > (*slots)[largest].bytes)
			largest = s;
	}
	if (best < 0 && largest >= 0)
		best = largest;
	if (best < 0) {
		if (*nslots == *cap) {
			int nc = *cap ? 2 * *cap : 8;
			struct graph_slot *p = realloc(*slots, (size_t)nc * sizeof *p);
			if (!p)
				return -1;
			*slots = p;
			*cap = nc;
		}
		best = (*nslots)++;
		(*slots)[best] = (struct graph_slot){0, -1, NULL};
	}
	struct graph_slot *b = &(*slots)[best];
	if (b->bytes < iv->bytes)
		b->bytes = iv->bytes;
	b->free_after = iv->end;
	return best;
}

static int plan_gradients(struct clcnn_graph *g, struct interval **out, int *nout)
{
	int nv = graph_nvalues(g);
	int *bstep = malloc((size_t)g->nnodes * sizeof *bstep);
	char *written = calloc((size_t)nv, 1);
	/* each backward step creates at most one interval per input slot */
	struct interval *iv = malloc(((size_t)g->nnodes * CLCNN_OP_MAX_IN + 1) * sizeof *iv);
	if (!bstep || !written || !iv) {
		free(bstep);
		free(written);
		free(iv);
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	int T = 0;
	for (int k = g->nnodes - 1; k >= 0; k--)
		bstep[g->order[k]] = g->nodes[g->order[k]].run_backward ? T++ : -1;
	int n = 0;
	for (int k = g->nnodes - 1; k >= 0; k--) {
		int i = g->order[k];
		if (!g->nodes[i].run_backward)
			continue;
		int t = bstep[i];
		for (int j = 0; j < g->nodes[i].nin; j++) {
			if (!wants_grad_in(g, i, j))
				continue;
			int v = g->nodes[i].in_ref[j];
			struct interval *x = &iv[n++];
			x->start = t;
			x->bytes = g->values[v].bytes;
			x->node = i;
			x->slot = j;
			if (!written[v]) {
				written[v] = 1;
				x->value = v;
				/* dies after its producer's backward; graph inputs' gradients live to the end */
				x->end = v < g->ninputs ? T : bstep[v - g->ninputs];
			} else {
				x->value = -1;
				x->end = t;
			}
		}
	}
	free(bstep);
	free(written);
	*out = iv;
	*nout = n;
	return 0;
}

static int alloc_filled(struct clcnn_context *ctx, size_t bytes, float value, cl_mem *out)
{
	int rc = clcnn_buffer_new(ctx, bytes, out);
	return rc ? rc : clcnn_buffer_fill(ctx, *out, value, bytes / sizeof(float));
}

/* An allocation failed: say for what, in front of the device's message (which has the size). */
static int alloc_failed(struct clcnn_graph *g, int rc, const char *what, const char *name)
{
	char *msg = clcnn_strdup(clcnn_context_error(g->ctx));
	rc = clcnn_fail(g->ctx, rc, "%s%s%s%s at batch %d: %s", what, name ? " '" : "", name ? name : "",
			name ? "'" : "", g->batch, msg ? msg : "");
	free(msg);
	return rc;
}

/*
 * Parameters used by several nodes (share=): in backward order the first user writes the gradient
 * itself, every later one writes a temporary of its own that the executor then adds (the same fixed
 * order as fan-out of activations, so sums are bitwise reproducible).
 */
static int plan_shared_gradients(struct clcnn_graph *g)
{
	int *written = calloc((size_t)g->nnodes, sizeof *written); /* per owner: a user already wrote */
	if (!written)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	int rc = 0;
	for (int k = g->nnodes - 1; k >= 0 && !rc; k--) {
		int i = g->order[k];
		struct graph_node *n = &g->nodes[i];
		int owner = n->share >= 0 ? n->share : i;
		if (!n->run_backward || !n->op->nparam)
			continue;
		if (!written[owner]++)
			continue;
		for (int j = 0; j < n->op->nparam && !rc; j++) {
			const struct graph_param *p = &g->params[n->param0 + j];
			if (!p->grad)
				continue;
			rc = clcnn_buffer_new(g->ctx, p->count * sizeof(float), &n->pacc_tmp[j]);
			if (rc)
				rc = alloc_failed(g, rc, "the shared-parameter gradient of node", n->name);
			g->grad_total += p->count * sizeof(float);
		}
	}
	free(written);
	return rc;
}

int graph_plan(struct clcnn_graph *g)
{
	struct clcnn_context *ctx = g->ctx;
	int rc = mark_needs(g);
	if (rc)
		return rc;
	struct interval *iv = NULL;
	int niv = 0, cap = 0;
	rc = plan_gradients(g, &iv, &niv);
	if (rc)
		return rc;
	for (int k = 0; k < niv; k++) {
		iv[k].buf = assign(&g->slots, &g->nslots, &cap, &iv[k]);
		if (iv[k].buf < 0) {
			free(iv);
			return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
		}
	}
	for (int s = 0; s < g->nslots && !rc; s++) {
		rc = clcnn_buffer_new(ctx, g->slots[s].bytes, &g->slots[s].mem);
		if (rc)
			rc = alloc_failed(g, rc, "a gradient buffer", NULL);
		g->grad_total += g->slots[s].bytes;
	}
	for (int k = 0; k < niv && !rc; k++) {
		struct graph_node *n = &g->nodes[iv[k].node];
		cl_mem m = g->slots[iv[k].buf].mem;
		if (iv[k].value >= 0) {
			g->values[iv[k].value].grad = m;
			g->values[iv[k].value].grad_slot = iv[k].buf;
			g->values[iv[k].value].grad_planned = 1;
			n->bio.grad_in[iv[k].slot] = m;
		} else {
			n->acc_tmp[iv[k].slot] = m;
			n->acc_slot[iv[k].slot] = iv[k].buf + 1;
			n->bio.grad_in[iv[k].slot] = m;
		}
	}
	free(iv);

	/* activations: inputs are zero-filled so a forward without labels set reads valid indices */
	for (int v = 0; v < graph_nvalues(g) && !rc; v++) {
		rc = v < g->ninputs ? alloc_filled(ctx, g->values[v].bytes, 0.0f, &g->values[v].mem)
				    : clcnn_buffer_new(ctx, g->values[v].bytes, &g->values[v].mem);
		if (rc)
			rc = alloc_failed(g, rc, v < g->ninputs ? "input" : "output of node", graph_value_name(g, v));
		g->act_total += g->values[v].bytes;
	}
	g->state = calloc((size_t)g->nnodes, sizeof *g->state);
	if (!rc && !g->state)
		rc = clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	for (int i = 0; i < g->nnodes && !rc; i++) {
		const struct clcnn_op *op = g->nodes[i].op;
		if (op->state_bytes) {
			rc = clcnn_buffer_new(ctx, op->state_bytes, &g->state[i]);
			if (rc)
				rc = alloc_failed(g, rc, "state of node", g->nodes[i].name);
			g->state_total += op->state_bytes;
		}
		if (op->scratch_bytes > g->scratch_bytes)
			g->scratch_bytes = op->scratch_bytes;
	}
	if (!rc && g->scratch_bytes && (rc = clcnn_buffer_new(ctx, g->scratch_bytes, &g->scratch)))
		rc = alloc_failed(g, rc, "the shared workspace", NULL);
	if (!rc && g->loss >= 0)
		rc = alloc_filled(ctx, g->values[g->ninputs + g->loss].bytes, 1.0f, &g->ones);
	if (!rc)
		rc = plan_shared_gradients(g);
	if (rc)
		return rc;

	for (int i = 0; i < g->nnodes; i++) {
		struct graph_node *n = &g->nodes[i];
		struct clcnn_dev_io *f = &n->fio, *b = &n->bio;
		for (int j = 0; j < n->nin; j++) {
			f->in[j] = b->in[j] = g->values[n->in_ref[j]].mem;
			if (n->acc_tmp[j])
				n->acc_dst[j] = g->values[n->in_ref[j]].grad;
		}
		f->out = b->out = g->values[g->ninputs + i].mem;
		for (int j = 0; j < n->op->nparam; j++) {
			f->param[j] = b->param[j] = g->params[n->param0 + j].mem;
			b->grad_param[j] = n->pacc_tmp[j] ? n->pacc_tmp[j] : g->params[n->param0 + j].grad;
		}
		f->state = b->state = g->state[i];
		f->scratch = b->scratch = g->scratch;
		b->grad_out = i == g->loss ? g->ones : g->values[g->ninputs + i].grad;
	}
	return 0;
}

size_t clcnn_graph_peak_bytes(const struct clcnn_graph *g)
{
	if (!g->batch)
		return 0;
	size_t ones = g->loss >= 0 ? g->values[g->ninputs + g->loss].bytes : 0;
	return g->act_total + g->grad_total + g->param_total + g->state_total + g->scratch_bytes + ones;
}
