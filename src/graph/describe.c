/*
 * Text views of a graph: the node table with shapes, parameters, FLOPs and receptive fields
 * (cost.c), the memory plan, DOT.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/cost.h"

#define CAT(...) \
	do { \
		if (clcnn_strcatf(&buf, &len, &cap, __VA_ARGS__)) \
			goto oom; \
	} while (0)

static const char *mib(size_t bytes, char *buf, size_t n)
{
	if (bytes >= 1048576)
		snprintf(buf, n, "%.2f MiB", (double)bytes / 1048576.0);
	else
		snprintf(buf, n, "%.1f KiB", (double)bytes / 1024.0);
	return buf;
}

/* Why value v lives as long as it does, for the plan's table. */
static const char *life_str(const struct clcnn_graph *g, int v, char *buf, size_t n)
{
	const struct graph_value *x = &g->values[v];
	int node = v - g->ninputs, reader = x->last_reader;
	const char *rn = reader >= 0 ? g->nodes[reader].name : "";
	if (v < g->ninputs)
		snprintf(buf, n, "kept (graph input)");
	else if (x->kept)
		snprintf(buf, n, "kept (%s)",
			 g->keep_all         ? "clcnn_graph_keep: all"
			 : node == g->loss   ? "the loss"
			 : node == g->output ? "the output"
					     : "clcnn_graph_keep");
	else if (x->t_end > g->nnodes)
		snprintf(buf, n, "kept for backward, to %s's backward", rn);
	else if (reader >= 0)
		snprintf(buf, n, "freed after forward, last read by %s", rn);
	else
		snprintf(buf, n, "freed after forward, never read");
	return buf;
}

#undef CAT
#define CAT(...) \
	do { \
		if (clcnn_strcatf(bufp, lenp, capp, __VA_ARGS__)) \
			return -1; \
	} while (0)

/* The memory plan of a built graph (plan.c) appended to *bufp. */
static int describe_plan(const struct clcnn_graph *g, char **bufp, size_t *lenp, size_t *capp)
{
	char b1[32], b2[32], b3[32], b4[32], why[160];
	struct clcnn_graph_plan_info pi;
	clcnn_graph_plan_info(g, &pi);
	CAT("plan (batch %d): allocated %s; peak forward %s, backward %s, optimizer step %s (live tensors, "
	    "parameters, state, workspace; optimizer state not included)\n",
	    g->batch, mib(pi.peak_bytes, b1, sizeof b1), mib(pi.forward_peak, b2, sizeof b2),
	    mib(pi.backward_peak, b3, sizeof b3), mib(pi.step_peak, b4, sizeof b4));
	CAT("  activations %s if every value were kept; %s kept for backward; %d node%s in place; %d fused\n",
	    mib(pi.all_values_bytes, b1, sizeof b1), mib(pi.kept_for_backward, b2, sizeof b2), pi.inplace_nodes,
	    pi.inplace_nodes == 1 ? "" : "s", pi.fused_nodes);
	CAT("  pool        %s in %d reused buffers (activations and their gradients, by liveness over forward and "
	    "backward)\n",
	    mib(pi.pool_bytes, b1, sizeof b1), pi.pool_buffers);
	if (g->grad_total)
		CAT("  shared      %s (gradient temporaries of shared parameters)\n",
		    mib(g->grad_total, b1, sizeof b1));
	CAT("  parameters  %s (values + gradients)\n", mib(g->param_total, b1, sizeof b1));
	CAT("  state       %s, scratch %s (shared)\n", mib(g->state_total, b1, sizeof b1),
	    mib(g->scratch_bytes, b2, sizeof b2));
	for (int t = 0; t < g->nslots; t++) {
		CAT("  pool buffer %d (%s):", t, mib(g->slots[t].bytes, b1, sizeof b1));
		for (int v = 0; v < graph_nvalues(g); v++)
			if (g->values[v].slot == t)
				CAT(" %s", graph_value_name(g, v));
		for (int v = 0; v < graph_nvalues(g); v++)
			if (g->values[v].grad_planned && g->values[v].grad_slot == t)
				CAT(" d%s", graph_value_name(g, v));
		for (int i = 0; i < g->nnodes; i++)
			for (int j = 0; j < g->nodes[i].nin; j++)
				if (g->nodes[i].acc_slot[j] == t + 1)
					CAT(" (%s->%s sum)", g->nodes[i].in_name[j], g->nodes[i].name);
		CAT("\n");
	}
	CAT("  values (dX: gradient of X):\n");
	for (int v = 0; v < graph_nvalues(g); v++) {
		int node = v - g->ninputs;
		int inplace = node >= 0 && g->nodes[node].inplace, fused = node >= 0 && g->nodes[node].fused_by >= 0;
		const char *how = inplace ? "in place over " : fused ? "fused into " : "";
		const char *over = inplace ? g->nodes[node].in_name[0]
				   : fused ? g->nodes[g->nodes[node].fused_by].name
					   : "";
		CAT("    %-14s %10s  buffer %-3d %s%s%s%s\n", graph_value_name(g, v),
		    mib(g->values[v].bytes, b1, sizeof b1), g->values[v].slot, how, over, *how ? ", " : "",
		    life_str(g, v, why, sizeof why));
	}
	CAT("  backward:");
	for (int k = g->nnodes - 1; k >= 0; k--)
		if (g->nodes[g->order[k]].run_backward)
			CAT(" %s", g->nodes[g->order[k]].name);
	CAT("\n");
	return 0;
}

