/*
 * Graph declaration and build: inputs and named nodes, name resolution, validation (unknown inputs,
 * cycles, dangling nodes), the topological schedule and shape inference through each op's setup().
 * Forward references are allowed (a netfile may name a node before declaring it), so every check
 * of the DAG itself happens in graph_check(), at build or at the end of a netfile.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph-private.h"

static int valid_name(const char *s)
{
	if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

const char *graph_value_name(const struct clcnn_graph *g, int v)
{
	return v < g->ninputs ? g->inputs[v].name : g->nodes[v - g->ninputs].name;
}

int graph_find_node(const struct clcnn_graph *g, const char *name)
{
	for (int i = 0; i < g->nnodes; i++)
		if (!strcmp(g->nodes[i].name, name))
			return i;
	return -1;
}

int graph_find_value(const struct clcnn_graph *g, const char *name)
{
	for (int i = 0; i < g->ninputs; i++)
		if (!strcmp(g->inputs[i].name, name))
			return i;
	int n = graph_find_node(g, name);
	return n < 0 ? -1 : g->ninputs + n;
}

const char *graph_node_origin(const struct clcnn_graph *g, int node)
{
	return node >= 0 && node < g->nnodes && g->nodes[node].origin ? g->nodes[node].origin : "";
}

const char *graph_origin_sep(const char *origin)
{
	return origin && *origin ? ": " : "";
}

int clcnn_graph_new(struct clcnn_context *ctx, struct clcnn_graph **out)
{
	*out = NULL;
	struct clcnn_graph *g = calloc(1, sizeof *g);
	if (!g)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory for a graph");
	g->ctx = ctx;
	g->loss = g->output = g->last_added = -1;
	g->fuse = clcnn_context_fuse(ctx);
	snprintf(g->init_scheme, sizeof g->init_scheme, "default");
	*out = g;
	return 0;
}

static void build_release(struct clcnn_graph *g)
{
	graph_plan_release(g);
	for (int i = 0; i < g->nnodes; i++) {
		clcnn_op_free(g->nodes[i].op);
		g->nodes[i].op = NULL;
	}
	free(g->order);
	free(g->values);
	g->order = NULL;
	g->values = NULL;
	g->batch = 0;
	g->forward_done = 0;
}

static void node_strings_free(struct graph_node *n)
{
	free(n->name);
	free(n->type);
	free(n->args);
	free(n->origin);
	for (int j = 0; j < n->nin; j++) {
		free(n->in_name[j]);
		free(n->in_origin[j]);
	}
}

void clcnn_graph_free(struct clcnn_graph *g)
{
	if (!g)
		return;
	build_release(g);
	graph_params_release(g);
	graph_pending_release(g);
	for (int i = 0; i < g->ninputs; i++) {
		graph_input_staging_release(g, i);
		free(g->inputs[i].name);
		free(g->inputs[i].origin);
	}
	for (int i = 0; i < g->nnodes; i++)
		node_strings_free(&g->nodes[i]);
	free(g->inputs);
	free(g->nodes);
	free(g->loss_name);
	free(g->output_name);
	free(g);
}

/*
 * Element count of a shape when it is at most INT_MAX, else -1. Kernels index tensors with int, so
 * a larger tensor would wrap (and a product past SIZE_MAX would allocate a tiny buffer).
 */
static long long count_within_int(const struct clcnn_shape *s)
{
	long long c = 1;
	for (int i = 0; i < s->ndim; i++) {
		if (s->d[i] <= 0 || c > INT_MAX / s->d[i])
			return -1;
		c *= s->d[i];
	}
	return c;
}

static int check_new_name(struct clcnn_graph *g, const char *what, const char *name)
{
	if (!valid_name(name))
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "%s name '%s' is not valid: use letters, digits and '_', not starting with a digit",
				  what, name ? name : "(null)");
	if (graph_find_value(g, name) >= 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "duplicate name '%s'", name);
	if (g->batch)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "cannot add '%s': the graph is already built", name);
	return 0;
}

