/* clcnn graph: the DAG of a netfile with shapes and parameter counts, or Graphviz DOT. */
#include <stdlib.h>

#include "cli.h"
#include "model.h"

static int dot, plan, batch;

static const struct cli_flag flags[] = {
	{"dot", FLAG_BOOL, &dot, 0, 0, NULL, "print Graphviz DOT (render with: dot -Tpng -o net.png)"},
	{"plan", FLAG_BOOL, &plan, 0, 0, NULL, "also print the execution plan and memory use"},
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size for shapes and memory (default 1)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn graph NETFILE [--dot] [--plan] [--batch B]\n\n"
		   "Print the model's nodes with output shapes and parameter counts, or its DAG as DOT.\n\noptions:\n");
	cli_print_flags(f, flags);
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
	struct cli_model m;
	if (cli_model_open("graph", pos[0], batch, &m))
		return CLI_ERROR;
	char *text = NULL;
	int rc = dot ? clcnn_graph_dot(m.g, &text) : clcnn_graph_describe(m.g, plan, &text);
	if (rc)
		cli_error("graph", "%s", clcnn_context_error(m.ctx));
	else
		fputs(text, stdout);
	free(text);
	cli_model_close(&m);
	return rc ? CLI_ERROR : CLI_OK;
}
