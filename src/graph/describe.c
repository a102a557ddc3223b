/* Text views of a graph: the node table with shapes and parameter counts, the memory plan, DOT. */
#include <stdlib.h>
#include <string.h>

#include "graph/graph-private.h"

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

int clcnn_graph_describe(const struct clcnn_graph *g, int with_plan, char **text)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char s[64], b1[32];
	*text = NULL;
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
	for (int i = 0; i < g->ninputs; i++) {
		struct clcnn_shape sh = g->batch ? g->values[i].shape : g->inputs[i].shape;
		CAT("  %-14s %-14s %-24s %s\n", g->inputs[i].name, "input", "", clcnn_shape_str(&sh, s, sizeof s));
	}
	for (int k = 0; k < g->nnodes; k++) {
		const struct graph_node *n = &g->nodes[g->order && g->batch ? g->order[k] : k];
		char ins[256] = "";
		size_t il = 0;
		for (int j = 0; j < n->nin && il < sizeof ins; j++)
			il += (size_t)snprintf(ins + il, sizeof ins - il, "%s%s", j ? "," : "", n->in_name[j]);
		size_t np = 0;
		if (n->op)
			for (int j = 0; j < n->op->nparam; j++)
				np += clcnn_shape_count(&n->op->param[j].shape);
		CAT("  %-14s %-14s %-24s %-16s", n->name, n->type, ins,
		    n->op ? clcnn_shape_str(&n->op->out, s, sizeof s) : "?");
		if (n->share >= 0)
			CAT(" shares %s", g->nodes[n->share].name); /* counted once, at the owner */
		else if (np)
			CAT(" %zu params", np);
		if (n->args[0])
			CAT("  [%s]", n->args);
		CAT("\n");
	}
	if (with_plan && g->batch) {
		CAT("plan (batch %d): peak %s\n", g->batch, mib(clcnn_graph_peak_bytes(g), b1, sizeof b1));
		CAT("  activations %s (every node output, kept for backward)\n", mib(g->act_total, b1, sizeof b1));
		CAT("  gradients   %s in %d reused buffers (liveness over the backward schedule)\n",
		    mib(g->grad_total, b1, sizeof b1), g->nslots);
		CAT("  parameters  %s (values + gradients)\n", mib(g->param_total, b1, sizeof b1));
		CAT("  state       %s, scratch %s (shared)\n", mib(g->state_total, b1, sizeof b1),
		    mib(g->scratch_bytes, s, sizeof s));
		for (int t = 0; t < g->nslots; t++) {
			CAT("  grad buffer %d (%s):", t, mib(g->slots[t].bytes, b1, sizeof b1));
			for (int v = 0; v < graph_nvalues(g); v++)
				if (g->values[v].grad_planned && g->values[v].grad_slot == t)
					CAT(" %s", graph_value_name(g, v));
			for (int i = 0; i < g->nnodes; i++)
				for (int j = 0; j < g->nodes[i].nin; j++)
					if (g->nodes[i].acc_slot[j] == t + 1)
						CAT(" (%s->%s sum)", g->nodes[i].in_name[j], g->nodes[i].name);
			CAT("\n");
		}
		CAT("  backward:");
		for (int k = g->nnodes - 1; k >= 0; k--)
			if (g->nodes[g->order[k]].run_backward)
				CAT(" %s", g->nodes[g->order[k]].name);
		CAT("\n");
	}
	*text = buf;
	return 0;
oom:
	free(buf);
	return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
}

int clcnn_graph_dot(const struct clcnn_graph *g, char **text)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	char s[64];
	*text = NULL;
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
		CAT("\"%s];\n", clcnn_op_is_loss(n->cls) ? ", style=bold" : "");
		for (int j = 0; j < n->nin; j++)
			CAT("  \"%s\" -> \"%s\";\n", n->in_name[j], n->name);
	}
	CAT("}\n");
	*text = buf;
	return 0;
oom:
	free(buf);
	return clcnn_fail(g->ctx, CLCNN_ERR_NO_MEMORY, "out of host memory");
}
