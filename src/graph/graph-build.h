/*
 * The narrow interface for code outside src/graph that builds graphs (the netfile parser in
 * src/io). Everything else such a builder needs is the public API of clcnn/graph.h; these are the
 * few things that API cannot say:
 *  - where each declaration was written ("file:line:col"), so that graph_check's messages point
 *    at the offending token of a file instead of only naming the node;
 *  - the DAG checks of clcnn_graph_build without building (no device, no batch size), so that a
 *    parser can report unknown inputs, cycles and dangling nodes before anyone builds.
 * The layout of struct clcnn_graph stays private to src/graph (graph-private.h).
 */
#ifndef CLCNN_GRAPH_BUILD_H
#define CLCNN_GRAPH_BUILD_H

#include "clcnn/graph.h"

/*
 * Origins of node `node` (index in declaration order, 0 .. clcnn_graph_node_count - 1) and of
 * each of its input names (in_origin may be NULL, and so may its items). The strings are copied.
 * Returns 0 or CLCNN_ERR_NO_MEMORY (the node then keeps the origins it had).
 */
int graph_set_origin(struct clcnn_graph *g, int node, const char *origin, char *const *in_origin);
/* Origin of graph input `input` (declaration order). Returns 0 or CLCNN_ERR_NO_MEMORY (nothing changed). */
int graph_set_input_origin(struct clcnn_graph *g, int input, const char *origin);

/*
 * Resolve input names, reject unknown inputs, cycles and dangling nodes, choose the loss and output.
 * Messages are prefixed with the origin of the offending token when one was set. Status
 * CLCNN_ERR_INVALID (or CLCNN_ERR_NO_MEMORY).
 */
int graph_check(struct clcnn_graph *g);

/*
 * Give parameter `name` ("<node>.<spec>") these count values when the first clcnn_graph_build
 * creates the parameters, after their initialisation (as if clcnn_graph_load_weights ran then): an
 * imported ONNX model's initializers. The data are copied. The build fails naming the parameter
 * when none has that name or its element count differs. Returns 0 or CLCNN_ERR_NO_MEMORY.
 */
int graph_set_pending_param(struct clcnn_graph *g, const char *name, const float *data, size_t count);

#endif
