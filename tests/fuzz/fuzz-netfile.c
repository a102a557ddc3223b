/*
 * Netfile parser and everything after it that needs no device: statements, key tables, graph
 * checks (unknown inputs, cycles, dangling nodes), then graph_infer (the host half of
 * clcnn_graph_build: schedule and every op's setup) at two batch sizes, the text and DOT views and
 * the structure hash.
 *
 * The parser only records messages in its context, so the target runs on a host-only context (a
 * zeroed struct clcnn_context: no platform, no queue) and never loads an OpenCL driver.
 */
#include <string.h>

#include "clcnn/graph.h"
#include "fuzz.h"
#include "graph/graph-private.h"

static struct clcnn_context host_ctx;

/* Shape inference as clcnn_graph_build does it (graph_infer is its host half), then its promises. */
static void infer_shapes(struct clcnn_graph *g, int batch)
{
	if (graph_infer(g, batch)) {
		FUZZ_ASSERT(clcnn_context_error(&host_ctx)[0], "graph_infer failed without a message");
		return;
	}
	for (int k = 0; k < g->nnodes; k++) {
		const struct graph_node *n = &g->nodes[g->order[k]];
		const struct clcnn_op *op = n->op;
		FUZZ_ASSERT(op, "node %s has no op after graph_infer", n->name);
		/* every input is computed before its consumer */
		for (int j = 0; j < n->nin; j++) {
			int v = n->in_ref[j], seen = v < g->ninputs;
			for (int q = 0; q < k && !seen; q++)
				seen = g->order[q] == v - g->ninputs;
			FUZZ_ASSERT(seen, "node %s runs before its input %s", n->name, n->in_name[j]);
		}
		FUZZ_ASSERT(op->out.ndim >= 0 && op->out.ndim <= 4, "%s: output ndim %d", n->name, op->out.ndim);
		size_t c = 1;
		for (int d = 0; d < op->out.ndim; d++) {
			FUZZ_ASSERT(op->out.d[d] > 0, "%s (%s): output dim %d is %d", n->name, n->type, d,
				    op->out.d[d]);
			c *= (size_t)op->out.d[d];
		}
		FUZZ_ASSERT(c <= 2147483647u, "%s: output of %zu elements accepted", n->name, c);
		for (int j = 0; j < op->nparam; j++)
			for (int d = 0; d < op->param[j].shape.ndim; d++)
				FUZZ_ASSERT(op->param[j].shape.d[d] > 0, "%s: parameter %s dim %d is %d", n->name,
					    op->param[j].name, d, op->param[j].shape.d[d]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* clcnn_graph_load refuses NUL bytes; the parser sees text up to the first one */
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct clcnn_graph *g = NULL;
	int rc = clcnn_graph_parse(&host_ctx, text, "fuzz.net", &g);
	free(text);
	if (rc) {
		FUZZ_ASSERT(!g, "failed parse returned a graph");
		FUZZ_ASSERT(rc == CLCNN_ERR_FORMAT || rc == CLCNN_ERR_NO_MEMORY, "status %d", rc);
		FUZZ_ASSERT(!strncmp(clcnn_context_error(&host_ctx), "fuzz.net", 8), "message lacks the file: %s",
			    clcnn_context_error(&host_ctx));
		return 0;
	}
	infer_shapes(g, 1);
	infer_shapes(g, 3);
	char *t = NULL;
	if (!clcnn_graph_describe(g, 0, &t))
		free(t);
	if (!clcnn_graph_dot(g, &t))
		free(t);
	(void)clcnn_graph_hash(g);
	clcnn_graph_free(g);
	return 0;
}

/* Release the message buffer at exit so that LeakSanitizer stays quiet. */
static void release(void)
{
	free(host_ctx.error);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	atexit(release);
	return 0;
}
