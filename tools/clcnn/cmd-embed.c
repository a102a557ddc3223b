/*
 * clcnn embed: the embeddings of a split (the output node of a model trained with --pairs) and
 * their labels, into a safetensors file: "embeddings" (N x D, F32) and "labels" (N, I64).
 */
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "embed.h"
#include "io/io.h"

static const char *weights, *split, *mean, *std, *out;
static struct cli_data_opts data;
static int batch, limit;

static const struct cli_flag flags[] = {
	{"weights", FLAG_STR, &weights, 0, 0, " CKPT", "checkpoint or weights file (safetensors); required"},
	{"out", FLAG_STR, &out, 0, 0, " FILE", "safetensors file to write (required)"},
	CLI_DATA_FLAGS(data),
	{"split", FLAG_STR, &split, 0, 0, " NAME", "test (default; t10k is the same) or train"},
	{"batch", FLAG_INT, &batch, 1, 65536, NULL, "batch size (default 500)"},
	{"limit", FLAG_INT, &limit, 1, 1 << 30, NULL, "embed only the first N samples"},
	{"mean", FLAG_STR, &mean, 0, 0, " X[,X...]", "normalisation mean per channel (default: the checkpoint's)"},
	{"std", FLAG_STR, &std, 0, 0, " X[,X...]", "normalisation std per channel (default: the checkpoint's)"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void help(FILE *f)
{
	fprintf(f, "usage: clcnn embed NETFILE --weights CKPT --out EMB.safetensors [options]\n\n"
		   "Write the embeddings of a split: the output node (batch x D) of a model trained with\n"
		   "clcnn train --pairs, on inputs normalised as the checkpoint records. The file holds\n"
		   "\"embeddings\" (N x D, F32) and \"labels\" (N, I64), in the split's order, and the class names\n"
		   "when the checkpoint has them (metadata clcnn.classes). Loads in PyTorch with\n"
		   "safetensors.torch.load_file.\n\noptions:\n");
	cli_print_flags(f, flags);
}

/* The file: embeddings, labels and what they came from. */
static int write_file(const float *emb, const float *labels, int n, int dim, const char *netfile)
{
	char err[4200];
	int64_t *lab = cli_malloc((size_t)(n ? n : 1) * sizeof(int64_t));
	struct clcnn_st_writer *w = NULL;
	int rc = CLI_ERROR;
	if (!lab || clcnn_st_writer_new(&w)) {
		cli_error("embed", "out of host memory for the file of %d embeddings", n);
		goto done;
	}
	for (int i = 0; i < n; i++)
		lab[i] = (int64_t)labels[i];
	const int64_t es[2] = {n, dim}, ls[1] = {n};
	char *classes = NULL;
	if (clcnn_weights_meta(weights, CLCNN_META_CLASSES, &classes, err, sizeof err) ||
	    clcnn_st_writer_add(w, "embeddings", "F32", 2, es, emb, err, sizeof err) ||
	    clcnn_st_writer_add(w, "labels", "I64", 1, ls, lab, err, sizeof err) ||
	    clcnn_st_writer_meta(w, "clcnn.model", netfile, err, sizeof err) ||
	    clcnn_st_writer_meta(w, "clcnn.weights", weights, err, sizeof err) ||
	    clcnn_st_writer_meta(w, "clcnn.split", split, err, sizeof err) ||
	    (classes && clcnn_st_writer_meta(w, CLCNN_META_CLASSES, classes, err, sizeof err)) ||
	    clcnn_st_write(w, out, err, sizeof err)) {
		free(classes);
		cli_error("embed", "%s", err);
		goto done;
	}
	free(classes);
	rc = CLI_OK;
done:
	clcnn_st_writer_free(w);
	free(lab);
	return rc;
}

int cmd_embed(int argc, char **argv)
{
	cli_data_defaults(&data);
	split = "test";
	batch = 500;
	char *pos[1];
	int npos, pr = cli_parse("embed", argc, argv, flags, pos, 1, &npos, help);
	if (pr)
		return pr > 0 ? CLI_OK : CLI_USAGE;
	if (npos != 1 || !weights || !out) {
		cli_error("embed", "expected NETFILE, --weights CKPT and --out FILE (see clcnn embed --help)");
		return CLI_USAGE;
	}
	if (strcmp(split, "test") && strcmp(split, "t10k") && strcmp(split, "train")) {
		cli_error("embed", "bad value '%s' for --split: expected test (or t10k) or train", split);
		return CLI_USAGE;
	}
	if (!strcmp(split, "t10k"))
		split = "test";
	struct cli_model m;
	if (cli_model_open("embed", pos[0], batch, &m))
		return CLI_ERROR;
	int rc = CLI_ERROR;
	struct clcnn_source *src = NULL;
	struct clcnn_loader *loader = NULL;
	struct cli_inputs in = {0};
	struct embed_inputs ei;
	int named;
	float *emb = NULL, *labels = NULL;
	char err[4096];
	if (embed_inputs_find("embed", &m, pos[0], &ei))
		goto done;
	if (clcnn_graph_load_weights(m.g, weights)) {
		cli_error("embed", "%s", clcnn_context_error(m.ctx));
		goto done;
	}
	if ((rc = embed_inputs_read("embed", &m, weights, mean, std, NULL, &in, &named)) != CLI_OK ||
	    (rc = embed_source_open("embed", &m, &data, split, &src)) != CLI_OK)
		goto done;
	rc = CLI_ERROR;
	struct clcnn_loader_options lo = {.batch = batch, .norm = &in.norm};
	if (clcnn_loader_new(src, &lo, &loader, err, sizeof err)) {
		cli_error("embed", "%s", err);
		goto done;
	}
	int n = clcnn_source_info(src)->n;
	if (limit && limit < n)
		n = limit;
	emb = cli_malloc(((size_t)n * (size_t)ei.dim + 1) * sizeof(float));
	labels = cli_malloc(((size_t)n + 1) * sizeof(float));
	if (!emb || !labels) {
		cli_error("embed", "out of host memory for %d embeddings of %d values", n, ei.dim);
		goto done;
	}
	double t0 = cli_now();
	if (embed_split("embed", &m, &ei, loader, n, emb, labels) || write_file(emb, labels, n, ei.dim, pos[0]))
		goto done;
	printf("%d embeddings of %d values (%s split) written to %s in %.1f s\n", n, ei.dim, split, out,
	       cli_now() - t0);
	rc = CLI_OK;
done:
	free(emb);
	free(labels);
	cli_inputs_free(&in);
	clcnn_loader_free(loader);
	clcnn_source_close(src);
	cli_model_close(&m);
	return rc;
}