int clcnn_graph_input(struct clcnn_graph *g, const char *name, int ndim, const int *dims)
{
	int rc = check_new_name(g, "input", name);
	if (rc)
		return rc;
	if (ndim < 0 || ndim > CLCNN_MAX_DIMS - 1)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "input '%s': %d dims per sample; at most %d (the batch is the %dth)", name, ndim,
				  CLCNN_MAX_DIMS - 1, CLCNN_MAX_DIMS);
	struct clcnn_shape s = {ndim, {0}};
	for (int i = 0; i < ndim; i++) {
		if (dims[i] <= 0)
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "input '%s': dim %d is %d; dims must be positive",
					  name, i, dims[i]);
		s.d[i] = dims[i];
	}
	if (count_within_int(&s) < 0) {
		char b[64];
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
				  "input '%s': shape %s holds more than %d elements, the most a tensor can have", name,
				  clcnn_shape_str(&s, b, sizeof b), INT_MAX);
	}
	if (g->ninputs == g->cap_inputs) {
		int cap = g->cap_inputs ? 2 * g->cap_inputs : 4;
		struct graph_input *p = realloc(g->inputs, (size_t)cap * sizeof *p);
		if (!p)
			return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
		g->inputs = p;
		g->cap_inputs = cap;
	}
	struct graph_input *in = &g->inputs[g->ninputs];
	memset(in, 0, sizeof *in);
	in->shape = s;
	if (!(in->name = clcnn_strdup(name))) /* not counted, so nothing to undo */
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "input '%s': out of host memory", name);
	/* node references hold value indices only after graph_check, so growing inputs is safe */
	g->last_added = g->ninputs++;
	return 0;
}

void graph_trim_copy(char *dst, size_t n, const char *start, size_t len)
{
	while (len && isspace((unsigned char)*start))
		start++, len--;
	while (len && isspace((unsigned char)start[len - 1]))
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(dst, start, len);
	dst[len] = 0;
}

int clcnn_graph_add(struct clcnn_graph *g, const char *name, const char *op, const char *inputs, const char *args)
{
	int rc = check_new_name(g, "node", name);
	if (rc)
		return rc;
	const struct clcnn_op_class *cls = op ? clcnn_op_find(op) : NULL;
	if (!cls) {
		char known[2048];
		size_t len = 0;
		known[0] = 0;
		for (int i = 0; clcnn_op_classes[i] && len < sizeof known; i++)
			len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
						clcnn_op_classes[i]->name);
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node '%s': unknown layer type '%s'; known types: %s",
				  name, op ? op : "(null)", known);
	}
	char owner[128], other[128];
	int share = graph_find_share(args, owner, sizeof owner, other, sizeof other);
	if (share) {
		if (other[0])
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
					  "node '%s' (%s): share=%s takes the arguments of '%s'; remove '%s'", name, op,
					  owner, owner, other);
		share = graph_find_node(g, owner);
		if (share < 0)
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
					  "node '%s' (%s): share=%s: no layer '%s' is declared before it", name, op,
					  owner, owner);
		if (g->nodes[share].share >= 0)
			share = g->nodes[share].share; /* the one that owns the parameters */
		if (g->nodes[share].cls != cls)
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
					  "node '%s' (%s): share=%s, but '%s' is a %s layer; a node shares the "
					  "parameters of a layer of its own type",
					  name, op, owner, owner, g->nodes[share].type);
		args = g->nodes[share].args;
	} else {
		share = -1;
		/* validate the arguments now so that the error points at this call */
		void *tmp = calloc(1, cls->args_size ? cls->args_size : 1);
		if (!tmp)
			return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "node '%s': out of host memory", name);
		char err[1024];
		rc = clcnn_args_defaults(cls, tmp, err, sizeof err);
		if (!rc)
			rc = clcnn_args_parse(cls, tmp, args, err, sizeof err, NULL);
		clcnn_args_free(cls, tmp);
		free(tmp);
		if (rc)
			return clcnn_fail(g->ctx, rc, "node '%s' (%s): %s", name, op, err);
	}

	char names[CLCNN_OP_MAX_IN][128];
	int nin = 0;
	const char *p = inputs ? inputs : "";
	while (*p && isspace((unsigned char)*p))
		p++;
	if (*p) {
		for (;;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			if (nin == CLCNN_OP_MAX_IN)
				return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node '%s' (%s): more than %d inputs",
						  name, op, CLCNN_OP_MAX_IN);
			graph_trim_copy(names[nin], sizeof names[nin], p, len);
			if (!names[nin][0])
				return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node '%s' (%s): empty input name in '%s'",
						  name, op, inputs);
			nin++;
			if (!comma)
				break;
			p = comma + 1;
		}
	} else {
		if (g->last_added < 0)
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
					  "node '%s' (%s): no input given and there is no previous node or input", name,
					  op);
		snprintf(names[0], sizeof names[0], "%s", graph_value_name(g, g->last_added));
		nin = 1;
	}
	if (nin < cls->min_in || nin > cls->max_in) {
		if (cls->min_in == cls->max_in)
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node '%s' (%s): takes %d input%s, got %d", name,
					  op, cls->min_in, cls->min_in == 1 ? "" : "s", nin);
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node '%s' (%s): takes %d to %d inputs, got %d", name, op,
				  cls->min_in, cls->max_in, nin);
	}

	if (g->nnodes == g->cap_nodes) {
		int cap = g->cap_nodes ? 2 * g->cap_nodes : 16;
		struct graph_node *q = realloc(g->nodes, (size_t)cap * sizeof *q);
		if (!q)
			return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "node '%s': out of host memory", name);
		g->nodes = q;
		g->cap_nodes = cap;
	}
	struct graph_node *n = &g->nodes[g->nnodes];
	memset(n, 0, sizeof *n);
	n->cls = cls;
	n->share = share;
	n->nin = nin;
	n->name = clcnn_strdup(name);
	n->type = clcnn_strdup(cls->name);
	n->args = clcnn_strdup(args ? args : "");
	int oom = !n->name || !n->type || !n->args;
	for (int i = 0; i < nin; i++) {
		n->in_name[i] = clcnn_strdup(names[i]);
		oom |= !n->in_name[i];
		n->in_ref[i] = -1;
	}
	if (oom) {
		/* not counted: every lookup may rely on a counted node having all its names */
		node_strings_free(n);
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "node '%s': out of host memory", name);
	}
	g->nnodes++;
	g->last_added = g->ninputs + g->nnodes - 1;
	return 0;
}

