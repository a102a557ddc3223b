/*
 * Memory plan of a built graph: one pool of device buffers for activations and their gradients.
 *
 * Every tensor the step makes has a life on one timeline (graph-private.h: inputs set, forward
 * steps, backward steps, the optimizer step). An activation is born at its producer's forward and
 * dies after its last reader: the forward of its consumers and the backward of the nodes whose
 * class declares that it reads it (clcnn_op_class.saves; a class that declares nothing keeps
 * everything). Graph inputs, the loss, the output and values asked for with clcnn_graph_keep live
 * to the end. The gradient of a value is born when the first consumer (in backward order) writes
 * it and dies once the value's producer has run its backward; where a value feeds several
 * consumers every later one writes a temporary (a life of one step) that is then added with
 * clcnn_axpby in a fixed order, so results are bitwise reproducible. relu, leaky_relu and dropout
 * write their output over their input when nothing reads the input afterwards, and their input's
 * gradient over their output's (which dies at that step).
 *
 * Operator fusion (plan_fusion): a node whose only reader is an element-wise activation it can apply
 * itself (batchnorm then relu: clcnn_op_class.fusable_act, can_fuse) does so; the activation's node
 * then runs neither forward nor backward, its output is its producer's buffer, and the producer's
 * backward takes the activation's output gradient and masks it, computing the same floats.
 *
 * The lives are packed into buffers greedily three ways and the packing with the fewest bytes is
 * kept (pack): deterministic, and whatever the packing the values are the same, so results are
 * bitwise those of a plan that keeps everything (clcnn_graph_keep(g, NULL); test-memplan.c).
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph-private.h"

enum {
	LIFE_ACT,
	LIFE_GRAD,
	LIFE_TMP
};

struct interval {
	int start, end; /* time steps, inclusive */
	size_t bytes;
	int kind;       /* LIFE_* */
	int value;      /* activation or gradient of this value; -1 for a temporary */
	int node, slot; /* gradient / temporary: grad_in[slot] of node */
	int seq;        /* creation order: ties in sorting */
	int buf;        /* assigned slot */
	int alias;      /* a gradient written over the gradient of interval `alias` (its buffer), -1 none */
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
		n->inplace = 0;
		n->fuses = n->fused_by = -1;
		if (n->op)
			n->op->fused = (struct clcnn_fused_act){CLCNN_FUSED_NONE, 0.0f};
	}
	g->scratch_bytes = g->state_total = g->act_total = g->grad_total = 0;
	g->pool_total = g->peak_forward = g->peak_backward = g->peak_step = g->kept_backward = 0;
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
	for (int v = 0; v < graph_nvalues(g); v++) { /* a plan again (clcnn_graph_keep) starts afresh */
		g->values[v].consumers = 0;
		g->values[v].reaches_loss = 0;
	}
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

/*
 * Operator fusion: producer p applies activation node j when j is p's output's only reader and
 * both classes agree (op.h), unless fusion is off (clcnn_graph_set_fusion, CLCNN_FUSE=0), the plan
 * keeps everything, or p's output is kept (clcnn_graph_keep, the loss, the output): it would then
 * hold act(y), not y. j's output may be kept: it is the shared buffer. Sets op->fused of p, and j
 * runs no backward (p's reads its output gradient).
 */
static void plan_fusion(struct clcnn_graph *g)
{
	for (int i = 0; i < g->nnodes; i++) {
		g->nodes[i].fuses = g->nodes[i].fused_by = -1;
		g->nodes[i].op->fused = (struct clcnn_fused_act){CLCNN_FUSED_NONE, 0.0f};
	}
	if (!g->fuse || g->keep_all)
		return;
	for (int k = 0; k < g->nnodes; k++) {
		int j = g->order[k], u = g->nodes[j].in_ref[0];
		struct graph_node *a = &g->nodes[j];
		struct clcnn_fused_act f;
		if (a->nin != 1 || u < g->ninputs || j == g->loss || !a->cls->fusable_act ||
		    !a->cls->fusable_act(a->op, &f))
			continue;
		int i = u - g->ninputs;
		struct graph_node *p = &g->nodes[i];
		if (g->values[u].consumers != 1 || p->keep || i == g->loss || i == g->output || p->fuses >= 0 ||
		    p->fused_by >= 0 || a->fuses >= 0 || p->run_backward != a->run_backward ||
		    g->values[u].bytes != g->values[g->ninputs + j].bytes || !p->cls->can_fuse ||
		    !p->cls->can_fuse(p->op, &f))
			continue;
		p->fuses = j;
		a->fused_by = i;
		p->op->fused = f;
		a->run_backward = 0;
	}
}

