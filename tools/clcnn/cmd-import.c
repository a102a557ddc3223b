/*
 * clcnn import: an ONNX model (a PyTorch export, opsets 7-17) as a readable netfile and its weights
 * (safetensors). Needs no OpenCL device. The other subcommands also take the .onnx file directly;
 * this writes the files to read, edit (e.g. add a loss for training) or keep.
 */
#include <string.h>

#include "clcnn/onnx.h"
#include "cli.h"
#include "io/onnx-import.h"
#include "io/onnx.h"

static const char *out, *weights;

static const struct cli_flag flags[] = {
	{"out", FLAG_STR, &out, 0, 0, " NETFILE", "write the netfile here (default: print it)"},
	{"weights", FLAG_STR, &weights, 0, 0, " WEIGHTS", "write the initializers here as safetensors weights"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn import MODEL.onnx [--out model.net] [--weights model.safetensors]\n\n"
		   "Translate an ONNX model to a netfile (node names from the ONNX graph, each line commented with\n"
		   "its ONNX operator) and its weights. Shape computations (Shape/Gather/Reshape chains), a zero\n"
		   "Pad before a Conv or AveragePool, GELU's Erf form and a MatMul + Add are folded at load time;\n"
		   "the decompositions clcnn export writes (blur pooling, silu, logsigmoid, softmin, ...) come\n"
		   "back as their layers.\n"
		   "eval, predict, run, bench and train take MODEL.onnx directly, its weights included.\n\noptions:\n");
	cli_print_flags(f, flags);
}

/* The netfile to stdout (and the weights to a file) */
static int print_netfile(const char *path, const char *wpath)
{
	char err[2048];
	struct onnx_model *m = NULL;
	struct onnx_import_result r = {0};
	int rc = clcnn_onnx_read(path, &m, err, sizeof err);
	if (!rc)
		rc = onnx_import_model(m, path, &r, err, sizeof err);
	if (!rc && wpath)
		rc = onnx_import_write_weights(&r, wpath, err, sizeof err);
	if (rc)
		cli_error("import", "%s", err);
	else
		fputs(r.text, stdout);
	onnx_import_result_free(&r);
	clcnn_onnx_free(m);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	char *pos[1];
	int npos, pr = cli_parse("import", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1) {
		cli_error("import", "expected MODEL.onnx (see clcnn import --help)");
		return CLI_USAGE;
	}
	struct clcnn_context *ctx = cli_open_host_context();
	if (!ctx)
		return CLI_ERROR;
	int rc;
	if (out && strcmp(out, "-")) {
		if ((rc = clcnn_onnx_import(ctx, pos[0], out, weights)))
			cli_error("import", "%s", clcnn_context_error(ctx));
		else
			fprintf(stderr, "clcnn import: wrote %s%s%s\n", out, weights ? " and " : "",
				weights ? weights : "");
	} else {
		rc = print_netfile(pos[0], weights);
	}
	clcnn_context_close(ctx);
	return rc ? CLI_ERROR : CLI_OK;
}