#undef CAT
#define CAT(...) \
	do { \
		if (clcnn_strcatf(&buf, &len, &cap, __VA_ARGS__)) \
			goto oom; \
	} while (0)

/* "5x5/1", "5x7/1x2"; an axis that sees the whole input is "all" ("whole" when both do); "-" none. */
static const char *field_str(const struct clcnn_node_cost *c, char *buf, size_t n)
{
	if (!c->rf_known)
		snprintf(buf, n, "-");
	else if (c->rf_whole[0] && c->rf_whole[1])
		snprintf(buf, n, "whole");
	else if (c->rf_jump[0] == c->rf_jump[1] && !c->rf_whole[0] && !c->rf_whole[1])
		snprintf(buf, n, "%lldx%lld/%lld", c->rf_size[0], c->rf_size[1], c->rf_jump[0]);
	else {
		char a[2][24], j[2][24];
		for (int i = 0; i < 2; i++) {
			if (c->rf_whole[i]) {
				snprintf(a[i], sizeof a[i], "all");
				snprintf(j[i], sizeof j[i], "-");
			} else {
				snprintf(a[i], sizeof a[i], "%lld", c->rf_size[i]);
				snprintf(j[i], sizeof j[i], "%lld", c->rf_jump[i]);
			}
		}
		snprintf(buf, n, "%sx%s/%sx%s", a[0], a[1], j[0], j[1]);
	}
	return buf;
}

/* 235200 -> "235.2 k" (for DOT labels and the totals line) */
static const char *si(double v, char *buf, size_t n)
{
	static const char *const unit[] = {" ", " k", " M", " G", " T", " P"};
	int u = 0;
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	snprintf(buf, n, u ? "%.1f%s" : "%.0f%s", v, unit[u]);
	return buf;
}

/* Costs of a built graph into *nodes (schedule order) and *inputs; both NULL when not built. */
static int costs(const struct clcnn_graph *g, struct clcnn_node_cost **nodes, struct clcnn_node_cost **inputs)
{
	*nodes = *inputs = NULL;
	if (!g->batch)
		return 0;
	*nodes = calloc(g->nnodes ? (size_t)g->nnodes : 1, sizeof **nodes);
	*inputs = calloc(g->ninputs ? (size_t)g->ninputs : 1, sizeof **inputs);
	int rc = *nodes && *inputs ? graph_cost_nodes(g, *nodes, *inputs)
				   : clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
	if (rc) {
		free(*nodes);
		free(*inputs);
		*nodes = *inputs = NULL;
	}
	return rc;
}

