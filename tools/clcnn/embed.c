/* Embedding models: their inputs, their detection, and the embeddings of a split. */
#include "embed.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "knn.h"

int embed_inputs_find(const char *cmd, const struct cli_model *m, const char *netfile, struct embed_inputs *ei)
{
	memset(ei, 0, sizeof *ei);
	int count = clcnn_graph_input_count(m->g);
	if (count > EMBED_MAX_INPUTS) {
		cli_error(cmd, "%s: %d inputs; an embedding model takes at most %d", netfile, count, EMBED_MAX_INPUTS);
		return CLI_ERROR;
	}
	for (int i = 0; i < count; i++) {
		const char *name;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_input_info(m->g, i, &name, &nd, dims);
		int data = nd == m->nd && dims[0] == m->c && (nd == 1 || (dims[1] == m->h && dims[2] == m->w));
		if (!data && nd != 0) {
			char want[64];
			cli_model_shape(m, want, sizeof want);
			cli_error(cmd,
				  "%s: the input '%s' is neither a data input of the shape of '%s' (%s) nor a "
				  "per-sample scalar (like y = input())",
				  netfile, name, m->image, want);
			return CLI_ERROR;
		}
		ei->name[ei->n] = name;
		ei->is_data[ei->n++] = data;
		ei->ndata += data;
	}
	const char *out = clcnn_graph_output_name(m->g);
	for (int i = 0; out && i < clcnn_graph_node_count(m->g); i++) {
		const char *name, *op;
		int nd, dims[CLCNN_MAX_DIMS];
		clcnn_graph_node_info(m->g, i, &name, &op, &nd, dims);
		if (!strcmp(name, out) && nd == 2)
			ei->dim = dims[1];
	}
	if (!ei->dim) {
		cli_error(cmd, "%s: the output node '%s' is not (batch, D): an embedding is one vector per sample",
			  netfile, out ? out : "(none)");
		return CLI_ERROR;
	}
	return CLI_OK;
}

int embed_model_is(const struct cli_model *m, const char *weights)
{
	char *v = NULL;
	if (weights && !clcnn_weights_meta(weights, CLI_META_PAIRS, &v, NULL, 0) && v) {
		free(v);
		return 1;
	}
	const char *op = cli_model_loss_op(m);
	return !strcmp(op, "triplet_margin_loss") || !strcmp(op, "contrastive_loss");
}

int embed_source_open(const char *cmd, struct cli_model *m, const struct cli_data_opts *d, const char *split,
		      struct clcnn_source **out)
{
	/* m->classes is the embedding's size here, which bounds nothing */
	int classes = m->classes;
	m->classes = INT_MAX;
	int rc = cli_source_open(cmd, m, d, split, out);
	m->classes = classes;
	return rc;
}

int embed_inputs_read(const char *cmd, struct cli_model *m, const char *weights, const char *mean, const char *std,
		      const struct clcnn_normalize *fallback, struct cli_inputs *in, int *named)
{
	/* the class names are checked against m->classes: for an embedding, the checkpoint's own count */
	char **names = NULL;
	int n = 0, saved = m->classes;
	if (weights && !clcnn_classes_from_weights(weights, &names, &n, NULL, 0) && names)
		m->classes = n;
	clcnn_classes_free(names);
	int rc = cli_inputs_read_ex(cmd, m, weights, mean, std, fallback, in);
	*named = in->classes ? m->classes : 0;
	m->classes = saved;
	return rc;
}

int embed_split(const char *cmd, struct cli_model *m, const struct embed_inputs *ei, struct clcnn_loader *l, int n,
		float *emb, float *labels)
{
	int B = m->batch, D = ei->dim;
	size_t per = (size_t)m->c * (size_t)m->h * (size_t)m->w;
	float *img = cli_calloc((size_t)B * per, sizeof(float)), *zero = cli_calloc((size_t)B, sizeof(float));
	float *out = cli_calloc((size_t)B * (size_t)D, sizeof(float));
	char err[4200];
	int rc = CLI_ERROR, seen = 0;
	if (!img || !zero || !out) {
		cli_error(cmd, "out of host memory for an embedding batch of %d", B);
		goto done;
	}
	if (clcnn_loader_start(l, NULL, n, 0, err, sizeof err)) {
		cli_error(cmd, "%s", err);
		goto done;
	}
	for (;;) {
		const float *bi, *bl;
		int count;
		if (clcnn_loader_next(l, &bi, &bl, &count, NULL, err, sizeof err)) {
			cli_error(cmd, "%s", err);
			goto done;
		}
		if (!count)
			break;
		memcpy(img, bi, (size_t)count * per * sizeof(float));
		/* a last partial batch is padded with copies of its first sample, whose rows are not kept */
		for (int i = count; i < B; i++)
			memcpy(img + (size_t)i * per, img, per * sizeof(float));
		int s = 0;
		for (int j = 0; !s && j < ei->n; j++)
			s = clcnn_graph_set_input(m->g, ei->name[j], ei->is_data[j] ? img : zero);
		if (!s) /* the output's branch only: the other branches and the loss are not needed */
			s = clcnn_graph_forward_to(m->g, clcnn_graph_output_name(m->g), 0, 0);
		if (!s)
			s = clcnn_graph_read(m->g, clcnn_graph_output_name(m->g), out);
		if (s) {
			cli_error(cmd, "embedding: %s", clcnn_context_error(m->ctx));
			goto done;
		}
		memcpy(emb + (size_t)seen * (size_t)D, out, (size_t)count * (size_t)D * sizeof(float));
		memcpy(labels + seen, bl, (size_t)count * sizeof(float));
		seen += count;
	}
	rc = CLI_OK;
done:
	free(img);
	free(zero);
	free(out);
	return rc;
}

int embed_recall_at_1(const char *cmd, const float *emb, const float *labels, int n, int dim, double *recall)
{
	int *nn = cli_malloc((size_t)(n ? n : 1) * sizeof(int));
	if (!nn || knn_search(emb, n, emb, n, dim, 1, 1, nn)) {
		free(nn);
		cli_error(cmd, "out of host memory for the neighbours of %d embeddings", n);
		return CLI_ERROR;
	}
	*recall = knn_accuracy(nn, n, 1, 1, labels, labels);
	free(nn);
	return CLI_OK;
}
