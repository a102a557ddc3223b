/*
 * clcnn eval of an embedding model (trained with --pairs): k-NN accuracy of the query split against
 * the training split as the gallery, and recall@1 within the query split (the nearest other sample
 * has the same class), overall and per class.
 */
#include <stdlib.h>
#include <string.h>

#include "cli-alloc.h"
#include "cli.h"
#include "embed.h"
#include "knn.h"

/* One split's embeddings and labels; 0 or a status after a message. */
static int embed_of(const struct eval_embed_opts *o, struct cli_model *m, const struct embed_inputs *ei,
		    const struct clcnn_normalize *norm, const char *split, int *n, float **emb, float **labels)
{
	struct clcnn_source *src = NULL;
	struct clcnn_loader *loader = NULL;
	char err[4200];
	int rc = embed_source_open("eval", m, o->data, split, &src);
	if (rc)
		return rc;
	rc = CLI_ERROR;
	struct clcnn_loader_options lo = {.batch = m->batch, .norm = norm};
	if (clcnn_loader_new(src, &lo, &loader, err, sizeof err)) {
		cli_error("eval", "%s", err);
		goto done;
	}
	*n = clcnn_source_info(src)->n;
	if (o->limit && o->limit < *n)
		*n = o->limit;
	*emb = cli_malloc(((size_t)*n * (size_t)ei->dim + 1) * sizeof(float));
	*labels = cli_malloc(((size_t)*n + 1) * sizeof(float));
	if (!*emb || !*labels) {
		cli_error("eval", "out of host memory for %d embeddings of %d values", *n, ei->dim);
		goto done;
	}
	rc = embed_split("eval", m, ei, loader, *n, *emb, *labels);
done:
	clcnn_loader_free(loader);
	clcnn_source_close(src);
	return rc;
}

/* recall@1 per class: the fraction of a class's queries whose nearest other query shares it. */
static int per_class(const int *nn, const float *labels, int n, const struct cli_inputs *in, int named)
{
	int classes = 0;
	for (int i = 0; i < n; i++)
		classes = (int)labels[i] + 1 > classes ? (int)labels[i] + 1 : classes;
	long *hit = cli_calloc((size_t)classes + 1, sizeof(long)), *tot = cli_calloc((size_t)classes + 1, sizeof(long));
	if (!hit || !tot) {
		free(hit);
		free(tot);
		cli_error("eval", "out of host memory for the recall of %d classes", classes);
		return CLI_ERROR;
	}
	for (int i = 0; i < n; i++) {
		int c = (int)labels[i];
		tot[c]++;
		hit[c] += nn[i] >= 0 && labels[nn[i]] == labels[i];
	}
	printf("\nper-class recall@1:\n");
	for (int c = 0; c < classes; c++)
		printf("  %2d %-12s %.4f (%ld)\n", c, in->classes && c < named ? in->classes[c] : "",
		       tot[c] ? (double)hit[c] / (double)tot[c] : 0.0, tot[c]);
	free(hit);
	free(tot);
	return CLI_OK;
}

int eval_embedding(const struct eval_embed_opts *o, struct cli_model *m)
{
	struct embed_inputs ei;
	struct cli_inputs in = {0};
	float *qe = NULL, *ql = NULL, *ge = NULL, *gl = NULL;
	int *nn = NULL, *self = NULL, nq = 0, ng = 0, k = o->k, named = 0;
	int rc = embed_inputs_find("eval", m, o->netfile, &ei);
	if (rc)
		return rc;
	if ((rc = embed_inputs_read("eval", m, o->weights, o->mean, o->std, NULL, &in, &named)))
		goto done;
	/* the classes named by the checkpoint: m->classes is the embedding's size, not their number */
	if ((rc = embed_of(o, m, &ei, &in.norm, o->split, &nq, &qe, &ql)) ||
	    (rc = embed_of(o, m, &ei, &in.norm, "train", &ng, &ge, &gl)))
		goto done;
	rc = CLI_ERROR;
	nn = cli_malloc(((size_t)nq * (size_t)k + 1) * sizeof(int));
	self = cli_malloc(((size_t)nq + 1) * sizeof(int));
	int same = !strcmp(o->split, "train");
	if (!nn || !self || knn_search(ge, ng, qe, nq, ei.dim, k, same, nn) ||
	    knn_search(qe, nq, qe, nq, ei.dim, 1, 1, self)) {
		cli_error("eval", "out of host memory for the neighbours of %d embeddings", nq);
		goto done;
	}
	const char *kind = m->nd == 1 ? "samples" : "images";
	printf("embedding model: %d values per sample; %d %s %s, gallery %d train %s%s\n", ei.dim, nq, o->split, kind,
	       ng, kind, same ? " (each query's own row left out)" : "");
	printf("recall@1 %.4f (the nearest other %s %s is of the same class)\n", knn_accuracy(self, nq, 1, 1, ql, ql),
	       o->split, m->nd == 1 ? "sample" : "image");
	printf("knn accuracy k=1 %.4f\n", knn_accuracy(nn, nq, k, 1, gl, ql));
	if (k > 1)
		printf("knn accuracy k=%d %.4f (majority of the %d nearest train %s; ties to the nearest)\n", k,
		       knn_accuracy(nn, nq, k, k, gl, ql), k, kind);
	rc = per_class(self, ql, nq, &in, named);
done:
	free(qe);
	free(ql);
	free(ge);
	free(gl);
	free(nn);
	free(self);
	cli_inputs_free(&in);
	return rc;
}
