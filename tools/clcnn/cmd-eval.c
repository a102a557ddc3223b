/* clcnn eval: accuracy, per-class accuracy and confusion matrix of a checkpoint on the test split. */
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "model.h"

static const char *data, *weights, *split, *mean, *std;
static int batch, limit;

static const struct cli_flag flags[] = {
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT", "checkpoint or weights file (safetensors), required"},
	{"data", FLAG_STR, &data, 0, 0, " DIR", "dataset directory (default " CLI_DEFAULT_DATA ")"},
	{"split", FLAG_STR, &split, 0, 0, " NAME", "t10k (test, default) or train"},
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size (default 500)"},
	{"limit", FLAG_INT, &limit, 1, 1 << 30, NULL, "evaluate only the first N images"},
	{"mean", FLAG_STR, &mean, 0, 0, " X[,X...]", "normalisation mean per channel (default: the checkpoint's)"},
	{"std", FLAG_STR, &std, 0, 0, " X[,X...]", "normalisation std per channel (default: the checkpoint's)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn eval NETFILE --weights CKPT [options]\n\n"
		   "Evaluate a trained model: accuracy, per-class accuracy and the confusion matrix.\n\noptions:\n");
	cli_print_flags(f, flags);
}

int cmd_eval(int argc, char **argv)
{
	data = CLI_DEFAULT_DATA;
	split = "t10k";
	batch = 500;
	char *pos[1];
	int npos, pr = cli_parse("eval", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || !weights) {
		cli_error("eval", "expected NETFILE and --weights CKPT (see clcnn eval --help)");
		return CLI_USAGE;
	}
	if (strcmp(split, "t10k") && strcmp(split, "train")) {
		cli_error("eval", "bad value '%s' for --split: expected t10k or train", split);
		return CLI_USAGE;
	}
	struct cli_model m;
	if (cli_model_open("eval", pos[0], batch, &m))
		return CLI_ERROR;
	int rc = CLI_ERROR;
	struct clcnn_dataset d = {0};
	struct cli_inputs in = {0};
	char err[4096];
	long *conf = NULL;
	if (clcnn_graph_load_weights(m.g, weights)) {
		cli_error("eval", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	if ((rc = cli_inputs_read("eval", &m, weights, mean, std, &in)) != CLI_OK)
		goto done;
	rc = CLI_ERROR;
	if (clcnn_dataset_load(data, split, m.classes, &d, err, sizeof err)) {
		cli_error("eval", "%s", err);
		goto done;
	}
	if (cli_model_check_data("eval", &m, &d, data))
		goto done;
	if (limit && limit < d.n)
		d.n = limit;
	int K = m.classes;
	conf = cli_calloc((size_t)K * (size_t)K, sizeof *conf);
	double acc, loss;
	if (!conf) {
		cli_error("eval", "out of host memory for a %dx%d confusion matrix", K, K);
		goto done;
	}
	if (cli_evaluate("eval", &m, &d, &in.norm, &acc, &loss, conf))
		goto done;
	printf("accuracy %.4f (%d images)\n", acc, d.n);
	if (loss == loss)
		printf("mean loss %.4f\n", loss);
	printf("\nper-class accuracy:\n");
	for (int k = 0; k < K; k++) {
		long tot = 0;
		for (int j = 0; j < K; j++)
			tot += conf[k * K + j];
		printf("  %2d %-12s %.4f (%ld images)\n", k, in.classes ? in.classes[k] : "",
		       tot ? (double)conf[k * K + k] / tot : 0.0, tot);
	}
	printf("\nconfusion matrix (rows: true class, columns: predicted):\n     ");
	for (int j = 0; j < K; j++)
		printf("%6d", j);
	printf("\n");
	for (int k = 0; k < K; k++) {
		printf("  %2d ", k);
		for (int j = 0; j < K; j++)
			printf("%6ld", conf[k * K + j]);
		printf("\n");
	}
	rc = CLI_OK;
done:
	free(conf);
	cli_inputs_free(&in);
	clcnn_dataset_free(&d);
	cli_model_close(&m);
	return rc;
}
