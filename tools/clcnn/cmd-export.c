/*
 * clcnn export: a netfile and its weights as an ONNX model (clcnn_graph_export_onnx), with the
 * checkpoint's input normalisation, class names and input shape carried as metadata_props so that a
 * consumer can feed the model as training did.
 */
#include <stdlib.h>
#include <string.h>

#include "clcnn/onnx.h"
#include "cli.h"

static const char *weights, *out;
static int opset, training, batch, seed;

static const struct cli_flag flags[] = {
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT",
	 "checkpoint or weights file (safetensors); default: a .onnx model's own, a netfile's from --seed"},
	{"out", FLAG_STR, &out, 0, 0, " MODEL.onnx", "where to write the ONNX model (required)"},
	{"opset", FLAG_INT, &opset, 13, 17, NULL, "ONNX opset version (default 14, as PyTorch 1.13)"},
	{"training", FLAG_BOOL, &training, 0, 0, NULL,
	 "training semantics: batch statistics in BatchNormalization, active Dropout and noise"},
	{"batch", FLAG_INT, &batch, 1, 65536, NULL,
	 "batch the graph is built for (default 2, which batch statistics need; the ONNX batch is symbolic)"},
	{"seed", FLAG_INT, &seed, 0, 2147483647, NULL, "seed of the initial weights without --weights (default 1)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn export NETFILE --out MODEL.onnx [--weights CKPT] [--opset N] [--training]\n"
		   "                    [--batch B]\n\n"
		   "Write the model as ONNX: every layer as ONNX operators (or their decomposition), the\n"
		   "parameters as initializers under their state-dict names, the batch dimension named N. The\n"
		   "loss and the label inputs are left out: the ONNX output is the graph's output (the loss's\n"
		   "prediction input). The checkpoint's clcnn.mean, clcnn.std, clcnn.classes and clcnn.input\n"
		   "metadata become the model's metadata_props.\n\noptions:\n");
	cli_print_flags(f, flags);
}

static const char *const meta_keys[] = {CLCNN_META_MEAN, CLCNN_META_STD, CLCNN_META_CLASSES, CLCNN_META_INPUT};

/* The checkpoint's metadata as key, value pairs (NULL-terminated) in kv (values malloc'ed). */
static int read_meta(const char **kv, char **vals)
{
	char err[1024];
	int n = 0;
	for (size_t i = 0; i < sizeof meta_keys / sizeof meta_keys[0]; i++) {
		char *v = NULL;
		if (clcnn_weights_meta(weights, meta_keys[i], &v, err, sizeof err)) {
			cli_error("export", "%s", err);
			return CLI_ERROR;
		}
		if (v) {
			vals[n / 2] = v;
			kv[n++] = meta_keys[i];
			kv[n++] = v;
		}
	}
	kv[n] = NULL;
	return CLI_OK;
}

int cmd_export(int argc, char **argv)
{
	batch = 2;
	seed = 1;
	char *pos[1];
	int npos, pr = cli_parse("export", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || !out) {
		cli_error("export", "expected NETFILE and --out MODEL.onnx (see clcnn export --help)");
		return CLI_USAGE;
	}
	const char *kv[2 * 4 + 1] = {NULL};
	char *vals[4] = {NULL};
	struct clcnn_context *ctx = cli_open_context();
	struct clcnn_graph *g = NULL;
	int rc = CLI_ERROR;
	if (!ctx)
		return CLI_ERROR;
	/* an ONNX model brings its parameters (applied by the build): initialise only a netfile's */
	size_t len = strlen(pos[0]);
	int has_params = len > 5 && !strcmp(pos[0] + len - 5, ".onnx");
	if (clcnn_graph_load(ctx, pos[0], &g) || clcnn_graph_build(g, batch) ||
	    (weights ? clcnn_graph_load_weights(g, weights)
		     : !has_params && clcnn_graph_init_params(g, (uint64_t)seed, "default"))) {
		cli_error("export", "%s", clcnn_context_error(ctx));
		goto done;
	}
	if (weights && read_meta(kv, vals))
		goto done;
	struct clcnn_onnx_export_options opt = {.opset = opset, .training = training, .meta = kv};
	if (clcnn_graph_export_onnx(g, out, &opt)) {
		cli_error("export", "%s", clcnn_context_error(ctx));
		goto done;
	}
	printf("wrote %s (opset %d%s)\n", out, opset ? opset : 14, training ? ", training mode" : "");
	rc = CLI_OK;
done:
	for (int i = 0; i < 4; i++)
		free(vals[i]);
	clcnn_graph_free(g);
	clcnn_context_close(ctx);
	return rc;
}