/* The node whose backward runs node i's: its fusing producer, else i. */
static int backward_runner(const struct clcnn_graph *g, int i)
{
	return g->nodes[i].fused_by >= 0 ? g->nodes[i].fused_by : i;
}

/* What node i's backward reads (clcnn_op_saves); everything when the plan keeps everything. */
static unsigned node_saves(const struct clcnn_graph *g, int i)
{
	return g->keep_all ? CLCNN_SAVES_INPUTS | CLCNN_SAVES_OUT : clcnn_op_saves(g->nodes[i].op);
}

static struct graph_slot *new_slot(struct graph_slot **slots, int *nslots, int *cap)
{
	if (*nslots == *cap) {
		int nc = *cap ? 2 * *cap : 8;
		struct graph_slot *p = realloc(*slots, (size_t)nc * sizeof *p);
		if (!p)
			return NULL;
		*slots = p;
		*cap = nc;
	}
	struct graph_slot *b = &(*slots)[(*nslots)++];
	*b = (struct graph_slot){0, -1, 0, NULL};
	return b;
}

static void take(struct graph_slot *b, struct interval *x, int index)
{
	if (b->bytes < x->bytes)
		b->bytes = x->bytes;
	if (b->free_after < x->end)
		b->free_after = x->end;
	b->grads |= x->kind != LIFE_ACT;
	x->buf = index;
}

/*
 * By birth (iv sorted by start): the smallest free buffer that is large enough, else (grow) the
 * largest free one grows, else a new one.
 */
static int pack_by_birth(struct graph_slot **slots, int *nslots, struct interval *iv, int n, int grow)
{
	int cap = 0;
	for (int k = 0; k < n; k++) {
		int best = -1, largest = -1;
		for (int s = 0; s < *nslots; s++) {
			struct graph_slot *b = &(*slots)[s];
			if (b->free_after >= iv[k].start)
				continue;
			if (b->bytes >= iv[k].bytes && (best < 0 || b->bytes < (*slots)[best].bytes))
				best = s;
			if (largest < 0 || b->bytes > (*slots)[largest].bytes)
				largest = s;
		}
		if (best < 0 && grow)
			best = largest;
		if (best < 0 && !new_slot(slots, nslots, &cap))
			return -1;
		best = best < 0 ? *nslots - 1 : best;
		take(&(*slots)[best], &iv[k], best);
	}
	return 0;
}

/*
 * By size (iv sorted largest first; TFLite's arena planner, per buffer rather than per offset): the
 * smallest buffer none of whose lives overlap, else a new one. Buffers never grow.
 */
