/*
 * clcnn graph: the DAG of a netfile with shapes, parameters, forward FLOPs and receptive fields
 * (clcnn_graph_node_cost, docs/cost.md), or Graphviz DOT with the same numbers. Needs no OpenCL
 * device: shapes come from a host context (clcnn_context_open_host). --plan asks a device for the
 * workspaces its algorithms choose, and without one prints the plan less those.
 */
#include <stdlib.h>
#include <string.h>

#include "clcnn/graph.h"
#include "cli.h"

static int dot, plan, batch, keep_all;

static const struct cli_flag flags[] = {
	{"dot", FLAG_BOOL, &dot, 0, 0, NULL, "print Graphviz DOT (render with: dot -Tpng -o net.png)"},
	{"plan", FLAG_BOOL, &plan, 0, 0, NULL, "also print the execution plan and memory use"},
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size for shapes, FLOPs and memory (default 1)"},
	{"keep-all", FLAG_BOOL, &keep_all, 0, 0, NULL,
	 "plan as if every activation were kept (no liveness, nothing in place), to compare"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn graph NETFILE [--dot] [--plan [--keep-all]] [--batch B]\n\n"
		   "Print the model's nodes in schedule order with what each costs and sees, or its DAG as DOT\n"
		   "(each node's label carries the same numbers). Needs no OpenCL device; --plan uses one when\n"
		   "there is one, for the workspace sizes.\n\n"
		   "columns:\n"
		   "  output      shape, batch first (--batch)\n"
		   "  params      parameter elements, running statistics included\n"
		   "  FLOPs       forward, eval mode, at --batch: a multiply-add counts 2, every other\n"
		   "              operation 1, copies 0 (per-layer rules: docs/cost.md)\n"
		   "  field/jump  receptive field on the image input, HxW input pixels, and the input pixels\n"
		   "              between neighbouring outputs: 5x5/1, 16x16/4; 'whole' when every output sees\n"
		   "              the whole input (global pooling, linear after flatten); '-' without an image\n"
		   "              input\n"
		   "The 'total' row sums parameters (shared tensors once) and FLOPs.\n"
		   "--plan adds the memory plan: peak memory of forward, backward and the optimizer step, the\n"
		   "buffer pool (which tensors share each buffer; dX is the gradient of X) and, per value,\n"
		   "whether it is kept for backward or freed after forward (docs/cost.md, \"Memory plan\").\n\n"
		   "examples:\n"
		   "  clcnn graph models/lenet5.net\n"
		   "  clcnn graph models/lenet5.net --batch 64 --plan\n"
		   "  clcnn graph models/lenet5.net --dot | dot -Tpng -o lenet5.png\n\noptions:\n");
	cli_print_flags(f, flags);
}

/* --plan: the device's context when one opens, else a host context and a note saying what is missing. */
static struct clcnn_context *open_context(void)
{
	if (!plan)
		return cli_open_host_context();
	char err[8192];
	struct clcnn_context *ctx = cli_try_context(err, sizeof err);
	if (ctx)
		return ctx;
	char *nl = strchr(err, '\n');
	if (nl)
		*nl = 0;
	fprintf(stderr,
		"clcnn graph: no OpenCL device (%s); the plan leaves out the workspaces that algorithms choose on a "
		"device\n",
		err);
	return cli_open_host_context();
}

int cmd_graph(int argc, char **argv)
{
	batch = 1;
	char *pos[1];
	int npos, pr = cli_parse("graph", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1) {
		cli_error("graph", "expected one NETFILE (see clcnn graph --help)");
		return CLI_USAGE;
	}
	struct clcnn_context *ctx = open_context();
	if (!ctx)
		return CLI_ERROR;
	struct clcnn_graph *g = NULL;
	char *text = NULL;
	int rc = clcnn_graph_load(ctx, pos[0], &g);
	if (rc) {
		cli_error("graph", "%s", clcnn_context_error(ctx));
	} else if ((keep_all && (rc = clcnn_graph_keep(g, NULL))) || (rc = clcnn_graph_build(g, batch))) {
		cli_error("graph", "%s: %s", pos[0], clcnn_context_error(ctx));
	} else {
		rc = dot ? clcnn_graph_dot(g, &text) : clcnn_graph_describe(g, plan, &text);
		if (rc)
			cli_error("graph", "%s", clcnn_context_error(ctx));
		else
			fputs(text, stdout);
	}
	free(text);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	return rc ? CLI_ERROR : CLI_OK;
}