/* The copies of in[0..n) (NULL items stay NULL) into out, all or none: 0 or -1 when out of memory. */
static int dup_all(char **out, const char *const *in, int n)
{
	for (int i = 0; i < n; i++) {
		out[i] = in[i] ? clcnn_strdup(in[i]) : NULL;
		if (in[i] && !out[i]) {
			while (i--)
				free(out[i]);
			return -1;
		}
	}
	return 0;
}

int graph_set_origin(struct clcnn_graph *g, int node, const char *origin, char *const *in_origin)
{
	struct graph_node *n = &g->nodes[node];
	const char *want[1 + CLCNN_OP_MAX_IN] = {origin};
	for (int i = 0; i < n->nin; i++)
		want[1 + i] = in_origin ? in_origin[i] : NULL;
	char *copy[1 + CLCNN_OP_MAX_IN];
	if (dup_all(copy, want, 1 + n->nin))
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "node '%s': out of host memory", n->name);
	free(n->origin);
	n->origin = copy[0];
	for (int i = 0; i < n->nin; i++) {
		free(n->in_origin[i]);
		n->in_origin[i] = copy[1 + i];
	}
	return 0;
}

int graph_set_input_origin(struct clcnn_graph *g, int input, const char *origin)
{
	char *o = origin ? clcnn_strdup(origin) : NULL;
	if (origin && !o)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "input '%s': out of host memory", g->inputs[input].name);
	free(g->inputs[input].origin);
	g->inputs[input].origin = o;
	return 0;
}

static int set_name(struct clcnn_graph *g, char **slot, const char *node, const char *what)
{
	if (graph_find_node(g, node) < 0)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "%s: no node named '%s'", what, node ? node : "(null)");
	char *s = clcnn_strdup(node);
	if (!s)
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	free(*slot);
	*slot = s;
	return 0;
}

int clcnn_graph_set_loss(struct clcnn_graph *g, const char *node)
{
	return set_name(g, &g->loss_name, node, "loss");
}

int clcnn_graph_set_forward_only(struct clcnn_graph *g, int on)
{
	g->forward_only = on != 0;
	return 0;
}

