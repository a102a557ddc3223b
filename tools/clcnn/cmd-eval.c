/*
 * clcnn eval: accuracy, mean loss, per-class accuracy and confusion matrix of a checkpoint on a
 * split of a data source (the test split by default); for an embedding model (trained with
 * --pairs) k-NN accuracy and recall@1 (eval-embed.c).
 */
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "embed.h"
#include "knn.h"
#include "model.h"

static const char *weights, *split, *mean, *std;
static struct cli_data_opts data;
static int batch, limit, knn_k;

static const struct cli_flag flags[] = {
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT",
	 "checkpoint or weights file (safetensors); required unless the model is .onnx"},
	CLI_DATA_FLAGS(data),
	{"split", FLAG_STR, &split, 0, 0, " NAME", "test (default; t10k is the same) or train"},
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size (default 500)"},
	{"limit", FLAG_INT, &limit, 1, 1 << 30, NULL,
	 "evaluate only the first N images (embedding models: of the train split, the gallery, too)"},
	{"k", FLAG_INT, &knn_k, 1, KNN_MAX_K, NULL,
	 "embedding models: the k of k-NN accuracy, reported beside k = 1 (default 5)"},
	{"mean", FLAG_STR, &mean, 0, 0, " X[,X...]", "normalisation mean per channel (default: the checkpoint's)"},
	{"std", FLAG_STR, &std, 0, 0, " X[,X...]", "normalisation std per channel (default: the checkpoint's)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn eval NETFILE --weights CKPT [options]\n"
		   "       clcnn eval MODEL.onnx [options]\n\n"
		   "Evaluate a trained model: accuracy, per-class accuracy and the confusion matrix.\n"
		   "An embedding model (trained with clcnn train --pairs, which the checkpoint records, or one whose\n"
		   "loss is triplet_margin_loss or contrastive_loss) gets k-NN accuracy instead (the training split's\n"
		   "embeddings as the gallery, k = 1 and --k) and recall@1 within the evaluated split.\n\noptions:\n");
	cli_print_flags(f, flags);
}

int cmd_eval(int argc, char **argv)
{
	cli_data_defaults(&data);
	split = "test";
	batch = 500;
	knn_k = 5;
	char *pos[1];
	int npos, pr = cli_parse("eval", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || (!weights && !cli_model_is_onnx(pos[0]))) {
		cli_error("eval", "expected NETFILE and --weights CKPT (see clcnn eval --help)");
		return CLI_USAGE;
	}
	if (strcmp(split, "test") && strcmp(split, "t10k") && strcmp(split, "train")) {
		cli_error("eval", "bad value '%s' for --split: expected test (or t10k) or train", split);
		return CLI_USAGE;
	}
	if (!strcmp(split, "t10k"))
		split = "test";
	struct cli_model m;
	if (cli_model_open("eval", pos[0], batch, &m))
		return CLI_ERROR;
	int embedding = embed_model_is(&m, weights);
	if (!embedding && cli_model_check_inputs("eval", &m, pos[0])) {
		cli_model_close(&m);
		return CLI_ERROR;
	}
	int rc = CLI_ERROR;
	struct clcnn_source *src = NULL;
	struct clcnn_loader *loader = NULL;
	struct cli_inputs in = {0};
	char err[4096];
	long *conf = NULL;
	if (weights && clcnn_graph_load_weights(m.g, weights)) {
		cli_error("eval", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	if (embedding) {
		struct eval_embed_opts eo = {.netfile = pos[0],
					     .weights = weights,
					     .split = split,
					     .mean = mean,
					     .std = std,
					     .data = &data,
					     .limit = limit,
					     .k = knn_k};
		rc = eval_embedding(&eo, &m);
		goto done;
	}
	char omean[256], ostd[256];
	if (!weights)
		cli_onnx_normalize(pos[0], &mean, &std, omean, ostd, sizeof omean);
	if ((rc = cli_inputs_read("eval", &m, weights, mean, std, &in)) != CLI_OK)
		goto done;
	if ((rc = cli_source_open("eval", &m, &data, split, &src)) != CLI_OK)
		goto done;
	rc = CLI_ERROR;
	struct clcnn_loader_options lo = {.batch = batch, .norm = &in.norm};
	if (clcnn_loader_new(src, &lo, &loader, err, sizeof err)) {
		cli_error("eval", "%s", err);
		goto done;
	}
	int n = clcnn_source_info(src)->n;
	if (limit && limit < n)
		n = limit;
	int K = m.classes;
	conf = cli_calloc((size_t)K * (size_t)K, sizeof *conf);
	double acc, loss;
	if (!conf) {
		cli_error("eval", "out of host memory for a %dx%d confusion matrix", K, K);
		goto done;
	}
	if (cli_evaluate("eval", &m, loader, n, &acc, &loss, conf))
		goto done;
	printf("accuracy %.4f (%d %s)\n", acc, n, m.nd == 1 ? "samples" : "images");
	if (loss == loss)
		printf("mean loss %.4f\n", loss);
	else if (clcnn_graph_loss_name(m.g))
		printf("mean loss unavailable (the loss is not nll_loss or cross_entropy and no batch is full)\n");
	printf("\nper-class accuracy:\n");
	for (int k = 0; k < K; k++) {
		long tot = 0;
		for (int j = 0; j < K; j++)
			tot += conf[k * K + j];
		printf("  %2d %-12s %.4f (%ld %s)\n", k, in.classes ? in.classes[k] : "",
		       tot ? (double)conf[k * K + k] / tot : 0.0, tot, m.nd == 1 ? "samples" : "images");
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
	clcnn_loader_free(loader);
	clcnn_source_close(src);
	cli_model_close(&m);
	return rc;
}