static int pack_by_size(struct graph_slot **slots, int *nslots, struct interval *iv, int n)
{
	int cap = 0;
	for (int k = 0; k < n; k++) {
		int best = -1;
		for (int s = 0; s < *nslots; s++) {
			if (best >= 0 && (*slots)[s].bytes >= (*slots)[best].bytes)
				continue;
			int clash = 0;
			for (int m = 0; m < k && !clash; m++)
				clash = iv[m].buf == s && iv[m].start <= iv[k].end && iv[k].start <= iv[m].end;
			if (!clash)
				best = s;
		}
		if (best < 0 && !new_slot(slots, nslots, &cap))
			return -1;
		best = best < 0 ? *nslots - 1 : best;
		take(&(*slots)[best], &iv[k], best);
	}
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	if (x->start != y->start)
		return x->start > y->start ? 1 : -1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int by_size(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return by_start(a, b);
}

static size_t slots_bytes(const struct graph_slot *s, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += s[i].bytes;
	return t;
}

/*
 * Three greedy packings, and the one with the fewest bytes (the first on a tie) into g->slots and
 * iv's buf: none wins always (a chain's gradients pack best by birth with growing, mixed sizes by
 * size).
 */
static int pack(struct clcnn_graph *g, struct interval *iv, int n)
{
	struct interval *try = malloc(((size_t)n + 1) * sizeof *try);
	struct graph_slot *s2 = NULL;
	int n2 = 0, rc = -1;
	if (!try)
		return -1;
	qsort(iv, (size_t)n, sizeof *iv, by_start);
	if (pack_by_birth(&g->slots, &g->nslots, iv, n, 1))
		goto done;
	for (int way = 0; way < 2; way++) {
		memcpy(try, iv, (size_t)n * sizeof *iv);
		qsort(try, (size_t)n, sizeof *try, way ? by_size : by_start);
		n2 = 0;
		if (way ? pack_by_size(&s2, &n2, try, n) : pack_by_birth(&s2, &n2, try, n, 0))
			goto done;
		if (slots_bytes(s2, n2) < slots_bytes(g->slots, g->nslots)) {
			free(g->slots);
			g->slots = s2;
			g->nslots = n2;
			s2 = NULL;
			memcpy(iv, try, (size_t)n * sizeof *iv);
		}
		free(s2);
		s2 = NULL;
	}
	rc = 0;
done:
	free(s2);
	free(try);
	return rc;
}

static void reads(struct graph_value *v, int t, int node)
{
	if (t >= v->t_end) {
		v->t_end = t;
		v->last_reader = node;
	}
}

/*
 * Lives of activations: t_start, t_end, last_reader, kept of every value, and the in-place nodes;
 * root[v] is the value whose buffer v is written over (itself when none). tf/tb: forward and
 * backward time of each node (tb -1: no backward).
 */
static void plan_activations(struct clcnn_graph *g, const int *tf, const int *tb, int *root)
{
	int END = g->time_end, nv = graph_nvalues(g);
	for (int v = 0; v < nv; v++) {
		struct graph_value *x = &g->values[v];
		x->t_start = x->t_end = v < g->ninputs ? 0 : tf[v - g->ninputs];
		x->last_reader = -1;
		x->kept = v < g->ninputs || g->keep_all || (v >= g->ninputs && g->nodes[v - g->ninputs].keep) ||
			  v - g->ninputs == g->loss || v - g->ninputs == g->output;
		root[v] = v;
	}
	for (int i = 0; i < g->nnodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		for (int j = 0; j < n->nin; j++)
			reads(&g->values[n->in_ref[j]], tf[i], i);
		if (tb[i] < 0)
			continue;
		unsigned s = node_saves(g, i);
		for (int j = 0; j < n->nin; j++)
			if (s & CLCNN_SAVES_IN(j))
				reads(&g->values[n->in_ref[j]], tb[i], i);
		if (s & (CLCNN_SAVES_OUT | CLCNN_SAVES_IN0_AS_OUT))
			reads(&g->values[g->ninputs + i], tb[i], i);
	}
	/* in place: the input's last reader is this forward, and the input is no graph input nor kept */
	for (int k = 0; k < g->nnodes && !g->keep_all; k++) {
		int i = g->order[k];
		struct graph_node *n = &g->nodes[i];
		int u = n->in_ref[0], o = g->ninputs + i;
		if (n->fused_by >= 0) { /* a fused activation: its producer's buffer */
			root[o] = root[u];
			continue;
		}
		if (!(node_saves(g, i) & CLCNN_SAVES_INPLACE) || n->nin != 1 || u < g->ninputs || g->values[u].kept ||
		    g->values[o].kept || g->values[u].t_end != tf[i] || g->values[u].bytes != g->values[o].bytes)
			continue;
		n->inplace = 1;
		root[o] = root[u];
	}
	/* a kept value owns its buffer all step long: a forward_to of other nodes cannot overwrite it */
	for (int v = 0; v < nv; v++)
		if (g->values[v].kept) {
			g->values[v].t_start = 0;
			g->values[v].t_end = END;
		}
}

/*
 * Appends the lives of gradients and fan-out temporaries (in backward order) to iv, whose first
 * `base` entries are the activations'. An in-place op (relu, leaky_relu, dropout: element-wise
 * backward) writes its input's gradient over its output's, which dies at that very step.
 */
static int plan_gradients(struct clcnn_graph *g, const int *tb, struct interval *iv, int base)
{
	int nv = graph_nvalues(g);
	char *written = calloc((size_t)nv, 1);
	int *gi = malloc((size_t)nv * sizeof *gi); /* iv index of each value's gradient */
	if (!written || !gi) {
		free(written);
		free(gi);
		return -1;
	}
	int n = 0;
	for (int k = g->nnodes - 1; k >= 0; k--) {
		int i = g->order[k];
		if (!g->nodes[i].run_backward)
			continue;
		for (int j = 0; j < g->nodes[i].nin; j++) {
			if (!wants_grad_in(g, i, j))
				continue;
			int v = g->nodes[i].in_ref[j];
			struct interval *x = &iv[base + n++];
			x->start = tb[i];
			x->bytes = g->values[v].bytes;
			x->node = i;
			x->slot = j;
			x->alias = -1;
			x->buf = -1;
			if (!written[v]) {
				written[v] = 1;
				gi[v] = base + n - 1;
				x->value = v;
				x->kind = LIFE_GRAD;
				/* dies after its producer's backward (a fusing producer's for a fused
				 * activation); graph inputs' gradients live to the end */
				x->end = v < g->ninputs ? g->time_end : tb[backward_runner(g, v - g->ninputs)];
			} else {
				x->value = -1;
				x->kind = LIFE_TMP;
				x->end = tb[i];
			}
			int o = g->ninputs + i;
			if (!g->keep_all && (clcnn_op_saves(g->nodes[i].op) & CLCNN_SAVES_INPLACE) && i != g->loss &&
			    written[o] && g->values[o].bytes == x->bytes) {
				int r = gi[o];
				while (iv[r].alias >= 0)
					r = iv[r].alias;
				x->alias = r;
				if (iv[r].end < x->end)
					iv[r].end = x->end;
			}
		}
	}
	free(written);
	free(gi);
	return n;
}

/* Live bytes of the pool's tensors at each time step, into the phase peaks of g. */
static void plan_peaks(struct clcnn_graph *g, const struct interval *iv, int niv)
{
	int F = g->nnodes, END = g->time_end;
	size_t *live = calloc((size_t)END + 1, sizeof *live);
	if (!live)
		return;
	for (int k = 0; k < niv; k++)
		for (int t = iv[k].start; t <= iv[k].end && iv[k].alias < 0; t++)
			live[t] += iv[k].bytes;
	size_t fwd = 0, bwd = 0, weights = 0, grads = 0,
	       ones = g->loss >= 0 ? g->values[g->ninputs + g->loss].bytes : 0;
	for (int t = 0; t <= F; t++)
		fwd = live[t] > fwd ? live[t] : fwd;
	for (int t = F + 1; t < END; t++)
		bwd = live[t] > bwd ? live[t] : bwd;
	for (int i = 0; i < g->nparams; i++) {
		weights += g->params[i].count * sizeof(float);
		grads += g->params[i].spec.kind == CLCNN_PARAM_WEIGHT ? g->params[i].count * sizeof(float) : 0;
	}
	size_t fixed = weights + g->state_total + g->scratch_bytes;
	g->peak_forward = fixed + fwd;
	g->peak_backward = g->loss >= 0 ? fixed + grads + g->grad_total + ones + bwd : 0;
	g->peak_step = g->loss >= 0 ? weights + g->state_total + grads + live[END] : 0;
	/* activations alive when backward starts: what forward left for it (and for the user) */
	g->kept_backward = 0;
	for (int k = 0; k < niv; k++)
		if (iv[k].kind == LIFE_ACT && iv[k].end > F)
			g->kept_backward += iv[k].bytes;
	free(live);
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

/* A pool buffer failed: name the first tensor it holds (an input, a node's output, a gradient). */
static int slot_failed(struct clcnn_graph *g, int rc, int s)
{
	for (int v = 0; v < graph_nvalues(g); v++)
		if (g->values[v].slot == s)
			return alloc_failed(g, rc, v < g->ninputs ? "input" : "output of node", graph_value_name(g, v));
	for (int v = 0; v < graph_nvalues(g); v++)
		if (g->values[v].grad_planned && g->values[v].grad_slot == s)
			return alloc_failed(g, rc, "the gradient of", graph_value_name(g, v));
	return alloc_failed(g, rc, "a gradient buffer", NULL);
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

/*
 * Pack the lives that have a buffer of their own (pack), then give each alias its interval's
 * buffer; iv comes back in another order, aliases last.
 */
static int pack_aliased(struct clcnn_graph *g, struct interval *iv, int n)
{
	int *buf = malloc(((size_t)n + 1) * sizeof *buf), m = 0, rc = -1;
	struct interval *al = malloc(((size_t)n + 1) * sizeof *al);
	int na = 0;
	if (!buf || !al)
		goto done;
	for (int k = 0; k < n; k++)
		iv[k].seq = k;
	for (int k = 0; k < n; k++) /* stable: the owned lives to the front, the aliases aside */
		if (iv[k].alias < 0)
			iv[m++] = iv[k];
		else
			al[na++] = iv[k];
	if (pack(g, iv, m))
		goto done;
	for (int k = 0; k < m; k++)
		buf[iv[k].seq] = iv[k].buf;
	for (int k = 0; k < na; k++) {
		al[k].buf = buf[al[k].alias];
		g->slots[al[k].buf].grads = 1;
		iv[m + k] = al[k];
	}
	rc = 0;
done:
	free(buf);
	free(al);
	return rc;
}

/* Lives of everything, sorted by birth and packed into g->slots; *out, *nout the lives. */
static int plan_lives(struct clcnn_graph *g, struct interval **out, int *nout)
{
	int nv = graph_nvalues(g), F = g->nnodes, T = 0;
	int *tf = malloc((size_t)F * sizeof *tf), *tb = malloc((size_t)F * sizeof *tb);
	int *root = malloc((size_t)nv * sizeof *root);
	struct interval *iv = malloc(((size_t)F * CLCNN_OP_MAX_IN + (size_t)nv + 1) * sizeof *iv);
	int n = -1;
	if (!tf || !tb || !root || !iv)
		goto done;
	for (int k = 0; k < F; k++)
		tf[g->order[k]] = 1 + k;
	for (int k = F - 1; k >= 0; k--)
		tb[g->order[k]] = g->nodes[g->order[k]].run_backward ? 1 + F + T++ : -1;
	g->time_end = 1 + F + T;
	plan_activations(g, tf, tb, root);
	n = 0;
	for (int v = 0; v < nv; v++) { /* one life per buffer: a value and those written over it */
		if (root[v] != v)
			continue;
		struct interval *x = &iv[n++];
		*x = (struct interval){g->values[v].t_start,
				       g->values[v].t_end,
				       g->values[v].bytes,
				       LIFE_ACT,
				       v,
				       -1,
				       -1,
				       0,
				       -1,
				       -1};
		for (int w = v + 1; w < nv; w++) {
			if (root[w] != v)
				continue;
			if (g->values[w].t_end > x->end)
				x->end = g->values[w].t_end;
			if (g->values[w].t_start < x->start) /* a kept fused activation: the whole step */
				x->start = g->values[w].t_start;
		}
	}
	int ng = plan_gradients(g, tb, iv, n);
	if (ng < 0) {
		n = -1;
		goto done;
	}
	n += ng;
	if (pack_aliased(g, iv, n))
		n = -1;
	for (int k = 0; k < n; k++)
		if (iv[k].kind == LIFE_ACT)
			for (int w = 0; w < nv; w++)
				if (root[w] == iv[k].value)
					g->values[w].slot = iv[k].buf;
done:
	free(tf);
	free(tb);
	free(root);
	if (n < 0) {
		free(iv);
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	*out = iv;
	*nout = n;
	return 0;
}

int graph_plan(struct clcnn_graph *g)
{
	struct clcnn_context *ctx = g->ctx;
	int rc = mark_needs(g);
	if (rc)
		return rc;
	plan_fusion(g);
	struct interval *iv = NULL;
	int niv = 0;
	rc = plan_lives(g, &iv, &niv);
	if (rc)
		return rc;
	for (int s = 0; s < g->nslots && !rc; s++) {
		rc = clcnn_buffer_new(ctx, g->slots[s].bytes, &g->slots[s].mem);
		if (rc)
			rc = slot_failed(g, rc, s);
		g->pool_total += g->slots[s].bytes;
	}
	for (int v = 0; v < graph_nvalues(g); v++) {
		g->values[v].mem = g->slots[g->values[v].slot].mem;
		g->act_total += g->values[v].bytes;
	}
	/* inputs (never shared) are zero-filled so a forward without labels set reads valid indices */
	for (int v = 0; v < g->ninputs && !rc; v++)
		if ((rc = clcnn_buffer_fill(ctx, g->values[v].mem, 0.0f, g->values[v].bytes / sizeof(float))))
			rc = alloc_failed(g, rc, "input", graph_value_name(g, v));
	for (int k = 0; k < niv && !rc; k++) {
		if (iv[k].kind == LIFE_ACT)
			continue;
		struct graph_node *n = &g->nodes[iv[k].node];
		cl_mem m = g->slots[iv[k].buf].mem;
		if (iv[k].kind == LIFE_GRAD) {
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
	if (!rc)
		plan_peaks(g, iv, niv);
	free(iv);
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
		/* relu reads the sign of x in backward, which y has too: x may be gone (op.h) */
		if (n->nin && (node_saves(g, i) & CLCNN_SAVES_IN0_AS_OUT))
			b->in[0] = b->out;
		for (int j = 0; j < n->op->nparam; j++) {
			f->param[j] = b->param[j] = g->params[n->param0 + j].mem;
			b->grad_param[j] = n->pacc_tmp[j] ? n->pacc_tmp[j] : g->params[n->param0 + j].grad;
		}
		f->state = b->state = g->state[i];
		f->scratch = b->scratch = g->scratch;
		/* a fusing producer starts from its activation's output gradient */
		b->grad_out = i == g->loss ? g->ones : g->values[g->ninputs + (n->fuses >= 0 ? n->fuses : i)].grad;
	}
	return 0;
}

/* A built graph is planned again (the parameters stay; inputs and outputs are lost). */
static int plan_again(struct clcnn_graph *g)
{
	if (!g->batch)
		return 0;
	/* built: plan again (the parameters stay; inputs and outputs are lost) */
	graph_plan_release(g);
	int rc = graph_plan(g);
	if (rc) {
		graph_plan_release(g);
		g->batch = 0; /* not built any more: build again */
	}
	return rc;
}

int clcnn_graph_keep(struct clcnn_graph *g, const char *node)
{
	if (node) {
		int i = graph_find_node(g, node);
		if (i < 0)
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "keep: no node named '%s'", node);
		g->nodes[i].keep = 1;
	} else {
		g->keep_all = 1;
	}
	return plan_again(g);
}

int clcnn_graph_set_fusion(struct clcnn_graph *g, int on)
{
	if (g->fuse == (on != 0))
		return 0;
	g->fuse = on != 0;
	return plan_again(g);
}

int clcnn_graph_plan_info(const struct clcnn_graph *g, struct clcnn_graph_plan_info *info)
{
	memset(info, 0, sizeof *info);
	if (!g->batch)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "plan info: the graph is not built (clcnn_graph_build)");
	info->peak_bytes = clcnn_graph_peak_bytes(g);
	info->forward_peak = g->peak_forward;
	info->backward_peak = g->peak_backward;
	info->step_peak = g->peak_step;
	info->pool_bytes = g->pool_total;
	info->pool_buffers = g->nslots;
	info->all_values_bytes = g->act_total;
	info->kept_for_backward = g->kept_backward;
	for (int i = 0; i < g->nnodes; i++) {
		info->inplace_nodes += g->nodes[i].inplace;
		info->fused_nodes += g->nodes[i].fused_by >= 0;
	}
	return 0;
}

size_t clcnn_graph_peak_bytes(const struct clcnn_graph *g)
{
	if (!g->batch)
		return 0;
	size_t ones = g->loss >= 0 ? g->values[g->ninputs + g->loss].bytes : 0;
	return g->pool_total + g->grad_total + g->param_total + g->state_total + g->scratch_bytes + ones;
}