int clcnn_graph_describe(const struct clcnn_graph *g, int with_plan, char **text)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char s[64], b1[32], f[112];
	*text = NULL;
	struct clcnn_node_cost *cost, *icost;
	int rc = costs(g, &cost, &icost);
	if (rc)
		return rc;
	size_t total = 0, trainable = 0;
	for (int i = 0; i < g->nparams; i++) {
		total += g->params[i].count;
		trainable += g->params[i].spec.kind == CLCNN_PARAM_WEIGHT ? g->params[i].count : 0;
	}
	CAT("graph: %d inputs, %d nodes", g->ninputs, g->nnodes);
	if (g->batch)
		CAT(", batch %d, %zu parameters (%zu trainable)", g->batch, total, trainable);
	CAT("\n");
	const char *loss = clcnn_graph_loss_name(g), *out = clcnn_graph_output_name(g);
	CAT("loss: %s, output: %s\n", loss ? loss : "(none)", out ? out : "(none)");
	if (cost)
		CAT("  %-14s %-14s %-24s %-16s %9s %14s  %s\n", "node", "op", "inputs", "output", "params", "FLOPs",
		    "field/jump");
	for (int i = 0; i < g->ninputs; i++) {
		struct clcnn_shape sh = g->batch ? g->values[i].shape : g->inputs[i].shape;
		CAT("  %-14s %-14s %-24s %s", g->inputs[i].name, "input", "", clcnn_shape_str(&sh, s, sizeof s));
		size_t sl = strlen(s);
		if (cost && icost[i].rf_known) /* under the field column of the node lines */
			CAT("%*s%s", (int)(sl < 16 ? 16 - sl : 0) + 27, "", field_str(&icost[i], f, sizeof f));
		CAT("\n");
	}
	for (int k = 0; k < g->nnodes; k++) {
		const struct graph_node *n = &g->nodes[g->order && g->batch ? g->order[k] : k];
		char ins[256] = "";
		size_t il = 0;
		for (int j = 0; j < n->nin && il < sizeof ins; j++)
			il += (size_t)snprintf(ins + il, sizeof ins - il, "%s%s", j ? "," : "", n->in_name[j]);
		CAT("  %-14s %-14s %-24s %-16s", n->name, n->type, ins,
		    n->op ? clcnn_shape_str(&n->op->out, s, sizeof s) : "?");
		if (cost)
			CAT(" %9zu %14.0f  %-*s", cost[k].params, cost[k].flops, n->args[0] || n->share >= 0 ? 12 : 0,
			    field_str(&cost[k], f, sizeof f));
		if (n->share >= 0)
			CAT("  shares %s", g->nodes[n->share].name); /* its parameters count once, at the owner */
		if (n->args[0])
			CAT("  [%s]", n->args);
		CAT("\n");
	}
	if (cost) {
		struct clcnn_graph_cost t = graph_cost_total(g, cost);
		CAT("  %-14s %-14s %-24s %-16s %9zu %14.0f\n", "total", "", "", "", t.params, t.flops);
		CAT("forward: %sFLOPs at batch %d (eval mode; a multiply-add counts 2; docs/cost.md), %zu parameters "
		    "(%zu trainable)\n",
		    si(t.flops, b1, sizeof b1), g->batch, t.params, t.trainable);
	}
	if (with_plan && g->batch && describe_plan(g, &buf, &len, &cap))
		goto oom;
	free(cost);
	free(icost);
	*text = buf;
	return 0;
oom:
	free(cost);
	free(icost);
	free(buf);
	return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
}

/* A built graph's nodes carry their parameters, FLOPs and field in the label (lines left out when 0 / none). */
int clcnn_graph_dot(const struct clcnn_graph *g, char **text)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char s[64], f[112];
	*text = NULL;
	struct clcnn_node_cost *cost, *icost;
	int rc = costs(g, &cost, &icost);
	if (rc)
		return rc;
	CAT("digraph clcnn {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
	for (int i = 0; i < g->ninputs; i++) {
		struct clcnn_shape sh = g->batch ? g->values[i].shape : g->inputs[i].shape;
		CAT("  \"%s\" [shape=ellipse, label=\"%s\\ninput %s\"];\n", g->inputs[i].name, g->inputs[i].name,
		    clcnn_shape_str(&sh, s, sizeof s));
	}
	for (int i = 0; i < g->nnodes; i++) {
		const struct graph_node *n = &g->nodes[i];
		CAT("  \"%s\" [label=\"%s\\n%s", n->name, n->name, n->type);
		if (n->op)
			CAT(" %s", clcnn_shape_str(&n->op->out, s, sizeof s));
		for (int k = 0; cost && k < g->nnodes; k++) {
			const struct clcnn_node_cost *c = &cost[k];
			if (c->name != n->name)
				continue;
			if (c->shares)
				CAT("\\nshares %s", c->shares);
			else if (c->params)
				CAT("\\n%zu params", c->params);
			if (c->flops > 0)
				CAT("\\n%sFLOPs", si(c->flops, s, sizeof s));
			if (c->rf_known)
				CAT("\\nfield %s", field_str(c, f, sizeof f));
		}
		CAT("\"%s];\n", clcnn_op_is_loss(n->cls) ? ", style=bold" : "");
		for (int j = 0; j < n->nin; j++)
			CAT("  \"%s\" -> \"%s\";\n", n->in_name[j], n->name);
	}
	CAT("}\n");
	free(cost);
	free(icost);
	*text = buf;
	return 0;
oom:
	free(cost);
	free(icost);
	free(buf);
	return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
}