int clcnn_graph_set_output(struct clcnn_graph *g, const char *node)
{
	return set_name(g, &g->output_name, node, "output");
}

int clcnn_graph_want_input_grad(struct clcnn_graph *g, const char *input)
{
	for (int i = 0; i < g->ninputs; i++)
		if (!strcmp(g->inputs[i].name, input)) {
			g->inputs[i].want_grad = 1;
			return 0;
		}
	return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "no graph input named '%s'", input ? input : "(null)");
}

const char *clcnn_graph_loss_name(const struct clcnn_graph *g)
{
	if (g->loss >= 0)
		return g->nodes[g->loss].name;
	if (g->loss_name)
		return g->loss_name;
	for (int i = g->nnodes - 1; i >= 0; i--)
		if (clcnn_op_is_loss(g->nodes[i].cls))
			return g->nodes[i].name;
	return NULL;
}

const char *clcnn_graph_output_name(const struct clcnn_graph *g)
{
	if (g->output >= 0)
		return g->nodes[g->output].name;
	if (g->output_name)
		return g->output_name;
	const char *loss = clcnn_graph_loss_name(g);
	int l = loss ? graph_find_node(g, loss) : -1;
	if (l >= 0 && graph_find_node(g, g->nodes[l].in_name[0]) >= 0)
		return g->nodes[l].in_name[0];
	return g->nnodes ? g->nodes[g->nnodes - 1].name : NULL;
}

/*
 * Depth-first search for a cycle from node start, with an explicit stack (a graph may be deeper
 * than any thread's stack): path[] holds the current chain, next[] the input each level visits
 * next. On a cycle, path[0..*cycle_len) holds it, starting at the node reached twice.
 */
static int find_cycle(const struct clcnn_graph *g, int start, char *color, int *path, int *next, int *cycle_len)
{
	int depth = 0;
	path[0] = start;
	next[0] = 0;
	color[start] = 1;
	while (depth >= 0) {
		const struct graph_node *n = &g->nodes[path[depth]];
		if (next[depth] == n->nin) {
			color[path[depth--]] = 2;
			continue;
		}
		int v = n->in_ref[next[depth]++];
		if (v < g->ninputs)
			continue;
		int u = v - g->ninputs;
		if (color[u] == 1) {
			int k = depth;
			while (path[k] != u)
				k--;
			/* rotate so the cycle starts at u */
			memmove(path, path + k, (size_t)(depth - k + 1) * sizeof *path);
			*cycle_len = depth - k + 1;
			return 1;
		}
		if (!color[u]) {
			path[++depth] = u;
			next[depth] = 0;
			color[u] = 1;
		}
	}
	return 0;
}

/* Mark node and every node it reads from, with stack[] (one slot per node) instead of recursion. */
static void mark_ancestors(const struct clcnn_graph *g, int node, char *mark, int *stack)
{
	if (mark[node])
		return;
	int top = 0;
	stack[top++] = node;
	mark[node] = 1;
	while (top) {
		const struct graph_node *n = &g->nodes[stack[--top]];
		for (int j = 0; j < n->nin; j++) {
			int u = n->in_ref[j] - g->ninputs;
			if (u >= 0 && !mark[u]) {
				mark[u] = 1;
				stack[top++] = u;
			}
		}
	}
}

