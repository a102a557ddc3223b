/*
 * Embedding models (trained with clcnn train --pairs): which inputs they take, whether a model or
 * checkpoint is one, and the embeddings of a split through the graph's output node.
 */
#ifndef CLCNN_CLI_EMBED_H
#define CLCNN_CLI_EMBED_H
#include "model.h"

/* Metadata key a --pairs checkpoint carries: "triplet" or "contrastive". */
#define CLI_META_PAIRS "clcnn.pairs"
#define EMBED_MAX_INPUTS 8

/* The graph's inputs in declaration order: data inputs (the shape of m->image) and scalar ones. */
struct embed_inputs {
	const char *name[EMBED_MAX_INPUTS];
	int is_data[EMBED_MAX_INPUTS];
	int n, ndata;
	int dim; /* the output node's features per sample: the embedding's size */
};

/*
 * Sort m's inputs into *ei; every one must be a data input of m->image's shape or a per-sample
 * scalar, and the output node must be (batch, D). Prints "clcnn CMD: NETFILE: ..." and returns
 * CLI_ERROR otherwise.
 */
int embed_inputs_find(const char *cmd, const struct cli_model *m, const char *netfile, struct embed_inputs *ei);
/*
 * 1 when the model is an embedding model: the weights file (may be NULL) says CLI_META_PAIRS, or
 * the loss node is triplet_margin_loss or contrastive_loss.
 */
int embed_model_is(const struct cli_model *m, const char *weights);
/*
 * cli_source_open for an embedding model: a split may hold more classes than the embedding has
 * dimensions (the class check of a classifier does not apply).
 */
int embed_source_open(const char *cmd, struct cli_model *m, const struct cli_data_opts *d, const char *split,
		      struct clcnn_source **out);
/*
 * cli_inputs_read_ex for an embedding model: the checkpoint's class names are taken whatever their
 * number; *named receives how many in->classes holds (0 without names).
 */
int embed_inputs_read(const char *cmd, struct cli_model *m, const char *weights, const char *mean, const char *std,
		      const struct clcnn_normalize *fallback, struct cli_inputs *in, int *named);
/*
 * The embeddings (n x ei->dim floats) and labels (n floats) of the first n samples of the loader's
 * source in order (a loader of batch m->batch that normalises and does not augment), in eval mode:
 * every data input gets the batch, every scalar input zeros, and the output node is read. A last
 * partial batch is padded. 0, or a status after printing "clcnn CMD: ...".
 */
int embed_split(const char *cmd, struct cli_model *m, const struct embed_inputs *ei, struct clcnn_loader *l, int n,
		float *emb, float *labels);
/*
 * recall@1 of n embeddings (the nearest other sample has the same label); *recall receives it.
 * CLI_ERROR after a message when out of memory.
 */
int embed_recall_at_1(const char *cmd, const float *emb, const float *labels, int n, int dim, double *recall);

/* clcnn eval of an embedding model (eval-embed.c); the model is loaded with its weights. */
struct eval_embed_opts {
	const char *netfile, *weights, *split, *mean, *std;
	const struct cli_data_opts *data;
	int limit, k;
};
int eval_embedding(const struct eval_embed_opts *o, struct cli_model *m);
#endif
