/*
 * Weight sharing (share=OWNER, docs/netfile.md "Shared weights"): reading the key from a node's
 * arguments, and the check that a sharing node's inputs give parameters of its owner's shapes. The
 * parameters themselves (params.c), the summed gradients (plan.c, exec.c) use node->share.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "graph/graph-private.h"

/*
 * "share=OWNER" among a node's arguments: the node is OWNER's layer applied to other inputs (one
 * torch.nn module called twice), so it takes the owner's type, arguments and parameters. Returns 1
 * and the owner's name when the arguments name it, with the first other key in other ("" none).
 */
int graph_find_share(const char *args, char *owner, size_t n, char *other, size_t on)
{
	const char *p = args ? args : "";
	int found = 0;
	owner[0] = other[0] = 0;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		const char *start = p, *eq = NULL;
		int depth = 0;
		for (; *p && (depth > 0 || *p != ','); p++) {
			depth += *p == '(';
			depth -= *p == ')';
			if (*p == '=' && !eq)
				eq = p;
		}
		if (p == start)
			break;
		char key[128];
		graph_trim_copy(key, sizeof key, start, (size_t)((eq ? eq : p) - start));
		if (!strcmp(key, "share") && eq) {
			graph_trim_copy(owner, n, eq + 1, (size_t)(p - eq - 1));
			found = 1;
		} else if (!other[0]) {
			snprintf(other, on, "%s", key);
		}
	}
	return found;
}

/* A node that shares another's parameters must get parameters of the same shapes from its inputs. */
int graph_check_shared(struct clcnn_graph *g, int i)
{
	const struct graph_node *n = &g->nodes[i];
	if (n->share < 0)
		return 0;
	const struct graph_node *o = &g->nodes[n->share];
	const char *at = graph_node_origin(g, i);
	if (!o->op->nparam)
		return clcnn_fail(g->ctx, CLCNN_ERR_INVALID, "%s%snode '%s' (%s): share=%s, but '%s' has no parameters",
				  at, graph_origin_sep(at), n->name, n->type, o->name, o->name);
	for (int j = 0; j < n->op->nparam; j++) {
		char a[64], b[64];
		if (!clcnn_shape_equal(&n->op->param[j].shape, &o->op->param[j].shape))
			return clcnn_fail(g->ctx, CLCNN_ERR_INVALID,
					  "%s%snode '%s' (%s): share=%s, but its input makes %s %s where '%s' has %s", at,
					  graph_origin_sep(at), n->name, n->type, o->name, n->op->param[j].name,
					  clcnn_shape_str(&n->op->param[j].shape, a, sizeof a), o->name,
					  clcnn_shape_str(&o->op->param[j].shape, b, sizeof b));
	}
	return 0;
}