int graph_check(struct clcnn_graph *g)
{
	struct clcnn_context *ctx = g->ctx;
	if (!g->nnodes)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "the graph has no nodes");
	for (int i = 0; i < g->nnodes; i++) {
		struct graph_node *n = &g->nodes[i];
		for (int j = 0; j < n->nin; j++) {
			n->in_ref[j] = graph_find_value(g, n->in_name[j]);
			if (n->in_ref[j] < 0) {
				const char *o = n->in_origin[j] ? n->in_origin[j] : graph_node_origin(g, i);
				return clcnn_fail(ctx, CLCNN_ERR_INVALID, "%s%snode '%s' (%s): unknown input '%s'", o,
						  graph_origin_sep(o), n->name, n->type, n->in_name[j]);
			}
		}
	}
	size_t nn = (size_t)(unsigned)g->nnodes;
	char *color = calloc(nn, 1);
	int *path = calloc(nn + 1, sizeof *path), *next = calloc(nn + 1, sizeof *next);
	if (!color || !path || !next) {
		free(color);
		free(path);
		free(next);
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	for (int i = 0; i < g->nnodes; i++) {
		int len = 0;
		if (color[i] || !find_cycle(g, i, color, path, next, &len))
			continue;
		/* path lists consumers before their inputs: reverse it into data-flow order, starting at
		 * the node declared first, which is where the message points */
		int first = 0;
		for (int k = 1; k < len; k++)
			if (path[k] < path[first])
				first = k;
		char chain[1024];
		size_t cl = 0;
		for (int k = 0; k <= len && cl < sizeof chain; k++)
			cl += (size_t)snprintf(chain + cl, sizeof chain - cl, "%s%s", k ? " -> " : "",
					       g->nodes[path[((first - k) % len + len) % len]].name);
		const char *o = graph_node_origin(g, path[first]);
		int rc = clcnn_fail(ctx, CLCNN_ERR_INVALID, "%s%scycle: %s", o, graph_origin_sep(o), chain);
		free(color);
		free(path);
		free(next);
		return rc;
	}
	free(path);

	g->loss = -1;
	if (g->loss_name) {
		g->loss = graph_find_node(g, g->loss_name);
		if (g->loss < 0) {
			free(color);
			free(next);
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "loss: no node named '%s'", g->loss_name);
		}
	} else {
		for (int i = g->nnodes - 1; i >= 0 && g->loss < 0; i--)
			if (clcnn_op_is_loss(g->nodes[i].cls))
				g->loss = i;
	}
	g->output = -1;
	if (g->output_name) {
		g->output = graph_find_node(g, g->output_name);
		if (g->output < 0) {
			free(color);
			free(next);
			return clcnn_fail(ctx, CLCNN_ERR_INVALID, "output: no node named '%s'", g->output_name);
		}
	} else if (g->loss >= 0 && g->nodes[g->loss].in_ref[0] >= g->ninputs) {
		g->output = g->nodes[g->loss].in_ref[0] - g->ninputs;
	} else {
		g->output = g->nnodes - 1;
	}
	memset(color, 0, nn);
	if (g->loss >= 0)
		mark_ancestors(g, g->loss, color, next);
	mark_ancestors(g, g->output, color, next);
	for (int i = 0; i < g->nnodes; i++) {
		if (color[i])
			continue;
		const char *o = graph_node_origin(g, i);
		int rc;
		if (g->loss >= 0)
			rc = clcnn_fail(
				ctx, CLCNN_ERR_INVALID,
				"%s%snode '%s' (%s) is dangling: its output reaches neither the loss '%s' nor the "
				"output '%s' (choose them with @loss / @output, or clcnn_graph_set_loss/_output)",
				o, graph_origin_sep(o), g->nodes[i].name, g->nodes[i].type, g->nodes[g->loss].name,
				g->nodes[g->output].name);
		else
			rc = clcnn_fail(ctx, CLCNN_ERR_INVALID,
					"%s%snode '%s' (%s) is dangling: its output does not reach the output '%s' "
					"(choose it with @output, or clcnn_graph_set_output)",
					o, graph_origin_sep(o), g->nodes[i].name, g->nodes[i].type,
					g->nodes[g->output].name);
		free(color);
		free(next);
		return rc;
	}
	free(color);
	free(next);
	/* the output was found through the loss; from here on the plan sees no loss and no backward */
	if (g->forward_only)
		g->loss = -1;
	return 0;
}

/* Kahn's algorithm, taking the earliest declared ready node first so that a chain keeps file order. */
static int schedule(struct clcnn_graph *g)
{
	free(g->order);
	g->order = malloc((size_t)g->nnodes * sizeof *g->order);
	char *done = calloc((size_t)g->nnodes, 1);
	if (!g->order || !done) {
		free(done);
		return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	}
	for (int k = 0; k < g->nnodes; k++) {
		int pick = -1;
		for (int i = 0; i < g->nnodes && pick < 0; i++) {
			if (done[i])
				continue;
			int ready = 1;
			for (int j = 0; j < g->nodes[i].nin; j++) {
				int v = g->nodes[i].in_ref[j];
				ready &= v < g->ninputs || done[v - g->ninputs];
			}
			if (ready)
				pick = i;
		}
		/* graph_check rejected cycles, so some node is always ready */
		done[pick] = 1;
		g->order[k] = pick;
	}
	free(done);
	return 0;
}

