/* What each node of a graph costs and sees (cost.c, docs/cost.md), for the text views of describe.c. */
#ifndef CLCNN_GRAPH_COST_H
#define CLCNN_GRAPH_COST_H

#include "graph/graph-private.h"

/*
 * The cost of every node into out[0..nnodes) in schedule order, and the input fields into
 * in[0..ninputs) (only the rf_* and shape members; in may be NULL). Fails with CLCNN_ERR_INVALID
 * before shape inference and CLCNN_ERR_NO_MEMORY.
 */
int graph_cost_nodes(const struct clcnn_graph *g, struct clcnn_node_cost *out, struct clcnn_node_cost *in);
/* Totals over out (from graph_cost_nodes): parameters of shared tensors once. */
struct clcnn_graph_cost graph_cost_total(const struct clcnn_graph *g, const struct clcnn_node_cost *out);

#endif