/* A value larger than a tensor may be: the message names it and the batch. */
static int too_large(struct clcnn_graph *g, int v, const struct clcnn_shape *shape, const char *param, int batch)
{
	char b[64], type[80] = "";
	const char *o = v < g->ninputs ? "" : graph_node_origin(g, v - g->ninputs);
	if (v >= g->ninputs)
		snprintf(type, sizeof type, " (%s)", g->nodes[v - g->ninputs].type);
	return clcnn_fail(
		g->ctx, CLCNN_ERR_INVALID,
		"%s%s%s '%s'%s: %s%s%s%s holds more than %d elements, the most a tensor can have (at batch %d)", o,
		graph_origin_sep(o), v < g->ninputs ? "input" : "node", graph_value_name(g, v), type,
		param            ? "parameter "
		: v < g->ninputs ? ""
				 : "output ",
		param ? param : "", param ? " " : "", clcnn_shape_str(shape, b, sizeof b), INT_MAX, batch);
}

int graph_infer(struct clcnn_graph *g, int batch)
{
	struct clcnn_context *ctx = g->ctx;
	if (batch < 1)
		return clcnn_fail(ctx, CLCNN_ERR_INVALID, "batch size %d: must be at least 1", batch);
	build_release(g);
	int rc = graph_check(g);
	if (!rc)
		rc = schedule(g);
	if (rc)
		return rc;
	g->values = calloc((size_t)graph_nvalues(g), sizeof *g->values);
	if (!g->values)
		return clcnn_fail(ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	for (int i = 0; i < g->ninputs && !rc; i++) {
		struct clcnn_shape s = {g->inputs[i].shape.ndim + 1, {batch, 0, 0, 0}};
		for (int d = 0; d < g->inputs[i].shape.ndim; d++)
			s.d[d + 1] = g->inputs[i].shape.d[d];
		g->values[i].shape = s;
		if (count_within_int(&s) < 0)
			rc = too_large(g, i, &s, NULL, batch);
	}
	/* each output is checked before a consumer sees it, so setup() code can multiply input dims in int */
	for (int k = 0; k < g->nnodes && !rc; k++) {
		int i = g->order[k];
		struct graph_node *n = &g->nodes[i];
		struct clcnn_shape in[CLCNN_OP_MAX_IN];
		for (int j = 0; j < n->nin; j++)
			in[j] = g->values[n->in_ref[j]].shape;
		char err[1024];
		rc = clcnn_op_new(n->type, n->args, n->nin, in, &n->op, err, sizeof err);
		if (rc) {
			const char *o = graph_node_origin(g, i);
			char shapes[256] = "";
			size_t len = 0;
			for (int j = 0; j < n->nin && len < sizeof shapes; j++) {
				char s[64];
				len += (size_t)snprintf(shapes + len, sizeof shapes - len, "%s%s %s", j ? ", " : "",
							n->in_name[j], clcnn_shape_str(&in[j], s, sizeof s));
			}
			rc = clcnn_fail(ctx, rc, "%s%snode '%s' (%s): %s (inputs: %s)", o, graph_origin_sep(o), n->name,
					n->type, err, shapes);
			break;
		}
		g->values[g->ninputs + i].shape = n->op->out;
		if (count_within_int(&n->op->out) < 0)
			rc = too_large(g, g->ninputs + i, &n->op->out, NULL, batch);
		for (int j = 0; j < n->op->nparam && !rc; j++)
			if (count_within_int(&n->op->param[j].shape) < 0)
				rc = too_large(g, g->ninputs + i, &n->op->param[j].shape, n->op->param[j].name, batch);
	}
	for (int i = 0; i < g->nnodes && !rc; i++)
		rc = graph_check_shared(g, i);
	if (rc) {
		build_release(g);
		return rc;
	}
	for (int v = 0; v < graph_nvalues(g); v++)
		g->values[v].bytes = clcnn_shape_count(&g->values[v].shape) * sizeof(float);
	return 0;
}

int clcnn_graph_build(struct clcnn_graph *g, int batch)
{
	struct clcnn_context *ctx = g->ctx;
	int rc = graph_infer(g, batch);
	if (rc)
		return rc;
	for (int k = 0; k < g->nnodes && !rc; k++) {
		struct graph_node *n = &g->nodes[g->order[k]];
		rc = clcnn_op_prepare(n->op, ctx);
		if (rc) {
			char *msg = clcnn_strdup(clcnn_context_error(ctx));
			const char *o = n->origin ? n->origin : "";
			rc = clcnn_fail(ctx, rc, "%s%snode '%s' (%s): %s", o, graph_origin_sep(o), n->name, n->type,
					msg ? msg : "");
			free(msg);
		}
	}
	if (!rc)
		rc = graph_params_create(g);
	g->batch = batch;
	if (!rc)
		rc = graph_plan(g);
	if (rc)
		build_release(g);
	/* the kernels prepare() compiled are ready: a progress display may end its wait here */
	if (!rc && clcnn_context_has_device(ctx))
		clcnn_progress_note(ctx, CLCNN_PROGRESS_DONE, NULL);
	return rc;
}

int clcnn_graph_batch(const struct clcnn_graph *g)
{
	return g->batch;
}

int clcnn_graph_node_count(const struct clcnn_graph *g)
{
	return g->nnodes;
}

int clcnn_graph_node_info(const struct clcnn_graph *g, int i, const char **name, const char **op, int *ndim,
			  int dims[CLCNN_MAX_DIMS])
{
	if (i < 0 || i >= g->nnodes)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "node index %d out of range (0..%d)", i, g->nnodes - 1);
	const struct graph_node *n = &g->nodes[g->order ? g->order[i] : i];
	if (name)
		*name = n->name;
	if (op)
		*op = n->type;
	if (ndim)
		*ndim = n->op ? n->op->out.ndim : 0;
	if (dims)
		for (int d = 0; d < CLCNN_MAX_DIMS; d++)
			dims[d] = n->op && d < n->op->out.ndim ? n->op->out.d[d] : 0;
	return 0;
}

int clcnn_graph_input_count(const struct clcnn_graph *g)
{
	return g->ninputs;
}

int clcnn_graph_input_info(const struct clcnn_graph *g, int i, const char **name, int *ndim, int dims[CLCNN_MAX_DIMS])
{
	if (i < 0 || i >= g->ninputs)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "input index %d out of range (0..%d)", i, g->ninputs - 1);
	if (name)
		*name = g->inputs[i].name;
	if (ndim)
		*ndim = g->inputs[i].shape.ndim;
	if (dims)
		for (int d = 0; d < CLCNN_MAX_DIMS; d++)
			dims[d] = d < g->inputs[i].shape.ndim ? g->inputs[i].shape.d[d] : 0;
	return 0;
}

uint64_t clcnn_graph_hash(const struct clcnn_graph *g)
{
	uint64_t h = clcnn_hash_str(CLCNN_HASH_INIT, "clcnn-graph-1");
	for (int i = 0; i < g->ninputs; i++) {
		h = clcnn_hash_str(h, g->inputs[i].name);
		h = clcnn_hash(h, &g->inputs[i].shape, sizeof g->inputs[i].shape);
	}
	for (int i = 0; i < g->nnodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		h = clcnn_hash_str(h, n->name);
		h = clcnn_hash_str(h, n->type);
		/* arguments in canonical form, so spacing and defaults spelled out do not matter */
		char canon[4096] = "", err[256];
		void *a = calloc(1, n->cls->args_size ? n->cls->args_size : 1);
		if (a && !clcnn_args_defaults(n->cls, a, err, sizeof err) &&
		    !clcnn_args_parse(n->cls, a, n->args, err, sizeof err, NULL))
			clcnn_args_format(n->cls, a, 1, canon, sizeof canon);
		if (a)
			clcnn_args_free(n->cls, a);
		free(a);
		h = clcnn_hash_str(h, canon);
		if (n->share >= 0) /* only then: the hashes of graphs without sharing stay what they were */
			h = clcnn_hash_str(clcnn_hash_str(h, "share"), g->nodes[n->share].name);
		for (int j = 0; j < n->nin; j++)
			h = clcnn_hash_str(h, n->in_name[j]);
	}
	return h;
}
